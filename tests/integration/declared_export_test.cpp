// `tenantsync export` end to end (issue 15 item 5, SPEC §10.8 in docs/SPEC-10-DECLARED.md): a
// real auth0-sim, a real daemon with two declared sources ("repo" and "deploy", so --source is
// required), the CLI run as a subprocess. Covers export to stdout and to --output (byte-identical,
// with the Auth0 ids), export → apply --plan = "No changes." in YAML and JSON, and the Auth0
// Deploy CLI layout: a Deploy CLI tenant.yaml applied (unmanaged sections ignored with warnings),
// exported with --format deploy-cli, and that export planned again with no change.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/integration/reconcile_support.h"

namespace tenantsync::testing::reconcile {
namespace {

struct CliRun {
  int code = -1;
  std::string out;
};

class DeclaredExport : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = std::make_unique<Sim>();
    ASSERT_TRUE(sim_->ok());
    sim_->CreateRole("admin");
    sim_->CreateRole("member");
    TestDaemonOptions o = DaemonFor(*sim_);
    for (const char* name : {"repo", "deploy"}) {
      TestSource s;
      s.name = name;
      s.scheme = "declared";
      o.sources.push_back(s);
    }
    daemon_ = std::make_unique<TestDaemon>(o);
    ASSERT_TRUE(daemon_->Start()) << daemon_->Output();
    dir_ = MakeTempDir("declared-export");
  }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // `tenantsync ARGS... --config CFG --admin ...`, stdin from /dev/null, stdout to `stdout_to`
  // when given (else merged into out with stderr).
  CliRun Cli(std::vector<std::string> args, const std::string& stdout_to = "") {
    args.insert(args.end(), {"--config", daemon_->config_path(), "--admin",
                             "127.0.0.1:" + std::to_string(daemon_->admin_port())});
    std::string cmd = "exec '" + BuildPath("tenantsync") + "'";
    for (auto& a : args) cmd += " '" + a + "'";
    cmd += " </dev/null";
    if (!stdout_to.empty()) cmd += " >'" + stdout_to + "'";
    Subprocess p("/bin/sh", {"-c", cmd});
    CliRun r;
    r.code = p.Wait(std::chrono::seconds(150)).value_or(-1);
    r.out = p.Output();
    return r;
  }

  Json Tenant() { return Normalize(sim_->State()); }

  std::unique_ptr<Sim> sim_;
  std::unique_ptr<TestDaemon> daemon_;
  std::string dir_;
};

constexpr const char* kRepo = R"(organizations:
  - external_id: acme-1
    name: acme
    display_name: "Acme: the \"best\""
    metadata: {tier: gold, seats: "12"}
    branding:
      colors: {primary: "#ff0000", page_background: "#ffffff"}
  - external_id: globex-1
    name: globex
users:
  - external_id: u-1
    email: ann@example.com
    name: Ann Example
    app_metadata: {plan: pro, seats: 3, flags: {beta: true}}
    user_metadata: {language: "yes"}
    organizations:
      - external_id: acme-1
        roles: [admin, member]
  - external_id: u-2
    email: bob@example.com
    blocked: true
    organizations:
      - external_id: globex-1
)";

TEST_F(DeclaredExport, ExportThenPlanShowsNoChange) {
  const std::string repo = Write("repo.yaml", kRepo);
  CliRun applied = Cli({"apply", repo, "--source", "repo", "--yes", "--wait", "--timeout", "90"});
  ASSERT_EQ(applied.code, 0) << applied.out << daemon_->Output();

  // Two declared sources: --source is required.
  CliRun ambiguous = Cli({"export"});
  EXPECT_EQ(ambiguous.code, 2) << ambiguous.out;
  EXPECT_NE(ambiguous.out.find("several declared sources"), std::string::npos) << ambiguous.out;

  // --output, and standard output: the same bytes, with the Auth0 ids.
  const std::string file = dir_ + "/export.yaml";
  CliRun to_file = Cli({"export", "--source", "repo", "--output", file});
  ASSERT_EQ(to_file.code, 0) << to_file.out;
  const std::string exported = Read(file);
  CliRun to_stdout = Cli({"export", "--source", "repo"}, dir_ + "/stdout.yaml");
  ASSERT_EQ(to_stdout.code, 0) << to_stdout.out;
  EXPECT_EQ(Read(dir_ + "/stdout.yaml"), exported);
  CliRun again = Cli({"export", "--source", "repo", "--output", file});
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_EQ(Read(file), exported) << "two exports of one state differ";
  EXPECT_NE(exported.find("external_id: acme-1\n    auth0_id: org_"), std::string::npos)
      << exported;
  EXPECT_NE(exported.find("external_id: u-1\n    auth0_id: "), std::string::npos) << exported;
  EXPECT_NE(exported.find("language: \"yes\""), std::string::npos) << exported;

  // export → apply --plan: no change, in YAML and in JSON (format from the extension).
  CliRun plan = Cli({"apply", file, "--source", "repo", "--plan"});
  ASSERT_EQ(plan.code, 0) << plan.out;
  EXPECT_NE(plan.out.find("No changes."), std::string::npos) << exported << plan.out;
  EXPECT_NE(plan.out.find("Plan: 0 to create, 0 to change, 0 to remove, 4 unchanged."),
            std::string::npos)
      << plan.out;
  const std::string json_file = dir_ + "/export.json";
  CliRun to_json = Cli({"export", "--source", "repo", "--output", json_file});
  ASSERT_EQ(to_json.code, 0) << to_json.out;
  EXPECT_EQ(Read(json_file).rfind("{\n  \"organizations\": [", 0), 0u) << Read(json_file);
  CliRun plan_json = Cli({"apply", json_file, "--source", "repo", "--plan"});
  ASSERT_EQ(plan_json.code, 0) << plan_json.out;
  EXPECT_NE(plan_json.out.find("No changes."), std::string::npos) << plan_json.out;
  EXPECT_NE(plan_json.out.find("4 unchanged."), std::string::npos) << plan_json.out;

  // A source never applied exports empty lists; an unknown format is a usage error.
  CliRun empty = Cli({"export", "--source", "deploy"}, dir_ + "/empty.yaml");
  ASSERT_EQ(empty.code, 0) << empty.out;
  EXPECT_EQ(Read(dir_ + "/empty.yaml"), "organizations: []\nusers: []\n");
  CliRun bad = Cli({"export", "--source", "repo", "--format", "toml"});
  EXPECT_EQ(bad.code, 2) << bad.out;
  // An unwritable --output: exit 1, and nothing left behind.
  CliRun unwritable = Cli({"export", "--source", "repo", "--output", dir_ + "/no/such/dir/x.yaml"});
  EXPECT_EQ(unwritable.code, 1) << unwritable.out;
}

// A Deploy CLI tenant.yaml (organizations identified by name, no users), as a team moving from
// the Deploy CLI has it.
constexpr const char* kDeployCli = R"(tenant:
  friendly_name: Example
organizations:
  - name: initech
    display_name: Initech
    metadata:
      tier: gold
    branding:
      colors:
        primary: '#3678e2'
        page_background: '#9c4949'
    client_grants: []
    connections: []
  - name: hooli
    display_name: Hooli
    connections: []
)";

TEST_F(DeclaredExport, DeployCliLayoutRoundTripsThroughApply) {
  const std::string tenant = Write("tenant.yaml", kDeployCli);
  CliRun plan = Cli({"apply", tenant, "--source", "deploy", "--plan"});
  ASSERT_EQ(plan.code, 0) << plan.out;
  EXPECT_NE(plan.out.find("read in the Auth0 Deploy CLI layout"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("Deploy CLI section \"tenant\" is not managed"), std::string::npos)
      << plan.out;
  EXPECT_NE(plan.out.find("+ organization initech"), std::string::npos) << plan.out;
  CliRun applied =
      Cli({"apply", tenant, "--source", "deploy", "--yes", "--wait", "--timeout", "90"});
  ASSERT_EQ(applied.code, 0) << applied.out << daemon_->Output();
  const Json t = Tenant();
  ASSERT_TRUE(t["organizations"].contains("initech")) << t.dump(2);
  EXPECT_EQ(t["organizations"]["initech"]["display_name"], "Initech");
  EXPECT_EQ(t["organizations"]["initech"]["metadata"], Json({{"tier", "gold"}}));
  EXPECT_EQ(t["organizations"]["hooli"]["display_name"], "Hooli");

  // Written back in the Deploy CLI layout, then planned again: no change, no warning but the
  // note that the layout was recognised.
  const std::string out = dir_ + "/exported-tenant.yaml";
  CliRun exported =
      Cli({"export", "--source", "deploy", "--format", "deploy-cli", "--output", out});
  ASSERT_EQ(exported.code, 0) << exported.out;
  EXPECT_EQ(exported.out.find("warning"), std::string::npos) << exported.out;
  const std::string text = Read(out);
  EXPECT_EQ(text.rfind("organizations:\n  - name: hooli\n", 0), 0u) << text;
  EXPECT_EQ(text.find("external_id"), std::string::npos) << text;
  CliRun again = Cli({"apply", out, "--source", "deploy", "--plan"});
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("No changes."), std::string::npos) << text << again.out;
  EXPECT_NE(again.out.find("2 unchanged."), std::string::npos) << again.out;
  EXPECT_EQ(again.out.find("not managed"), std::string::npos) << again.out;

  // The same state in tenantsync's own layout also plans with no change.
  CliRun own = Cli({"export", "--source", "deploy", "--output", dir_ + "/own.yaml"});
  ASSERT_EQ(own.code, 0) << own.out;
  CliRun own_plan = Cli({"apply", dir_ + "/own.yaml", "--source", "deploy", "--plan"});
  ASSERT_EQ(own_plan.code, 0) << own_plan.out;
  EXPECT_NE(own_plan.out.find("No changes."), std::string::npos) << own_plan.out;

  // A source whose organizations are not named by their external_id, or that has users: the
  // Deploy CLI export says what it cannot carry.
  CliRun repo = Cli({"apply", Write("repo.yaml", kRepo), "--source", "repo", "--yes"});
  ASSERT_EQ(repo.code, 0) << repo.out;
  CliRun lossy =
      Cli({"export", "--source", "repo", "--format", "deploy-cli"}, dir_ + "/lossy.yaml");
  ASSERT_EQ(lossy.code, 0) << lossy.out;
  EXPECT_NE(lossy.out.find("warning: organization acme-1: its external_id differs"),
            std::string::npos)
      << lossy.out;
  EXPECT_NE(lossy.out.find("2 user(s) not written"), std::string::npos) << lossy.out;
}

}  // namespace
}  // namespace tenantsync::testing::reconcile
