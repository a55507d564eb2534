// The step executor, through the real Writer, against the in-memory fake tenant (no threads, no
// sleeps): each defect of issue 12 that the old writer had, and the seeded property that
// executing the plans makes Auth0 hold the desired state and planning again yields nothing.
#include "daemon/execution/executor.h"

#include <gtest/gtest.h>

#include <future>
#include <set>

#include "adapters/auth0/endpoints.h"
#include "daemon/desired_state.h"
#include "tests/support/writer_harness.h"

namespace tenantsync {
namespace {

using Json = nlohmann::json;
using testing::FakeTenant;
using testing::OrgByName;
using testing::UserByEmail;
using testing::WriterHarness;

constexpr int64_t kDayMs = 86400000;

size_t CountState(const std::vector<MutationRow>& rows, MutationState state) {
  return std::count_if(rows.begin(), rows.end(),
                       [&](const MutationRow& m) { return m.state == state; });
}

// 1. A leaver is invited.
TEST(ExecutorTest, AUserWhoLeftBeforeCreationIsCreatedBlockedAndNeverInvited) {
  WriterHarness h;
  h.Start();
  h.Send("user.upserted", {{"external_id", "e1"}, {"email", "leaver@example.com"}});
  h.Send("user.left", {{"external_id", "e1"}});
  h.Send("user.upserted", {{"external_id", "e2"}, {"email", "blocked@example.com"}});
  h.Send("user.blocked", {{"external_id", "e2"}, {"reason", "fraud"}});
  h.Drain();
  auto leaver = UserByEmail(h.tenant, "leaver@example.com");
  auto blocked = UserByEmail(h.tenant, "blocked@example.com");
  ASSERT_TRUE(leaver && blocked);
  EXPECT_TRUE(leaver->blocked);
  EXPECT_TRUE(blocked->blocked);
  EXPECT_TRUE(h.tenant.Emails().empty()) << "a blocked or departed user received an email";
  EXPECT_EQ(h.tenant.CountRequests(endpoints::kRevokeSessions), 0u)
      << "a user created after leaving never had a session to revoke";
}

TEST(ExecutorTest, TheSettleTimeDelaysDestructiveStepsOnly) {
  WriterHarness h;
  h.Start(PolicyOptions(), GuardOptions{});  // settle_ms 2000
  h.Send("user.upserted", {{"external_id", "known"}, {"email", "known@example.com"}});
  h.Drain();
  // A leaver not created yet is created blocked at once (creating it is not destructive); an
  // existing user's block waits the settle time.
  h.Send("user.upserted", {{"external_id", "new"}, {"email", "new@example.com"}});
  h.Send("user.left", {{"external_id", "new"}});
  h.Send("user.left", {{"external_id", "known"}});
  ASSERT_TRUE(h.writer->RunOnce().ok());
  ASSERT_TRUE(UserByEmail(h.tenant, "new@example.com").has_value());
  EXPECT_TRUE(UserByEmail(h.tenant, "new@example.com")->blocked);
  EXPECT_FALSE(UserByEmail(h.tenant, "known@example.com")->blocked);
  h.clock.Advance(std::chrono::milliseconds(2001));
  h.Drain();
  EXPECT_TRUE(UserByEmail(h.tenant, "known@example.com")->blocked);
}

TEST(ExecutorTest, ALeaversMembershipRemovalWaitsTheGuardsSettleTimeInABusyOrganization) {
  WriterHarness h;
  h.Start(PolicyOptions(), GuardOptions{});  // settle_ms 2000
  h.Send("organization.upserted", {{"external_id", "acme"}, {"name", "acme"}});
  for (auto u : {"a", "b"}) {
    h.Send("user.upserted", {{"external_id", u},
                             {"email", std::string(u) + "@example.com"},
                             {"organizations", Json::array({{{"external_id", "acme"}}})}});
  }
  h.Drain();
  auto org = OrgByName(h.tenant, "acme");
  ASSERT_TRUE(org.has_value());
  const std::string b = UserByEmail(h.tenant, "b@example.com")->user_id;
  // A hire makes the organization's members due now; then b leaves.
  h.Send("user.upserted", {{"external_id", "c"},
                           {"email", "c@example.com"},
                           {"organizations", Json::array({{{"external_id", "acme"}}})}});
  h.Send("user.left", {{"external_id", "b"}});
  ASSERT_TRUE(h.writer->RunOnce().ok());
  EXPECT_EQ(h.tenant.Members(org->id).count(b), 1u) << "removed before the guard's settle time";
  h.clock.Advance(std::chrono::milliseconds(2100));
  h.Drain();
  EXPECT_EQ(h.tenant.Members(org->id).count(b), 0u);
  EXPECT_TRUE(UserByEmail(h.tenant, "b@example.com")->blocked);
}

TEST(ExecutorTest, AnInvitationQueuedBeforeTheUserLeftIsSkippedWhenItRuns) {
  WriterHarness h;
  h.Start();
  // The user is created; its invitation fails once and waits for a retry.
  h.tenant.FailNext(endpoints::kChangePasswordEmail, Status::Retryable("HTTP 503"));
  h.Send("user.upserted", {{"external_id", "e1"}, {"email", "a@example.com"}});
  ASSERT_TRUE(h.writer->RunOnce().ok());
  ASSERT_TRUE(UserByEmail(h.tenant, "a@example.com").has_value());
  ASSERT_EQ(h.tenant.PendingFaults(), 0u);
  h.Send("user.left", {{"external_id", "e1"}});
  h.Send("user.password_reset_requested", {{"external_id", "e1"}});
  h.Send("user.verification_email_requested", {{"external_id", "e1"}});
  h.Drain();
  EXPECT_TRUE(h.tenant.Emails().empty());
  auto commands = h.store->ListCommands("e1", 10);
  ASSERT_TRUE(commands.ok());
  ASSERT_EQ(commands->size(), 3u);
  for (auto& c : *commands) {
    EXPECT_EQ(c.state, CommandState::kSkipped);
    EXPECT_EQ(c.last_error, "not sent: user e1 has left");
  }
}

TEST(ExecutorTest, ACreatedUserGetsOneInvitation) {
  WriterHarness h;
  h.Start();
  h.Send("user.upserted", {{"external_id", "e1"}, {"email", "a@example.com"}});
  h.Drain();
  auto emails = h.tenant.Emails();
  ASSERT_EQ(emails.size(), 1u);
  EXPECT_EQ(emails[0].kind, FakeTenant::EmailKind::kChangePassword);
  EXPECT_EQ(emails[0].email, "a@example.com");
}

// 2. Adopted objects never converged.
TEST(ExecutorTest, AnAdoptedUserIsReadAndWhatDiffersIsSent) {
  WriterHarness h;
  FakeTenant::User existing;
  existing.profile = {{"email", "a@example.com"}, {"name", "Old Name"}, {"given_name", "Old"}};
  existing.app_metadata = {{"theirs", "kept"}};
  const std::string id = h.tenant.PutUser(existing);
  h.Start();
  h.Send("user.upserted", {{"external_id", "e1"},
                           {"email", "a@example.com"},
                           {"name", "New Name"},
                           {"app_metadata", {{"plan", "gold"}}}});
  h.Drain();
  auto u = h.tenant.FindUser(id);
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->profile["name"], "New Name");
  EXPECT_EQ(u->profile["given_name"], "Old") << "a field tenantsync does not own was changed";
  EXPECT_EQ(u->app_metadata, Json({{"theirs", "kept"}, {"plan", "gold"}}));
  EXPECT_EQ(h.tenant.Users().size(), 1u);
  EXPECT_TRUE(h.tenant.Emails().empty()) << "an adopted user is not invited";
  EXPECT_EQ(h.Entity(EntityKind::kUser, "e1").auth0_id, id);
  auto plan = h.writer->Plan();
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->empty());
}

TEST(ExecutorTest, AnAdoptedOrganizationIsReadAndWhatDiffersIsSent) {
  WriterHarness h;
  FakeTenant::Organization existing;
  existing.name = "acme";
  existing.display_name = "Old Acme";
  existing.metadata = {{"theirs", "kept"}};
  const std::string id = h.tenant.PutOrganization(existing);
  h.Start();
  h.Send("organization.upserted", {{"external_id", "acme"},
                                   {"name", "acme"},
                                   {"display_name", "Acme Inc"},
                                   {"metadata", {{"tier", "gold"}}}});
  h.Drain();
  auto o = h.tenant.FindOrganization(id);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->display_name, "Acme Inc");
  EXPECT_EQ(o->metadata, Json({{"theirs", "kept"}, {"tier", "gold"}}));
  EXPECT_EQ(h.tenant.Organizations().size(), 1u);
}

// 3. A rejected guard did not stick.
TEST(ExecutorTest, RejectingTheGuardUndoesTheDestructiveIntentUntilANewerEvent) {
  WriterHarness h;
  h.Start();
  for (int i = 0; i < 5; ++i) {
    h.Send("user.upserted", {{"external_id", "e" + std::to_string(i)},
                             {"email", "u" + std::to_string(i) + "@example.com"}});
  }
  h.Drain();
  GuardOptions g;
  g.max_destructive = 3;
  g.max_fraction = 0;
  g.settle_ms = 100;
  h.Start(PolicyOptions(), g);
  std::vector<std::string> left;
  for (int i = 0; i < 5; ++i)
    left.push_back(h.Send("user.left", {{"external_id", "e" + std::to_string(i)}}));
  h.Drain();
  ASSERT_TRUE(h.guard->tripped());
  for (auto& u : h.tenant.Users()) EXPECT_FALSE(u.blocked) << "sent before the guard tripped";
  ASSERT_TRUE(h.guard->Reject("ops@example.com").ok());
  EXPECT_NE(h.Event(left[0]).note.find("rejected at the guard by ops@example.com"),
            std::string::npos);
  // A routine change afterwards: the rename goes out, the rejected block does not.
  h.Send("user.upserted", {{"external_id", "e0"}, {"name", "Renamed"}});
  h.Drain();
  auto e0 = UserByEmail(h.tenant, "u0@example.com");
  ASSERT_TRUE(e0.has_value());
  EXPECT_EQ(e0->profile["name"], "Renamed");
  EXPECT_FALSE(e0->blocked);
  EXPECT_EQ(e0->sessions_revoked, 0);
  for (auto& m : h.Mutations("user:e0")) {
    if (m.state != MutationState::kDiscarded) {
      EXPECT_NE(m.request, Json({{"blocked", true}})) << m.kind;
    }
  }
  // Only a newer departure blocks again (and passes the guard again).
  h.Send("user.left", {{"external_id", "e0"}});
  h.Drain();
  EXPECT_TRUE(UserByEmail(h.tenant, "u0@example.com")->blocked);
  EXPECT_FALSE(UserByEmail(h.tenant, "u1@example.com")->blocked);
}

// 4. One unknown role blocked the valid ones.
TEST(ExecutorTest, AnUnknownRoleIsReportedAndTheOthersAreAssigned) {
  WriterHarness h;
  h.tenant.AddRole("member");
  h.Start();
  h.Send("organization.upserted", {{"external_id", "acme"}, {"name", "acme"}});
  h.Send("user.upserted",
         {{"external_id", "e1"},
          {"email", "a@example.com"},
          {"organizations",
           Json::array({{{"external_id", "acme"}, {"roles", {"member", "no-such-role"}}}})}});
  h.Drain();
  auto org = OrgByName(h.tenant, "acme");
  auto user = UserByEmail(h.tenant, "a@example.com");
  ASSERT_TRUE(org && user);
  EXPECT_EQ(h.tenant.MemberRoles(org->id, user->user_id), std::set<std::string>{"member"});
  auto rows = h.Mutations("members:acme");
  std::vector<MutationRow> dead;
  for (auto& m : rows) {
    if (m.state == MutationState::kDead) dead.push_back(m);
  }
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].request["roles"], Json::array({"no-such-role"}));
  EXPECT_NE(dead[0].last_error.find("role \"no-such-role\" does not exist"), std::string::npos)
      << dead[0].last_error;
  // Another pass does not pile up dead letters or resend.
  h.tenant.ClearRequests();
  {
    auto txn = h.store->BeginState();
    ASSERT_TRUE((*txn)->MarkDirty("members:acme").ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  h.Drain();
  EXPECT_EQ(CountState(h.Mutations("members:acme"), MutationState::kDead), 1u);
  EXPECT_TRUE(h.tenant.Writes().empty());
}

// 5. Malformed Auth0 answers killed the daemon.
TEST(ExecutorTest, AMalformedAnswerIsAPermanentErrorOfThatMutationAndRetryingConverges) {
  WriterHarness h;
  h.Start();
  h.tenant.MalformedNext(endpoints::kCreateUser);
  h.Send("user.upserted", {{"external_id", "e1"}, {"email", "a@example.com"}});
  h.Drain();
  auto rows = h.Mutations("user:e1");
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.front().state, MutationState::kDead);
  EXPECT_NE(rows.front().last_error.find("POST /api/v2/users"), std::string::npos)
      << rows.front().last_error;
  // The operator retries: the user the malformed answer hid is found, not created twice.
  {
    auto txn = h.store->BeginState();
    ASSERT_TRUE((*txn)->MarkDirty("user:e1", 0, true).ok());
    ASSERT_TRUE(
        (*txn)->UpdateMutation(rows.front().id, MutationState::kDiscarded, "retried", 1, 0).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  h.Drain();
  EXPECT_EQ(h.tenant.Users().size(), 1u);
  EXPECT_EQ(h.Entity(EntityKind::kUser, "e1").auth0_id, h.tenant.Users().front().user_id);
}

// 7. A first upsert without an email was silently "applied".
TEST(ExecutorTest, AUserWithoutAnEmailVisiblyWaitsForIt) {
  WriterHarness h;
  h.Start();
  h.Send("user.upserted", {{"external_id", "e1"}, {"name", "No Email"}});
  h.Drain();
  EXPECT_TRUE(h.tenant.Users().empty());
  EXPECT_EQ(h.Entity(EntityKind::kUser, "e1").known["waiting"],
            "waiting for an event with its email before it is created");
  auto txn = h.store->BeginState();
  ASSERT_TRUE((*txn)->MarkDirty("user:e1").ok());
  ASSERT_TRUE((*txn)->Commit().ok());
  txn->reset();
  auto plan = h.writer->Plan();
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->size(), 1u);
  EXPECT_EQ((*plan)[0].kind, "wait");
  EXPECT_EQ((*plan)[0].request["reason"],
            "waiting for an event with its email before it is created");
  h.Send("user.upserted", {{"external_id", "e1"}, {"email", "late@example.com"}});
  h.Drain();
  EXPECT_TRUE(UserByEmail(h.tenant, "late@example.com").has_value());
  EXPECT_FALSE(h.Entity(EntityKind::kUser, "e1").known.contains("waiting"));
}

// 8. delete_after_days did nothing.
TEST(ExecutorTest, ALeaverIsDeletedDeleteAfterDaysAfterTheDepartureEffectiveTime) {
  WriterHarness h;
  PolicyOptions policy;
  policy.delete_after_days = 2;
  h.Start(policy);
  h.Send("user.upserted", {{"external_id", "old"}, {"email", "old@example.com"}});
  h.Send("user.upserted", {{"external_id", "recent"}, {"email", "recent@example.com"}});
  h.Send("user.upserted", {{"external_id", "back"}, {"email", "back@example.com"}});
  h.Drain();
  const int64_t now = h.clock.NowUnixMillis();
  auto at = [](int64_t ms) {
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return std::string(buf);
  };
  // Reported now, effective three days ago: deleted promptly.
  h.Send("user.left", {{"external_id", "old"}, {"effective_at", at(now - 3 * kDayMs)}});
  h.Send("user.left", {{"external_id", "recent"}});
  h.Send("user.left", {{"external_id", "back"}});
  h.Drain(60000);
  EXPECT_FALSE(UserByEmail(h.tenant, "old@example.com").has_value());
  ASSERT_TRUE(UserByEmail(h.tenant, "recent@example.com").has_value());
  EXPECT_TRUE(UserByEmail(h.tenant, "recent@example.com")->blocked);
  // The others are scheduled work, visible with their due time.
  auto scheduled = h.store->ScheduledDirty(h.clock.NowUnixMillis(), 10);
  ASSERT_TRUE(scheduled.ok());
  ASSERT_EQ(scheduled->size(), 2u);
  EXPECT_GE(scheduled->front().not_before_ms, now + 2 * kDayMs);
  // A return cancels its deletion.
  h.Send("user.returned", {{"external_id", "back"}});
  h.clock.Advance(std::chrono::milliseconds(2 * kDayMs + 60000));
  h.Drain(60000);
  EXPECT_FALSE(UserByEmail(h.tenant, "recent@example.com").has_value());
  ASSERT_TRUE(UserByEmail(h.tenant, "back@example.com").has_value());
  EXPECT_FALSE(UserByEmail(h.tenant, "back@example.com")->blocked);
  // A deleted leaver is not re-created while gone.
  h.Send("user.upserted", {{"external_id", "old"}, {"name", "Still Gone"}});
  h.Drain(60000);
  EXPECT_FALSE(UserByEmail(h.tenant, "old@example.com").has_value());
}

TEST(ExecutorTest, ScheduledDeletionPassesTheGuard) {
  WriterHarness h;
  PolicyOptions policy;
  policy.delete_after_days = 1;
  h.Start(policy);
  for (int i = 0; i < 3; ++i)
    h.Send("user.upserted", {{"external_id", "e" + std::to_string(i)},
                             {"email", std::to_string(i) + "@example.com"}});
  h.Drain();
  GuardOptions g;
  g.max_destructive = 2;
  g.max_fraction = 0;
  g.settle_ms = 0;
  h.Start(policy, g);
  for (int i = 0; i < 3; ++i) h.Send("user.left", {{"external_id", "e" + std::to_string(i)}});
  h.Drain(60000);
  EXPECT_TRUE(h.guard->tripped());
  ASSERT_TRUE(h.guard->Approve().ok());
  h.Drain(60000);
  for (auto& u : h.tenant.Users()) EXPECT_TRUE(u.blocked);
  h.clock.Advance(std::chrono::milliseconds(kDayMs + 1000));
  h.Drain(60000);
  EXPECT_TRUE(h.guard->tripped()) << "three deletions in one window exceed the limit again";
  EXPECT_EQ(h.tenant.Users().size(), 1u) << "two deletions allowed, the third held";
}

// 10. tenantsync plan wrote to SQLite.
TEST(ExecutorTest, PlanWritesNothing) {
  WriterHarness h;
  h.Start();
  h.Send(
      "organization.upserted",
      {{"external_id", "acme"}, {"name", "acme"}, {"callback_urls", {"https://acme.example/cb"}}});
  h.Send("user.upserted", {{"external_id", "e1"}, {"email", "a@example.com"}});
  h.Send("user.upserted", {{"external_id", "e2"}, {"name", "no email yet"}});
  h.Send("user.password_reset_requested", {{"external_id", "e1"}});
  ASSERT_TRUE(h.writer->RunOnce().ok());
  h.Send("user.upserted", {{"external_id", "e1"}, {"name", "Renamed"}});
  // The renamed user's patch, the reset email and the rest are still to do.
  const std::string before = h.DumpDatabase();
  h.tenant.ClearRequests();
  auto plan = h.writer->Plan();
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(h.DumpDatabase(), before);
  EXPECT_TRUE(h.tenant.Writes().empty());
}

// During a backfill the write connection is held in turn by the inbox and every Auth0 worker; a
// plan that read an organization's members, the callbacks or a command through it queued behind
// all of them (GET /v1/plan: 36.8 s for 10,000 entities in bench-backfill --full). Planning reads
// snapshots on reader connections: it completes while another thread holds the write connection.
TEST(ExecutorTest, PlanningDoesNotWaitForTheWriteConnection) {
  WriterHarness h;
  h.tenant.AddRole("member");
  h.tenant.AddRole("admin");
  h.Start();
  h.Send(
      "organization.upserted",
      {{"external_id", "acme"}, {"name", "acme"}, {"callback_urls", {"https://acme.example/cb"}}});
  h.Send("user.upserted",
         {{"external_id", "e1"},
          {"email", "a@example.com"},
          {"organizations", Json::array({{{"external_id", "acme"}, {"roles", {"member"}}}})}});
  h.Drain();
  h.Send("user.upserted",
         {{"external_id", "e1"},
          {"email", "a@example.com"},
          {"organizations", Json::array({{{"external_id", "acme"}, {"roles", {"admin"}}}})}});
  h.Send("user.password_reset_requested", {{"external_id", "e1"}});
  // Folded, not sent: a paused writer's turn applies the events and sends nothing.
  ASSERT_TRUE(h.writer->SetPaused(true).ok());
  ASSERT_TRUE(h.writer->RunOnce().ok());

  auto held = h.store->BeginState();  // another writer's transaction, for as long as it takes
  ASSERT_TRUE(held.ok());
  auto planning = std::async(std::launch::async, [&] { return h.writer->Plan(); });
  // Not a timing: without reader snapshots the plan waits here until `held` is released.
  const bool done = planning.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  held->reset();
  EXPECT_TRUE(done) << "the plan waited for the write connection";
  auto plan = planning.get();
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  std::set<std::string> kinds;
  for (const auto& s : *plan) kinds.insert(s.entity + " " + s.kind);
  EXPECT_TRUE(kinds.count("members:acme add_member_roles")) << ::testing::PrintToString(kinds);
  EXPECT_TRUE(kinds.count("members:acme remove_member_roles")) << ::testing::PrintToString(kinds);
  EXPECT_EQ(std::count_if(kinds.begin(), kinds.end(),
                          [](const std::string& k) { return k.rfind("command:", 0) == 0; }),
            1)
      << ::testing::PrintToString(kinds);
}

TEST(ExecutorTest, DryRunRecordsAndNeverSends) {
  WriterHarness h;
  h.Start(PolicyOptions(), std::nullopt, /*dry_run=*/true);
  h.Send("user.upserted", {{"external_id", "e1"}, {"email", "a@example.com"}});
  h.Drain();
  EXPECT_TRUE(h.tenant.Writes().empty());
  auto rows = h.Mutations("user:e1");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, MutationState::kPending);
  EXPECT_EQ(rows[0].kind, "create_user");
}

// 9. Failed attempts that a later pass made moot kept counting as failed work.
TEST(ExecutorTest, ALostAnswerIsResolvedAndItsFailedAttemptSuperseded) {
  WriterHarness h;
  h.Start();
  h.Send("user.upserted", {{"external_id", "e1"}, {"email", "a@example.com"}});
  h.Drain();
  h.tenant.FailAfterApply(endpoints::kPatchUser, Status::Retryable("timeout"));
  h.Send("user.upserted", {{"external_id", "e1"}, {"name", "Renamed"}});
  h.Drain();
  auto rows = h.Mutations("user:e1");
  EXPECT_EQ(CountState(rows, MutationState::kFailed), 0u);
  EXPECT_EQ(CountState(rows, MutationState::kSuperseded), 1u);
  EXPECT_EQ(UserByEmail(h.tenant, "a@example.com")->profile["name"], "Renamed");
  auto oldest = h.store->OldestPendingMs(h.clock.NowUnixMillis());
  ASSERT_TRUE(oldest.ok());
  EXPECT_FALSE(oldest->has_value());
}

// ---- The property: executing the plans makes Auth0 hold the desired state ----------------------

struct World {
  std::vector<std::string> orgs = {"o0", "o1", "o2"};
  std::vector<std::string> users = {"u0", "u1", "u2", "u3", "u4", "u5"};
  std::vector<std::string> roles = {"member", "admin", "viewer"};
  std::vector<std::string> connections = {"google-oauth2", "github"};
};

Json RandomEvent(SeededRandom& r, const World& w, std::string* type) {
  auto pick = [&](const std::vector<std::string>& v) { return v[r.Uniform(v.size())]; };
  auto maybe = [&](int percent) { return r.Uniform(100) < static_cast<uint64_t>(percent); };
  const uint64_t roll = r.Uniform(100);
  if (roll < 25) {
    const std::string o = pick(w.orgs);
    *type = "organization.upserted";
    Json d = {{"external_id", o}, {"name", "org-" + o}};
    if (maybe(60)) d["display_name"] = pick({"Alpha", "Beta", "Gamma"});
    if (maybe(50)) {
      Json md = Json::object();
      for (auto k : {"k0", "k1", "k2"}) {
        if (maybe(50)) md[k] = maybe(25) ? Json(nullptr) : Json(pick({"a", "b"}));
      }
      d["metadata"] = md;
    }
    if (maybe(40)) {
      Json conns = Json::array();
      for (auto& c : w.connections) {
        if (maybe(50)) conns.push_back({{"name", c}, {"assign_membership_on_login", maybe(50)}});
      }
      d["connections"] = conns;
    }
    if (maybe(40))
      d["callback_urls"] =
          Json::array({"https://" + o + ".example/cb" + std::to_string(r.Uniform(2))});
    return d;
  }
  if (roll < 28) {
    *type = "organization.deleted";
    return {{"external_id", pick(w.orgs)}};
  }
  const std::string u = pick(w.users);
  if (roll < 70) {
    *type = "user.upserted";
    Json d = {{"external_id", u}, {"email", u + "@example.com"}};
    if (maybe(60)) d["name"] = pick({"Ann", "Bob", "Cy"});
    if (maybe(40)) d["given_name"] = pick({"A", "B"});
    if (maybe(50)) {
      Json md = Json::object();
      for (auto k : {"plan", "team"}) {
        if (maybe(60)) md[k] = maybe(25) ? Json(nullptr) : Json(pick({"x", "y"}));
      }
      d["app_metadata"] = md;
    }
    if (maybe(60)) {
      Json memberships = Json::array();
      for (auto& o : w.orgs) {
        if (!maybe(40)) continue;
        Json roles = Json::array();
        for (auto& role : w.roles) {
          if (maybe(30)) roles.push_back(role);
        }
        memberships.push_back({{"external_id", o}, {"roles", roles}});
      }
      d["organizations"] = memberships;
    }
    return d;
  }
  const char* types[] = {"user.left", "user.returned", "user.blocked", "user.unblocked",
                         "user.deleted"};
  const uint64_t t = r.Uniform(100);
  *type = t < 30 ? types[0] : t < 55 ? types[1] : t < 70 ? types[2] : t < 90 ? types[3] : types[4];
  return {{"external_id", u}};
}

// Checks the fake tenant against desired state in every field tenantsync owns.
void ExpectConverged(WriterHarness& h, const World& w, const std::string& label) {
  std::map<std::string, std::string> org_ids;  // external id -> Auth0 id of a live org
  for (auto& o : w.orgs) {
    EntityRow row = h.Entity(EntityKind::kOrganization, o);
    if (!row.exists) continue;
    const Json view = View(row.desired);
    auto found = OrgByName(h.tenant, "org-" + o);
    if (!view.contains("name")) continue;  // never named: tenantsync never linked it
    if (view.value("deleted", false)) {
      // Deleted before tenantsync linked it: an object that existed before is not tenantsync's.
      if (!row.known.value("deleted", false) && found) continue;
      EXPECT_FALSE(found.has_value()) << label << ": org " << o << " should be deleted";
      continue;
    }
    ASSERT_TRUE(found.has_value()) << label << ": org " << o << " missing";
    org_ids[o] = found->id;
    if (view.contains("display_name") && !view["display_name"].is_null()) {
      EXPECT_EQ(found->display_name, view["display_name"]) << label << ": " << o;
    }
    EXPECT_EQ(found->metadata, view.value("metadata", Json::object())) << label << ": " << o;
    std::set<std::string> want, have;
    for (auto& c : view.value("connections", Json::array()))
      want.insert(c["name"].get<std::string>());
    for (auto& c : found->connections) {
      for (auto& name : w.connections) {
        if (h.tenant.ConnectionId(name) == c.connection_id) have.insert(name);
      }
    }
    EXPECT_EQ(have, want) << label << ": connections of " << o;
    for (auto& c : view.value("callback_urls", Json::array())) {
      auto cbs = h.tenant.Callbacks(WriterHarness::kApp);
      EXPECT_NE(std::find(cbs.begin(), cbs.end(), c.get<std::string>()), cbs.end())
          << label << ": callback " << c;
    }
  }
  for (auto& u : w.users) {
    EntityRow row = h.Entity(EntityKind::kUser, u);
    if (!row.exists) continue;
    const Json view = View(row.desired);
    auto found = UserByEmail(h.tenant, u + "@example.com");
    if (!view.contains("email")) continue;  // never upserted: tenantsync never linked it
    if (view.value("deleted", false)) {
      if (!row.known.value("deleted", false) && found) continue;  // never linked: not tenantsync's
      EXPECT_FALSE(found.has_value()) << label << ": user " << u << " should be deleted";
      continue;
    }
    ASSERT_TRUE(found.has_value()) << label << ": user " << u << " missing";
    for (auto f : {"name", "given_name"}) {
      if (view.contains(f)) {
        EXPECT_EQ(found->profile.value(f, Json()), view[f]) << label << ": " << u << "." << f;
      }
    }
    for (auto& [field, slot] : row.desired.items()) {
      if (field.rfind("app_metadata.", 0) != 0 || slot.contains("rejected")) continue;
      const std::string key = field.substr(13);
      if (slot["v"].is_null()) {
        EXPECT_FALSE(found->app_metadata.contains(key))
            << label << ": " << u << " app_metadata." << key;
      } else {
        EXPECT_EQ(found->app_metadata.value(key, Json()), slot["v"])
            << label << ": " << u << " app_metadata." << key;
      }
    }
    const bool left = view.value("left", false);
    EXPECT_EQ(found->blocked, left || view.value("blocked", false))
        << label << ": " << u << " blocked";
    std::map<std::string, std::set<std::string>> want;
    if (!left) {
      for (auto& m : view.value("organizations", Json::array())) {
        std::set<std::string> roles;
        for (auto& r : m["roles"]) roles.insert(r.get<std::string>());
        want[m["external_id"].get<std::string>()] = roles;
      }
    }
    for (auto& [o, id] : org_ids) {
      const bool member = h.tenant.Members(id).count(found->user_id) > 0;
      EXPECT_EQ(member, want.count(o) > 0) << label << ": " << u << " member of " << o;
      if (member && want.count(o)) {
        EXPECT_EQ(h.tenant.MemberRoles(id, found->user_id), want[o])
            << label << ": " << u << " roles in " << o;
      }
    }
  }
}

TEST(ExecutorPropertyTest, RandomStatesConvergeAndPlanningAgainYieldsNothing) {
  SeededRandom r(20261130);
  const World w;
  int checked = 0;
  for (int world = 0; world < 60; ++world) {
    WriterHarness h;
    for (auto& role : w.roles) h.tenant.AddRole(role);
    for (auto& c : w.connections) h.tenant.AddConnection(c);
    // Some objects already exist in Auth0 (adopted), with fields that differ.
    for (auto& u : w.users) {
      if (r.Uniform(4) != 0) continue;
      FakeTenant::User existing;
      existing.profile = {{"email", u + "@example.com"}, {"name", "Pre Existing"}};
      existing.app_metadata = {{"plan", "legacy"}, {"foreign", 1}};
      h.tenant.PutUser(existing);
    }
    for (auto& o : w.orgs) {
      if (r.Uniform(4) != 0) continue;
      FakeTenant::Organization existing;
      existing.name = "org-" + o;
      existing.display_name = "Pre Existing";
      h.tenant.PutOrganization(existing);
    }
    h.Start();
    const int events = 10 + static_cast<int>(r.Uniform(30));
    const int64_t base = h.clock.NowUnixMillis();
    for (int i = 0; i < events; ++i) {
      std::string type;
      Json data = RandomEvent(r, w, &type);
      // Out-of-order delivery: timestamps are not arrival order.
      h.Send(type, data, base - static_cast<int64_t>(r.Uniform(100000)));
      // Auth0 misbehaves now and then: a failure before, or a lost answer after, the effect.
      if (r.Uniform(5) == 0) {
        const char* eps[] = {endpoints::kCreateUser,        endpoints::kPatchUser,
                             endpoints::kAddMembers,        endpoints::kCreateOrganization,
                             endpoints::kPatchOrganization, endpoints::kAddMemberRoles};
        const char* ep = eps[r.Uniform(6)];
        if (r.Uniform(2) == 0) {
          h.tenant.FailNext(ep, Status::Retryable(std::string(ep) + ": HTTP 503"));
        } else {
          h.tenant.FailAfterApply(ep, Status::Retryable(std::string(ep) + ": timeout"));
        }
      }
      if (r.Uniform(4) == 0) {
        ASSERT_TRUE(h.writer->RunOnce().ok());
      }
    }
    h.Drain();
    const std::string label = "world " + std::to_string(world);
    ExpectConverged(h, w, label);
    auto again = h.writer->Plan();
    ASSERT_TRUE(again.ok());
    for (auto& s : *again) {
      ADD_FAILURE() << label << ": planned again: " << s.entity << " " << s.kind << " "
                    << s.request.dump();
    }
    for (auto& m : h.Mutations()) {
      EXPECT_NE(m.state, MutationState::kDead)
          << label << ": " << m.entity << " " << m.kind << " " << m.last_error;
    }
    if (::testing::Test::HasFailure()) break;
    ++checked;
  }
  EXPECT_EQ(checked, 60);
}

}  // namespace
}  // namespace tenantsync
