// The mapping from a vendor's person or company record to SPEC §5 events (issue 18 item 2,
// docs/CONNECTORS.md "Mapping", docs/CONFIGURATION.md "[sources.mapping]").
//
// A mapping is configuration, so a team adapts it without a release. It is given as a
// JSON-compatible table (the TOML [sources.mapping] table converted by daemon/config.cpp, or JSON
// for `tenantsync mapping test --mapping FILE`):
//
//   time_zone   = "Europe/Berlin"   # dates without a zone are this zone's wall clock (default UTC)
//   [user]                          # target field = field spec (see below)
//   external_id = "id"
//   email       = { path = ["workEmail", "homeEmail"], transform = ["trim", "lower"] }
//   name        = { concat = [{ path = "firstName" }, " ", { path = "lastName" }] }
//   "app_metadata.department" = "department"
//   [organizations]                 # the user's memberships (one organization per user)
//   external_id = { path = "department", lookup = { Sales = "sales", "R&D" = "rnd" } }
//   roles       = ["member"]
//   [organization]                  # a company record (HubSpot companies)
//   external_id = "id"
//   name        = { path = ["properties.domain", "properties.name"], transform = ["slug"] }
//   [left]
//   status           = "status"     # the record's status field ...
//   left_values      = ["Inactive"] # ... and the values that mean "has left"
//   termination_date = "terminationDate"
//   at               = "end_of_day" # or "start_of_day": when on that date access ends
//   returned_on_change = ["status"] # a change of these fields to a non-left status: returned
//   hire_date        = "hireDate"   # a future hire date delays the user's creation
//
// Field spec: a path string ("a.b.0.c": object keys and array indexes), an array of paths tried
// in order (the first present, non-null, non-empty value wins), or a table with `path`,
// `concat` (strings are literals, tables are nested specs; missing when any part is missing),
// `value` (a literal), `transform` (applied in order: "lower", "upper", "trim", "slug" — lower
// case, runs of other characters to '-', at most 50 — and "date": the value as RFC 3339 in UTC,
// read in time_zone), `lookup` (a table: value → replacement) with `lookup_default` (else a value
// missing from the table is an error naming it), and `default` (used when nothing is found).
//
// Targets: user — external_id (required), email, email_verified, name, given_name, family_name,
// nickname, picture, "app_metadata.KEY", "user_metadata.KEY"; organizations — external_id, roles;
// organization — external_id (required), name, display_name, "metadata.KEY".
//
// What a notification becomes (MapNotification; SPEC §5):
//   person deleted at the vendor            → user.left (never a hard delete)
//   person created/updated/merged/...       → user.upserted with the mapped fields, plus:
//     status in left_values, or the vendor's own "left"/"inactivated" event
//                                           → user.left, effective_at = the termination date (at
//                                             start/end of that day in time_zone) when there is
//                                             one, else when the change happened
//     a termination date without a left status (notice period) → user.left scheduled for it
//     the vendor's "joined"/"activated"/"restored" event, or a change of a returned_on_change
//     field while the status is not a left value → user.returned
//     a hire date after the change's time   → user.upserted carries effective_at = hire date
//   company deleted                          → organization.deleted
//   company created/updated                  → organization.upserted
// Every produced event is validated with ParseEvent (adapters/events); a mapping that produces
// an invalid event fails with a message naming the mapping target and the event's field.
//
// Pure and thread-safe once built; time is passed in.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "adapters/vendors/vendor_time.h"
#include "adapters/vendors/vendors.h"
#include "common/status.h"

namespace tenantsync {

enum class Transform { kLower, kUpper, kTrim, kSlug, kDate };

struct FieldSpec {
  std::vector<std::vector<std::string>> paths;               // fallbacks, each split at '.'
  std::vector<std::string> path_texts;                       // as written, for messages
  std::vector<std::variant<std::string, FieldSpec>> concat;  // literal or nested spec
  bool has_concat = false;
  std::optional<nlohmann::json> value;  // literal
  std::vector<Transform> transforms;
  std::optional<std::map<std::string, nlohmann::json>> lookup;
  std::optional<nlohmann::json> lookup_default;
  std::optional<nlohmann::json> default_value;
};

enum class TerminationAt { kStartOfDay, kEndOfDay };

struct Mapping {
  Vendor vendor = Vendor::kBambooHr;
  TimeZone zone = TimeZone::Utc();
  std::vector<std::pair<std::string, FieldSpec>> user;          // target → spec, in order
  std::optional<FieldSpec> membership_org;                      // [organizations].external_id
  std::vector<std::string> membership_roles;                    // [organizations].roles
  std::vector<std::pair<std::string, FieldSpec>> organization;  // company targets
  std::optional<FieldSpec> status;
  std::vector<std::string> left_values;
  std::optional<FieldSpec> termination_date;
  TerminationAt termination_at = TerminationAt::kEndOfDay;
  std::vector<std::string> returned_on_change;
  std::optional<FieldSpec> hire_date;
};

// The vendor's default mapping as a table (what a source without [sources.mapping] uses; shown
// in docs/CONNECTORS.md).
nlohmann::json DefaultMappingTable(Vendor v);

// Builds a mapping from `table` laid over the vendor default: a section given in `table` ([user],
// [organizations], [organization], [left]) replaces the default's section of that name; keys at the
// top level (time_zone) replace the default's. kInvalid naming the key, e.g.
// "mapping.user.email.transform[1]: unknown transform \"lowercase\" (known: lower, upper, trim,
// slug, date)", "mapping.time_zone: unknown time zone \"Europe/Berln\"", "mapping.user: unknown
// target \"mail\"". Reads the time zone file once (zoneinfo_dir).
Result<Mapping> ParseMapping(Vendor v, const nlohmann::json& table,
                             const std::string& zoneinfo_dir = "/usr/share/zoneinfo");

struct MappedEvent {
  std::string
      id_suffix;        // "" for the first event, else "/<type>": event id = notification's + this
  nlohmann::json body;  // {"type", "timestamp", "data"}: a valid SPEC §5 event
};

// What `n` with the vendor's `record` (fetched; null when nothing was fetched) becomes. The
// notification's inline values fill fields the record lacks. `now_ms` stands in for the change
// time when the vendor sent none. Errors are kInvalid naming the target and the reason
// ("user.external_id: no value (paths: id)", "record not fetched: employee.updated needs the
// person's record"). A notification with nothing to do yields no events.
Result<std::vector<MappedEvent>> MapNotification(const Mapping& m, const VendorNotification& n,
                                                 const nlohmann::json& record, int64_t now_ms);

// Evaluates one spec against a record (exposed for tests and the CLI). nullopt: no value.
// kInvalid: a transform or lookup failed (message names `where`).
Result<std::optional<nlohmann::json>> EvaluateField(const FieldSpec& spec,
                                                    const nlohmann::json& record,
                                                    const TimeZone& zone, const std::string& where);

}  // namespace tenantsync
