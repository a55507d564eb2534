// Scoped admin tokens (issue 16, docs/ADMIN-API.md "Roles"), over HTTP against the real
// tenantsync binary with a real auth0-sim: what a viewer, an operator and an org-admin may do,
// that an org-admin cannot tell another customer's organization or user from a missing one,
// events submitted through POST /v1/events converging in Auth0, the console's cookie session
// with its CSRF rule, and a token file changed under SIGHUP.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <set>

#include "common/crypto.h"
#include "tests/support/daemon_fixture.h"

namespace tenantsync::testing {
namespace {

using Json = nlohmann::json;

const std::string kClientId = "roles-test-m2m-client-0001";
const std::string kClientSecret = "roles-test-auth0-client-secret-4b1d";
const std::string kViewerToken = "viewer-token-0123456789abcdef";
const std::string kOperatorToken = "operator-token-0123456789abcd";
const std::string kAcmeToken = "acme-admins-token-0123456789ab";

std::string TokensToml() {
  return "\n[[admin.tokens]]\nname = \"watcher\"\ntoken_file = \"viewer-token\"\n"
         "role = \"viewer\"\n"
         "[[admin.tokens]]\nname = \"ops\"\ntoken_file = \"operator-token\"\n"
         "role = \"operator\"\n"
         "[[admin.tokens]]\nname = \"acme-admins\"\ntoken_file = \"acme-token\"\n"
         "role = \"org-admin\"\norganizations = [\"acme\"]\n";
}

class AdminRolesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = std::make_unique<Subprocess>(
        BuildPath("auth0-sim"),
        std::vector<std::string>{"--port", "0", "--domain", "tenant.example.com", "--client-id",
                                 kClientId, "--client-secret", kClientSecret, "--index-lag-ms",
                                 "0"});
    sim_port_ = sim_->WaitForPort();
    ASSERT_GT(sim_port_, 0) << sim_->Output();
    sim_client_ = std::make_unique<TestHttpClient>("127.0.0.1", sim_port_);
    TestDaemonOptions o;
    o.sources[0].secrets = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};
    o.auth0_base_url = "http://127.0.0.1:" + std::to_string(sim_port_);
    o.auth0_client_id = kClientId;
    o.auth0_client_secret = kClientSecret;
    o.application_client_id = kClientId;
    o.extra_toml = "max_retries = 0\n" + TokensToml();
    daemon_ = std::make_unique<TestDaemon>(o);
    WriteToken("viewer-token", kViewerToken);
    WriteToken("operator-token", kOperatorToken);
    WriteToken("acme-token", kAcmeToken);
    ASSERT_TRUE(daemon_->Start()) << daemon_->Output();
    http_ = std::make_unique<TestHttpClient>("127.0.0.1", daemon_->admin_port());
  }

  void TearDown() override {
    http_.reset();
    // No answer carries a token or a password.
    for (const auto& body : bodies_) {
      for (const std::string& secret :
           {kViewerToken, kOperatorToken, kAcmeToken, daemon_->admin_token(), kClientSecret}) {
        EXPECT_EQ(body.find(secret), std::string::npos) << "token in answer: " << body;
      }
    }
  }

  void WriteToken(const std::string& file, const std::string& token) {
    std::ofstream(daemon_->dir() + "/" + file) << token << "\n";
  }

  TestResponse Call(const std::string& token, const std::string& method, const std::string& path,
                    const std::string& body = "", HeaderList headers = {}) {
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    auto r = http_->Send(method, path, body, headers);
    bodies_.push_back(r.body);
    return r;
  }
  TestResponse Submit(const std::string& token, const std::string& type, const Json& data,
                      const std::string& id = "") {
    Json body = {{"type", type}, {"data", data}};
    if (!id.empty()) body["id"] = id;
    return Call(token, "POST", "/v1/events", body.dump());
  }
  static void ExpectError(const TestResponse& r, int status, const std::string& message) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.Json(), Json({{"error", message}})) << r.body;
  }
  static void ExpectErrorMentions(const TestResponse& r, int status, const std::string& part) {
    EXPECT_EQ(r.status, status) << r.body;
    const Json j = Json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j["error"].is_string()) << r.body;
    EXPECT_NE(j["error"].get<std::string>().find(part), std::string::npos) << r.body;
  }

  Json SimState() { return sim_client_->Get("/__sim/state").Json(); }
  // Whether the simulator holds organization `org` with the Auth0 user `user_id` as a member.
  bool SimMember(const std::string& org, const std::string& user_id) {
    const Json orgs = SimState()["organizations"];
    for (const auto& o : orgs) {
      if (o.value("name", "") != org) continue;
      for (const auto& m : o["members"])
        if (m.value("user_id", "") == user_id) return true;
    }
    return false;
  }
  // Waits until user `ext` is created in Auth0 and a member of `org` there; its Auth0 id.
  std::string WaitConverged(const std::string& ext, const std::string& org) {
    std::string id;
    WaitFor([&] {
      auto r = Call(daemon_->admin_token(), "GET", "/v1/users/" + ext);
      if (r.status != 200 || !r.Json()["auth0_id"].is_string()) return false;
      id = r.Json()["auth0_id"].get<std::string>();
      return SimMember(org, id);
    });
    return id;
  }

  // Two customers: organization acme with user u-a1, organization globex with user u-b1, created
  // through POST /v1/events with the admin token and converged in the simulator.
  void TwoCustomers() {
    const std::string admin = daemon_->admin_token();
    for (const std::string org : {"acme", "globex"}) {
      ASSERT_EQ(Submit(admin, "organization.upserted",
                       {{"external_id", org}, {"name", org}, {"display_name", "Org " + org}})
                    .status,
                202);
    }
    ASSERT_EQ(Submit(admin, "user.upserted",
                     {{"external_id", "u-a1"},
                      {"email", "a1@acme.example"},
                      {"organizations", {{{"external_id", "acme"}}}}})
                  .status,
              202);
    ASSERT_EQ(Submit(admin, "user.upserted",
                     {{"external_id", "u-b1"},
                      {"email", "b1@globex.example"},
                      {"organizations", {{{"external_id", "globex"}}}}})
                  .status,
              202);
    ASSERT_FALSE(WaitConverged("u-a1", "acme").empty()) << daemon_->Output();
    ASSERT_FALSE(WaitConverged("u-b1", "globex").empty()) << daemon_->Output();
  }

  std::unique_ptr<Subprocess> sim_;
  int sim_port_ = 0;
  std::unique_ptr<TestHttpClient> sim_client_, http_;
  std::unique_ptr<TestDaemon> daemon_;
  std::vector<std::string> bodies_;
};

TEST_F(AdminRolesTest, ViewerReadsButChangesNothing) {
  EXPECT_EQ(Call(kViewerToken, "GET", "/v1/status").status, 200);
  EXPECT_EQ(Call(kViewerToken, "GET", "/v1/events?source=console").status, 200);
  ExpectError(Call(kViewerToken, "POST", "/v1/pause"), 403,
              "forbidden: viewer may not pause the writer");
  ExpectError(Call(kViewerToken, "POST", "/v1/events/msg_1/replay"), 403,
              "forbidden: viewer may not replay events");
  ExpectError(Call(kViewerToken, "POST", "/v1/mutations/1/retry"), 403,
              "forbidden: viewer may not retry this mutation");
  ExpectError(Submit(kViewerToken, "organization.upserted", {{"external_id", "acme"}}), 403,
              "forbidden: viewer may not submit events");
  EXPECT_EQ(Call(daemon_->admin_token(), "GET", "/v1/status").Json()["paused"], false);
  auto who = Call(kViewerToken, "GET", "/v1/whoami");
  ASSERT_EQ(who.status, 200);
  EXPECT_EQ(who.Json()["name"], "watcher");
  EXPECT_EQ(who.Json()["role"], "viewer");
}

TEST_F(AdminRolesTest, OperatorPausesButMayNotApproveTheGuardOrRunDrift) {
  auto paused = Call(kOperatorToken, "POST", "/v1/pause");
  EXPECT_EQ(paused.status, 200) << paused.body;
  EXPECT_EQ(Call(kViewerToken, "GET", "/v1/status").Json()["paused"], true);
  EXPECT_EQ(Call(kOperatorToken, "POST", "/v1/resume").status, 200);
  ExpectError(Call(kOperatorToken, "POST", "/v1/guard/approve"), 403,
              "forbidden: operator may not approve the guard");
  ExpectError(Call(kOperatorToken, "POST", "/v1/drift/run"), 403,
              "forbidden: operator may not run drift detection");
  // The admin token may (the guard is not tripped: 409, past the role check).
  EXPECT_EQ(Call(daemon_->admin_token(), "POST", "/v1/guard/approve").status, 409);
  // An operator submits events; they carry its token's name.
  auto r = Submit(kOperatorToken, "organization.upserted",
                  {{"external_id", "initech"}, {"name", "initech"}}, "op-evt-1");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.Json(), Json({{"status", "accepted"}, {"event_id", "op-evt-1"}, {"error", nullptr}}));
  auto e = Call(kViewerToken, "GET", "/v1/events/op-evt-1");
  ASSERT_EQ(e.status, 200) << e.body;
  EXPECT_EQ(e.Json()["source"], "console");
  EXPECT_EQ(e.Json()["submitted_by"], "ops");
  // The same id again is a duplicate, like a webhook delivered twice.
  EXPECT_EQ(Submit(kOperatorToken, "organization.upserted",
                   {{"external_id", "initech"}, {"name", "initech"}}, "op-evt-1")
                .Json()["status"],
            "duplicate");
  // "console" is a source like the configured ones.
  bool listed = false;
  auto sources = Call(kViewerToken, "GET", "/v1/sources");
  const Json list = sources.Json()["sources"];
  for (const auto& s : list) listed = listed || s["name"] == "console";
  EXPECT_TRUE(listed) << sources.body;
}

TEST_F(AdminRolesTest, OrgAdminSeesOnlyItsOrganizationAndItsMembers) {
  ASSERT_NO_FATAL_FAILURE(TwoCustomers());
  // Another customer's organization and user answer exactly like missing ones.
  ExpectError(Call(kAcmeToken, "GET", "/v1/organizations/globex"), 404,
              "no organization with external_id \"globex\"");
  ExpectError(Call(kAcmeToken, "GET", "/v1/organizations/no-such-org"), 404,
              "no organization with external_id \"no-such-org\"");
  ExpectError(Call(kAcmeToken, "GET", "/v1/users/u-b1"), 404, "no user with external_id \"u-b1\"");
  auto acme = Call(kAcmeToken, "GET", "/v1/organizations/acme");
  ASSERT_EQ(acme.status, 200) << acme.body;
  EXPECT_EQ(acme.Json()["members"], Json::parse(R"([{"external_id": "u-a1", "roles": []}])"))
      << acme.body;
  EXPECT_EQ(acme.Json()["members_truncated"], false);
  auto user = Call(kAcmeToken, "GET", "/v1/users/u-a1");
  ASSERT_EQ(user.status, 200) << user.body;
  EXPECT_EQ(user.Json()["desired"]["email"], "a1@acme.example");

  // Lists: only acme and its member.
  auto orgs = Call(kAcmeToken, "GET", "/v1/organizations").Json();
  ASSERT_EQ(orgs["organizations"].size(), 1u) << orgs.dump();
  EXPECT_EQ(orgs["organizations"][0]["external_id"], "acme");
  EXPECT_EQ(orgs["organizations"][0]["converged"], true) << orgs.dump();
  auto users = Call(kAcmeToken, "GET", "/v1/users").Json();
  ASSERT_EQ(users["users"].size(), 1u) << users.dump();
  EXPECT_EQ(users["users"][0]["external_id"], "u-a1");
  EXPECT_EQ(users["users"][0]["organizations"], Json({"acme"}));
  EXPECT_EQ(Call(kAcmeToken, "GET", "/v1/users?q=globex").Json()["users"].size(), 0u);
  // The admin sees both, and searches by email.
  EXPECT_EQ(Call(daemon_->admin_token(), "GET", "/v1/users").Json()["users"].size(), 2u);
  auto found = Call(kViewerToken, "GET", "/v1/users?q=GLOBEX.exa").Json()["users"];
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]["external_id"], "u-b1");

  auto events = Call(kAcmeToken, "GET", "/v1/events").Json()["events"];
  std::set<std::string> types;
  for (const auto& e : events) {
    auto one = Call(kAcmeToken, "GET", "/v1/events/" + e["event_id"].get<std::string>());
    ASSERT_EQ(one.status, 200);
    const std::string ext = one.Json()["body"]["data"]["external_id"];
    EXPECT_TRUE(ext == "acme" || ext == "u-a1") << one.body;
    types.insert(e["type"].get<std::string>());
  }
  EXPECT_EQ(types, (std::set<std::string>{"organization.upserted", "user.upserted"}));
  EXPECT_EQ(events.size(), 2u);
  const Json mutations = Call(kAcmeToken, "GET", "/v1/mutations").Json()["mutations"];
  for (const auto& m : mutations) {
    const std::string entity = m["entity"];
    EXPECT_TRUE(entity == "org:acme" || entity == "members:acme" || entity == "user:u-a1")
        << entity;
  }
  EXPECT_GT(mutations.size(), 0u);

  // Nothing tenant-wide.
  ExpectError(Call(kAcmeToken, "GET", "/v1/status"), 403,
              "forbidden: org-admin may not read the status");
  ExpectError(Call(kAcmeToken, "GET", "/metrics"), 403,
              "forbidden: org-admin may not read the metrics");
  ExpectError(Call(kAcmeToken, "GET", "/v1/plan"), 403,
              "forbidden: org-admin may not read the plan");
  ExpectError(Call(kAcmeToken, "POST", "/v1/pause"), 403,
              "forbidden: org-admin may not pause the writer");
  ExpectError(Call(kAcmeToken, "GET", "/v1/sources"), 403,
              "forbidden: org-admin may not read the sources");
}

TEST_F(AdminRolesTest, OrgAdminSubmitsOnlyWithinItsOrganizations) {
  ASSERT_NO_FATAL_FAILURE(TwoCustomers());
  auto r = Submit(kAcmeToken, "user.upserted",
                  {{"external_id", "u-a2"},
                   {"email", "a2@acme.example"},
                   {"given_name", "Ada"},
                   {"organizations", {{{"external_id", "acme"}, {"roles", Json::array()}}}}});
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string id = r.Json()["event_id"];
  EXPECT_EQ(id.rfind("console-", 0), 0u) << id;
  ASSERT_FALSE(WaitConverged("u-a2", "acme").empty()) << daemon_->Output();
  auto stored = Call(kAcmeToken, "GET", "/v1/events/" + id).Json();
  EXPECT_EQ(stored["submitted_by"], "acme-admins");
  EXPECT_EQ(stored["state"], "applied");

  ExpectErrorMentions(
      Submit(kAcmeToken, "user.upserted",
             {{"external_id", "u-a3"},
              {"email", "a3@acme.example"},
              {"organizations", {{{"external_id", "acme"}}, {{"external_id", "globex"}}}}}),
      403, "organization \"globex\" is not one of your organizations");
  // Another customer's existing user: refused without naming that customer.
  auto other = Submit(kAcmeToken, "user.upserted",
                      {{"external_id", "u-b1"}, {"organizations", {{{"external_id", "acme"}}}}});
  ExpectErrorMentions(other, 403, "forbidden: ");
  EXPECT_EQ(other.body.find("globex"), std::string::npos) << other.body;
  ExpectError(Submit(kAcmeToken, "organization.deleted", {{"external_id", "acme"}}), 403,
              "forbidden: org-admin may not delete organizations");
  ExpectErrorMentions(Submit(kAcmeToken, "organization.upserted", {{"external_id", "globex"}}), 403,
                      "organization \"globex\" is not one of your organizations");
  ExpectError(Submit(kAcmeToken, "user.upserted",
                     {{"external_id", "u-a1"}, {"user_metadata", {{"password", "hunter2"}}}}),
              400, "password is not accepted; send user.password_reset_requested");
  // Validated like a webhook, with the same message.
  ExpectErrorMentions(Submit(kAcmeToken, "user.upserted", {{"external_id", "u-a1"}, {"nme", "x"}}),
                      400, "data.nme");
  ExpectErrorMentions(Submit(kAcmeToken, "user.exploded", {{"external_id", "u-a1"}}), 400,
                      "unknown event type");
  // Its own organization may be edited; globex is untouched.
  EXPECT_EQ(Submit(kAcmeToken, "organization.upserted",
                   {{"external_id", "acme"}, {"display_name", "Acme Corporation"}})
                .status,
            202);
  // Nothing of the refused events reached the inbox.
  const Json console =
      Call(daemon_->admin_token(), "GET", "/v1/events?source=console&limit=100").Json()["events"];
  for (const auto& e : console) {
    EXPECT_NE(e["state"], "rejected") << e.dump();
  }
}

TEST_F(AdminRolesTest, CookieSessionNeedsTheCsrfTokenForChanges) {
  // Sign-in: a wrong token sets no cookie.
  auto wrong = Call("", "POST", "/v1/session", Json({{"token", "not-a-token-at-all-000"}}).dump());
  ExpectError(wrong, 401, "wrong token");
  EXPECT_EQ(wrong.Header("set-cookie"), "");

  auto in = Call("", "POST", "/v1/session", Json({{"token", kOperatorToken}}).dump());
  ASSERT_EQ(in.status, 200) << in.body;
  const std::string csrf = crypto::HexEncode(crypto::HmacSha256(kOperatorToken, "tenantsync-csrf"));
  EXPECT_EQ(in.Json(), Json({{"name", "ops"},
                             {"role", "operator"},
                             {"organizations", Json::array()},
                             {"csrf", csrf}}));
  EXPECT_EQ(in.Header("set-cookie"),
            "ts_session=" + kOperatorToken + "; Path=/; HttpOnly; SameSite=Strict");
  const HeaderList cookie = {{"Cookie", "theme=dark; ts_session=" + kOperatorToken}};

  auto who = Call("", "GET", "/v1/whoami", "", cookie);
  ASSERT_EQ(who.status, 200) << who.body;
  EXPECT_EQ(who.Json()["csrf"], csrf);
  EXPECT_EQ(Call("", "GET", "/v1/status", "", cookie).status, 200);

  ExpectError(Call("", "POST", "/v1/pause", "", cookie), 403, "CSRF token missing or wrong");
  HeaderList bad = cookie;
  bad.emplace_back("X-CSRF-Token", std::string(64, '0'));
  ExpectError(Call("", "POST", "/v1/pause", "", bad), 403, "CSRF token missing or wrong");
  EXPECT_EQ(Call(daemon_->admin_token(), "GET", "/v1/status").Json()["paused"], false);
  HeaderList good = cookie;
  good.emplace_back("X-CSRF-Token", csrf);
  EXPECT_EQ(Call("", "POST", "/v1/pause", "", good).status, 200);
  EXPECT_EQ(Call(daemon_->admin_token(), "GET", "/v1/status").Json()["paused"], true);
  // The CSRF token of another session does not do.
  HeaderList foreign = cookie;
  foreign.emplace_back("X-CSRF-Token",
                       crypto::HexEncode(crypto::HmacSha256(kViewerToken, "tenantsync-csrf")));
  ExpectError(Call("", "POST", "/v1/resume", "", foreign), 403, "CSRF token missing or wrong");
  // A bearer token needs none.
  EXPECT_EQ(Call(kOperatorToken, "POST", "/v1/resume").status, 200);

  auto out = Call("", "DELETE", "/v1/session", "", cookie);
  EXPECT_EQ(out.status, 204);
  EXPECT_EQ(out.Header("set-cookie"), "ts_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
  // A cookie with no valid token is no session.
  ExpectError(Call("", "GET", "/v1/whoami", "", {{"Cookie", "ts_session=forged-value-00000000"}}),
              401, "unauthorized");
}

TEST_F(AdminRolesTest, SighupReloadsAChangedTokenFile) {
  ASSERT_EQ(Call(kViewerToken, "GET", "/v1/status").status, 200);
  const std::string rotated = "viewer-token-rotated-9876543210";
  WriteToken("viewer-token", rotated);
  auto reloads = [&] {
    const std::string out = daemon_->Output();
    size_t n = 0;
    for (size_t at = out.find("configuration reloaded"); at != std::string::npos;
         at = out.find("configuration reloaded", at + 1))
      ++n;
    return n;
  };
  const size_t before = reloads();
  daemon_->process()->Signal(SIGHUP);
  ASSERT_TRUE(WaitFor([&] { return reloads() > before; })) << daemon_->Output();
  ExpectError(Call(kViewerToken, "GET", "/v1/status"), 401, "unauthorized");
  auto now = Call(rotated, "GET", "/v1/whoami");
  ASSERT_EQ(now.status, 200) << now.body;
  EXPECT_EQ(now.Json()["name"], "watcher");
  EXPECT_EQ(now.body.find(rotated), std::string::npos);

  // A reload that would give two entries the same token is refused as a whole: both keep working.
  WriteToken("operator-token", rotated);
  const std::string refused = "reload refused";
  daemon_->process()->Signal(SIGHUP);
  ASSERT_TRUE(WaitFor([&] { return daemon_->Output().find(refused) != std::string::npos; }))
      << daemon_->Output();
  EXPECT_NE(daemon_->Output().find("holds the same token as"), std::string::npos);
  EXPECT_EQ(Call(kOperatorToken, "GET", "/v1/whoami").Json()["name"], "ops");
  EXPECT_EQ(Call(rotated, "GET", "/v1/whoami").Json()["name"], "watcher");
}

}  // namespace
}  // namespace tenantsync::testing
