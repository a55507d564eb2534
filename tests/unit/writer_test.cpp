// The writer's event apply loop (isolation, rescheduling) on a fake clock, without threads.
#include "daemon/writer.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "adapters/auth0/endpoints.h"
#include "daemon/desired_state.h"
#include "tests/support/counting_vfs.h"
#include "tests/support/rfc3339.h"
#include "tests/support/subprocess.h"
#include "tests/support/writer_harness.h"

namespace tenantsync {
namespace {

using Json = nlohmann::json;
using testing::FakeTenant;
using testing::OrgByName;
using testing::UserByEmail;
using testing::WriterHarness;

// 6. One bad event stalled everything, for good.
TEST(WriterTest, AnEventThatCannotBeAppliedFailsAloneAndTheRestFlowsOn) {
  WriterHarness h;
  h.Start();
  h.Send("user.upserted", {{"external_id", "before"}, {"email", "before@example.com"}});
  // Stored by an older version that did not check ids: not valid UTF-8, which made every
  // transaction that touched it fail.
  EventRecord bad;
  bad.source = "hr";
  bad.event_id = "bad-\xff\xfe";
  bad.type = "user.upserted";
  bad.received_at_ms = h.clock.NowUnixMillis();
  bad.body = Json({{"type", "user.upserted"},
                   {"timestamp", testing::Rfc3339Ms(h.clock.NowUnixMillis())},
                   {"data", {{"external_id", "victim"}, {"email", "victim@example.com"}}}})
                 .dump();
  h.Store(bad);
  h.Send("user.upserted", {{"external_id", "after"}, {"email", "after@example.com"}});
  h.Drain();
  EXPECT_TRUE(UserByEmail(h.tenant, "before@example.com").has_value());
  EXPECT_TRUE(UserByEmail(h.tenant, "after@example.com").has_value());
  EventFilter f;
  f.state = EventState::kFailed;
  auto failed = h.store->ListEvents(f);
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_EQ(failed->front().event_id, bad.event_id);
  EXPECT_FALSE(failed->front().error.empty());
  EXPECT_FALSE(h.Entity(EntityKind::kUser, "victim").exists)
      << "the failed event's effect was rolled back";
  EXPECT_FALSE(h.writer->Stalled().has_value());
  // Later events keep flowing.
  h.Send("user.upserted", {{"external_id", "later"}, {"email", "later@example.com"}});
  h.Drain();
  EXPECT_TRUE(UserByEmail(h.tenant, "later@example.com").has_value());
}

// Issue 13: a batch is first folded under one savepoint and, when an event fails, folded again
// one savepoint per event. The events folded before the failure in the same batch, for the same
// entity, keep their effect and are marked applied; the failed one changes nothing.
TEST(WriterTest, AFailureLateInABatchKeepsTheEarlierEventsOfThatEntity) {
  WriterHarness h;
  h.Start();
  const std::string first = h.Send(
      "user.upserted", {{"external_id", "same"}, {"email", "same@example.com"}, {"name", "First"}});
  EventRecord bad;
  bad.source = "hr";
  bad.event_id = "bad-\xff\xfe";  // its field stamps cannot be stored (not UTF-8)
  bad.type = "user.upserted";
  bad.received_at_ms = h.clock.NowUnixMillis();
  bad.body = Json({{"type", "user.upserted"},
                   {"timestamp", testing::Rfc3339Ms(h.clock.NowUnixMillis() + 1000)},
                   {"data", {{"external_id", "same"}, {"name", "Bad"}}}})
                 .dump();
  h.Store(bad);
  const std::string last =
      h.Send("user.upserted", {{"external_id", "other"}, {"email", "other@example.com"}});
  h.Drain();
  EXPECT_EQ(h.Event(first).state, EventState::kApplied);
  EXPECT_EQ(h.Event(last).state, EventState::kApplied);
  EventFilter f;
  f.state = EventState::kFailed;
  auto failed = h.store->ListEvents(f);
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_EQ(failed->front().event_id, bad.event_id);
  const EntityRow same = h.Entity(EntityKind::kUser, "same");
  ASSERT_TRUE(same.exists);
  EXPECT_EQ(same.desired["name"]["v"], "First") << same.desired.dump();
  ASSERT_TRUE(UserByEmail(h.tenant, "same@example.com").has_value());
  EXPECT_EQ(UserByEmail(h.tenant, "same@example.com")->profile.value("name", ""), "First");
  EXPECT_TRUE(UserByEmail(h.tenant, "other@example.com").has_value());
}

// 9. A newer event with a later effective_at did not reschedule.
TEST(WriterTest, ANewerEventScheduledLaterReschedulesTheEarlierOne) {
  WriterHarness h;
  h.Start();
  h.Send("user.upserted", {{"external_id", "e1"}, {"email", "a@example.com"}});
  h.Drain();
  const int64_t now = h.clock.NowUnixMillis();
  const std::string first = h.Send(
      "user.left", {{"external_id", "e1"}, {"effective_at", testing::Rfc3339Ms(now + 3600000)}},
      now - 2000);
  const std::string moved = h.Send(
      "user.left", {{"external_id", "e1"}, {"effective_at", testing::Rfc3339Ms(now + 7200000)}},
      now - 1000);
  EXPECT_EQ(*h.store->CountScheduledEvents(now), 2);
  h.clock.Advance(std::chrono::minutes(61));
  h.Drain(0);
  EXPECT_FALSE(UserByEmail(h.tenant, "a@example.com")->blocked) << "the earlier time still fired";
  EXPECT_NE(h.Event(first).note.find("superseded by hr/" + moved), std::string::npos)
      << h.Event(first).note;
  EXPECT_EQ(h.Event(first).state, EventState::kApplied);
  h.clock.Advance(std::chrono::minutes(60));
  h.Drain();
  EXPECT_TRUE(UserByEmail(h.tenant, "a@example.com")->blocked);
}

TEST(WriterTest, AnEarlierScheduledEventOfAnotherKindStillFires) {
  WriterHarness h;
  h.Start();
  h.Send("user.upserted", {{"external_id", "e1"}, {"email", "a@example.com"}});
  h.Drain();
  const int64_t now = h.clock.NowUnixMillis();
  h.Send("user.left", {{"external_id", "e1"}, {"effective_at", testing::Rfc3339Ms(now + 3600000)}},
         now - 2000);
  h.Send("user.upserted",
         {{"external_id", "e1"},
          {"name", "Later"},
          {"effective_at", testing::Rfc3339Ms(now + 7200000)}},
         now - 1000);
  h.clock.Advance(std::chrono::minutes(61));
  h.Drain(0);
  EXPECT_TRUE(UserByEmail(h.tenant, "a@example.com")->blocked);
}

// Issue 13: folding a full batch kept a savepoint over the whole batch, and marked the batch
// applied in one UPDATE; their journals (every page changed, ~3 MB per 500 events in
// bench-ingest) outgrew SQLite's 64 KiB in-memory limit and went to a new file in /var/tmp for
// every batch: 90 % of the fold's writes, outside the database's directory, even on tmpfs.
TEST(WriterTest, FoldingAFullBatchWritesNoFileOutsideTheDatabase) {
  { WriterHarness warm; }  // SQLite configured by the store before the VFS below initializes it
  testing::CountingVfs vfs;
  WriterHarness h;
  h.Start();
  WriterOptions options;
  std::vector<std::string> ids;
  for (int round = 0; round < 2; ++round) {
    h.clock.Advance(std::chrono::seconds(1));  // the second round's events are newer
    ids.clear();
    for (int i = 0; i < options.apply_batch; ++i) {
      const std::string n = std::to_string(i);
      ids.push_back(h.Send("user.upserted", {{"external_id", "u" + n},
                                             {"email", "u" + n + "@example.com"},
                                             {"name", "Round " + std::to_string(round)}}));
    }
    auto ran = h.writer->RunOnce();
    ASSERT_TRUE(ran.ok()) << ran.status().message();
  }
  for (const auto& id : ids) ASSERT_EQ(h.Event(id).state, EventState::kApplied) << id;
  EXPECT_EQ(h.Entity(EntityKind::kUser, "u7").desired["name"]["v"], "Round 1");
  EXPECT_EQ(vfs.temp_files_opened(), 0);
}

// The progress estimate of writes left (GET /v1/status progress.writes_left_estimate): an
// organization whose member list takes many turns counted as one pending entity, so at the tail
// of a backfill `tenantsync wait` showed 98 % and "ETA unknown" for 28 minutes. The steps its turn
// left are what it still sends.
TEST(WriterTest, StepsLeftWhenATurnEndsAreTheWritesTheEntityStillSends) {
  WriterHarness h;
  h.tenant.AddRole("member");
  h.Start();
  h.Send("organization.upserted", {{"external_id", "acme"}, {"name", "acme"}});
  for (int i = 0; i < 30; ++i) {
    const std::string u = "u" + std::to_string(i);
    h.Send("user.upserted",
           {{"external_id", u},
            {"email", u + "@example.com"},
            {"organizations", Json::array({{{"external_id", "acme"}, {"roles", {"member"}}}})}});
  }
  for (int turn = 0; turn < 20 && h.writer->ExtraStepsLeft() == 0; ++turn) {
    ASSERT_TRUE(h.writer->RunOnce().ok());
    h.clock.Advance(std::chrono::seconds(6));  // past the members' 5 s revisit
  }
  const int64_t extra = h.writer->ExtraStepsLeft();
  ASSERT_GT(extra, 0) << "the member list of 30 takes more than one turn of 8 steps";
  auto done = [&] {
    int64_t n = 0;
    for (const auto& m : h.Mutations("members:acme")) n += m.state == MutationState::kDone;
    return n;
  };
  const int64_t before = done();
  h.Drain();
  EXPECT_EQ(done() - before, extra + 1) << "the mark stands for one write, the estimate the rest";
  EXPECT_EQ(h.writer->ExtraStepsLeft(), 0);
  auto org = OrgByName(h.tenant, "acme");
  ASSERT_TRUE(org.has_value());
  EXPECT_EQ(h.tenant.Members(org->id).size(), 30u);
}

// Issue 13: the writer folds an event from the ingress's parse of its very body (no second
// parse), and from a fresh parse of what is stored whenever the offered body differs.
TEST(WriterTest, FoldsFromTheIngressParseOnlyWhenItIsThatOfTheStoredBody) {
  WriterHarness h;
  ParsedEventCache cache;
  h.Start();
  h.writer->SetParsedEvents(&cache);
  auto body = [&](const std::string& user, const std::string& email) {
    return nlohmann::json{{"type", "user.upserted"},
                          {"timestamp", testing::Rfc3339Ms(h.clock.NowUnixMillis())},
                          {"data", {{"external_id", user}, {"email", email}}}}
        .dump();
  };
  auto record = [&](const std::string& id, const std::string& b) {
    EventRecord e;
    e.source = "hr";
    e.event_id = id;
    e.type = "user.upserted";
    e.received_at_ms = h.clock.NowUnixMillis();
    e.body = b;
    return e;
  };
  auto parse = [](const std::string& b) { return ParseEvent(*ParseJson(b)).value(); };
  const std::string same = body("u1", "one@example.com");
  h.Store(record("e1", same));
  ASSERT_NE(cache.Offer("hr", "e1", same, parse(same)), 0u);
  // Offered with another body than the one stored (as a duplicate delivery could be).
  const std::string stored = body("u2", "stored@example.com");
  const std::string other = body("u2", "offered@example.com");
  h.Store(record("e2", stored));
  ASSERT_NE(cache.Offer("hr", "e2", other, parse(other)), 0u);
  h.Store(record("e3", body("u3", "three@example.com")));  // nothing offered

  ASSERT_TRUE(h.writer->RunOnce().ok());
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 2u);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(h.Entity(EntityKind::kUser, "u1").desired["email"]["v"], "one@example.com");
  EXPECT_EQ(h.Entity(EntityKind::kUser, "u2").desired["email"]["v"], "stored@example.com");
  EXPECT_EQ(h.Entity(EntityKind::kUser, "u3").desired["email"]["v"], "three@example.com");
  for (const char* id : {"e1", "e2", "e3"}) EXPECT_EQ(h.Event(id).state, EventState::kApplied);
}

// Which organizations' member sets a fold marks for reconciliation: every organization a user
// joins or leaves, and each of a user's organizations when the user changes, leaves or is
// deleted. (A new user's memberships are not read back from the store: issue 13.)
TEST(WriterTest, AFoldMarksTheMemberSetsOfEveryOrganizationTheUserIsOrWasIn) {
  StorageOptions o;
  o.path = testing::MakeTempDir("writer-marks") + "/t.db";
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().message();
  int n = 0;
  auto apply = [&](const std::string& type, const Json& data) {
    EventRecord record;
    record.source = "hr";
    record.event_id = "e" + std::to_string(++n);
    record.received_at_ms = 1000 + n;
    auto parsed = ParseEvent(Json{
        {"type", type}, {"timestamp", testing::Rfc3339Ms(1'700'000'000'000 + n)}, {"data", data}});
    EXPECT_TRUE(parsed.ok()) << parsed.status().message();
    auto txn = (*store)->BeginState();
    EXPECT_TRUE(txn.ok());
    std::vector<std::string> dirty;
    if (!parsed.ok() || !txn.ok()) return dirty;  // reported above; no marks to compare
    EXPECT_TRUE(ApplyEvent(**txn, record, *parsed, 2000 + n, &dirty).ok());
    EXPECT_TRUE((*txn)->Commit().ok());
    std::sort(dirty.begin(), dirty.end());
    dirty.erase(std::unique(dirty.begin(), dirty.end()), dirty.end());
    return dirty;
  };
  using V = std::vector<std::string>;
  auto orgs = [](std::initializer_list<const char*> ids) {
    Json out = Json::array();
    for (auto id : ids) out.push_back({{"external_id", id}, {"roles", {"member"}}});
    return out;
  };
  EXPECT_EQ(apply("user.upserted", {{"external_id", "u1"},
                                    {"email", "u1@example.com"},
                                    {"organizations", orgs({"acme", "beta"})}}),
            (V{"members:acme", "members:beta", "user:u1"}));
  EXPECT_EQ(apply("user.upserted", {{"external_id", "u2"}, {"email", "u2@example.com"}}),
            (V{"user:u2"}));
  // A change without "organizations" keeps them, and each is reconciled again.
  EXPECT_EQ(apply("user.upserted", {{"external_id", "u1"}, {"name", "U One"}}),
            (V{"members:acme", "members:beta", "user:u1"}));
  // Leaving acme: acme loses a member, beta keeps one.
  EXPECT_EQ(apply("user.upserted", {{"external_id", "u1"}, {"organizations", orgs({"beta"})}}),
            (V{"members:acme", "members:beta", "user:u1"}));
  EXPECT_EQ(apply("user.left", {{"external_id", "u1"}}), (V{"members:beta", "user:u1"}));
  EXPECT_EQ(apply("user.returned", {{"external_id", "u1"}}), (V{"members:beta", "user:u1"}));
  EXPECT_EQ(apply("user.deleted", {{"external_id", "u1"}}), (V{"members:beta", "user:u1"}));
  EXPECT_EQ(apply("user.left", {{"external_id", "u2"}}), (V{"user:u2"}));
  // An unknown user who leaves is stored as a leaver, with no organization to reconcile.
  EXPECT_EQ(apply("user.left", {{"external_id", "u3"}}), (V{"user:u3"}));
}

}  // namespace
}  // namespace tenantsync
