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
#include <regex>
#include <sstream>
#include <thread>

#include "tests/support/daemon_fixture.h"

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

// Runs build/tenantsync with `args`, stdout and stderr captured separately.
CliResult RunCli(const std::vector<std::string>& args) {
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
    int sim_port = sim_->WaitForPort();
    ASSERT_GT(sim_port, 0) << sim_->Output();
    TestDaemonOptions o;
    TestSource crm;
    crm.name = "crm";
    crm.scheme = "hmac-sha256";
    crm.secrets = {"crm-secret-for-cli-test"};
    crm.extra_toml = "id_header = \"X-Request-Id\"\n";
    o.sources.push_back(crm);
    o.auth0_base_url = "http://127.0.0.1:" + std::to_string(sim_port);
    o.auth0_client_id = kClientId;
    o.auth0_client_secret = kClientSecret;
    o.application_client_id = kClientId;
    daemon_ = std::make_unique<TestDaemon>(o);
    ASSERT_TRUE(daemon_->Start()) << daemon_->Output();
  }

  // `tenantsync CMD ARGS... --config CFG --admin 127.0.0.1:PORT`
  CliResult Cli(const std::string& cmd, std::vector<std::string> args = {}) {
    std::vector<std::string> all = {cmd};
    all.insert(all.end(), args.begin(), args.end());
    for (auto& a : {std::string("--config"), daemon_->config_path(), std::string("--admin"),
                    "127.0.0.1:" + std::to_string(daemon_->admin_port())}) {
      all.push_back(a);
    }
    return RunCli(all);
  }
  CliResult Send(const std::string& type, const Json& data, const std::string& id,
                 const std::string& source = "hr") {
    return Cli("send", {"--source", source, "--type", type, "--data", data.dump(), "--id", id,
                        "--url", "127.0.0.1:" + std::to_string(daemon_->ingress_port())});
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
           {"send", "--type", "user.upserted"}}) {  // --source missing
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
  auto retried = Cli("retry", {id});
  ASSERT_EQ(retried.code, 0) << Describe(retried);
  EXPECT_NE(retried.out.find(id), std::string::npos) << retried.out;
  EXPECT_NE(retried.out.find("failed"), std::string::npos) << retried.out;
  auto discarded = Cli("discard", {id, "--json"});
  ASSERT_EQ(discarded.code, 0) << Describe(discarded);
  EXPECT_EQ(discarded.JsonOut()["state"], "discarded") << discarded.out;
  ExpectFailure(Cli("discard", {id}), 1, "discarded");
  ExpectFailure(Cli("retry", {id}), 1, "discarded");

  // A done mutation is neither retried nor discarded.
  auto done = Cli("mutations", {"--state", "done", "--json"}).JsonOut()["mutations"];
  ASSERT_FALSE(done.empty());
  ExpectFailure(Cli("retry", {done[0]["id"].dump()}), 1, "done");
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

}  // namespace
}  // namespace tenantsync::testing
