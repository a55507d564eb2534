// A user's Auth0 activity end to end (issue 14): tenantsync creates a user in auth0-sim, the user
// logs in (POST /__sim/login), mistypes the password, leaves (user.left: tenantsync blocks the
// account), tries to log in again and is refused; `tenantsync user ID --logs` shows those events
// as a table (date, event, description, ip, application) and `--logs --json` as Auth0's JSON.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/clock.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/rfc3339.h"

namespace tenantsync::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

const std::string kClientId = "user-logs-test-m2m-client-01";
const std::string kClientSecret = "user-logs-test-auth0-client-secret-77";

struct CliResult {
  int code = -1;
  std::string out, err;
};

std::string ReadAll(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Runs build/tenantsync with `args`, stdout and stderr captured separately.
CliResult RunCli(const std::vector<std::string>& args) {
  static const std::string dir = MakeTempDir("ts-user-logs");
  const std::string out_path = dir + "/out", err_path = dir + "/err";
  std::string program = BuildPath("tenantsync");
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(err, 2);
    close(out);
    close(err);
    std::vector<char*> argv = {program.data()};
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(program.c_str(), argv.data());
    _exit(127);
  }
  CliResult r;
  int status = 0;
  if (pid > 0 && waitpid(pid, &status, 0) == pid)
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadAll(out_path);
  r.err = ReadAll(err_path);
  return r;
}

std::string Describe(const CliResult& r) {
  return "exit " + std::to_string(r.code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string line; std::getline(s, line);) out.push_back(line);
  return out;
}

class UserLogsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = std::make_unique<Subprocess>(
        BuildPath("auth0-sim"),
        std::vector<std::string>{"--port", "0", "--domain", "tenant.example.com", "--client-id",
                                 kClientId, "--client-secret", kClientSecret, "--index-lag-ms",
                                 "0"});
    sim_port_ = sim_->WaitForPort();
    ASSERT_GT(sim_port_, 0) << sim_->Output();
    sim_http_ = std::make_unique<TestHttpClient>("127.0.0.1", sim_port_);
    TestDaemonOptions o;
    o.auth0_base_url = "http://127.0.0.1:" + std::to_string(sim_port_);
    o.auth0_client_id = kClientId;
    o.auth0_client_secret = kClientSecret;
    o.application_client_id = kClientId;
    // No invitation on create: its scpr log entry would land in the activity at a moment this
    // test does not control, and the first check is that the activity before any login is empty.
    o.extra_toml = "[policy]\non_create = []\n";
    daemon_ = std::make_unique<TestDaemon>(o);
    ASSERT_TRUE(daemon_->Start()) << daemon_->Output();
  }

  CliResult Cli(std::vector<std::string> args) {
    for (auto& a : {std::string("--config"), daemon_->config_path(), std::string("--admin"),
                    "127.0.0.1:" + std::to_string(daemon_->admin_port())}) {
      args.push_back(a);
    }
    return RunCli(args);
  }

  Json Login(const Json& request) {
    TestResponse r = sim_http_->Post("/__sim/login", request.dump());
    EXPECT_EQ(r.status, 200) << request.dump() << " -> " << r.body;
    return r.Json();
  }

  // The user as auth0-sim holds it, or null.
  Json SimUser(const std::string& auth0_id) {
    Json state = sim_http_->Get("/__sim/state").Json();
    for (const auto& u : state["users"]) {
      if (u["user_id"] == auth0_id) return u;
    }
    return nullptr;
  }

  std::unique_ptr<Subprocess> sim_;
  int sim_port_ = 0;
  std::unique_ptr<TestHttpClient> sim_http_;
  std::unique_ptr<TestDaemon> daemon_;
};

TEST_F(UserLogsTest, LoginBlockAndRefusedLoginShowInUserLogs) {
  const int64_t now = SystemClock().NowUnixMillis();
  ASSERT_EQ(daemon_
                ->PostEvent("hr", "msg_join",
                            EventBody("user.upserted",
                                      {{"external_id", "emp-7"}, {"email", "grace@example.com"}},
                                      Rfc3339Ms(now - 5000)))
                .status,
            202);
  std::string auth0_id;
  ASSERT_TRUE(WaitFor([&] {
    auto r = Cli({"user", "emp-7", "--json"});
    Json j = Json::parse(r.out, nullptr, false);
    if (r.code != 0 || !j.is_object() || !j["auth0_id"].is_string()) return false;
    auth0_id = j["auth0_id"];
    return true;
  })) << Describe(Cli({"user", "emp-7", "--json"}));

  // Before any login the user's activity is empty, and the table says so.
  auto before = Cli({"user", "emp-7", "--logs"});
  ASSERT_EQ(before.code, 0) << Describe(before);
  EXPECT_NE(before.out.find("no log events for this user"), std::string::npos) << before.out;

  Json ok = Login({{"email", "grace@example.com"}, {"ip", "203.0.113.7"}});
  EXPECT_EQ(ok["type"], "s") << ok.dump();
  Json wrong = Login({{"user_id", auth0_id}, {"failure", "fp"}, {"ip", "203.0.113.8"}});
  EXPECT_EQ(wrong["type"], "fp") << wrong.dump();
  // A login with an address nobody has is fu, with no user: not in this user's activity.
  Json unknown = Login({{"email", "nobody@example.com"}, {"ip", "203.0.113.66"}});
  EXPECT_EQ(unknown["type"], "fu") << unknown.dump();
  EXPECT_EQ(unknown["user_id"], "") << unknown.dump();

  // She leaves: tenantsync blocks the account (after the guard's settle time).
  ASSERT_EQ(
      daemon_
          ->PostEvent("hr", "msg_leave",
                      EventBody("user.left", {{"external_id", "emp-7"}}, Rfc3339Ms(now - 4000)))
          .status,
      202);
  ASSERT_TRUE(WaitFor([&] { return SimUser(auth0_id).value("blocked", false); }, 30s))
      << SimUser(auth0_id).dump() << "\n"
      << Describe(Cli({"user", "emp-7"}));

  // The right password no longer helps: Auth0 refuses a blocked user with f "user is blocked".
  Json refused = Login({{"user_id", auth0_id}, {"success", true}, {"ip", "203.0.113.9"}});
  EXPECT_EQ(refused["type"], "f") << refused.dump();
  EXPECT_EQ(refused["description"], "user is blocked") << refused.dump();

  // The table: a header, then the three login events newest first, each on one line with its
  // event name, description, ip and application.
  auto table = Cli({"user", "emp-7", "--logs"});
  ASSERT_EQ(table.code, 0) << Describe(table);
  EXPECT_EQ(table.err, "");
  EXPECT_EQ(table.out.find("\"log_id\""), std::string::npos) << "raw JSON in the table:\n"
                                                             << table.out;
  const auto lines = Lines(table.out);
  auto find_line = [&](const std::string& a, const std::string& b) -> int {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].find(a) != std::string::npos && lines[i].find(b) != std::string::npos)
        return static_cast<int>(i);
    }
    return -1;
  };
  const int header = find_line("DATE", "APPLICATION");
  ASSERT_GE(header, 0) << table.out;
  for (auto col : {"EVENT", "DESCRIPTION", "IP"})
    EXPECT_NE(lines[header].find(col), std::string::npos) << lines[header];
  const int blocked = find_line("f Failed Login ", "user is blocked");
  const int mistyped = find_line("fp Failed Login (wrong password)", "203.0.113.8");
  const int success = find_line("s Success Login", "203.0.113.7");
  ASSERT_GT(blocked, header) << table.out;
  ASSERT_GT(mistyped, blocked) << "newest first:\n" << table.out;
  ASSERT_GT(success, mistyped) << "newest first:\n" << table.out;
  EXPECT_NE(lines[blocked].find("203.0.113.9"), std::string::npos) << lines[blocked];
  EXPECT_NE(lines[mistyped].find("Wrong email or password."), std::string::npos) << lines[mistyped];
  for (int row : {blocked, mistyped, success}) {
    EXPECT_NE(lines[row].find("auth0-sim management client"), std::string::npos)
        << "application column: " << lines[row];
    EXPECT_TRUE(lines[row].starts_with(Rfc3339Ms(now).substr(0, 10))) << "date: " << lines[row];
  }
  EXPECT_EQ(table.out.find("203.0.113.66"), std::string::npos) << "another user's fu:\n"
                                                               << table.out;

  // --json: Auth0's events as received, for scripts.
  auto json = Cli({"user", "emp-7", "--logs", "--json"});
  ASSERT_EQ(json.code, 0) << Describe(json);
  Json doc = Json::parse(json.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << json.out;
  const Json& logs = doc["auth0_logs"];
  ASSERT_TRUE(logs.is_array()) << json.out;
  std::vector<std::string> logins;
  for (const auto& e : logs) {
    EXPECT_EQ(e["user_id"], auth0_id) << e.dump();
    EXPECT_EQ(e["log_id"].get<std::string>().size(), 56u) << e.dump();
    EXPECT_NE(e["type"], "sapi") << "API operations carry the caller's user_id (none): "
                                 << e.dump();
    const std::string type = e["type"];
    if (type == "s" || type == "f" || type == "fp") logins.push_back(type);
  }
  EXPECT_EQ(logins, std::vector<std::string>({"f", "fp", "s"})) << logs.dump(2);
  for (const auto& e : logs) {
    if (e["type"] != "f") continue;
    EXPECT_EQ(e["description"], "user is blocked");
    EXPECT_EQ(e["ip"], "203.0.113.9");
    EXPECT_EQ(e["connection"], "Username-Password-Authentication");
    EXPECT_EQ(e["client_id"], kClientId);
    EXPECT_EQ(e["user_name"], "grace@example.com");
    EXPECT_TRUE(e["date"].is_string());
  }
}

}  // namespace
}  // namespace tenantsync::testing
