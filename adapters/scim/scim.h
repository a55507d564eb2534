// SCIM 2.0 (RFC 7643 schema, RFC 7644 protocol) for tenantsync's SCIM service provider: the pure
// part, without HTTP or storage (issue 18, docs/SCIM.md).
//
// What is here:
//   - resource validation and normalisation (User with the enterprise extension, Group),
//   - PATCH (PatchOp: add/replace/remove, with and without `path`, value filters such as
//     `members[value eq "…"]`, and the Okta/Entra quirks "Replace" and "False"),
//   - the filter subset (`attr eq "value"` joined by `and`),
//   - Bulk requests (RFC 7644 §3.7, including Entra's API-driven provisioning BulkRequest shape),
//   - the messages (Error, ListResponse, BulkResponse) and the discovery documents
//     (ServiceProviderConfig, ResourceTypes, Schemas),
//   - the mapping of SCIM resources to tenantsync events (SPEC §5).
//
// Every function is pure and never throws: bad input is an Error value carrying the HTTP status,
// the scimType (RFC 7644 §3.12) and a detail that names the attribute. Details never contain a
// password or a bearer token (the `password` attribute is dropped on input and never echoed).
// Thread safety: no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "adapters/events/event.h"

namespace tenantsync::scim {

inline constexpr std::string_view kUserSchema = "urn:ietf:params:scim:schemas:core:2.0:User";
inline constexpr std::string_view kGroupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group";
inline constexpr std::string_view kEnterpriseSchema =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
inline constexpr std::string_view kPatchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
inline constexpr std::string_view kListSchema =
    "urn:ietf:params:scim:api:messages:2.0:ListResponse";
inline constexpr std::string_view kErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error";
inline constexpr std::string_view kBulkRequestSchema =
    "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
inline constexpr std::string_view kBulkResponseSchema =
    "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

enum class ResourceKind { kUser, kGroup };
// "User" / "Group" (meta.resourceType) and the endpoint "Users" / "Groups".
const char* ResourceTypeName(ResourceKind kind);
const char* EndpointName(ResourceKind kind);

// scimType values of RFC 7644 §3.12 (kNone: no scimType, e.g. 401 and 404).
enum class ErrorType {
  kNone,
  kInvalidFilter,
  kTooMany,
  kUniqueness,
  kMutability,
  kInvalidSyntax,
  kInvalidPath,
  kNoTarget,
  kInvalidValue,
};
const char* ErrorTypeName(ErrorType type);  // "invalidFilter", ...; "" for kNone

struct Error {
  int status = 400;
  ErrorType type = ErrorType::kInvalidValue;
  std::string detail;
};
// {"schemas":[Error], "status":"400", "scimType":"invalidValue", "detail":"…"} — status as a
// string (RFC 7644 §3.12), scimType only when set.
nlohmann::json ErrorJson(const Error& error);

// A value or an Error.
template <typename T>
class Outcome {
 public:
  Outcome(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Outcome(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  T& operator*() { return std::get<0>(v_); }
  const T& operator*() const { return std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// --- Resources ---

// Validates a User as sent in POST/PUT (or produced by a PATCH) and returns it normalised:
// known attribute names in their canonical case (SCIM names are case-insensitive, RFC 7643
// §2.1), `active` and `primary` as booleans (Entra sends the strings "True"/"False"), `schemas`
// holding the core schema (and the enterprise one when its attributes are present). Read-only
// and write-only attributes are dropped: `id`, `meta`, `groups`, `password` (tenantsync never
// sets passwords). Required: `userName`, a non-empty string. Other attributes are kept as sent.
// Errors: 400 invalidSyntax (not an object, no schemas), 400 invalidValue (attribute and reason).
Outcome<nlohmann::json> NormalizeUser(const nlohmann::json& in);
// The same for a Group: `displayName` required; `members` a list of {"value": id, ...} (only
// value, display, type and $ref are kept; type, when given, must be "User").
Outcome<nlohmann::json> NormalizeGroup(const nlohmann::json& in);
Outcome<nlohmann::json> Normalize(ResourceKind kind, const nlohmann::json& in);

// Applies a PatchOp request (RFC 7644 §3.5.2) to `resource` and returns the result, which the
// caller normalises again (so "False" and friends are judged there). Supported: op add, replace,
// remove (any case); no path (value an object of attribute → value; keys may themselves be
// paths such as "name.givenName" or "urn:…:enterprise:2.0:User:department"); paths `attr`,
// `attr.sub`, `urn:…:attr[.sub]`, `attr[filter]` and `attr[filter].sub` where the filter is the
// subset of ParseFilter. add to a multi-valued attribute appends (members already present are
// not repeated); replace sets; remove with a filter removes the matching values, remove of
// `members` with a value list removes those members (Entra). Errors: 400 invalidSyntax
// (malformed request), 400 invalidPath, 400 noTarget (remove without path), 400 invalidValue.
Outcome<nlohmann::json> ApplyPatch(const nlohmann::json& resource, const nlohmann::json& patch);

// --- Filters ---

struct Comparison {
  std::string attribute;  // as written, e.g. "userName", "emails.value", "members.value"
  nlohmann::json value;   // string, number, boolean or null
};
// A conjunction of `eq` comparisons.
struct Filter {
  std::vector<Comparison> all;
};
// Parses `attrPath eq value [and attrPath eq value]...` (operators case-insensitive, values as
// JSON literals). Anything else — other operators, `or`, `not`, grouping, malformed text — is 400
// invalidFilter with a detail saying what is supported.
Outcome<Filter> ParseFilter(std::string_view text);
// True when every comparison holds for `resource`. userName, emails.value and displayName compare
// case-insensitively (caseExact false in RFC 7643), everything else exactly. A multi-valued
// attribute matches when any of its values does.
bool Matches(const Filter& filter, const nlohmann::json& resource);

// --- Bulk (RFC 7644 §3.7) ---

struct BulkLimits {
  int max_operations = 100;
  size_t max_payload_bytes = 1048576;
};
enum class BulkMethod { kPost, kPut, kPatch, kDelete };
struct BulkOperation {
  BulkMethod method = BulkMethod::kPost;
  std::string method_name;  // as sent, echoed in the response
  std::optional<std::string> bulk_id;
  std::string path;  // "/Users", "/Groups/<id>", ...
  nlohmann::json data;
};
struct BulkRequest {
  std::vector<BulkOperation> operations;
  // Stop after this many failed operations (RFC 7644 §3.7.3); nullopt (absent or null, as
  // Entra sends) = process every operation.
  std::optional<int> fail_on_errors;
};
// Errors: 413 tooMany… (more than max_operations; RFC 7644 §3.7.4 answers 413), 400
// invalidSyntax (shape), 400 invalidValue (a POST without bulkId, a duplicate bulkId, unknown
// method).
Outcome<BulkRequest> ParseBulk(const nlohmann::json& body, const BulkLimits& limits);
// Replaces every string "bulkId:<id>" in `data` by the id created for that bulkId. Returns the
// first unresolved bulkId, if any (RFC 7644 §3.7.2: the operation fails with 409).
std::optional<std::string> ResolveBulkIds(nlohmann::json& data,
                                          const std::map<std::string, std::string>& created);

struct BulkResult {
  std::string method;
  std::optional<std::string> bulk_id;
  std::optional<std::string> location;
  std::optional<std::string> version;
  int status = 200;
  std::optional<Error> error;
};
nlohmann::json BulkResponseJson(const std::vector<BulkResult>& results);

// --- Messages and discovery ---

nlohmann::json ListResponse(const std::vector<nlohmann::json>& page, size_t total,
                            size_t start_index);
// `base` is the service's URL prefix without a trailing slash (for meta.location).
nlohmann::json ServiceProviderConfig(const BulkLimits& limits, int max_results,
                                     const std::string& base);
nlohmann::json ResourceTypes(const std::string& base);
std::optional<nlohmann::json> ResourceType(const std::string& name, const std::string& base);
nlohmann::json Schemas(const std::string& base);
std::optional<nlohmann::json> Schema(const std::string& urn, const std::string& base);

// --- Mapping to tenantsync events (SPEC §5; docs/SCIM.md "Mapping") ---

struct MappingOptions {
  // A user's roles[].value → Auth0 role name in each of the user's organizations; values not
  // listed give no role.
  std::map<std::string, std::string> role_map;
  // DELETE /Users/{id}: user.deleted instead of user.left.
  bool delete_users = false;
};

struct MappedEvent {
  EventType type;
  nlohmann::json data;  // the event's `data`
};

// The profile fields of user.upserted for `user` (a normalised User): external_id, email (primary
// email, else the first, else userName when it is an address; absent when none), name,
// given_name, family_name, nickname (null when the attribute is absent, so a PUT that drops one
// clears it) and app_metadata with the enterprise fields and title/userType (null when absent).
nlohmann::json UserProfile(const nlohmann::json& user, const std::string& external_id);

struct Membership {
  std::string org_external_id;
};
// The organizations list of user.upserted: one entry per group, with the roles role_map gives
// the user's roles[].value (sorted, unique).
nlohmann::json Organizations(const nlohmann::json& user, const std::vector<Membership>& groups,
                             const MappingOptions& options);

// The events one User write means, in order. `before`: the stored resource (nullopt: created);
// `after`: nullopt when deleted. `organizations`: set when the user.upserted must carry the
// membership list. `returning`: the user's entity had been deleted by an earlier DELETE and comes
// back (user.returned after the upsert).
//   created           user.upserted [+ user.blocked when active is false] [+ user.returned]
//   updated           user.upserted when the profile changed or organizations is set;
//                     active true→false user.blocked, false→true user.unblocked
//   deleted           user.left (user.deleted with delete_users)
std::vector<MappedEvent> UserEvents(const std::optional<nlohmann::json>& before,
                                    const std::optional<nlohmann::json>& after,
                                    const std::string& external_id,
                                    const std::optional<nlohmann::json>& organizations,
                                    bool returning, const MappingOptions& options);

// organization.upserted data for a Group: external_id, name (OrganizationName), display_name.
nlohmann::json GroupOrganization(const nlohmann::json& group, const std::string& external_id);
// An Auth0 organization name (^[a-z0-9_-]{1,50}$) from a display name: lower-cased, runs of
// other characters become one '-', trimmed to 50; `fallback` (lower-cased, same rules) when
// nothing is left.
std::string OrganizationName(std::string_view display_name, std::string_view fallback);

// The event envelope {"type","timestamp","data"} (timestamp RFC 3339 UTC with milliseconds).
nlohmann::json Envelope(const MappedEvent& event, int64_t timestamp_ms);

// RFC 3339 UTC with milliseconds ("2026-11-25T10:00:00.123Z"), for timestamps and meta.
std::string FormatTime(int64_t unix_ms);

// Reads a SCIM boolean: true/false, or the strings "true"/"false" in any case (Entra).
std::optional<bool> ParseBool(const nlohmann::json& value);

}  // namespace tenantsync::scim
