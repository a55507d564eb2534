// Declared sources wired (issue 15): SqliteStore::ReadDeclared/ApplyDeclared (one transaction,
// revision checked), the state JSON (daemon/declared/state_json.h), `scheme = "declared"` in the
// configuration and the admin endpoints of daemon/declared_api.h.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "daemon/config.h"
#include "daemon/declared/declared.h"
#include "daemon/declared/state_json.h"
#include "daemon/declared_api.h"
#include "storage/sqlite_store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/subprocess.h"

namespace tenantsync {
namespace {

using Json = nlohmann::json;

StorageOptions TempDb() {
  StorageOptions o;
  o.path = testing::MakeTempDir("declared-apply-test") + "/t.db";
  return o;
}

EventRecord Event(const std::string& id, const std::string& source = "repo") {
  EventRecord e;
  e.source = source;
  e.event_id = id;
  e.type = "organization.upserted";
  e.received_at_ms = 1000;
  e.body = "{}";
  return e;
}

std::vector<EventRecord> EventsOf(SqliteStore& store, const std::string& source) {
  EventFilter f;
  f.source = source;
  f.limit = 1000;
  auto list = store.ListEvents(f);
  EXPECT_TRUE(list.ok());
  return list.ok() ? *list : std::vector<EventRecord>{};
}

TEST(DeclaredStore, FreshSourceHasRevisionZeroAndNoState) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto row = (*store)->ReadDeclared("repo");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->revision, 0);
  EXPECT_TRUE(row->state.empty());
}

TEST(DeclaredStore, ApplyStoresEventsAndStateTogetherAndBumpsTheRevision) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  auto r =
      (*store)->ApplyDeclared("repo", 0, {Event("decl_a"), Event("decl_b")}, "{\"v\":1}", 5000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->revision, 1);
  ASSERT_EQ(r->outcomes.size(), 2u);
  EXPECT_EQ(r->outcomes[0], InsertOutcome::kInserted);
  auto row = (*store)->ReadDeclared("repo");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->revision, 1);
  EXPECT_EQ(row->state, "{\"v\":1}");
  EXPECT_EQ(row->applied_at_ms, 5000);
  auto events = EventsOf(**store, "repo");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event_id, "decl_a");
  EXPECT_EQ(events[0].state, EventState::kPending);

  // The next apply from revision 1: a repeated id is a duplicate, the new one is stored.
  r = (*store)->ApplyDeclared("repo", 1, {Event("decl_b"), Event("decl_c")}, "{\"v\":2}", 6000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->revision, 2);
  EXPECT_EQ(r->outcomes[0], InsertOutcome::kDuplicate);
  EXPECT_EQ(r->outcomes[1], InsertOutcome::kInserted);
  EXPECT_EQ(EventsOf(**store, "repo").size(), 3u);
  // Other sources are separate.
  EXPECT_EQ((*store)->ReadDeclared("other")->revision, 0);
}

TEST(DeclaredStore, StaleBaseRevisionIsAConflictAndStoresNothing) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->ApplyDeclared("repo", 0, {Event("decl_a")}, "{\"v\":1}", 5000).ok());
  auto r = (*store)->ApplyDeclared("repo", 0, {Event("decl_x")}, "{\"v\":9}", 6000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kConflict);
  EXPECT_NE(r.status().message().find("revision 1"), std::string::npos) << r.status().message();
  EXPECT_EQ(EventsOf(**store, "repo").size(), 1u) << "no event of the refused apply is stored";
  EXPECT_EQ((*store)->ReadDeclared("repo")->state, "{\"v\":1}");
  // A base ahead of the stored revision is refused too.
  EXPECT_EQ((*store)->ApplyDeclared("repo", 7, {}, "{}", 6000).status().kind(),
            StatusKind::kConflict);
}

TEST(DeclaredStore, OfTwoRacingAppliesFromOneBaseExactlyOneLands) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  std::atomic<int> landed{0}, conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto r = (*store)->ApplyDeclared("repo", 0, {Event("decl_" + std::to_string(t))},
                                       "{\"t\":" + std::to_string(t) + "}", 5000);
      if (r.ok()) ++landed;
      if (!r.ok() && r.status().kind() == StatusKind::kConflict) ++conflicts;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(landed.load(), 1);
  EXPECT_EQ(conflicts.load(), 7);
  EXPECT_EQ(EventsOf(**store, "repo").size(), 1u);
  EXPECT_EQ((*store)->ReadDeclared("repo")->revision, 1);
}

TEST(DeclaredStore, EventOfAnotherSourceIsRefusedAndNothingStored) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  auto r = (*store)->ApplyDeclared("repo", 0, {Event("decl_a"), Event("decl_b", "hr")}, "{}", 1);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(EventsOf(**store, "repo").empty());
  EXPECT_EQ((*store)->ReadDeclared("repo")->revision, 0);
}

// ---- state JSON ----

declared::DeclaredState Parse(const std::string& yaml) {
  auto r = declared::ParseDeclaredText(yaml, "f.yaml", declared::FileFormat::kYaml);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : declared::DeclaredState{};
}

constexpr const char* kFull = R"(
organizations:
  - external_id: acme-1
    name: acme
    display_name: Acme Inc.
    metadata: {tier: gold}
    branding:
      logo_url: https://cdn.example.com/acme.png
      colors: {primary: "#ff0000", page_background: "#ffffff"}
    connections:
      - name: google-oauth2
        show_as_button: false
      - name: Username-Password-Authentication
        assign_membership_on_login: true
    callback_urls: [https://acme.example.com/callback]
  - external_id: globex
    name: globex
users:
  - external_id: u-1
    email: ann@example.com
    name: Ann Example
    given_name: Ann
    family_name: Example
    app_metadata: {plan: pro, seats: 3}
    user_metadata: {language: fr}
    blocked: true
    organizations:
      - external_id: acme-1
        roles: [billing, admin]
  - external_id: u-2
    email: bob@example.com
)";

TEST(DeclaredStateJson, RoundTripKeepsEveryFieldAndDiffsToNothing) {
  auto state = Parse(kFull);
  Json j = declared::StateToJson(state);
  EXPECT_EQ(j["users"][0]["left"], false);
  EXPECT_EQ(j["organizations"][0]["branding"]["colors"]["primary"], "#ff0000");
  auto back = declared::StateFromJson(Json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(declared::StateToJson(*back), j);
  auto plan = declared::DiffDeclared(state, *back);
  EXPECT_TRUE(plan.events.empty());
  EXPECT_EQ(plan.unchanged, 4u);
}

TEST(DeclaredStateJson, MalformedStateNamesTheField) {
  auto r =
      declared::StateFromJson(Json::parse(R"({"users": [{"external_id": "u", "blocked": 1}]})"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "users[0].blocked: must be true or false");
  r = declared::StateFromJson(Json::parse(R"({"organizations": [{"name": "x"}]})"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "organizations[0].external_id: is required");
  r = declared::StateFromJson(
      Json::parse(R"({"users": [{"external_id": "u"}, {"external_id": "u"}]})"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("duplicate"), std::string::npos);
  EXPECT_FALSE(declared::StateFromJson(Json::array()).ok());
}

TEST(DeclaredStateJson, StateAfterApplyKeepsWithoutPruneAndMarksLeftWithPrune) {
  auto current = Parse(kFull);
  auto declared_now = Parse("organizations:\n  - external_id: acme-1\n    name: acme\n");
  auto kept = declared::StateAfterApply(declared_now, current, /*prune=*/false);
  EXPECT_EQ(kept.organizations.size(), 2u);
  EXPECT_EQ(kept.users.size(), 2u);
  EXPECT_FALSE(kept.users[0].left);
  // Applying the same file again changes nothing (the kept entities stay kept).
  auto again = declared::DiffDeclared(declared_now, kept);
  EXPECT_TRUE(again.events.empty());
  EXPECT_EQ(again.kept, 3u);

  auto pruned = declared::StateAfterApply(declared_now, current, /*prune=*/true);
  ASSERT_EQ(pruned.organizations.size(), 1u);
  ASSERT_EQ(pruned.users.size(), 2u);
  EXPECT_TRUE(pruned.users[0].left && pruned.users[1].left);
  // Pruned users are where prune puts them: neither listed nor counted next time.
  auto after = declared::DiffDeclared(declared_now, pruned, {.prune = true, .base_revision = "1"});
  EXPECT_TRUE(after.events.empty());
  EXPECT_TRUE(after.changes.empty());
  // Declaring a user again brings them back with user.returned.
  auto back =
      declared::DiffDeclared(Parse("users:\n  - external_id: u-2\n    email: bob@example.com\n"),
                             pruned, {.prune = false, .base_revision = "1"});
  ASSERT_FALSE(back.events.empty());
  EXPECT_EQ(back.events.front().type, EventType::kUserReturned);
}

// ---- configuration ----

class DeclaredConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("declared-config-test");
    std::ofstream(dir_ + "/admin-token") << "admin-token-0123456789abcdef\n";
    std::ofstream(dir_ + "/auth0-client-secret") << "client-secret-value\n";
  }
  Result<Config> Load(const std::string& sources) {
    std::ofstream(dir_ + "/t.toml")
        << "[storage]\npath = \"" << dir_ << "/db\"\n[admin]\ntoken_file = \"admin-token\"\n"
        << sources
        << "[auth0]\ndomain = \"example.eu.auth0.com\"\nclient_id = \"cid\"\n"
           "client_secret_file = \"auth0-client-secret\"\napplication_client_id = \"app\"\n";
    return LoadConfig(dir_ + "/t.toml");
  }
  std::string dir_;
};

TEST_F(DeclaredConfigTest, DeclaredSchemeNeedsNoSecret) {
  auto c = Load("[[sources]]\nname = \"repo\"\nscheme = \"declared\"\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->sources.size(), 1u);
  EXPECT_TRUE(c->sources[0].declared);
  EXPECT_TRUE(c->sources[0].signature.secrets.empty());
}

TEST_F(DeclaredConfigTest, SecretOrSignatureKeysOnADeclaredSourceAreRefused) {
  auto c = Load(
      "[[sources]]\nname = \"repo\"\nscheme = \"declared\"\nsecret_file = \"x\"\n"
      "tolerance_seconds = 5\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("sources[0].secret_file: does not apply to scheme "
                                      "\"declared\""),
            std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("sources[0].tolerance_seconds: does not apply"),
            std::string::npos);
  c = Load("[[sources]]\nname = \"repo\"\nscheme = \"declare\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(
      c.status().message().find("declared, bamboohr, hibob, personio, hubspot (got \"declare\")"),
      std::string::npos)
      << c.status().message();
}

// ---- admin endpoints ----

class DeclaredApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteStore::Open(TempDb());
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    SourceConfig repo, hr;
    repo.name = "repo";
    repo.declared = true;
    hr.name = "hr";
    sources_ = {hr, repo};
  }
  ServerResponse Call(const std::string& method, const std::string& path,
                      const std::string& body = "") {
    ServerRequest req;
    req.method = method;
    req.path = path;
    req.body = body;
    return HandleSourcesRequest(req, *store_, clock_, sources_, nullptr);
  }
  Json Apply(int64_t base, const Json& events, int expect_status) {
    Json state = declared::StateToJson(declared::DeclaredState{});
    auto r = Call("POST", "/v1/sources/repo/apply",
                  Json{{"base_revision", base}, {"events", events}, {"state", state}}.dump());
    EXPECT_EQ(r.status, expect_status) << r.body;
    return Json::parse(r.body);
  }
  std::unique_ptr<SqliteStore> store_;
  FakeClock clock_;
  std::vector<SourceConfig> sources_;
};

const Json kOrgEvent = {{"event_id", "decl_1"},
                        {"type", "organization.upserted"},
                        {"data", {{"external_id", "acme-1"}, {"name", "acme"}}}};

TEST_F(DeclaredApiTest, ListsSourcesWithTheirScheme) {
  auto r = Call("GET", "/v1/sources");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body)["sources"],
            Json::parse(R"([{"name":"hr","scheme":"standard-webhooks"},
                            {"name":"repo","scheme":"declared"}])"));
}

TEST_F(DeclaredApiTest, ApplyStoresSpecEventsStampedWithTheApplyTime) {
  auto fresh = Json::parse(Call("GET", "/v1/sources/repo/declared").body);
  EXPECT_EQ(fresh["revision"], 0);
  EXPECT_EQ(fresh["state"]["organizations"], Json::array());
  Json answer = Apply(0, Json::array({kOrgEvent}), 200);
  EXPECT_EQ(answer["revision"], 1);
  EXPECT_EQ(answer["event_ids"], Json::array({"decl_1"}));
  EXPECT_EQ(answer["duplicates"], Json::array());
  EventFilter f;
  f.source = "repo";
  auto events = store_->ListEvents(f);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  const EventRecord& e = events->front();
  EXPECT_EQ(e.type, "organization.upserted");
  EXPECT_EQ(e.state, EventState::kPending);
  EXPECT_EQ(e.occurred_at_ms, clock_.NowUnixMillis());
  EXPECT_EQ(e.received_at_ms, clock_.NowUnixMillis());
  Json body = Json::parse(e.body);
  EXPECT_EQ(body["timestamp"], "2026-11-25T10:00:00.000Z");
  EXPECT_EQ(body["data"]["name"], "acme");
  EXPECT_TRUE(ParseEvent(body).ok());
  EXPECT_EQ(Json::parse(Call("GET", "/v1/sources/repo/declared").body)["revision"], 1);
}

TEST_F(DeclaredApiTest, StaleBaseRevisionIs409) {
  Apply(0, Json::array({kOrgEvent}), 200);
  Json answer = Apply(0, Json::array(), 409);
  EXPECT_NE(answer["error"].get<std::string>().find("revision 1"), std::string::npos);
}

TEST_F(DeclaredApiTest, RefusesWithSpecificMessages) {
  EXPECT_EQ(Call("GET", "/v1/sources/nope/declared").status, 404);
  auto r = Call("GET", "/v1/sources/hr/declared");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("is not declared"), std::string::npos) << r.body;
  EXPECT_EQ(Call("POST", "/v1/sources/repo/declared").status, 404);
  EXPECT_EQ(Call("POST", "/v1/sources/repo/apply", "not json").status, 400);
  Json bad = kOrgEvent;
  bad["data"]["name"] = "Not A Valid Name";
  Json answer = Apply(0, Json::array({bad}), 400);
  EXPECT_NE(answer["error"].get<std::string>().find("events[0]: data.name"), std::string::npos)
      << answer;
  r = Call("POST", "/v1/sources/repo/apply", R"({"base_revision": -1, "events": [], "state": {}})");
  EXPECT_EQ(r.status, 400);
  r = Call("POST", "/v1/sources/repo/apply", R"({"base_revision": 0, "events": [], "state": 3})");
  EXPECT_EQ(r.status, 400);
  r = Call("POST", "/v1/sources/repo/apply",
           R"({"base_revision": 0, "events": [], "state": {}, "extra": 1})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(store_->ReadDeclared("repo")->revision, 0) << "nothing refused is stored";
}

TEST(AdminBodyPrecheck, OnlyApplyMayBeLarge) {
  ServerRequest req;
  req.method = "POST";
  req.path = "/v1/pause";
  req.headers = {{"Content-Length", "70000"}};
  auto r = AdminBodyPrecheck(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  req.path = "/v1/sources/repo/apply";
  EXPECT_FALSE(AdminBodyPrecheck(req));
  req.headers = {{"Content-Length", std::to_string(kMaxApplyBodyBytes + 1)}};
  EXPECT_TRUE(AdminBodyPrecheck(req));
}

}  // namespace
}  // namespace tenantsync
