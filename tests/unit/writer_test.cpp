// The writer's event apply loop (isolation, rescheduling) on a fake clock, without threads.
#include "daemon/writer.h"

#include <gtest/gtest.h>

#include <random>

#include "adapters/auth0/endpoints.h"
#include "tests/support/counting_vfs.h"
#include "tests/support/rfc3339.h"
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

// Issue 13: events due now are folded into desired state by the transaction that stores them
// (Writer::StoreAndFold, the group committer's store_batch in the daemon); every other event is
// stored pending for the writer's batches, as before.
namespace fold_at_commit {

Json Body(const std::string& type, const Json& data, int64_t timestamp_ms) {
  return Json{{"type", type}, {"timestamp", testing::Rfc3339Ms(timestamp_ms)}, {"data", data}};
}

EventRecord Record(const std::string& id, const Json& body, int64_t received_ms) {
  EventRecord e;
  e.source = "hr";
  e.event_id = id;
  e.type = body["type"].get<std::string>();
  e.received_at_ms = received_ms;
  e.body = body.dump();
  auto parsed = ParseEvent(body);
  if (parsed.ok()) e.effective_at_ms = parsed->effective_at_ms;
  return e;
}

// The ingress's offer of its parse of the record's body.
void Offer(ParsedEventCache& cache, const EventRecord& e) {
  ASSERT_NE(cache.Offer(e.source, e.event_id, e.body, ParseEvent(*ParseJson(e.body)).value()), 0u);
}

bool Dirty(WriterHarness& h, const std::string& key) {
  auto txn = h.store->BeginRead();
  EXPECT_TRUE(txn.ok());
  auto attempts = (*txn)->DirtyAttempts(key);
  EXPECT_TRUE(attempts.ok());
  return attempts.ok() && attempts->has_value();
}

}  // namespace fold_at_commit

TEST(WriterTest, FoldsWhatItCanInTheTransactionThatStoresIt) {
  using namespace fold_at_commit;
  WriterHarness h;
  ParsedEventCache cache;
  h.Start();
  h.writer->SetParsedEvents(&cache);
  std::vector<EventRecord> seen;
  const int64_t now = h.clock.NowUnixMillis();
  auto upsert = [&](const std::string& user) {
    return Body("user.upserted", {{"external_id", user}, {"email", user + "@example.com"}}, now);
  };
  std::vector<EventRecord> batch = {
      Record("a", upsert("ua"), now),                                     // offered: folded now
      Record("b", Body("user.left", {{"external_id", "ub"}}, now), now),  // destructive
      Record("c",
             Body("user.upserted",
                  {{"external_id", "uc"},
                   {"email", "uc@example.com"},
                   {"effective_at", testing::Rfc3339Ms(now + 3600000)}},
                  now),
             now),                     // scheduled later
      Record("d", upsert("ud"), now),  // not offered
      Record("a", upsert("ua"), now),  // a repeat of "a" within the batch
      Record("f", upsert("uf"), now),  // offered with another body
  };
  ASSERT_TRUE(batch[2].effective_at_ms.has_value());
  for (size_t i : {0, 1, 2}) Offer(cache, batch[i]);
  ASSERT_NE(cache.Offer("hr", "f", upsert("someone-else").dump(),
                        ParseEvent(upsert("someone-else")).value()),
            0u);

  auto stored = h.writer->StoreAndFold(batch);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  ASSERT_EQ(stored->size(), batch.size());
  EXPECT_EQ((*stored)[0], InsertOutcome::kInserted);
  EXPECT_EQ((*stored)[4], InsertOutcome::kDuplicate);

  EXPECT_EQ(h.Event("a").state, EventState::kApplied);
  EXPECT_EQ(h.Entity(EntityKind::kUser, "ua").desired["email"]["v"], "ua@example.com");
  EXPECT_TRUE(Dirty(h, "user:ua")) << "the folded user is marked for reconciliation";
  for (const char* id : {"b", "c", "d", "f"}) {
    EXPECT_EQ(h.Event(id).state, EventState::kPending) << id;
  }
  for (const char* user : {"ub", "uc", "ud", "uf"}) {
    EXPECT_FALSE(h.Entity(EntityKind::kUser, user).exists) << user;
  }
  auto counts = h.store->CountEventsByState();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ((*counts)["applied"], 1);
  EXPECT_EQ((*counts)["pending"], 4);

  // The writer folds the rest as before (the scheduled one when due).
  ASSERT_TRUE(h.writer->RunOnce().ok());
  for (const char* id : {"b", "d", "f"}) EXPECT_EQ(h.Event(id).state, EventState::kApplied) << id;
  EXPECT_EQ(h.Event("c").state, EventState::kPending);
  EXPECT_EQ(h.Entity(EntityKind::kUser, "ub").desired["left"]["v"], true);
  EXPECT_EQ(h.Entity(EntityKind::kUser, "uf").desired["email"]["v"], "uf@example.com");
}

TEST(WriterTest, APausedWriterFoldsNothingAsEventsAreStored) {
  using namespace fold_at_commit;
  WriterHarness h;
  ParsedEventCache cache;
  h.Start();
  h.writer->SetParsedEvents(&cache);
  ASSERT_TRUE(h.writer->SetPaused(true).ok());
  const int64_t now = h.clock.NowUnixMillis();
  std::vector<EventRecord> batch = {Record(
      "a", Body("user.upserted", {{"external_id", "ua"}, {"email", "a@example.com"}}, now), now)};
  Offer(cache, batch[0]);
  ASSERT_TRUE(h.writer->StoreAndFold(batch).ok());
  EXPECT_EQ(h.Event("a").state, EventState::kPending);
  EXPECT_FALSE(h.Entity(EntityKind::kUser, "ua").exists);
}

// An event that cannot be applied (here an id that is not UTF-8, which makes storing its stamp
// fail) rolls the whole batch's fold back: the batch is stored pending, and the writer's careful
// pass fails that event alone.
TEST(WriterTest, AFoldThatFailsAsEventsAreStoredLeavesTheBatchToTheWriter) {
  using namespace fold_at_commit;
  WriterHarness h;
  ParsedEventCache cache;
  h.Start();
  h.writer->SetParsedEvents(&cache);
  const int64_t now = h.clock.NowUnixMillis();
  std::vector<EventRecord> batch = {
      Record("good-1",
             Body("user.upserted", {{"external_id", "u1"}, {"email", "one@example.com"}}, now),
             now),
      Record("bad-\xff\xfe",
             Body("user.upserted", {{"external_id", "victim"}, {"email", "v@example.com"}}, now),
             now),
      Record("good-2",
             Body("user.upserted", {{"external_id", "u2"}, {"email", "two@example.com"}}, now),
             now),
  };
  for (auto& e : batch) Offer(cache, e);
  auto stored = h.writer->StoreAndFold(batch);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  for (auto outcome : *stored) EXPECT_EQ(outcome, InsertOutcome::kInserted);
  for (auto& e : batch) EXPECT_EQ(h.Event(e.event_id).state, EventState::kPending);
  EXPECT_FALSE(h.Entity(EntityKind::kUser, "u1").exists) << "the fold was rolled back";

  ASSERT_TRUE(h.writer->RunOnce().ok());
  EXPECT_EQ(h.Event("good-1").state, EventState::kApplied);
  EXPECT_EQ(h.Event("good-2").state, EventState::kApplied);
  EXPECT_EQ(h.Event("bad-\xff\xfe").state, EventState::kFailed);
  EXPECT_EQ(h.Entity(EntityKind::kUser, "u2").desired["email"]["v"], "two@example.com");
  EXPECT_FALSE(h.Entity(EntityKind::kUser, "victim").exists);
}

// Property (fixed seed): random batches of deliveries for a few users — profiles, organizations
// with roles, leaving, returning, blocking, out-of-order timestamps, repeats, some scheduled,
// some not offered — end in the same desired state, memberships and event states whether they
// are stored by StoreAndFold (folding what it can) or stored pending and folded by the writer
// alone.
TEST(WriterTest, FoldingAsEventsAreStoredEndsWhereTheWriterAloneEnds) {
  using namespace fold_at_commit;
  std::mt19937 rng(20261201);
  const std::vector<std::string> users = {"u1", "u2", "u3", "u4", "u5"};
  const std::vector<std::string> orgs = {"o1", "o2", "o3"};
  for (int trial = 0; trial < 8; ++trial) {
    WriterHarness plain, folding;
    ParsedEventCache cache;
    plain.Start();
    folding.Start();
    folding.writer->SetParsedEvents(&cache);
    const int64_t base = plain.clock.NowUnixMillis();
    // Organizations first, so memberships have somewhere to go.
    for (auto& o : orgs) {
      Json body = Body("organization.upserted", {{"external_id", o}, {"name", "org-" + o}}, base);
      plain.Store(Record("org-" + o, body, base));
      folding.Store(Record("org-" + o, body, base));
    }
    int next = 0;
    std::vector<EventRecord> sent;
    for (int b = 0; b < 12; ++b) {
      std::vector<EventRecord> batch;
      const int n = 1 + static_cast<int>(rng() % 8);
      for (int i = 0; i < n; ++i) {
        if (!sent.empty() && rng() % 8 == 0) {  // a repeated delivery
          batch.push_back(sent[rng() % sent.size()]);
          continue;
        }
        const std::string user = users[rng() % users.size()];
        const int64_t ts = base + static_cast<int64_t>(rng() % 50) * 1000;  // out of order
        Json data = {{"external_id", user}};
        std::string type;
        switch (rng() % 6) {
          case 0:
            type = "user.left";
            break;
          case 1:
            type = "user.returned";
            break;
          case 2:
            type = "user.blocked";
            break;
          default: {
            type = "user.upserted";
            data["email"] = user + "-" + std::to_string(rng() % 3) + "@example.com";
            if (rng() % 2) data["name"] = "Name " + std::to_string(rng() % 5);
            if (rng() % 2) {
              Json memberships = Json::array();
              for (auto& o : orgs) {
                if (rng() % 2)
                  memberships.push_back(
                      {{"external_id", o}, {"roles", {"r" + std::to_string(rng() % 2)}}});
              }
              data["organizations"] = memberships;
            }
            if (rng() % 10 == 0) data["effective_at"] = testing::Rfc3339Ms(base + 3600000);
          }
        }
        batch.push_back(Record("ev-" + std::to_string(next++), Body(type, data, ts), base));
        sent.push_back(batch.back());
      }
      for (auto& e : batch) {
        plain.Store(e);
        if (rng() % 5 != 0)
          cache.Offer(e.source, e.event_id, e.body, ParseEvent(*ParseJson(e.body)).value());
      }
      ASSERT_TRUE(folding.writer->StoreAndFold(batch).ok());
      if (rng() % 3 == 0) {  // the writer's batches run in between, sometimes
        ASSERT_TRUE(plain.writer->RunOnce().ok());
        ASSERT_TRUE(folding.writer->RunOnce().ok());
      }
    }
    // Everything due, the scheduled ones included.
    plain.clock.Advance(std::chrono::hours(2));
    folding.clock.Advance(std::chrono::hours(2));
    ASSERT_TRUE(plain.writer->RunOnce().ok());
    ASSERT_TRUE(folding.writer->RunOnce().ok());
    for (auto& e : sent) {
      ASSERT_EQ(plain.Event(e.event_id).state, EventState::kApplied) << trial << " " << e.event_id;
      ASSERT_EQ(folding.Event(e.event_id).state, EventState::kApplied)
          << trial << " " << e.event_id;
    }
    for (auto& u : users) {
      EXPECT_EQ(folding.Entity(EntityKind::kUser, u).desired,
                plain.Entity(EntityKind::kUser, u).desired)
          << "trial " << trial << " user " << u;
      auto a = plain.store->BeginRead();
      auto b = folding.store->BeginRead();
      ASSERT_TRUE(a.ok() && b.ok());
      auto ma = (*a)->UserMemberships(u);
      auto mb = (*b)->UserMemberships(u);
      ASSERT_TRUE(ma.ok() && mb.ok());
      ASSERT_EQ(mb->size(), ma->size()) << "trial " << trial << " user " << u;
      for (size_t i = 0; i < ma->size(); ++i) {
        EXPECT_EQ((*mb)[i].org_external_id, (*ma)[i].org_external_id);
        EXPECT_EQ((*mb)[i].roles, (*ma)[i].roles);
      }
    }
    EXPECT_GT(cache.hits(), 0u);
  }
}

}  // namespace
}  // namespace tenantsync
