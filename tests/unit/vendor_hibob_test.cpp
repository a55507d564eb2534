// HiBob connector: Bob-Signature (Base64 HMAC-SHA512 of the raw body), the "Ping test"
// handshake, v2 payloads and lifecycle events.
//
// Vector: HiBob publishes none; the expected value was computed independently with Python:
//   python3 -c 'import hmac,hashlib,base64; print(base64.b64encode(hmac.new(
//     b"hibob-secret-token-abcdef", BODY.encode(), hashlib.sha512).digest()).decode())'
#include <gtest/gtest.h>
#include <strings.h>

#include <map>

#include "adapters/vendors/vendors.h"

namespace tenantsync {
namespace {

constexpr char kBody[] =
    R"({"companyId":636192,"type":"employee.updated","triggeredBy":"3332883804594373380","triggeredAt":"2025-01-08T13:06:26.915906","version":"v2","data":{"employeeId":"3332883884017713238","fieldUpdates":[{"fieldId":"root.email"}]}})";
constexpr char kSecret[] = "hibob-secret-token-abcdef";
constexpr char kSignature[] =
    "yVRlJqW9OTi1ReL9A+fV9He50SyvHEd5IOKCU1+LqktDTjke/wVL3nY3nTpLzebJM6wKLDWXryAGyeOWJ/L81Q==";

VendorRequest Request(const std::map<std::string, std::string>* headers, std::string_view body) {
  return VendorRequest{"POST", "",
                       [headers](std::string_view n) -> std::optional<std::string> {
                         for (const auto& [k, v] : *headers)
                           if (strcasecmp(k.c_str(), std::string(n).c_str()) == 0) return v;
                         return std::nullopt;
                       },
                       body};
}

VendorVerifyOptions Options() {
  VendorVerifyOptions o;
  o.vendor = Vendor::kHiBob;
  o.secrets = {kSecret};
  return o;
}

TEST(VendorHiBob, IndependentVectorVerifies) {
  std::map<std::string, std::string> h = {{"Bob-Signature", kSignature}};
  auto v = VerifyVendorDelivery(Options(), Request(&h, kBody), 0);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->kind, DeliveryKind::kNotification);
  EXPECT_EQ(v->method, "hmac-sha512");
  EXPECT_FALSE(v->timestamp_ms);  // HiBob signs no timestamp
}

TEST(VendorHiBob, WrongOrMissingSignatureIsRefused) {
  std::map<std::string, std::string> h = {{"Bob-Signature", kSignature}};
  std::string tampered = kBody;
  tampered[20] = '7';
  auto v = VerifyVendorDelivery(Options(), Request(&h, tampered), 0);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "no signature matched");
  std::map<std::string, std::string> none;
  v = VerifyVendorDelivery(Options(), Request(&none, kBody), 0);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "missing Bob-Signature header");
  std::map<std::string, std::string> hex = {{"Bob-Signature", std::string(128, 'a')}};
  v = VerifyVendorDelivery(Options(), Request(&hex, kBody), 0);
  ASSERT_FALSE(v.ok());
}

TEST(VendorHiBob, PingHandshakeInBothFormsIsAnsweredWithoutStoring) {
  std::map<std::string, std::string> none;
  for (const char* body : {"Ping test", "\"Ping test\"", R"({"text":"Ping test"})"}) {
    auto v = VerifyVendorDelivery(Options(), Request(&none, body), 0);
    ASSERT_TRUE(v.ok()) << body;
    EXPECT_EQ(v->kind, DeliveryKind::kHandshake) << body;
  }
  // Anything else unsigned is refused, even if it mentions a ping.
  auto v = VerifyVendorDelivery(Options(), Request(&none, R"({"text":"Ping test","x":1})"), 0);
  EXPECT_FALSE(v.ok());
}

TEST(VendorHiBob, SignThenVerifyRoundTrip) {
  auto headers = SignVendorDelivery(Options(), "POST", "", kBody, 0);
  ASSERT_EQ(headers.size(), 1u);
  EXPECT_EQ(headers[0].second, kSignature);
}

TEST(VendorHiBob, PayloadsMapToActions) {
  struct Case {
    std::string type;
    std::string extra;
    NotificationAction want;
    bool fetch;
  };
  const std::vector<Case> cases = {
      {"employee.created", "", NotificationAction::kCreated, true},
      {"employee.updated", "", NotificationAction::kUpdated, true},
      {"employee.deleted", "", NotificationAction::kDeleted, false},
      {"employee.joined", "", NotificationAction::kJoined, true},
      {"employee.left", "", NotificationAction::kLeft, true},
      {"employee.inactivated", "", NotificationAction::kInactivated, true},
      {"employee.activated", "", NotificationAction::kActivated, true},
      {"table.entry.created", R"(,"tableId":"lifecycle","effectiveDate":"2026-12-31")",
       NotificationAction::kUpdated, true},
      {"table.entry.updated", R"(,"tableId":"payroll","id":"5")", NotificationAction::kIgnored,
       false},
      {"employee.somethingNew", "", NotificationAction::kIgnored, false},
  };
  for (const auto& c : cases) {
    std::string body =
        R"({"companyId":1,"type":")" + c.type +
        R"(","triggeredBy":"system","triggeredAt":"2025-01-08T13:06:26.915906","version":"v2","data":{"employeeId":"42")" +
        c.extra + "}}";
    auto n = DecodeNotifications(Vendor::kHiBob, "application/json", body);
    ASSERT_TRUE(n.ok()) << c.type << ": " << n.status().message();
    ASSERT_EQ(n->size(), 1u);
    EXPECT_EQ((*n)[0].action, c.want) << c.type;
    EXPECT_EQ((*n)[0].needs_fetch, c.fetch) << c.type;
    EXPECT_EQ((*n)[0].object_id, "42");
    // triggeredAt has no zone: read as UTC, fraction kept to the millisecond.
    EXPECT_EQ((*n)[0].occurred_at_ms, 1736341586915) << c.type;
  }
  auto n = DecodeNotifications(
      Vendor::kHiBob, "application/json",
      R"({"type":"table.entry.created","triggeredAt":"2025-01-08T13:06:26","data":{"employeeId":"7","tableId":"lifecycle","effectiveDate":"2026-12-31"}})");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ((*n)[0].effective_date, "2026-12-31");
}

TEST(VendorHiBob, ChangedFieldsComeFromFieldUpdates) {
  auto n = DecodeNotifications(Vendor::kHiBob, "application/json", kBody);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ((*n)[0].changed_fields, std::vector<std::string>{"root.email"});
}

TEST(VendorHiBob, MissingEmployeeIdIsAnError) {
  auto n = DecodeNotifications(Vendor::kHiBob, "application/json",
                               R"({"type":"employee.updated","data":{}})");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().message(), "data.employeeId: missing");
}

}  // namespace
}  // namespace tenantsync
