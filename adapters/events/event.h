// Event payloads (SPEC §5): parsing and validation of the body of a verified webhook.
//
// Envelope: {"type": "<event type>", "timestamp": "<RFC 3339>", "data": {...}}. Other top-level
// keys (e.g. a sender's "id") are ignored; `data` is strict: an unknown key is refused so typos
// fail loudly instead of being dropped silently.
//
// Validation mirrors Auth0's own limits so that a refused event fails at ingress with a clear
// message rather than later in Auth0. Sources for the limits (Auth0 Management API v2 schemas,
// as published in Auth0's OpenAPI document, and the Auth0 docs):
//   organization name      ^[a-z0-9_-]{1,50}$ (SPEC §5; CreateOrganization name maxLength 50)
//   display_name           1..255 characters (CreateOrganization display_name)
//   metadata (org)         ≤ 25 keys, values string ≤ 255 or null (OrganizationMetadata)
//   branding.logo_url      https URL (OrganizationBranding: strict-https-uri-or-null)
//   branding.colors        both `primary` and `page_background` required, "#rgb" or "#rrggbb"
//                          (OrganizationBrandingColors requires both; html-color)
//   connections            ≤ 10 (CreateOrganization enabled_connections: "Max of 10"); `name`
//                          as Auth0 connection names: ≤ 128, ^[a-zA-Z0-9](-?[a-zA-Z0-9])*$
//   given_name/family_name 1..150 characters (CreateUser)
//   name/nickname          1..300 characters (CreateUser; Auth0 allows 300, not 150)
//   picture                http(s) URL (CreateUser picture: strict-uri)
//   email                  ≤ 254 characters, local part ≤ 64, domain ≤ 253 (docs: "64 characters
//                          for the local part", RFC 5321 path limit 254)
//   metadata keys          no '.' or '$' at any nesting level (docs: Metadata Field Names)
//   reserved app_metadata  __tenant _id blocked clientID created_at email email_verified
//                          globalClientID global_client_id identities lastIP lastLogin
//                          loginsCount metadata multifactor multifactor_last_modified
//                          updated_at user_id (docs "Field restrictions" plus the names the
//                          Auth0 SDKs type as reserved on UserUpdateAppMetadata)
//   profile size           the serialized `data` of user.upserted ≤ 10 KB (10240 bytes, SPEC §5)
// tenantsync's own limits: external_id 1..255 characters without control characters; role
// names 1..50 characters; reason ≤ 255; metadata nesting ≤ 32 levels; JSON nesting ≤ 64 levels.
// "Characters" are counted as JavaScript (Auth0) counts them: UTF-16 code units.
//
// Null: `null` for a scalar field means "clear it" and is accepted, except for `external_id` and
// the organization `name`. Objects and arrays (metadata, app_metadata, user_metadata, branding,
// connections, callback_urls, organizations) may not be null: clear a metadata key with a null
// value for that key, and a list with []. `branding.colors` may be null (it clears both colors,
// since Auth0 cannot hold one without the other).
//
// Callback URLs: https only, plus http for loopback hosts (localhost, 127.0.0.1, [::1]) because
// Auth0 accepts those for local development and they cannot redirect anywhere off the machine.
// A "*." wildcard as the first host label is accepted (Auth0 supports subdomain wildcards);
// fragments are refused (RFC 6749 §3.1.2 forbids them in redirection URIs).
//
// Not checked here (it depends on stored state; the reconciler checks it): that `email` is
// present when a user is first seen, and that an organization has a `name` when first seen.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tenantsync {

enum class EventType {
  kOrganizationUpserted,
  kOrganizationDeleted,
  kUserUpserted,
  kUserLeft,
  kUserReturned,
  kUserBlocked,
  kUserUnblocked,
  kUserDeleted,
  kUserPasswordResetRequested,
  kUserVerificationEmailRequested,
};

// Parses the wire name ("organization.upserted", "user.left", ...); nullopt if unknown.
std::optional<EventType> ParseEventType(std::string_view name);
// The wire name of `t`.
const char* EventTypeName(EventType t);
// True for organization.* events, false for user.* events.
bool IsOrganizationEvent(EventType t);

struct ParsedEvent {
  EventType type;
  std::string external_id;
  int64_t timestamp_ms;                    // envelope "timestamp" (RFC 3339) as Unix ms
  std::optional<int64_t> effective_at_ms;  // data.effective_at, if present and not null
  nlohmann::json data;                     // the validated data object, as received
};

// Validates the envelope and the type's data as described above. Failure: Status kInvalid with a
// message naming the field path and the reason, e.g. "data.name: must match ^[a-z0-9_-]{1,50}$",
// "data.organizations[1].roles[0]: must be a non-empty string of at most 50 characters",
// "data.metadata: at most 25 keys (got 30)". A `password` key in `data` (or in the envelope) is
// refused, whatever the type, with: "password is not accepted: tenantsync never sets passwords;
// send user.password_reset_requested so Auth0 emails the user a change-password link".
// Unknown type: "type: unknown event type \"x\" (known: ...)". Never throws.
Result<ParsedEvent> ParseEvent(const nlohmann::json& body);
// The same, taking `data` out of `body` by move when the event is valid (no deep copy: the
// ingress parses every delivery); a refused body is left whole, for the caller to read its type.
Result<ParsedEvent> ParseEvent(nlohmann::json&& body);

// Parses JSON text. The text must be UTF-8 (RFC 8259 §8.1): a byte that is not part of
// well-formed UTF-8 fails with kInvalid "body is not valid UTF-8 (byte 0xe9 at offset 42); JSON
// must be sent as UTF-8". Other failures: kInvalid "body is not valid JSON: <parser message>";
// nesting deeper than 64 levels is refused the same way before parsing (deep documents would make
// later recursive copies and serialisation exhaust the stack). Every message is valid UTF-8.
// Never throws.
Result<nlohmann::json> ParseJson(std::string_view text);

// The byte offset of the first ill-formed UTF-8 sequence in `text` (RFC 3629: overlong forms,
// UTF-16 surrogates, code points above U+10FFFF, stray continuation bytes and truncated sequences
// are ill-formed); nullopt when `text` is valid UTF-8.
std::optional<size_t> FindInvalidUtf8(std::string_view text);

// Event ids (webhook-id, svix-id, a source's id_header, the body's "id") become storage keys and
// appear in answers, logs, the admin API and its URLs: an id must be 1 to 255 bytes of valid UTF-8
// without control characters (C0, DEL, C1). Failure: kInvalid whose message follows the id's
// origin, e.g. "webhook-id header " + message:
//   "is empty; an event id must be 1 to 255 bytes of UTF-8 without control characters"
//   "is not valid UTF-8 (byte 0xff at offset 3); an event id must be ..."
//   "is longer than 255 bytes (got 300); an event id must be ..."
//   "contains a control character (U+0007 at offset 2); an event id must be ..."
// The message never contains the id itself.
Status ValidateEventId(std::string_view id);

}  // namespace tenantsync
