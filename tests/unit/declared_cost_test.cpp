// EstimatePlanCost against the writer: each case applies version 0 of a declared file through the
// real writer (WriterHarness over the FakeTenant), then version 1, and compares the requests the
// writer sent for version 1 with the estimate of the plan v0 → v1, endpoint by endpoint.
//
// The FakeTenant records one request per call where Auth0Client sends several or none: member
// additions and removals are counted as ceil(members / 10) requests (Auth0Client's batches), and
// role and connection lookups only the first time a name is looked up in the test (Auth0Client
// caches ids), as the real client would send them.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "adapters/events/event.h"
#include "daemon/declared/cost.h"
#include "daemon/declared/declared.h"
#include "daemon/declared/live_fields.h"
#include "daemon/declared/state_json.h"
#include "tests/support/writer_harness.h"

namespace tenantsync::declared {
namespace {

using nlohmann::json;
using testing::WriterHarness;

DeclaredState Parse(const std::string& yaml) {
  auto s = ParseDeclaredText(yaml, "case.yaml", FileFormat::kYaml);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : DeclaredState{};
}

struct Case {
  std::string name;
  std::string v0, v1;
  bool prune = false;
  std::vector<std::string> on_create = {"send_password_reset"};
  // Applied with prune after v0 and before v1 when not empty (e.g. users who left, then return).
  std::string pruned_to = "";
};

const char* kOrgs = R"(
organizations:
  - external_id: acme-1
    name: acme
    display_name: Acme Inc.
    metadata: {tier: gold}
    connections: [{name: Username-Password-Authentication}]
    callback_urls: [https://acme.example.com/callback]
  - external_id: globex-1
    name: globex
)";

const char* kUsers = R"(
users:
  - external_id: u-1
    email: ann@example.com
    name: Ann
    organizations: [{external_id: acme-1, roles: [admin]}]
  - external_id: u-2
    email: bob@example.com
    app_metadata: {plan: pro}
    organizations: [{external_id: acme-1, roles: []}, {external_id: globex-1, roles: [member]}]
)";

std::string Base() { return std::string(kOrgs) + kUsers; }

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

std::string ManyUsers(int n, const std::string& org) {
  std::string out = "users:\n";
  for (int i = 0; i < n; ++i) {
    out += "  - {external_id: m-" + std::to_string(i) + ", email: m" + std::to_string(i) +
           "@example.com, organizations: [{external_id: " + org + ", roles: [member]}]}\n";
  }
  return out;
}

std::vector<Case> Cases() {
  std::vector<Case> cases;
  cases.push_back({"create_everything", "", Base()});
  cases.push_back({"unchanged", Base(), Base()});
  cases.push_back(
      {"org_display_name_and_metadata", Base(),
       Replace(Replace(Base(), "Acme Inc.", "Acme Corp"), "tier: gold", "tier: silver")});
  cases.push_back({"org_display_name_cleared_is_not_sent", Base(),
                   Replace(Base(), "    display_name: Acme Inc.\n", "")});
  cases.push_back({"org_connection_added_and_flags", Base(),
                   Replace(Base(), "[{name: Username-Password-Authentication}]",
                           "[{name: Username-Password-Authentication, show_as_button: false}, "
                           "{name: google-oauth2}]")});
  cases.push_back(
      {"org_connection_removed", Base(),
       Replace(Base(), "    connections: [{name: Username-Password-Authentication}]\n", "")});
  cases.push_back(
      {"org_callbacks_changed", Base(),
       Replace(Base(), "https://acme.example.com/callback", "https://acme.example.com/cb2")});
  cases.push_back(
      {"user_profile", Base(),
       Replace(Replace(Base(), "name: Ann\n", "name: Ann Example\n    family_name: Ex\n"),
               "plan: pro", "plan: team")});
  cases.push_back({"memberships_and_roles", Base(),
                   Replace(Replace(Base(), "[{external_id: acme-1, roles: [admin]}]",
                                   "[{external_id: acme-1, roles: [member]}, {external_id: "
                                   "globex-1, roles: [admin, billing]}]"),
                           "[{external_id: acme-1, roles: []}, {external_id: globex-1, roles: "
                           "[member]}]",
                           "[{external_id: globex-1, roles: [member, admin]}]")});
  cases.push_back(
      {"block", Base(), Replace(Base(), "name: Ann\n", "name: Ann\n    blocked: true\n")});
  cases.push_back(
      {"unblock", Replace(Base(), "name: Ann\n", "name: Ann\n    blocked: true\n"), Base()});
  cases.push_back({"create_blocked_user_not_invited", kOrgs,
                   Replace(Base(), "name: Ann\n", "name: Ann\n    blocked: true\n")});
  cases.push_back({"kept_without_prune", Base(), kOrgs});
  cases.push_back({"prune_users_and_org", Base(), std::string(R"(
organizations:
  - external_id: acme-1
    name: acme
    display_name: Acme Inc.
    metadata: {tier: gold}
    connections: [{name: Username-Password-Authentication}]
    callback_urls: [https://acme.example.com/callback]
users:
  - external_id: u-1
    email: ann@example.com
    name: Ann
    organizations: [{external_id: acme-1, roles: [admin]}]
)"),
                   true});
  cases.push_back({"verification_email_policy", kOrgs, Base(), false, {"send_verification_email"}});
  cases.push_back({"no_invitation_policy", kOrgs, Base(), false, {}});
  cases.push_back({"member_batches", kOrgs, std::string(kOrgs) + ManyUsers(25, "globex-1")});
  cases.push_back(
      {"users_return_after_prune", Base(), Base(), false, {"send_password_reset"}, kOrgs});
  return cases;
}

// What Auth0Client would send, per endpoint template, for the fake tenant's recorded calls.
std::map<std::string, int64_t> Sent(const std::vector<testing::FakeTenant::Request>& requests,
                                    std::set<std::string>* looked_up) {
  std::map<std::string, int64_t> out;
  for (const auto& r : requests) {
    if (r.endpoint == "GET /api/v2/roles" || r.endpoint == "GET /api/v2/connections") {
      if (!looked_up->insert(r.path).second) continue;  // Auth0Client's cache
    }
    int64_t n = 1;
    if (r.endpoint == "POST /api/v2/organizations/{id}/members" ||
        r.endpoint == "DELETE /api/v2/organizations/{id}/members") {
      n = (static_cast<int64_t>(r.body.value("members", json::array()).size()) + 9) / 10;
    }
    out[r.endpoint] += n;
  }
  return out;
}

std::map<std::string, int64_t> Estimated(const PlanCost& cost) {
  std::map<std::string, int64_t> out;
  for (const auto& item : cost.items) out[item.request] += item.count;
  return out;
}

std::string Show(const std::map<std::string, int64_t>& m) {
  std::string out;
  for (const auto& [k, v] : m) out += "  " + std::to_string(v) + "  " + k + "\n";
  return out;
}

void Apply(WriterHarness& h, const Plan& plan) {
  for (const auto& e : plan.events) h.Send(EventTypeName(e.type), e.data);
  h.Drain();
}

class DeclaredCostTest : public ::testing::TestWithParam<Case> {};

TEST_P(DeclaredCostTest, EstimateMatchesTheWritersRequests) {
  const Case& c = GetParam();
  WriterHarness h;
  for (auto role : {"admin", "member", "billing"}) h.tenant.AddRole(role);
  h.tenant.AddConnection("google-oauth2");
  PolicyOptions policy;
  policy.on_create = c.on_create;
  h.Start(policy);

  std::set<std::string> looked_up;
  const DeclaredState empty;
  const DeclaredState v0 = c.v0.empty() ? DeclaredState{} : Parse(c.v0);
  const Plan p0 = DiffDeclared(v0, empty);
  Apply(h, p0);
  Sent(h.tenant.Requests(), &looked_up);  // version 0's lookups are cached from here on
  h.tenant.ClearRequests();
  DeclaredState current = StateAfterApply(v0, empty, false);
  if (!c.pruned_to.empty()) {
    h.clock.Advance(std::chrono::seconds(5));
    const DeclaredState left = Parse(c.pruned_to);
    Apply(h, DiffDeclared(left, current, {true, "p"}));
    Sent(h.tenant.Requests(), &looked_up);
    h.tenant.ClearRequests();
    current = StateAfterApply(left, current, true);
  }

  h.clock.Advance(std::chrono::seconds(5));
  const DeclaredState v1 = Parse(c.v1);
  const Plan p1 = DiffDeclared(v1, current, {c.prune, "1"});
  Apply(h, p1);

  CostPolicy cp;
  cp.invite_password_reset = false;
  for (const auto& k : c.on_create) {
    cp.invite_password_reset = cp.invite_password_reset || k == "send_password_reset";
    cp.invite_verification = cp.invite_verification || k == "send_verification_email";
  }
  const PlanCost cost = EstimatePlanCost(v1, current, p1, cp);
  auto sent = Sent(h.tenant.Requests(), &looked_up);
  const auto estimated = Estimated(cost);
  // Membership batches are the fewest possible: the writer sends more when it adds members of an
  // organization while users of that organization are still being created (never more than one
  // per membership). Every other endpoint is exact.
  int64_t memberships = 0;
  for (const auto& change : p1.changes) {
    for (const auto& f : change.fields) {
      memberships += f.field.rfind("organizations[", 0) == 0 ? 1 : 0;
    }
  }
  const int64_t leaver_memberships = [&] {
    int64_t n = 0;
    for (const auto& u : current.users) n += static_cast<int64_t>(u.organizations.size());
    return n;
  }();
  for (const char* batched :
       {"POST /api/v2/organizations/{id}/members", "DELETE /api/v2/organizations/{id}/members"}) {
    const int64_t want = estimated.count(batched) ? estimated.at(batched) : 0;
    const int64_t got = sent.count(batched) ? sent.at(batched) : 0;
    EXPECT_LE(want, got) << batched;
    EXPECT_LE(got, memberships + leaver_memberships) << batched;
    if (got > want) {
      std::printf("[ note ] %s: %lld batches sent, %lld estimated (users created in between)\n",
                  batched, static_cast<long long>(got), static_cast<long long>(want));
      sent[batched] = want;
    }
  }
  EXPECT_EQ(estimated, sent) << "estimate:\n"
                             << Show(estimated) << "writer sent:\n"
                             << Show(sent) << RenderPlan(p1) << RenderCost(cost);
  int64_t management = 0, authentication = 0;
  for (const auto& [k, v] : sent) {
    (k.rfind("POST /dbconnections", 0) == 0 ? authentication : management) += v;
  }
  EXPECT_EQ(cost.management, management);  // batches beyond the estimate left out above
  EXPECT_EQ(cost.authentication, authentication);
}

std::string CaseName(const ::testing::TestParamInfo<Case>& param) { return param.param.name; }

INSTANTIATE_TEST_SUITE_P(Cases, DeclaredCostTest, ::testing::ValuesIn(Cases()), CaseName);

// A first apply of many users: at import_threshold or more, creates go to Auth0 as users-imports
// jobs (one POST, one poll, one errors read per file of up to 500 KB); below it, or with imports
// off, one POST /users each. Blocked users are always created one by one.
TEST(DeclaredCost, ManyCreatesAreCountedAsImportJobs) {
  std::string yaml = "users:\n";
  for (int i = 0; i < 60; ++i) {
    yaml += "  - external_id: u" + std::to_string(100 + i) + "\n    email: u" +
            std::to_string(100 + i) + "@example.com\n    name: User " + std::to_string(i) + "\n";
  }
  yaml += "  - external_id: blocked-1\n    email: b1@example.com\n    blocked: true\n";
  const DeclaredState v1 = Parse(yaml);
  const Plan plan = DiffDeclared(v1, {});
  auto count = [](const PlanCost& c, const std::string& request) {
    int64_t n = 0;
    for (const auto& i : c.items) n += i.request == request ? i.count : 0;
    return n;
  };
  CostPolicy cp;
  cp.import_threshold = 50;
  const PlanCost with = EstimatePlanCost(v1, {}, plan, cp);
  EXPECT_EQ(count(with, "POST /api/v2/jobs/users-imports"), 1);
  EXPECT_EQ(count(with, "GET /api/v2/jobs/{id}"), 1);
  EXPECT_EQ(count(with, "GET /api/v2/jobs/{id}/errors"), 1);
  EXPECT_EQ(count(with, "POST /api/v2/users"), 1);  // the blocked user
  cp.import_threshold = 61;                         // 60 candidates: below the threshold
  const PlanCost below = EstimatePlanCost(v1, {}, plan, cp);
  EXPECT_EQ(count(below, "POST /api/v2/jobs/users-imports"), 0);
  EXPECT_EQ(count(below, "POST /api/v2/users"), 61);
  cp.import_threshold = 0;
  EXPECT_EQ(count(EstimatePlanCost(v1, {}, plan, cp), "POST /api/v2/users"), 61);
  EXPECT_EQ(with.management + 57, below.management);  // 61 creates became 1 + 3 requests
}

TEST(DeclaredCost, RenderNamesEveryItemAndTheTotals) {
  const DeclaredState v1 = Parse(Base());
  const Plan plan = DiffDeclared(v1, {});
  const PlanCost cost = EstimatePlanCost(v1, {}, plan);
  const std::string text = RenderCost(cost);
  EXPECT_NE(text.find("Auth0 requests: " + std::to_string(cost.management) +
                      " Management API + 2 "
                      "Authentication API"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("POST /api/v2/organizations  (organizations created"), std::string::npos)
      << text;
  EXPECT_NE(text.find("POST /dbconnections/change_password"), std::string::npos) << text;
  // Naive: 2 organizations, 2 users, 3 memberships.
  EXPECT_EQ(cost.naive, 7);
  EXPECT_EQ(RenderCost(EstimatePlanCost(v1, v1, DiffDeclared(v1, v1))), "Auth0 requests: none.\n");
}

TEST(DeclaredCost, PrunedUsersDeletedLaterAreNotCountedNow) {
  const DeclaredState v0 = Parse(Base());
  const DeclaredState v1 = Parse(kOrgs);
  CostPolicy cp;
  cp.delete_after_days = 30;
  const PlanCost cost = EstimatePlanCost(v1, v0, DiffDeclared(v1, v0, {true, "1"}), cp);
  EXPECT_EQ(cost.later, 2);
  EXPECT_NE(RenderCost(cost).find("and later: 2 DELETE /api/v2/users/{id}"), std::string::npos);
}

// ---- live fields (both ways at once) ----

TEST(DeclaredLiveFields, OnlyOtherSourcesAfterTheApplyInTheDeclaredVocabulary) {
  const json desired = {
      {"name", {{"v", "Ann Live"}, {"ts", 2000}, {"ev", "hr/e1"}, {"rt", 2000}}},
      {"given_name", {{"v", "Ann"}, {"ts", 500}, {"ev", "hr/e0"}, {"rt", 500}}},
      {"family_name", {{"v", "Ex"}, {"ts", 3000}, {"ev", "repo/decl_x"}, {"rt", 3000}}},
      {"nickname", {{"v", "annie"}, {"ts", 3000}, {"ev", "hr/e2"}, {"rt", 3000}}},
      {"app_metadata.plan", {{"v", nullptr}, {"ts", 2500}, {"ev", "crm/e9"}, {"rt", 2500}}},
      {"blocked", {{"v", true}, {"ts", 4000}, {"ev", "hr/e3"}, {"rt", 4000}, {"rejected", {}}}},
      {"deleted", {{"v", false}, {"ts", 2000}, {"ev", "hr/e1"}, {"rt", 2000}}}};
  const auto fields = FieldsSetByOthers(EntityKind::kUser, "u-1", desired, "repo", 1000);
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].field, "app_metadata.plan");
  EXPECT_EQ(fields[0].source, "crm");
  EXPECT_TRUE(fields[0].value.is_null());
  EXPECT_EQ(fields[1].field, "name");
  EXPECT_EQ(fields[1].source, "hr");
  EXPECT_EQ(fields[1].event_id, "e1");
  EXPECT_EQ(fields[1].ts_ms, 2000);
  auto back = LiveFieldsFromJson(LiveFieldsToJson(fields));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(LiveFieldsToJson(*back), LiveFieldsToJson(fields));
  EXPECT_FALSE(LiveFieldsFromJson(json::object()).ok());
}

TEST(DeclaredLiveFields, WarningsSayWhetherThePlanKeepsOrOverwrites) {
  const DeclaredState v0 = Parse(Base());
  std::vector<LiveField> fields = {
      {EntityKind::kUser, "u-1", "name", "Ann Live", "hr", "e1", 1795600800000},
      {EntityKind::kUser, "u-2", "app_metadata.plan", "enterprise", "crm", "e2", 1795600800000},
      {EntityKind::kUser, "u-9", "name", "Nobody", "hr", "e3", 1795600800000}};
  // The file changes u-2's plan, not u-1's name; u-9 is neither declared nor in the plan.
  const DeclaredState v1 = Parse(Replace(Base(), "plan: pro", "plan: team"));
  const std::string text = RenderLiveWarnings(fields, v1, DiffDeclared(v1, v0), "repo");
  EXPECT_NE(text.find("Warning: 2 field(s) were set by a live source after source \"repo\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  ! user u-1 name: \"Ann Live\" (set by hr at 2026-11-25T10:00:00.000Z; "
                      "the files declare \"Ann\"; this plan keeps the live value)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  ! user u-2 app_metadata.plan: \"enterprise\" (set by crm at "
                      "2026-11-25T10:00:00.000Z; the files declare \"team\"; this plan "
                      "overwrites it with the file's value)"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("u-9"), std::string::npos) << text;
  EXPECT_EQ(RenderLiveWarnings({}, v1, DiffDeclared(v1, v0), "repo"), "");
}

}  // namespace
}  // namespace tenantsync::declared
