// Personio connector: the static token in Authorization (or a CUSTOM header), compared exactly
// and in constant time; person.* and employment.* payloads.
#include <gtest/gtest.h>
#include <strings.h>

#include <map>

#include "adapters/vendors/vendors.h"

namespace tenantsync {
namespace {

constexpr char kToken[] = "Bearer personio-webhook-token-0123";

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
  o.vendor = Vendor::kPersonio;
  o.secrets = {kToken};
  return o;
}

TEST(VendorPersonio, TokenIsComparedVerbatim) {
  std::map<std::string, std::string> ok = {{"authorization", kToken}};
  EXPECT_TRUE(VerifyVendorDelivery(Options(), Request(&ok, "{}"), 0).ok());
  // Personio adds no prefix: the bare token without "Bearer " is a different token.
  std::map<std::string, std::string> bare = {{"Authorization", "personio-webhook-token-0123"}};
  auto v = VerifyVendorDelivery(Options(), Request(&bare, "{}"), 0);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "Authorization token does not match");
  EXPECT_EQ(v.status().message().find("personio-webhook"), std::string::npos);
  std::map<std::string, std::string> none;
  v = VerifyVendorDelivery(Options(), Request(&none, "{}"), 0);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "missing Authorization header");
}

TEST(VendorPersonio, CustomHeaderAndRotation) {
  auto o = Options();
  o.token_header = "X-My-Auth";
  o.secrets = {"old-token-old-token-old", kToken};
  std::map<std::string, std::string> h = {{"x-my-auth", kToken}};
  EXPECT_TRUE(VerifyVendorDelivery(o, Request(&h, "{}"), 0).ok());
  std::map<std::string, std::string> wrong_header = {{"Authorization", kToken}};
  EXPECT_FALSE(VerifyVendorDelivery(o, Request(&wrong_header, "{}"), 0).ok());
}

TEST(VendorPersonio, ShortTokensAreRefusedAtStartUp) {
  auto o = Options();
  o.secrets = {"short"};
  auto st = ValidateVendorVerifyOptions(o);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "secret line 1: a Personio webhook token must be at least 16 characters");
  EXPECT_TRUE(ValidateVendorVerifyOptions(Options()).ok());
}

TEST(VendorPersonio, EventsDecode) {
  struct Case {
    const char* body;
    NotificationAction want;
    const char* id;
  };
  const std::vector<Case> cases = {
      {R"({"company_id":"9","event_name":"person.created","occurred_at":"2026-03-01T08:00:00Z","payload":{"id":"p1"}})",
       NotificationAction::kCreated, "p1"},
      {R"({"company_id":"9","event_name":"person.deleted","occurred_at":"2026-03-01T08:00:00Z","payload":{"id":"p1"}})",
       NotificationAction::kDeleted, "p1"},
      {R"({"company_id":"9","event_name":"employment.terminated","occurred_at":"2026-03-01T08:00:00Z","payload":{"id":"e7","person_id":"p1"}})",
       NotificationAction::kLeft, "p1"},
      {R"({"company_id":"9","event_name":"employment.started","occurred_at":"2026-03-01T08:00:00Z","payload":{"id":"e8","person":{"id":"p2"}}})",
       NotificationAction::kJoined, "p2"},
      {R"({"company_id":"9","event_name":"employment.updated","occurred_at":"2026-03-01T08:00:00Z","payload":{"id":"e8","person_id":"p2"}})",
       NotificationAction::kUpdated, "p2"},
  };
  for (const auto& c : cases) {
    auto n = DecodeNotifications(Vendor::kPersonio, "application/json", c.body);
    ASSERT_TRUE(n.ok()) << c.body << ": " << n.status().message();
    EXPECT_EQ((*n)[0].action, c.want) << c.body;
    EXPECT_EQ((*n)[0].object_id, c.id) << c.body;
    EXPECT_EQ((*n)[0].occurred_at_ms, 1772352000000) << c.body;
  }
  auto bad = DecodeNotifications(Vendor::kPersonio, "application/json",
                                 R"({"event_name":"employment.terminated","payload":{"id":"e7"}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "payload.person_id: missing");
}

}  // namespace
}  // namespace tenantsync
