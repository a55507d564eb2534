// vendor-sim core: its deliveries verify with the connectors' verifiers (and fail with a bad
// signature), decode to the right notifications, and its API serves records with the vendors'
// authentication, injected failures and Personio's token exchange.
#include "tests/vendor-sim/vendor_sim.h"

#include <gtest/gtest.h>

#include "common/crypto.h"
#include "tests/support/fake_clock.h"

namespace tenantsync::vsim {
namespace {

using json = nlohmann::json;

VendorConfig Config(Vendor v) {
  VendorConfig c;
  c.webhook_secret = v == Vendor::kPersonio ? "Bearer personio-token-123456" : "whsec-abc-123";
  c.api_credential = v == Vendor::kHiBob      ? "svc:tok"
                     : v == Vendor::kPersonio ? "cid:csecret"
                                              : "api-key";
  c.public_url = "http://127.0.0.1:9/webhooks/hs";
  return c;
}

VendorVerifyOptions Verifier(Vendor v) {
  VendorVerifyOptions o;
  o.vendor = v;
  o.secrets = {Config(v).webhook_secret};
  o.public_url = Config(v).public_url;
  return o;
}

Status Verify(Vendor v, const Delivery& d, int64_t now_ms) {
  std::map<std::string, std::string> h;
  for (const auto& [k, val] : d.headers) {
    std::string lower = k;
    for (auto& c : lower) c = static_cast<char>(std::tolower(c));
    h[lower] = val;
  }
  VendorRequest req{"POST", d.query,
                    [&h](std::string_view n) -> std::optional<std::string> {
                      std::string lower(n);
                      for (auto& c : lower) c = static_cast<char>(std::tolower(c));
                      auto it = h.find(lower);
                      if (it == h.end()) return std::nullopt;
                      return it->second;
                    },
                    d.body};
  auto r = VerifyVendorDelivery(Verifier(v), req, now_ms);
  return r.ok() ? Status::Ok() : r.status();
}

struct Fixture : ::testing::Test {
  FakeClock clock{std::chrono::system_clock::time_point(std::chrono::milliseconds(1780315200000))};
  VendorSim sim{clock};
  void SetUp() override {
    for (Vendor v : {Vendor::kBambooHr, Vendor::kHiBob, Vendor::kPersonio, Vendor::kHubSpot})
      sim.Configure(v, Config(v));
  }
};

TEST_F(Fixture, DeliveriesVerifyAndBadSignaturesDoNot) {
  struct Case {
    Vendor v;
    const char* event;
    std::string id;
    NotificationAction action;
    bool form;
  };
  const std::vector<Case> cases = {
      {Vendor::kBambooHr, "employee.updated", "67890", NotificationAction::kUpdated, false},
      {Vendor::kBambooHr, "employee.deleted", "67890", NotificationAction::kDeleted, true},
      {Vendor::kBambooHr, "employee_with_fields.created", "67890", NotificationAction::kCreated,
       false},
      {Vendor::kHiBob, "employee.left", "42", NotificationAction::kLeft, false},
      {Vendor::kPersonio, "employment.terminated", "p1", NotificationAction::kLeft, false},
      {Vendor::kHubSpot, "contact.creation", "123", NotificationAction::kCreated, false},
      {Vendor::kHubSpot, "company.deletion", "77", NotificationAction::kDeleted, false},
  };
  const int64_t now = clock.NowUnixMillis();
  for (const auto& c : cases) {
    SendCommand cmd;
    cmd.vendor = c.v;
    cmd.event = c.event;
    cmd.ids = {c.id};
    cmd.form = c.form;
    auto d = sim.BuildDelivery(cmd);
    ASSERT_TRUE(d.ok()) << c.event << ": " << d.status().message();
    EXPECT_TRUE(Verify(c.v, *d, now + 1000).ok())
        << c.event << ": " << Verify(c.v, *d, now).message();
    auto n = DecodeNotifications(c.v, d->content_type, d->body);
    ASSERT_TRUE(n.ok()) << c.event << ": " << n.status().message();
    ASSERT_EQ(n->size(), 1u) << c.event;
    EXPECT_EQ((*n)[0].action, c.action) << c.event;
    EXPECT_EQ((*n)[0].object_id, c.id) << c.event;
    EXPECT_EQ((*n)[0].occurred_at_ms / 1000, now / 1000) << c.event;

    cmd.bad_signature = true;
    auto bad = sim.BuildDelivery(cmd);
    ASSERT_TRUE(bad.ok());
    EXPECT_FALSE(Verify(c.v, *bad, now).ok()) << c.event;
  }
}

TEST_F(Fixture, ApiServesRecordsWithTheVendorsAuthentication) {
  sim.PutRecord(Vendor::kBambooHr, ObjectKind::kPerson, "67890",
                {{"id", "67890"}, {"firstName", "Ada"}});
  SimRequest req{"GET", "/api/gateway.php/acme/v1/employees/67890", {}, {}, ""};
  EXPECT_EQ(sim.HandleApi(req).status, 401);
  req.headers["authorization"] = "Basic " + crypto::Base64Encode("api-key:x");
  auto r = sim.HandleApi(req);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["firstName"], "Ada");
  req.path = "/api/gateway.php/acme/v1/employees/1";
  EXPECT_EQ(sim.HandleApi(req).status, 404);
  EXPECT_EQ(sim.RequestLog().size(), 3u);
}

TEST_F(Fixture, FailuresAreInjectedOnCommand) {
  sim.PutRecord(Vendor::kHubSpot, ObjectKind::kCompany, "77", {{"id", "77"}});
  SimRequest req{
      "GET", "/crm/v3/objects/companies/77", {}, {{"authorization", "Bearer api-key"}}, ""};
  sim.FailNext(2, 429, 3);
  auto r = sim.HandleApi(req);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers["Retry-After"], "3");
  EXPECT_EQ(sim.HandleApi(req).status, 429);
  EXPECT_EQ(sim.HandleApi(req).status, 200);
  ASSERT_TRUE(sim.Control("/__sim/fail", {{"count", 1}, {"status", 500}}).ok());
  EXPECT_EQ(sim.HandleApi(req).status, 500);
}

TEST_F(Fixture, PersonioTokenExchange) {
  sim.PutRecord(Vendor::kPersonio, ObjectKind::kPerson, "p1", {{"id", "p1"}});
  SimRequest token{"POST",
                   "/v2/auth/token",
                   {},
                   {},
                   "grant_type=client_credentials&client_id=cid&client_secret=wrong"};
  EXPECT_EQ(sim.HandleApi(token).status, 401);
  token.body = "grant_type=client_credentials&client_id=cid&client_secret=csecret";
  auto t = sim.HandleApi(token);
  ASSERT_EQ(t.status, 200);
  std::string access = json::parse(t.body)["access_token"];
  SimRequest get{"GET", "/v2/persons/p1", {}, {{"authorization", "Bearer " + access}}, ""};
  EXPECT_EQ(sim.HandleApi(get).status, 200);
  clock.Advance(std::chrono::hours(25));  // expired
  EXPECT_EQ(sim.HandleApi(get).status, 401);
}

TEST_F(Fixture, ControlBodiesAreChecked) {
  EXPECT_EQ(sim.Control("/__sim/config", {{"vendor", "workday"}}).message(),
            "vendor: must be bamboohr, hibob, personio or hubspot");
  EXPECT_EQ(
      sim.Control("/__sim/records", {{"vendor", "hibob"}, {"object", "x"}, {"id", "1"}}).message(),
      "object: must be person or company");
  bool replay = false;
  auto s = VendorSim::ParseSend({{"vendor", "hubspot"},
                                 {"event", "contact.creation"},
                                 {"ids", {"abc"}},
                                 {"url", "http://127.0.0.1:1/x"}},
                                &replay);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "ids: HubSpot object ids are integers");
}

}  // namespace
}  // namespace tenantsync::vsim
