// Unit tests of the auth0-sim tenant model (no HTTP): Auth0's semantics that naive fakes miss.
#include "tests/auth0-sim/tenant.h"

#include <gtest/gtest.h>

#include <chrono>

namespace tenantsync::sim {
namespace {

using std::chrono::milliseconds;

constexpr const char* kClient = "m2mclient";
constexpr const char* kDb = "Username-Password-Authentication";

class TenantTest : public ::testing::Test {
 protected:
  TenantTest() : tenant_(TenantOptions{"t.local", kClient, "secret", 42, 1000}, clock_) {}

  struct Answer {
    int status;
    Json body;
  };

  Answer Call(const std::string& method, const std::string& path, const Json& body = nullptr,
              std::map<std::string, std::string> query = {}, std::string caller = kClient) {
    auto route = MatchRoute(method, path);
    EXPECT_TRUE(route) << method << " " << path;
    if (!route) return {0, nullptr};
    ApiRequest req;
    req.method = method;
    req.path = path;
    req.query = std::move(query);
    req.body = body.is_null() ? "" : body.dump();
    req.content_type = "application/json";
    req.caller_client_id = std::move(caller);
    ApiResponse r = tenant_.Handle(*route, req);
    return {r.status, r.body.empty() ? Json(nullptr) : Json::parse(r.body, nullptr, false)};
  }

  std::string CreateUser(const std::string& email, Json extra = Json::object()) {
    Json body = {{"connection", kDb}, {"email", email}, {"password", "Sup3r-secret!"}};
    body.update(extra);
    auto a = Call("POST", "/api/v2/users", body);
    EXPECT_EQ(a.status, 201) << a.body.dump();
    return a.body.value("user_id", "");
  }

  std::string CreateOrg(const std::string& name, Json extra = Json::object()) {
    Json body = {{"name", name}};
    body.update(extra);
    auto a = Call("POST", "/api/v2/organizations", body);
    EXPECT_EQ(a.status, 201) << a.body.dump();
    return a.body.value("id", "");
  }

  FakeClock clock_;
  Tenant tenant_;
};

TEST_F(TenantTest, UserMetadataMergesAtFirstLevelAndNullDeletes) {
  std::string id = CreateUser("a@example.com", {{"app_metadata", {{"keep", 1}, {"drop", 2}}},
                                                {"user_metadata", {{"x", {{"nested", true}}}}}});
  auto a = Call("PATCH", "/api/v2/users/" + id,
                {{"app_metadata", {{"drop", nullptr}, {"new", "v"}}},
                 {"user_metadata", {{"x", {{"other", 1}}}}}});
  ASSERT_EQ(a.status, 200) << a.body.dump();
  EXPECT_EQ(a.body["app_metadata"], Json({{"keep", 1}, {"new", "v"}}));
  // First level only: the nested object is replaced, not merged.
  EXPECT_EQ(a.body["user_metadata"], Json({{"x", {{"other", 1}}}}));
}

TEST_F(TenantTest, OrganizationMetadataIsReplacedWhole) {
  std::string id = CreateOrg("acme", {{"metadata", {{"a", "1"}, {"b", "2"}}}});
  auto a = Call("PATCH", "/api/v2/organizations/" + id, {{"metadata", {{"c", "3"}}}});
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.body["metadata"], Json({{"c", "3"}}));
}

TEST_F(TenantTest, ClientCallbacksAreReplacedWhole) {
  auto c = Call("POST", "/api/v2/clients", {{"name", "app"}, {"callbacks", {"https://a/cb"}}});
  ASSERT_EQ(c.status, 201);
  std::string id = c.body["client_id"];
  auto a = Call("PATCH", "/api/v2/clients/" + id, {{"callbacks", {"https://b/cb"}}});
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.body["callbacks"], Json({"https://b/cb"}));
}

TEST_F(TenantTest, DeleteUserIsIdempotentButOrganizationDeleteIsNot) {
  std::string uid = CreateUser("gone@example.com");
  EXPECT_EQ(Call("DELETE", "/api/v2/users/" + uid).status, 204);
  EXPECT_EQ(Call("DELETE", "/api/v2/users/" + uid).status, 204);
  auto get = Call("GET", "/api/v2/users/" + uid);
  EXPECT_EQ(get.status, 404);
  EXPECT_EQ(get.body["errorCode"], "inexistent_user");
  std::string oid = CreateOrg("gone");
  EXPECT_EQ(Call("DELETE", "/api/v2/organizations/" + oid).status, 204);
  auto again = Call("DELETE", "/api/v2/organizations/" + oid);
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(again.body["message"], "No organization found by that id or name");
}

TEST_F(TenantTest, DuplicateEmailInSameConnectionConflicts) {
  CreateUser("dup@example.com");
  auto a = Call("POST", "/api/v2/users",
                {{"connection", kDb}, {"email", "DUP@example.com"}, {"password", "Sup3r-secret!"}});
  EXPECT_EQ(a.status, 409);
  EXPECT_EQ(a.body["message"], "The user already exists.");
  EXPECT_EQ(a.body["statusCode"], 409);
}

TEST_F(TenantTest, ConnectionNotEnabledForCallerRefusesCreate) {
  auto a = Call("POST", "/api/v2/users",
                {{"connection", kDb}, {"email", "x@example.com"}, {"password", "Sup3r-secret!"}},
                {}, "someOtherClient");
  EXPECT_EQ(a.status, 400);
  EXPECT_NE(a.body["message"].get<std::string>().find(
                "Connection must be enabled for this client to perform single user creation"),
            std::string::npos);
}

TEST_F(TenantTest, ValidationRefusesWhatAuth0Refuses) {
  auto extra = Call("POST", "/api/v2/organizations", {{"name", "ok"}, {"colour", "red"}});
  EXPECT_EQ(extra.status, 400);
  EXPECT_EQ(extra.body["errorCode"], "invalid_body");
  EXPECT_NE(
      extra.body["message"].get<std::string>().find("Additional properties not allowed: colour"),
      std::string::npos);
  EXPECT_EQ(Call("POST", "/api/v2/organizations", {{"name", "Bad Name"}}).status, 400);
  EXPECT_EQ(Call("POST", "/api/v2/organizations", {{"name", std::string(51, 'a')}}).status, 400);
  Json meta = Json::object();
  for (int i = 0; i < 26; ++i) meta["k" + std::to_string(i)] = "v";
  EXPECT_EQ(Call("POST", "/api/v2/organizations", {{"name", "many"}, {"metadata", meta}}).status,
            400);
  EXPECT_EQ(Call("POST", "/api/v2/organizations",
                 {{"name", "long"}, {"metadata", {{"k", std::string(256, 'x')}}}})
                .status,
            400);
  auto reserved = Call("POST", "/api/v2/users",
                       {{"connection", kDb},
                        {"email", "r@example.com"},
                        {"password", "Sup3r-secret!"},
                        {"app_metadata", {{"blocked", true}}}});
  EXPECT_EQ(reserved.status, 400);
  auto dotted = Call("POST", "/api/v2/users",
                     {{"connection", kDb},
                      {"email", "d@example.com"},
                      {"password", "Sup3r-secret!"},
                      {"user_metadata", {{"a.b", 1}}}});
  EXPECT_EQ(dotted.status, 400);
  auto weak = Call("POST", "/api/v2/users",
                   {{"connection", kDb}, {"email", "w@example.com"}, {"password", "short"}});
  EXPECT_EQ(weak.status, 400);
}

TEST_F(TenantTest, TenConnectionsPerOrganization) {
  std::string oid = CreateOrg("conns");
  for (int i = 0; i < 11; ++i) {
    auto c = Call("POST", "/api/v2/connections",
                  {{"name", "conn-" + std::to_string(i)}, {"strategy", "auth0"}});
    ASSERT_EQ(c.status, 201) << c.body.dump();
    auto a = Call("POST", "/api/v2/organizations/" + oid + "/enabled_connections",
                  {{"connection_id", c.body["id"]}});
    EXPECT_EQ(a.status, i < 10 ? 201 : 400) << i << " " << a.body.dump();
  }
}

TEST_F(TenantTest, OffsetPagingStopsAt1000RecordsAndPerPageAt100) {
  auto a = Call("GET", "/api/v2/organizations", nullptr, {{"page", "10"}, {"per_page", "100"}});
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body["errorCode"], "invalid_paging");
  EXPECT_EQ(
      Call("GET", "/api/v2/organizations", nullptr, {{"page", "9"}, {"per_page", "100"}}).status,
      200);
  auto b = Call("GET", "/api/v2/users", nullptr, {{"per_page", "101"}});
  EXPECT_EQ(b.status, 400);
  EXPECT_EQ(b.body["errorCode"], "invalid_query_string");
}

TEST_F(TenantTest, CheckpointPagingOfOrganizations) {
  for (const char* n : {"o1", "o2", "o3"}) CreateOrg(n);
  auto p1 = Call("GET", "/api/v2/organizations", nullptr, {{"take", "2"}});
  ASSERT_EQ(p1.status, 200);
  ASSERT_EQ(p1.body["organizations"].size(), 2u);
  ASSERT_TRUE(p1.body.contains("next"));
  auto p2 = Call("GET", "/api/v2/organizations", nullptr,
                 {{"take", "2"}, {"from", p1.body["next"].get<std::string>()}});
  ASSERT_EQ(p2.body["organizations"].size(), 1u);
  EXPECT_EQ(p2.body["organizations"][0]["name"], "o3");
  EXPECT_FALSE(p2.body.contains("next"));
}

TEST_F(TenantTest, CheckpointPagingOfMembersKeepsNextOnShortPage) {
  tenant_.SetIndexLagMs(0);
  std::string oid = CreateOrg("team");
  Json members = Json::array();
  for (int i = 0; i < 3; ++i)
    members.push_back(CreateUser("m" + std::to_string(i) + "@example.com"));
  ASSERT_EQ(
      Call("POST", "/api/v2/organizations/" + oid + "/members", {{"members", members}}).status,
      204);
  std::string path = "/api/v2/organizations/" + oid + "/members";
  auto p1 = Call("GET", path, nullptr, {{"take", "2"}});
  ASSERT_EQ(p1.body["members"].size(), 2u);
  auto p2 =
      Call("GET", path, nullptr, {{"take", "2"}, {"from", p1.body["next"].get<std::string>()}});
  ASSERT_EQ(p2.body["members"].size(), 1u);
  ASSERT_TRUE(p2.body.contains("next")) << "a short page still carries next";
  auto p3 =
      Call("GET", path, nullptr, {{"take", "2"}, {"from", p2.body["next"].get<std::string>()}});
  EXPECT_TRUE(p3.body["members"].empty());
  EXPECT_FALSE(p3.body.contains("next"));
}

TEST_F(TenantTest, SearchAndMemberListsLagWhileDirectReadsDoNot) {
  std::string uid = CreateUser("lag@example.com");
  std::map<std::string, std::string> q = {{"q", "email:\"lag@example.com\""}};
  EXPECT_TRUE(Call("GET", "/api/v2/users", nullptr, q).body.empty());
  EXPECT_EQ(Call("GET", "/api/v2/users/" + uid).status, 200);
  EXPECT_EQ(
      Call("GET", "/api/v2/users-by-email", nullptr, {{"email", "lag@example.com"}}).body.size(),
      1u);
  std::string oid = CreateOrg("lagging");
  Call("POST", "/api/v2/organizations/" + oid + "/members", {{"members", {uid}}});
  std::string members = "/api/v2/organizations/" + oid + "/members";
  EXPECT_TRUE(Call("GET", members).body.empty());
  clock_.Advance(milliseconds(1001));
  EXPECT_EQ(Call("GET", "/api/v2/users", nullptr, q).body.size(), 1u);
  EXPECT_EQ(Call("GET", members).body.size(), 1u);
  // Removal lags too: the member stays listed until the index catches up.
  Call("DELETE", members, {{"members", {uid}}});
  EXPECT_EQ(Call("GET", members).body.size(), 1u);
  clock_.Advance(milliseconds(1001));
  EXPECT_TRUE(Call("GET", members).body.empty());
}

TEST_F(TenantTest, SameSeedSameIds) {
  FakeClock other_clock;
  Tenant other(TenantOptions{"t.local", kClient, "secret", 42, 1000}, other_clock);
  std::string a = CreateUser("same@example.com");
  auto route = MatchRoute("POST", "/api/v2/users");
  ApiRequest req;
  req.method = "POST";
  req.path = "/api/v2/users";
  req.body = Json{{"connection", kDb}, {"email", "same@example.com"}, {"password", "Sup3r-secret!"}}
                 .dump();
  req.caller_client_id = kClient;
  auto b = Json::parse(other.Handle(*route, req).body);
  EXPECT_EQ(a, b["user_id"]);
  EXPECT_EQ(a.size(), std::string("auth0|").size() + 24);
}

TEST_F(TenantTest, StateShowsMembersRolesAndEmails) {
  std::string uid = CreateUser("s@example.com", {{"email_verified", false}});
  std::string oid = CreateOrg("stateful");
  auto role = Call("POST", "/api/v2/roles", {{"name", "admin"}});
  ASSERT_EQ(role.status, 200);
  Call("POST", "/api/v2/organizations/" + oid + "/members", {{"members", {uid}}});
  Call("POST", "/api/v2/organizations/" + oid + "/members/" + uid + "/roles",
       {{"roles", {role.body["id"]}}});
  Json state = tenant_.State();
  ASSERT_EQ(state["organizations"].size(), 1u);
  EXPECT_EQ(state["organizations"][0]["members"][0]["roles"], Json({"admin"}));
  EXPECT_EQ(state["users"][0]["password_set"], true);
  EXPECT_FALSE(state["users"][0].contains("password"));
  ASSERT_EQ(state["emails"].size(), 1u);
  EXPECT_EQ(state["emails"][0]["type"], "verification");
  EXPECT_EQ(state["connections"][0]["enabled_clients"], Json({kClient}));
}

TEST_F(TenantTest, SeedsTenThousandUsersQuickly) {
  auto start = std::chrono::steady_clock::now();
  Json r = tenant_.Seed({{"organizations", 1000}, {"users", 10000}, {"members_per_org", 10}});
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r["users"], 10000);
  EXPECT_EQ(r["organizations"], 1000);
  EXPECT_EQ(r["members"], 10000);
  EXPECT_LT(elapsed, std::chrono::seconds(1));
  // Seeded data is indexed at once.
  auto page =
      Call("GET", "/api/v2/users", nullptr, {{"per_page", "100"}, {"include_totals", "true"}});
  EXPECT_EQ(page.body["total"], 10000);
}

}  // namespace
}  // namespace tenantsync::sim
