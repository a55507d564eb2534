// Webhook signature schemes: SPEC §4 vectors, rotation, freshness, malformed input, round trips.
#include "adapters/signature/signature.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "common/crypto.h"

namespace tenantsync {
namespace {

// A case-insensitive header map, as the HTTP layer provides.
class Headers {
 public:
  Headers() = default;
  Headers(std::initializer_list<std::pair<std::string, std::string>> init) {
    for (const auto& [k, v] : init) Set(k, v);
  }
  explicit Headers(const std::vector<std::pair<std::string, std::string>>& init) {
    for (const auto& [k, v] : init) Set(k, v);
  }
  void Set(const std::string& k, const std::string& v) { map_[Lower(k)] = v; }
  void Erase(const std::string& k) { map_.erase(Lower(k)); }
  HeaderLookup Lookup() const {
    return [this](std::string_view name) -> std::optional<std::string> {
      auto it = map_.find(Lower(std::string(name)));
      if (it == map_.end()) return std::nullopt;
      return it->second;
    };
  }

 private:
  static std::string Lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  }
  std::map<std::string, std::string> map_;
};

// SPEC §4 standard-webhooks vector.
constexpr const char* kSwSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr const char* kSwId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr int64_t kSwTs = 1614265330;
constexpr const char* kSwBody = R"({"test": 2432232314})";
constexpr const char* kSwSig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

// SPEC §4 hmac-sha256 vector.
constexpr const char* kGhSecret = "It's a Secret to Everybody";
constexpr const char* kGhBody = "Hello, World!";
constexpr const char* kGhSig =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

// Stripe vector computed independently (Python hmac) for secret "whsec_test_secret".
constexpr const char* kStSecret = "whsec_test_secret";
constexpr int64_t kStTs = 1700000000;
constexpr const char* kStBody = R"({"id":"evt_1","type":"user.left"})";
constexpr const char* kStSig = "fdcc6982ec4646ba587f7af00f17ffad0f1b05e2315c4b169bac6d326e3765b6";

SignatureOptions Sw(std::vector<std::string> secrets = {kSwSecret}) {
  SignatureOptions o;
  o.scheme = SignatureScheme::kStandardWebhooks;
  o.secrets = std::move(secrets);
  return o;
}
SignatureOptions Gh(std::vector<std::string> secrets = {kGhSecret}) {
  SignatureOptions o;
  o.scheme = SignatureScheme::kHmacSha256;
  o.secrets = std::move(secrets);
  return o;
}
SignatureOptions St(std::vector<std::string> secrets = {kStSecret}) {
  SignatureOptions o;
  o.scheme = SignatureScheme::kStripe;
  o.secrets = std::move(secrets);
  return o;
}

Headers SwHeaders(const std::string& sig = kSwSig) {
  return Headers{{"webhook-id", kSwId},
                 {"webhook-timestamp", std::to_string(kSwTs)},
                 {"webhook-signature", sig}};
}

void ExpectInvalid(const Result<VerifiedDelivery>& r, const std::string& message_part) {
  ASSERT_FALSE(r.ok()) << "expected failure containing: " << message_part;
  EXPECT_EQ(r.status().kind(), StatusKind::kInvalid);
  EXPECT_NE(r.status().message().find(message_part), std::string::npos) << r.status().message();
}

TEST(SignatureSchemeTest, ParsesAndNames) {
  for (auto s : {SignatureScheme::kStandardWebhooks, SignatureScheme::kHmacSha256,
                 SignatureScheme::kStripe}) {
    EXPECT_EQ(ParseSignatureScheme(SignatureSchemeName(s)), s);
  }
  EXPECT_EQ(ParseSignatureScheme("Stripe"), std::nullopt);
  EXPECT_EQ(ParseSignatureScheme(""), std::nullopt);
  EXPECT_EQ(ParseSignatureScheme("hmac"), std::nullopt);
}

// ---- standard-webhooks ----

TEST(StandardWebhooksTest, SpecVector) {
  auto h = SwHeaders();
  auto r = VerifySignature(Sw(), h.Lookup(), kSwBody, kSwTs);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->event_id, kSwId);
  EXPECT_EQ(r->timestamp, kSwTs);
}

TEST(StandardWebhooksTest, SignDeliveryReproducesSpecVector) {
  auto headers = SignDelivery(Sw(), kSwId, kSwTs, kSwBody);
  std::map<std::string, std::string> m(headers.begin(), headers.end());
  EXPECT_EQ(m["webhook-id"], kSwId);
  EXPECT_EQ(m["webhook-timestamp"], std::to_string(kSwTs));
  EXPECT_EQ(m["webhook-signature"], kSwSig);
}

TEST(StandardWebhooksTest, SvixSpellings) {
  Headers h{
      {"svix-id", kSwId}, {"svix-timestamp", std::to_string(kSwTs)}, {"svix-signature", kSwSig}};
  auto r = VerifySignature(Sw(), h.Lookup(), kSwBody, kSwTs);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->event_id, kSwId);
}

TEST(StandardWebhooksTest, HeaderNamesAreCaseInsensitiveThroughLookup) {
  Headers h{{"Webhook-Id", kSwId},
            {"WEBHOOK-TIMESTAMP", std::to_string(kSwTs)},
            {"Webhook-Signature", kSwSig}};
  EXPECT_TRUE(VerifySignature(Sw(), h.Lookup(), kSwBody, kSwTs).ok());
}

TEST(StandardWebhooksTest, SecretWithoutPrefixAndUnpadded) {
  // The vector's secret is 32 base64 chars (no padding needed); strip prefix, and also try a
  // secret whose base64 needs padding, given without it.
  EXPECT_TRUE(VerifySignature(Sw({"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}), SwHeaders().Lookup(),
                              kSwBody, kSwTs)
                  .ok());

  const std::string key22 = "0123456789abcdefghij!!";  // 22 bytes → base64 ends with "=="
  std::string padded = crypto::Base64Encode(key22);
  ASSERT_EQ(padded.substr(padded.size() - 2), "==");
  std::string unpadded = padded.substr(0, padded.size() - 2);
  auto headers = SignDelivery(Sw({"whsec_" + padded}), "msg_1", 1000, "{}");
  Headers h(headers);
  auto r = VerifySignature(Sw({"whsec_" + unpadded}), h.Lookup(), "{}", 1000);
  EXPECT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(ValidateSignatureOptions(Sw({"whsec_" + unpadded})).ok());
}

TEST(StandardWebhooksTest, SeveralSignaturesAnyValidOnePasses) {
  const std::string bad = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  EXPECT_TRUE(VerifySignature(Sw(), SwHeaders(bad + " " + kSwSig).Lookup(), kSwBody, kSwTs).ok());
  EXPECT_TRUE(
      VerifySignature(Sw(), SwHeaders(std::string(kSwSig) + " " + bad).Lookup(), kSwBody, kSwTs)
          .ok());
  // Unknown versions are skipped, even when their payload would match.
  EXPECT_TRUE(VerifySignature(Sw(), SwHeaders("v1a,xyz v2,abc " + std::string(kSwSig)).Lookup(),
                              kSwBody, kSwTs)
                  .ok());
  ExpectInvalid(
      VerifySignature(Sw(), SwHeaders("v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=").Lookup(),
                      kSwBody, kSwTs),
      "no v1 signature");
  ExpectInvalid(VerifySignature(Sw(), SwHeaders(bad).Lookup(), kSwBody, kSwTs),
                "no signature matched");
}

TEST(StandardWebhooksTest, RotationTriesEverySecret) {
  const std::string other = "whsec_" + crypto::Base64Encode("another secret, 24+ bytes long");
  EXPECT_TRUE(VerifySignature(Sw({other, kSwSecret}), SwHeaders().Lookup(), kSwBody, kSwTs).ok());
  EXPECT_TRUE(VerifySignature(Sw({kSwSecret, other}), SwHeaders().Lookup(), kSwBody, kSwTs).ok());
  // Blank lines and CRLF endings in the secret file are harmless.
  EXPECT_TRUE(VerifySignature(Sw({"", other + "\r", std::string(kSwSecret) + "\r", "  "}),
                              SwHeaders().Lookup(), kSwBody, kSwTs)
                  .ok());
  ExpectInvalid(VerifySignature(Sw({other}), SwHeaders().Lookup(), kSwBody, kSwTs),
                "no signature matched");
}

TEST(StandardWebhooksTest, TamperedBodyIdOrTimestamp) {
  ExpectInvalid(VerifySignature(Sw(), SwHeaders().Lookup(), R"({"test": 2432232315})", kSwTs),
                "no signature matched");
  auto h = SwHeaders();
  h.Set("webhook-id", "msg_other");
  ExpectInvalid(VerifySignature(Sw(), h.Lookup(), kSwBody, kSwTs), "no signature matched");
  h = SwHeaders();
  h.Set("webhook-timestamp", std::to_string(kSwTs + 1));
  ExpectInvalid(VerifySignature(Sw(), h.Lookup(), kSwBody, kSwTs), "no signature matched");
}

TEST(StandardWebhooksTest, StaleAndFutureTimestamps) {
  auto h = SwHeaders();
  EXPECT_TRUE(VerifySignature(Sw(), h.Lookup(), kSwBody, kSwTs + 300).ok());
  EXPECT_TRUE(VerifySignature(Sw(), h.Lookup(), kSwBody, kSwTs - 300).ok());
  auto stale = VerifySignature(Sw(), h.Lookup(), kSwBody, kSwTs + 301);
  ExpectInvalid(stale, "timestamp outside the 300 s tolerance");
  EXPECT_NE(stale.status().message().find("301 s old"), std::string::npos);
  auto future = VerifySignature(Sw(), h.Lookup(), kSwBody, kSwTs - 301);
  ExpectInvalid(future, "timestamp outside the 300 s tolerance");
  EXPECT_NE(future.status().message().find("in the future"), std::string::npos);

  auto o = Sw();
  o.tolerance_seconds = 10;
  ExpectInvalid(VerifySignature(o, h.Lookup(), kSwBody, kSwTs + 11), "outside the 10 s tolerance");
  // Extreme clocks must not overflow.
  ExpectInvalid(VerifySignature(Sw(), h.Lookup(), kSwBody, INT64_MIN), "tolerance");
  ExpectInvalid(VerifySignature(Sw(), h.Lookup(), kSwBody, INT64_MAX), "tolerance");
}

TEST(StandardWebhooksTest, MissingHeaders) {
  for (const char* name : {"webhook-id", "webhook-timestamp", "webhook-signature"}) {
    auto h = SwHeaders();
    h.Erase(name);
    ExpectInvalid(VerifySignature(Sw(), h.Lookup(), kSwBody, kSwTs),
                  std::string("missing ") + name + " header");
  }
  ExpectInvalid(VerifySignature(Sw(), Headers{}.Lookup(), kSwBody, kSwTs),
                "missing webhook-id header");
  ExpectInvalid(VerifySignature(Sw(), HeaderLookup{}, kSwBody, kSwTs), "missing");
  auto h = SwHeaders();
  h.Set("webhook-signature", "   ");
  ExpectInvalid(VerifySignature(Sw(), h.Lookup(), kSwBody, kSwTs),
                "missing webhook-signature header");
}

TEST(StandardWebhooksTest, MalformedHeaders) {
  for (const char* ts :
       {"abc", "-1614265330", "1614265330.5", "+1614265330", "1e9", "99999999999999999999999"}) {
    auto h = SwHeaders();
    h.Set("webhook-timestamp", ts);
    ExpectInvalid(VerifySignature(Sw(), h.Lookup(), kSwBody, kSwTs),
                  "webhook-timestamp is not a decimal Unix time");
  }
  for (const char* sig : {"garbage", "v1", "v1;abc", ","}) {
    ExpectInvalid(VerifySignature(Sw(), SwHeaders(sig).Lookup(), kSwBody, kSwTs),
                  "no v1 signature");
  }
  ExpectInvalid(VerifySignature(Sw(), SwHeaders("v1,!!!notbase64").Lookup(), kSwBody, kSwTs),
                "no signature matched");
  ExpectInvalid(VerifySignature(Sw(), SwHeaders("v1,").Lookup(), kSwBody, kSwTs),
                "no signature matched");
}

// An unusable id is judged only once the delivery is authentic: a signed one is reported in
// id_status (the HTTP layer answers 400 and stores nothing), an unsigned one is simply refused.
TEST(StandardWebhooksTest, UnusableIdIsReportedAfterVerification) {
  const std::string rule =
      "; an event id must be 1 to 255 bytes of UTF-8 without control characters";
  struct Case {
    std::string id, reason;
  };
  for (const auto& c :
       std::vector<Case>{{"msg_\xff\xfe", "is not valid UTF-8 (byte 0xff at offset 4)"},
                         {"msg_\x01", "contains a control character (U+0001 at offset 4)"},
                         {std::string(256, 'a'), "is longer than 255 bytes (got 256)"}}) {
    for (const std::string prefix : {"webhook-", "svix-"}) {
      Headers h;
      for (const auto& [name, value] : SignDelivery(Sw(), c.id, kSwTs, kSwBody)) {
        h.Set(prefix + name.substr(name.find('-') + 1), value);
      }
      auto r = VerifySignature(Sw(), h.Lookup(), kSwBody, kSwTs);
      ASSERT_TRUE(r.ok()) << r.status().message();
      EXPECT_EQ(r->id_status.kind(), StatusKind::kInvalid);
      EXPECT_EQ(r->id_status.message(), prefix + "id header " + c.reason + rule);
      EXPECT_EQ(r->event_id, "");
      // Not signed with a configured secret: 401 as always, without a word about the id.
      ExpectInvalid(VerifySignature(Sw({"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}), h.Lookup(),
                                    kSwBody, kSwTs),
                    "no signature matched");
    }
  }
  // Any UTF-8 without control characters is a usable id, spaces and non-ASCII letters included.
  for (const std::string& id :
       {std::string("msg with space"), std::string("\xc3\xa9v\xc3\xa9nement-1")}) {
    Headers h(SignDelivery(Sw(), id, kSwTs, kSwBody));
    auto r = VerifySignature(Sw(), h.Lookup(), kSwBody, kSwTs);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(r->id_status.ok()) << r->id_status.message();
    EXPECT_EQ(r->event_id, id);
  }
}

TEST(StandardWebhooksTest, WhitespaceAroundHeaderValuesIsTolerated) {
  Headers h{{"webhook-id", std::string(" ") + kSwId + " "},
            {"webhook-timestamp", " " + std::to_string(kSwTs) + " "},
            {"webhook-signature", std::string("  ") + kSwSig + "  "}};
  EXPECT_TRUE(VerifySignature(Sw(), h.Lookup(), kSwBody, kSwTs).ok());
}

TEST(StandardWebhooksTest, NoUsableSecretFailsClosed) {
  ExpectInvalid(VerifySignature(Sw({}), SwHeaders().Lookup(), kSwBody, kSwTs), "no usable secret");
  ExpectInvalid(VerifySignature(Sw({"whsec_***"}), SwHeaders().Lookup(), kSwBody, kSwTs),
                "no usable secret");
}

TEST(StandardWebhooksTest, NegativeToleranceNeverWidensTheWindow) {
  auto o = Sw();
  o.tolerance_seconds = -1;
  ExpectInvalid(VerifySignature(o, SwHeaders().Lookup(), kSwBody, kSwTs + 100000), "tolerance");
}

// ---- hmac-sha256 ----

TEST(HmacSha256Test, SpecVector) {
  Headers h{{"X-Hub-Signature-256", kGhSig}};
  auto r = VerifySignature(Gh(), h.Lookup(), kGhBody, 0);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->timestamp, std::nullopt);
  // Not JSON: the id is the body's SHA-256.
  EXPECT_EQ(r->event_id, crypto::HexEncode(crypto::Sha256(kGhBody)));
  EXPECT_EQ(SignDelivery(Gh(), "ignored", 0, kGhBody),
            (std::vector<std::pair<std::string, std::string>>{{"X-Hub-Signature-256", kGhSig}}));
}

TEST(HmacSha256Test, UpperCaseHexAccepted) {
  std::string sig = kGhSig;
  std::transform(sig.begin() + 7, sig.end(), sig.begin() + 7,
                 [](unsigned char c) { return std::toupper(c); });
  Headers h{{"x-hub-signature-256", sig}};
  EXPECT_TRUE(VerifySignature(Gh(), h.Lookup(), kGhBody, 0).ok());
}

TEST(HmacSha256Test, Base64CustomHeaderAndPrefix) {
  auto o = Gh();
  o.header = "X-Signature";
  o.prefix = "";
  o.encoding = "base64";
  Headers h{{"X-Signature", "dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPhc="}};
  EXPECT_TRUE(VerifySignature(o, h.Lookup(), kGhBody, 0).ok());
  Headers unpadded{{"X-Signature", "dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPhc"}};
  EXPECT_TRUE(VerifySignature(o, unpadded.Lookup(), kGhBody, 0).ok());
  ExpectInvalid(VerifySignature(o, Headers{}.Lookup(), kGhBody, 0), "missing X-Signature header");
}

TEST(HmacSha256Test, SeveralSignaturesAndRotation) {
  const std::string wrong = "sha256=" + std::string(64, '0');
  Headers h{{"X-Hub-Signature-256", wrong + "," + kGhSig}};
  EXPECT_TRUE(VerifySignature(Gh(), h.Lookup(), kGhBody, 0).ok());
  Headers h2{{"X-Hub-Signature-256", kGhSig}};
  EXPECT_TRUE(VerifySignature(Gh({"old secret", kGhSecret}), h2.Lookup(), kGhBody, 0).ok());
  ExpectInvalid(VerifySignature(Gh({"old secret"}), h2.Lookup(), kGhBody, 0),
                "no signature matched");
}

TEST(HmacSha256Test, TamperedAndMalformed) {
  Headers h{{"X-Hub-Signature-256", kGhSig}};
  ExpectInvalid(VerifySignature(Gh(), h.Lookup(), "Hello, World?", 0), "no signature matched");
  ExpectInvalid(VerifySignature(Gh(), Headers{}.Lookup(), kGhBody, 0),
                "missing X-Hub-Signature-256 header");
  for (const char* bad : {"757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                          "sha256=xyz", "sha1=757107ea", "sha256="}) {
    Headers m{{"X-Hub-Signature-256", bad}};
    ExpectInvalid(VerifySignature(Gh(), m.Lookup(), kGhBody, 0),
                  "malformed X-Hub-Signature-256 header");
  }
  // Truncated MAC decodes but never matches.
  Headers t{{"X-Hub-Signature-256", std::string(kGhSig).substr(0, 21)}};
  ExpectInvalid(VerifySignature(Gh(), t.Lookup(), kGhBody, 0), "no signature matched");
}

TEST(HmacSha256Test, EventIdFromHeaderBodyOrHash) {
  const std::string body = R"({"id":"evt_42","type":"user.left"})";
  auto o = Gh();
  auto signed_headers = SignDelivery(o, "unused", 0, body);
  Headers h(signed_headers);
  auto r = VerifySignature(o, h.Lookup(), body, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->event_id, "evt_42");

  const std::string numeric = R"({"id":12345})";
  Headers hn(SignDelivery(o, "", 0, numeric));
  EXPECT_EQ(VerifySignature(o, hn.Lookup(), numeric, 0)->event_id, "12345");

  const std::string no_id = R"({"type":"user.left"})";
  Headers h2(SignDelivery(o, "", 0, no_id));
  EXPECT_EQ(VerifySignature(o, h2.Lookup(), no_id, 0)->event_id,
            crypto::HexEncode(crypto::Sha256(no_id)));

  o.id_header = "X-Request-Id";
  auto with_id = SignDelivery(o, "req-7", 0, body);
  Headers h3(with_id);
  auto r3 = VerifySignature(o, h3.Lookup(), body, 0);
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->event_id, "req-7");
  h3.Erase("X-Request-Id");
  ExpectInvalid(VerifySignature(o, h3.Lookup(), body, 0), "missing X-Request-Id header");

  // An id header that is not usable: authentic, but reported in id_status.
  Headers bad(SignDelivery(o, "req-\xe9", 0, body));
  auto rb = VerifySignature(o, bad.Lookup(), body, 0);
  ASSERT_TRUE(rb.ok()) << rb.status().message();
  EXPECT_EQ(rb->id_status.message(),
            "X-Request-Id header is not valid UTF-8 (byte 0xe9 at offset 4); an event id must be 1 "
            "to 255 bytes of "
            "UTF-8 without control characters");
}

// Without an id header the body's "id" is the event id: a string or an integer is used (or
// refused in id_status when unusable), anything else is refused; no "id" (or null) means the
// body's SHA-256.
TEST(HmacSha256Test, BodyIdIsCheckedLikeAHeaderId) {
  const std::string rule =
      "; an event id must be 1 to 255 bytes of UTF-8 without control characters";
  auto verify = [](const std::string& body) {
    Headers h(SignDelivery(Gh(), "", 0, body));
    auto r = VerifySignature(Gh(), h.Lookup(), body, 0);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : VerifiedDelivery{};
  };
  struct Case {
    std::string body, message;
  };
  for (const auto& c : std::vector<Case>{
           {R"({"id":"evt\u0007x"})",
            "body field \"id\" contains a control character (U+0007 at offset 3)" + rule},
           {R"({"id":""})", "body field \"id\" is empty" + rule},
           {"{\"id\":\"" + std::string(300, 'e') + "\"}",
            "body field \"id\" is longer than 255 bytes (got 300)" + rule},
           {R"({"id":1.5})", "body field \"id\" must be a string or an integer (got number)"},
           {R"({"id":true})", "body field \"id\" must be a string or an integer (got boolean)"},
           {R"({"id":{"a":1}})", "body field \"id\" must be a string or an integer (got object)"},
           {R"({"id":["x"]})", "body field \"id\" must be a string or an integer (got array)"}}) {
    VerifiedDelivery d = verify(c.body);
    EXPECT_EQ(d.id_status.kind(), StatusKind::kInvalid) << c.body;
    EXPECT_EQ(d.id_status.message(), c.message);
    EXPECT_EQ(d.event_id, "");
  }
  const std::string null_id = R"({"id":null,"type":"user.left"})";
  VerifiedDelivery d = verify(null_id);
  EXPECT_TRUE(d.id_status.ok());
  EXPECT_EQ(d.event_id, crypto::HexEncode(crypto::Sha256(null_id)));
  const std::string latin1 = "{\"id\":\"evt\xe9\"}";  // not JSON (not UTF-8): the hash
  d = verify(latin1);
  EXPECT_TRUE(d.id_status.ok());
  EXPECT_EQ(d.event_id, crypto::HexEncode(crypto::Sha256(latin1)));
}

// ---- stripe ----

TEST(StripeTest, Vector) {
  Headers h{{"Stripe-Signature", "t=" + std::to_string(kStTs) + ",v1=" + kStSig}};
  auto r = VerifySignature(St(), h.Lookup(), kStBody, kStTs);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->timestamp, kStTs);
  EXPECT_EQ(r->event_id, "evt_1");
  // The body was parsed for its id; ingress takes that parse instead of a second one.
  ASSERT_TRUE(r->parsed_body.has_value());
  ASSERT_TRUE(r->parsed_body->ok());
  EXPECT_EQ((**r->parsed_body)["id"], "evt_1");
  auto signed_headers = SignDelivery(St(), "evt_1", kStTs, kStBody);
  ASSERT_EQ(signed_headers.size(), 1u);
  EXPECT_EQ(signed_headers[0].first, "Stripe-Signature");
  EXPECT_EQ(signed_headers[0].second, "t=" + std::to_string(kStTs) + ",v1=" + kStSig);
}

TEST(StripeTest, SeveralSignaturesOtherSchemesAndRotation) {
  const std::string ts = std::to_string(kStTs);
  Headers h{{"Stripe-Signature", "t=" + ts + ", v1=" + std::string(64, 'a') +
                                     ", v0=" + std::string(64, 'b') + ", v1=" + kStSig}};
  EXPECT_TRUE(VerifySignature(St(), h.Lookup(), kStBody, kStTs).ok());
  EXPECT_TRUE(VerifySignature(St({"whsec_rotated", kStSecret}), h.Lookup(), kStBody, kStTs).ok());
  ExpectInvalid(VerifySignature(St({"whsec_rotated"}), h.Lookup(), kStBody, kStTs),
                "no signature matched");
  // Order of t and v1 does not matter.
  Headers rev{{"Stripe-Signature", std::string("v1=") + kStSig + ",t=" + ts}};
  EXPECT_TRUE(VerifySignature(St(), rev.Lookup(), kStBody, kStTs).ok());
}

TEST(StripeTest, TamperedStaleFuture) {
  const std::string header = "t=" + std::to_string(kStTs) + ",v1=" + kStSig;
  Headers h{{"Stripe-Signature", header}};
  ExpectInvalid(VerifySignature(St(), h.Lookup(), R"({"id":"evt_2","type":"user.left"})", kStTs),
                "no signature matched");
  ExpectInvalid(VerifySignature(St(), h.Lookup(), kStBody, kStTs + 301),
                "timestamp outside the 300 s tolerance");
  ExpectInvalid(VerifySignature(St(), h.Lookup(), kStBody, kStTs - 301),
                "timestamp outside the 300 s tolerance");
  Headers moved{{"Stripe-Signature", "t=" + std::to_string(kStTs + 1) + ",v1=" + kStSig}};
  ExpectInvalid(VerifySignature(St(), moved.Lookup(), kStBody, kStTs), "no signature matched");
}

TEST(StripeTest, MalformedAndMissing) {
  ExpectInvalid(VerifySignature(St(), Headers{}.Lookup(), kStBody, kStTs),
                "missing Stripe-Signature header");
  const std::string sig = std::string("v1=") + kStSig;
  struct Case {
    std::string header;
    std::string message;
  };
  for (const auto& c : std::vector<Case>{
           {sig, "malformed Stripe-Signature header: no t= timestamp"},
           {"t=abc," + sig, "malformed Stripe-Signature header: t is not a decimal Unix time"},
           {"t=," + sig, "malformed Stripe-Signature header: t is not a decimal Unix time"},
           {"t=1,t=2," + sig, "malformed Stripe-Signature header: more than one t="},
           {"t=" + std::to_string(kStTs), "malformed Stripe-Signature header: no v1= signature"},
           {"t=" + std::to_string(kStTs) + ",v0=" + kStSig,
            "malformed Stripe-Signature header: no v1= signature"},
           {"garbage", "malformed Stripe-Signature header"},
           {"t=" + std::to_string(kStTs) + ",v1=zz", "no signature matched"},
       }) {
    Headers h{{"Stripe-Signature", c.header}};
    ExpectInvalid(VerifySignature(St(), h.Lookup(), kStBody, kStTs), c.message);
  }
}

// ---- round trips and options ----

TEST(SignatureRoundTripTest, EverySchemeVerifiesItsOwnSignature) {
  const std::string body =
      R"({"type":"user.left","timestamp":"2026-11-25T10:00:00Z","data":{"external_id":"e1"}})";
  std::vector<SignatureOptions> all = {Sw(), Gh(), St()};
  auto gh_b64 = Gh();
  gh_b64.encoding = "base64";
  gh_b64.id_header = "X-Delivery";
  all.push_back(gh_b64);
  for (const auto& o : all) {
    SCOPED_TRACE(SignatureSchemeName(o.scheme));
    ASSERT_TRUE(ValidateSignatureOptions(o).ok());
    auto headers = SignDelivery(o, "evt_round_trip", 1800000000, body);
    ASSERT_FALSE(headers.empty());
    Headers h(headers);
    auto r = VerifySignature(o, h.Lookup(), body, 1800000000 + 5);
    ASSERT_TRUE(r.ok()) << r.status().message();
    if (o.scheme == SignatureScheme::kStandardWebhooks || !o.id_header.empty()) {
      EXPECT_EQ(r->event_id, "evt_round_trip");
    } else {
      EXPECT_EQ(r->event_id, crypto::HexEncode(crypto::Sha256(body)));  // body has no "id"
    }
    // Signed with the first secret; a verifier holding only a different secret refuses it.
    auto other = o;
    other.secrets = {o.scheme == SignatureScheme::kStandardWebhooks
                         ? "whsec_" + crypto::Base64Encode("other-key")
                         : "other-key"};
    EXPECT_FALSE(VerifySignature(other, h.Lookup(), body, 1800000000).ok());
    EXPECT_FALSE(VerifySignature(o, h.Lookup(), body + " ", 1800000000).ok());
  }
}

TEST(SignatureOptionsTest, Validation) {
  EXPECT_TRUE(ValidateSignatureOptions(Sw()).ok());
  EXPECT_TRUE(ValidateSignatureOptions(Gh()).ok());
  EXPECT_TRUE(ValidateSignatureOptions(St()).ok());

  auto empty = ValidateSignatureOptions(Sw({"", "  ", "\r"}));
  EXPECT_EQ(empty.kind(), StatusKind::kInvalid);
  EXPECT_NE(empty.message().find("no secret"), std::string::npos);

  const std::string bad_secret = "whsec_not*base64!";
  auto bad = ValidateSignatureOptions(Sw({kSwSecret, bad_secret}));
  EXPECT_EQ(bad.kind(), StatusKind::kInvalid);
  EXPECT_NE(bad.message().find("line 2"), std::string::npos) << bad.message();
  EXPECT_NE(bad.message().find("base64"), std::string::npos);
  EXPECT_EQ(bad.message().find("not*base64"), std::string::npos) << "message leaks the secret";
  EXPECT_EQ(ValidateSignatureOptions(Sw({"whsec_"})).kind(), StatusKind::kInvalid);

  auto enc = Gh();
  enc.encoding = "base32";
  auto s = ValidateSignatureOptions(enc);
  EXPECT_EQ(s.kind(), StatusKind::kInvalid);
  EXPECT_NE(s.message().find("encoding"), std::string::npos);
  EXPECT_EQ(s.message().find(kGhSecret), std::string::npos);

  auto no_header = Gh();
  no_header.header = " ";
  EXPECT_EQ(ValidateSignatureOptions(no_header).kind(), StatusKind::kInvalid);

  auto tol = St();
  tol.tolerance_seconds = 0;
  EXPECT_EQ(ValidateSignatureOptions(tol).kind(), StatusKind::kInvalid);

  // Any string is a usable stripe / hmac-sha256 secret.
  EXPECT_TRUE(ValidateSignatureOptions(St({"not*base64!"})).ok());
}

TEST(SignatureOptionsTest, FailureMessagesNeverContainSecrets) {
  const std::string secret = "whsec_c2VjcmV0LXRoYXQtbXVzdC1ub3QtbGVhaw";
  auto o = Sw({secret});
  std::vector<Headers> cases = {SwHeaders(), SwHeaders("v1,bad"), Headers{}};
  for (const auto& h : cases) {
    auto r = VerifySignature(o, h.Lookup(), kSwBody, kSwTs);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message().find("c2VjcmV0"), std::string::npos);
  }
}

TEST(SignDeliveryTest, NoUsableSecretGivesNoHeaders) {
  EXPECT_TRUE(SignDelivery(Sw({}), "id", 1, "{}").empty());
  EXPECT_TRUE(SignDelivery(Sw({"whsec_!!"}), "id", 1, "{}").empty());
}

}  // namespace
}  // namespace tenantsync
