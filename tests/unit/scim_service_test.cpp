// daemon/ingress/scim_service: the SCIM endpoints in-process over a temp-dir SqliteStore, a
// FakeClock and seeded ids — what is stored with each answer (resource and inbox events in one
// transaction), event ids and timestamps, refusals storing nothing, DELETE semantics, groups and
// Bulk; plus the `scheme = "scim"` configuration.
#include "daemon/ingress/scim_service.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "tests/support/fake_clock.h"
#include "tests/support/subprocess.h"

namespace tenantsync {
namespace {

using nlohmann::json;
using testing::MakeTempDir;

constexpr const char* kToken = "scim-token-0123456789abcdef";

json UserBody(const std::string& user_name, const std::string& external_id = "") {
  json u = {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:User"}},
            {"userName", user_name},
            {"name", {{"givenName", "Ada"}, {"familyName", "Lovelace"}}},
            {"active", true}};
  if (!external_id.empty()) u["externalId"] = external_id;
  return u;
}

json PatchBody(json ops) {
  return {{"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}}, {"Operations", ops}};
}

class ScimServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("scim-service");
    StorageOptions o;
    o.path = dir_ + "/t.db";
    o.clock = &clock_;
    auto opened = SqliteStore::Open(o);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    store_ = std::move(opened).value();
    SourceConfig src;
    src.name = "okta";
    src.scim = true;
    src.scim_tokens = {kToken};
    src.scim_role_map = {{"admin", "admin"}};
    sources_ = std::make_shared<std::vector<SourceConfig>>(std::vector<SourceConfig>{src});
    MakeService();
  }
  void MakeService() {
    ScimService::Options opts;
    opts.bulk.max_operations = 5;
    service_ = std::make_unique<ScimService>(
        *store_, clock_, random_, [this] { return sources_; }, [this] { ++wakes_; }, opts);
  }

  ServerResponse Call(const std::string& method, const std::string& path,
                      const json& body = nullptr, const std::string& token = kToken) {
    ServerRequest req;
    req.method = method;
    req.path = path;
    auto q = path.find('?');
    if (q != std::string::npos) {
      req.path = path.substr(0, q);
      const std::string query = path.substr(q + 1);
      for (size_t i = 0; i < query.size();) {
        size_t amp = query.find('&', i);
        if (amp == std::string::npos) amp = query.size();
        std::string kv = query.substr(i, amp - i);
        auto eq = kv.find('=');
        std::string value = eq == std::string::npos ? "" : kv.substr(eq + 1);
        for (size_t p = value.find('%'); p != std::string::npos && p + 2 < value.size();
             p = value.find('%', p + 1))
          value.replace(p, 3, 1, static_cast<char>(std::stoi(value.substr(p + 1, 2), nullptr, 16)));
        req.params.emplace(kv.substr(0, eq), value);  // decoded, as the listener does
        i = amp + 1;
      }
    }
    req.headers = {{"Host", "tenantsync.test"}, {"Content-Type", "application/scim+json"}};
    if (!token.empty()) req.headers.push_back({"Authorization", "Bearer " + token});
    if (!body.is_null()) req.body = body.dump();
    if (auto refused = service_->Precheck(req)) return *refused;
    return service_->Handle(req);
  }
  static json Body(const ServerResponse& r) { return json::parse(r.body, nullptr, false); }

  std::vector<EventRecord> Events() {
    EventFilter f;
    f.source = "okta";
    f.limit = 1000;
    auto events = store_->ListEvents(f);
    EXPECT_TRUE(events.ok());
    return events.ok() ? *events : std::vector<EventRecord>{};
  }
  std::vector<std::string> Types() {
    std::vector<std::string> out;
    for (const auto& e : Events()) out.push_back(e.type.value_or(""));
    return out;
  }
  json Data(const EventRecord& e) { return json::parse(e.body)["data"]; }

  std::string dir_;
  FakeClock clock_{std::chrono::system_clock::time_point(std::chrono::milliseconds(1796032800000))};
  SeededRandom random_{7};
  std::unique_ptr<SqliteStore> store_;
  std::shared_ptr<std::vector<SourceConfig>> sources_;
  std::unique_ptr<ScimService> service_;
  int wakes_ = 0;
};

TEST_F(ScimServiceTest, CreateStoresResourceAndEventsBeforeAnswering) {
  auto r = Call("POST", "/scim/v2/Users", UserBody("ada@example.com", "E-1"));
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id = Body(r)["id"];
  EXPECT_EQ(Body(r)["meta"]["location"], "http://tenantsync.test/scim/v2/Users/" + id);
  EXPECT_EQ(Body(r)["meta"]["version"], "W/\"1\"");
  EXPECT_EQ(wakes_, 1);
  auto events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event_id, "Users/" + id + "/v1.0");
  EXPECT_EQ(events[0].type, "user.upserted");
  EXPECT_EQ(events[0].occurred_at_ms, 1796032800000);
  EXPECT_EQ(events[0].state, EventState::kPending);
  EXPECT_EQ(Data(events[0])["external_id"], "E-1");  // the client's externalId names the entity
  EXPECT_EQ(Data(events[0])["email"], "ada@example.com");
  // The answer is readable at once, from the same source with or without its name in the path.
  EXPECT_EQ(Body(Call("GET", "/scim/v2/okta/Users/" + id))["userName"], "ada@example.com");
}

TEST_F(ScimServiceTest, WithoutExternalIdTheScimIdNamesTheEntity) {
  auto r = Call("POST", "/scim/v2/Users", UserBody("bob@example.com"));
  ASSERT_EQ(r.status, 201);
  EXPECT_EQ(Data(Events()[0])["external_id"], Body(r)["id"]);
}

TEST_F(ScimServiceTest, RequestsInOneMillisecondKeepTheirOrder) {
  // The clock does not move: timestamps still grow with each request, so last-writer-wins per
  // field follows the order the IdP sent them.
  const std::string id = Body(Call("POST", "/scim/v2/Users", UserBody("a@x.com", "E")))["id"];
  for (bool active : {false, true, false}) {
    auto r = Call("PATCH", "/scim/v2/Users/" + id,
                  PatchBody({{{"op", "replace"}, {"value", {{"active", active}}}}}));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  auto events = Events();
  ASSERT_EQ(Types(), (std::vector<std::string>{"user.upserted", "user.blocked", "user.unblocked",
                                               "user.blocked"}));
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_GT(*events[i].occurred_at_ms, *events[i - 1].occurred_at_ms);
    EXPECT_NE(events[i].event_id, events[i - 1].event_id);
  }
  EXPECT_EQ(events.back().event_id, "Users/" + id + "/v4.0");
}

TEST_F(ScimServiceTest, RefusedWritesStoreNothing) {
  ASSERT_EQ(Call("POST", "/scim/v2/Users", UserBody("a@x.com", "E")).status, 201);
  const size_t before = Events().size();
  const int wakes = wakes_;
  struct Case {
    std::string method, path;
    json body;
    int status;
    std::string scim_type;
  };
  json long_name = UserBody("long@x.com");
  long_name["name"]["givenName"] = std::string(151, 'a');
  std::vector<Case> cases = {
      {"POST", "/scim/v2/Users", UserBody("A@X.COM", "other"), 409, "uniqueness"},  // userName
      {"POST", "/scim/v2/Users", UserBody("b@x.com", "E"), 409, "uniqueness"},      // externalId
      {"POST", "/scim/v2/Users", UserBody("no-email"), 400, "invalidValue"},
      {"POST", "/scim/v2/Users", {{"userName", "x@x.com"}}, 400, "invalidSyntax"},
      {"POST",
       "/scim/v2/Groups",
       {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:Group"}},
        {"displayName", "G"},
        {"members", {{{"value", "not-a-user"}}}}},
       400,
       "invalidValue"},
      {"PATCH", "/scim/v2/Users/nope", PatchBody({{{"op", "remove"}, {"path", "title"}}}), 404, ""},
      {"DELETE", "/scim/v2/Users/nope", nullptr, 404, ""},
      {"POST", "/scim/v2/Users", long_name, 400,
       "invalidValue"},  // Auth0's 150-character limit, judged by the event validation
  };
  for (const auto& c : cases) {
    json body = c.body;
    auto r = Call(c.method, c.path, body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << r.body;
    EXPECT_EQ(Body(r)["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    EXPECT_EQ(Body(r).value("scimType", ""), c.scim_type) << r.body;
  }
  EXPECT_EQ(Events().size(), before);
  EXPECT_EQ(wakes_, wakes);
  EXPECT_EQ(Body(Call("GET", "/scim/v2/Groups"))["totalResults"], 0);
}

TEST_F(ScimServiceTest, UnchangedPutStoresNoEvent) {
  const std::string id = Body(Call("POST", "/scim/v2/Users", UserBody("a@x.com", "E")))["id"];
  auto r = Call("PUT", "/scim/v2/Users/" + id, UserBody("a@x.com", "E"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["meta"]["version"], "W/\"1\"");
  EXPECT_EQ(Events().size(), 1u);
}

TEST_F(ScimServiceTest, DeleteLeavesAndCreatingAgainReturns) {
  const std::string id = Body(Call("POST", "/scim/v2/Users", UserBody("a@x.com", "E")))["id"];
  ASSERT_EQ(Call("DELETE", "/scim/v2/Users/" + id).status, 204);
  EXPECT_EQ(Call("GET", "/scim/v2/Users/" + id).status, 404);
  auto again = Call("POST", "/scim/v2/Users", UserBody("a@x.com", "E"));
  ASSERT_EQ(again.status, 201) << again.body;
  EXPECT_NE(Body(again)["id"], id);  // ids are never reused
  EXPECT_EQ(Types(), (std::vector<std::string>{"user.upserted", "user.left", "user.upserted",
                                               "user.returned"}));
  // With scim_on_delete = "delete" the same DELETE is a user.deleted.
  (*sources_)[0].scim_delete_users = true;
  ASSERT_EQ(Call("DELETE", "/scim/v2/Users/" + Body(again)["id"].get<std::string>()).status, 204);
  EXPECT_EQ(Types().back(), "user.deleted");
}

TEST_F(ScimServiceTest, GroupsBecomeOrganizationsAndMemberships) {
  json ada = UserBody("ada@x.com", "E-ada");
  ada["roles"] = {{{"value", "admin"}}};
  const std::string a = Body(Call("POST", "/scim/v2/Users", ada))["id"];
  const std::string b = Body(Call("POST", "/scim/v2/Users", UserBody("bob@x.com", "E-bob")))["id"];
  auto g = Call("POST", "/scim/v2/Groups",
                {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:Group"}},
                 {"displayName", "Acme Sales"},
                 {"members", {{{"value", a}}, {{"value", b}}}}});
  ASSERT_EQ(g.status, 201) << g.body;
  const std::string gid = Body(g)["id"];
  auto events = Events();
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[2].type, "organization.upserted");
  EXPECT_EQ(Data(events[2])["name"], "acme-sales");
  EXPECT_EQ(Data(events[2])["external_id"], gid);
  // Each member gets its complete list; roles from the role map.
  json want_ada = {{{"external_id", gid}, {"roles", {"admin"}}}};
  json want_bob = {{{"external_id", gid}, {"roles", json::array()}}};
  std::map<std::string, json> lists;  // members in SCIM id order
  for (size_t i : {3u, 4u})
    lists[Data(events[i])["external_id"]] = Data(events[i])["organizations"];
  EXPECT_EQ(lists["E-ada"], want_ada);
  EXPECT_EQ(lists["E-bob"], want_bob);
  // A second group with the same organization name is refused.
  EXPECT_EQ(Call("POST", "/scim/v2/Groups",
                 {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:Group"}},
                  {"displayName", "ACME sales"}})
                .status,
            409);
  // Deleting a member user drops it from the group as answered.
  ASSERT_EQ(Call("DELETE", "/scim/v2/Users/" + b).status, 204);
  EXPECT_EQ(Body(Call("GET", "/scim/v2/Groups/" + gid))["members"].size(), 1u);
  // Deleting the group: organization.deleted, and the remaining member's list becomes empty.
  ASSERT_EQ(Call("DELETE", "/scim/v2/Groups/" + gid).status, 204);
  events = Events();
  EXPECT_EQ(events[events.size() - 2].type, "organization.deleted");
  EXPECT_EQ(Data(events.back())["external_id"], "E-ada");
  EXPECT_EQ(Data(events.back())["organizations"], json::array());
}

TEST_F(ScimServiceTest, BulkResolvesBulkIdsAndStopsAtFailOnErrors) {
  json bulk = {
      {"schemas", {"urn:ietf:params:scim:api:messages:2.0:BulkRequest"}},
      {"Operations",
       {{{"method", "POST"}, {"bulkId", "u1"}, {"path", "/Users"}, {"data", UserBody("a@x.com")}},
        {{"method", "POST"},
         {"bulkId", "g1"},
         {"path", "/Groups"},
         {"data",
          {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:Group"}},
           {"displayName", "G"},
           {"members", {{{"value", "bulkId:u1"}}}}}}}}}};
  auto r = Call("POST", "/scim/v2/Bulk", bulk);
  ASSERT_EQ(r.status, 200) << r.body;
  auto ops = Body(r)["Operations"];
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0]["status"], "201");
  EXPECT_EQ(ops[1]["status"], "201") << r.body;
  const std::string gid = ops[1]["location"].get<std::string>().substr(
      ops[1]["location"].get<std::string>().rfind('/') + 1);
  EXPECT_EQ(Body(Call("GET", "/scim/v2/Groups/" + gid))["members"].size(), 1u);

  json failing = {
      {"schemas", {"urn:ietf:params:scim:api:messages:2.0:BulkRequest"}},
      {"failOnErrors", 1},
      {"Operations",
       {{{"method", "DELETE"}, {"path", "/Users/nope"}},
        {{"method", "POST"}, {"bulkId", "x"}, {"path", "/Users"}, {"data", UserBody("z@x.com")}}}}};
  auto f = Call("POST", "/scim/v2/Bulk", failing);
  ASSERT_EQ(f.status, 200);
  ASSERT_EQ(Body(f)["Operations"].size(), 1u);  // stopped after the first failure
  EXPECT_EQ(Body(f)["Operations"][0]["status"], "404");
  EXPECT_EQ(
      Body(Call("GET", "/scim/v2/Users?filter=userName%20eq%20%22z@x.com%22"))["totalResults"], 0);

  json six = {{"schemas", {"urn:ietf:params:scim:api:messages:2.0:BulkRequest"}},
              {"Operations", json::array()}};
  for (int i = 0; i < 6; ++i)
    six["Operations"].push_back({{"method", "DELETE"}, {"path", "/Users/x"}});
  EXPECT_EQ(Call("POST", "/scim/v2/Bulk", six).status, 413);  // over maxOperations (5 here)
}

TEST_F(ScimServiceTest, HeadRefusals) {
  EXPECT_EQ(Call("GET", "/scim/v2/Users", nullptr, "").status, 401);
  auto wrong = Call("GET", "/scim/v2/Users", nullptr, "scim-token-wrong-0000000000");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_TRUE(wrong.close_connection);
  EXPECT_EQ(Call("GET", "/scim/v2/other/Users").status, 404);
  EXPECT_EQ(Call("HEAD", "/scim/v2/Users").status, 405);
  service_->SetDraining(true);
  auto draining = Call("POST", "/scim/v2/Users", UserBody("a@x.com"));
  EXPECT_EQ(draining.status, 503);
  EXPECT_FALSE(draining.headers.empty());
  EXPECT_TRUE(Events().empty());
}

TEST_F(ScimServiceTest, ListsPageAndFilter) {
  for (int i = 0; i < 5; ++i)
    Call("POST", "/scim/v2/Users",
         UserBody("u" + std::to_string(i) + "@x.com", "E" + std::to_string(i)));
  auto page = Body(Call("GET", "/scim/v2/Users?startIndex=2&count=2"));
  EXPECT_EQ(page["totalResults"], 5);
  EXPECT_EQ(page["startIndex"], 2);
  EXPECT_EQ(page["itemsPerPage"], 2);
  EXPECT_EQ(page["Resources"][0]["userName"], "u1@x.com");
  EXPECT_EQ(Body(Call("GET", "/scim/v2/Users?filter=externalId%20eq%20%22E3%22"))["totalResults"],
            1);
  EXPECT_EQ(Call("GET", "/scim/v2/Users?count=abc").status, 400);
  EXPECT_EQ(Body(Call("GET", "/scim/v2/Users?count=0"))["Resources"].size(), 0u);
}

// The `scheme = "scim"` keys of [[sources]] (daemon/config.cpp).
TEST(ScimConfig, SourceKeys) {
  const std::string dir = MakeTempDir("scim-config");
  std::ofstream(dir + "/tok") << "a-long-enough-scim-token-123\nsecond-token-for-rotation-456\n";
  std::ofstream(dir + "/short") << "short\n";
  std::ofstream(dir + "/cs") << "client-secret\n";
  std::ofstream(dir + "/admin") << "admin-token-0123456789\n";
  auto load = [&](const std::string& sources) {
    std::ofstream(dir + "/c.toml")
        << "[storage]\npath = \"" << dir << "/db\"\n[admin]\ntoken_file = \"admin\"\n"
        << sources
        << "[auth0]\ndomain = \"t.example.com\"\nclient_id = \"c\"\n"
           "client_secret_file = \"cs\"\napplication_client_id = \"a\"\n";
    return LoadConfig(dir + "/c.toml");
  };
  auto ok = load(
      "[[sources]]\nname = \"okta\"\nscheme = \"scim\"\nsecret_file = \"tok\"\n"
      "scim_role_map = { admin = \"Org Admin\" }\nscim_on_delete = \"delete\"\n");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  const SourceConfig& s = ok->sources[0];
  EXPECT_TRUE(s.scim);
  EXPECT_EQ(s.scim_tokens.size(), 2u);
  EXPECT_TRUE(s.signature.secrets.empty());  // a token is never a webhook signing secret
  EXPECT_EQ(s.scim_role_map.at("admin"), "Org Admin");
  EXPECT_TRUE(s.scim_delete_users);
  struct Bad {
    std::string toml, message;
  };
  std::vector<Bad> bad = {
      {"[[sources]]\nname = \"o\"\nscheme = \"scim\"\nsecret_file = \"short\"\n",
       "at least 16 characters"},
      {"[[sources]]\nname = \"o\"\nscheme = \"scim\"\nsecret_file = \"tok\"\nscim_on_delete = "
       "\"x\"\n",
       "scim_on_delete: must be \"leave\" or \"delete\""},
      {"[[sources]]\nname = \"o\"\nscheme = \"scim\"\nsecret_file = \"tok\"\ntolerance_seconds = "
       "5\n",
       "does not apply to scheme \"scim\""},
      {"[[sources]]\nname = \"o\"\nsecret_file = \"tok\"\nscim_on_delete = \"leave\"\n",
       "only applies to scheme \"scim\""},
      {"[[sources]]\nname = \"o\"\nscheme = \"scim\"\nsecret_file = \"tok\"\nscim_role_map = { a = "
       "1 }\n",
       "scim_role_map.a"},
  };
  for (const auto& b : bad) {
    auto r = load(b.toml);
    ASSERT_FALSE(r.ok()) << b.toml;
    EXPECT_NE(r.status().message().find(b.message), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find("a-long-enough"), std::string::npos);  // never the token
  }
}

}  // namespace
}  // namespace tenantsync
