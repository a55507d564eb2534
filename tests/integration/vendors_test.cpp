// Vendor connectors end to end with real processes (issue 18 "Tests"; the coverage matrix is in
// docs/CONNECTORS.md "Tests").
//
// VendorsTest: vendor-sim plays all four vendors (their APIs and records), and `tenantsync mapping
// test --fetch` decodes a delivery, fetches the record over HTTP through the production
// HttpVendorApi (rate limit, retries, Retry-After, Personio's token exchange) and maps it with the
// source's configured mapping. One lifecycle table per connector: created, updated, terminated
// with a future date (as each vendor reports it), rehired, deleted — the events each delivery
// becomes, with the leave's effective_at; and each vendor's API failing (5xx retried, 429 waited
// out, refused credentials reported with the vendor's error).
//
// VendorDaemonE2E: deliveries through a real `tenantsync serve` into a real auth0-sim, with
// configuration only: vendor-sim signs and posts the webhooks, the daemon's ingress verifies and
// stores them, its connector stage fetches the record from vendor-sim and maps it, the writer
// provisions Auth0 (BambooHR: created, terminated at a date, rehired, bad signature, replayed
// delivery, the vendor API failing then recovering, a form post; a HubSpot company and contact;
// HiBob's ping; Personio's token and lifecycle; for HubSpot, HiBob and Personio a bad signature,
// the API refusing the credentials then a replay, and a replayed delivery; a notification
// acknowledged while the vendor's API is down survives a SIGKILL).
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <csignal>
#include <fstream>
#include <functional>
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
    Control("/__sim/config", {{"vendor", "hibob"},
                              {"webhook_secret", "hibob-secret-token"},
                              {"api_credential", "svc-user:bob-token"}});
    Control("/__sim/config", {{"vendor", "personio"},
                              {"webhook_secret", "personio-webhook-token-0123"},
                              {"api_credential", "client-id:client-secret"}});
    Write("admin-token", "an-admin-token-of-enough-length\n");
    Write("auth0-client-secret", "client-secret\n");
    Write("bamboo.key", "bamboo-private-key\n");
    Write("bamboo.api", "bamboo-api-key\n");
    Write("hs.key", "hubspot-client-secret\n");
    Write("hs.api", "pat-123\n");
    Write("bob.key", "hibob-secret-token\n");
    Write("bob.api", "svc-user:bob-token\n");
    Write("pers.key", "personio-webhook-token-0123\n");
    Write("pers.api", "client-id:client-secret\n");
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
            base +
            "\"\n"
            // HiBob's site is in Berlin: its lifecycle events fire at midnight there.
            "[[sources]]\nname = \"bob\"\nscheme = \"hibob\"\nsecret_file = \"bob.key\"\n"
            "credentials_file = \"bob.api\"\napi_base_url = \"" +
            base +
            "\"\napi_requests_per_second = 50\n"
            "[sources.mapping]\ntime_zone = \"Europe/Berlin\"\n"
            "[[sources]]\nname = \"pers\"\nscheme = \"personio\"\nsecret_file = \"pers.key\"\n"
            "credentials_file = \"pers.api\"\napi_base_url = \"" +
            base + "\"\napi_requests_per_second = 50\n");
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
  // The vendor's record of a person or company (null: the vendor has none).
  void PutRecord(const std::string& vendor, const std::string& object, const std::string& id,
                 const json& record) {
    Control("/__sim/records",
            {{"vendor", vendor}, {"object", object}, {"id", id}, {"record", record}});
  }

  // One row of a connector's lifecycle table: the vendor's record at the time, the delivery,
  // and what a user would see — the events it becomes (with the leave's effective_at) and
  // whether the vendor's API was asked.
  struct LifecycleCase {
    LifecycleCase(std::string name_, std::string object_, std::string id_, json record_,
                  std::string payload_, std::vector<std::string> want_types_,
                  json want_left_at_ = nullptr, bool want_fetched_ = true,
                  json want_first_ = json())
        : name(std::move(name_)),
          object(std::move(object_)),
          id(std::move(id_)),
          record(std::move(record_)),
          payload(std::move(payload_)),
          want_types(std::move(want_types_)),
          want_left_at(std::move(want_left_at_)),
          want_fetched(want_fetched_),
          want_first(std::move(want_first_)) {}
    std::string name;
    std::string object;  // the record's kind at the vendor: "person" or "company"
    std::string id;
    json record;          // null: nothing at the vendor (deleted)
    std::string payload;  // the delivery's body
    std::vector<std::string> want_types;
    json want_left_at;  // the user.left's effective_at, or null for "at once"
    bool want_fetched;
    json want_first;  // fields the first event's data must carry
  };

  void RunLifecycle(const std::string& source, const std::string& vendor,
                    const std::vector<LifecycleCase>& cases) {
    for (const auto& c : cases) {
      PutRecord(vendor, c.object, c.id, c.record);
      const size_t before = ApiRequests();
      auto r = MappingTest(source, c.payload);
      ASSERT_EQ(r.exit_code, 0) << c.name << ": " << r.text;
      ASSERT_EQ(r.out["notifications"].size(), 1u) << c.name << ": " << r.text;
      const json& n = r.out["notifications"][0];
      EXPECT_EQ(Types(n), c.want_types) << c.name << ": " << n.dump();
      EXPECT_EQ(n["fetched"].get<bool>(), c.want_fetched) << c.name;
      EXPECT_EQ(ApiRequests() > before, c.want_fetched) << c.name;
      for (const auto& e : n.value("events", json::array())) {
        EXPECT_EQ(e["data"]["external_id"], c.id) << c.name;
        if (e["type"] != "user.left") continue;
        if (c.want_left_at.is_null()) {
          EXPECT_FALSE(e["data"].contains("effective_at")) << c.name << ": " << e.dump();
        } else {
          EXPECT_EQ(e["data"].value("effective_at", json()), c.want_left_at) << c.name;
        }
      }
      if (c.want_first.is_object() && !n["events"].empty()) {
        for (const auto& [k, v] : c.want_first.items())
          EXPECT_EQ(n["events"][0]["data"].value(k, json()), v) << c.name << ": " << k;
      }
    }
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

// ---- The lifecycle of each connector, table-driven through `mapping test --fetch` -------------
// What "terminated with a future date" means per vendor (docs/CONNECTORS.md, "Tests"):
//  - BambooHR: employee.updated while the record holds a termination date ahead (above).
//  - HiBob: lifecycle events (employee.left) fire at midnight of the effective date in the site's
//    time zone, so the case is the event arriving on the day; a record that already holds a
//    termination date ahead (any update before the day) schedules the leave for it.
//  - Personio: a termination entered ahead arrives as employment.updated with the date in the
//    record; employment.terminated then fires on the effective date.
//  - HubSpot: contacts have no employment and no end date: not applicable (deletion acts at once).

// 2026-06-30T22:00Z is midnight of 1 July in Berlin, the HiBob site's zone (fixture).
std::string BobEvent(const std::string& type, const std::string& id, const std::string& data = "") {
  return R"({"companyId":636192,"type":")" + type +
         R"(","triggeredBy":"system","triggeredAt":"2026-06-30T22:00:00.000000","version":"v2","data":{"employeeId":")" +
         id + "\"" + data + "}}";
}

TEST_F(VendorsTest, HiBobLifecycleThroughTheSimulatorsApi) {
  const json grace = {{"id", "42"},
                      {"email", "Grace@Example.com"},
                      {"firstName", "Grace"},
                      {"surname", "Hopper"},
                      {"displayName", "Grace Hopper"},
                      {"work", {{"department", "R&D"}, {"startDate", "2020-01-01"}}},
                      {"internal", {{"status", "Active"}, {"terminationDate", nullptr}}}};
  json renamed = grace;
  renamed["firstName"] = "Amazing";
  json notice = grace;
  notice["internal"]["terminationDate"] = "2026-12-31";
  json left_today = grace;
  left_today["internal"] = {{"status", "Inactive"}, {"terminationDate", "2026-07-01"}};
  json left_before = grace;
  left_before["internal"] = {{"status", "Inactive"}, {"terminationDate", "2026-06-30"}};
  json rehired = grace;
  rehired["work"]["startDate"] = "2026-07-01";
  rehired["internal"]["terminationDate"] = "2025-03-31";
  const std::string changed = R"(,"fieldUpdates":[{"fieldId":"root.firstName"}])";
  RunLifecycle(
      "bob", "hibob",
      {{"created",
        "person",
        "42",
        grace,
        BobEvent("employee.created", "42"),
        {"user.upserted"},
        nullptr,
        true,
        {{"email", "grace@example.com"}, {"name", "Grace Hopper"}}},
       {"updated",
        "person",
        "42",
        renamed,
        BobEvent("employee.updated", "42", changed),
        {"user.upserted"},
        nullptr,
        true,
        {{"given_name", "Amazing"}}},
       // Any notification before the day fetches a record that already says when she leaves.
       {"termination date ahead in the record",
        "person",
        "42",
        notice,
        BobEvent("employee.updated", "42", changed),
        {"user.upserted", "user.left"},
        "2026-12-31T23:00:00.000Z"},
       // employee.left at midnight of the termination date: access ends when that day ends in
       // the site's zone (HiBob: no access after the termination date; at = end_of_day).
       {"terminated: employee.left on the day",
        "person",
        "42",
        left_today,
        BobEvent("employee.left", "42"),
        {"user.upserted", "user.left"},
        "2026-07-01T22:00:00.000Z"},
       {"terminated: employee.left with the date behind",
        "person",
        "42",
        left_before,
        BobEvent("employee.left", "42"),
        {"user.upserted", "user.left"},
        nullptr},
       {"rehired: employee.joined on the new start date",
        "person",
        "42",
        rehired,
        BobEvent("employee.joined", "42"),
        {"user.upserted", "user.returned"},
        nullptr},
       {"activated after a leave",
        "person",
        "42",
        grace,
        BobEvent("employee.activated", "42"),
        {"user.upserted", "user.returned"},
        nullptr},
       {"deleted",
        "person",
        "42",
        nullptr,
        BobEvent("employee.deleted", "42"),
        {"user.left"},
        nullptr,
        false}});
}

std::string PersonioEvent(const std::string& type, const std::string& id,
                          const std::string& extra = "") {
  const std::string payload = type.rfind("person.", 0) == 0
                                  ? R"({"id":")" + id + "\"" + extra + "}"
                                  : R"({"id":"emp-)" + id + R"(","person_id":")" + id + "\"}";
  return R"({"company_id":"9","event_name":")" + type +
         R"(","occurred_at":"2026-07-01T00:05:00Z","payload":)" + payload + R"(,"meta":{}})";
}

TEST_F(VendorsTest, PersonioLifecycleThroughTheSimulatorsApi) {
  const json grace = {
      {"id", "501"},
      {"email", "Grace@Example.com"},
      {"first_name", "Grace"},
      {"last_name", "Hopper"},
      {"status", "ACTIVE"},
      {"employments",
       {{{"status", "ACTIVE"}, {"start_date", "2020-01-01"}, {"termination_date", nullptr}}}}};
  json renamed = grace;
  renamed["preferred_name"] = "Amazing";
  json notice = grace;
  notice["employments"][0]["termination_date"] = "2026-12-31";
  json terminated = grace;
  terminated["status"] = "INACTIVE";
  terminated["employments"][0]["status"] = "INACTIVE";
  terminated["employments"][0]["termination_date"] = "2026-07-01";
  json rehired = grace;
  rehired["employments"][0]["start_date"] = "2026-07-01";
  RunLifecycle(
      "pers", "personio",
      {{"created",
        "person",
        "501",
        grace,
        PersonioEvent("person.created", "501"),
        {"user.upserted"},
        nullptr,
        true,
        {{"email", "grace@example.com"}, {"name", "Grace Hopper"}}},
       {"updated",
        "person",
        "501",
        renamed,
        PersonioEvent("person.updated", "501", R"(,"changed_attributes":["preferred_name"])"),
        {"user.upserted"},
        nullptr,
        true,
        {{"given_name", "Amazing"}}},
       // Entered ahead: the employment changes now, the leave is scheduled for the date (UTC).
       {"terminated with a future date",
        "person",
        "501",
        notice,
        PersonioEvent("employment.updated", "501"),
        {"user.upserted", "user.left"},
        "2027-01-01T00:00:00.000Z"},
       // employment.terminated fires on the effective date: access ends when that day ends.
       {"terminated: employment.terminated on the day",
        "person",
        "501",
        terminated,
        PersonioEvent("employment.terminated", "501"),
        {"user.upserted", "user.left"},
        "2026-07-02T00:00:00.000Z"},
       {"rehired: employment.started",
        "person",
        "501",
        rehired,
        PersonioEvent("employment.started", "501"),
        {"user.upserted", "user.returned"},
        nullptr},
       {"deleted",
        "person",
        "501",
        nullptr,
        PersonioEvent("person.deleted", "501"),
        {"user.left"},
        nullptr,
        false}});
}

std::string HubSpotEvent(const std::string& type, const std::string& id,
                         const std::string& extra = "") {
  return R"([{"eventId":7,"portalId":62515,"occurredAt":1780315200000,"subscriptionType":")" +
         type + R"(","objectId":)" + id + extra + "}]";
}

// HubSpot is a CRM: companies become organizations, contacts users; a restored contact is the
// nearest thing to a rehire, and nothing carries an end date ("terminated with a future date"
// does not apply).
TEST_F(VendorsTest, HubSpotCompaniesAndContactsThroughTheSimulatorsApi) {
  const json acme = {{"id", "77"}, {"properties", {{"name", "Acme Corp"}, {"domain", "acme.io"}}}};
  json renamed_co = acme;
  renamed_co["properties"]["name"] = "Acme Corporation";
  const json ada = json::parse(R"({"id":"123",
      "properties":{"email":"Ada@Acme.io","firstname":"Ada","lastname":"Lovelace"},
      "associations":{"companies":{"results":[{"id":"77"}]}}})");
  json moved = ada;
  moved["properties"]["email"] = "ada.l@acme.io";
  RunLifecycle(
      "hs", "hubspot",
      {{"company created",
        "company",
        "77",
        acme,
        HubSpotEvent("company.creation", "77"),
        {"organization.upserted"},
        nullptr,
        true,
        {{"name", "acme-io"}, {"display_name", "Acme Corp"}}},
       {"company updated",
        "company",
        "77",
        renamed_co,
        HubSpotEvent("company.propertyChange", "77",
                     R"(,"propertyName":"name","propertyValue":"Acme Corporation")"),
        {"organization.upserted"},
        nullptr,
        true,
        {{"display_name", "Acme Corporation"}}},
       {"company deleted",
        "company",
        "77",
        nullptr,
        HubSpotEvent("company.deletion", "77"),
        {"organization.deleted"},
        nullptr,
        false},
       {"contact created",
        "person",
        "123",
        ada,
        HubSpotEvent("contact.creation", "123"),
        {"user.upserted"},
        nullptr,
        true,
        {{"email", "ada@acme.io"}, {"organizations", json::parse(R"([{"external_id":"77"}])")}}},
       {"contact updated",
        "person",
        "123",
        moved,
        HubSpotEvent("contact.propertyChange", "123",
                     R"(,"propertyName":"email","propertyValue":"ada.l@acme.io")"),
        {"user.upserted"},
        nullptr,
        true,
        {{"email", "ada.l@acme.io"}}},
       {"contact restored (rehire)",
        "person",
        "123",
        ada,
        HubSpotEvent("contact.restore", "123"),
        {"user.upserted", "user.returned"},
        nullptr},
       {"contact deleted",
        "person",
        "123",
        nullptr,
        HubSpotEvent("contact.deletion", "123"),
        {"user.left"},
        nullptr,
        false},
       {"contact deleted for privacy (GDPR)",
        "person",
        "123",
        nullptr,
        HubSpotEvent("contact.privacyDeletion", "123"),
        {"user.left"},
        nullptr,
        false}});
}

// Each vendor's API failing, through the production fetch: a short outage is retried inside the
// fetch, a throttled Personio token exchange is waited out, and refused credentials are reported
// at once with the vendor, the object and the status (never the credential).
TEST_F(VendorsTest, EachVendorsApiFailingIsRetriedOrReported) {
  PutRecord("hibob", "person", "42", {{"id", "42"}, {"email", "g@example.com"}});
  PutRecord("personio", "person", "501", {{"id", "501"}, {"email", "g@example.com"}});
  PutRecord("hubspot", "person", "123", {{"id", "123"}, {"properties", {{"email", "g@x.io"}}}});
  struct Case {
    std::string source, vendor, payload, refused;
    json config;
  };
  const std::vector<Case> cases = {
      {"bob",
       "hibob",
       BobEvent("employee.updated", "42"),
       "fetch: hibob person 42: the vendor refused the credentials (HTTP 401)",
       {{"webhook_secret", "hibob-secret-token"}, {"api_credential", "svc-user:bob-token"}}},
      {"pers",
       "personio",
       PersonioEvent("person.updated", "501"),
       "fetch: personio token: the vendor refused the credentials (HTTP 401)",
       {{"webhook_secret", "personio-webhook-token-0123"},
        {"api_credential", "client-id:client-secret"}}},
      {"hs",
       "hubspot",
       HubSpotEvent("contact.propertyChange", "123"),
       "fetch: hubspot contact 123: the vendor refused the credentials (HTTP 401)",
       {{"webhook_secret", "hubspot-client-secret"}, {"api_credential", "pat-123"}}},
  };
  for (const auto& c : cases) {
    // One 503, then the record: retried inside the fetch.
    Control("/__sim/fail", {{"count", 1}, {"status", 503}});
    auto flaky = MappingTest(c.source, c.payload);
    ASSERT_EQ(flaky.exit_code, 0) << c.vendor << ": " << flaky.text;
    EXPECT_TRUE(flaky.out["notifications"][0]["fetched"].get<bool>()) << c.vendor;

    // The vendor no longer takes the credential: exit 1 and the vendor's refusal, no retries.
    json rotated = c.config;
    rotated["vendor"] = c.vendor;
    rotated["api_credential"] = "rotated:credential";
    Control("/__sim/config", rotated);
    const size_t before = ApiRequests();
    auto refused = MappingTest(c.source, c.payload);
    EXPECT_EQ(refused.exit_code, 1) << c.vendor << ": " << refused.text;
    EXPECT_EQ(refused.out["notifications"][0]["error"], c.refused) << c.vendor;
    EXPECT_EQ(ApiRequests(), before + 1) << c.vendor << ": a refusal is not retried";
    json restored = c.config;
    restored["vendor"] = c.vendor;
    Control("/__sim/config", restored);
  }
  // Personio throttling its token exchange (429, Retry-After: 1): waited out, then fetched.
  Control("/__sim/fail", {{"count", 1}, {"status", 429}, {"retry_after", 1}});
  auto throttled = MappingTest("pers", PersonioEvent("person.updated", "501"));
  ASSERT_EQ(throttled.exit_code, 0) << throttled.text;
  EXPECT_TRUE(throttled.out["notifications"][0]["fetched"].get<bool>());
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
    Control("/__sim/config", {{"vendor", "hibob"},
                              {"webhook_secret", "hibob-secret-token"},
                              {"api_credential", "svc-user:bob-token"}});
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
    bob.extra_toml = "credentials_file = \"bob.api\"\napi_base_url = \"" + base +
                     "\"\napi_requests_per_second = 50\n";
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
    std::ofstream(daemon_->dir() + "/bob.api") << "svc-user:bob-token\n";
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
  // While the vendor fails: pending, one attempt, the vendor's error, a next try scheduled.
  json waiting;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(std::chrono::milliseconds(50))) {
    auto rows = daemon_->AdminGet("/v1/vendor-notifications?state=pending&source=bamboo")
                    .Json()["vendor_notifications"];
    if (rows.size() == 1 && rows[0]["attempts"] == 1) waiting = rows[0];
    if (waiting.is_object() || ApiRequests() > before + 5) break;
  }
  ASSERT_TRUE(waiting.is_object()) << "never seen waiting for a retry";
  EXPECT_EQ(waiting["error"], "bamboohr person 67890: vendor error (HTTP 500)");
  EXPECT_TRUE(waiting["next_at_ms"].is_number_integer()) << waiting.dump();
  EXPECT_EQ(daemon_->AdminGet("/v1/status").Json()["vendor_notifications"]["pending"], 1);
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

// The daemon's part of each other connector, one vendor after another on one daemon: a bad
// signature is 401 and nothing is stored; the vendor's API refusing the credentials leaves the
// notification failed with the vendor's error (nothing applied) until the operator replays it
// after the fix; a delivery sent again (the vendor retrying it) is a duplicate: one notification,
// the same events, one user.
TEST_F(VendorDaemonE2E, EachVendorsBadSignatureApiFailureAndReplay) {
  struct Case {
    std::string vendor, source, created_event, object_error;
    json config;  // the sim's settings for the vendor
    std::function<json(const std::string&, const std::string&)> record;  // (id, email)
  };
  const std::vector<Case> cases = {
      {"hubspot",
       "hs",
       "contact.creation",
       "hubspot contact 201",
       {{"webhook_secret", "hubspot-client-secret"},
        {"api_credential", "pat-123"},
        {"public_url", "https://sync.example.com/webhooks/hs"}},
       [](const std::string& id, const std::string& email) {
         return json{{"id", id}, {"properties", {{"email", email}, {"firstname", "Hu"}}}};
       }},
      {"hibob",
       "bob",
       "employee.created",
       "hibob person 201",
       {{"webhook_secret", "hibob-secret-token"}, {"api_credential", "svc-user:bob-token"}},
       [](const std::string& id, const std::string& email) {
         return json{{"id", id},
                     {"email", email},
                     {"firstName", "Bo"},
                     {"internal", {{"status", "Active"}}}};
       }},
      // Personio: refused at the token exchange (nothing cached yet in this daemon).
      {"personio",
       "pers",
       "person.created",
       "personio token",
       {{"webhook_secret", "personio-webhook-token-0123"},
        {"api_credential", "client-id:client-secret"}},
       [](const std::string& id, const std::string& email) {
         return json{{"id", id}, {"email", email}, {"first_name", "Per"}, {"status", "ACTIVE"}};
       }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.vendor);
    const std::string rows_of = "FROM vendor_notifications WHERE source = '" + c.source + "'";
    const std::string events_of = "FROM events WHERE source = '" + c.source + "'";
    const std::string first = c.vendor + "-201@example.com", second = c.vendor + "-202@example.com";
    for (const auto& [id, email] : {std::pair{"201", first}, std::pair{"202", second}}) {
      Control("/__sim/records", {{"vendor", c.vendor},
                                 {"object", "person"},
                                 {"id", id},
                                 {"record", c.record(id, email)}});
    }

    // A bad signature: 401, nothing stored.
    auto forged = Send({{"vendor", c.vendor},
                        {"event", c.created_event},
                        {"ids", {"201"}},
                        {"bad_signature", true}});
    EXPECT_EQ(forged["status"], 401) << forged.dump();
    EXPECT_EQ(Count("SELECT count(*) " + rows_of), 0);
    EXPECT_EQ(Count("SELECT count(*) " + events_of), 0);

    // The vendor's API refuses the credentials: accepted (stored), then failed with the vendor's
    // error; nothing applied.
    json rotated = c.config;
    rotated["vendor"] = c.vendor;
    rotated["api_credential"] = "rotated:credential";
    Control("/__sim/config", rotated);
    auto sent = Send({{"vendor", c.vendor}, {"event", c.created_event}, {"ids", {"201"}}});
    EXPECT_EQ(sent["status"], 202) << sent.dump();
    json row;
    for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
         std::chrono::steady_clock::now() < until && !row.is_object();
         std::this_thread::sleep_for(std::chrono::milliseconds(50))) {
      auto rows =
          daemon_->AdminGet("/v1/vendor-notifications?state=failed&source=" + c.source).Json();
      if (rows["vendor_notifications"].size() == 1) row = rows["vendor_notifications"][0];
    }
    ASSERT_TRUE(row.is_object()) << daemon_->AdminGet("/v1/vendor-notifications").body;
    EXPECT_EQ(row["error"], c.object_error + ": the vendor refused the credentials (HTTP 401)");
    EXPECT_EQ(Count("SELECT count(*) " + events_of), 0);
    EXPECT_FALSE(User(first).is_object());

    // Fixed at the vendor, replayed by the operator: fetched, mapped, applied.
    json fixed = c.config;
    fixed["vendor"] = c.vendor;
    Control("/__sim/config", fixed);
    auto replay = daemon_->AdminPost("/v1/vendor-notifications/" + c.source + "/" +
                                     row["event_id"].get<std::string>() + "/replay");
    EXPECT_EQ(replay.status, 200) << replay.body;
    WaitApplied();
    EXPECT_TRUE(User(first).is_object()) << auth0_->State().dump();

    // Created, then the same delivery again byte for byte: a duplicate, nothing new.
    auto created = Send({{"vendor", c.vendor}, {"event", c.created_event}, {"ids", {"202"}}});
    EXPECT_EQ(created["status"], 202) << created.dump();
    WaitApplied();
    EXPECT_TRUE(User(second).is_object()) << auth0_->State().dump();
    const int64_t events = Count("SELECT count(*) " + events_of);
    auto again = Send({{"vendor", c.vendor}, {"replay", true}});
    EXPECT_EQ(again["status"], 200) << again.dump();
    const json answer = again["body"].is_string()
                            ? json::parse(again["body"].get<std::string>(), nullptr, false)
                            : again["body"];
    EXPECT_EQ(answer["status"], "duplicate") << again.dump();
    EXPECT_EQ(Count("SELECT count(*) " + rows_of), 2);
    EXPECT_EQ(Count("SELECT count(*) " + events_of), events);
    EXPECT_EQ(Count("SELECT count(*) " + rows_of + " AND state = 'mapped'"), 2);
  }
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
