// Issue 8 (drift): a converged tenant is changed directly in auth0-sim (a member removed, a role
// removed, organization metadata edited, a blocked user unblocked, a name changed, a callback
// deleted) and unmanaged objects are created beside it. `POST /v1/drift/run?mode=report` lists
// exactly those differences and changes nothing; `?mode=correct` repairs them through the writer;
// the unmanaged user and organization are never reported nor touched.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "tests/integration/reconcile_support.h"

namespace tenantsync::testing::reconcile {
namespace {

std::string IdOf(const Json& list, const char* key, const std::string& value, const char* id_key) {
  for (auto& x : list) {
    if (x.value(key, std::string()) == value) return x[id_key].get<std::string>();
  }
  return "";
}

std::set<std::string> DiffKeys(const Json& report) {
  std::set<std::string> out;
  for (auto& d : report["differences"])
    out.insert(d["entity"].get<std::string>() + " " + d["field"].get<std::string>());
  return out;
}

// Management API calls straight to the simulator, with a JSON body also on DELETE.
class Mgmt {
 public:
  explicit Mgmt(int port) : http_("127.0.0.1", port, 30) {
    auto r = http_.Post("/oauth/token",
                        Json{{"grant_type", "client_credentials"},
                             {"client_id", kSimClientId},
                             {"client_secret", kSimClientSecret},
                             {"audience", "https://tenant.example.com/api/v2/"}}
                            .dump(),
                        {}, "application/json");
    token_ = r.Json().value("access_token", std::string());
  }
  TestResponse Call(const std::string& method, const std::string& path,
                    const Json& body = nullptr) {
    HeaderList h = {{"Authorization", "Bearer " + token_}};
    if (!body.is_null()) h.push_back({"Content-Type", "application/json"});
    return http_.Send(method, "/api/v2" + path, body.is_null() ? "" : body.dump(), h, "");
  }

 private:
  TestHttpClient http_;
  std::string token_;
};

// Users are read through batched search (the default for a small tenant) or, with the threshold
// at 0, through a users export job; both must find the same differences.
class DriftUsersRead : public ::testing::TestWithParam<std::string> {};

TEST_P(DriftUsersRead, ReportThenCorrectOnlyManagedObjects) {
  const bool export_job = GetParam() == "export";
  // The export job stays pending for a moment, so the status polling is exercised too.
  Sim sim({"--index-lag-ms", "0", "--export-delay-ms", "300"});
  ASSERT_TRUE(sim.ok());
  sim.CreateRole("admin");
  sim.CreateRole("member");
  TestDaemon d(
      DaemonFor(sim, std::string("[policy]\ndrift_interval_seconds = 0\ndrift_mode = \"report\"\n"
                                 "drift_member_list_lag_seconds = 0\n") +
                         (export_job ? "drift_user_export_threshold = 0\n" : "")));
  ASSERT_TRUE(d.Start()) << d.Output();

  std::vector<Ev> events = {
      {"o1",
       "organization.upserted",
       {{"external_id", "acme"},
        {"name", "acme"},
        {"display_name", "Acme"},
        {"metadata", {{"tier", "gold"}}},
        {"callback_urls", {"https://acme.example.com/callback"}}},
       Ts(1)},
      {"o2",
       "organization.upserted",
       {{"external_id", "globex"},
        {"name", "globex"},
        {"display_name", "Globex"},
        {"metadata", {{"region", "us"}}},
        {"callback_urls", {"https://globex.example.com/callback"}}},
       Ts(2)},
      {"u1",
       "user.upserted",
       {{"external_id", "e1"},
        {"email", "ada@acme.example.com"},
        {"name", "Ada Lovelace"},
        {"app_metadata", {{"plan", "pro"}}},
        {"organizations", {{{"external_id", "acme"}, {"roles", {"admin", "member"}}}}}},
       Ts(3)},
      {"u2",
       "user.upserted",
       {{"external_id", "e2"},
        {"email", "grace@acme.example.com"},
        {"name", "Grace Hopper"},
        {"organizations", {{{"external_id", "acme"}, {"roles", {"member"}}}}}},
       Ts(4)},
      {"u3",
       "user.upserted",
       {{"external_id", "e3"},
        {"email", "alan@acme.example.com"},
        {"name", "Alan Turing"},
        {"organizations",
         {{{"external_id", "acme"}, {"roles", {"member"}}},
          {{"external_id", "globex"}, {"roles", Json::array()}}}}},
       Ts(5)},
      {"u4",
       "user.upserted",
       {{"external_id", "e4"},
        {"email", "linus@globex.example.com"},
        {"name", "Linus"},
        {"organizations", {{{"external_id", "globex"}, {"roles", {"member"}}}}}},
       Ts(6)},
      {"u4b", "user.blocked", {{"external_id", "e4"}, {"reason", "review"}}, Ts(7)},
  };
  for (auto& ev : events) ASSERT_TRUE(Send(d, ev));
  WaitConverged(d);
  ASSERT_EQ(Status(d)["mutations"]["dead"], 0) << Mutations(d, "&state=dead").dump();
  const Json baseline = Normalize(sim.State());
  ASSERT_EQ(baseline["users"]["linus@globex.example.com"]["blocked"], true) << baseline.dump();
  ASSERT_EQ(baseline["organizations"]["acme"]["members"]["ada@acme.example.com"],
            (Json{"admin", "member"}));

  // Converged: no drift (and the default mode is the configured one).
  {
    auto r = d.AdminPost("/v1/drift/run");
    ASSERT_EQ(r.status, 200) << r.body << d.Output();
    Json rep = r.Json();
    EXPECT_EQ(rep["mode"], "report");
    EXPECT_EQ(rep["differences"], Json::array()) << rep.dump(1);
    EXPECT_GT(rep["requests"].get<int64_t>(), 0);
    EXPECT_EQ(rep["users_read_by"], GetParam());
    EXPECT_EQ(rep["confirm_reads"], 0) << "nothing differed, so no user was read one by one";
    EXPECT_EQ(sim.Requests("GET /api/v2/users/{id}"), 0);
    EXPECT_EQ(sim.Requests("POST /api/v2/jobs/users-exports") > 0, export_job);
    if (export_job) {
      EXPECT_GE(sim.Requests("GET /api/v2/jobs/{id}"), 2) << "pending, then completed";
    }
  }

  // ---- Changes behind tenantsync's back ---------------------------------------------------------
  Mgmt mgmt(sim.port());
  Json state = sim.State();
  const std::string acme = IdOf(state["organizations"], "name", "acme", "id");
  const std::string globex = IdOf(state["organizations"], "name", "globex", "id");
  const std::string ada = IdOf(state["users"], "email", "ada@acme.example.com", "user_id");
  const std::string grace = IdOf(state["users"], "email", "grace@acme.example.com", "user_id");
  const std::string linus = IdOf(state["users"], "email", "linus@globex.example.com", "user_id");
  ASSERT_FALSE(acme.empty() || globex.empty() || ada.empty() || grace.empty() || linus.empty())
      << state.dump();
  Json roles = mgmt.Call("GET", "/roles").Json();
  if (roles.is_object()) roles = roles["roles"];
  const std::string admin_role = IdOf(roles, "name", "admin", "id");
  ASSERT_FALSE(admin_role.empty()) << roles.dump();

  auto ok = [](const TestResponse& r) {
    if (r.status < 200 || r.status >= 300) ADD_FAILURE() << r.status << " " << r.body;
    return r.status >= 200 && r.status < 300;
  };
  ASSERT_TRUE(ok(mgmt.Call("DELETE", "/organizations/" + acme + "/members",
                           {{"members", Json::array({grace})}})));
  ASSERT_TRUE(ok(mgmt.Call("DELETE", "/organizations/" + acme + "/members/" + ada + "/roles",
                           {{"roles", Json::array({admin_role})}})));
  ASSERT_TRUE(
      ok(mgmt.Call("PATCH", "/organizations/" + globex, {{"metadata", {{"region", "eu"}}}})));
  ASSERT_TRUE(ok(mgmt.Call("PATCH", "/users/" + linus, {{"blocked", false}})));
  ASSERT_TRUE(ok(mgmt.Call("PATCH", "/users/" + ada, {{"name", "Somebody Else"}})));
  ASSERT_TRUE(ok(mgmt.Call("PATCH", std::string("/clients/") + kSimClientId,
                           {{"callbacks", Json::array({"https://acme.example.com/callback"})}})));
  // Unmanaged objects, one of them a member of a managed organization.
  auto outsider = mgmt.Call("POST", "/users",
                            {{"email", "outsider@other.example.com"},
                             {"password", "Outsider-Pass-123!"},
                             {"connection", kConnection},
                             {"name", "Outsider"}});
  ASSERT_TRUE(ok(outsider)) << outsider.body;
  const std::string outsider_id = outsider.Json()["user_id"].get<std::string>();
  ASSERT_TRUE(ok(mgmt.Call("POST", "/organizations",
                           {{"name", "outsider-org"},
                            {"display_name", "Outsider Org"},
                            {"metadata", {{"owner", "someone"}}}})));
  ASSERT_TRUE(ok(mgmt.Call("POST", "/organizations/" + acme + "/members",
                           {{"members", Json::array({outsider_id})}})));
  const Json tampered = Normalize(sim.State());

  // ---- Report: every difference listed, nothing changed
  // ------------------------------------------
  const std::set<std::string> expected = {"members:acme member:e2", "members:acme roles:e1",
                                          "org:globex metadata",    "user:e4 blocked",
                                          "user:e1 name",           "callbacks callbacks"};
  {
    auto r = d.AdminPost("/v1/drift/run?mode=report");
    ASSERT_EQ(r.status, 200) << r.body;
    Json rep = r.Json();
    EXPECT_EQ(rep["mode"], "report");
    EXPECT_EQ(DiffKeys(rep), expected) << rep.dump(1);
    for (auto& diff : rep["differences"]) {
      if (diff["field"] == "metadata") {
        EXPECT_EQ(diff["auth0"], (Json{{"region", "eu"}}));
        EXPECT_EQ(diff["expected"], (Json{{"region", "us"}}));
      }
      if (diff["field"] == "blocked") {
        EXPECT_EQ(diff["auth0"], false);
      }
      if (diff["entity"] == "callbacks") {
        EXPECT_EQ(diff["expected"], "https://globex.example.com/callback");
      }
    }
    EXPECT_EQ(rep.dump().find("outsider"), std::string::npos) << rep.dump(1);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Normalize(sim.State()), tampered) << "report mode changed the tenant";
  Json st = Status(d);
  EXPECT_EQ(st["entities_to_reconcile"], 0);
  EXPECT_EQ(st["drift"]["mode"], "report") << st.dump();
  EXPECT_EQ(st["drift"]["differences"], expected.size()) << st.dump();
  EXPECT_EQ(st["drift"]["first"].size(), 5u);
  auto metrics = d.AdminGet("/metrics").body;
  EXPECT_NE(metrics.find("tenantsync_drift_differences 6"), std::string::npos) << metrics;

  // The CLI prints the same differences as a table.
  {
    std::string cmd = BuildPath("tenantsync") + " drift --mode report --config " + d.config_path() +
                      " --admin 127.0.0.1:" + std::to_string(d.admin_port()) + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int rc = pclose(p);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("FIELD"), std::string::npos) << out;
    EXPECT_NE(out.find("members:acme"), std::string::npos) << out;
    EXPECT_NE(out.find("6 difference(s)"), std::string::npos) << out;
  }

  // ---- Correct: the writer repairs through its normal path -------------------------------------
  {
    auto r = d.AdminPost("/v1/drift/run?mode=correct");
    ASSERT_EQ(r.status, 200) << r.body;
    Json rep = r.Json();
    EXPECT_EQ(rep["mode"], "correct");
    EXPECT_EQ(DiffKeys(rep), expected) << rep.dump(1);
    EXPECT_GT(rep["corrected"].get<int64_t>(), 0);
  }
  WaitConverged(d);
  EXPECT_EQ(Status(d)["mutations"]["dead"], 0) << Mutations(d, "&state=dead").dump();
  Json after = Normalize(sim.State());
  for (auto email : {"ada@acme.example.com", "grace@acme.example.com", "alan@acme.example.com",
                     "linus@globex.example.com"}) {
    EXPECT_EQ(after["users"][email], baseline["users"][email]) << email;
  }
  Json acme_expected = baseline["organizations"]["acme"];
  acme_expected["members"]["outsider@other.example.com"] = Json::array();  // unmanaged member stays
  EXPECT_EQ(after["organizations"]["acme"], acme_expected);
  EXPECT_EQ(after["organizations"]["globex"], baseline["organizations"]["globex"]);
  EXPECT_EQ(after["callbacks"], baseline["callbacks"]);
  // Unmanaged objects untouched.
  EXPECT_EQ(after["users"]["outsider@other.example.com"],
            tampered["users"]["outsider@other.example.com"]);
  EXPECT_EQ(after["organizations"]["outsider-org"], tampered["organizations"]["outsider-org"]);

  // And no drift is left.
  auto r = d.AdminPost("/v1/drift/run?mode=report");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["differences"], Json::array()) << r.body;
  EXPECT_EQ(d.AdminPost("/v1/drift/run?mode=sideways").status, 400);
}

INSTANTIATE_TEST_SUITE_P(Drift, DriftUsersRead, ::testing::Values("search", "export"),
                         [](const auto& p) { return p.param; });

// Positive evidence: search and member lists that lag far behind writes (or a tenant that fails
// every read) must never turn into blocks, deletes or removals. Lagging reads are confirmed by
// immediately consistent ones; a failed read aborts the pass without correcting anything.
TEST(Drift, LaggingOrFailingReadsAreNeverTakenAsLeavers) {
  Sim sim({"--index-lag-ms", "600000"});  // search and member lists see nothing written
  ASSERT_TRUE(sim.ok());
  // max_retries = 1 (inside [auth0]): the failing pass below gives up quickly.
  TestDaemon d(DaemonFor(
      sim, "max_retries = 1\n[policy]\ndrift_interval_seconds = 0\ndrift_mode = \"correct\"\n"));
  ASSERT_TRUE(d.Start()) << d.Output();
  std::vector<Ev> events = {
      {"o1",
       "organization.upserted",
       {{"external_id", "acme"}, {"name", "acme"}, {"display_name", "Acme"}},
       Ts(1)},
      {"u1",
       "user.upserted",
       {{"external_id", "e1"},
        {"email", "ada@acme.example.com"},
        {"name", "Ada"},
        {"organizations", {{{"external_id", "acme"}}}}},
       Ts(2)},
      {"u2",
       "user.upserted",
       {{"external_id", "e2"},
        {"email", "grace@acme.example.com"},
        {"name", "Grace"},
        {"organizations", {{{"external_id", "acme"}}}}},
       Ts(3)},
      {"u3",
       "user.upserted",
       {{"external_id", "e3"}, {"email", "alan@acme.example.com"}, {"name", "Alan"}},
       Ts(4)},
  };
  for (auto& e : events) ASSERT_TRUE(Send(d, e));
  WaitConverged(d);
  const Json before = Normalize(sim.State());

  auto r = d.AdminPost("/v1/drift/run?mode=correct");
  ASSERT_EQ(r.status, 200) << r.body;
  Json rep = r.Json();
  EXPECT_EQ(rep["users_read_by"], "search");
  EXPECT_EQ(rep["confirm_reads"], 3) << "every user missing from the lagging search is read by id";
  // The two members were added moments ago: the lagging (empty) member list is not judged.
  EXPECT_EQ(rep["differences"], Json::array()) << rep.dump(1);
  ASSERT_EQ(rep["notes"].size(), 1u) << rep.dump(1);
  EXPECT_NE(rep["notes"][0].get<std::string>().find("2 member(s) missing"), std::string::npos)
      << rep.dump(1);
  WaitConverged(d);
  for (auto& m : Mutations(d)) {
    const std::string kind = m["kind"];
    EXPECT_TRUE(kind.find("block") == std::string::npos &&
                kind.find("delete") == std::string::npos &&
                kind.find("remove") == std::string::npos)
        << m.dump();
  }
  EXPECT_EQ(Normalize(sim.State()), before) << "a lagging read changed the tenant";
  const size_t mutations_before = Mutations(d).size();

  // Every read fails: the pass reports the error and corrects nothing.
  ASSERT_EQ(sim.SetFaults({{"error_rate", 1.0}}).status, 200);
  auto failed = d.AdminPost("/v1/drift/run?mode=correct");
  EXPECT_EQ(failed.status, 503) << failed.body;
  ASSERT_EQ(sim.SetFaults({{"error_rate", 0.0}}).status, 200);
  EXPECT_EQ(Status(d)["entities_to_reconcile"], 0);
  EXPECT_EQ(Mutations(d).size(), mutations_before) << Mutations(d).dump(1);
  EXPECT_EQ(Normalize(sim.State()), before);
}

// The main loop runs drift by itself every drift_interval_seconds, off the tick, in the configured
// mode; /v1/status shows the last run.
TEST(Drift, PeriodicRunInConfiguredMode) {
  Sim sim({"--index-lag-ms", "0"});
  ASSERT_TRUE(sim.ok());
  TestDaemon d(DaemonFor(sim, "[policy]\ndrift_interval_seconds = 1\ndrift_mode = \"report\"\n"));
  ASSERT_TRUE(d.Start()) << d.Output();
  EXPECT_TRUE(Status(d)["drift"].is_null()) << Status(d).dump();
  ASSERT_TRUE(Send(d, {"o1",
                       "organization.upserted",
                       {{"external_id", "acme"}, {"name", "acme"}, {"display_name", "Acme"}},
                       Ts(1)}));
  WaitConverged(d);
  Json drift;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    drift = Status(d)["drift"];
    if (drift.is_object()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(drift.is_object()) << d.Output();
  EXPECT_EQ(drift["mode"], "report");
  EXPECT_EQ(drift["differences"], 0) << drift.dump();
  EXPECT_GT(drift["ran_at_ms"].get<int64_t>(), 0);
}

}  // namespace
}  // namespace tenantsync::testing::reconcile
