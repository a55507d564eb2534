// Vendor connectors end to end with real processes: vendor-sim plays BambooHR and HubSpot (its
// API and its records), and `tenantsync mapping test --fetch` decodes a delivery, fetches the
// record over HTTP through the production HttpVendorApi (rate limit, retries, Retry-After) and
// maps it with the source's configured mapping. Covers created, updated, terminated with a future
// date, rehired, deleted, a company and its contact, and the vendor API failing (5xx then
// recovering, 429 with Retry-After, failing for good, refusing the credentials).
//
//
// VendorDaemonE2E: deliveries through a real `tenantsync serve` into a real auth0-sim, with
// configuration only: vendor-sim signs and posts BambooHR and HubSpot webhooks, the daemon's
// ingress verifies and stores them, its connector stage fetches the record from vendor-sim and
// maps it, the writer provisions Auth0 (BambooHR: created, terminated at a date, rehired, bad
// signature, replayed delivery, the vendor API failing then recovering, a form post; a HubSpot
// company and contact; HiBob's ping; Personio's token and lifecycle; a notification acknowledged
// while the vendor's API is down survives a SIGKILL).
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <csignal>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/integration/reconcile_support.h"
#include "tests/support/subprocess.h"

namespace tenantsync {
namespace {

using json = nlohmann::json;
using testing::BuildPath;
using testing::Subprocess;

class VendorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("vendors-test");
    sim_ = std::make_unique<Subprocess>(BuildPath("vendor-sim"),
                                        std::vector<std::string>{"--port", "0"});
    port_ = sim_->WaitForPort();
    ASSERT_GT(port_, 0) << sim_->Output();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    Control("/__sim/config", {{"vendor", "bamboohr"},
                              {"webhook_secret", "bamboo-private-key"},
                              {"api_credential", "bamboo-api-key"}});
    Control("/__sim/config", {{"vendor", "hubspot"},
                              {"webhook_secret", "hubspot-client-secret"},
                              {"api_credential", "pat-123"}});
    Write("admin-token", "an-admin-token-of-enough-length\n");
    Write("auth0-client-secret", "client-secret\n");
    Write("bamboo.key", "bamboo-private-key\n");
    Write("bamboo.api", "bamboo-api-key\n");
    Write("hs.key", "hubspot-client-secret\n");
    Write("hs.api", "pat-123\n");
    const std::string base = "http://127.0.0.1:" + std::to_string(port_);
    Write(
        "t.toml",
        "[storage]\npath = \"" + dir_ +
            "/db\"\n[admin]\ntoken_file = \"admin-token\"\n"
            "[auth0]\ndomain = \"t.example.com\"\nclient_id = \"c\"\n"
            "client_secret_file = \"auth0-client-secret\"\napplication_client_id = \"app\"\n"
            "[[sources]]\nname = \"bamboo\"\nscheme = \"bamboohr\"\nsecret_file = \"bamboo.key\"\n"
            "credentials_file = \"bamboo.api\"\napi_base_url = \"" +
            base +
            "/api/gateway.php/acme\"\napi_requests_per_second = 50\n"
            "[sources.mapping]\ntime_zone = \"Europe/Berlin\"\n"
            "[sources.mapping.organizations]\n"
            "external_id = { path = \"department\", lookup = { \"R&D\" = \"rnd\" }, "
            "lookup_default = \"staff\" }\nroles = [\"member\"]\n"
            "[[sources]]\nname = \"hs\"\nscheme = \"hubspot\"\nsecret_file = \"hs.key\"\n"
            "public_url = \"https://sync.example.com/webhooks/hs\"\n"
            "credentials_file = \"hs.api\"\napi_base_url = \"" +
            base + "\"\n");
  }

  void Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ + "/" + name) << content;
  }
  void Control(const std::string& path, const json& body) {
    auto r = client_->Post(path, body.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  void PutEmployee(const json& record) {
    Control(
        "/__sim/records",
        {{"vendor", "bamboohr"}, {"object", "person"}, {"id", record["id"]}, {"record", record}});
  }

  struct Run {
    int exit_code = -1;
    json out;
    std::string text;
  };
  // `tenantsync mapping test --fetch` on a payload; the JSON it prints, parsed.
  Run MappingTest(const std::string& source, const std::string& payload,
                  const std::string& content_type = "") {
    Write("payload", payload);
    std::vector<std::string> args = {"mapping",  "test", "--config",  dir_ + "/t.toml",
                                     "--source", source, "--payload", dir_ + "/payload",
                                     "--fetch"};
    if (!content_type.empty()) {
      args.push_back("--content-type");
      args.push_back(content_type);
    }
    Subprocess p(BuildPath("tenantsync"), args);
    Run r;
    r.exit_code = p.Wait(std::chrono::seconds(60)).value_or(-1);
    r.text = p.Output();
    auto brace = r.text.find('{');
    if (brace != std::string::npos) r.out = json::parse(r.text.substr(brace), nullptr, false);
    return r;
  }
  static std::string Event(const std::string& type, const std::string& id) {
    return json{{"type", type},
                {"timestamp", "2026-06-01T12:00:00+0000"},
                {"data", {{"companyId", "1"}, {"employeeId", id}, {"changedFields", {"status"}}}}}
        .dump();
  }
  static std::vector<std::string> Types(const json& notification) {
    std::vector<std::string> out;
    for (const auto& e : notification.value("events", json::array())) out.push_back(e["type"]);
    return out;
  }
  size_t ApiRequests() {
    auto r = client_->Get("/__sim/requests");
    return r ? json::parse(r->body).size() : 0;
  }

  std::string dir_;
  std::unique_ptr<Subprocess> sim_;
  int port_ = 0;
  std::unique_ptr<httplib::Client> client_;
};

const json kAda = {{"id", "67890"},
                   {"firstName", "Ada"},
                   {"lastName", "Lovelace"},
                   {"workEmail", "Ada@Example.com"},
                   {"status", "Active"},
                   {"department", "R&D"},
                   {"hireDate", "2020-01-01"},
                   {"terminationDate", "0000-00-00"}};

TEST_F(VendorsTest, BambooHrLifecycleThroughTheSimulatorsApi) {
  PutEmployee(kAda);
  auto created = MappingTest("bamboo", Event("employee.created", "67890"));
  ASSERT_EQ(created.exit_code, 0) << created.text;
  const auto& n = created.out["notifications"][0];
  EXPECT_TRUE(n["fetched"].get<bool>());
  EXPECT_EQ(Types(n), std::vector<std::string>{"user.upserted"});
  const auto& data = n["events"][0]["data"];
  EXPECT_EQ(data["email"], "ada@example.com");
  EXPECT_EQ(data["name"], "Ada Lovelace");
  EXPECT_EQ(data["organizations"], json::parse(R"([{"external_id":"rnd","roles":["member"]}])"));

  json renamed = kAda;
  renamed["firstName"] = "Augusta";
  PutEmployee(renamed);
  auto updated = MappingTest("bamboo", Event("employee.updated", "67890"));
  ASSERT_EQ(updated.exit_code, 0) << updated.text;
  EXPECT_EQ(updated.out["notifications"][0]["events"][0]["data"]["given_name"], "Augusta");

  json leaving = kAda;
  leaving["terminationDate"] = "2026-12-31";
  PutEmployee(leaving);
  auto notice = MappingTest("bamboo", Event("employee.updated", "67890"));
  ASSERT_EQ(notice.exit_code, 0) << notice.text;
  const auto& nn = notice.out["notifications"][0];
  ASSERT_EQ(Types(nn), (std::vector<std::string>{"user.upserted", "user.left"}));
  // The last day ends at midnight in Berlin: 2027-01-01T00:00+01:00.
  EXPECT_EQ(nn["events"][1]["data"]["effective_at"], "2026-12-31T23:00:00.000Z");
  EXPECT_EQ(nn["events"][1]["id_suffix"], "/user.left");

  json rehired = kAda;
  rehired["terminationDate"] = "2026-01-31";
  rehired["hireDate"] = "2026-05-01";
  PutEmployee(rehired);
  auto back = MappingTest("bamboo", Event("employee.updated", "67890"));
  ASSERT_EQ(back.exit_code, 0) << back.text;
  EXPECT_EQ(Types(back.out["notifications"][0]),
            (std::vector<std::string>{"user.upserted", "user.returned"}));

  // Deleted: no fetch (the record is gone), access ends through on_leave.
  const size_t before = ApiRequests();
  auto deleted = MappingTest("bamboo", "type=employee.deleted&data%5BemployeeId%5D=67890",
                             "application/x-www-form-urlencoded");
  ASSERT_EQ(deleted.exit_code, 0) << deleted.text;
  EXPECT_EQ(Types(deleted.out["notifications"][0]), std::vector<std::string>{"user.left"});
  EXPECT_EQ(ApiRequests(), before);
}

// What the connector keeps with an event (notification + fetched record) maps again without a
// fetch, to the same events, even after the vendor's record changed: a replay is repeatable.
TEST_F(VendorsTest, StoredEventMapsAgainWithoutFetching) {
  PutEmployee(kAda);
  auto first = MappingTest("bamboo", Event("employee.updated", "67890"));
  ASSERT_EQ(first.exit_code, 0) << first.text;
  const auto& n = first.out["notifications"][0];
  json stored = {{"notification", n["notification"]}, {"record", n["record"]}};
  json changed = kAda;
  changed["workEmail"] = "someone-else@example.com";
  PutEmployee(changed);
  Write("stored.json", stored.dump());
  const size_t before = ApiRequests();
  Subprocess p(BuildPath("tenantsync"),
               {"mapping", "test", "--config", dir_ + "/t.toml", "--source", "bamboo", "--payload",
                dir_ + "/stored.json", "--stored"});
  ASSERT_EQ(p.Wait(std::chrono::seconds(30)), 0) << p.Output();
  std::string text = p.Output();
  json again = json::parse(text.substr(text.find('{')), nullptr, false);
  EXPECT_EQ(again["notifications"][0]["events"], n["events"]);
  EXPECT_EQ(again["notifications"][0]["events"][0]["data"]["email"], "ada@example.com");
  EXPECT_EQ(ApiRequests(), before);
}

TEST_F(VendorsTest, HubSpotCompanyAndContact) {
  Control(
      "/__sim/records",
      {{"vendor", "hubspot"},
       {"object", "company"},
       {"id", "77"},
       {"record", {{"id", "77"}, {"properties", {{"name", "Acme Corp"}, {"domain", "acme.io"}}}}}});
  Control("/__sim/records", {{"vendor", "hubspot"},
                             {"object", "person"},
                             {"id", "123"},
                             {"record", json::parse(R"({"id":"123",
                               "properties":{"email":"ada@acme.io","firstname":"Ada"},
                               "associations":{"companies":{"results":[{"id":"77"}]}}})")}});
  auto r = MappingTest(
      "hs",
      R"([{"eventId":1,"portalId":62515,"occurredAt":1780315200000,"subscriptionType":"company.creation","objectId":77},
          {"eventId":2,"portalId":62515,"occurredAt":1780315200001,"subscriptionType":"contact.creation","objectId":123}])");
  ASSERT_EQ(r.exit_code, 0) << r.text;
  const auto& list = r.out["notifications"];
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["events"][0]["type"], "organization.upserted");
  EXPECT_EQ(list[0]["events"][0]["data"]["name"], "acme-io");
  EXPECT_EQ(list[1]["events"][0]["data"]["organizations"],
            json::parse(R"([{"external_id":"77"}])"));
}

TEST_F(VendorsTest, VendorApiFailuresAreRetriedOrReported) {
  PutEmployee(kAda);
  // Two 500s, then the record: retried with backoff.
  Control("/__sim/fail", {{"count", 2}, {"status", 500}});
  auto flaky = MappingTest("bamboo", Event("employee.updated", "67890"));
  ASSERT_EQ(flaky.exit_code, 0) << flaky.text;
  EXPECT_TRUE(flaky.out["notifications"][0]["fetched"].get<bool>());

  // A 429 with Retry-After: 1 is waited out.
  Control("/__sim/fail", {{"count", 1}, {"status", 429}, {"retry_after", 1}});
  auto start = std::chrono::steady_clock::now();
  auto limited = MappingTest("bamboo", Event("employee.updated", "67890"));
  ASSERT_EQ(limited.exit_code, 0) << limited.text;
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));

  // Failing for good: exit 1, the error names the vendor, the employee and the status.
  Control("/__sim/fail", {{"count", 100}, {"status", 503}});
  auto down = MappingTest("bamboo", Event("employee.updated", "67890"));
  EXPECT_EQ(down.exit_code, 1) << down.text;
  EXPECT_EQ(down.out["notifications"][0]["error"],
            "fetch: bamboohr person 67890: vendor error (HTTP 503)");
  Control("/__sim/fail", {{"count", 0}, {"status", 200}});

  // Refused credentials are not retried, and the key never shows.
  Write("bamboo.api", "wrong-key\n");
  auto refused = MappingTest("bamboo", Event("employee.updated", "67890"));
  EXPECT_EQ(refused.exit_code, 1) << refused.text;
  EXPECT_EQ(refused.out["notifications"][0]["error"],
            "fetch: bamboohr person 67890: the vendor refused the credentials (HTTP 401)");
  EXPECT_EQ(refused.text.find("wrong-key"), std::string::npos);
}

TEST_F(VendorsTest, UnfetchableWithoutFetchAndUnknownSources) {
  Write("payload", Event("employee.updated", "67890"));
  Subprocess p(BuildPath("tenantsync"), {"mapping", "test", "--config", dir_ + "/t.toml",
                                         "--source", "bamboo", "--payload", dir_ + "/payload"});
  EXPECT_EQ(p.Wait(std::chrono::seconds(30)), 1);
  EXPECT_NE(p.Output().find("record not fetched: employee.updated needs the person's record from "
                            "the vendor's API (use --fetch or --record FILE)"),
            std::string::npos)
      << p.Output();
  Subprocess q(BuildPath("tenantsync"), {"mapping", "test", "--config", dir_ + "/t.toml",
                                         "--source", "nope", "--payload", dir_ + "/payload"});
  EXPECT_EQ(q.Wait(std::chrono::seconds(30)), 2);
  EXPECT_NE(q.Output().find("unknown source \"nope\""), std::string::npos);
}

// ---- Through the daemon ----------------------------------------------------------------------

class VendorDaemonE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    vsim_ = std::make_unique<Subprocess>(BuildPath("vendor-sim"),
                                         std::vector<std::string>{"--port", "0"});
    vport_ = vsim_->WaitForPort();
    ASSERT_GT(vport_, 0) << vsim_->Output();
    vclient_ = std::make_unique<httplib::Client>("127.0.0.1", vport_);
    vclient_->set_read_timeout(60, 0);
    Control("/__sim/config", {{"vendor", "bamboohr"},
                              {"webhook_secret", "bamboo-private-key"},
                              {"api_credential", "bamboo-api-key"}});
    Control("/__sim/config", {{"vendor", "hubspot"},
                              {"webhook_secret", "hubspot-client-secret"},
                              {"api_credential", "pat-123"},
                              {"public_url", "https://sync.example.com/webhooks/hs"}});
    Control("/__sim/config", {{"vendor", "personio"},
                              {"webhook_secret", "personio-webhook-token-0123"},
                              {"api_credential", "client-id:client-secret"}});
    auth0_ = std::make_unique<testing::reconcile::Sim>();
    ASSERT_TRUE(auth0_->ok());
    const std::string base = "http://127.0.0.1:" + std::to_string(vport_);
    auto o = testing::reconcile::DaemonFor(*auth0_);
    testing::TestSource bamboo;
    bamboo.name = "bamboo";
    bamboo.scheme = "bamboohr";
    bamboo.secrets = {"bamboo-private-key"};
    bamboo.extra_toml = "credentials_file = \"bamboo.api\"\napi_base_url = \"" + base +
                        "/api/gateway.php/acme\"\napi_requests_per_second = 50\n";
    testing::TestSource hs;
    hs.name = "hs";
    hs.scheme = "hubspot";
    hs.secrets = {"hubspot-client-secret"};
    hs.extra_toml =
        "public_url = \"https://sync.example.com/webhooks/hs\"\n"
        "credentials_file = \"hs.api\"\napi_base_url = \"" +
        base + "\"\n";
    testing::TestSource bob;
    bob.name = "bob";
    bob.scheme = "hibob";
    bob.secrets = {"hibob-secret-token"};
    testing::TestSource pers;
    pers.name = "pers";
    pers.scheme = "personio";
    pers.secrets = {"personio-webhook-token-0123"};
    pers.extra_toml = "credentials_file = \"pers.api\"\napi_base_url = \"" + base + "\"\n";
    o.sources = {bamboo, hs, bob, pers};
    daemon_ = std::make_unique<testing::TestDaemon>(o);
    std::ofstream(daemon_->dir() + "/bamboo.api") << "bamboo-api-key\n";
    std::ofstream(daemon_->dir() + "/hs.api") << "pat-123\n";
    std::ofstream(daemon_->dir() + "/pers.api") << "client-id:client-secret\n";
    ASSERT_TRUE(daemon_->Start()) << daemon_->Output();
  }

  void Control(const std::string& path, const json& body) {
    auto r = vclient_->Post(path, body.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  // vendor-sim signs and posts a delivery to the daemon; the daemon's answer.
  json Send(json cmd) {
    const std::map<std::string, std::string> source = {
        {"bamboohr", "bamboo"}, {"hubspot", "hs"}, {"hibob", "bob"}, {"personio", "pers"}};
    cmd["url"] = "http://127.0.0.1:" + std::to_string(daemon_->ingress_port()) + "/webhooks/" +
                 source.at(cmd["vendor"].get<std::string>());
    auto r = vclient_->Post("/__sim/send", cmd.dump(), "application/json");
    EXPECT_TRUE(r);
    if (!r) return json();
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body, nullptr, false);
  }
  void PutEmployee(const json& record) {
    Control(
        "/__sim/records",
        {{"vendor", "bamboohr"}, {"object", "person"}, {"id", record["id"]}, {"record", record}});
  }
  int64_t Count(const std::string& sql) {
    SQLite::Database db(daemon_->db_path(), SQLite::OPEN_READONLY);
    db.setBusyTimeout(5000);
    SQLite::Statement q(db, sql);
    return q.executeStep() ? q.getColumn(0).getInt64() : -1;
  }
  // Until the connector stage has nothing pending, then until the writer has converged.
  void WaitApplied(int64_t scheduled = 0) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (Count("SELECT count(*) FROM vendor_notifications WHERE state = 'pending'") != 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(Count("SELECT count(*) FROM vendor_notifications WHERE state = 'pending'"), 0);
    testing::reconcile::WaitConverged(*daemon_, std::chrono::seconds(30), scheduled);
  }
  json User(const std::string& email) {
    auto users = testing::reconcile::Normalize(auth0_->State())["users"];
    return users.contains(email) ? users[email] : json();
  }
  size_t ApiRequests() {
    auto r = vclient_->Get("/__sim/requests");
    return r ? json::parse(r->body).size() : 0;
  }
  // BambooHR event ids hash the body, whose timestamp has one-second resolution: two deliveries
  // of the same event in one second would be one notification, as they would at BambooHR.
  static void NextSecond() { std::this_thread::sleep_for(std::chrono::milliseconds(1100)); }

  std::unique_ptr<Subprocess> vsim_;
  int vport_ = 0;
  std::unique_ptr<httplib::Client> vclient_;
  std::unique_ptr<testing::reconcile::Sim> auth0_;
  std::unique_ptr<testing::TestDaemon> daemon_;
};

TEST_F(VendorDaemonE2E, BambooHrProvisionsIntoAuth0WithConfigurationOnly) {
  json ada = {{"id", "67890"},
              {"firstName", "Ada"},
              {"lastName", "Lovelace"},
              {"workEmail", "Ada@Example.com"},
              {"status", "Active"},
              {"hireDate", "2020-01-01"},
              {"terminationDate", "0000-00-00"}};
  PutEmployee(ada);

  // A bad signature: 401, nothing stored.
  auto bad = Send({{"vendor", "bamboohr"},
                   {"event", "employee.created"},
                   {"ids", {"67890"}},
                   {"bad_signature", true}});
  EXPECT_EQ(bad["status"], 401) << bad.dump();
  EXPECT_EQ(Count("SELECT count(*) FROM vendor_notifications"), 0);

  // Created: stored before the answer, fetched, mapped, provisioned.
  auto created = Send({{"vendor", "bamboohr"}, {"event", "employee.created"}, {"ids", {"67890"}}});
  EXPECT_EQ(created["status"], 202) << created.dump();
  WaitApplied();
  json user = User("ada@example.com");
  ASSERT_TRUE(user.is_object()) << auth0_->State().dump();
  EXPECT_EQ(user["name"], "Ada Lovelace");
  EXPECT_EQ(user["blocked"], false);

  // The same delivery again (BambooHR retrying it): a duplicate, one notification, one event.
  auto replayed = Send({{"vendor", "bamboohr"}, {"event", "employee.created"}, {"replay", true}});
  EXPECT_EQ(replayed["status"], 200) << replayed.dump();
  const json answer = replayed["body"].is_string()
                          ? json::parse(replayed["body"].get<std::string>(), nullptr, false)
                          : replayed["body"];
  EXPECT_EQ(answer["status"], "duplicate") << replayed.dump();
  EXPECT_EQ(Count("SELECT count(*) FROM vendor_notifications"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM events WHERE source = 'bamboo'"), 1);

  // Terminated with a date a few seconds ahead: scheduled, blocked once it is reached (on_leave).
  NextSecond();
  auto leaves_at = std::chrono::system_clock::now() + std::chrono::seconds(8);
  json leaving = ada;
  leaving["terminationDate"] =
      testing::reconcile::FromNow(8);  // RFC 3339: the mapping reads a date or a date-time
  PutEmployee(leaving);
  auto notice = Send({{"vendor", "bamboohr"}, {"event", "employee.updated"}, {"ids", {"67890"}}});
  EXPECT_EQ(notice["status"], 202) << notice.dump();
  WaitApplied(/*scheduled=*/1);
  EXPECT_EQ(Count("SELECT count(*) FROM events WHERE source = 'bamboo' AND type = 'user.left' "
                  "AND effective_at_ms IS NOT NULL"),
            1);
  if (std::chrono::system_clock::now() < leaves_at) {
    EXPECT_EQ(User("ada@example.com")["blocked"], false) << "blocked before the date";
  }
  std::this_thread::sleep_until(leaves_at + std::chrono::milliseconds(500));
  WaitApplied();
  EXPECT_EQ(User("ada@example.com")["blocked"], true);

  // Rehired: a hire date after the termination; the vendor API fails for a while meanwhile
  // (5 answers of 500: every in-fetch retry of the first attempt), then recovers.
  NextSecond();
  json rehired = ada;
  rehired["terminationDate"] = leaving["terminationDate"];
  rehired["hireDate"] = testing::reconcile::FromNow(0);
  rehired["firstName"] = "Augusta";
  PutEmployee(rehired);
  Control("/__sim/fail", {{"count", 5}, {"status", 500}});
  const size_t before = ApiRequests();
  auto back = Send({{"vendor", "bamboohr"}, {"event", "employee.updated"}, {"ids", {"67890"}}});
  EXPECT_EQ(back["status"], 202) << back.dump() << " (answered before any fetch)";
  WaitApplied();
  EXPECT_GE(ApiRequests(), before + 6) << "5 failed fetches, then the one that worked";
  user = User("ada@example.com");
  EXPECT_EQ(user["blocked"], false) << user.dump();
  EXPECT_EQ(user["given_name"], "Augusta");

  // BambooHR's form-encoded post passes the content-type check and is handled the same way.
  NextSecond();
  rehired["lastName"] = "King";
  PutEmployee(rehired);
  auto form = Send(
      {{"vendor", "bamboohr"}, {"event", "employee.updated"}, {"ids", {"67890"}}, {"form", true}});
  EXPECT_EQ(form["status"], 202) << form.dump();
  WaitApplied();
  EXPECT_EQ(User("ada@example.com")["family_name"], "King");
  EXPECT_EQ(Count("SELECT count(*) FROM vendor_notifications WHERE state = 'mapped'"), 4);
}

TEST_F(VendorDaemonE2E, HubSpotCompanyAndContact) {
  Control(
      "/__sim/records",
      {{"vendor", "hubspot"},
       {"object", "company"},
       {"id", "77"},
       {"record", {{"id", "77"}, {"properties", {{"name", "Acme Corp"}, {"domain", "acme.io"}}}}}});
  Control("/__sim/records", {{"vendor", "hubspot"},
                             {"object", "person"},
                             {"id", "123"},
                             {"record", json::parse(R"({"id":"123",
                               "properties":{"email":"ada@acme.io","firstname":"Ada"},
                               "associations":{"companies":{"results":[{"id":"77"}]}}})")}});
  auto company = Send({{"vendor", "hubspot"}, {"event", "company.creation"}, {"ids", {"77"}}});
  EXPECT_EQ(company["status"], 202) << company.dump();
  WaitApplied();
  auto contact = Send({{"vendor", "hubspot"}, {"event", "contact.creation"}, {"ids", {"123"}}});
  EXPECT_EQ(contact["status"], 202) << contact.dump();
  WaitApplied();
  auto tenant = testing::reconcile::Normalize(auth0_->State());
  ASSERT_TRUE(tenant["organizations"].contains("acme-io")) << tenant.dump();
  EXPECT_EQ(tenant["organizations"]["acme-io"]["display_name"], "Acme Corp");
  EXPECT_TRUE(tenant["organizations"]["acme-io"]["members"].contains("ada@acme.io"))
      << tenant.dump();
  EXPECT_EQ(tenant["users"]["ada@acme.io"]["given_name"], "Ada");
}

// HiBob's connection test is answered 200 and stores nothing; Personio's static token is checked
// and its dataless person/employment events are fetched (token exchange) and applied.
TEST_F(VendorDaemonE2E, HiBobPingAndPersonioLifecycle) {
  httplib::Client daemon("127.0.0.1", daemon_->ingress_port());
  for (auto [body, type] : std::vector<std::pair<std::string, std::string>>{
           {"Ping test", "text/plain"}, {R"({"text":"Ping test"})", "application/json"}}) {
    auto ping = daemon.Post("/webhooks/bob", body, type);
    ASSERT_TRUE(ping);
    EXPECT_EQ(ping->status, 200) << ping->body;
    EXPECT_EQ(json::parse(ping->body)["status"], "ok");
  }
  auto forged =
      daemon.Post("/webhooks/pers", R"({"event_name":"person.created"})", "application/json");
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 401) << forged->body;
  EXPECT_EQ(Count("SELECT count(*) FROM vendor_notifications"), 0);

  json grace = {{"id", "501"},
                {"email", "Grace@Example.com"},
                {"first_name", "Grace"},
                {"last_name", "Hopper"},
                {"status", "ACTIVE"}};
  Control("/__sim/records",
          {{"vendor", "personio"}, {"object", "person"}, {"id", "501"}, {"record", grace}});
  auto created = Send({{"vendor", "personio"}, {"event", "person.created"}, {"ids", {"501"}}});
  EXPECT_EQ(created["status"], 202) << created.dump();
  WaitApplied();
  EXPECT_EQ(User("grace@example.com")["blocked"], false) << auth0_->State().dump();

  grace["status"] = "INACTIVE";
  Control("/__sim/records",
          {{"vendor", "personio"}, {"object", "person"}, {"id", "501"}, {"record", grace}});
  auto left = Send({{"vendor", "personio"}, {"event", "employment.terminated"}, {"ids", {"501"}}});
  EXPECT_EQ(left["status"], 202) << left.dump();
  WaitApplied();
  EXPECT_EQ(User("grace@example.com")["blocked"], true);
}

// A notification the vendor refuses to serve (credentials rotated at the vendor) is failed and
// visible to the operator — admin API, status counts, CLI — and, once the credentials match
// again, a replay fetches and applies it.
TEST_F(VendorDaemonE2E, FailedNotificationIsListedAndReplayedAfterTheFix) {
  const json grace = {{"id", "31337"},
                      {"firstName", "Grace"},
                      {"lastName", "Hopper"},
                      {"workEmail", "grace@example.com"},
                      {"status", "Active"}};
  // The vendor now expects another API key: the daemon's is refused (401, not retried).
  Control("/__sim/config", {{"vendor", "bamboohr"},
                            {"webhook_secret", "bamboo-private-key"},
                            {"api_credential", "rotated-api-key"}});
  PutEmployee(grace);
  auto sent = Send({{"vendor", "bamboohr"}, {"event", "employee.created"}, {"ids", {"31337"}}});
  EXPECT_EQ(sent["status"], 202) << sent.dump();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (Count("SELECT count(*) FROM vendor_notifications WHERE state = 'failed'") != 1 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  auto listed = daemon_->AdminGet("/v1/vendor-notifications?state=failed&source=bamboo");
  ASSERT_EQ(listed.status, 200) << listed.body;
  const json rows = listed.Json()["vendor_notifications"];
  ASSERT_EQ(rows.size(), 1u) << listed.body;
  const std::string id = rows[0]["event_id"].get<std::string>();
  EXPECT_EQ(rows[0]["state"], "failed");
  EXPECT_NE(rows[0]["error"].get<std::string>().find("refused the credentials (HTTP 401)"),
            std::string::npos)
      << rows[0].dump();
  EXPECT_EQ(listed.body.find("bamboo-api-key"), std::string::npos) << "no secret in answers";
  EXPECT_EQ(daemon_->AdminGet("/v1/vendor-notifications?state=mapped")
                .Json()["vendor_notifications"]
                .size(),
            0u);
  EXPECT_EQ(daemon_->AdminGet("/v1/vendor-notifications?state=done").status, 400);
  // One notification in full: the row and what was stored of the vendor's delivery.
  auto one = daemon_->AdminGet("/v1/vendor-notifications/bamboo/" + id);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.Json()["state"], "failed") << one.body;
  EXPECT_EQ(one.Json()["stored"]["notification"]["vendor_event"], "employee.created") << one.body;
  EXPECT_TRUE(one.Json()["stored"]["record"].is_null()) << "nothing was fetched: " << one.body;
  EXPECT_EQ(one.body.find("bamboo-api-key"), std::string::npos) << "no secret in answers";
  EXPECT_EQ(daemon_->AdminGet("/v1/vendor-notifications/bamboo/no-such-id").status, 404);
  auto status = daemon_->AdminGet("/v1/status").Json();
  EXPECT_EQ(status["vendor_notifications"]["failed"], 1) << status.dump();
  EXPECT_EQ(status["vendor_notifications"]["pending"], 0) << status.dump();
  EXPECT_FALSE(User("grace@example.com").is_object()) << "nothing applied";

  // The CLI shows the same row (the admin port is chosen at run time: --admin).
  const std::string admin = "127.0.0.1:" + std::to_string(daemon_->admin_port());
  Subprocess cli(BuildPath("tenantsync"), {"vendor-notifications", "--state", "failed", "--config",
                                           daemon_->config_path(), "--admin", admin});
  EXPECT_EQ(cli.Wait(std::chrono::seconds(30)).value_or(-1), 0) << cli.Output();
  EXPECT_NE(cli.Output().find(id), std::string::npos) << cli.Output();
  EXPECT_NE(cli.Output().find("HTTP 401"), std::string::npos) << cli.Output();

  // Unknown rows are 404; a replay before the fix fails again the same way.
  EXPECT_EQ(daemon_->AdminPost("/v1/vendor-notifications/bamboo/no-such-id/replay").status, 404);
  EXPECT_EQ(daemon_->AdminPost("/v1/vendor-notifications/nosource/" + id + "/replay").status, 404);

  // The operator fixes the credentials at the vendor and replays through the CLI.
  Control("/__sim/config", {{"vendor", "bamboohr"},
                            {"webhook_secret", "bamboo-private-key"},
                            {"api_credential", "bamboo-api-key"}});
  PutEmployee(grace);
  Subprocess replay(BuildPath("tenantsync"),
                    {"vendor-notifications", "replay", "bamboo", id, "--config",
                     daemon_->config_path(), "--admin", admin});
  EXPECT_EQ(replay.Wait(std::chrono::seconds(30)).value_or(-1), 0) << replay.Output();
  EXPECT_NE(replay.Output().find("pending again"), std::string::npos) << replay.Output();
  WaitApplied();
  EXPECT_EQ(User("grace@example.com")["name"], "Grace Hopper") << auth0_->State().dump();
  status = daemon_->AdminGet("/v1/status").Json();
  EXPECT_EQ(status["vendor_notifications"]["failed"], 0)
      << daemon_->AdminGet("/v1/vendor-notifications").body;
  auto mapped = daemon_->AdminGet("/v1/vendor-notifications?state=mapped").Json();
  ASSERT_EQ(mapped["vendor_notifications"].size(), 1u) << mapped.dump();
  EXPECT_EQ(mapped["vendor_notifications"][0]["event_id"], id);
  EXPECT_EQ(mapped["vendor_notifications"][0]["events"], 1);
  // Mapped: its events are in the inbox; the notification itself is not replayed again.
  auto again = daemon_->AdminPost("/v1/vendor-notifications/bamboo/" + id + "/replay");
  EXPECT_EQ(again.status, 409) << again.body;
}

// Answered 202 means stored: a notification whose fetch keeps failing survives a crash (SIGKILL)
// and is fetched and applied once the daemon is back and the vendor's API recovers.
TEST_F(VendorDaemonE2E, AcknowledgedNotificationSurvivesACrash) {
  PutEmployee({{"id", "4242"},
               {"firstName", "Alan"},
               {"lastName", "Turing"},
               {"workEmail", "alan@example.com"},
               {"status", "Active"}});
  Control("/__sim/fail", {{"count", 1000}, {"status", 503}});
  auto sent = Send({{"vendor", "bamboohr"}, {"event", "employee.created"}, {"ids", {"4242"}}});
  EXPECT_EQ(sent["status"], 202) << sent.dump();
  EXPECT_EQ(Count("SELECT count(*) FROM vendor_notifications WHERE state = 'pending'"), 1);
  daemon_->Stop(SIGKILL);
  Control("/__sim/fail", {{"count", 0}, {"status", 200}});
  ASSERT_TRUE(daemon_->Start()) << daemon_->Output();
  WaitApplied();
  EXPECT_EQ(User("alan@example.com")["name"], "Alan Turing") << auth0_->State().dump();
  EXPECT_EQ(Count("SELECT count(*) FROM vendor_notifications WHERE state = 'mapped'"), 1);
}

}  // namespace
}  // namespace tenantsync
