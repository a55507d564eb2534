// The operator CLI (SPEC §7) through the real binary against a running daemon (and auth0-sim):
// tables and --json, exit codes (0 ok, 1 the daemon answered an error, 2 usage or configuration,
// 3 unreachable) with a one-line reason on stderr, `send`, and --help with an example everywhere.
#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/rfc3339.h"

namespace tenantsync::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

const std::string kClientId = "cli-test-m2m-client-0001";
const std::string kClientSecret = "cli-test-auth0-client-secret-5be1d0";

struct CliResult {
  int code = -1;
  std::string out, err;
  Json JsonOut() const { return Json::parse(out, nullptr, false); }
  int ErrLines() const { return static_cast<int>(std::count(err.begin(), err.end(), '\n')); }
};

std::string ReadAll(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Environment changes for one run: a value sets the variable, nullopt unsets it.
using EnvChanges = std::vector<std::pair<std::string, std::optional<std::string>>>;

// Runs build/tenantsync with `args`, stdout and stderr captured separately.
CliResult RunCli(const std::vector<std::string>& args, const EnvChanges& env = {}) {
  static const std::string dir = MakeTempDir("ts-cli");
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
    for (const auto& [name, value] : env) {
      if (value) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
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

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = std::make_unique<Subprocess>(
        BuildPath("auth0-sim"),
        std::vector<std::string>{"--port", "0", "--domain", "tenant.example.com", "--client-id",
                                 kClientId, "--client-secret", kClientSecret, "--index-lag-ms",
                                 "0"});
    sim_port_ = sim_->WaitForPort();
    ASSERT_GT(sim_port_, 0) << sim_->Output();
    ASSERT_NO_FATAL_FAILURE(Restart(""));
  }

  // (Re)starts the daemon against the simulator; `extra_toml` is appended to the configuration
  // (e.g. a [policy] section).
  void Restart(const std::string& extra_toml) {
    daemon_.reset();
    TestDaemonOptions o;
    TestSource crm;
    crm.name = "crm";
    crm.scheme = "hmac-sha256";
    crm.secrets = {"crm-secret-for-cli-test"};
    crm.extra_toml = "id_header = \"X-Request-Id\"\n";
    o.sources.push_back(crm);
    o.auth0_base_url = "http://127.0.0.1:" + std::to_string(sim_port_);
    o.auth0_client_id = kClientId;
    o.auth0_client_secret = kClientSecret;
    o.application_client_id = kClientId;
    o.extra_toml = extra_toml;
    daemon_ = std::make_unique<TestDaemon>(o);
    ASSERT_TRUE(daemon_->Start()) << daemon_->Output();
  }

  // `tenantsync CMD ARGS... --config CFG --admin 127.0.0.1:PORT`
  CliResult Cli(const std::string& cmd, std::vector<std::string> args = {},
                const EnvChanges& env = {}) {
    std::vector<std::string> all = {cmd};
    all.insert(all.end(), args.begin(), args.end());
    for (auto& a : {std::string("--config"), daemon_->config_path(), std::string("--admin"),
                    "127.0.0.1:" + std::to_string(daemon_->admin_port())}) {
      all.push_back(a);
    }
    return RunCli(all, env);
  }
  CliResult Send(const std::string& type, const Json& data, const std::string& id,
                 const std::string& source = "hr") {
    return Cli("send", {"--source", source, "--type", type, "--data", data.dump(), "--id", id,
                        "--url", "127.0.0.1:" + std::to_string(daemon_->ingress_port())});
  }
  // `send` with an explicit timestamp (Unix ms).
  CliResult SendAt(const std::string& type, const Json& data, const std::string& id,
                   int64_t timestamp_ms) {
    return Cli("send", {"--source", "hr", "--type", type, "--data", data.dump(), "--id", id,
                        "--timestamp", Rfc3339Ms(timestamp_ms), "--url",
                        "127.0.0.1:" + std::to_string(daemon_->ingress_port())});
  }
  Json StatusJson() { return Cli("status", {"--json"}).JsonOut(); }
  // Sends a user with an email and waits until Auth0 has it.
  void CreateUser(const std::string& ext) {
    ASSERT_EQ(Send("user.upserted", {{"external_id", ext}, {"email", ext + "@example.com"}},
                   "msg_join_" + ext)
                  .code,
              0);
    ASSERT_TRUE(WaitFor([&] {
      auto u = Cli("user", {ext, "--json"});
      return u.code == 0 && u.JsonOut()["auth0_id"].is_string();
    })) << Cli("user", {ext, "--json"}).out;
  }
  std::string EventState(const std::string& id) {
    auto r = Cli("event", {id, "--json"});
    return r.code == 0 ? r.JsonOut().value("state", "") : "";
  }
  // A failed call: the exit code and exactly one line on stderr naming `mention`, nothing on
  // stdout.
  void ExpectFailure(const CliResult& r, int code, const std::string& mention) {
    EXPECT_EQ(r.code, code) << Describe(r);
    EXPECT_EQ(r.ErrLines(), 1) << Describe(r);
    EXPECT_NE(r.err.find(mention), std::string::npos) << mention << " not in: " << Describe(r);
    EXPECT_EQ(r.out, "") << Describe(r);
  }

  std::unique_ptr<Subprocess> sim_;
  int sim_port_ = 0;
  std::unique_ptr<TestDaemon> daemon_;
};

const std::vector<std::string> kCommands = {"send",  "status", "events",    "event", "replay",
                                            "user",  "org",    "mutations", "retry", "discard",
                                            "pause", "resume", "drift"};

TEST(CliHelpTest, EveryCommandHasHelpWithAnExample) {
  auto top = RunCli({"--help"});
  EXPECT_EQ(top.code, 0) << Describe(top);
  EXPECT_NE(top.out.find("Example"), std::string::npos) << top.out;
  for (auto& cmd : kCommands) {
    EXPECT_NE(top.out.find(cmd), std::string::npos) << cmd << " not listed in --help";
    auto r = RunCli({cmd, "--help"});
    EXPECT_EQ(r.code, 0) << cmd << ": " << Describe(r);
    EXPECT_NE(r.out.find("Example"), std::string::npos) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("--json"), std::string::npos) << cmd << ": " << r.out;
  }
}

TEST(CliUsageTest, UsageErrorsExitTwo) {
  for (auto& args : std::vector<std::vector<std::string>>{
           {"events", "--limit", "0"},
           {"events", "--limit", "1001"},
           {"events", "--limit", "many"},
           {"events", "--state", "bogus"},
           {"mutations", "--limit", "0"},
           {"mutations", "--state", "finished"},
           {"event"},         // ID missing
           {"retry", "abc"},  // not a mutation id
           {"discard", "0"},
           {"status", "--no-such-flag"},
           {"no-such-command"},
           {"send", "--type", "user.upserted"},     // --source missing
           {"guard", "approve", "--by", "ann"}}) {  // --by is for reject only
    auto r = RunCli(args);
    std::string joined;
    for (auto& a : args) joined += a + " ";
    EXPECT_EQ(r.code, 2) << joined << Describe(r);
    EXPECT_NE(r.err, "") << joined;
  }
}

TEST(CliUsageTest, UnreadableConfigExitsTwo) {
  auto r = RunCli({"status", "--config", "/nonexistent/tenantsync.toml"});
  EXPECT_EQ(r.code, 2) << Describe(r);
  EXPECT_NE(r.err.find("/nonexistent/tenantsync.toml"), std::string::npos) << Describe(r);
}

TEST_F(CliTest, UnreachableAdminExitsThree) {
  for (auto& args : std::vector<std::vector<std::string>>{{"status"},
                                                          {"events"},
                                                          {"event", "msg_1"},
                                                          {"replay", "msg_1"},
                                                          {"user", "emp-1"},
                                                          {"org", "acme"},
                                                          {"mutations"},
                                                          {"retry", "1"},
                                                          {"discard", "1"},
                                                          {"pause"},
                                                          {"resume"}}) {
    std::vector<std::string> all = args;
    for (auto& a : {"--config", daemon_->config_path().c_str(), "--admin", "127.0.0.1:1"})
      all.push_back(a);
    auto r = RunCli(all);
    ExpectFailure(r, 3, "127.0.0.1:1");
  }
  auto send = Cli("send", {"--source", "hr", "--type", "user.left", "--data",
                           R"({"external_id":"emp-1"})", "--url", "127.0.0.1:1"});
  ExpectFailure(send, 3, "127.0.0.1:1");
}

TEST_F(CliTest, WrongTokenIsTheDaemonsAnswer) {
  std::string token_file = daemon_->dir() + "/wrong-token";
  std::ofstream(token_file) << "not-the-admin-token\n";
  auto r = Cli("status", {"--token-file", token_file});
  ExpectFailure(r, 1, "401");
  EXPECT_NE(r.err.find("unauthorized"), std::string::npos);
  auto missing = Cli("status", {"--token-file", daemon_->dir() + "/no-such-token-file"});
  EXPECT_EQ(missing.code, 2) << Describe(missing);
}

TEST_F(CliTest, StatusTableAndJson) {
  auto r = Cli("status");
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.out.find("SECTION"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("VALUE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("events.pending"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mutations.dead"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("paused"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
  auto j = Cli("status", {"--json"});
  ASSERT_EQ(j.code, 0) << Describe(j);
  ASSERT_TRUE(j.JsonOut().is_object()) << j.out;
  EXPECT_EQ(j.JsonOut()["paused"], false);
  EXPECT_TRUE(j.JsonOut()["events"].is_object());
  // The token file override works too.
  auto t = Cli("status", {"--token-file", daemon_->dir() + "/admin-token", "--json"});
  EXPECT_EQ(t.code, 0) << Describe(t);
}

TEST_F(CliTest, SendIsAcceptedAndTheEventIsThenListed) {
  auto r =
      Send("user.upserted", {{"external_id", "emp-1"}, {"email", "ada@example.com"}}, "msg_cli_1");
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.out.find("202"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("accepted"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("msg_cli_1"), std::string::npos) << r.out;

  auto list = Cli("events");
  ASSERT_EQ(list.code, 0) << Describe(list);
  for (auto header : {"SEQ", "SOURCE", "EVENT ID", "TYPE", "STATE", "RECEIVED", "ERROR"}) {
    EXPECT_NE(list.out.find(header), std::string::npos) << header << " in " << list.out;
  }
  EXPECT_NE(list.out.find("msg_cli_1"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("user.upserted"), std::string::npos) << list.out;

  auto json = Cli("events", {"--json", "--source", "hr", "--limit", "10"});
  ASSERT_EQ(json.code, 0) << Describe(json);
  Json j = json.JsonOut();
  ASSERT_TRUE(j.is_object()) << json.out;
  ASSERT_EQ(j["events"].size(), 1u) << json.out;
  EXPECT_EQ(j["events"][0]["event_id"], "msg_cli_1");
  EXPECT_EQ(Cli("events", {"--json", "--source", "crm"}).JsonOut()["events"].size(), 0u);
  EXPECT_EQ(Cli("events", {"--json", "--state", "rejected"}).JsonOut()["events"].size(), 0u);

  // Sending the same id again is a duplicate, still a success for the sender.
  auto dup =
      Send("user.upserted", {{"external_id", "emp-1"}, {"email", "ada@example.com"}}, "msg_cli_1");
  EXPECT_EQ(dup.code, 0) << Describe(dup);
  EXPECT_NE(dup.out.find("duplicate"), std::string::npos) << dup.out;

  // --json prints the ingress answer; the default id is fresh each time.
  auto sj =
      Cli("send", {"--source", "crm", "--type", "user.left", "--data", R"({"external_id":"emp-1"})",
                   "--json", "--url", "127.0.0.1:" + std::to_string(daemon_->ingress_port())});
  ASSERT_EQ(sj.code, 0) << Describe(sj);
  EXPECT_EQ(sj.JsonOut()["status"], "accepted") << sj.out;
  EXPECT_EQ(Cli("events", {"--json", "--source", "crm"}).JsonOut()["events"].size(), 1u);
}

// Without --timestamp, `send` stamps now in milliseconds (RFC 3339, UTC): two changes sent within
// one second keep their order instead of tying on the second (a tie is ordered by event id).
TEST_F(CliTest, SendStampsMilliseconds) {
  auto send = [&](const std::string& id, const std::string& name) {
    return Cli(
        "send",
        {"--source", "hr", "--type", "user.upserted", "--data",
         Json({{"external_id", "emp-ms"}, {"email", "ms@example.com"}, {"name", name}}).dump(),
         "--id", id, "--url", "127.0.0.1:" + std::to_string(daemon_->ingress_port())});
  };
  // "z" sorts after "a": with whole seconds the older change would win the tie.
  ASSERT_EQ(send("msg_z_first", "First Name").code, 0);
  ASSERT_EQ(send("msg_a_second", "Second Name").code, 0);
  const std::regex rfc3339_ms("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$");
  int64_t previous = 0;
  for (const std::string id : {"msg_z_first", "msg_a_second"}) {
    auto r = Cli("event", {id, "--json"});
    ASSERT_EQ(r.code, 0) << Describe(r);
    Json e = r.JsonOut();
    const std::string ts = e["body"]["timestamp"].get<std::string>();
    EXPECT_TRUE(std::regex_match(ts, rfc3339_ms)) << ts;
    const int64_t ms = e["occurred_at_ms"].get<int64_t>();
    EXPECT_GT(ms, previous) << id << " " << ts;
    previous = ms;
  }
  ASSERT_TRUE(WaitFor([&] {
    auto u = Cli("user", {"emp-ms", "--json"});
    return u.code == 0 && u.JsonOut()["desired"].value("name", "") == "Second Name";
  })) << Cli("user", {"emp-ms", "--json"}).out;
}

TEST_F(CliTest, SendRefusesInvalidDataLocally) {
  auto bad =
      Send("organization.upserted", {{"external_id", "acme"}, {"name", "Not Valid!"}}, "msg_bad");
  ExpectFailure(bad, 2, "name");
  EXPECT_NE(bad.err.find("not valid"), std::string::npos) << Describe(bad);
  auto password = Send(
      "user.upserted",
      {{"external_id", "emp-1"}, {"email", "a@example.com"}, {"password", "hunter2"}}, "msg_pw");
  ExpectFailure(password, 2, "password_reset_requested");
  ExpectFailure(Cli("send", {"--source", "hr", "--type", "user.left", "--data", "not json"}), 2,
                "--data");
  ExpectFailure(Cli("send", {"--source", "nobody", "--type", "user.left", "--data",
                             R"({"external_id":"e"})"}),
                2, "nobody");
  ExpectFailure(Send("user.exploded", {{"external_id", "emp-1"}}, "msg_type"), 2, "user.exploded");
  // Nothing reached the daemon.
  EXPECT_EQ(Cli("events", {"--json"}).JsonOut()["events"].size(), 0u);
}

TEST_F(CliTest, EventShowsOneEventAndUnknownIdsExitOne) {
  ASSERT_EQ(
      Send("user.upserted", {{"external_id", "emp-1"}, {"email", "ada@example.com"}}, "msg_one")
          .code,
      0);
  auto r = Cli("event", {"msg_one"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  for (auto s : {"event_id", "msg_one", "source", "hr", "state", "body", "ada@example.com"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << " in " << r.out;
  }
  auto j = Cli("event", {"msg_one", "--json"});
  ASSERT_EQ(j.code, 0) << Describe(j);
  EXPECT_EQ(j.JsonOut()["body"]["data"]["email"], "ada@example.com");

  ExpectFailure(Cli("event", {"msg_nope"}), 1, "msg_nope");
  ExpectFailure(Cli("event", {"msg_nope", "--json"}), 1, "msg_nope");
  ExpectFailure(Cli("replay", {"msg_nope"}), 1, "msg_nope");
  ExpectFailure(Cli("user", {"emp-nobody"}), 1, "emp-nobody");
  ExpectFailure(Cli("org", {"org-nobody"}), 1, "org-nobody");
  ExpectFailure(Cli("retry", {"999999"}), 1, "999999");
  ExpectFailure(Cli("discard", {"999999"}), 1, "999999");

  // An id with characters that need encoding in a URL.
  ASSERT_EQ(Send("user.left", {{"external_id", "emp-1"}}, "msg/a?b#c%d").code, 0);
  auto odd = Cli("event", {"msg/a?b#c%d", "--json"});
  ASSERT_EQ(odd.code, 0) << Describe(odd);
  EXPECT_EQ(odd.JsonOut()["event_id"], "msg/a?b#c%d");
}

TEST_F(CliTest, EventFromTwoSourcesNeedsSource) {
  ASSERT_EQ(Send("user.left", {{"external_id", "emp-1"}}, "shared-1", "hr").code, 0);
  ASSERT_EQ(Send("user.left", {{"external_id", "emp-2"}}, "shared-1", "crm").code, 0);
  ExpectFailure(Cli("event", {"shared-1"}), 1, "source");
  auto r = Cli("event", {"shared-1", "--source", "crm", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_EQ(r.JsonOut()["source"], "crm");
}

TEST_F(CliTest, ReplayRejectedAndFailedEvents) {
  // A rejected event (sent around the CLI's own validation) does not replay while still invalid.
  ASSERT_EQ(daemon_
                ->PostEvent("hr", "msg_rej",
                            EventBody("organization.upserted",
                                      {{"external_id", "acme"}, {"name", "Not Valid!"}}))
                .status,
            422);
  ExpectFailure(Cli("replay", {"msg_rej"}), 1, "still not valid");
  // A failed one replays. Nothing this version accepts fails to apply (a partial first upsert
  // waits instead), so the failure is staged as an older version would have left it: the writer
  // is paused, the stored event is marked failed in SQLite, and the writer resumes.
  ASSERT_EQ(Cli("pause").code, 0);
  ASSERT_EQ(
      Send("user.upserted", {{"external_id", "emp-7"}, {"email", "seven@example.com"}}, "msg_old")
          .code,
      0);
  {
    SQLite::Database db(daemon_->db_path(), SQLite::OPEN_READWRITE);
    db.setBusyTimeout(5000);
    ASSERT_EQ(db.exec("UPDATE events SET state = 'failed', error = 'could not be applied by an "
                      "older version' "
                      "WHERE event_id = 'msg_old' AND state = 'pending'"),
              1);
  }
  ASSERT_EQ(Cli("resume").code, 0);
  EXPECT_EQ(EventState("msg_old"), "failed");
  auto r = Cli("replay", {"msg_old", "--source", "hr"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.out.find("pending"), std::string::npos) << r.out;
  EXPECT_TRUE(WaitFor([&] { return EventState("msg_old") == "applied"; }));
  ExpectFailure(Cli("replay", {"msg_old"}), 1, "applied");
}

// A partial first upsert (no email yet) is applied and waits; the user is created once the email
// arrives, with the fields of both events.
TEST_F(CliTest, PartialFirstUpsertWaitsForTheEmail) {
  ASSERT_EQ(
      Send("user.upserted", {{"external_id", "emp-8"}, {"name", "Eight"}}, "msg_partial").code, 0);
  ASSERT_TRUE(WaitFor([&] { return EventState("msg_partial") == "applied"; }));
  auto waiting = Cli("user", {"emp-8", "--json"});
  ASSERT_EQ(waiting.code, 0) << Describe(waiting);
  EXPECT_TRUE(waiting.JsonOut()["auth0_id"].is_null()) << waiting.out;
  ASSERT_EQ(
      Send("user.upserted", {{"external_id", "emp-8"}, {"email", "eight@example.com"}}, "msg_full")
          .code,
      0);
  Json user;
  ASSERT_TRUE(WaitFor([&] {
    user = Cli("user", {"emp-8", "--json"}).JsonOut();
    return user.is_object() && user["auth0_id"].is_string();
  })) << user.dump();
  EXPECT_EQ(user["last_known_auth0"]["name"], "Eight") << user.dump();
  EXPECT_EQ(user["last_known_auth0"]["email"], "eight@example.com") << user.dump();
}

TEST_F(CliTest, UserAndOrg) {
  ASSERT_EQ(Send("organization.upserted",
                 {{"external_id", "acme"}, {"name", "acme"}, {"display_name", "Acme"}}, "msg_org")
                .code,
            0);
  ASSERT_EQ(Send("user.upserted",
                 {{"external_id", "emp-1"},
                  {"email", "ada@example.com"},
                  {"organizations", {{{"external_id", "acme"}, {"roles", Json::array()}}}}},
                 "msg_user")
                .code,
            0);
  Json user;
  ASSERT_TRUE(WaitFor([&] {
    auto r = Cli("user", {"emp-1", "--json"});
    user = r.JsonOut();
    return r.code == 0 && user["auth0_id"].is_string();
  })) << user.dump();
  auto r = Cli("user", {"emp-1"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  for (auto s : {"external_id", "auth0_id", "auth0|", "desired", "ada@example.com", "mutations",
                 "ID", "ENTITY", "KIND", "STATE", "create_user"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << " in " << r.out;
  }
  auto logs = Cli("user", {"emp-1", "--logs", "--json"});
  ASSERT_EQ(logs.code, 0) << Describe(logs);
  EXPECT_TRUE(logs.JsonOut()["auth0_logs"].is_array()) << logs.out;

  ASSERT_TRUE(WaitFor([&] {
    return Cli("org", {"acme", "--json"}).JsonOut()["auth0_id"].is_string();
  }));
  auto o = Cli("org", {"acme"});
  ASSERT_EQ(o.code, 0) << Describe(o);
  for (auto s : {"acme", "org_", "Acme", "KIND", "create_organization"}) {
    EXPECT_NE(o.out.find(s), std::string::npos) << s << " in " << o.out;
  }
}

TEST_F(CliTest, MutationsRetryAndDiscard) {
  // An organization asking for a connection that does not exist: that mutation is dead.
  ASSERT_EQ(Send("organization.upserted",
                 {{"external_id", "acme"},
                  {"name", "acme"},
                  {"connections", {{{"name", "no-such-connection"}}}}},
                 "msg_org")
                .code,
            0);
  Json dead;
  ASSERT_TRUE(WaitFor([&] {
    dead = Cli("mutations", {"--state", "dead", "--json"}).JsonOut()["mutations"];
    return dead.is_array() && !dead.empty();
  }));
  auto table = Cli("mutations");
  ASSERT_EQ(table.code, 0) << Describe(table);
  for (auto h :
       {"ID", "ENTITY", "KIND", "STATE", "ATTEMPTS", "ERROR", "no-such-connection", "dead"}) {
    EXPECT_NE(table.out.find(h), std::string::npos) << h << " in " << table.out;
  }
  auto limited = Cli("mutations", {"--limit", "1", "--json"});
  ASSERT_EQ(limited.code, 0) << Describe(limited);
  EXPECT_EQ(limited.JsonOut()["mutations"].size(), 1u);

  const std::string id = dead[0]["id"].dump();
  // Paused, so the retried mutation stays failed until it is discarded (a running writer may try
  // it again at once, which supersedes it and leaves nothing to discard).
  ASSERT_EQ(Cli("pause").code, 0);
  auto retried = Cli("retry", {id});
  ASSERT_EQ(retried.code, 0) << Describe(retried);
  EXPECT_NE(retried.out.find(id), std::string::npos) << retried.out;
  EXPECT_NE(retried.out.find("failed"), std::string::npos) << retried.out;
  auto discarded = Cli("discard", {id, "--json"});
  ASSERT_EQ(discarded.code, 0) << Describe(discarded);
  EXPECT_EQ(discarded.JsonOut()["state"], "discarded") << discarded.out;
  ExpectFailure(Cli("discard", {id}), 1, "discarded");
  ExpectFailure(Cli("retry", {id}), 1, "discarded");
  ASSERT_EQ(Cli("resume").code, 0);

  // A done mutation is neither retried nor discarded.
  auto done = Cli("mutations", {"--state", "done", "--json"}).JsonOut()["mutations"];
  ASSERT_FALSE(done.empty());
  ExpectFailure(Cli("retry", {done[0]["id"].dump()}), 1, "done");
}

// `events` shows scheduled events apart from due ones, with their due time, and what happened
// to an event later (its note) under its row; `status` counts them apart and says where to look.
TEST_F(CliTest, ScheduledEventsWithDueTimeAndNotes) {
  const int64_t now = SystemClock().NowUnixMillis();
  ASSERT_EQ(
      SendAt("user.left", {{"external_id", "emp-move"}, {"effective_at", Rfc3339Ms(now + 1500)}},
             "msg_soon", now - 2000)
          .code,
      0);
  ASSERT_EQ(
      SendAt("user.left", {{"external_id", "emp-move"}, {"effective_at", "2099-01-01T00:00:00Z"}},
             "msg_later", now - 1000)
          .code,
      0);
  auto scheduled = Cli("events", {"--state", "scheduled"});
  ASSERT_EQ(scheduled.code, 0) << Describe(scheduled);
  for (auto s : {"DUE", "msg_later", "scheduled", "2099-01-01T00:00:00Z"})
    EXPECT_NE(scheduled.out.find(s), std::string::npos) << s << " in " << scheduled.out;
  EXPECT_EQ(Cli("events", {"--state", "due", "--json"}).JsonOut()["events"].size(), 0u);
  EXPECT_EQ(Cli("events", {"--state", "pending", "--json"}).JsonOut()["events"].size(), 2u);

  // The sooner one comes due and is superseded by the later one: its note says so.
  ASSERT_TRUE(WaitFor([&] {
    const Json e = Cli("event", {"msg_soon", "--json"}).JsonOut();
    return e.is_object() && e.value("note", Json()).is_string();
  })) << Cli("event", {"msg_soon", "--json"}).out;
  auto list = Cli("events");
  ASSERT_EQ(list.code, 0) << Describe(list);
  EXPECT_NE(list.out.find("note: superseded by hr/msg_later"), std::string::npos) << list.out;
  auto one = Cli("event", {"msg_soon"});
  ASSERT_EQ(one.code, 0) << Describe(one);
  EXPECT_NE(one.out.find("superseded by hr/msg_later"), std::string::npos) << one.out;

  auto status = Cli("status");
  ASSERT_EQ(status.code, 0) << Describe(status);
  EXPECT_TRUE(std::regex_search(status.out, std::regex("events\\.scheduled +1\\n"))) << status.out;
  EXPECT_TRUE(std::regex_search(status.out, std::regex("events\\.pending +1\\n"))) << status.out;
  EXPECT_TRUE(std::regex_search(status.out, std::regex("events\\.due +0\\n"))) << status.out;
  EXPECT_NE(status.out.find("tenantsync events --state scheduled"), std::string::npos)
      << status.out;
}

// [policy] delete_after_days: `status` lists the leaver's deletion as scheduled work, with the
// entity and when it is due.
TEST_F(CliTest, StatusShowsScheduledWork) {
  ASSERT_NO_FATAL_FAILURE(Restart("\n[policy]\ndelete_after_days = 2\n"));
  ASSERT_NO_FATAL_FAILURE(CreateUser("emp-leaver"));
  const int64_t left_ms = SystemClock().NowUnixMillis() / 1000 * 1000;
  ASSERT_EQ(SendAt("user.left", {{"external_id", "emp-leaver"}}, "msg_leave", left_ms).code, 0);
  // The block waits guard_settle_ms first (scheduled work for those 2 s too).
  ASSERT_TRUE(WaitFor([&] {
    const Json next = StatusJson()["scheduled_work"]["next"];
    return next.size() == 1 && next[0]["due_at_ms"].get<int64_t>() > left_ms + 86400000LL;
  })) << StatusJson().dump();
  auto status = Cli("status");
  ASSERT_EQ(status.code, 0) << Describe(status);
  const std::string due = Rfc3339Ms(left_ms + 2 * 86400000LL).substr(0, 19) + "Z";
  EXPECT_TRUE(std::regex_search(status.out,
                                std::regex("scheduled_work\\.next +user:emp-leaver due " + due)))
      << due << " in " << status.out;
  EXPECT_TRUE(std::regex_search(status.out, std::regex("scheduled_work\\.total +1\\n")))
      << status.out;
}

// A user waiting for its email says so at the top of `tenantsync user`, and `status` counts it.
TEST_F(CliTest, UserShowsWhatItWaitsFor) {
  ASSERT_EQ(Send("user.upserted", {{"external_id", "emp-w"}, {"name", "Wanda"}}, "msg_w").code, 0);
  ASSERT_TRUE(WaitFor([&] { return StatusJson()["waiting"]["total"] == 1; }))
      << StatusJson().dump();
  auto r = Cli("user", {"emp-w"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  const size_t waiting = r.out.find("WAITING");
  ASSERT_NE(waiting, std::string::npos) << r.out;
  EXPECT_LT(waiting, r.out.find("desired")) << "before everything else: " << r.out;
  const std::string line = r.out.substr(waiting, r.out.find('\n', waiting) - waiting);
  EXPECT_NE(line.find("email"), std::string::npos) << line;

  auto status = Cli("status");
  ASSERT_EQ(status.code, 0) << Describe(status);
  EXPECT_TRUE(std::regex_search(status.out, std::regex("waiting\\.total +1\\n"))) << status.out;
  EXPECT_TRUE(std::regex_search(status.out, std::regex("waiting\\.examples +user:emp-w: .*email")))
      << status.out;
  EXPECT_NE(status.out.find("tenantsync user ID"), std::string::npos) << status.out;
}

// A role that does not exist in Auth0: `tenantsync user` shows the failed role assignment and
// `tenantsync status` points at the dead mutations.
TEST_F(CliTest, UnknownRoleShowsInUserAndStatusPointsAtDeadMutations) {
  ASSERT_EQ(
      Send("organization.upserted", {{"external_id", "acme"}, {"name", "acme"}}, "msg_org").code,
      0);
  ASSERT_EQ(Send("user.upserted",
                 {{"external_id", "emp-r"},
                  {"email", "r@example.com"},
                  {"organizations", {{{"external_id", "acme"}, {"roles", {"no-such-role"}}}}}},
                 "msg_r")
                .code,
            0);
  ASSERT_TRUE(WaitFor([&] {
    const Json u = Cli("user", {"emp-r", "--json"}).JsonOut();
    return u.is_object() && !u.value("membership_problems", Json::array()).empty();
  })) << Cli("user", {"emp-r", "--json"}).out;
  auto r = Cli("user", {"emp-r"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  const size_t section = r.out.find("membership problems");
  ASSERT_NE(section, std::string::npos) << r.out;
  const std::string problems = r.out.substr(section);
  for (auto s : {"members:acme", "add_member_roles", "dead", "no-such-role",
                 "does not exist in Auth0", "tenantsync retry"}) {
    EXPECT_NE(problems.find(s), std::string::npos) << s << " in " << problems;
  }
  auto status = Cli("status");
  ASSERT_EQ(status.code, 0) << Describe(status);
  EXPECT_NE(status.out.find("tenantsync mutations --state dead"), std::string::npos) << status.out;
}

// `guard reject --by NAME` records who rejected; without --by the login name ($USER) is sent.
TEST_F(CliTest, GuardRejectRecordsWho) {
  ASSERT_NO_FATAL_FAILURE(Restart(
      "\n[policy]\nguard_max_destructive = 0\nguard_max_fraction = 0.0\nguard_settle_ms = 0\n"));
  // A name the daemon refuses: its message, exit 1, nothing changed.
  ExpectFailure(Cli("guard", {"reject", "--by", ""}), 1, "by");
  auto trip = [&](const std::string& ext) {
    ASSERT_NO_FATAL_FAILURE(CreateUser(ext));
    ASSERT_EQ(SendAt("user.left", {{"external_id", ext}}, "msg_left_" + ext,
                     SystemClock().NowUnixMillis())
                  .code,
              0);
    ASSERT_TRUE(WaitFor([&] {
      Json s = StatusJson();
      return s["guard"]["tripped"] == true && s["guard"]["held"]["total"].get<int>() >= 1;
    })) << StatusJson().dump();
  };
  ASSERT_NO_FATAL_FAILURE(trip("emp-g1"));
  auto status = Cli("status");
  EXPECT_NE(status.out.find("tenantsync guard reject"), std::string::npos) << status.out;
  auto r = Cli("guard", {"reject", "--by", "alice"}, {{"USER", "not-alice"}});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.out.find("\"by\":\"alice\""), std::string::npos) << r.out;
  EXPECT_NE(Cli("event", {"msg_left_emp-g1"}).out.find("rejected at the guard by alice"),
            std::string::npos);

  ASSERT_NO_FATAL_FAILURE(trip("emp-g2"));
  r = Cli("guard", {"reject", "--json"}, {{"USER", "ci-bob"}});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_EQ(r.JsonOut()["by"], "ci-bob") << r.out;
  EXPECT_NE(Cli("event", {"msg_left_emp-g2"}).out.find("rejected at the guard by ci-bob"),
            std::string::npos);
}

TEST_F(CliTest, PauseAndResume) {
  auto p = Cli("pause");
  ASSERT_EQ(p.code, 0) << Describe(p);
  EXPECT_NE(p.out.find("paused"), std::string::npos) << p.out;
  EXPECT_EQ(Cli("status", {"--json"}).JsonOut()["paused"], true);
  ASSERT_EQ(
      Send("user.upserted", {{"external_id", "emp-1"}, {"email", "ada@example.com"}}, "msg_p").code,
      0);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(EventState("msg_p"), "pending");
  auto r = Cli("resume", {"--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_EQ(r.JsonOut()["paused"], false) << r.out;
  EXPECT_TRUE(WaitFor([&] { return EventState("msg_p") == "applied"; }));
}

// `tenantsync wait` (issue 17 item 2) watches a burst: it times out (exit 2) while the writer is
// paused, then, resumed, exits 0 once Auth0 has every user, having printed plain progress lines
// (stdout is not a terminal here) with the same figures as the status' progress object.
TEST_F(CliTest, WaitShowsProgressUntilABurstConverges) {
  ASSERT_EQ(Cli("pause").code, 0);
  constexpr int kUsers = 20;
  for (int i = 0; i < kUsers; ++i) {
    const std::string ext = "burst-" + std::to_string(i);
    ASSERT_EQ(Send("user.upserted", {{"external_id", ext}, {"email", ext + "@example.com"}},
                   "msg_burst_" + std::to_string(i))
                  .code,
              0);
  }
  Json progress = StatusJson()["progress"];
  ASSERT_TRUE(progress.is_object()) << progress;
  EXPECT_GT(progress["pending_total"].get<int64_t>(), 0) << progress;
  // Paused: 20 events not applied yet, each at least one write.
  EXPECT_GE(progress["writes_left_estimate"].get<int64_t>(), kUsers) << progress;
  EXPECT_TRUE(progress["auth0_headroom"].is_number_integer() ||
              progress["auth0_headroom"].is_null())
      << progress;

  auto timed_out = Cli("wait", {"--timeout", "1"});
  EXPECT_EQ(timed_out.code, 2) << Describe(timed_out);
  EXPECT_NE(timed_out.err.find("not converged within 1 s"), std::string::npos)
      << Describe(timed_out);
  EXPECT_NE(timed_out.out.find("progress: 0/"), std::string::npos) << Describe(timed_out);

  ASSERT_EQ(Cli("resume").code, 0);
  auto r = Cli("wait", {"--timeout", "60"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.out.find("progress: "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << "no terminal bar into a file: " << r.out;
  // The last progress line says everything converged and nothing is left.
  const size_t last = r.out.rfind("progress: ");
  const std::string line = r.out.substr(last, r.out.find('\n', last) - last);
  EXPECT_NE(line.find("(100%)"), std::string::npos) << r.out;
  EXPECT_NE(line.find("ETA 0s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Converged"), std::string::npos) << r.out;
  for (int i = 0; i < kUsers; ++i) {
    auto u = Cli("user", {"burst-" + std::to_string(i), "--json"});
    EXPECT_TRUE(u.JsonOut()["auth0_id"].is_string()) << u.out;
  }
  progress = StatusJson()["progress"];
  EXPECT_EQ(progress["pending_total"], 0) << progress;
  EXPECT_EQ(progress["writes_left_estimate"], 0) << progress;
  EXPECT_GE(progress["mutations_done_total"].get<int64_t>(), kUsers) << progress;
  EXPECT_GE(progress["mutations_done_last_minute"].get<int64_t>(), kUsers) << progress;
  // Every write was at least one Auth0 request (plus the token and the invitations).
  EXPECT_GE(progress["auth0_requests_total"].get<int64_t>(),
            progress["mutations_done_total"].get<int64_t>())
      << progress;
  EXPECT_NE(line.find("Auth0 requests/s"), std::string::npos) << r.out;
  // `tenantsync status` shows the same figures.
  EXPECT_NE(Cli("status").out.find("progress.pending_total"), std::string::npos);
}

}  // namespace
}  // namespace tenantsync::testing
