// Webhook signature schemes (SPEC §4): verification of incoming deliveries and signing of
// outgoing ones (CLI `send`, tests, benchmarks).
//
// Schemes:
//   standard-webhooks  https://www.standardwebhooks.com — headers webhook-id, webhook-timestamp,
//                      webhook-signature ("v1,<base64>" tokens separated by spaces). The Svix
//                      spellings svix-id, svix-timestamp, svix-signature are accepted too (each
//                      header falls back to its svix-* spelling when the webhook-* one is absent).
//                      Signed content: id "." timestamp "." body, keyed by the base64-decoded
//                      secret (optional "whsec_" prefix, padding optional).
//   hmac-sha256        GitHub style: HMAC-SHA256 of the raw body in `header`, as `prefix` followed
//                      by hex (either case accepted) or base64 (padding optional). Several
//                      comma- or space-separated prefixed values may be sent; any one passes.
//                      There is no signed timestamp: replay protection rests on the event-id
//                      de-duplication done by storage.
//   stripe             Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]; HMAC-SHA256 of
//                      t "." body keyed by the secret string as is. Other keys (v0, ...) ignored.
//
// Secrets: each entry of SignatureOptions::secrets is one line of the secret file. Leading and
// trailing ASCII whitespace (including a CR from CRLF files) is ignored and blank entries are
// skipped, so a trailing newline or an empty line never becomes a secret. Every non-blank secret
// is tried (rotation). No function here ever puts a secret, or bytes derived from one, into a
// Status message.
//
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace tenantsync {

enum class SignatureScheme { kStandardWebhooks, kHmacSha256, kStripe };

// Parses "standard-webhooks" | "hmac-sha256" | "stripe" (exact, lower case); nullopt otherwise.
std::optional<SignatureScheme> ParseSignatureScheme(std::string_view name);
// The configuration spelling of `s` ("standard-webhooks", "hmac-sha256", "stripe").
const char* SignatureSchemeName(SignatureScheme s);

struct SignatureOptions {  // one [[sources]] entry's signing settings
  SignatureScheme scheme = SignatureScheme::kStandardWebhooks;
  std::vector<std::string>
      secrets;  // as read from the secret file, one per line (rotation); raw text
  int64_t tolerance_seconds = 300;  // standard-webhooks and stripe only
  // hmac-sha256 only:
  std::string header = "X-Hub-Signature-256";
  std::string prefix = "sha256=";
  std::string encoding = "hex";  // "hex" or "base64"
  std::string id_header;         // empty: body's "id" field, else hex SHA-256 of the body
};

// Checks that the options are usable: at least one non-blank secret; for standard-webhooks every
// secret is base64 (after an optional "whsec_" prefix) decoding to at least one byte;
// tolerance_seconds > 0; for hmac-sha256 a non-empty header name and encoding "hex" or "base64".
// Returns Invalid with a message naming the problem (secrets are referred to by their 1-based
// line number, never by content), OK otherwise.
Status ValidateSignatureOptions(const SignatureOptions& o);

// Case-insensitive header lookup supplied by the HTTP layer.
using HeaderLookup = std::function<std::optional<std::string>(std::string_view name)>;

struct VerifiedDelivery {
  // standard-webhooks: webhook-id (or svix-id). hmac-sha256: the id_header value when
  // configured. Otherwise (hmac-sha256 without id_header, stripe): the body's top-level "id"
  // (a string, or an integer in decimal), else, when the body has no "id" (or a null one) or is
  // not JSON, the lower-case hex SHA-256 of the body. Empty when id_status is not OK.
  std::string event_id;
  // Whether the id can be used (ValidateEventId in adapters/events: 1 to 255 bytes of UTF-8
  // without control characters). Not OK: the delivery is authentic but its id is unusable, and
  // nothing may be stored (the HTTP layer answers 400 with this message). kInvalid, naming where
  // the id came from and what is wrong with it, e.g. "webhook-id header is not valid UTF-8 (byte
  // 0xff at offset 3); an event id must be ...", "body field \"id\" must be a string or an
  // integer (got object)". Never contains the id's bytes.
  Status id_status;
  std::optional<int64_t> timestamp;  // signed timestamp (standard-webhooks, stripe), Unix seconds
  // The body as parsed for its "id" (hmac-sha256 without id_header, stripe): the JSON, or why it
  // is not JSON (ParseJson's message). Unset when the scheme did not parse the body; the caller
  // takes it instead of parsing the same bytes again.
  std::optional<Result<nlohmann::json>> parsed_body;
};

// Verifies one delivery against every configured secret. OK: the delivery is authentic and, for
// the schemes that sign a timestamp, within tolerance_seconds of now_unix in either direction.
// Failure: Status kInvalid (the HTTP layer answers 401) with a specific message, e.g.
// "missing webhook-signature header", "webhook-timestamp is not a decimal Unix time",
// "timestamp outside the 300 s tolerance (...)", "no signature matched",
// "malformed Stripe-Signature header: ...". The freshness check runs before any HMAC is computed,
// the id is judged (VerifiedDelivery::id_status) and the body parsed (for its "id") only after
// the signature has been verified, so an unsigned delivery learns nothing but 401.
// Comparisons are constant-time (crypto::ConstantTimeEquals).
Result<VerifiedDelivery> VerifySignature(const SignatureOptions& o, const HeaderLookup& headers,
                                         std::string_view body, int64_t now_unix);

// Produces the headers a real sender would send for `body`, signed with the first non-blank
// secret, for the CLI's `send`, tests and benchmarks. `event_id` is used where the scheme carries
// an id (webhook-id; id_header for hmac-sha256 when set). Returns header name → value, in the
// order a sender would typically send them. Precondition: ValidateSignatureOptions(o) is OK;
// otherwise the result is empty.
std::vector<std::pair<std::string, std::string>> SignDelivery(const SignatureOptions& o,
                                                              std::string_view event_id,
                                                              int64_t timestamp_unix,
                                                              std::string_view body);

}  // namespace tenantsync
