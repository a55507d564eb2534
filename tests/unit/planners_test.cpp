// The planners are pure: every decision is checked here in-process, table-driven.
#include "daemon/planning/planners.h"

#include <gtest/gtest.h>

#include "daemon/desired_state.h"

namespace tenantsync {
namespace {

using Json = nlohmann::json;

constexpr int64_t kDay = 86400000;
constexpr int64_t kNow = 1'800'000'000'000;

// Builds desired state as ApplyEvent would: each field stamped by an event.
struct DesiredBuilder {
  Json desired = Json::object();
  DesiredBuilder& Set(const std::string& field, Json value, int64_t ts = kNow - 1000,
                      const std::string& ev = "hr/e1") {
    SetField(desired, field, value, FieldStamp{ts, ev, ts});
    return *this;
  }
};

EntityRow User(const Json& desired, const Json& known = Json::object(),
               std::optional<std::string> auth0_id = std::nullopt) {
  EntityRow r;
  r.kind = EntityKind::kUser;
  r.external_id = "e1";
  r.desired = desired;
  r.known = known;
  r.auth0_id = std::move(auth0_id);
  r.exists = true;
  return r;
}

EntityRow Org(const Json& desired, const Json& known = Json::object(),
              std::optional<std::string> auth0_id = std::nullopt) {
  EntityRow r = User(desired, known, std::move(auth0_id));
  r.kind = EntityKind::kOrganization;
  r.external_id = "acme";
  return r;
}

std::vector<std::string> Kinds(const Plan& p) {
  std::vector<std::string> out;
  for (auto& s : p.steps) out.push_back(StepKindName(s.kind));
  return out;
}

Json KnownUser(Json extra = Json::object()) {
  Json k = {{"email", "a@example.com"},
            {"app_metadata", Json::object()},
            {"user_metadata", Json::object()},
            {"blocked", false}};
  for (auto& [key, v] : extra.items()) k[key] = v;
  return k;
}

// ---- Users ---------------------------------------------------------------------------------

TEST(PlanUserTest, Table) {
  PlanPolicy policy;
  struct Case {
    std::string name;
    EntityRow user;
    PlanPolicy policy;
    std::vector<std::string> kinds;
    std::string waiting;
  };
  PlanPolicy no_block = policy;
  no_block.block_on_leave = false;
  no_block.revoke_sessions_on_leave = false;
  const auto joined = DesiredBuilder().Set("deleted", false).Set("email", "a@example.com");
  auto left = joined;
  left.Set("left", true, kNow - 500, "hr/left").Set("left_at", kNow - 500, kNow - 500, "hr/left");
  auto blocked = joined;
  blocked.Set("blocked", true, kNow - 500, "hr/block");
  auto renamed = joined;
  renamed.Set("name", "New Name");
  auto deleted = joined;
  deleted.Set("deleted", true, kNow - 100, "hr/del");
  std::vector<Case> cases = {
      {"new user is created", User(joined.desired), policy, {"create_user"}, ""},
      {"without an email it waits, visibly",
       User(DesiredBuilder().Set("deleted", false).Set("name", "N").desired),
       policy,
       {},
       "waiting for an event with its email before it is created"},
      {"a leaver not created yet is created blocked, nothing else",
       User(left.desired),
       policy,
       {"create_user"},
       ""},
      {"in sync: nothing", User(joined.desired, KnownUser(), "auth0|1"), policy, {}, ""},
      {"rename patches", User(renamed.desired, KnownUser(), "auth0|1"), policy, {"patch_user"}, ""},
      {"leaver: block then revoke",
       User(left.desired, KnownUser(), "auth0|1"),
       policy,
       {"patch_user", "revoke_sessions"},
       ""},
      {"leaver under a policy without block or revoke: nothing",
       User(left.desired, KnownUser(), "auth0|1"),
       no_block,
       {},
       ""},
      {"leaver already blocked and revoked: nothing",
       User(left.desired, KnownUser({{"blocked", true}, {"sessions_revoked_for", "hr/left"}}),
            "auth0|1"),
       policy,
       {},
       ""},
      {"blocked user: block",
       User(blocked.desired, KnownUser(), "auth0|1"),
       policy,
       {"patch_user"},
       ""},
      {"deleted: delete",
       User(deleted.desired, KnownUser(), "auth0|1"),
       policy,
       {"delete_user"},
       ""},
      {"deleted and gone: nothing", User(deleted.desired, {{"deleted", true}}), policy, {}, ""},
  };
  for (auto& c : cases) {
    Plan p = PlanUser(c.user, c.policy, kNow);
    EXPECT_EQ(Kinds(p), c.kinds) << c.name;
    EXPECT_EQ(p.waiting, c.waiting) << c.name;
  }
}

TEST(PlanUserTest, ALeaverIsCreatedBlocked) {
  auto d = DesiredBuilder().Set("deleted", false).Set("email", "a@example.com").Set("left", true);
  Plan p = PlanUser(User(d.desired), PlanPolicy{}, kNow);
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(p.steps[0].request["blocked"], true);
  EXPECT_EQ(p.steps[0].request["verify_email"], false);
  EXPECT_FALSE(p.steps[0].request.contains("password"));
}

TEST(PlanUserTest, TheBlockIsItsOwnPriorityStepAheadOfAProfileChange) {
  auto d = DesiredBuilder()
               .Set("deleted", false)
               .Set("email", "a@example.com")
               .Set("name", "Renamed")
               .Set("blocked", true, kNow - 10, "hr/b");
  Plan p = PlanUser(User(d.desired, KnownUser(), "auth0|1"), PlanPolicy{}, kNow);
  ASSERT_EQ(Kinds(p), (std::vector<std::string>{"patch_user", "patch_user"}));
  EXPECT_EQ(p.steps[0].request, Json({{"blocked", true}}));
  EXPECT_TRUE(p.steps[0].destructive);
  EXPECT_TRUE(p.steps[0].access_removal);
  EXPECT_EQ(p.steps[1].request, Json({{"name", "Renamed"}}));
  EXPECT_FALSE(p.steps[1].destructive);
}

TEST(PlanUserTest, UnblockingGoesWithTheProfileAndIsNotDestructive) {
  auto d = DesiredBuilder().Set("deleted", false).Set("email", "a@example.com").Set("left", false);
  Plan p = PlanUser(User(d.desired, KnownUser({{"blocked", true}}), "auth0|1"), PlanPolicy{}, kNow);
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(p.steps[0].request, Json({{"blocked", false}}));
  EXPECT_FALSE(p.steps[0].destructive);
}

TEST(PlanUserTest, AnAdoptedUsersDifferingFieldsArePatchedAndForeignMetadataKept) {
  // Known = what Auth0 held when the user was adopted: another name, a metadata key tenantsync
  // never set.
  auto d = DesiredBuilder()
               .Set("deleted", false)
               .Set("email", "a@example.com")
               .Set("name", "Desired Name")
               .Set("app_metadata.plan", "gold")
               .Set("app_metadata.old", nullptr);
  Json known = KnownUser({{"name", "Old Name"}, {"app_metadata", {{"theirs", 1}, {"old", "x"}}}});
  Plan p = PlanUser(User(d.desired, known, "auth0|1"), PlanPolicy{}, kNow);
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(p.steps[0].request["name"], "Desired Name");
  EXPECT_EQ(p.steps[0].request["app_metadata"], Json({{"plan", "gold"}, {"old", nullptr}}));
  EXPECT_EQ(p.steps[0].before["name"], "Old Name");
}

TEST(PlanUserTest, ARejectedDepartureIsNotPlannedUntilANewerOne) {
  auto d = DesiredBuilder().Set("deleted", false).Set("email", "a@example.com");
  d.Set("left", true, kNow - 500, "hr/left").Set("left_at", kNow - 500, kNow - 500, "hr/left");
  d.desired["left"]["rejected"] = {{"by", "ops"}, {"at_ms", kNow}};
  d.desired["left_at"]["rejected"] = {{"by", "ops"}, {"at_ms", kNow}};
  // A routine rename afterwards.
  d.Set("name", "Renamed", kNow - 100, "hr/rename");
  Plan p = PlanUser(User(d.desired, KnownUser(), "auth0|1"), PlanPolicy{}, kNow);
  ASSERT_EQ(Kinds(p), std::vector<std::string>{"patch_user"});
  EXPECT_EQ(p.steps[0].request, Json({{"name", "Renamed"}}));
  // An older departure cannot bring it back; a newer one does.
  auto older = d;
  older.Set("left", true, kNow - 900, "hr/older");
  EXPECT_EQ(Kinds(PlanUser(User(older.desired, KnownUser({{"name", "Renamed"}}), "auth0|1"),
                           PlanPolicy{}, kNow)),
            std::vector<std::string>{});
  auto newer = d;
  newer.Set("left", true, kNow - 50, "hr/again");
  Plan again = PlanUser(User(newer.desired, KnownUser({{"name", "Renamed"}}), "auth0|1"),
                        PlanPolicy{}, kNow);
  EXPECT_EQ(Kinds(again), (std::vector<std::string>{"patch_user", "revoke_sessions"}));
  EXPECT_TRUE(again.steps[0].destructive);
}

TEST(PlanUserTest, DeleteAfterDaysCountsFromTheDepartureEffectiveTime) {
  PlanPolicy policy;
  policy.delete_after_days = 2;
  Json known = KnownUser({{"blocked", true}, {"sessions_revoked_for", "hr/left"}});
  struct Case {
    std::string name;
    int64_t left_at;
    std::vector<std::string> kinds;
    std::optional<int64_t> revisit;
  };
  std::vector<Case> cases = {
      {"left three days ago: deleted now", kNow - 3 * kDay, {"delete_user"}, std::nullopt},
      {"left one day ago: scheduled", kNow - kDay, {}, kNow + kDay},
      {"leaves in a day (effective_at ahead): scheduled", kNow + kDay, {}, kNow + 3 * kDay},
  };
  for (auto& c : cases) {
    auto d = DesiredBuilder().Set("deleted", false).Set("email", "a@example.com");
    d.Set("left", true, kNow - 10, "hr/left").Set("left_at", c.left_at, kNow - 10, "hr/left");
    Plan p = PlanUser(User(d.desired, known, "auth0|1"), policy, kNow);
    EXPECT_EQ(Kinds(p), c.kinds) << c.name;
    EXPECT_EQ(p.revisit_at_ms, c.revisit) << c.name;
    if (!p.steps.empty()) {
      EXPECT_TRUE(p.steps[0].destructive) << c.name;
      EXPECT_EQ(p.steps[0].request["reason"], "delete_after_days") << c.name;
    }
  }
  // Without left_at (stored by an older version) the departure's timestamp counts.
  auto d = DesiredBuilder().Set("deleted", false).Set("email", "a@example.com");
  d.Set("left", true, kNow - 3 * kDay, "hr/left");
  EXPECT_EQ(Kinds(PlanUser(User(d.desired, known, "auth0|1"), policy, kNow)),
            std::vector<std::string>{"delete_user"});
  // A return cancels it.
  d.Set("left", false, kNow - 1, "hr/back");
  Plan back = PlanUser(User(d.desired, known, "auth0|1"), policy, kNow);
  EXPECT_EQ(Kinds(back), std::vector<std::string>{"patch_user"});  // unblock
  EXPECT_FALSE(back.revisit_at_ms.has_value());
  // Purged while gone: not re-created; after a return it is.
  auto gone = DesiredBuilder().Set("deleted", false).Set("email", "a@example.com");
  gone.Set("left", true, kNow - 3 * kDay, "hr/left");
  EXPECT_TRUE(PlanUser(User(gone.desired, {{"deleted", true}, {"purged", true}}), policy, kNow)
                  .steps.empty());
  gone.Set("left", false, kNow, "hr/back");
  EXPECT_EQ(
      Kinds(PlanUser(User(gone.desired, {{"deleted", true}, {"purged", true}}), policy, kNow)),
      std::vector<std::string>{"create_user"});
}

TEST(PlanUserTest, RevocationOncePerDeparture) {
  auto d = DesiredBuilder().Set("deleted", false).Set("email", "a@example.com");
  d.Set("left", true, kNow - 10, "hr/left2");
  Json known = KnownUser({{"blocked", true}, {"sessions_revoked_for", "hr/left1"}});
  EXPECT_EQ(Kinds(PlanUser(User(d.desired, known, "auth0|1"), PlanPolicy{}, kNow)),
            std::vector<std::string>{"revoke_sessions"});
}

// ---- Commands ------------------------------------------------------------------------------

TEST(PlanCommandTest, DecidedFromTheUsersStateWhenItRuns) {
  using Action = CommandDecision::Action;
  CommandRow cmd;
  cmd.id = 7;
  cmd.user_external_id = "e1";
  cmd.event = "on_create/auth0|1";
  const auto base = DesiredBuilder().Set("deleted", false).Set("email", "a@example.com");
  auto left = base;
  left.Set("left", true);
  auto blocked = base;
  blocked.Set("blocked", true);
  auto deleted = base;
  deleted.Set("deleted", true, kNow, "hr/x");
  EntityRow unknown;
  struct Case {
    std::string name;
    EntityRow user;
    CommandKind kind;
    Action action;
  };
  std::vector<Case> cases = {
      {"created user gets the invitation", User(base.desired, KnownUser(), "auth0|1"),
       CommandKind::kPasswordReset, Action::kSend},
      {"verification email", User(base.desired, KnownUser(), "auth0|1"),
       CommandKind::kVerificationEmail, Action::kSend},
      {"not created yet: waits", User(base.desired), CommandKind::kPasswordReset, Action::kWait},
      {"left: never invited", User(left.desired, KnownUser(), "auth0|1"),
       CommandKind::kPasswordReset, Action::kSkip},
      {"left before creation: never invited", User(left.desired), CommandKind::kPasswordReset,
       Action::kSkip},
      {"blocked: no verification email", User(blocked.desired, KnownUser(), "auth0|1"),
       CommandKind::kVerificationEmail, Action::kSkip},
      {"deleted: dead", User(deleted.desired), CommandKind::kPasswordReset, Action::kDead},
      {"unknown user: dead", unknown, CommandKind::kPasswordReset, Action::kDead},
  };
  for (auto& c : cases) {
    cmd.kind = c.kind;
    auto d = PlanCommand(cmd, c.user);
    EXPECT_EQ(d.action, c.action) << c.name << ": " << d.reason;
    EXPECT_EQ(d.step.has_value(), c.action == Action::kSend) << c.name;
    if (c.action == Action::kSkip) {
      EXPECT_NE(d.reason.find("not sent"), std::string::npos) << c.name;
    }
  }
  cmd.state = CommandState::kDone;
  EXPECT_EQ(PlanCommand(cmd, User(base.desired, KnownUser(), "auth0|1")).action, Action::kNothing);
}

// ---- Organizations ---------------------------------------------------------------------------

TEST(PlanOrganizationTest, Table) {
  const auto base =
      DesiredBuilder().Set("deleted", false).Set("name", "acme").Set("display_name", "Acme");
  Json known = {{"name", "acme"}, {"display_name", "Acme"}, {"metadata", Json::object()}};
  auto with_conn = base;
  with_conn.Set("connections", Json::array({{{"name", "google-oauth2"}}}));
  auto deleted = base;
  deleted.Set("deleted", true, kNow, "hr/d");
  struct Case {
    std::string name;
    EntityRow org;
    std::vector<std::string> kinds;
    std::string waiting;
  };
  std::vector<Case> cases = {
      {"created", Org(base.desired), {"create_organization"}, ""},
      {"no name yet: waits",
       Org(DesiredBuilder().Set("deleted", false).Set("display_name", "A").desired),
       {},
       "waiting for an event with its name before it is created"},
      {"in sync", Org(base.desired, known, "org_1"), {}, ""},
      {"adopted with another display name",
       Org(base.desired, {{"name", "acme"}, {"display_name", "Old"}, {"metadata", Json::object()}},
           "org_1"),
       {"patch_organization"},
       ""},
      {"connection enabled",
       Org(with_conn.desired, known, "org_1"),
       {"enable_organization_connection"},
       ""},
      {"connection no longer listed: disabled",
       Org(base.desired,
           {{"name", "acme"},
            {"display_name", "Acme"},
            {"metadata", Json::object()},
            {"connections",
             {{"github", {{"assign_membership_on_login", false}, {"show_as_button", true}}}}}},
           "org_1"),
       {"disable_organization_connection"},
       ""},
      {"deleted", Org(deleted.desired, known, "org_1"), {"delete_organization"}, ""},
  };
  for (auto& c : cases) {
    Plan p = PlanOrganization(c.org);
    EXPECT_EQ(Kinds(p), c.kinds) << c.name;
    EXPECT_EQ(p.waiting, c.waiting) << c.name;
  }
}

TEST(PlanOrganizationTest, MetadataIsSentWholeKeepingKeysTenantsyncNeverSet) {
  auto d = DesiredBuilder()
               .Set("deleted", false)
               .Set("name", "acme")
               .Set("metadata.tier", "gold")
               .Set("metadata.gone", nullptr);
  Json known = {{"name", "acme"}, {"metadata", {{"theirs", "x"}, {"gone", "y"}}}};
  Plan p = PlanOrganization(Org(d.desired, known, "org_1"));
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(p.steps[0].request["metadata"], Json({{"theirs", "x"}, {"tier", "gold"}}));
}

TEST(PlanOrganizationTest, CreateCarriesListedConnectionsByName) {
  auto d =
      DesiredBuilder()
          .Set("deleted", false)
          .Set("name", "acme")
          .Set("connections",
               Json::array({{{"name", "google-oauth2"}, {"assign_membership_on_login", true}}}));
  Plan p = PlanOrganization(Org(d.desired));
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(p.steps[0].request["connections"], Json::array({{{"name", "google-oauth2"},
                                                             {"assign_membership_on_login", true},
                                                             {"show_as_button", true}}}));
}

// A declared file without branding sends {"logo_url": null, "colors": null}: Auth0 refuses null
// parts, so they are left out, and nothing left means no branding in the request.
TEST(PlanOrganizationTest, NullBrandingPartsAreLeftOut) {
  auto d = DesiredBuilder()
               .Set("deleted", false)
               .Set("name", "acme")
               .Set("branding", {{"logo_url", nullptr}, {"colors", nullptr}});
  Plan p = PlanOrganization(Org(d.desired));
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_FALSE(p.steps[0].request.contains("branding")) << p.steps[0].request;
  d.Set("branding", {{"logo_url", "https://cdn.example.com/a.png"}, {"colors", nullptr}}, kNow);
  p = PlanOrganization(Org(d.desired, {{"name", "acme"}}, "org_1"));
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(p.steps[0].request["branding"], Json({{"logo_url", "https://cdn.example.com/a.png"}}));
}

// ---- Memberships -----------------------------------------------------------------------------

TEST(PlanMembersTest, LeaverRemovalsComeFirstAndAreDestructive) {
  MembersInput in;
  in.org_external_id = "acme";
  in.org_auth0_id = "org_1";
  in.auth0_ids = {{"a", "auth0|a"}, {"b", "auth0|b"}, {"c", "auth0|c"}, {"d", "auth0|d"}};
  in.desired = {{"a", Json::array()}, {"b", Json::array({"member"})}};
  in.known = {{"c", Json::array()}, {"d", Json::array()}};
  in.leavers = {{"c", Json::array({"hr/c-left"})}};
  Plan p = PlanMembers(in);
  ASSERT_EQ(Kinds(p),
            (std::vector<std::string>{"remove_members", "add_members", "remove_members"}));
  EXPECT_EQ(p.steps[0].request["members"], Json::array({"auth0|c"}));
  EXPECT_TRUE(p.steps[0].destructive);
  EXPECT_TRUE(p.steps[0].access_removal);
  EXPECT_EQ(p.steps[0].events, Json::array({"hr/c-left"}));
  EXPECT_EQ(p.steps[1].request["members"], Json::array({"auth0|a", "auth0|b"}));
  EXPECT_FALSE(p.steps[2].destructive);
}

TEST(PlanMembersTest, RolesAreTheDifferenceForKnownMembers) {
  MembersInput in;
  in.org_external_id = "acme";
  in.org_auth0_id = "org_1";
  in.auth0_ids = {{"a", "auth0|a"}};
  in.desired = {{"a", Json::array({"admin", "member"})}};
  in.known = {{"a", Json::array({"member", "viewer"})}};
  Plan p = PlanMembers(in);
  ASSERT_EQ(Kinds(p), (std::vector<std::string>{"add_member_roles", "remove_member_roles"}));
  EXPECT_EQ(p.steps[0].request["roles"], Json::array({"admin"}));
  EXPECT_EQ(p.steps[1].request["roles"], Json::array({"viewer"}));
}

TEST(PlanMembersTest, UncertainWritesAreSentAgain) {
  MembersInput in;
  in.org_external_id = "acme";
  in.org_auth0_id = "org_1";
  in.auth0_ids = {{"a", "auth0|a"}, {"b", "auth0|b"}};
  in.desired = {{"a", Json::array({"member"})}};
  in.known = {{"a", Json::array({"member"})}};
  in.uncertain = {"b"};                                           // an add that may have landed
  in.uncertain_roles = {{"a", {true, Json::array({"member"})}}};  // a role add, outcome unknown
  Plan p = PlanMembers(in);
  ASSERT_EQ(Kinds(p), (std::vector<std::string>{"remove_members", "add_member_roles"}));
  EXPECT_EQ(p.steps[0].request["members"], Json::array({"auth0|b"}));
}

// While members' users are still being created, new members are added in full batches only (one
// POST per member_batch_size members, SPEC §6 "in batches"); the rest go once those users exist,
// or at the revisit time should a creation never mark the organization again.
TEST(PlanMembersTest, NewMembersFillWholeBatchesWhileUsersAreBeingCreated) {
  struct Case {
    int ready, creating;
    size_t added;  // members in the add step (0: no add step)
    bool revisit;
  };
  for (const Case& c : {Case{13, 5, 10, true}, Case{13, 0, 13, false}, Case{3, 5, 0, true},
                        Case{20, 1, 20, false}, Case{0, 4, 0, false}}) {
    SCOPED_TRACE(testing::Message() << "ready=" << c.ready << " creating=" << c.creating);
    MembersInput in;
    in.org_external_id = "acme";
    in.org_auth0_id = "org_1";
    in.member_batch_size = 10;
    in.now_ms = 1'000'000;
    for (int i = 0; i < c.ready; ++i) {
      const std::string u = "u" + std::to_string(100 + i);
      in.desired[u] = Json::array({"member"});
      in.auth0_ids[u] = "auth0|" + u;
    }
    in.creating = c.creating;
    Plan p = PlanMembers(in);
    size_t added = 0;
    for (auto& s : p.steps) {
      if (s.kind == StepKind::kAddMembers) added = s.request["members"].size();
    }
    EXPECT_EQ(added, c.added);
    EXPECT_EQ(p.revisit_at_ms.has_value(), c.revisit);
    if (c.revisit) {
      EXPECT_GT(*p.revisit_at_ms, in.now_ms);
    }
    // Roles are written only for members known in Auth0: none of these yet.
    for (auto& s : p.steps) EXPECT_NE(s.kind, StepKind::kAddMemberRoles);
  }
}

TEST(PlanMembersTest, AnUncertainAddIsSentAgainEvenWhileUsersAreBeingCreated) {
  MembersInput in;
  in.org_external_id = "acme";
  in.org_auth0_id = "org_1";
  in.auth0_ids = {{"a", "auth0|a"}};
  in.desired = {{"a", Json::array()}};
  in.uncertain = {"a"};
  in.creating = 3;
  Plan p = PlanMembers(in);
  ASSERT_EQ(Kinds(p), (std::vector<std::string>{"add_members"}));
  EXPECT_EQ(p.steps[0].request["members"], Json::array({"auth0|a"}));
}

TEST(PlanMembersTest, WaitsForItsOrganization) {
  MembersInput in;
  in.org_external_id = "acme";
  in.desired = {{"a", Json::array()}};
  Plan p = PlanMembers(in);
  EXPECT_TRUE(p.steps.empty());
  EXPECT_FALSE(p.waiting.empty());
}

// ---- Callbacks ---------------------------------------------------------------------------------

TEST(PlanCallbacksTest, OneWriteKeepingForeignUrls) {
  CallbacksInput in;
  in.application_client_id = "app";
  in.current = {"https://theirs.example/cb", "https://old.example/cb"};
  in.managed = {"https://old.example/cb"};
  in.desired = {"https://new.example/cb"};
  Plan p = PlanCallbacks(in);
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(p.steps[0].request["callbacks"],
            Json::array({"https://theirs.example/cb", "https://new.example/cb"}));
  EXPECT_TRUE(p.steps[0].destructive);
  in.current = {"https://theirs.example/cb", "https://new.example/cb"};
  EXPECT_TRUE(PlanCallbacks(in).steps.empty());
}

}  // namespace
}  // namespace tenantsync
