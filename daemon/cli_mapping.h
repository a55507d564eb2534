// `tenantsync mapping test --source NAME --payload FILE [--record FILE | --fetch]`
// (issue 18 item 2, docs/CONNECTORS.md "Trying a mapping").
//
// Shows what a vendor delivery becomes under a source's mapping, without a daemon: the payload
// (the body exactly as the vendor posts it; JSON, or form-encoded for BambooHR with
// --content-type) is decoded into notifications, each joined with a record — the one in
// --record FILE, the one fetched from the vendor's API with --fetch (the source's
// credentials_file and api_base_url), or none — and mapped to SPEC §5 events, each validated as
// ingress would. Nothing is fetched without --fetch. Prints JSON:
//   {"source": NAME, "vendor": V, "notifications": [{"notification": {...}, "record": {...}|null,
//     "fetched": bool, "events": [{"id_suffix", "type", "timestamp", "data"}] | "error": "..."}]}
//
// With --stored, the payload is instead what the connector keeps with an event
// (StoredVendorEvent: {"notification", "record", "fetched_at"}), mapped with its own record and
// never fetched — what a replay does.
//
// Exit codes: 0 every notification mapped; 1 some notification failed (decode, fetch or mapping;
// named in its "error"); 2 usage or configuration (unknown source, not a vendor scheme, unreadable
// file, invalid mapping).
#pragma once

#include <string>

#include "common/clock.h"

namespace tenantsync {

struct MappingTestOptions {
  std::string source;
  std::string payload_file;
  std::string record_file;   // optional: a JSON object used as the record of every notification
  std::string content_type;  // default application/json
  bool fetch = false;
  bool stored = false;  // the payload is a StoredVendorEvent
};

int CliMappingTest(const std::string& config_path, const MappingTestOptions& o, Clock& clock);

}  // namespace tenantsync
