// Unit tests of the auth0-sim tenant model (no HTTP): Auth0's semantics that naive fakes miss.
#include "tests/auth0-sim/tenant.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <sstream>

#include "common/gzip.h"
#include "tests/support/fake_clock.h"

namespace tenantsync::sim {
namespace {

using std::chrono::milliseconds;

std::string Gunzip(const std::string& gz) {
  auto text = GzipDecompress(gz);
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  return text.ok() ? *text : std::string();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

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
  for (int i = 0; i < 26; ++i) meta[std::string("k").append(std::to_string(i))] = "v";
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

TEST_F(TenantTest, SearchMatchesAGroupOfAlternatives) {
  tenant_.SetIndexLagMs(0);
  std::string a = CreateUser("alt-a@example.com");
  std::string b = CreateUser("alt-b@example.com");
  CreateUser("alt-c@example.com");
  auto r = Call("GET", "/api/v2/users", nullptr,
                {{"q", "user_id:(\"" + a + "\" OR \"" + b + "\")"}, {"search_engine", "v3"}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  std::set<std::string> ids;
  for (auto& u : r.body) ids.insert(u["user_id"].get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{a, b}));
  auto bad = Call("GET", "/api/v2/users", nullptr, {{"q", "user_id:(\"unterminated"}});
  EXPECT_EQ(bad.status, 400);
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

TEST_F(TenantTest, UsersExportWritesTheConnectionsUsersAsGzippedJsonLines) {
  auto other = Call("POST", "/api/v2/connections",
                    {{"name", "partners"}, {"strategy", "auth0"}, {"enabled_clients", {kClient}}});
  ASSERT_EQ(other.status, 201) << other.body.dump();
  std::string a = CreateUser("a@example.com",
                             {{"app_metadata", {{"tier", "gold"}, {"n", 1}}}, {"blocked", true}});
  std::string b = CreateUser("b@example.com",
                             {{"connection", "partners"}, {"app_metadata", {{"tier", "none"}}}});
  std::string c = CreateUser("c@example.com", {{"user_metadata", {{"country", "NZ"}}}});
  std::string db_id;
  const Json state = tenant_.State();
  for (const auto& conn : state["connections"]) {
    if (conn["name"] == kDb) db_id = conn["id"];
  }
  const Json fields = Json::parse(R"([{"name":"user_id"},{"name":"email"},
      {"name":"app_metadata"},{"name":"blocked"},{"name":"user_metadata.country","export_as":"country"},
      {"name":"identities[0].connection","export_as":"conn"},{"name":"identities[3].connection"}])");
  auto job = Call("POST", "/api/v2/jobs/users-exports",
                  {{"connection_id", db_id}, {"format", "json"}, {"fields", fields}});
  ASSERT_EQ(job.status, 200) << job.body.dump();
  EXPECT_EQ(job.body["status"], "pending");
  EXPECT_EQ(job.body["connection"], kDb);
  const std::string id = job.body["id"];
  // Later changes do not reach the snapshot.
  Call("PATCH", "/api/v2/users/" + a, {{"email", "changed@example.com"}});
  CreateUser("d@example.com");

  auto done = Call("GET", "/api/v2/jobs/" + id);
  ASSERT_EQ(done.status, 200);
  EXPECT_EQ(done.body["status"], "completed");
  EXPECT_EQ(done.body["location"], "https://t.local/__sim/exports/" + id + ".json.gz");
  EXPECT_EQ(done.body["fields"], fields);
  ASSERT_EQ(tenant_.ExportFile(id + ".csv.gz"), nullptr);
  ASSERT_EQ(tenant_.ExportFile("job_nope.json.gz"), nullptr);
  auto file = tenant_.ExportFile(id + ".json.gz");
  ASSERT_NE(file, nullptr);
  auto lines = Lines(Gunzip(*file));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Json::parse(lines[0]), Json({{"user_id", a},
                                         {"email", "a@example.com"},
                                         {"app_metadata", {{"tier", "gold"}, {"n", 1}}},
                                         {"blocked", true},
                                         {"conn", kDb}}));
  EXPECT_EQ(Json::parse(lines[1]),
            Json({{"user_id", c}, {"email", "c@example.com"}, {"country", "NZ"}, {"conn", kDb}}));
  // Keys in the order the fields were requested.
  EXPECT_TRUE(lines[0].starts_with(R"({"user_id":")")) << lines[0];
  EXPECT_EQ(*tenant_.ExportFile(id + ".json.gz"), *file);

  // Without connection_id: every user of the tenant.
  auto all = Call("POST", "/api/v2/jobs/users-exports", {{"format", "json"}, {"fields", fields}});
  ASSERT_EQ(all.status, 200);
  auto all_file = tenant_.ExportFile(all.body["id"].get<std::string>() + ".json.gz");
  ASSERT_NE(all_file, nullptr);
  auto all_lines = Lines(Gunzip(*all_file));
  ASSERT_EQ(all_lines.size(), 4u);
  EXPECT_EQ(Json::parse(all_lines[1])["user_id"], b);
  EXPECT_EQ(Json::parse(all_lines[1])["conn"], "partners");
}

TEST_F(TenantTest, UsersExportDelayLimitAndDefaultFields) {
  tenant_.SetExportDelayMs(500);
  std::string first = CreateUser("one@example.com");
  std::string second = CreateUser("two@example.com");
  CreateUser("three@example.com");
  auto job = Call("POST", "/api/v2/jobs/users-exports", {{"format", "json"}, {"limit", 2}});
  ASSERT_EQ(job.status, 200) << job.body.dump();
  const std::string id = job.body["id"];
  auto pending = Call("GET", "/api/v2/jobs/" + id);
  EXPECT_EQ(pending.body["status"], "pending");
  EXPECT_FALSE(pending.body.contains("location"));
  EXPECT_EQ(tenant_.ExportFile(id + ".json.gz"), nullptr);
  clock_.Advance(milliseconds(500));
  auto done = Call("GET", "/api/v2/jobs/" + id);
  EXPECT_EQ(done.body["status"], "completed");
  EXPECT_EQ(done.body["limit"], 2);
  auto file = tenant_.ExportFile(id + ".json.gz");
  ASSERT_NE(file, nullptr);
  auto lines = Lines(Gunzip(*file));
  ASSERT_EQ(lines.size(), 2u);
  Json line = Json::parse(lines[0]);
  EXPECT_EQ(line["user_id"], first);
  EXPECT_EQ(Json::parse(lines[1])["user_id"], second);
  for (const char* k :
       {"email", "email_verified", "name", "nickname", "picture", "created_at", "updated_at"}) {
    EXPECT_TRUE(line.contains(k)) << k;
  }
  EXPECT_FALSE(line.contains("identities"));
  EXPECT_FALSE(line.contains("blocked"));  // absent on this user
}

TEST_F(TenantTest, UsersExportCsvHasHeaderAndQuotes) {
  std::string id = CreateUser("q@example.com",
                              {{"name", "Doe, \"JD\" John"}, {"app_metadata", {{"tier", "gold"}}}});
  auto job =
      Call("POST", "/api/v2/jobs/users-exports",
           {{"fields", Json::parse(R"([{"name":"user_id"},{"name":"name","export_as":"full name"},
                       {"name":"app_metadata.tier"},{"name":"blocked"},{"name":"app_metadata"}])")}});
  ASSERT_EQ(job.status, 200) << job.body.dump();
  EXPECT_EQ(job.body["format"], "csv");
  auto file = tenant_.ExportFile(job.body["id"].get<std::string>() + ".csv.gz");
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(Gunzip(*file), "user_id,full name,app_metadata.tier,blocked,app_metadata\n" + id +
                               R"(,"Doe, ""JD"" John",gold,,"{""tier"":""gold""}")" + "\n");
}

TEST_F(TenantTest, UsersExportValidation) {
  auto bad_format = Call("POST", "/api/v2/jobs/users-exports", {{"format", "xml"}});
  EXPECT_EQ(bad_format.status, 400);
  EXPECT_EQ(bad_format.body["errorCode"], "invalid_body");
  EXPECT_EQ(Call("POST", "/api/v2/jobs/users-exports", {{"limit", 0}}).status, 400);
  EXPECT_EQ(Call("POST", "/api/v2/jobs/users-exports", {{"limit", "5"}}).status, 400);
  EXPECT_EQ(Call("POST", "/api/v2/jobs/users-exports", {{"fields", {{{"nam", "x"}}}}}).status, 400);
  EXPECT_EQ(Call("POST", "/api/v2/jobs/users-exports", {{"fields", {{{"export_as", "x"}}}}}).status,
            400);
  EXPECT_EQ(Call("POST", "/api/v2/jobs/users-exports", {{"connection_id", "con_nope"}}).status,
            404);
}

}  // namespace
}  // namespace tenantsync::sim
