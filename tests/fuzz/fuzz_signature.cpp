// Fuzzes VerifySignature with hostile headers and bodies, and checks that every scheme verifies
// what SignDelivery produced and refuses it once the body changes.
#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/events/event.h"
#include "adapters/signature/signature.h"
#include "tests/fuzz/fuzz_targets.h"

namespace tenantsync::fuzz {
namespace {

constexpr int64_t kNow = 1614265330;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

struct FakeHeaders {
  std::map<std::string, std::string> values;  // lower-case names
  void Set(std::string_view name, std::string value) { values[Lower(name)] = std::move(value); }
  HeaderLookup Lookup() const {
    return [this](std::string_view name) -> std::optional<std::string> {
      auto it = values.find(Lower(name));
      if (it == values.end()) return std::nullopt;
      return it->second;
    };
  }
};

SignatureOptions Options(uint8_t selector) {
  SignatureOptions o;
  switch (selector % 3) {
    case 0:
      o.scheme = SignatureScheme::kStandardWebhooks;
      o.secrets = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_c2Vjb25kLXNlY3JldA"};
      break;
    case 1:
      o.scheme = SignatureScheme::kHmacSha256;
      o.secrets = {"It's a Secret to Everybody", "second"};
      if (selector & 0x04) o.encoding = "base64";
      if (selector & 0x08) o.id_header = "X-Request-Id";
      if (selector & 0x10) o.prefix = "";
      break;
    default:
      o.scheme = SignatureScheme::kStripe;
      o.secrets = {"whsec_test_secret", "rotated"};
      break;
  }
  if (selector & 0x20) o.tolerance_seconds = 1;
  return o;
}

std::vector<std::string> HeaderNames(const SignatureOptions& o, bool svix) {
  switch (o.scheme) {
    case SignatureScheme::kStandardWebhooks:
      if (svix) return {"svix-id", "svix-timestamp", "svix-signature"};
      return {"webhook-id", "webhook-timestamp", "webhook-signature"};
    case SignatureScheme::kHmacSha256:
      if (!o.id_header.empty()) return {o.header, o.id_header};
      return {o.header};
    case SignatureScheme::kStripe:
      return {"Stripe-Signature"};
  }
  return {};
}

void CheckFailure(const Status& s, const SignatureOptions& o) {
  TS_FUZZ_CHECK(s.kind() == StatusKind::kInvalid);
  TS_FUZZ_CHECK(!s.message().empty());
  for (const auto& secret : o.secrets) TS_FUZZ_CHECK(s.message().find(secret) == std::string::npos);
}

// An authentic delivery: either a usable id, or no id and the reason in id_status.
void CheckDelivered(const VerifiedDelivery& d, const SignatureOptions& o) {
  if (d.id_status.ok()) {
    TS_FUZZ_CHECK(ValidateEventId(d.event_id).ok());
  } else {
    CheckFailure(d.id_status, o);
    TS_FUZZ_CHECK(d.event_id.empty());
    TS_FUZZ_CHECK(!FindInvalidUtf8(d.id_status.message()).has_value());
  }
}

}  // namespace

int FuzzSignature(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const SignatureOptions o = Options(selector);
  TS_FUZZ_CHECK(ValidateSignatureOptions(o).ok());

  // 1. Hostile headers and body.
  const auto names = HeaderNames(o, (selector & 0x40) != 0);
  FakeHeaders headers;
  for (const auto& name : names) {
    const size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) break;
    headers.Set(name, std::string(rest.substr(0, nl)));
    rest.remove_prefix(nl + 1);
  }
  const std::string body(rest);
  const int64_t now = (selector & 0x80) ? kNow : 1700000000;
  auto r = VerifySignature(o, headers.Lookup(), body, now);
  if (r.ok()) {
    CheckDelivered(*r, o);
    if (o.scheme != SignatureScheme::kHmacSha256) TS_FUZZ_CHECK(r->timestamp.has_value());
  } else {
    CheckFailure(r.status(), o);
  }

  // 2. Whatever the sender signs verifies, with either header spelling where there are two.
  const std::string event_id = headers.values.empty() ? "evt_fuzz" : headers.values.begin()->second;
  auto signed_headers = SignDelivery(o, event_id, now, body);
  TS_FUZZ_CHECK(!signed_headers.empty());
  FakeHeaders good;
  for (auto& [name, value] : signed_headers) good.Set(name, value);
  auto v = VerifySignature(o, good.Lookup(), body, now);
  const bool id_carried = o.scheme == SignatureScheme::kStandardWebhooks || !o.id_header.empty();
  const std::string trimmed_id = [&] {
    std::string_view s = event_id;
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return std::string(s);
  }();
  if (!id_carried || (!trimmed_id.empty() && trimmed_id == event_id)) {
    if (!v.ok()) std::fprintf(stderr, "round trip refused: %s\n", v.status().message().c_str());
    TS_FUZZ_CHECK(v.ok());
    CheckDelivered(*v, o);
    if (id_carried) {
      TS_FUZZ_CHECK(v->id_status.ok() == ValidateEventId(event_id).ok());
      if (v->id_status.ok()) TS_FUZZ_CHECK(v->event_id == event_id);
    }
  }

  // 3. ... and any change to the body breaks it.
  if (v.ok()) {
    std::string tampered = body;
    if (tampered.empty()) {
      tampered = "x";
    } else {
      tampered[tampered.size() / 2] = static_cast<char>(tampered[tampered.size() / 2] ^ 0x01);
    }
    auto t = VerifySignature(o, good.Lookup(), tampered, now);
    TS_FUZZ_CHECK(!t.ok());
    CheckFailure(t.status(), o);
    // Outside the tolerance window it is refused too (schemes with a signed timestamp).
    if (o.scheme != SignatureScheme::kHmacSha256) {
      TS_FUZZ_CHECK(!VerifySignature(o, good.Lookup(), body, now + o.tolerance_seconds + 1).ok());
    }
  }
  return 0;
}

}  // namespace tenantsync::fuzz
