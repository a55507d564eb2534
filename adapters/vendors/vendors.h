// HR and CRM vendor webhooks (issue 18 item 2, docs/CONNECTORS.md): how each vendor proves a
// delivery is its own, its handshakes, and what a delivery says (which person or company changed,
// how, when). Most of these deliveries are "dataless" — ids and changed-field names only — so a
// decoded notification says whether the record must be fetched (adapters/vendors/vendor_api.h)
// before the mapping (adapters/mapping) can turn it into SPEC §5 events.
//
// Schemes (each fact cited in docs/CONNECTORS.md):
//   bamboohr  X-BambooHR-Signature = lower-case hex HMAC-SHA256(private key, raw body followed by
//             the X-BambooHR-Timestamp value, no separator); the timestamp is decimal Unix seconds
//             and must lie within tolerance_seconds of now. Event-based payloads
//             ({"type":"employee.updated","data":{"employeeId",...}}), JSON or form-encoded
//             (data[employeeId]=...), and field-based payloads ({"employees":[{"id","action",
//             "fields":{...}}]}) which carry values and need no fetch.
//   hibob     Bob-Signature = Base64 HMAC-SHA512(secret token, raw body). No timestamp: replay
//             protection is the permanent (source, event id) de-duplication. The connection test
//             ("Ping test" as a plain string, or {"text":"Ping test"}) is a handshake.
//   personio  No signature: the webhook's static token arrives verbatim in `token_header`
//             (default Authorization; auth_type CUSTOM lets the operator pick another header).
//   hubspot   X-HubSpot-Signature-v3 = Base64 HMAC-SHA256(client secret, method + URI + body +
//             X-HubSpot-Request-Timestamp), the timestamp in Unix milliseconds and at most
//             tolerance_seconds old; the URI is public_url plus the request's query, with
//             %3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B decoded. Without a v3 header (and
//             with allow_v1), X-HubSpot-Signature with X-HubSpot-Signature-Version v1 = hex
//             SHA-256(client secret + body). The body is a JSON array of events.
//
// Secrets: every non-blank entry of `secrets` is tried (rotation), compared in constant time. No
// Status message ever contains a secret or bytes derived from one.
//
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/signature/signature.h"
#include "common/status.h"

namespace tenantsync {

enum class Vendor { kBambooHr, kHiBob, kPersonio, kHubSpot };

// "bamboohr" | "hibob" | "personio" | "hubspot" (exact, lower case); nullopt otherwise.
std::optional<Vendor> ParseVendor(std::string_view name);
const char* VendorName(Vendor v);

struct VendorVerifyOptions {
  Vendor vendor = Vendor::kBambooHr;
  std::vector<std::string> secrets;  // one per line of the secret file (rotation); raw text
  int64_t tolerance_seconds = 300;   // bamboohr and hubspot (v3): age/skew allowed
  std::string token_header = "Authorization";  // personio only
  // hubspot only: the URL registered with HubSpot for this source, scheme and host included
  // (HubSpot signs the URI it called, which a daemon behind a proxy cannot see).
  std::string public_url;
  bool allow_v1 = true;  // hubspot only: accept a v1 signature when no v3 header is sent
};

// At least one non-blank secret; tolerance_seconds > 0; a non-empty token_header (personio);
// public_url starting with https:// or http:// (hubspot). Personio tokens must be at least 16
// characters (a guessable static token is no authentication). kInvalid naming the problem.
Status ValidateVendorVerifyOptions(const VendorVerifyOptions& o);

struct VendorRequest {
  std::string_view method;  // "POST"
  std::string_view query;   // the request target's query without '?', as received; may be ""
  HeaderLookup headers;     // case-insensitive
  std::string_view body;    // raw bytes as received
};

enum class DeliveryKind {
  kNotification,  // authentic: decode it (DecodeNotifications) and store it
  kHandshake,     // a vendor's connection test (HiBob's ping): answer 2xx, store nothing
};

struct VendorVerified {
  DeliveryKind kind = DeliveryKind::kNotification;
  std::optional<int64_t> timestamp_ms;  // the signed timestamp, when the scheme has one
  std::string method;                   // "v3", "v1", "hmac-sha256", "hmac-sha512", "token", "ping"
};

// OK: authentic (and fresh, for schemes with a timestamp) or a handshake. Failure: kInvalid with
// a specific message for a 401 ("missing X-BambooHR-Signature header", "X-HubSpot-Request-
// Timestamp outside the 300 s tolerance (...)", "no signature matched", "token does not match").
// The freshness check runs before any HMAC.
Result<VendorVerified> VerifyVendorDelivery(const VendorVerifyOptions& o, const VendorRequest& req,
                                            int64_t now_ms);

// The headers the vendor would send for `body` (first non-blank secret), for the simulator, the
// CLI and tests. `now_ms` is the signing time. HubSpot signs `public_url` (+ "?" + query when
// non-empty) and sends both v3 and v1 headers, as HubSpot does.
std::vector<std::pair<std::string, std::string>> SignVendorDelivery(const VendorVerifyOptions& o,
                                                                    std::string_view method,
                                                                    std::string_view query,
                                                                    std::string_view body,
                                                                    int64_t now_ms);

// HubSpot's URI normalisation for v3: decodes exactly the twelve escapes listed above (either hex
// case), leaving every other byte and escape as is.
std::string HubSpotDecodeUri(std::string_view uri);

// --- What a delivery says ----------------------------------------------------------------------

enum class ObjectKind { kPerson, kCompany };

enum class NotificationAction {
  kCreated,
  kUpdated,
  kDeleted,      // the record is gone at the vendor (never a hard delete here: see mapping)
  kJoined,       // start of employment became effective (HiBob employee.joined, Personio started)
  kLeft,         // termination became effective (HiBob employee.left, Personio terminated)
  kActivated,    // HiBob employee.activated
  kInactivated,  // HiBob employee.inactivated
  kRestored,     // HubSpot *.restore
  kMerged,       // HubSpot *.merge: the surviving record changed
  kIgnored,      // understood but irrelevant (HiBob table events of other tables, ...)
};
const char* NotificationActionName(NotificationAction a);

struct VendorNotification {
  Vendor vendor = Vendor::kBambooHr;
  // Unique per notification within the source: HubSpot's eventId; else the lower-case hex
  // SHA-256 of the body, suffixed ":<index>" when a delivery holds several notifications.
  std::string event_id;
  std::string vendor_event;  // the vendor's own name: "employee.updated", "contact.creation", ...
  NotificationAction action = NotificationAction::kUpdated;
  ObjectKind object = ObjectKind::kPerson;
  std::string object_id;  // the vendor's id of the person or company
  int64_t occurred_at_ms = 0;
  // The date the change takes effect at the vendor (HiBob table entries' effectiveDate,
  // "YYYY-MM-DD"), when the payload says.
  std::optional<std::string> effective_date;
  std::vector<std::string> changed_fields;
  // Values the payload itself carries (BambooHR field-based "fields", HubSpot propertyChange's
  // {propertyName: propertyValue}); null when it carries none.
  nlohmann::json inline_record;
  // True when the mapping needs the record from the vendor's API: the payload carries no values,
  // or only some (HubSpot propertyChange), and the event is not a deletion.
  bool needs_fetch = true;
};

// Decodes a verified delivery. `content_type` decides JSON versus form-encoding (BambooHR only;
// bracketed keys data[employeeId], data[changedFields][]). Fails with kInvalid naming the field
// for a payload that is not the vendor's shape ("data.employeeId: missing", "[2].objectId: must be
// an integer"). A delivery with nothing to do yields an empty vector, not an error.
Result<std::vector<VendorNotification>> DecodeNotifications(Vendor vendor,
                                                            std::string_view content_type,
                                                            std::string_view body);

// Parses application/x-www-form-urlencoded text into JSON: "a[b]=1&a[c][]=x&a[c][]=y" →
// {"a":{"b":"1","c":["x","y"]}}; '+' is a space; malformed escapes are kept literally; a key
// nested more than 8 levels is dropped. Values stay strings. Never throws.
nlohmann::json ParseFormEncoded(std::string_view body);

// A VendorNotification as JSON (what is stored with the event and shown by `mapping test`), and
// back. FromJson fails with kInvalid naming the key.
nlohmann::json NotificationToJson(const VendorNotification& n);
Result<VendorNotification> NotificationFromJson(const nlohmann::json& j);

}  // namespace tenantsync
