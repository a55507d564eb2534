// HTTP tests of the auth0-sim binary: tokens, rate limits and their headers, faults, and the
// /__sim/ control endpoints. Each test starts its own simulator on an ephemeral port.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/gzip.h"
#include "tests/support/subprocess.h"

namespace tenantsync::testing {
namespace {

using Json = nlohmann::json;
constexpr const char* kClient = "httpTestClient";
constexpr const char* kSecret = "http-test-secret";
constexpr const char* kDomain = "sim.test";
constexpr const char* kDb = "Username-Password-Authentication";

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

class Sim {
 public:
  explicit Sim(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--port",      "0",     "--domain",        kDomain,
                                     "--client-id", kClient, "--client-secret", kSecret,
                                     "--seed",      "3"};
    args.insert(args.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<Subprocess>(BuildPath("auth0-sim"), args);
    port_ = proc_->WaitForPort();
    cli_ = Client();
  }

  std::unique_ptr<httplib::Client> Client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    c->set_tcp_nodelay(true);
    c->set_keep_alive(true);
    c->set_read_timeout(std::chrono::seconds(5));
    return c;
  }

  int port() const { return port_; }
  httplib::Client& cli() { return *cli_; }

  std::string Token() {
    auto r = cli_->Post("/oauth/token",
                        Json{{"grant_type", "client_credentials"},
                             {"client_id", kClient},
                             {"client_secret", kSecret},
                             {"audience", std::string("https://") + kDomain + "/api/v2/"}}
                            .dump(),
                        "application/json");
    EXPECT_TRUE(r && r->status == 200);
    return r ? Json::parse(r->body)["access_token"].get<std::string>() : "";
  }

  httplib::Headers Auth(const std::string& token) const {
    return {{"Authorization", "Bearer " + token}};
  }

  Json Control(const std::string& method, const std::string& path,
               const Json& body = Json::object()) {
    auto r = method == "GET" ? cli_->Get(path) : cli_->Post(path, body.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200) << path << " " << (r ? r->body : "no answer");
    return r ? Json::parse(r->body) : Json();
  }

 private:
  std::unique_ptr<Subprocess> proc_;
  int port_ = -1;
  std::unique_ptr<httplib::Client> cli_;
};

TEST(Auth0SimHttp, PrintsListeningLineFirst) {
  Subprocess proc(BuildPath("auth0-sim"), {"--port", "0", "--domain", kDomain, "--client-id",
                                           kClient, "--client-secret", kSecret});
  ASSERT_GT(proc.WaitForPort(), 0);
  std::string out = proc.Output();
  EXPECT_TRUE(out.starts_with("listening on 127.0.0.1:")) << out;
}

TEST(Auth0SimHttp, HelpWorks) {
  Subprocess proc(BuildPath("auth0-sim"), {"--help"});
  EXPECT_EQ(proc.Wait(), 0);
  EXPECT_NE(proc.Output().find("--group-rate"), std::string::npos);
}

TEST(Auth0SimHttp, TokenEndpointAcceptsJsonAndFormAndRefusesWrongSecret) {
  Sim sim;
  ASSERT_FALSE(sim.Token().empty());
  httplib::Params form = {
      {"grant_type", "client_credentials"}, {"client_id", kClient}, {"client_secret", kSecret}};
  auto ok = sim.cli().Post("/oauth/token", form);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  Json body = Json::parse(ok->body);
  EXPECT_EQ(body["expires_in"], 86400);
  EXPECT_EQ(body["token_type"], "Bearer");
  form.erase("client_secret");
  form.emplace("client_secret", "wrong");
  auto bad = sim.cli().Post("/oauth/token", form);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 401);
  EXPECT_EQ(Json::parse(bad->body),
            Json({{"error", "access_denied"}, {"error_description", "Unauthorized"}}));
}

TEST(Auth0SimHttp, MissingAndExpiredTokens) {
  Sim sim({"--token-lifetime-seconds", "1"});
  auto missing = sim.cli().Get("/api/v2/roles");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  EXPECT_EQ(Json::parse(missing->body)["message"], "Missing authentication");
  EXPECT_TRUE(missing->has_header("x-ratelimit-limit"));

  std::string token = sim.Token();
  auto fine = sim.cli().Get("/api/v2/roles", sim.Auth(token));
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto expired = sim.cli().Get("/api/v2/roles", sim.Auth(token));
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->status, 401);
  const Json want = Json::parse(R"({"statusCode":401,"error":"Unauthorized",
      "message":"Expired token received for JSON Web Token validation",
      "attributes":{"error":"Expired token received for JSON Web Token validation"}})");
  EXPECT_EQ(Json::parse(expired->body), want);

  // Run-time: longer tokens, then invalidate all of them at once.
  sim.Control("POST", "/__sim/config", {{"token_lifetime_seconds", 3600}});
  std::string fresh = sim.Token();
  EXPECT_EQ(sim.cli().Get("/api/v2/roles", sim.Auth(fresh))->status, 200);
  sim.Control("POST", "/__sim/expire-tokens");
  auto revoked = sim.cli().Get("/api/v2/roles", sim.Auth(fresh));
  EXPECT_EQ(revoked->status, 401);
  EXPECT_EQ(Json::parse(revoked->body), want);
}

TEST(Auth0SimHttp, BurstExhaustsBucketWithExactHeaders) {
  Sim sim({"--rate", "1", "--burst", "5"});
  std::string token = sim.Token();
  for (int i = 0; i < 5; ++i) {
    auto r = sim.cli().Get("/api/v2/roles", sim.Auth(token));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << i;
    EXPECT_EQ(r->get_header_value("x-ratelimit-limit"), "5");
    EXPECT_EQ(r->get_header_value("x-ratelimit-remaining"), std::to_string(4 - i));
  }
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  auto limited = sim.cli().Get("/api/v2/roles", sim.Auth(token));
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(Json::parse(limited->body),
            Json::parse(R"({"statusCode":429,"error":"Too Many Requests",
                "message":"Global limit has been reached","errorCode":"too_many_requests"})"));
  EXPECT_EQ(limited->get_header_value("x-ratelimit-limit"), "5");
  EXPECT_EQ(limited->get_header_value("x-ratelimit-remaining"), "0");
  int64_t reset = std::stoll(limited->get_header_value("x-ratelimit-reset"));
  EXPECT_GE(reset, now + 4);  // ~5 s to refill 5 tokens at 1/s
  EXPECT_LE(reset, now + 7);
  Json stats = sim.Control("GET", "/__sim/stats");
  EXPECT_EQ(stats["rate_limited_total"], 1);
  EXPECT_EQ(stats["by_endpoint"]["GET /api/v2/roles"]["429"], 1);
}

TEST(Auth0SimHttp, GroupBucketLimitsOnlyItsEndpoints) {
  Sim sim({"--group-rate", "organizations_write=0.5:2"});
  std::string token = sim.Token();
  int statuses[3];
  for (int i = 0; i < 3; ++i) {
    auto r = sim.cli().Post("/api/v2/organizations", sim.Auth(token),
                            Json{{"name", "org-" + std::to_string(i)}}.dump(), "application/json");
    ASSERT_TRUE(r);
    statuses[i] = r->status;
    if (i == 0) {
      EXPECT_EQ(r->get_header_value("x-ratelimit-limit"), "2");
    }
  }
  EXPECT_EQ(statuses[0], 201);
  EXPECT_EQ(statuses[1], 201);
  EXPECT_EQ(statuses[2], 429);
  auto read = sim.cli().Get("/api/v2/organizations", sim.Auth(token));
  EXPECT_EQ(read->status, 200);
  // Run-time reconfiguration lifts the group limit.
  sim.Control("POST", "/__sim/config",
              {{"rate", {{"groups", {{"organizations_write", {{"rate", 100}, {"burst", 100}}}}}}}});
  auto again = sim.cli().Post("/api/v2/organizations", sim.Auth(token), R"({"name":"org-x"})",
                              "application/json");
  EXPECT_EQ(again->status, 201);
}

TEST(Auth0SimHttp, FaultsFromControlEndpoint) {
  Sim sim;
  std::string token = sim.Token();
  Json f = sim.Control("POST", "/__sim/faults", {{"force_429_rate", 1.0}});
  EXPECT_EQ(f["force_429_rate"], 1.0);
  EXPECT_EQ(f["latency_ms"], 0);
  EXPECT_EQ(sim.cli().Get("/api/v2/roles", sim.Auth(token))->status, 429);
  sim.Control("POST", "/__sim/faults", {{"force_429_rate", 0}, {"error_rate", 1.0}});
  auto err = sim.cli().Get("/api/v2/roles", sim.Auth(token));
  ASSERT_TRUE(err);
  EXPECT_GE(err->status, 500);
  EXPECT_EQ(Json::parse(err->body)["statusCode"], err->status);
  sim.Control("POST", "/__sim/faults", {{"error_rate", 0}, {"latency_ms", 150}});
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(sim.cli().Get("/api/v2/roles", sim.Auth(token))->status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));
  sim.Control("POST", "/__sim/faults", {{"latency_ms", 0}, {"drop_rate", 1.0}});
  auto fresh = sim.Client();
  auto dropped = fresh->Get("/api/v2/roles", sim.Auth(token));
  EXPECT_FALSE(dropped) << "a dropped connection gives no answer";
  sim.Control("POST", "/__sim/faults",
              {{"drop_rate", 0}, {"timeout_rate", 1.0}, {"timeout_ms", 2000}});
  auto slow = sim.Client();
  slow->set_read_timeout(std::chrono::milliseconds(200));
  start = std::chrono::steady_clock::now();
  auto hung = slow->Get("/api/v2/roles", sim.Auth(token));
  EXPECT_FALSE(hung);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  // Reset clears faults.
  sim.Control("POST", "/__sim/reset");
  EXPECT_EQ(sim.Control("GET", "/__sim/faults")["timeout_rate"], 0.0);
  EXPECT_EQ(sim.Client()->Get("/api/v2/roles", sim.Auth(token))->status, 200);
}

TEST(Auth0SimHttp, StateStatsAndSeed) {
  Sim sim({"--index-lag-ms", "0"});
  std::string token = sim.Token();
  auto user = sim.cli().Post("/api/v2/users", sim.Auth(token),
                             Json{{"connection", kDb},
                                  {"email", "s@example.com"},
                                  {"password", "Sup3r-secret!"},
                                  {"email_verified", true}}
                                 .dump(),
                             "application/json");
  ASSERT_EQ(user->status, 201) << user->body;
  std::string uid = Json::parse(user->body)["user_id"];
  auto org = sim.cli().Post("/api/v2/organizations", sim.Auth(token), R"({"name":"acme"})",
                            "application/json");
  std::string oid = Json::parse(org->body)["id"];
  auto role =
      sim.cli().Post("/api/v2/roles", sim.Auth(token), R"({"name":"member"})", "application/json");
  std::string rid = Json::parse(role->body)["id"];
  EXPECT_EQ(sim.cli()
                .Post("/api/v2/organizations/" + oid + "/members", sim.Auth(token),
                      Json{{"members", {uid}}}.dump(), "application/json")
                ->status,
            204);
  // The user id travels URL-encoded (auth0%7C...), as SDKs send it.
  std::string enc = "auth0%7C" + uid.substr(6);
  EXPECT_EQ(sim.cli()
                .Post("/api/v2/organizations/" + oid + "/members/" + enc + "/roles",
                      sim.Auth(token), Json{{"roles", {rid}}}.dump(), "application/json")
                ->status,
            204);
  auto cp = sim.cli().Post(
      "/dbconnections/change_password",
      Json{{"client_id", kClient}, {"email", "s@example.com"}, {"connection", kDb}}.dump(),
      "application/json");
  EXPECT_EQ(cp->status, 200);

  Json state = sim.Control("GET", "/__sim/state");
  ASSERT_EQ(state["organizations"].size(), 1u);
  EXPECT_EQ(state["organizations"][0]["members"],
            Json::parse(R"([{"user_id":")" + uid + R"(","roles":["member"]}])"));
  EXPECT_EQ(state["users"][0]["password_set"], true);
  EXPECT_EQ(state["emails"].back()["type"], "change_password");
  EXPECT_EQ(state["clients"][0]["client_id"], kClient);

  Json stats = sim.Control("GET", "/__sim/stats");
  EXPECT_EQ(stats["by_endpoint"]["POST /api/v2/users"]["201"], 1);
  EXPECT_EQ(stats["by_endpoint"]["POST /api/v2/organizations/{id}/members/{user_id}/roles"]["204"],
            1);
  EXPECT_EQ(stats["writes_total"], 5);  // users, organizations, roles, members, member roles
  EXPECT_GE(stats["peak_concurrency"], 1);
  EXPECT_GE(stats["peak_rate_per_second"], 1);
  EXPECT_EQ(sim.Control("POST", "/__sim/stats/reset")["requests_total"], 0);

  auto start = std::chrono::steady_clock::now();
  Json seeded = sim.Control(
      "POST", "/__sim/seed",
      {{"organizations", 1000}, {"users", 10000}, {"members_per_org", 5}, {"connection", kDb}});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(seeded["user_ids"].size(), 10000u);
  EXPECT_EQ(seeded["organization_ids"].size(), 1000u);

  sim.Control("POST", "/__sim/reset");
  Json fresh = sim.Control("GET", "/__sim/state");
  EXPECT_TRUE(fresh["users"].empty());
  EXPECT_EQ(fresh["connections"].size(), 1u);
}

// The /organizations/{id}/connections family over HTTP: routed, limited and counted as
// organization endpoints, and sharing its state with enabled_connections (visible in /__sim/state).
TEST(Auth0SimHttp, OrganizationConnectionsFamily) {
  Sim sim({"--group-rate", "organizations_write=1:2"});
  std::string token = sim.Token();
  auto org = sim.cli().Post("/api/v2/organizations", sim.Auth(token), R"({"name":"acme"})",
                            "application/json");
  ASSERT_EQ(org->status, 201);
  std::string oid = Json::parse(org->body)["id"];
  Json state = sim.Control("GET", "/__sim/state");
  std::string db = state["connections"][0]["id"];
  const std::string path = "/api/v2/organizations/" + oid + "/connections";
  auto added = sim.cli().Post(path, sim.Auth(token),
                              Json{{"connection_id", db}, {"is_signup_enabled", true}}.dump(),
                              "application/json");
  ASSERT_EQ(added->status, 201) << added->body;
  EXPECT_EQ(Json::parse(added->body)["organization_access_level"], "none");
  // The organizations_write bucket (burst 2) is now empty: the next write is refused.
  auto limited = sim.cli().Patch(path + "/" + db, sim.Auth(token), R"({"show_as_button":false})",
                                 "application/json");
  EXPECT_EQ(limited->status, 429);
  auto listed = sim.cli().Get(path + "?include_totals=true&page=0&per_page=50", sim.Auth(token));
  ASSERT_EQ(listed->status, 200);
  Json page = Json::parse(listed->body);
  EXPECT_EQ(page["total"], 1);
  EXPECT_EQ(page["limit"], 50);
  EXPECT_EQ(page["connections"][0]["connection"]["name"], kDb);
  state = sim.Control("GET", "/__sim/state");
  EXPECT_EQ(state["organizations"][0]["enabled_connections"][0]["is_signup_enabled"], true);
  Json stats = sim.Control("GET", "/__sim/stats");
  EXPECT_EQ(stats["by_endpoint"]["POST /api/v2/organizations/{id}/connections"]["201"], 1);
  EXPECT_EQ(
      stats["by_endpoint"]["PATCH /api/v2/organizations/{id}/connections/{connection_id}"]["429"],
      1);
}

TEST(Auth0SimHttp, SearchLagIsConfigurable) {
  Sim sim({"--index-lag-ms", "300"});
  std::string token = sim.Token();
  sim.cli().Post(
      "/api/v2/users", sim.Auth(token),
      Json{{"connection", kDb}, {"email", "lag@example.com"}, {"password", "Sup3r-secret!"}}.dump(),
      "application/json");
  auto search = [&] {
    auto r = sim.cli().Get("/api/v2/users?q=email%3A%22lag%40example.com%22", sim.Auth(token));
    return Json::parse(r->body).size();
  };
  EXPECT_EQ(search(), 0u);
  auto by_email = sim.cli().Get("/api/v2/users-by-email?email=lag%40example.com", sim.Auth(token));
  EXPECT_EQ(Json::parse(by_email->body).size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  EXPECT_EQ(search(), 1u);
}

TEST(Auth0SimHttp, SameSeedSameIds) {
  std::string ids[2];
  for (auto& id : ids) {
    Sim sim;
    auto r = sim.cli().Post("/api/v2/organizations", sim.Auth(sim.Token()), R"({"name":"det"})",
                            "application/json");
    id = Json::parse(r->body)["id"];
  }
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(ids[0].size(), 20u);
}

// The daemon's bulk read: one export job, polled, then the file fetched from `location` without
// a token.
class ExportTest : public ::testing::Test {
 protected:
  Json Post(Sim& sim, const std::string& token, const std::string& path, const Json& body,
            int want) {
    auto r = sim.cli().Post(path, sim.Auth(token), body.dump(), "application/json");
    EXPECT_TRUE(r && r->status == want) << path << " " << (r ? r->body : "no answer");
    return r ? Json::parse(r->body, nullptr, false) : Json();
  }

  // Polls GET /jobs/{id} until completed; answers every status seen.
  Json Poll(Sim& sim, const std::string& token, const std::string& id,
            std::vector<std::string>& seen) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = sim.cli().Get("/api/v2/jobs/" + id, sim.Auth(token));
      EXPECT_TRUE(r && r->status == 200);
      if (!r) break;
      Json job = Json::parse(r->body);
      seen.push_back(job["status"]);
      if (job["status"] == "completed") return job;
      EXPECT_FALSE(job.contains("location"));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "job " << id << " never completed";
    return Json();
  }

  // Fetches an absolute location from the simulator, without any Authorization header.
  httplib::Result Download(Sim& sim, const std::string& location) {
    const std::string origin = "http://127.0.0.1:" + std::to_string(sim.port());
    EXPECT_TRUE(location.starts_with(origin + "/__sim/exports/")) << location;
    return sim.Client()->Get(location.substr(origin.size()));
  }
};

TEST_F(ExportTest, JsonExportOfOneConnectionIsDownloadableWithoutToken) {
  Sim sim({"--index-lag-ms", "0", "--export-delay-ms", "300"});
  std::string token = sim.Token();
  Post(sim, token, "/api/v2/connections",
       {{"name", "partners"}, {"strategy", "auth0"}, {"enabled_clients", {kClient}}}, 201);
  auto user = [&](const std::string& conn, const std::string& email, Json extra) {
    Json body = {{"connection", conn}, {"email", email}, {"password", "Sup3r-secret!"}};
    body.update(extra);
    return Post(sim, token, "/api/v2/users", body, 201)["user_id"].get<std::string>();
  };
  std::string a =
      user(kDb, "a@example.com", {{"app_metadata", {{"roles", {"admin"}}}}, {"blocked", true}});
  user("partners", "p@example.com", {{"app_metadata", {{"roles", {"x"}}}}, {"blocked", false}});
  std::string b = user(kDb, "b@example.com", {{"user_metadata", {{"lang", "fr"}}}});
  user("partners", "q@example.com", Json::object());
  std::string c = user(kDb, "c@example.com", {{"blocked", false}});
  Json conns = Json::parse(
      sim.cli().Get("/api/v2/connections?name=" + std::string(kDb), sim.Auth(token))->body);
  const std::string db_id = conns[0]["id"];
  EXPECT_EQ(sim.Control("GET", "/__sim/config")["export_delay_ms"], 300);
  Json before = sim.Control("GET", "/__sim/stats");

  const Json fields = Json::parse(R"([{"name":"user_id"},{"name":"email"},{"name":"app_metadata"},
      {"name":"user_metadata"},{"name":"blocked"},{"name":"identities[0].connection",
      "export_as":"connection"}])");
  Json created = Post(sim, token, "/api/v2/jobs/users-exports",
                      {{"connection_id", db_id}, {"format", "json"}, {"fields", fields}}, 200);
  EXPECT_EQ(created["status"], "pending");
  EXPECT_EQ(created["type"], "users_export");
  const std::string id = created["id"];
  std::vector<std::string> seen;
  Json job = Poll(sim, token, id, seen);
  ASSERT_FALSE(job.is_null());
  EXPECT_EQ(seen.front(), "pending");
  EXPECT_EQ(job["connection_id"], db_id);
  EXPECT_EQ(job["connection"], kDb);
  EXPECT_EQ(job["fields"], fields);
  const std::string location = job["location"];
  EXPECT_EQ(location,
            "http://127.0.0.1:" + std::to_string(sim.port()) + "/__sim/exports/" + id + ".json.gz");

  auto file = Download(sim, location);
  ASSERT_TRUE(file);
  ASSERT_EQ(file->status, 200);
  EXPECT_EQ(file->get_header_value("Content-Type"), "application/gzip");
  EXPECT_FALSE(file->has_header("x-ratelimit-limit"));
  auto lines = Lines(Gunzip(file->body));
  ASSERT_EQ(lines.size(), 3u);
  Json want[] = {
      {{"user_id", a},
       {"email", "a@example.com"},
       {"app_metadata", {{"roles", {"admin"}}}},
       {"blocked", true},
       {"connection", kDb}},
      {{"user_id", b},
       {"email", "b@example.com"},
       {"user_metadata", {{"lang", "fr"}}},
       {"connection", kDb}},
      {{"user_id", c}, {"email", "c@example.com"}, {"blocked", false}, {"connection", kDb}}};
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(Json::parse(lines[i]), want[i]) << lines[i];

  // The file does not change, and the download is not a Management API request.
  user(kDb, "late@example.com", Json::object());
  auto again = Download(sim, location);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, file->body);
  Json stats = sim.Control("GET", "/__sim/stats");
  EXPECT_EQ(stats["export_downloads_total"], 2);
  EXPECT_EQ(stats["requests_total"].get<int64_t>() - before["requests_total"].get<int64_t>(),
            static_cast<int64_t>(1 + seen.size() + 1));  // create, polls, the late user
  for (const auto& [key, statuses] : stats["by_endpoint"].items()) {
    EXPECT_EQ(key.find("exports/"), std::string::npos) << key;
  }
  EXPECT_EQ(sim.Client()->Get("/__sim/exports/job_unknown.json.gz")->status, 404);
  EXPECT_EQ(sim.Client()->Get("/__sim/exports/" + id + ".csv.gz")->status, 404);
}

TEST_F(ExportTest, CsvLimitAndRunTimeDelay) {
  Sim sim({"--index-lag-ms", "0"});
  std::string token = sim.Token();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    const std::string n = std::to_string(i);
    ids.push_back(Post(sim, token, "/api/v2/users",
                       {{"connection", kDb},
                        {"email", std::string("u").append(n).append("@example.com")},
                        {"name", std::string("User, No. ").append(n)},
                        {"password", "Sup3r-secret!"}},
                       201)["user_id"]);
  }
  // Default 0: completed at once.
  Json quick = Post(sim, token, "/api/v2/jobs/users-exports", {{"format", "csv"}}, 200);
  std::vector<std::string> seen;
  EXPECT_EQ(Poll(sim, token, quick["id"], seen)["status"], "completed");
  EXPECT_EQ(seen, std::vector<std::string>{"completed"});

  EXPECT_EQ(sim.Control("POST", "/__sim/config", {{"export_delay_ms", 250}})["export_delay_ms"],
            250);
  Json created = Post(sim, token, "/api/v2/jobs/users-exports",
                      {{"format", "csv"},
                       {"limit", 2},
                       {"fields", {{{"name", "user_id"}}, {{"name", "name"}, {"export_as", "n"}}}}},
                      200);
  seen.clear();
  Json job = Poll(sim, token, created["id"], seen);
  EXPECT_EQ(seen.front(), "pending");
  EXPECT_TRUE(job["location"].get<std::string>().ends_with(".csv.gz"));
  auto file = Download(sim, job["location"]);
  ASSERT_TRUE(file);
  ASSERT_EQ(file->status, 200);
  EXPECT_EQ(Gunzip(file->body),
            "user_id,n\n" + ids[0] + ",\"User, No. 0\"\n" + ids[1] + ",\"User, No. 1\"\n");
  // Reset brings the command line's delay back.
  sim.Control("POST", "/__sim/reset");
  EXPECT_EQ(sim.Control("GET", "/__sim/config")["export_delay_ms"], 0);
  auto gone = Download(sim, job["location"]);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 404);
}

}  // namespace
}  // namespace tenantsync::testing
