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

// Auth0: "Setting any value to null will remove the attribute for the user"
// (https://auth0.com/docs/manage-users/user-accounts/user-profiles/root-attributes/update-root-attributes-for-users).
TEST_F(TenantTest, NullRemovesARootAttribute) {
  std::string id = CreateUser("named@example.com", {{"given_name", "Ann"},
                                                    {"family_name", "Example"},
                                                    {"name", "Ann Example"},
                                                    {"nickname", "ann"}});
  auto a = Call("PATCH", "/api/v2/users/" + id,
                {{"given_name", nullptr}, {"family_name", nullptr}, {"name", "Ann"}});
  ASSERT_EQ(a.status, 200) << a.body.dump();
  EXPECT_FALSE(a.body.contains("given_name")) << a.body.dump();
  EXPECT_FALSE(a.body.contains("family_name")) << a.body.dump();
  EXPECT_EQ(a.body["name"], "Ann");
  EXPECT_EQ(a.body["nickname"], "ann");
  auto read = Call("GET", "/api/v2/users/" + id);
  EXPECT_FALSE(read.body.contains("given_name")) << read.body.dump();
  // Null is not a value for the fields that identify the user.
  EXPECT_EQ(Call("PATCH", "/api/v2/users/" + id, {{"email", nullptr}}).status, 400);
}

TEST_F(TenantTest, OrganizationMetadataIsReplacedWhole) {
  std::string id = CreateOrg("acme", {{"metadata", {{"a", "1"}, {"b", "2"}}}});
  auto a = Call("PATCH", "/api/v2/organizations/" + id, {{"metadata", {{"c", "3"}}}});
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.body["metadata"], Json({{"c", "3"}}));
}

// Auth0's update schema types display_name as a string of 1-255 characters and branding as an
// object, neither nullable (token_quota is the one documented as `| null`): a PATCH cannot clear
// them, and the writer must not be tested against a simulator that lets it.
TEST_F(TenantTest, OrganizationDisplayNameAndBrandingCannotBeCleared) {
  std::string id = CreateOrg(
      "acme",
      {{"display_name", "Acme"}, {"branding", {{"logo_url", "https://cdn.example.com/a.png"}}}});
  for (const char* field : {"display_name", "branding"}) {
    SCOPED_TRACE(field);
    auto r = Call("PATCH", "/api/v2/organizations/" + id, {{field, nullptr}});
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.value("message", "").find("found type null"), std::string::npos) << r.body;
  }
  auto empty = Call("PATCH", "/api/v2/organizations/" + id, {{"display_name", ""}});
  EXPECT_EQ(empty.status, 400);
  auto got = Call("GET", "/api/v2/organizations/" + id, nullptr);
  EXPECT_EQ(got.body["display_name"], "Acme");
  EXPECT_EQ(got.body["branding"]["logo_url"], "https://cdn.example.com/a.png");
  auto quota = Call("PATCH", "/api/v2/organizations/" + id, {{"token_quota", nullptr}});
  EXPECT_EQ(quota.status, 200);
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

// Recorded 2026-08: a members page carries "next" only while more follow (until 2026-04 Auth0 also
// put it on the last, short page).
TEST_F(TenantTest, CheckpointPagingOfMembersEndsWithoutNext) {
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
  ASSERT_TRUE(p1.body.contains("next"));
  auto p2 =
      Call("GET", path, nullptr, {{"take", "2"}, {"from", p1.body["next"].get<std::string>()}});
  ASSERT_EQ(p2.body["members"].size(), 1u);
  EXPECT_FALSE(p2.body.contains("next")) << "the last page ends the walk";
  auto exact = Call("GET", path, nullptr, {{"take", "3"}});
  EXPECT_EQ(exact.body["members"].size(), 3u);
  EXPECT_FALSE(exact.body.contains("next"));
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

// The tenant log (docs/AUTH0-SIM.md, "Logs"): what the tenant's own behaviour records, and the
// log reads over it.
TEST_F(TenantTest, ActivityIsLoggedWithAuth0Codes) {
  std::string id = CreateUser("a@example.com");  // sapi + svr (verification email queued)
  auto cp = Call("POST", "/dbconnections/change_password",
                 {{"email", "A@example.com"}, {"connection", kDb}, {"client_id", kClient}}, {}, "");
  ASSERT_EQ(cp.status, 200);
  Json s = tenant_.Login({{"email", "a@example.com"}, {"ip", "198.51.100.4"}});
  EXPECT_EQ(s["type"], "s");
  Json fp = tenant_.Login({{"user_id", id}, {"failure", "fp"}});
  EXPECT_EQ(fp["type"], "fp");
  Json fu = tenant_.Login({{"email", "nobody@example.com"}, {"success", false}});
  EXPECT_EQ(fu["type"], "fu");
  EXPECT_EQ(fu["user_id"], "");
  EXPECT_EQ(Call("PATCH", "/api/v2/users/" + id, {{"blocked", true}}).status, 200);
  EXPECT_EQ(Call("PATCH", "/api/v2/users/auth0|nobody", {{"blocked", true}}).status, 404);
  Json f = tenant_.Login({{"user_id", id}, {"success", true}, {"ip", "198.51.100.5"}});
  EXPECT_EQ(f["type"], "f");
  EXPECT_EQ(f["description"], "user is blocked");

  auto user = Call("GET", "/api/v2/users/" + id);
  EXPECT_EQ(user.body["logins_count"], 1) << user.body.dump();
  EXPECT_EQ(user.body["last_ip"], "198.51.100.4");
  EXPECT_TRUE(user.body["last_login"].is_string());

  // The user's activity, newest first; API operations are not in it (no user_id).
  auto mine = Call("GET", "/api/v2/users/" + id + "/logs");
  ASSERT_EQ(mine.status, 200) << mine.body.dump();
  std::vector<std::string> types;
  for (const auto& e : mine.body) types.push_back(e["type"]);
  EXPECT_EQ(types, std::vector<std::string>({"f", "fp", "s", "scpr", "svr"})) << mine.body.dump();
  for (const auto& e : mine.body) {
    EXPECT_EQ(e["user_name"], "a@example.com") << e.dump();
    EXPECT_EQ(e["connection"], kDb) << e.dump();
    EXPECT_EQ(e["client_id"], kClient) << e.dump();
    EXPECT_EQ(e["client_name"], "auth0-sim management client") << e.dump();
    for (auto k : {"date", "description", "ip", "log_id", "details", "connection_id"})
      EXPECT_TRUE(e.contains(k)) << k << " in " << e.dump();
  }
  EXPECT_EQ(mine.body[0]["ip"], "198.51.100.5");

  // Successful writes only, in the order made, with no body (no password, no secret).
  auto sapi = Call("GET", "/api/v2/logs", nullptr, {{"q", "type:sapi"}, {"sort", "date:1"}});
  ASSERT_EQ(sapi.status, 200) << sapi.body.dump();
  ASSERT_EQ(sapi.body.size(), 2u) << sapi.body.dump();
  EXPECT_EQ(sapi.body[0]["description"], "Create a User");
  EXPECT_EQ(sapi.body[1]["description"], "Update a User");
  EXPECT_EQ(sapi.body[1]["details"]["request"]["path"], "/api/v2/users/" + id);
  EXPECT_EQ(sapi.body[1]["details"]["response"]["statusCode"], 200);
  EXPECT_EQ(sapi.body[1]["user_id"], "");
  auto all = Call("GET", "/api/v2/logs", nullptr, {{"per_page", "100"}});
  EXPECT_EQ(all.body.size(), 8u) << all.body.dump();
  EXPECT_EQ(all.body.dump().find("Sup3r-secret!"), std::string::npos);

  auto logins = Call("GET", "/api/v2/logs", nullptr,
                     {{"q", "type:(s OR f OR fp OR fu) AND user_id:\"" + id + "\""}});
  EXPECT_EQ(logins.body.size(), 3u) << logins.body.dump();
  auto bad = Call("GET", "/api/v2/logs", nullptr, {{"q", "type:s OR type:f"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["errorCode"], "invalid_query_string") << bad.body.dump();
  EXPECT_EQ(bad.body["statusCode"], 400);

  const std::string log_id = mine.body[0]["log_id"];
  auto one = Call("GET", "/api/v2/logs/" + log_id);
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(one.body["type"], "f");
  EXPECT_EQ(Call("GET", "/api/v2/logs/900123").status, 404);
  auto after = Call("GET", "/api/v2/logs", nullptr, {{"from", log_id}});
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, Json::array());

  for (const Json& wrong :
       {Json::array(), Json::object(), Json({{"user_id", id}, {"email", "a@example.com"}}),
        Json({{"user_id", id}, {"failure", "locked"}}), Json({{"user_id", id}, {"success", "no"}}),
        Json({{"user_id", id}, {"success", true}, {"failure", "fp"}}), Json({{"user_id", 7}})}) {
    EXPECT_THROW(tenant_.Login(wrong), std::invalid_argument) << wrong.dump();
  }

  tenant_.Reset();
  EXPECT_EQ(Call("GET", "/api/v2/logs").body, Json::array());
}

}  // namespace
}  // namespace tenantsync::sim

namespace tenantsync::sim {
namespace {

// ---- Objects modelled after the 2026 recordings.

TEST_F(TenantTest, RolesCarryTypeAndReadBackAnEmptyDescription) {
  auto created = Call("POST", "/api/v2/roles", {{"name", "viewer"}});
  ASSERT_EQ(created.status, 200) << created.body.dump();
  EXPECT_EQ(created.body["type"], "tenant");
  EXPECT_FALSE(created.body.contains("description")) << "the create answer echoes what was sent";
  const std::string id = created.body["id"];
  auto read = Call("GET", "/api/v2/roles/" + id);
  EXPECT_EQ(read.body["type"], "tenant");
  EXPECT_EQ(read.body["description"], "");
  auto listed = Call("GET", "/api/v2/roles", nullptr, {{"name_filter", "view"}});
  ASSERT_EQ(listed.body.size(), 1u);
  EXPECT_EQ(listed.body[0]["type"], "tenant");
  auto patched = Call("PATCH", "/api/v2/roles/" + id, {{"description", "reads"}});
  EXPECT_EQ(patched.body["description"], "reads");
  EXPECT_EQ(patched.body["type"], "tenant");
}

TEST_F(TenantTest, NewDatabaseConnectionReportsEveryOptionAndFlag) {
  auto c = Call("POST", "/api/v2/connections", {{"name", "db-two"}, {"strategy", "auth0"}});
  ASSERT_EQ(c.status, 201) << c.body.dump();
  EXPECT_EQ(c.body["authentication"], Json({{"active", true}}));
  EXPECT_EQ(c.body["connected_accounts"], Json({{"active", false}}));
  const Json& methods = c.body["options"]["authentication_methods"];
  EXPECT_EQ(methods["password"],
            Json({{"enabled", true}, {"api_behavior", "required"}, {"signup_behavior", "allow"}}));
  for (const char* m : {"passkey", "email_otp", "phone_otp"}) {
    EXPECT_EQ(methods[m], Json({{"enabled", false}})) << m;
  }
  EXPECT_EQ(c.body["options"]["passkey_options"]["challenge_ui"], "both");
  EXPECT_EQ(c.body["realms"], Json::array({"db-two"}));
}

TEST_F(TenantTest, ConnectionOptionsPatchKeepsAuthenticationMethodsAndEncryptsConfiguration) {
  auto c = Call("POST", "/api/v2/connections",
                {{"name", "db-three"},
                 {"strategy", "auth0"},
                 {"authentication", {{"active", false}}},
                 {"options",
                  {{"authentication_methods", {{"passkey", {{"enabled", true}}}}},
                   {"configuration", {{"api_key", "plain"}}},
                   {"validation", {{"username", {{"min", 3}, {"max", 20}}}}}}}});
  ASSERT_EQ(c.status, 201) << c.body.dump();
  EXPECT_EQ(c.body["authentication"]["active"], false);
  EXPECT_EQ(c.body["options"]["authentication_methods"]["passkey"]["enabled"], true);
  EXPECT_EQ(c.body["options"]["authentication_methods"]["password"]["api_behavior"], "required");
  ASSERT_TRUE(c.body["options"]["configuration"]["api_key"].is_string());
  EXPECT_NE(c.body["options"]["configuration"]["api_key"], "plain") << "answered encrypted";
  const std::string id = c.body["id"];
  auto p = Call("PATCH", "/api/v2/connections/" + id,
                {{"options", {{"passwordPolicy", "fair"}, {"brute_force_protection", false}}}});
  ASSERT_EQ(p.status, 200) << p.body.dump();
  EXPECT_FALSE(p.body["options"].contains("validation")) << "options are replaced whole";
  EXPECT_EQ(p.body["options"]["authentication_methods"]["passkey"]["enabled"], true)
      << "authentication methods survive a PATCH that omits them";
  EXPECT_TRUE(p.body["options"].contains("passkey_options"));
  auto bad = Call("POST", "/api/v2/connections",
                  {{"name", "db-four"}, {"strategy", "auth0"}, {"authentication", {{"on", true}}}});
  EXPECT_EQ(bad.status, 400);
  auto projected = Call("GET", "/api/v2/connections/" + id, nullptr,
                        {{"fields", "strategy,name"}, {"include_fields", "true"}});
  EXPECT_EQ(projected.body, Json({{"id", id},
                                  {"strategy", "auth0"},
                                  {"name", "db-three"},
                                  {"is_domain_connection", false},
                                  {"authentication", {{"active", false}}},
                                  {"connected_accounts", {{"active", false}}}}));
}

TEST_F(TenantTest, ConnectionsPageByCheckpoint) {
  for (const char* n : {"c-one", "c-two"})
    ASSERT_EQ(Call("POST", "/api/v2/connections", {{"name", n}, {"strategy", "auth0"}}).status,
              201);
  // The default connection plus two.
  auto p1 =
      Call("GET", "/api/v2/connections", nullptr, {{"take", "2"}, {"include_totals", "true"}});
  ASSERT_EQ(p1.status, 200) << p1.body.dump();
  ASSERT_EQ(p1.body["connections"].size(), 2u);
  EXPECT_FALSE(p1.body.contains("total")) << "checkpoint pages carry no totals";
  ASSERT_TRUE(p1.body.contains("next"));
  auto p2 = Call("GET", "/api/v2/connections", nullptr,
                 {{"take", "2"}, {"from", p1.body["next"].get<std::string>()}});
  ASSERT_EQ(p2.body["connections"].size(), 1u);
  EXPECT_EQ(p2.body["connections"][0]["name"], "c-two");
  EXPECT_FALSE(p2.body.contains("next"));
}

TEST_F(TenantTest, ClientDefaultsDependOnApplicationType) {
  struct Case {
    Json body;
    bool oidc_conformant;
    size_t grant_types;
    std::string rotation;
    int64_t token_lifetime;
    int64_t idle_lifetime;
    bool third_party_mode;
  };
  const Case cases[] = {
      {{{"name", "plain"}}, false, 4, "non-rotating", 2592000, 1296000, false},
      {{{"name", "m2m"}, {"app_type", "non_interactive"}},
       false,
       4,
       "non-rotating",
       31557600,
       2592000,
       false},
      {{{"name", "spa"}, {"app_type", "spa"}, {"is_first_party", false}},
       true,
       3,
       "rotating",
       2592000,
       1296000,
       true},
  };
  for (const Case& c : cases) {
    auto a = Call("POST", "/api/v2/clients", c.body);
    ASSERT_EQ(a.status, 201) << a.body.dump();
    SCOPED_TRACE(c.body.dump());
    EXPECT_EQ(a.body["oidc_conformant"], c.oidc_conformant);
    EXPECT_EQ(a.body["grant_types"].size(), c.grant_types);
    EXPECT_EQ(a.body["refresh_token"]["rotation_type"], c.rotation);
    EXPECT_EQ(a.body["refresh_token"]["token_lifetime"], c.token_lifetime);
    EXPECT_EQ(a.body["refresh_token"]["idle_token_lifetime"], c.idle_lifetime);
    EXPECT_EQ(a.body.contains("third_party_security_mode"), c.third_party_mode);
  }
}

TEST_F(TenantTest, ClientListFiltersAndPages) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(
        Call("POST", "/api/v2/clients", {{"name", "spa-" + std::to_string(i)}, {"app_type", "spa"}})
            .status,
        201);
  }
  // The simulator's own management client is non_interactive.
  auto spas = Call("GET", "/api/v2/clients", nullptr,
                   {{"app_type", "spa"}, {"include_totals", "true"}, {"per_page", "2"}});
  ASSERT_EQ(spas.status, 200) << spas.body.dump();
  EXPECT_EQ(spas.body["total"], 3);
  EXPECT_EQ(spas.body["clients"].size(), 2u);
  EXPECT_TRUE(spas.body["next"].is_string());
  EXPECT_FALSE(spas.body["next"].get<std::string>().empty()) << "more follow";
  auto last =
      Call("GET", "/api/v2/clients", nullptr,
           {{"app_type", "spa"}, {"include_totals", "true"}, {"page", "1"}, {"per_page", "2"}});
  EXPECT_EQ(last.body["clients"].size(), 1u);
  EXPECT_EQ(last.body["next"], "");
  auto p1 = Call("GET", "/api/v2/clients", nullptr, {{"take", "3"}});
  ASSERT_EQ(p1.body["clients"].size(), 3u);
  auto p2 = Call("GET", "/api/v2/clients", nullptr,
                 {{"take", "3"}, {"from", p1.body["next"].get<std::string>()}});
  ASSERT_EQ(p2.body["clients"].size(), 1u);
  EXPECT_EQ(p2.body["clients"][0]["name"], "spa-2");
  EXPECT_FALSE(p2.body.contains("next"));
}

TEST_F(TenantTest, OrganizationAppEntitlementFields) {
  auto a = Call("POST", "/api/v2/organizations",
                {{"name", "entitled"}, {"is_app_entitlement_active", true}});
  ASSERT_EQ(a.status, 201) << a.body.dump();
  EXPECT_EQ(a.body["third_party_client_access"], "block");
  EXPECT_EQ(a.body["is_app_entitlement_active"], true);
  auto plain = Call("POST", "/api/v2/organizations", {{"name", "plain"}});
  EXPECT_FALSE(plain.body.contains("third_party_client_access"));
  auto bad = Call("POST", "/api/v2/organizations",
                  {{"name", "bad"}, {"third_party_client_access", "maybe"}});
  EXPECT_EQ(bad.status, 400);
  auto p = Call("PATCH", "/api/v2/organizations/" + a.body["id"].get<std::string>(),
                {{"third_party_client_access", "allow"}});
  EXPECT_EQ(p.body["third_party_client_access"], "allow");
}

// ---- /organizations/{id}/connections, the family beside enabled_connections.

class OrgConnectionsTest : public TenantTest {
 protected:
  void SetUp() override {
    org_ = CreateOrg("acme");
    for (const char* n : {"db-a", "db-b", "db-c"}) {
      auto c = Call("POST", "/api/v2/connections", {{"name", n}, {"strategy", "auth0"}});
      ASSERT_EQ(c.status, 201);
      conns_.push_back(c.body["id"]);
    }
  }
  std::string Path(const std::string& suffix = "") {
    return "/api/v2/organizations/" + org_ + "/connections" + suffix;
  }
  std::string org_;
  std::vector<std::string> conns_;
};

TEST_F(OrgConnectionsTest, AddReportsEveryFieldWithDefaults) {
  auto a = Call("POST", Path(), {{"connection_id", conns_[0]}});
  ASSERT_EQ(a.status, 201) << a.body.dump();
  EXPECT_EQ(a.body, Json({{"connection_id", conns_[0]},
                          {"is_signup_enabled", false},
                          {"assign_membership_on_login", false},
                          {"show_as_button", true},
                          {"is_enabled", true},
                          {"organization_access_level", "none"},
                          {"connection", {{"name", "db-a"}, {"strategy", "auth0"}}}}));
  EXPECT_EQ(Call("GET", Path("/" + conns_[0])).body, a.body);
}

TEST_F(OrgConnectionsTest, RefusesWhatAuth0Refuses) {
  struct Case {
    const char* what;
    Json body;
    int status;
  };
  const Case cases[] = {
      {"no connection_id", Json::object(), 400},
      {"unknown key", {{"connection_id", "x"}, {"colour", "red"}}, 400},
      {"non-boolean flag", {{"connection_id", "x"}, {"is_signup_enabled", "yes"}}, 400},
      {"unknown access level", {{"connection_id", "x"}, {"organization_access_level", "all"}}, 400},
      {"unknown connection", {{"connection_id", "con_doesnotexist00"}}, 404},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Call("POST", Path(), c.body).status, c.status) << c.what;
  }
  ASSERT_EQ(Call("POST", Path(), {{"connection_id", conns_[0]}}).status, 201);
  EXPECT_EQ(Call("POST", Path(), {{"connection_id", conns_[0]}}).status, 409);
  EXPECT_EQ(Call("GET", "/api/v2/organizations/org_nope/connections").status, 404);
  EXPECT_EQ(Call("GET", Path("/" + conns_[1])).status, 404);
  EXPECT_EQ(Call("PATCH", Path("/" + conns_[0]), {{"connection_id", conns_[1]}}).status, 400);
}

TEST_F(OrgConnectionsTest, PatchChangesOnlyWhatIsSentAndNullResets) {
  ASSERT_EQ(Call("POST", Path(),
                 {{"connection_id", conns_[0]}, {"organization_access_level", "readonly"}})
                .status,
            201);
  auto p = Call("PATCH", Path("/" + conns_[0]),
                {{"is_signup_enabled", true}, {"assign_membership_on_login", true}});
  ASSERT_EQ(p.status, 200) << p.body.dump();
  EXPECT_EQ(p.body["is_signup_enabled"], true);
  EXPECT_EQ(p.body["assign_membership_on_login"], true);
  EXPECT_EQ(p.body["show_as_button"], true);
  EXPECT_EQ(p.body["organization_access_level"], "readonly");
  auto reset = Call("PATCH", Path("/" + conns_[0]), {{"organization_access_level", nullptr}});
  EXPECT_EQ(reset.body["organization_access_level"], "none");
  EXPECT_EQ(Call("DELETE", Path("/" + conns_[0])).status, 204);
  EXPECT_EQ(Call("DELETE", Path("/" + conns_[0])).status, 404);
}

TEST_F(OrgConnectionsTest, SharesStateWithEnabledConnections) {
  const std::string legacy = "/api/v2/organizations/" + org_ + "/enabled_connections";
  ASSERT_EQ(
      Call("POST", legacy, {{"connection_id", conns_[0]}, {"is_signup_enabled", true}}).status,
      201);
  ASSERT_EQ(Call("POST", Path(), {{"connection_id", conns_[1]}, {"is_enabled", false}}).status,
            201);
  // The newer family sees both; enabled_connections only the enabled one.
  auto all = Call("GET", Path());
  ASSERT_EQ(all.body.size(), 2u);
  EXPECT_EQ(all.body[0]["is_signup_enabled"], true);
  auto enabled = Call("GET", legacy);
  ASSERT_EQ(enabled.body.size(), 1u);
  EXPECT_EQ(enabled.body[0]["connection_id"], conns_[0]);
  EXPECT_EQ(Call("GET", legacy + "/" + conns_[1]).status, 404);
  // A change through one family shows in the other.
  ASSERT_EQ(Call("PATCH", legacy + "/" + conns_[0], {{"show_as_button", false}}).status, 200);
  EXPECT_EQ(Call("GET", Path("/" + conns_[0])).body["show_as_button"], false);
  ASSERT_EQ(Call("PATCH", Path("/" + conns_[1]), {{"is_enabled", true}}).status, 200);
  EXPECT_EQ(Call("GET", legacy).body.size(), 2u);
  ASSERT_EQ(Call("DELETE", legacy + "/" + conns_[0]).status, 204);
  EXPECT_EQ(Call("GET", Path("/" + conns_[0])).status, 404);
  // Deleting the connection removes it from the organization.
  ASSERT_EQ(Call("DELETE", "/api/v2/connections/" + conns_[1]).status, 202);
  EXPECT_TRUE(Call("GET", Path()).body.empty());
}

TEST_F(OrgConnectionsTest, PagesByOffsetAndCheckpointAndFiltersEnabled) {
  for (size_t i = 0; i < conns_.size(); ++i) {
    ASSERT_EQ(Call("POST", Path(), {{"connection_id", conns_[i]}, {"is_enabled", i != 1}}).status,
              201);
  }
  struct Case {
    std::map<std::string, std::string> query;
    std::vector<std::string> ids;
    std::optional<int> total;
  };
  const Case cases[] = {
      {{}, {conns_[0], conns_[1], conns_[2]}, std::nullopt},
      {{{"is_enabled", "true"}}, {conns_[0], conns_[2]}, std::nullopt},
      {{{"is_enabled", "false"}, {"include_totals", "true"}}, {conns_[1]}, 1},
      {{{"per_page", "2"}, {"page", "1"}, {"include_totals", "true"}}, {conns_[2]}, 3},
      {{{"per_page", "2"}, {"page", "5"}, {"include_totals", "true"}}, {}, 3},
  };
  for (const Case& c : cases) {
    auto a = Call("GET", Path(), nullptr, c.query);
    ASSERT_EQ(a.status, 200) << a.body.dump();
    const Json& list = c.total ? a.body["connections"] : a.body;
    std::vector<std::string> ids;
    for (const auto& e : list) ids.push_back(e["connection_id"]);
    EXPECT_EQ(ids, c.ids) << Json(c.query).dump();
    if (c.total) {
      EXPECT_EQ(a.body["total"], *c.total);
      EXPECT_EQ(a.body["start"],
                std::stoi(c.query.count("page") ? c.query.at("page") : "0") *
                    std::stoi(c.query.count("per_page") ? c.query.at("per_page") : "50"));
    }
  }
  EXPECT_EQ(Call("GET", Path(), nullptr, {{"is_enabled", "maybe"}}).status, 400);
  auto p1 = Call("GET", Path(), nullptr, {{"take", "2"}});
  ASSERT_EQ(p1.body["connections"].size(), 2u);
  ASSERT_TRUE(p1.body.contains("next"));
  auto p2 =
      Call("GET", Path(), nullptr, {{"take", "2"}, {"from", p1.body["next"].get<std::string>()}});
  ASSERT_EQ(p2.body["connections"].size(), 1u);
  EXPECT_EQ(p2.body["connections"][0]["connection_id"], conns_[2]);
  EXPECT_FALSE(p2.body.contains("next"));
}

TEST_F(TenantTest, UserOrganizationsTotalIsZeroWhenAPageIsNamed) {
  tenant_.SetIndexLagMs(0);
  std::string uid = CreateUser("orgs@example.com");
  std::string oid = CreateOrg("mine");
  ASSERT_EQ(
      Call("POST", "/api/v2/organizations/" + oid + "/members", {{"members", Json::array({uid})}})
          .status,
      204);
  const std::string path = "/api/v2/users/" + uid + "/organizations";
  auto without = Call("GET", path, nullptr, {{"include_totals", "true"}});
  EXPECT_EQ(without.body["total"], 1);
  auto with = Call("GET", path, nullptr, {{"include_totals", "true"}, {"page", "0"}});
  EXPECT_EQ(with.body["organizations"].size(), 1u);
  EXPECT_EQ(with.body["total"], 0) << "as recorded on 2026-08-13";
}

}  // namespace
}  // namespace tenantsync::sim
