// SCIM 2.0 end to end (issue 18): real `tenantsync serve` with two SCIM sources and a real
// auth0-sim. Replays the request sequences Okta and Entra document (create, update, deactivate,
// group membership; Entra's BulkRequest matched by externalId), checks the errors, and at the end
// hands every answer to an independent implementation (npm scimmy, installed into a temp
// directory) that validates them against RFC 7643's schemas.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "tests/integration/reconcile_support.h"

#ifndef SCIM_CONFORMANCE_SCRIPT
#error "SCIM_CONFORMANCE_SCRIPT must name tests/integration/scim_conformance.mjs"
#endif

namespace tenantsync::testing::reconcile {
namespace {

constexpr const char* kOktaToken = "okta-scim-token-0123456789abcdef";
constexpr const char* kEntraToken = "entra-scim-token-0123456789abcdef";

std::string Encode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

class ScimE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sim_ = new Sim();
    ASSERT_TRUE(sim_->ok());
    sim_->CreateRole("admin");
    TestDaemonOptions o = DaemonFor(*sim_);
    TestSource okta;
    okta.name = "okta";
    okta.scheme = "scim";
    okta.secrets = {kOktaToken};
    okta.extra_toml = "scim_role_map = { admin = \"admin\" }\n";
    TestSource entra;
    entra.name = "entra";
    entra.scheme = "scim";
    entra.secrets = {kEntraToken};
    o.sources = {okta, entra};
    daemon_ = new TestDaemon(o);
    ASSERT_TRUE(daemon_->Start()) << daemon_->Output();
    http_ = new TestHttpClient("127.0.0.1", daemon_->ingress_port(), 30);
  }
  static void TearDownTestSuite() {
    delete http_;
    delete daemon_;
    delete sim_;
  }

  // A SCIM call; the answer's JSON is kept for the conformance check under `kind`.
  static TestResponse Call(const std::string& method, const std::string& path,
                           const Json& body = nullptr, const std::string& kind = "",
                           const std::string& token = "") {
    HeaderList headers;
    const std::string t = !token.empty()                         ? token
                          : path.rfind("/scim/v2/entra", 0) == 0 ? kEntraToken
                                                                 : kOktaToken;
    if (t != "-") headers.push_back({"Authorization", "Bearer " + t});
    auto r = http_->Send(method, path, body.is_null() ? "" : body.dump(), headers,
                         "application/scim+json");
    if (r.status != 204) {
      Json j = Json::parse(r.body, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << method << " " << path << ": " << r.body;
      EXPECT_EQ(r.Header("content-type").rfind("application/scim+json", 0), 0u) << path;
      answers_.push_back({{"kind", r.status >= 400 ? std::string("Error") : kind},
                          {"what", method + " " + path + " → " + std::to_string(r.status)},
                          {"body", j}});
    }
    return r;
  }

  static Json Tenant() { return Normalize(sim_->State()); }
  static std::vector<std::string> EventTypes(const std::string& source) {
    SQLite::Database db(daemon_->db_path(), SQLite::OPEN_READONLY);
    SQLite::Statement q(db, "SELECT type FROM events WHERE source = ? ORDER BY seq");
    q.bind(1, source);
    std::vector<std::string> out;
    while (q.executeStep()) out.push_back(q.getColumn(0).getString());
    return out;
  }

  static Sim* sim_;
  static TestDaemon* daemon_;
  static TestHttpClient* http_;
  static Json answers_;
};
Sim* ScimE2E::sim_ = nullptr;
TestDaemon* ScimE2E::daemon_ = nullptr;
TestHttpClient* ScimE2E::http_ = nullptr;
Json ScimE2E::answers_ = Json::array();

TEST_F(ScimE2E, DiscoveryDocuments) {
  auto spc = Call("GET", "/scim/v2/okta/ServiceProviderConfig", nullptr, "ServiceProviderConfig");
  ASSERT_EQ(spc.status, 200) << spc.body;
  EXPECT_EQ(spc.Json()["patch"]["supported"], true);
  EXPECT_GE(spc.Json()["bulk"]["maxOperations"].get<int>(), 50);  // Entra sends up to 50
  EXPECT_EQ(Call("GET", "/scim/v2/okta/ResourceTypes", nullptr, "ResourceTypes").status, 200);
  EXPECT_EQ(Call("GET", "/scim/v2/okta/Schemas", nullptr, "Schemas").status, 200);
}

// Okta's SCIM 2.0 request sequence (developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20).
TEST_F(ScimE2E, OktaSequenceProvisionsIntoAuth0) {
  // 1. Does the user exist? An empty list, not a 404.
  const std::string lookup =
      "/scim/v2/okta/Users?filter=" + Encode("userName eq \"ada@example.com\"") +
      "&startIndex=1&count=100";
  auto none = Call("GET", lookup, nullptr, "ListUser");
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_EQ(none.Json()["totalResults"], 0);
  EXPECT_EQ(none.Json()["Resources"].size(), 0u);

  // 2. Create (Okta sends a password and an empty groups list; neither is kept).
  Json create = {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:User"}},
                 {"userName", "ada@example.com"},
                 {"name", {{"givenName", "Ada"}, {"familyName", "Lovelace"}}},
                 {"emails", {{{"primary", true}, {"value", "ada@example.com"}, {"type", "work"}}}},
                 {"displayName", "Ada Lovelace"},
                 {"locale", "en-US"},
                 {"externalId", "00u1ada"},
                 {"roles", {{{"value", "admin"}}}},
                 {"groups", Json::array()},
                 {"password", "t1meMa$heen"},
                 {"active", true}};
  auto created = Call("POST", "/scim/v2/okta/Users", create, "User");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = created.Json()["id"];
  EXPECT_EQ(created.Header("location"), created.Json()["meta"]["location"]);
  EXPECT_EQ(created.body.find("t1meMa$heen"), std::string::npos);

  // A GET right after the POST shows it; the lookup finds it now.
  auto got = Call("GET", "/scim/v2/okta/Users/" + id, nullptr, "User");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.Json()["userName"], "ada@example.com");
  EXPECT_EQ(Call("GET", lookup, nullptr, "ListUser").Json()["totalResults"], 1);
  // The same userName again: 409 uniqueness.
  auto dup = Call("POST", "/scim/v2/okta/Users", create);
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(dup.Json()["scimType"], "uniqueness");

  // 3. Push a group and its membership (POST /Groups, PATCH members).
  auto group = Call("POST", "/scim/v2/okta/Groups",
                    {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:Group"}},
                     {"displayName", "Acme Sales"},
                     {"externalId", "00g1sales"},
                     {"members", Json::array()}},
                    "Group");
  ASSERT_EQ(group.status, 201) << group.body;
  const std::string gid = group.Json()["id"];
  auto add = Call("PATCH", "/scim/v2/okta/Groups/" + gid,
                  {{"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
                   {"Operations",
                    {{{"op", "add"},
                      {"path", "members"},
                      {"value", {{{"value", id}, {"display", "ada@example.com"}}}}}}}},
                  "Group");
  ASSERT_EQ(add.status, 200) << add.body;
  EXPECT_EQ(add.Json()["members"].size(), 1u);
  WaitConverged(*daemon_);
  Json t = Tenant();
  ASSERT_TRUE(t["users"].contains("ada@example.com")) << t.dump();
  EXPECT_EQ(t["users"]["ada@example.com"]["given_name"], "Ada");
  ASSERT_TRUE(t["organizations"].contains("acme-sales")) << t.dump();
  EXPECT_EQ(t["organizations"]["acme-sales"]["display_name"], "Acme Sales");
  EXPECT_EQ(t["organizations"]["acme-sales"]["members"]["ada@example.com"], Json({"admin"}));

  // 4. Deactivate: PATCH without path (Okta never sends DELETE) blocks the user.
  auto off = Call("PATCH", "/scim/v2/okta/Users/" + id,
                  {{"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
                   {"Operations", {{{"op", "replace"}, {"value", {{"active", false}}}}}}},
                  "User");
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(off.Json()["active"], false);
  WaitConverged(*daemon_);
  EXPECT_EQ(Tenant()["users"]["ada@example.com"]["blocked"], true);

  // 5. Reactivate.
  auto on = Call("PATCH", "/scim/v2/okta/Users/" + id,
                 {{"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
                  {"Operations", {{{"op", "replace"}, {"value", {{"active", true}}}}}}},
                 "User");
  ASSERT_EQ(on.status, 200) << on.body;
  WaitConverged(*daemon_);
  EXPECT_NE(Tenant()["users"]["ada@example.com"]["blocked"], true);

  // 6. Remove the member by value filter: the membership goes.
  auto rm =
      Call("PATCH", "/scim/v2/okta/Groups/" + gid,
           {{"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
            {"Operations", {{{"op", "remove"}, {"path", "members[value eq \"" + id + "\"]"}}}}},
           "Group");
  ASSERT_EQ(rm.status, 200) << rm.body;
  WaitConverged(*daemon_);
  t = Tenant();
  EXPECT_FALSE(t["organizations"]["acme-sales"]["members"].contains("ada@example.com")) << t.dump();

  // Every accepted write is in the inbox as an event of the source, in request order.
  const std::vector<std::string> want = {"user.upserted", "organization.upserted", "user.upserted",
                                         "user.blocked",  "user.unblocked",        "user.upserted"};
  EXPECT_EQ(EventTypes("okta"), want);
  auto listed = daemon_->AdminGet("/v1/events?source=okta");
  EXPECT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.body.find("t1meMa$heen"), std::string::npos);
}

// Entra's API-driven inbound provisioning BulkRequest (learn.microsoft.com/graph/api/
// synchronization-synchronizationjob-post-bulkupload): every operation POST /Users, matched by
// externalId.
TEST_F(ScimE2E, EntraBulkRequestMatchedByExternalId) {
  auto op = [](const std::string& number, const std::string& email, const std::string& dept,
               bool active) {
    return Json{{"method", "POST"},
                {"bulkId", number},
                {"path", "/Users"},
                {"data",
                 {{"schemas",
                   {"urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}},
                  {"externalId", number},
                  {"userName", email},
                  {"name", {{"givenName", "Barbara"}, {"familyName", "Jensen"}}},
                  {"displayName", "Babs Jensen"},
                  {"emails", {{{"value", email}, {"type", "work"}, {"primary", true}}}},
                  {"active", active},
                  {"title", "Tour Guide"},
                  {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                   {{"employeeNumber", number},
                    {"department", dept},
                    {"manager", {{"value", "89607"}}}}}}}};
  };
  auto bulk = [&](Json ops) {
    return Json{{"schemas", {"urn:ietf:params:scim:api:messages:2.0:BulkRequest"}},
                {"Operations", ops},
                {"failOnErrors", nullptr}};
  };
  auto first = Call("POST", "/scim/v2/entra/Bulk",
                    bulk({op("701984", "bjensen@example.com", "Tour Operations", true),
                          op("701985", "jsmith@example.com", "Tour Operations", true)}),
                    "BulkResponse");
  ASSERT_EQ(first.status, 200) << first.body;
  for (auto& r : first.Json()["Operations"]) EXPECT_EQ(r["status"], "201") << first.body;
  // The same records again, one moved and one disabled: updates of the same users.
  auto second = Call("POST", "/scim/v2/entra/Bulk",
                     bulk({op("701984", "bjensen@example.com", "Finance", true),
                           op("701985", "jsmith@example.com", "Tour Operations", false)}),
                     "BulkResponse");
  ASSERT_EQ(second.status, 200) << second.body;
  for (auto& r : second.Json()["Operations"]) EXPECT_EQ(r["status"], "200") << second.body;
  auto found = Call("GET", "/scim/v2/entra/Users?filter=" + Encode("externalId eq \"701984\""),
                    nullptr, "ListUser");
  ASSERT_EQ(found.Json()["totalResults"], 1) << found.body;
  EXPECT_EQ(
      found.Json()["Resources"][0]["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
                  ["department"],
      "Finance");
  WaitConverged(*daemon_);
  Json t = Tenant();
  ASSERT_TRUE(t["users"].contains("bjensen@example.com")) << t.dump();
  EXPECT_EQ(t["users"]["bjensen@example.com"]["app_metadata"]["department"], "Finance");
  EXPECT_EQ(t["users"]["bjensen@example.com"]["app_metadata"]["employee_number"], "701984");
  EXPECT_EQ(t["users"]["jsmith@example.com"]["blocked"], true);
  EXPECT_NE(t["users"]["bjensen@example.com"]["blocked"], true);

  // Over maxOperations: 413 and nothing stored.
  const size_t before = EventTypes("entra").size();
  Json many = Json::array();
  for (int i = 0; i < 101; ++i)
    many.push_back(op("9" + std::to_string(i), "u" + std::to_string(i) + "@x.com", "D", true));
  EXPECT_EQ(Call("POST", "/scim/v2/entra/Bulk", bulk(many)).status, 413);
  EXPECT_EQ(EventTypes("entra").size(), before);
}

TEST_F(ScimE2E, ErrorsUseTheScimErrorSchema) {
  // Missing and wrong token: 401, nothing about the token in the answer.
  auto missing = Call("GET", "/scim/v2/okta/Users", nullptr, "", "-");
  EXPECT_EQ(missing.status, 401);
  auto wrong = Call("GET", "/scim/v2/okta/Users", nullptr, "", kEntraToken);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.body.find(kEntraToken), std::string::npos);
  // Unsupported filter: 400 invalidFilter.
  auto bad = Call("GET", "/scim/v2/okta/Users?filter=" + Encode("userName sw \"a\""));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Json()["scimType"], "invalidFilter");
  // Unknown id: 404. Body not JSON: 400 invalidSyntax.
  EXPECT_EQ(Call("GET", "/scim/v2/okta/Users/nope").status, 404);
  auto syntax = http_->Send("POST", "/scim/v2/okta/Users", "{not json",
                            {{"Authorization", std::string("Bearer ") + kOktaToken}},
                            "application/scim+json");
  EXPECT_EQ(syntax.status, 400);
  EXPECT_EQ(syntax.Json()["scimType"], "invalidSyntax");
  // Two SCIM sources: a path without the source name is ambiguous.
  EXPECT_EQ(Call("GET", "/scim/v2/Users").status, 404);
  // A SCIM source takes no webhooks.
  EXPECT_EQ(
      daemon_->PostEvent("okta", "m1", EventBody("user.upserted", {{"external_id", "x"}})).status,
      401);
}

// Runs last: every answer above, validated by an independent SCIM implementation.
TEST_F(ScimE2E, ZAnswersConformToRfc7643PerScimmy) {
  ASSERT_GT(answers_.size(), 20u);
  const std::string dir = daemon_->dir() + "/scimmy";
  const std::string install = "npm install --silent --no-audit --no-fund --prefix '" + dir +
                              "' scimmy > '" + dir + ".log' 2>&1";
  std::system(("mkdir -p '" + dir + "'").c_str());
  if (std::system(install.c_str()) != 0) {
    GTEST_SKIP() << "npm could not install scimmy (offline?); see " << dir << ".log";
  }
  std::system(("cp '" SCIM_CONFORMANCE_SCRIPT "' '" + dir + "/check.mjs'").c_str());
  std::ofstream(dir + "/answers.json") << answers_.dump();
  const std::string run =
      "node '" + dir + "/check.mjs' '" + dir + "/answers.json' > '" + dir + "/out.txt' 2>&1";
  const int rc = std::system(run.c_str());
  std::ifstream in(dir + "/out.txt");
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("answers conform"), std::string::npos) << out;
}

}  // namespace
}  // namespace tenantsync::testing::reconcile
