// The users-imports path of the step executor (RunImports / DeferToImport), through the real
// Writer against the in-memory fake tenant: users pending creation above the threshold are
// created by import jobs with their deterministic ids, failures become per-user dead letters
// with Auth0's message, existing users are matched (never duplicated), and a job whose outcome
// was not recorded is recovered by id rather than sent again.
#include <gtest/gtest.h>

#include <algorithm>

#include "adapters/auth0/endpoints.h"
#include "daemon/desired_state.h"
#include "daemon/execution/executor.h"
#include "daemon/planning/imports.h"
#include "tests/support/writer_harness.h"

namespace tenantsync {
namespace {

using Json = nlohmann::json;
using testing::FakeTenant;
using testing::UserByEmail;
using testing::WriterHarness;

// A writer like WriterHarness::Start's, with users imports from `threshold` users.
void StartWithImports(WriterHarness& h, int threshold, WriterObserver observer = {}) {
  h.writer.reset();
  WriterOptions w;
  w.application_client_id = WriterHarness::kApp;
  w.batch_delay_ms = 0;
  w.import_threshold = threshold;
  h.writer = std::make_unique<Writer>(*h.store, &h.tenant, h.clock, h.random, w, observer);
}

void Hire(WriterHarness& h, int n, const std::string& org = "", const std::string& prefix = "p") {
  for (int i = 0; i < n; ++i) {
    const std::string ext = prefix + std::to_string(100 + i);
    Json data = {{"external_id", ext}, {"email", ext + "@example.com"}, {"name", "P " + ext}};
    if (!org.empty()) data["organizations"] = Json::array({{{"external_id", org}}});
    h.Send("user.upserted", data);
  }
}

// Scheduler turns, 0.6 s apart, until `jobs` import jobs were posted (after each burst settled).
void RunUntilAnImportIsSent(WriterHarness& h, size_t jobs = 1) {
  for (int i = 0; i < 50 && h.tenant.CountRequests(endpoints::kCreateUsersImport) < jobs; ++i) {
    ASSERT_TRUE(h.writer->RunOnce().ok());
    h.clock.Advance(std::chrono::milliseconds(600));
  }
}

TEST(ExecutorImportsTest, ABurstAboveTheThresholdIsCreatedByOneImportJobWithChosenIds) {
  WriterHarness h;
  StartWithImports(h, 50);
  h.Send("organization.upserted", {{"external_id", "acme"}, {"name", "acme"}});
  Hire(h, 60, "acme");
  h.Drain();
  EXPECT_EQ(h.tenant.CountRequests(endpoints::kCreateUser), 0u);
  EXPECT_EQ(h.tenant.CountRequests(endpoints::kCreateUsersImport), 1u);
  ASSERT_EQ(h.tenant.Users().size(), 60u);
  for (int i = 0; i < 60; ++i) {
    const std::string ext = "p" + std::to_string(100 + i);
    auto row = h.Entity(EntityKind::kUser, ext);
    ASSERT_TRUE(row.auth0_id) << ext;
    EXPECT_EQ(*row.auth0_id, Auth0ImportedId(ext));
    auto u = h.tenant.FindUser(*row.auth0_id);
    ASSERT_TRUE(u) << ext;
    EXPECT_EQ(u->profile["name"], "P " + ext);
  }
  // Invitations one per user, memberships in batches as for single creates.
  EXPECT_EQ(h.tenant.Emails().size(), 60u);
  auto org = testing::OrgByName(h.tenant, "acme");
  ASSERT_TRUE(org);
  EXPECT_EQ(h.tenant.Members(org->id).size(), 60u);
  // Converged: planning again sends nothing.
  h.tenant.ClearRequests();
  h.Drain();
  EXPECT_TRUE(h.tenant.Writes().empty());
}

// The import job is queued ahead of ordinary work: with thousands of hires waiting, the first
// job is posted after a few of them were deferred, not after all of them.
TEST(ExecutorImportsTest, TheImportJobIsQueuedAheadOfHiresStillWaiting) {
  WriterHarness h;
  StartWithImports(h, 50);
  Hire(h, 60);
  ASSERT_TRUE(h.writer->RunOnce().ok());
  auto due = h.store->DueDirty(INT64_MAX, 1000);
  ASSERT_TRUE(due.ok());
  auto job = std::find_if(due->begin(), due->end(),
                          [](const DirtyItem& d) { return d.entity.rfind("imports:", 0) == 0; });
  ASSERT_NE(job, due->end()) << "a burst above the threshold marks an import";
  EXPECT_EQ(job->priority, kBulkCreatePriority);
}

TEST(ExecutorImportsTest, BelowTheThresholdUsersAreCreatedOneByOne) {
  WriterHarness h;
  StartWithImports(h, 50);
  Hire(h, 20);
  h.Drain();
  EXPECT_EQ(h.tenant.CountRequests(endpoints::kCreateUsersImport), 0u);
  EXPECT_EQ(h.tenant.CountRequests(endpoints::kCreateUser), 20u);
  EXPECT_EQ(h.tenant.Users().size(), 20u);
}

TEST(ExecutorImportsTest, RefusedUsersAreDeadLetteredWithAuth0sMessageAndTheRestCreated) {
  WriterHarness h;
  StartWithImports(h, 10);
  h.tenant.RejectImportOf("p103@example.com", "INVALID_FORMAT", "Error in name property");
  Hire(h, 12);
  h.Drain();
  EXPECT_EQ(h.tenant.Users().size(), 11u);
  EXPECT_FALSE(h.Entity(EntityKind::kUser, "p103").auth0_id);
  auto dead = h.Mutations(UserKey("p103"));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].state, MutationState::kDead);
  EXPECT_NE(dead[0].last_error.find("INVALID_FORMAT: Error in name property"), std::string::npos)
      << dead[0].last_error;
  // Not retried one by one on every pass.
  h.Drain();
  EXPECT_EQ(h.tenant.CountRequests(endpoints::kCreateUser), 0u);
  EXPECT_EQ(h.Mutations(UserKey("p103")).size(), 1u);
}

TEST(ExecutorImportsTest, ExistingUsersAreMatchedNotDuplicated) {
  WriterHarness h;
  StartWithImports(h, 10);
  FakeTenant::User existing;
  existing.profile = {{"email", "p105@example.com"}, {"name", "Already here"}};
  const std::string existing_id = h.tenant.PutUser(existing);
  Hire(h, 12);
  h.Drain();
  EXPECT_EQ(h.tenant.Users().size(), 12u) << "the existing user was duplicated";
  auto row = h.Entity(EntityKind::kUser, "p105");
  ASSERT_TRUE(row.auth0_id);
  EXPECT_EQ(*row.auth0_id, existing_id);
  EXPECT_EQ(h.tenant.FindUser(existing_id)->profile["name"], "P p105");  // then patched
}

TEST(ExecutorImportsTest, AFailedJobFallsBackToOneByOne) {
  WriterHarness h;
  StartWithImports(h, 10);
  h.tenant.FailNextImportJob();
  Hire(h, 12);
  h.Drain();
  EXPECT_EQ(h.tenant.CountRequests(endpoints::kCreateUsersImport), 1u);
  EXPECT_EQ(h.tenant.CountRequests(endpoints::kCreateUser), 12u);
  EXPECT_EQ(h.tenant.Users().size(), 12u);
}

// Planning files reads and parses every user pending creation (100,000 on day one). While Auth0
// cannot tell the connection's id no file can be sent, and the imports entity is retried with
// backoff (or probed, quarantined): no retry reads the users for a plan it cannot use.
TEST(ExecutorImportsTest, NoUserIsReadForFilesWhileTheConnectionCannotBeLookedUp) {
  WriterHarness h;
  int64_t read = 0, plans = 0;
  WriterObserver observer;
  observer.on_import_planned = [&](int64_t users) {
    read += users;
    ++plans;
  };
  StartWithImports(h, 50, observer);
  constexpr size_t kFailures = 4;
  for (size_t i = 0; i < kFailures; ++i) {
    h.tenant.FailNext(endpoints::kListConnections, Status::Retryable("no answer from Auth0"));
  }
  Hire(h, 60);
  for (int i = 0; i < 400 && h.tenant.CountRequests(endpoints::kListConnections) < kFailures; ++i) {
    ASSERT_TRUE(h.writer->RunOnce().ok());
    h.clock.Advance(std::chrono::seconds(2));
  }
  ASSERT_EQ(h.tenant.CountRequests(endpoints::kListConnections), kFailures);
  EXPECT_EQ(h.tenant.CountRequests(endpoints::kCreateUsersImport), 0u);
  EXPECT_EQ(read, 0) << plans << " plan(s) read users while no file could be sent";
  // Auth0 answers again: one job creates them all, planned from one read of each user.
  h.Drain();
  EXPECT_EQ(h.tenant.CountRequests(endpoints::kCreateUsersImport), 1u);
  EXPECT_EQ(h.tenant.CountRequests(endpoints::kCreateUser), 0u);
  EXPECT_EQ(h.tenant.Users().size(), 60u);
  EXPECT_GE(read, 60);
}

TEST(ExecutorImportsTest, AJobWhoseAnswerWasLostIsRecoveredByIdNotSentBlindly) {
  WriterHarness h;
  StartWithImports(h, 10);
  // The job starts in Auth0 but its answer is lost: the row stays "prepared".
  h.tenant.FailAfterApply(endpoints::kCreateUsersImport, Status::Retryable("connection reset"));
  Hire(h, 12);
  h.Drain();
  // Recovered: the users were looked up by their deterministic ids before a new file was sent.
  EXPECT_EQ(h.tenant.CountRequests(endpoints::kGetUser), 12u);
  EXPECT_EQ(h.tenant.CountRequests(endpoints::kCreateUsersImport), 2u);
  EXPECT_EQ(h.tenant.Users().size(), 12u);
  for (int i = 0; i < 12; ++i) {
    const std::string ext = "p" + std::to_string(100 + i);
    EXPECT_EQ(h.Entity(EntityKind::kUser, ext).auth0_id, Auth0ImportedId(ext));
  }
}

TEST(ExecutorImportsTest, ARestartWhileTheJobRunsPollsTheSameJob) {
  WriterHarness h;
  StartWithImports(h, 10);
  h.tenant.SetImportPendingPolls(2);
  Hire(h, 12);
  // Turns until the job is sent (after the burst settled) and polled, then a new writer (a
  // restart).
  for (int i = 0; i < 20 && h.tenant.CountRequests(endpoints::kGetJob) == 0; ++i) {
    ASSERT_TRUE(h.writer->RunOnce().ok());
    h.clock.Advance(std::chrono::milliseconds(600));
  }
  ASSERT_EQ(h.tenant.CountRequests(endpoints::kCreateUsersImport), 1u);
  EXPECT_TRUE(h.tenant.Users().empty());
  // What progress displays read: users pending creation by import, per connection.
  {
    auto txn = h.store->BeginState();
    ASSERT_TRUE(txn.ok());
    auto pending = (*txn)->CountOpenImportUsers();
    ASSERT_TRUE(pending.ok());
    EXPECT_EQ(*pending, (std::map<std::string, int64_t>{{FakeTenant::kDefaultConnection, 12}}));
  }
  StartWithImports(h, 10);
  h.Drain();
  EXPECT_EQ(h.tenant.CountRequests(endpoints::kCreateUsersImport), 1u) << "the file was re-sent";
  EXPECT_EQ(h.tenant.CountRequests(endpoints::kCreateUser), 0u);
  EXPECT_EQ(h.tenant.Users().size(), 12u);
  auto txn = h.store->BeginState();
  ASSERT_TRUE(txn.ok());
  EXPECT_TRUE((*txn)->CountOpenImportUsers()->empty());
}

// A backfill's users wait for their job without costing the writer anything: a user deferred to
// an import is not looked at again every few seconds (100,000 of them would be all the writer
// did), the job's end marks them.
TEST(ExecutorImportsTest, UsersWaitingForARunningJobAreNotVisitedAgainUntilItEnds) {
  WriterHarness h;
  StartWithImports(h, 50);
  h.tenant.SetImportPendingPolls(8);
  Hire(h, 200);
  RunUntilAnImportIsSent(h);
  ASSERT_EQ(h.tenant.CountRequests(endpoints::kCreateUsersImport), 1u);
  // What progress counts while the job runs: every user still to be created.
  {
    const int64_t now = h.clock.NowUnixMillis();
    auto d = h.store->CountDirtyDue(now, now + 60000);
    ASSERT_TRUE(d.ok());
    EXPECT_GE(d->due + d->soon + d->awaiting_import, 200);
  }
  int runs = 0;
  for (int i = 0; i < 60; ++i) {  // 30 s while Auth0 runs the job
    auto ran = h.writer->RunOnce();
    ASSERT_TRUE(ran.ok());
    runs += *ran;
    h.clock.Advance(std::chrono::milliseconds(500));
  }
  EXPECT_LT(runs, 40) << "users waiting for the job were visited again and again";
  h.Drain();
  EXPECT_EQ(h.tenant.Users().size(), 200u);
  EXPECT_EQ(h.tenant.CountRequests(endpoints::kCreateUser), 0u);
}

// A lone user who arrives while a job runs is too few for a second file: it is created one by
// one while the job (which then fails) is still running.
TEST(ExecutorImportsTest, ALoneHireDuringARunningJobIsCreatedOneByOne) {
  WriterHarness h;
  StartWithImports(h, 10);
  h.tenant.SetImportPendingPolls(3);
  h.tenant.FailNextImportJob();
  Hire(h, 12);
  RunUntilAnImportIsSent(h);
  ASSERT_EQ(h.tenant.CountRequests(endpoints::kCreateUsersImport), 1u);
  h.Send("user.upserted",
         {{"external_id", "late"}, {"email", "late@example.com"}, {"name", "Late"}});
  ASSERT_TRUE(h.writer->RunOnce().ok());
  ASSERT_FALSE(h.Entity(EntityKind::kUser, "late").auth0_id) << "deferred, not created at once";
  h.Drain(60000);
  EXPECT_EQ(h.tenant.Users().size(), 13u);
  EXPECT_TRUE(h.Entity(EntityKind::kUser, "late").auth0_id);
}

// A user who arrives while both job slots are taken waits for the next file (its mark at the
// long backstop). When one of the jobs fails, the import path is off for a while and that user
// is created one by one at once, not at the backstop revisit.
TEST(ExecutorImportsTest, AFailedJobAlsoReleasesUsersWaitingOutsideIt) {
  WriterHarness h;
  StartWithImports(h, 10);
  h.tenant.SetImportPendingPolls(6);
  h.tenant.FailNextImportJob();
  Hire(h, 12);
  RunUntilAnImportIsSent(h, 1);
  Hire(h, 12, "", "q");
  RunUntilAnImportIsSent(h, 2);
  ASSERT_EQ(h.tenant.CountRequests(endpoints::kCreateUsersImport), 2u);
  h.Send("user.upserted",
         {{"external_id", "late"}, {"email", "late@example.com"}, {"name", "Late"}});
  ASSERT_TRUE(h.writer->RunOnce().ok());
  ASSERT_FALSE(h.Entity(EntityKind::kUser, "late").auth0_id) << "deferred, not created at once";
  h.Drain(60000);
  EXPECT_TRUE(h.Entity(EntityKind::kUser, "late").auth0_id)
      << "still waiting for the backstop after the job failed";
  EXPECT_EQ(h.tenant.Users().size(), 25u);
  EXPECT_EQ(h.tenant.CountRequests(endpoints::kCreateUsersImport), 2u);
}

}  // namespace
}  // namespace tenantsync
