// HubSpot connector: signature v3 (Base64 HMAC-SHA256 of method + decoded URI + body +
// timestamp, 5-minute window), the v1 fallback (hex SHA-256 of secret + body), URI decoding and
// the JSON array of events.
//
// Vectors:
//  - v1: HubSpot's own example (https://developers.hubspot.com/docs/faq/v1-request-validation):
//    client secret yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy, the body below →
//    232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de.
//  - v3: the developer docs give the steps but no worked example. HubSpot's own client library
//    publishes one in its tests (HubSpot/hubspot-api-python, tests/spec/utils/test_signature.py:
//    secret yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy, POST, https://www.example.com/webhook_uri, body
//    {'example_field':'example_value'}, timestamp 15000000 → HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r
//    8RDgcQw=; the same file's v1 vector for that body → 69fc6631…f750); both are checked in
//    VendorHubSpot.HubSpotsOwnLibraryVectorsVerify. The vector with a query string below was
//    computed independently with Python:
//    python3 -c 'import hmac,hashlib,base64; print(base64.b64encode(hmac.new(SECRET.encode(),
//      ("POST" + "https://example.com/webhooks/hubspot?src=a:b" + BODY + "1764500000000")
//      .encode(), hashlib.sha256).digest()).decode())'
#include <gtest/gtest.h>
#include <strings.h>

#include <map>

#include "adapters/vendors/vendors.h"

namespace tenantsync {
namespace {

constexpr char kSecret[] = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
constexpr char kBody[] =
    R"([{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}])";
constexpr char kV1[] = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de";
constexpr char kV3[] = "stuqcfKgm+hy3ANdybI5/S+zFbxhkD+89olZXZQBBOs=";
constexpr char kTs[] = "1764500000000";
constexpr int64_t kNow = 1764500000000 + 60000;

VendorRequest Request(const std::map<std::string, std::string>* headers, std::string_view query,
                      std::string_view body = kBody) {
  return VendorRequest{"POST", query,
                       [headers](std::string_view n) -> std::optional<std::string> {
                         for (const auto& [k, v] : *headers)
                           if (strcasecmp(k.c_str(), std::string(n).c_str()) == 0) return v;
                         return std::nullopt;
                       },
                       body};
}

VendorVerifyOptions Options() {
  VendorVerifyOptions o;
  o.vendor = Vendor::kHubSpot;
  o.secrets = {kSecret};
  o.public_url = "https://example.com/webhooks/hubspot";
  return o;
}

TEST(VendorHubSpot, DocumentedV1VectorVerifies) {
  std::map<std::string, std::string> h = {{"X-HubSpot-Signature", kV1},
                                          {"X-HubSpot-Signature-Version", "v1"}};
  auto v = VerifyVendorDelivery(Options(), Request(&h, ""), kNow);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->method, "v1");
}

// Published by HubSpot in its Python client's tests (see the header comment). The timestamp is
// from 1970, so "now" is set next to it: the window is checked before the HMAC.
TEST(VendorHubSpot, HubSpotsOwnLibraryVectorsVerify) {
  constexpr char kSdkBody[] = "{'example_field':'example_value'}";
  auto o = Options();
  o.public_url = "https://www.example.com/webhook_uri";
  std::map<std::string, std::string> v3 = {
      {"X-HubSpot-Signature-v3", "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="},
      {"X-HubSpot-Request-Timestamp", "15000000"}};
  auto v = VerifyVendorDelivery(o, Request(&v3, "", kSdkBody), 15000000 + 1000);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->method, "v3");
  // The same request 5 minutes and a second later is refused before any HMAC.
  v = VerifyVendorDelivery(o, Request(&v3, "", kSdkBody), 15000000 + 301000);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("outside the 300 s tolerance"), std::string::npos);
  std::map<std::string, std::string> v1 = {
      {"X-HubSpot-Signature", "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750"},
      {"X-HubSpot-Signature-Version", "v1"}};
  v = VerifyVendorDelivery(o, Request(&v1, "", kSdkBody), 15000000);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->method, "v1");
}

TEST(VendorHubSpot, V3VerifiesWithTheEncodedQueryDecoded) {
  std::map<std::string, std::string> h = {{"X-HubSpot-Signature-v3", kV3},
                                          {"X-HubSpot-Request-Timestamp", kTs}};
  auto v = VerifyVendorDelivery(Options(), Request(&h, "src=a%3Ab"), kNow);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->method, "v3");
  EXPECT_EQ(v->timestamp_ms, 1764500000000);
  // Already-decoded query: same signed text.
  EXPECT_TRUE(VerifyVendorDelivery(Options(), Request(&h, "src=a:b"), kNow).ok());
}

TEST(VendorHubSpot, V3TakesPrecedenceOverV1AndEnforcesTheWindow) {
  // A correct v1 does not rescue a wrong v3: v3 is checked when present.
  std::map<std::string, std::string> h = {{"X-HubSpot-Signature-v3", kV3},
                                          {"X-HubSpot-Request-Timestamp", "1764500000001"},
                                          {"X-HubSpot-Signature", kV1}};
  auto v = VerifyVendorDelivery(Options(), Request(&h, "src=a%3Ab"), kNow);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "no signature matched (X-HubSpot-Signature-v3)");
  h["X-HubSpot-Request-Timestamp"] = kTs;
  v = VerifyVendorDelivery(Options(), Request(&h, "src=a%3Ab"), kNow + 300000);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("outside the 300 s tolerance"), std::string::npos);
}

TEST(VendorHubSpot, V1CanBeTurnedOffAndV2IsRefused) {
  auto o = Options();
  o.allow_v1 = false;
  std::map<std::string, std::string> h = {{"X-HubSpot-Signature", kV1}};
  auto v = VerifyVendorDelivery(o, Request(&h, ""), kNow);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "missing X-HubSpot-Signature-v3 header");
  h["X-HubSpot-Signature-Version"] = "v2";
  EXPECT_FALSE(VerifyVendorDelivery(Options(), Request(&h, ""), kNow).ok());
}

TEST(VendorHubSpot, UriDecodingTouchesOnlyTheListedEscapes) {
  EXPECT_EQ(HubSpotDecodeUri("https://x.io/a%3Ab%2fc%3F%40%21%24%27%28%29%2A%2C%3B"),
            "https://x.io/a:b/c?@!$'()*,;");
  EXPECT_EQ(HubSpotDecodeUri("/p?q=a%20b%2Bc%"), "/p?q=a%20b%2Bc%");
}

TEST(VendorHubSpot, SignerProducesWhatTheVerifierAccepts) {
  auto headers = SignVendorDelivery(Options(), "POST", "src=a%3Ab", kBody, 1764500000000);
  std::map<std::string, std::string> h(headers.begin(), headers.end());
  EXPECT_EQ(h["X-HubSpot-Signature-v3"], kV3);
  EXPECT_EQ(h["X-HubSpot-Signature"], kV1);
  EXPECT_TRUE(VerifyVendorDelivery(Options(), Request(&h, "src=a%3Ab"), kNow).ok());
}

TEST(VendorHubSpot, PublicUrlIsRequired) {
  auto o = Options();
  o.public_url = "example.com/webhooks";
  EXPECT_FALSE(ValidateVendorVerifyOptions(o).ok());
}

TEST(VendorHubSpot, ArrayOfEventsDecodes) {
  std::string body = R"([
    {"eventId":1,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","objectId":123},
    {"eventId":2,"portalId":62515,"occurredAt":1564113600001,"subscriptionType":"contact.propertyChange","objectId":123,"propertyName":"email","propertyValue":"ada@example.com"},
    {"eventId":3,"portalId":62515,"occurredAt":1564113600002,"subscriptionType":"company.deletion","objectId":77},
    {"eventId":4,"portalId":62515,"occurredAt":1564113600003,"subscriptionType":"deal.creation","objectId":5},
    {"eventId":5,"portalId":62515,"occurredAt":1564113600004,"subscriptionType":"contact.restore","objectId":123}])";
  auto n = DecodeNotifications(Vendor::kHubSpot, "application/json", body);
  ASSERT_TRUE(n.ok()) << n.status().message();
  ASSERT_EQ(n->size(), 4u);  // the deal is not ours
  EXPECT_EQ((*n)[0].action, NotificationAction::kCreated);
  EXPECT_EQ((*n)[0].event_id, "62515:1");
  EXPECT_EQ((*n)[1].inline_record["email"], "ada@example.com");
  EXPECT_TRUE((*n)[1].needs_fetch);
  EXPECT_EQ((*n)[2].object, ObjectKind::kCompany);
  EXPECT_EQ((*n)[2].action, NotificationAction::kDeleted);
  EXPECT_FALSE((*n)[2].needs_fetch);
  EXPECT_EQ((*n)[3].action, NotificationAction::kRestored);
}

TEST(VendorHubSpot, MalformedArraysNameTheElement) {
  auto n = DecodeNotifications(Vendor::kHubSpot, "application/json",
                               R"([{"eventId":1,"subscriptionType":"contact.creation"}])");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().message(), "[0].objectId: must be an integer");
  n = DecodeNotifications(Vendor::kHubSpot, "application/json", R"({"eventId":1})");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().message(), "body: must be a JSON array of events");
}

}  // namespace
}  // namespace tenantsync
