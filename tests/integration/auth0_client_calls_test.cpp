// Auth0Client against auth0-sim over real HTTP: every typed call succeeds, and each request body
// has the keys that real Auth0 accepted for the same operation (shared/fixtures/auth0-recordings).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "adapters/auth0/auth0_client.h"
#include "tests/integration/sim_control.h"
#include "tests/support/subprocess.h"

namespace tenantsync {
namespace {

using testing::BuildPath;
using testing::SharedDir;
using testing::Subprocess;

constexpr char kDomain[] = "tenant.test.local";
constexpr char kClientId[] = "m2m-client-id";
constexpr char kSecret[] = "sim-client-secret-value";

// Records every exchange that passes through it (the leveldb-style decorator around Env).
class RecordingTransport final : public HttpTransport {
 public:
  explicit RecordingTransport(std::unique_ptr<HttpTransport> inner) : inner_(std::move(inner)) {}
  HttpResponse Send(const HttpRequest& req) override {
    HttpResponse resp = inner_->Send(req);
    std::lock_guard<std::mutex> l(mu_);
    log_.push_back({req, resp});
    return resp;
  }
  struct Exchange {
    HttpRequest request;
    HttpResponse response;
  };
  std::vector<Exchange> Log() {
    std::lock_guard<std::mutex> l(mu_);
    return log_;
  }
  void Clear() {
    std::lock_guard<std::mutex> l(mu_);
    log_.clear();
  }

 private:
  std::unique_ptr<HttpTransport> inner_;
  std::mutex mu_;
  std::vector<Exchange> log_;
};

bool FileExists(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0;
}

std::set<std::string> FormKeys(const std::string& body) {
  std::set<std::string> keys;
  std::stringstream ss(body);
  std::string kv;
  while (std::getline(ss, kv, '&')) keys.insert(kv.substr(0, kv.find('=')));
  return keys;
}

// Keys of a JSON object body, or of the objects in a JSON array body; form keys for a form body.
std::set<std::string> BodyKeys(const std::string& body, const std::string& content_type) {
  std::set<std::string> keys;
  if (content_type.find("x-www-form-urlencoded") != std::string::npos) return FormKeys(body);
  Json j = Json::parse(body, nullptr, false);
  if (j.is_object()) {
    for (auto& [k, v] : j.items()) keys.insert(k);
  } else if (j.is_array()) {
    for (auto& e : j) {
      if (e.is_object()) {
        for (auto& [k, v] : e.items()) keys.insert(k);
      }
    }
  }
  return keys;
}

std::set<std::string> QueryKeys(const std::string& target_or_query) {
  auto q = target_or_query.find('?');
  return FormKeys(q == std::string::npos ? target_or_query : target_or_query.substr(q + 1));
}

class SimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string sim = BuildPath("auth0-sim");
    if (!FileExists(sim)) GTEST_SKIP() << "auth0-sim not built at " << sim;
    process_ = std::make_unique<Subprocess>(
        sim, std::vector<std::string>{"--port", "0", "--domain", kDomain, "--client-id", kClientId,
                                      "--client-secret", kSecret, "--seed", "7"});
    int port = process_->WaitForPort();
    ASSERT_GT(port, 0) << process_->Output();
    options_.domain = kDomain;
    options_.base_url = "http://127.0.0.1:" + std::to_string(port);
    options_.client_id = kClientId;
    options_.client_secret = kSecret;
    options_.application_client_id = kClientId;
    options_.backoff_base = std::chrono::milliseconds(10);
    options_.backoff_cap = std::chrono::milliseconds(100);
    auto t = NewHttplibTransport(options_);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    auto rec = std::make_unique<RecordingTransport>(std::move(t).value());
    recorder_ = rec.get();
    client_ = std::make_unique<Auth0Client>(options_, std::move(rec), SystemClock(), random_);
    auto control = NewHttplibTransport(options_);
    control_ = std::move(control).value();
  }

  Json Control(const std::string& method, const std::string& path, const Json& body = nullptr) {
    return testing::SimControl(*control_, method, path, body);
  }

  // A Management API request the way an administrator's tool makes it (roles and applications
  // are created by administrators, never by tenantsync, so the client has no call for it).
  Json AdminRequest(const std::string& method, const std::string& path, const Json& body) {
    HttpRequest token;
    token.method = "POST";
    token.target = "/oauth/token";
    token.content_type = "application/x-www-form-urlencoded";
    token.body = "audience=" + PercentEncode(std::string("https://") + kDomain + "/api/v2/") +
                 "&client_id=" + kClientId + "&client_secret=" + kSecret +
                 "&grant_type=client_credentials";
    auto got = control_->Send(token);
    Json access = Json::parse(got.body, nullptr, false);
    EXPECT_TRUE(access.is_object() && access.contains("access_token")) << got.body;
    HttpRequest req;
    req.method = method;
    req.target = path;
    req.body = body.dump();
    req.content_type = "application/json";
    req.headers.emplace_back("Authorization",
                             "Bearer " + access.value("access_token", std::string()));
    auto resp = control_->Send(req);
    EXPECT_GE(resp.status, 200) << path << " " << resp.body;
    EXPECT_LT(resp.status, 300) << path << " " << resp.body;
    return Json::parse(resp.body, nullptr, false);
  }

  // The recorded request for `method` + a path matching `path_re` in fixture `file`.
  std::optional<Json> Recorded(const std::string& file, const std::string& method,
                               const std::string& path_re) {
    auto dir = SharedDir();
    if (!dir) return std::nullopt;
    std::ifstream in(*dir + "/fixtures/auth0-recordings/go-auth0/" + file);
    if (!in) return std::nullopt;
    Json cassette = Json::parse(in, nullptr, false);
    std::regex re(path_re);
    for (auto& i : cassette["interactions"]) {
      if (i["method"] == method && std::regex_match(i["path"].get<std::string>(), re)) return i;
    }
    return std::nullopt;
  }

  // The last request this client sent for `method` + `path_re` (query stripped).
  std::optional<HttpRequest> Sent(const std::string& method, const std::string& path_re) {
    std::regex re(path_re);
    auto log = recorder_->Log();
    for (auto it = log.rbegin(); it != log.rend(); ++it) {
      std::string path = it->request.target.substr(0, it->request.target.find('?'));
      if (it->request.method == method && std::regex_match(path, re)) return it->request;
    }
    return std::nullopt;
  }

  enum class Mode { kEqual, kSubset };
  // Compares the body keys of what we sent with the recorded real exchange.
  void ExpectBodyKeysMatch(const std::string& fixture, const std::string& method,
                           const std::string& path_re, Mode mode,
                           std::set<std::string> also_allowed = {}) {
    SCOPED_TRACE(fixture + " " + method + " " + path_re);
    auto rec = Recorded(fixture, method, path_re);
    if (!rec) {
      std::cout << "[  SKIPPED ] fixture " << fixture << " not found under TENANTSYNC_SHARED_DIR\n";
      return;
    }
    auto sent = Sent(method, path_re);
    ASSERT_TRUE(sent.has_value()) << "client sent no " << method << " " << path_re;
    std::string rec_body = (*rec)["request_body"].get<std::string>();
    std::string rec_ct = (*rec)["request_content_type"].is_string()
                             ? (*rec)["request_content_type"].get<std::string>()
                             : "";
    auto want = BodyKeys(rec_body, rec_ct);
    auto got = BodyKeys(sent->body, sent->content_type);
    ++compared_;
    if (mode == Mode::kEqual) {
      EXPECT_EQ(got, want) << "sent: " << sent->body << "\nrecorded: " << rec_body;
    } else {
      want.insert(also_allowed.begin(), also_allowed.end());
      for (auto& k : got)
        EXPECT_TRUE(want.count(k)) << "key '" << k << "' not in the recorded request: " << rec_body;
      EXPECT_FALSE(got.empty());
    }
  }

  // For calls without a body: the recording sent none either (""/null/{}), and neither did we.
  void ExpectNoBody(const std::string& fixture, const std::string& method,
                    const std::string& path_re) {
    SCOPED_TRACE(fixture + " " + method + " " + path_re);
    auto rec = Recorded(fixture, method, path_re);
    if (!rec) {
      std::cout << "[  SKIPPED ] fixture " << fixture << " not found\n";
      return;
    }
    auto sent = Sent(method, path_re);
    ASSERT_TRUE(sent.has_value()) << "client sent no " << method << " " << path_re;
    EXPECT_TRUE(BodyKeys((*rec)["request_body"].get<std::string>(), "").empty());
    ++compared_;
    EXPECT_TRUE(sent->body.empty()) << sent->body;
  }

  // Recorded query parameter names that our request must also use.
  void ExpectQueryKeys(const std::string& fixture, const std::string& method,
                       const std::string& path_re, std::set<std::string> required) {
    SCOPED_TRACE(fixture + " " + method + " " + path_re);
    auto rec = Recorded(fixture, method, path_re);
    if (!rec) return;
    auto sent = Sent(method, path_re);
    ASSERT_TRUE(sent.has_value());
    auto rec_keys = QueryKeys((*rec)["query"].get<std::string>());
    auto got = QueryKeys(sent->target);
    ++compared_;
    for (auto& k : required) {
      EXPECT_TRUE(rec_keys.count(k)) << "recording does not use '" << k << "'";
      EXPECT_TRUE(got.count(k)) << "we do not send '" << k << "': " << sent->target;
    }
  }

  int compared_ = 0;  // request shapes compared with a recording
  Auth0Options options_;
  SeededRandom random_{99};
  std::unique_ptr<Subprocess> process_;
  RecordingTransport* recorder_ = nullptr;
  std::unique_ptr<Auth0Client> client_;
  std::unique_ptr<HttpTransport> control_;
};

// Unwraps a Result or fails the test (gtest reports the exception with the Status).
template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) throw std::runtime_error(std::string(what) + ": " + r.status().ToString());
  return std::move(r).value();
}
#define ASSERT_OK(expr) Must((expr), #expr)

TEST_F(SimTest, EveryCallMatchesRecordedRequestShapes) {
  Control("POST", "/__sim/config", Json{{"index_lag_ms", 0}});
  // Fixtures administrators own: a role and a second application.
  Json role =
      AdminRequest("POST", "/api/v2/roles", {{"name", "editor"}, {"description", "Editors"}});
  Json app =
      AdminRequest("POST", "/api/v2/clients", {{"name", "Web App"}, {"app_type", "regular_web"}});
  ASSERT_TRUE(app.contains("client_id")) << app.dump();
  std::string app_id = app["client_id"];

  // Users.
  Auth0User user = ASSERT_OK(client_->CreateUser(Json{{"email", "chuck@example.com"},
                                                      {"email_verified", true},
                                                      {"given_name", "Chuck"},
                                                      {"family_name", "Sanchez"},
                                                      {"nickname", "Chucky"},
                                                      {"password", "Un-guessable-Passw0rd!"},
                                                      {"app_metadata", {{"plan", "gold"}}},
                                                      {"user_metadata", {{"lang", "fr"}}},
                                                      {"verify_email", false}}));
  std::string uid = user.user_id;
  ASSERT_NE(uid.find('|'), std::string::npos);
  // The answer, checked into the typed result.
  EXPECT_EQ(user.profile["given_name"], "Chuck");
  EXPECT_EQ(user.profile["email_verified"], true);
  EXPECT_EQ(user.app_metadata, Json::parse(R"({"plan":"gold"})"));
  EXPECT_EQ(user.user_metadata, Json::parse(R"({"lang":"fr"})"));
  EXPECT_EQ(user.connections, std::vector<std::string>{"Username-Password-Authentication"});
  ExpectBodyKeysMatch("TestUserManager_Read.json", "POST", "/api/v2/users", Mode::kSubset);
  // The token the first call fetched.
  ExpectBodyKeysMatch("authentication__TestLoginWithClientCredentials__Should_return_tokens.json",
                      "POST", "/oauth/token", Mode::kEqual);
  ASSERT_OK(client_->GetUser(uid));
  ExpectNoBody("TestUserManager_Read.json", "GET", "/api/v2/users/[^/]+");
  {
    auto sent = Sent("GET", "/api/v2/users/[^/]+");
    EXPECT_NE(sent->target.find("%7C"), std::string::npos) << sent->target;
  }
  EXPECT_EQ(ASSERT_OK(client_->PatchUser(uid, Json{{"app_metadata", {{"plan", "silver"}}}}))
                .app_metadata["plan"],
            "silver");
  ExpectBodyKeysMatch("TestUserManager_Update.json", "PATCH", "/api/v2/users/[^/]+", Mode::kSubset);
  auto by_email = ASSERT_OK(client_->GetUsersByEmail("chuck@example.com"));
  ASSERT_EQ(by_email.size(), 1u);
  ExpectQueryKeys("TestUserManager_ListByEmail.json", "GET", "/api/v2/users-by-email", {"email"});
  EXPECT_TRUE(ASSERT_OK(client_->PatchUser(uid, Json{{"blocked", true}})).blocked);
  EXPECT_TRUE(ASSERT_OK(client_->GetUser(uid)).blocked);
  // No recording patches "blocked"; real Auth0 accepted it as a user attribute on create.
  ExpectBodyKeysMatch("TestUserManager_Read.json", "POST", "/api/v2/users", Mode::kSubset);
  {
    auto sent = Sent("PATCH", "/api/v2/users/[^/]+");
    EXPECT_EQ(BodyKeys(sent->body, "application/json"), std::set<std::string>{"blocked"});
  }
  EXPECT_FALSE(ASSERT_OK(client_->PatchUser(uid, Json{{"blocked", false}})).blocked);
  EXPECT_FALSE(ASSERT_OK(client_->GetUser(uid)).blocked);
  ASSERT_TRUE(client_->RevokeSessions(uid).ok());
  ExpectNoBody("TestUserManager_DeleteUserSessions.json", "DELETE", "/api/v2/users/[^/]+/sessions");
  ASSERT_TRUE(client_->RevokeRefreshTokens(uid).ok());
  ExpectNoBody("TestUserManager_DeleteRefreshTokens.json", "DELETE",
               "/api/v2/users/[^/]+/refresh-tokens");
  ASSERT_OK(client_->GetUserLogs(uid));
  ExpectNoBody("TestUserManager_GetUserLogs.json", "GET", "/api/v2/users/[^/]+/logs");
  auto found = ASSERT_OK(client_->SearchUsers("email:\"chuck@example.com\""));
  EXPECT_EQ(found.users.size(), 1u);
  ExpectQueryKeys("TestUserManager_Search.json", "GET", "/api/v2/users",
                  {"q", "search_engine", "per_page", "include_totals"});

  // Organizations.
  Auth0Organization org = ASSERT_OK(client_->CreateOrganization(
      Json{{"name", "acme"},
           {"display_name", "Acme"},
           {"branding", {{"logo_url", "https://example.com/logo.gif"}}}}));
  std::string org_id = org.id;
  EXPECT_EQ(org.display_name, "Acme");
  EXPECT_EQ(org.branding["logo_url"], "https://example.com/logo.gif");
  ExpectBodyKeysMatch("TestOrganizationManager_Create.json", "POST", "/api/v2/organizations",
                      Mode::kSubset);
  ASSERT_OK(client_->GetOrganization(org_id));
  ExpectNoBody("TestOrganizationManager_Read.json", "GET", "/api/v2/organizations/org_[^/]+");
  EXPECT_EQ(ASSERT_OK(client_->GetOrganizationByName("acme")).id, org_id);
  ExpectNoBody("TestOrganizationManager_ReadByName.json", "GET",
               "/api/v2/organizations/name/[^/]+");
  EXPECT_EQ(ASSERT_OK(client_->PatchOrganization(org_id, Json{{"name", "acme-corp"}})).name,
            "acme-corp");
  ExpectBodyKeysMatch("TestOrganizationManager_Update.json", "PATCH", "/api/v2/organizations/[^/]+",
                      Mode::kEqual);
  ASSERT_OK(client_->PatchOrganization(org_id, Json{{"display_name", "Acme Corp"}}));
  ExpectBodyKeysMatch("TestOrganizationManager_Create.json", "POST", "/api/v2/organizations",
                      Mode::kSubset);
  auto orgs = ASSERT_OK(client_->ListOrganizations());
  EXPECT_EQ(orgs.size(), 1u);

  ASSERT_TRUE(client_->AddMembers(org_id, {uid}).ok());
  ExpectBodyKeysMatch("TestOrganizationManager_AddMembers.json", "POST",
                      "/api/v2/organizations/[^/]+/members", Mode::kEqual);
  std::string role_id = ASSERT_OK(client_->FindRoleId("editor"));
  EXPECT_EQ(role_id, role["id"]);
  ExpectQueryKeys("TestRoleManager_List.json", "GET", "/api/v2/roles",
                  {"name_filter", "per_page", "include_totals"});
  ASSERT_TRUE(client_->AddMemberRoles(org_id, uid, {role_id}).ok());
  ExpectBodyKeysMatch("TestOrganizationManager_MemberRoles.json", "POST",
                      "/api/v2/organizations/[^/]+/members/[^/]+/roles", Mode::kEqual);
  auto members = ASSERT_OK(client_->ListMembersWithRoles(org_id));
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0]["user_id"], uid);
  EXPECT_EQ(members[0]["roles"], Json::parse(R"([{"id":")" + role_id + R"(","name":"editor"}])"));
  ExpectQueryKeys("TestOrganizationManager_Members.json", "GET",
                  "/api/v2/organizations/[^/]+/members",
                  {"fields", "include_fields", "include_totals", "per_page"});
  ASSERT_TRUE(client_->RemoveMemberRoles(org_id, uid, {role_id}).ok());
  ExpectBodyKeysMatch("TestOrganizationManager_MemberRoles.json", "DELETE",
                      "/api/v2/organizations/[^/]+/members/[^/]+/roles", Mode::kEqual);
  EXPECT_EQ(ASSERT_OK(client_->ListMembersWithRoles(org_id))[0]["roles"], Json::array());
  ASSERT_TRUE(client_->RemoveMembers(org_id, {uid}).ok());
  ExpectBodyKeysMatch("TestOrganizationManager_DeleteMembers.json", "DELETE",
                      "/api/v2/organizations/[^/]+/members", Mode::kEqual);

  std::string conn_id = ASSERT_OK(client_->FindConnectionId("Username-Password-Authentication"));
  ExpectQueryKeys("TestJobManager_ExportUsers.json", "GET", "/api/v2/connections", {"name"});
  ASSERT_TRUE(client_->AddOrganizationConnection(org_id, conn_id, true, false).ok());
  ExpectBodyKeysMatch("TestOrganizationManager_AddConnection.json", "POST",
                      "/api/v2/organizations/[^/]+/enabled_connections", Mode::kEqual);
  ASSERT_TRUE(client_->PatchOrganizationConnection(org_id, conn_id, false, true).ok());
  ExpectBodyKeysMatch("TestOrganizationManager_UpdateConnection.json", "PATCH",
                      "/api/v2/organizations/[^/]+/enabled_connections/[^/]+", Mode::kEqual);
  auto org_conns = ASSERT_OK(client_->ListOrganizationConnections(org_id));
  ASSERT_EQ(org_conns.size(), 1u);
  EXPECT_EQ(org_conns[0]["show_as_button"], true);
  ASSERT_TRUE(client_->RemoveOrganizationConnection(org_id, conn_id).ok());
  ExpectNoBody("TestOrganizationManager_DeleteConnection.json", "DELETE",
               "/api/v2/organizations/[^/]+/enabled_connections/[^/]+");

  // Connections and clients.
  ASSERT_TRUE(client_->EnableConnectionClient(conn_id, app_id).ok());
  ExpectBodyKeysMatch("TestConnectionManager_EnabledClients.json", "PATCH",
                      "/api/v2/connections/[^/]+/clients", Mode::kEqual);
  {
    std::vector<std::string> enabled;
    const Json state = Control("GET", "/__sim/state");
    for (auto& c : state["connections"]) {
      if (c["id"] == conn_id) enabled = c["enabled_clients"].get<std::vector<std::string>>();
    }
    EXPECT_THAT(enabled, ::testing::Contains(app_id));
  }
  EXPECT_TRUE(ASSERT_OK(client_->GetApplication(app_id)).callbacks.empty());
  ASSERT_TRUE(client_
                  ->PatchApplicationCallbacks(
                      app_id, {"https://a.example.com/cb", "https://b.example.com/cb"})
                  .ok());
  EXPECT_EQ(ASSERT_OK(client_->GetApplication(app_id)).callbacks,
            (std::vector<std::string>{"https://a.example.com/cb", "https://b.example.com/cb"}));
  {
    // No recording patches "callbacks"; check the operation itself was recorded as a PATCH.
    auto rec = Recorded("TestClient_Update.json", "PATCH", "/api/v2/clients/[^/]+");
    if (rec) {
      EXPECT_EQ((*rec)["status"], 200);
    }
  }

  // Emails.
  ASSERT_TRUE(client_->SendChangePasswordEmail("chuck@example.com").ok());
  {
    auto sent = Sent("POST", "/dbconnections/change_password");
    ASSERT_TRUE(sent);
    EXPECT_EQ(BodyKeys(sent->body, sent->content_type),
              (std::set<std::string>{"client_id", "email", "connection"}));
  }
  ASSERT_TRUE(client_->SendVerificationEmail(uid).ok());
  ExpectBodyKeysMatch("TestJobManager_VerifyEmail.json", "POST", "/api/v2/jobs/verification-email",
                      Mode::kEqual);

  // Errors: conflict, permanent 400 without retry, not found.
  auto dup = client_->CreateOrganization(Json{{"name", "acme-corp"}});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().kind(), StatusKind::kConflict) << dup.status().ToString();
  recorder_->Clear();
  auto bad = client_->CreateOrganization(Json{{"name", "Not A Valid Name!"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().kind(), StatusKind::kPermanent) << bad.status().ToString();
  EXPECT_EQ(bad.status().http_status(), 400);
  EXPECT_FALSE(bad.status().error_code().empty()) << bad.status().ToString();
  EXPECT_EQ(recorder_->Log().size(), 1u) << "a 400 is not retried";
  EXPECT_EQ(bad.status().ToString().find(kSecret), std::string::npos);

  if (SharedDir()) {
    EXPECT_GE(compared_, 27);
    std::cout << "compared " << compared_ << " request shapes with the recorded real exchanges\n";
  } else {
    std::cout << "[  SKIPPED ] TENANTSYNC_SHARED_DIR absent: request shapes not compared with "
                 "recordings\n";
  }
  ASSERT_TRUE(client_->DeleteOrganization(org_id).ok());
  ExpectNoBody("TestOrganizationManager_Delete.json", "DELETE", "/api/v2/organizations/[^/]+");
  ASSERT_TRUE(client_->DeleteUser(uid).ok());
  ExpectNoBody("TestUserManager_Delete.json", "DELETE", "/api/v2/users/[^/]+");
  auto gone = client_->GetUser(uid);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().kind(), StatusKind::kNotFound);
  EXPECT_EQ(gone.status().error_code(), "inexistent_user");
}

TEST_F(SimTest, WrongSecretIsAPermanentTokenErrorWithoutTheSecret) {
  Auth0Options o = options_;
  o.client_secret = "definitely-wrong-secret";
  auto t = NewHttplibTransport(o);
  ASSERT_TRUE(t.ok());
  Auth0Client client(o, std::move(t).value(), SystemClock(), random_);
  auto r = client.GetUser("auth0|nobody");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kPermanent) << r.status().ToString();
  EXPECT_EQ(r.status().ToString().find("definitely-wrong-secret"), std::string::npos);
  EXPECT_FALSE(client.HasValidToken());
}

TEST_F(SimTest, RotatedSecretTakesEffectWithoutARestart) {
  Auth0Options o = options_;
  o.client_secret = "the-old-revoked-secret";
  auto t = NewHttplibTransport(o);
  ASSERT_TRUE(t.ok());
  Auth0Client client(o, std::move(t).value(), SystemClock(), random_);
  auto refused = client.GetUsersByEmail("nobody@example.com");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().kind(), StatusKind::kPermanent) << refused.status().ToString();
  client.SetClientSecret(kSecret);  // what SIGHUP does after the credential file changed
  auto found = client.GetUsersByEmail("nobody@example.com");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_TRUE(found->empty());
  EXPECT_TRUE(client.HasValidToken());
}

}  // namespace
}  // namespace tenantsync
