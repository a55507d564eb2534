// The vendor API fetch: request shapes per vendor, answers interpreted, retries with backoff,
// 429 with Retry-After, Personio's token exchange, and that no credential reaches a message.
// A scripted HttpTransport and a FakeClock: no network, no real sleeping.
#include "adapters/vendors/vendor_api.h"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <thread>

#include "common/crypto.h"
#include "tests/support/fake_clock.h"

namespace tenantsync {
namespace {

class ScriptedTransport : public HttpTransport {
 public:
  HttpResponse Send(const HttpRequest& request) override {
    std::lock_guard<std::mutex> lock(mu);
    sent.push_back(request);
    if (answers.empty()) {
      HttpResponse r;
      r.status = 500;
      return r;
    }
    HttpResponse r = answers.front();
    answers.pop_front();
    return r;
  }
  std::mutex mu;
  std::deque<HttpResponse> answers;
  std::vector<HttpRequest> sent;
};

HttpResponse Answer(int status, std::string body = "", std::map<std::string, std::string> h = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(h);
  return r;
}

std::string HeaderOf(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

// Backoff and rate-limit waits go through Clock::SleepFor; with auto_advance a ticker thread moves
// the fake clock on so they end without real waiting.
struct Harness {
  explicit Harness(VendorApiOptions o, bool auto_advance = true) {
    auto t = std::make_unique<ScriptedTransport>();
    transport = t.get();
    std::string prefix = o.vendor == Vendor::kBambooHr ? "/api/gateway.php/acme" : "";
    api = std::make_unique<HttpVendorApi>(o, prefix, std::move(t), clock, random);
    if (auto_advance) {
      ticker = std::thread([this] {
        while (!stop) {
          clock.Advance(std::chrono::milliseconds(200));
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
      });
    }
  }
  ~Harness() {
    stop = true;
    if (ticker.joinable()) ticker.join();
  }
  std::atomic<bool> stop{false};
  std::thread ticker;
  FakeClock clock;
  SeededRandom random{7};
  ScriptedTransport* transport;
  std::unique_ptr<HttpVendorApi> api;
};

VendorApiOptions Opts(Vendor v, std::string cred) {
  VendorApiOptions o;
  o.vendor = v;
  o.credential = std::move(cred);
  o.company_domain = "acme";
  o.requests_per_second = 1000;
  return o;
}

TEST(VendorApi, RequestShapesPerVendor) {
  auto bamboo = BuildFetchRequest(Opts(Vendor::kBambooHr, "k3y"), "/api/gateway.php/acme",
                                  ObjectKind::kPerson, "67890", "");
  EXPECT_EQ(bamboo.method, "GET");
  EXPECT_EQ(bamboo.target.rfind("/api/gateway.php/acme/v1/employees/67890?fields=firstName%2C", 0),
            0u)
      << bamboo.target;
  EXPECT_EQ(HeaderOf(bamboo, "Authorization"), "Basic " + crypto::Base64Encode("k3y:x"));

  auto bob = BuildFetchRequest(Opts(Vendor::kHiBob, "svc:tok"), "", ObjectKind::kPerson, "42", "");
  EXPECT_EQ(bob.method, "POST");
  EXPECT_EQ(bob.target, "/v1/people/42");
  EXPECT_EQ(nlohmann::json::parse(bob.body)["fields"][1], "root.email");
  EXPECT_EQ(HeaderOf(bob, "Authorization"), "Basic " + crypto::Base64Encode("svc:tok"));

  auto personio =
      BuildFetchRequest(Opts(Vendor::kPersonio, "id:secret"), "", ObjectKind::kPerson, "p 1", "T");
  EXPECT_EQ(personio.target, "/v2/persons/p%201");
  EXPECT_EQ(HeaderOf(personio, "Authorization"), "Bearer T");

  auto contact =
      BuildFetchRequest(Opts(Vendor::kHubSpot, "pat-1"), "", ObjectKind::kPerson, "123", "");
  EXPECT_EQ(contact.target.rfind("/crm/v3/objects/contacts/123?properties=email%2C", 0), 0u);
  EXPECT_NE(contact.target.find("&associations=companies"), std::string::npos);
  auto company =
      BuildFetchRequest(Opts(Vendor::kHubSpot, "pat-1"), "", ObjectKind::kCompany, "9", "");
  EXPECT_EQ(company.target, "/crm/v3/objects/companies/9?properties=name%2Cdomain");
  EXPECT_EQ(HeaderOf(company, "Authorization"), "Bearer pat-1");
}

TEST(VendorApi, AnswersAreInterpreted) {
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1000));
  struct Case {
    HttpResponse r;
    StatusKind want;
  };
  HttpResponse down;
  down.transport_error = TransportError::kConnect;
  down.error_message = "connection refused";
  const std::vector<Case> cases = {
      {Answer(200, R"({"id":"1"})"), StatusKind::kOk},
      {Answer(200, "[1]"), StatusKind::kInvalid},
      {Answer(404), StatusKind::kNotFound},
      {Answer(401), StatusKind::kPermanent},
      {Answer(400), StatusKind::kPermanent},
      {Answer(503), StatusKind::kRetryable},
      {Answer(429, "", {{"retry-after", "7"}}), StatusKind::kRateLimited},
      {down, StatusKind::kRetryable},
  };
  for (const auto& c : cases) {
    auto r = InterpretFetchResponse(Vendor::kBambooHr, ObjectKind::kPerson, "1", c.r, now);
    EXPECT_EQ(r.ok() ? StatusKind::kOk : r.status().kind(), c.want) << c.r.status;
  }
  auto limited = InterpretFetchResponse(Vendor::kHubSpot, ObjectKind::kCompany, "9",
                                        Answer(429, "", {{"retry-after", "7"}}), now);
  EXPECT_EQ(*limited.status().retry_at(), now + std::chrono::seconds(7));
  EXPECT_EQ(limited.status().message(), "hubspot company 9: rate limited by the vendor (HTTP 429)");
}

TEST(VendorApi, RetriesServerErrorsThenSucceeds) {
  Harness h(Opts(Vendor::kBambooHr, "k3y"));
  h.transport->answers = {Answer(500), Answer(502),
                          Answer(200, R"({"id":"67890","workEmail":"a@b.co"})")};
  auto r = h.api->FetchRecord(ObjectKind::kPerson, "67890");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)["workEmail"], "a@b.co");
  EXPECT_EQ(h.transport->sent.size(), 3u);
}

TEST(VendorApi, GivesUpAfterMaxRetriesWithoutLeakingTheKey) {
  auto o = Opts(Vendor::kBambooHr, "super-secret-api-key");
  o.max_retries = 2;
  Harness h(o);
  auto r = h.api->FetchRecord(ObjectKind::kPerson, "1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kRetryable);
  EXPECT_EQ(h.transport->sent.size(), 3u);
  EXPECT_EQ(r.status().message().find("super-secret"), std::string::npos);
}

TEST(VendorApi, WaitsOutA429ForItsRetryAfter) {
  Harness h(Opts(Vendor::kHubSpot, "pat"), /*auto_advance=*/false);
  h.transport->answers = {Answer(429, "", {{"retry-after", "3"}}), Answer(200, R"({"id":"5"})")};
  const auto start = h.clock.Now();
  std::thread t([&] {
    auto r = h.api->FetchRecord(ObjectKind::kPerson, "5");
    EXPECT_TRUE(r.ok()) << r.status().message();
  });
  // The second request goes out only once the clock passes Retry-After.
  for (int i = 0; i < 400; ++i) {
    {
      std::lock_guard<std::mutex> lock(h.transport->mu);
      if (h.transport->sent.size() == 2) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    h.clock.Advance(std::chrono::milliseconds(100));
  }
  t.join();
  EXPECT_EQ(h.transport->sent.size(), 2u);
  EXPECT_GE(h.clock.Now() - start, std::chrono::seconds(3));
}

TEST(VendorApi, NotFoundIsNotRetried) {
  Harness h(Opts(Vendor::kHiBob, "svc:tok"));
  h.transport->answers = {Answer(404)};
  auto r = h.api->FetchRecord(ObjectKind::kPerson, "42");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kNotFound);
  EXPECT_EQ(h.transport->sent.size(), 1u);
}

TEST(VendorApi, PersonioExchangesAndCachesItsToken) {
  Harness h(Opts(Vendor::kPersonio, "client-1:s3cret"));
  h.transport->answers = {Answer(200, R"({"access_token":"tok-A","expires_in":86400})"),
                          Answer(200, R"({"id":"p1"})"), Answer(200, R"({"id":"p2"})")};
  ASSERT_TRUE(h.api->FetchRecord(ObjectKind::kPerson, "p1").ok());
  ASSERT_TRUE(h.api->FetchRecord(ObjectKind::kPerson, "p2").ok());
  ASSERT_EQ(h.transport->sent.size(), 3u);  // one token, two fetches
  EXPECT_EQ(h.transport->sent[0].target, "/v2/auth/token");
  EXPECT_NE(h.transport->sent[0].body.find("grant_type=client_credentials"), std::string::npos);
  EXPECT_EQ(HeaderOf(h.transport->sent[2], "Authorization"), "Bearer tok-A");
}

TEST(VendorApi, PersonioRefreshesARevokedTokenOnce) {
  Harness h(Opts(Vendor::kPersonio, "client-1:s3cret"));
  h.transport->answers = {Answer(200, R"({"access_token":"tok-A"})"), Answer(401),
                          Answer(200, R"({"access_token":"tok-B"})"),
                          Answer(200, R"({"id":"p1"})")};
  auto r = h.api->FetchRecord(ObjectKind::kPerson, "p1");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(HeaderOf(h.transport->sent[3], "Authorization"), "Bearer tok-B");
}

// A throttled token exchange is waited out like a throttled fetch, never reported as refused
// credentials (found by the connector matrix: a 429 on /v2/auth/token failed the notification).
TEST(VendorApi, PersonioWaitsOutAThrottledTokenExchange) {
  Harness h(Opts(Vendor::kPersonio, "client-1:s3cret"), /*auto_advance=*/false);
  h.transport->answers = {Answer(429, "", {{"retry-after", "3"}}),
                          Answer(200, R"({"access_token":"tok-A"})"),
                          Answer(200, R"({"id":"p1"})")};
  const auto start = h.clock.Now();
  std::thread t([&] {
    auto r = h.api->FetchRecord(ObjectKind::kPerson, "p1");
    EXPECT_TRUE(r.ok()) << r.status().message();
  });
  for (int i = 0; i < 400; ++i) {
    {
      std::lock_guard<std::mutex> lock(h.transport->mu);
      if (h.transport->sent.size() == 3) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    h.clock.Advance(std::chrono::milliseconds(100));
  }
  t.join();
  ASSERT_EQ(h.transport->sent.size(), 3u);
  EXPECT_EQ(h.transport->sent[1].target, "/v2/auth/token");
  EXPECT_GE(h.clock.Now() - start, std::chrono::seconds(3));

  // Still throttled after max_rate_limit_waits: kRateLimited (the stage retries it later).
  auto o = Opts(Vendor::kPersonio, "client-1:s3cret");
  o.max_rate_limit_waits = 0;
  Harness g(o);
  g.transport->answers = {Answer(429, "", {{"retry-after", "1"}})};
  auto r = g.api->FetchRecord(ObjectKind::kPerson, "p1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kRateLimited);
  EXPECT_EQ(r.status().message(), "personio token: rate limited by the vendor (HTTP 429)");
}

// A mapping that reads a field the default mapping does not: naming it in api_person_fields /
// api_company_fields makes the fetch ask for it too, with the defaults, each field once.
TEST(VendorApi, ExtraFieldsAreFetchedWithTheDefaults) {
  auto o = Opts(Vendor::kBambooHr, "k3y");
  o.extra_person_fields = {"customCostCenter", "workEmail"};
  auto bamboo = BuildFetchRequest(o, "", ObjectKind::kPerson, "1", "");
  EXPECT_NE(bamboo.target.find("%2CcustomCostCenter"), std::string::npos) << bamboo.target;
  EXPECT_NE(bamboo.target.find("firstName%2C"), std::string::npos) << "defaults kept";
  EXPECT_EQ(bamboo.target.find("workEmail"), bamboo.target.rfind("workEmail")) << bamboo.target;

  auto b = Opts(Vendor::kHiBob, "svc:tok");
  b.extra_person_fields = {"work.customColumns.column_123"};
  auto bob = BuildFetchRequest(b, "", ObjectKind::kPerson, "42", "");
  const auto fields = nlohmann::json::parse(bob.body)["fields"];
  EXPECT_EQ(fields.back(), "work.customColumns.column_123");
  EXPECT_EQ(fields[1], "root.email");

  auto h = Opts(Vendor::kHubSpot, "pat-1");
  h.extra_company_fields = {"industry"};
  auto company = BuildFetchRequest(h, "", ObjectKind::kCompany, "9", "");
  EXPECT_EQ(company.target, "/crm/v3/objects/companies/9?properties=name%2Cdomain%2Cindustry");

  // Personio answers the whole person (nothing to name); company fields are HubSpot's only; a
  // name holding ',' would split in the query.
  auto p = Opts(Vendor::kPersonio, "id:secret");
  p.extra_person_fields = {"cost_centers"};
  EXPECT_EQ(ValidateVendorApiOptions(p).message(),
            "api_person_fields: personio answers the whole person; there is nothing to name");
  auto c = Opts(Vendor::kBambooHr, "k3y");
  c.extra_company_fields = {"industry"};
  EXPECT_EQ(ValidateVendorApiOptions(c).message(),
            "api_company_fields: only hubspot fetches companies");
  auto bad = Opts(Vendor::kHubSpot, "pat-1");
  bad.extra_person_fields = {"a,b"};
  EXPECT_EQ(ValidateVendorApiOptions(bad).message(),
            "api_person_fields: \"a,b\" is not a field name (empty or holding ',')");
}

TEST(VendorApi, OptionsAreValidated) {
  EXPECT_EQ(ValidateVendorApiOptions(Opts(Vendor::kHiBob, "no-colon")).message(),
            "credentials_file: a HiBob credential is SERVICE_USER_ID:TOKEN");
  EXPECT_FALSE(ValidateVendorApiOptions(Opts(Vendor::kPersonio, ":x")).ok());
  auto o = Opts(Vendor::kBambooHr, "k");
  o.company_domain.clear();
  EXPECT_NE(ValidateVendorApiOptions(o).message().find("company_domain"), std::string::npos);
  o = Opts(Vendor::kHubSpot, "pat");
  o.base_url = "http://203.0.113.9:80";
  EXPECT_FALSE(ValidateVendorApiOptions(o).ok());  // plain http only to loopback
  o.base_url = "http://127.0.0.1:8080/prefix";
  EXPECT_TRUE(ValidateVendorApiOptions(o).ok());
}

TEST(VendorApi, StoredEventRoundTrips) {
  VendorNotification n;
  n.vendor = Vendor::kHiBob;
  n.event_id = "abc";
  n.vendor_event = "employee.left";
  n.action = NotificationAction::kLeft;
  n.object_id = "42";
  n.occurred_at_ms = 5;
  n.effective_date = "2026-12-31";
  n.changed_fields = {"internal.status"};
  auto j = StoredVendorEvent(n, {{"id", "42"}}, 1772352000000);
  auto back = ParseStoredVendorEvent(j);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->notification.action, NotificationAction::kLeft);
  EXPECT_EQ(back->notification.effective_date, "2026-12-31");
  EXPECT_EQ(back->record["id"], "42");
  EXPECT_EQ(back->fetched_at_ms, 1772352000000);
  j["notification"]["action"] = "exploded";
  EXPECT_EQ(ParseStoredVendorEvent(j).status().message(), "notification.action: unknown");
}

}  // namespace
}  // namespace tenantsync
