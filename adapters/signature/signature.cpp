#include "adapters/signature/signature.h"

#include "adapters/events/event.h"
#include "common/crypto.h"

namespace tenantsync {
namespace {

constexpr std::string_view kWhsecPrefix = "whsec_";
// Longest decimal that always fits in int64_t; longer timestamps are refused as malformed rather
// than risking overflow.
constexpr size_t kMaxTimestampDigits = 18;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Calls `piece` with each piece of `s` between any of `seps`, skipping empty ones (no vector: the
// signature headers are split on every delivery).
template <typename F>
void ForEachPiece(std::string_view s, std::string_view seps, F&& piece) {
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || seps.find(s[i]) != std::string_view::npos) {
      if (i > start) piece(s.substr(start, i - start));
      start = i + 1;
    }
  }
}

std::optional<int64_t> ParseUnixSeconds(std::string_view s) {
  if (s.empty() || s.size() > kMaxTimestampDigits) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Calls `use(line, secret)` with each non-blank secret, trimmed, in file order, and its 1-based
// line number so messages can point at a line without revealing its content. No vector: Keys
// visits the secrets on every delivery.
template <typename F>
void ForEachUsableLine(const SignatureOptions& o, F&& use) {
  for (size_t i = 0; i < o.secrets.size(); ++i) {
    std::string_view s = Trim(o.secrets[i]);
    if (!s.empty()) use(i + 1, s);
  }
}

std::optional<std::string> DecodeWhsec(std::string_view secret) {
  if (secret.substr(0, kWhsecPrefix.size()) == kWhsecPrefix)
    secret.remove_prefix(kWhsecPrefix.size());
  auto key = crypto::Base64Decode(secret);
  if (!key || key->empty()) return std::nullopt;
  return key;
}

// HMAC keys for the scheme. Secrets that do not decode are skipped here (ValidateSignatureOptions
// reports them at startup); verifying with the rest keeps a half-broken rotation working.
std::vector<std::string> Keys(const SignatureOptions& o) {
  std::vector<std::string> keys;
  keys.reserve(o.secrets.size());
  ForEachUsableLine(o, [&](size_t, std::string_view secret) {
    if (o.scheme == SignatureScheme::kStandardWebhooks) {
      if (auto key = DecodeWhsec(secret)) keys.push_back(std::move(*key));
    } else {
      keys.emplace_back(secret);
    }
  });
  return keys;
}

std::optional<std::string> Header(const HeaderLookup& headers, std::string_view name) {
  if (!headers) return std::nullopt;
  auto v = headers(name);
  if (!v) return std::nullopt;
  std::string_view t = Trim(*v);
  if (t.empty()) return std::nullopt;
  if (t.size() == v->size()) return v;
  return std::string(t);
}

Status CheckFreshness(int64_t ts, int64_t now_unix, int64_t tolerance) {
  // ts is in [0, 10^18) and tolerance > 0, so |now - ts| fits in uint64_t for every int64 now;
  // unsigned wrap-around arithmetic computes it without signed overflow.
  if (tolerance < 0) tolerance = 0;  // a negative tolerance must never widen the window
  const bool past = now_unix >= ts;
  const uint64_t diff = past ? static_cast<uint64_t>(now_unix) - static_cast<uint64_t>(ts)
                             : static_cast<uint64_t>(ts) - static_cast<uint64_t>(now_unix);
  if (diff > static_cast<uint64_t>(tolerance)) {
    return Status::Invalid("timestamp outside the " + std::to_string(tolerance) + " s tolerance (" +
                           std::to_string(diff) + (past ? " s old)" : " s in the future)"));
  }
  return Status::Ok();
}

// True when any candidate equals any expected MAC. Every pair is compared, without an early exit
// inside the loops, so timing reveals at most whether something matched.
bool AnyMatch(const std::vector<std::string>& candidates,
              const std::vector<std::string>& expected) {
  bool matched = false;
  for (const auto& c : candidates) {
    for (const auto& e : expected) {
      matched |= crypto::ConstantTimeEquals(c, e);
    }
  }
  return matched;
}

std::vector<std::string> ExpectedMacs(const std::vector<std::string>& keys,
                                      std::string_view content) {
  std::vector<std::string> out;
  out.reserve(keys.size());
  for (const auto& k : keys) out.push_back(crypto::HmacSha256(k, content));
  return out;
}

// An authentic delivery whose id came from `origin` ("webhook-id header", ...): the id if it is
// usable, else the reason it is not.
VerifiedDelivery Delivered(std::string id, const std::string& origin,
                           std::optional<int64_t> timestamp) {
  VerifiedDelivery d;
  d.timestamp = timestamp;
  if (Status s = ValidateEventId(id); !s.ok()) {
    d.id_status = Status::Invalid(origin + " " + s.message());
  } else {
    d.event_id = std::move(id);
  }
  return d;
}

// For schemes that do not sign an id: the body's "id" (a string, or an integer in decimal), else
// the body hash when the body has no "id", a null one, or is not JSON (ingress then refuses it
// as not JSON). Only called after the signature verified, so untrusted bodies are never parsed
// here.
VerifiedDelivery FromBody(std::string_view body, std::optional<int64_t> timestamp) {
  static const std::string kOrigin = "body field \"id\"";
  auto parsed = ParseJson(body);
  VerifiedDelivery d;
  if (parsed.ok() && parsed->is_object()) {
    auto it = parsed->find("id");
    if (it != parsed->end() && !it->is_null()) {
      if (it->is_string()) {
        d = Delivered(it->get<std::string>(), kOrigin, timestamp);
      } else if (it->is_number_integer()) {
        d = Delivered(it->dump(), kOrigin, timestamp);
      } else {
        d.timestamp = timestamp;
        d.id_status = Status::Invalid(kOrigin + " must be a string or an integer (got " +
                                      std::string(it->type_name()) + ")");
      }
      d.parsed_body = std::move(parsed);
      return d;
    }
  }
  d = Delivered(crypto::HexEncode(crypto::Sha256(body)), "body SHA-256", timestamp);
  d.parsed_body = std::move(parsed);
  return d;
}

Result<VerifiedDelivery> VerifyStandardWebhooks(const SignatureOptions& o,
                                                const HeaderLookup& headers, std::string_view body,
                                                int64_t now_unix) {
  // Each header falls back to its Svix spelling; `used` names the one that was present.
  auto get = [&](std::string_view name, std::string_view svix_name,
                 std::string_view* used = nullptr) {
    auto v = Header(headers, name);
    if (!v) {
      name = svix_name;
      v = Header(headers, name);
    }
    if (used) *used = name;
    return v;
  };
  std::string_view id_header;
  auto id = get("webhook-id", "svix-id", &id_header);
  auto ts_text = get("webhook-timestamp", "svix-timestamp");
  auto sig = get("webhook-signature", "svix-signature");
  if (!id) return Status::Invalid("missing webhook-id header");
  if (!ts_text) return Status::Invalid("missing webhook-timestamp header");
  if (!sig) return Status::Invalid("missing webhook-signature header");
  auto ts = ParseUnixSeconds(*ts_text);
  if (!ts) return Status::Invalid("webhook-timestamp is not a decimal Unix time");
  if (Status s = CheckFreshness(*ts, now_unix, o.tolerance_seconds); !s.ok()) return s;

  std::vector<std::string> candidates;
  bool any_v1 = false;
  ForEachPiece(*sig, " \t", [&](std::string_view token) {
    size_t comma = token.find(',');
    if (comma == std::string_view::npos) return;
    if (token.substr(0, comma) != "v1") return;  // other versions (v1a, v2, ...) are skipped
    any_v1 = true;
    if (auto raw = crypto::Base64Decode(token.substr(comma + 1)))
      candidates.push_back(std::move(*raw));
  });
  if (!any_v1) return Status::Invalid("webhook-signature header has no v1 signature");

  auto keys = Keys(o);
  if (keys.empty()) return Status::Invalid("no usable secret configured for this source");
  std::string content;
  content.reserve(id->size() + ts_text->size() + body.size() + 2);
  content.append(*id).append(".").append(*ts_text).append(".").append(body);
  if (!AnyMatch(candidates, ExpectedMacs(keys, content))) {
    return Status::Invalid("no signature matched");
  }
  return Delivered(std::move(*id), std::string(id_header) + " header", *ts);
}

Result<VerifiedDelivery> VerifyHmacSha256(const SignatureOptions& o, const HeaderLookup& headers,
                                          std::string_view body) {
  auto sig = Header(headers, o.header);
  if (!sig) return Status::Invalid("missing " + o.header + " header");
  const bool hex = o.encoding != "base64";
  std::vector<std::string> candidates;
  bool any_prefixed = false;
  ForEachPiece(*sig, ", \t", [&](std::string_view token) {
    if (token.substr(0, o.prefix.size()) != o.prefix) return;
    any_prefixed = true;
    std::string_view encoded = token.substr(o.prefix.size());
    auto raw = hex ? crypto::HexDecode(encoded) : crypto::Base64Decode(encoded);
    if (raw && !raw->empty()) candidates.push_back(std::move(*raw));
  });
  if (!any_prefixed || candidates.empty()) {
    return Status::Invalid("malformed " + o.header + " header: expected \"" + o.prefix + "<" +
                           (hex ? "hex" : "base64") + " HMAC-SHA256>\"");
  }
  std::optional<std::string> event_id;
  if (!o.id_header.empty()) {
    event_id = Header(headers, o.id_header);
    if (!event_id) return Status::Invalid("missing " + o.id_header + " header");
  }
  auto keys = Keys(o);
  if (keys.empty()) return Status::Invalid("no usable secret configured for this source");
  if (!AnyMatch(candidates, ExpectedMacs(keys, body)))
    return Status::Invalid("no signature matched");
  if (event_id) return Delivered(std::move(*event_id), o.id_header + " header", std::nullopt);
  return FromBody(body, std::nullopt);
}

Result<VerifiedDelivery> VerifyStripe(const SignatureOptions& o, const HeaderLookup& headers,
                                      std::string_view body, int64_t now_unix) {
  auto sig = Header(headers, "Stripe-Signature");
  if (!sig) return Status::Invalid("missing Stripe-Signature header");
  std::optional<std::string_view> t_text;
  std::vector<std::string> candidates;
  bool any_v1 = false;
  bool two_t = false;
  ForEachPiece(*sig, ",", [&](std::string_view item) {
    item = Trim(item);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) return;  // Stripe's own libraries ignore such items too
    std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "t") {
      two_t = two_t || t_text.has_value();
      t_text = value;
    } else if (key == "v1") {
      any_v1 = true;
      if (auto raw = crypto::HexDecode(value)) candidates.push_back(std::move(*raw));
    }
  });
  if (two_t) return Status::Invalid("malformed Stripe-Signature header: more than one t=");
  if (!t_text) return Status::Invalid("malformed Stripe-Signature header: no t= timestamp");
  auto ts = ParseUnixSeconds(*t_text);
  if (!ts)
    return Status::Invalid("malformed Stripe-Signature header: t is not a decimal Unix time");
  if (!any_v1) return Status::Invalid("malformed Stripe-Signature header: no v1= signature");
  if (Status s = CheckFreshness(*ts, now_unix, o.tolerance_seconds); !s.ok()) return s;

  auto keys = Keys(o);
  if (keys.empty()) return Status::Invalid("no usable secret configured for this source");
  std::string content;
  content.reserve(t_text->size() + 1 + body.size());
  content.append(*t_text).append(".").append(body);
  if (!AnyMatch(candidates, ExpectedMacs(keys, content))) {
    return Status::Invalid("no signature matched");
  }
  return FromBody(body, *ts);
}

}  // namespace

std::optional<SignatureScheme> ParseSignatureScheme(std::string_view name) {
  if (name == "standard-webhooks") return SignatureScheme::kStandardWebhooks;
  if (name == "hmac-sha256") return SignatureScheme::kHmacSha256;
  if (name == "stripe") return SignatureScheme::kStripe;
  return std::nullopt;
}

const char* SignatureSchemeName(SignatureScheme s) {
  switch (s) {
    case SignatureScheme::kStandardWebhooks:
      return "standard-webhooks";
    case SignatureScheme::kHmacSha256:
      return "hmac-sha256";
    case SignatureScheme::kStripe:
      return "stripe";
  }
  return "unknown";
}

Status ValidateSignatureOptions(const SignatureOptions& o) {
  size_t usable = 0;
  std::optional<size_t> not_base64;  // the first standard-webhooks secret that does not decode
  ForEachUsableLine(o, [&](size_t line, std::string_view secret) {
    ++usable;
    if (o.scheme == SignatureScheme::kStandardWebhooks && !not_base64 && !DecodeWhsec(secret))
      not_base64 = line;
  });
  if (usable == 0) return Status::Invalid("secret file has no secret (it is empty or blank)");
  if (o.tolerance_seconds <= 0) {
    return Status::Invalid("tolerance_seconds must be a positive number of seconds (got " +
                           std::to_string(o.tolerance_seconds) + ")");
  }
  switch (o.scheme) {
    case SignatureScheme::kStandardWebhooks:
      if (not_base64) {
        return Status::Invalid(
            "secret on line " + std::to_string(*not_base64) +
            " is not base64 after the optional \"whsec_\" prefix (standard-webhooks "
            "secrets look like whsec_<base64>)");
      }
      break;
    case SignatureScheme::kHmacSha256:
      if (Trim(o.header).empty()) return Status::Invalid("header must name an HTTP header");
      if (o.encoding != "hex" && o.encoding != "base64") {
        return Status::Invalid("encoding must be \"hex\" or \"base64\" (got \"" + o.encoding +
                               "\")");
      }
      break;
    case SignatureScheme::kStripe:
      break;
  }
  return Status::Ok();
}

Result<VerifiedDelivery> VerifySignature(const SignatureOptions& o, const HeaderLookup& headers,
                                         std::string_view body, int64_t now_unix) {
  switch (o.scheme) {
    case SignatureScheme::kStandardWebhooks:
      return VerifyStandardWebhooks(o, headers, body, now_unix);
    case SignatureScheme::kHmacSha256:
      return VerifyHmacSha256(o, headers, body);
    case SignatureScheme::kStripe:
      return VerifyStripe(o, headers, body, now_unix);
  }
  return Status::Invalid("unknown signature scheme");
}

std::vector<std::pair<std::string, std::string>> SignDelivery(const SignatureOptions& o,
                                                              std::string_view event_id,
                                                              int64_t timestamp_unix,
                                                              std::string_view body) {
  std::vector<std::pair<std::string, std::string>> out;
  auto keys = Keys(o);
  if (keys.empty()) return out;
  const std::string& key = keys.front();
  const std::string ts = std::to_string(timestamp_unix);
  switch (o.scheme) {
    case SignatureScheme::kStandardWebhooks: {
      std::string content;
      content.append(event_id).append(".").append(ts).append(".").append(body);
      out.emplace_back("webhook-id", std::string(event_id));
      out.emplace_back("webhook-timestamp", ts);
      out.emplace_back("webhook-signature",
                       "v1," + crypto::Base64Encode(crypto::HmacSha256(key, content)));
      break;
    }
    case SignatureScheme::kHmacSha256: {
      std::string mac = crypto::HmacSha256(key, body);
      out.emplace_back(o.header, o.prefix + (o.encoding == "base64" ? crypto::Base64Encode(mac)
                                                                    : crypto::HexEncode(mac)));
      if (!o.id_header.empty()) out.emplace_back(o.id_header, std::string(event_id));
      break;
    }
    case SignatureScheme::kStripe: {
      std::string content;
      content.append(ts).append(".").append(body);
      out.emplace_back("Stripe-Signature",
                       "t=" + ts + ",v1=" + crypto::HexEncode(crypto::HmacSha256(key, content)));
      break;
    }
  }
  return out;
}

}  // namespace tenantsync
