// The destructive-change guard end to end (SPEC §6): a stream that makes 10% of a 500-user
// company leave at once trips the guard; no block reaches the simulator until approval; approval
// applies them all; rejection applies none and says so; a restart in between keeps the guard
// tripped; non-destructive work keeps flowing while it is tripped.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>

#include "adapters/signature/signature.h"
#include "tests/integration/reconcile_support.h"

namespace tenantsync::testing::reconcile {
namespace {

constexpr int kUsers = 500;
constexpr int kOrgs = 5;
constexpr int kThreads = 8;

std::string Email(int i) { return "p" + std::to_string(i) + "@example.com"; }
std::string Org(int i) { return "org" + std::to_string(i % kOrgs); }

Ev Upsert(int i) {
  return {"up-p" + std::to_string(i),
          "user.upserted",
          {{"external_id", "p" + std::to_string(i)},
           {"email", Email(i)},
           {"name", "Person " + std::to_string(i)},
           {"organizations", {{{"external_id", Org(i)}, {"roles", {"member"}}}}}},
          Ts(100 + i)};
}

Ev Leave(int i) {
  return {"left-p" + std::to_string(i),
          "user.left",
          {{"external_id", "p" + std::to_string(i)}},
          Ts(10000 + i)};
}

// Posts `events` from kThreads threads at once, each with its own connection (TestHttpClient is
// not thread-safe), so a burst lands as close together as a real sender's would.
void PostParallel(TestDaemon& d, const std::vector<Ev>& events) {
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  const SignatureOptions signing = d.Signing("hr");
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      TestHttpClient client("127.0.0.1", d.ingress_port(), 30);
      for (size_t i = next++; i < events.size(); i = next++) {
        const std::string body = events[i].Body();
        HeaderList headers;
        for (auto& h : SignDelivery(signing, events[i].id, std::time(nullptr), body))
          headers.push_back(h);
        auto r = client.Post("/webhooks/hr", body, headers);
        if (r.status < 200 || r.status >= 300) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
}

// Posts a burst so the writer applies it as one batch, deterministically: the writer is paused
// while it arrives (ingress keeps accepting) and resumed after. Without the pause, a loaded
// machine can spread 50 posts over more than the writer's batch delay (100 ms), and the first
// few, applied alone and under the limit, are rightly sent before the rest trips the guard.
void PostBurst(TestDaemon& d, const std::vector<Ev>& events) {
  auto r = d.AdminPost("/v1/pause");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_NO_FATAL_FAILURE(PostParallel(d, events));
  r = d.AdminPost("/v1/resume");
  ASSERT_EQ(r.status, 200) << r.body;
}

// Polls /v1/status until the guard is tripped, the blocks of all `held_users` leavers are held
// (a block is a destructive `patch_user`) and nothing is left to reconcile. Returns the last
// status.
Json WaitTrippedAndHeld(TestDaemon& d, int64_t held_users) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  Json s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = d.AdminGet("/v1/status");
    if (r.status == 200) {
      s = r.Json();
      const Json& g = s["guard"];
      bool done = g.value("tripped", false) && s["entities_to_reconcile"] == 0 &&
                  s["events"]["pending"] == 0 &&
                  g["held"]["by_kind"].value("patch_user", int64_t{0}) >= held_users;
      if (done) return s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "guard did not trip with " << held_users
                << " leavers held; last status: " << s.dump();
  return s;
}

int CountBlocked(const Json& tenant, int from, int to) {
  int n = 0;
  for (int i = from; i < to; ++i) n += tenant["users"][Email(i)].value("blocked", false);
  return n;
}

// Organizations (by name) the user `i` is still a member of.
int Memberships(const Json& tenant, int i) {
  int n = 0;
  for (auto& [name, o] : tenant["organizations"].items()) n += o["members"].contains(Email(i));
  return n;
}

TEST(GuardE2E, BurstOfLeaversTripsHoldsSurvivesRestartApproveAndReject) {
  const auto started = std::chrono::steady_clock::now();
  Sim sim;
  ASSERT_TRUE(sim.ok());
  sim.CreateRole("member");
  // limit = max(10, floor(0.05 × 500)) = 25; 50 leavers at once is twice that.
  TestDaemon d(DaemonFor(sim, "\n[policy]\nguard_max_destructive = 10\n"));
  ASSERT_TRUE(d.Start()) << d.Output();

  std::vector<Ev> setup;
  for (int o = 0; o < kOrgs; ++o) {
    setup.push_back({"org-" + Org(o),
                     "organization.upserted",
                     {{"external_id", Org(o)}, {"name", Org(o)}, {"display_name", "Org " + Org(o)}},
                     Ts(o + 1)});
  }
  for (auto& ev : setup) ASSERT_TRUE(Send(d, ev));
  std::vector<Ev> users;
  for (int i = 0; i < kUsers; ++i) users.push_back(Upsert(i));
  ASSERT_NO_FATAL_FAILURE(PostParallel(d, users));
  Json st = WaitConverged(d, std::chrono::seconds(60));
  Json tenant = Normalize(sim.State());
  ASSERT_EQ(tenant["users"].size(), static_cast<size_t>(kUsers));
  ASSERT_EQ(CountBlocked(tenant, 0, kUsers), 0);
  EXPECT_FALSE(st["guard"]["tripped"].get<bool>()) << st["guard"].dump();
  EXPECT_EQ(st["guard"]["limit"], 25) << st["guard"].dump();
  EXPECT_EQ(st["mutations"]["dead"], 0) << Mutations(d, "&state=dead").dump();
  const auto setup_done = std::chrono::steady_clock::now();

  // ---- 50 leavers at once: tripped before any block is sent. ---------------------------------
  std::vector<Ev> first;
  for (int i = 0; i < 50; ++i) first.push_back(Leave(i));
  ASSERT_NO_FATAL_FAILURE(PostBurst(d, first));
  st = WaitTrippedAndHeld(d, 50);
  ASSERT_TRUE(st["guard"]["tripped"].get<bool>()) << st["guard"].dump();
  tenant = Normalize(sim.State());
  EXPECT_EQ(CountBlocked(tenant, 0, kUsers), 0)
      << "no block reaches Auth0 while the guard is tripped";
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(Memberships(tenant, i), 1) << Email(i) << " kept its membership";
  Json by_kind = st["guard"]["held"]["by_kind"];
  int64_t held_total = st["guard"]["held"]["total"].get<int64_t>();
  // Every leaver's block is held, and the removal of leavers from each organization.
  EXPECT_GE(held_total, 50) << st["guard"].dump();
  EXPECT_EQ(by_kind.value("patch_user", int64_t{0}), 50)
      << "one held block per leaver: " << by_kind.dump();
  EXPECT_EQ(st["mutations"]["dead"], 0)
      << "held work is not dead-lettered: " << Mutations(d, "&state=dead").dump();

  // ---- Non-destructive work keeps flowing while tripped. ---------------------------------------
  ASSERT_TRUE(Send(d, Upsert(kUsers)));
  WaitConverged(d);
  tenant = Normalize(sim.State());
  EXPECT_TRUE(tenant["users"].contains(Email(kUsers)))
      << "a new hire is created while the guard is tripped";
  EXPECT_EQ(Memberships(tenant, kUsers), 1);
  EXPECT_TRUE(Status(d)["guard"]["tripped"].get<bool>());

  // ---- A restart keeps the guard tripped and the leavers held. ---------------------------------
  auto code = d.Stop(SIGTERM);
  ASSERT_TRUE(code.has_value());
  ASSERT_TRUE(d.Start()) << d.Output();
  st = WaitConverged(d);
  std::this_thread::sleep_for(
      std::chrono::milliseconds(300));  // give a wrongly released block time to land
  st = Status(d);
  EXPECT_TRUE(st["guard"]["tripped"].get<bool>()) << st["guard"].dump();
  EXPECT_EQ(st["guard"]["held"]["total"], held_total) << st["guard"].dump();
  tenant = Normalize(sim.State());
  EXPECT_EQ(CountBlocked(tenant, 0, kUsers + 1), 0) << "still nothing blocked after the restart";

  // ---- Approve: every held leaver is applied.
  // ----------------------------------------------------
  auto r = d.AdminPost("/v1/guard/approve");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["approved"], held_total) << r.body;
  st = WaitConverged(d);
  EXPECT_FALSE(st["guard"]["tripped"].get<bool>()) << st["guard"].dump();
  EXPECT_EQ(st["guard"]["held"]["total"], 0) << st["guard"].dump();
  tenant = Normalize(sim.State());
  EXPECT_EQ(CountBlocked(tenant, 0, 50), 50) << "approval applies every held block";
  EXPECT_EQ(CountBlocked(tenant, 50, kUsers + 1), 0) << "and nothing else";
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(Memberships(tenant, i), 0) << Email(i) << " removed from its organization";
  EXPECT_EQ(st["mutations"]["dead"], 0) << Mutations(d, "&state=dead").dump();

  // ---- 50 different leavers at once: tripped again, then rejected. -----------------------------
  std::vector<Ev> second;
  for (int i = 100; i < 150; ++i) second.push_back(Leave(i));
  ASSERT_NO_FATAL_FAILURE(PostBurst(d, second));
  st = WaitTrippedAndHeld(d, 50);
  ASSERT_TRUE(st["guard"]["tripped"].get<bool>()) << st["guard"].dump();
  const int64_t held_second = st["guard"]["held"]["total"].get<int64_t>();
  tenant = Normalize(sim.State());
  EXPECT_EQ(CountBlocked(tenant, 100, 150), 0) << "the second burst is held too";

  r = d.AdminPost("/v1/guard/reject");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["rejected"], held_second) << r.body;
  st = WaitConverged(d);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  st = Status(d);
  EXPECT_FALSE(st["guard"]["tripped"].get<bool>())
      << "rejection untrips the guard: " << st["guard"].dump();
  EXPECT_EQ(st["guard"]["held"]["total"], 0) << st["guard"].dump();
  tenant = Normalize(sim.State());
  EXPECT_EQ(CountBlocked(tenant, 100, 150), 0) << "rejection applies none of them";
  for (int i = 100; i < 150; ++i)
    EXPECT_EQ(Memberships(tenant, i), 1) << Email(i) << " kept its membership";
  EXPECT_EQ(CountBlocked(tenant, 0, 50), 50) << "the approved leavers stay blocked";

  // Rejection says so: one discarded mutation per held step, naming the operator's rejection.
  Json discarded = Mutations(d, "&state=discarded");
  std::set<std::string> rejected_entities;
  int rejected_rows = 0;
  for (auto& m : discarded) {
    if (!m["error"].is_string() ||
        m["error"].get<std::string>().find("rejected by an operator") == std::string::npos)
      continue;
    ++rejected_rows;
    rejected_entities.insert(m["entity"].get<std::string>());
  }
  EXPECT_EQ(rejected_rows, held_second) << discarded.dump();
  EXPECT_GE(rejected_entities.size(), 50u) << discarded.dump();
  for (int i = 100; i < 150; ++i) {
    bool named = false;
    for (auto& e : rejected_entities)
      named = named || e.find("p" + std::to_string(i)) != std::string::npos;
    EXPECT_TRUE(named) << "p" << i << " is listed as rejected: " << discarded.dump();
  }
  EXPECT_EQ(d.AdminPost("/v1/guard/reject").status, 409) << "nothing left to reject";

  RecordProperty(
      "setup_ms",
      static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(setup_done - started).count()));
  RecordProperty("guard_ms", static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::steady_clock::now() - setup_done)
                                                  .count()));
}

// Leavers that trickle in one by one, each applied in its own batch, are still one burst: the
// writer holds destructive steps for guard_settle_ms and the guard adds up what arrived meanwhile,
// so the guard trips before the first block is sent.
TEST(GuardE2E, LeaversSpreadOverSecondsStillTripBeforeAnyBlock) {
  constexpr int kSmall = 60;
  Sim sim;
  ASSERT_TRUE(sim.ok());
  sim.CreateRole("member");
  // limit = max(5, floor(0.05 × 60)) = 5; 12 leavers spread over ~2 s, settle 5 s.
  TestDaemon d(DaemonFor(sim, "\n[policy]\nguard_max_destructive = 5\nguard_settle_ms = 5000\n"));
  ASSERT_TRUE(d.Start()) << d.Output();
  for (int o = 0; o < kOrgs; ++o) {
    ASSERT_TRUE(
        Send(d, {"org-" + Org(o),
                 "organization.upserted",
                 {{"external_id", Org(o)}, {"name", Org(o)}, {"display_name", "Org " + Org(o)}},
                 Ts(o + 1)}));
  }
  std::vector<Ev> users;
  for (int i = 0; i < kSmall; ++i) users.push_back(Upsert(i));
  ASSERT_NO_FATAL_FAILURE(PostParallel(d, users));
  Json st = WaitConverged(d, std::chrono::seconds(60));
  ASSERT_EQ(st["guard"]["limit"], 5) << st["guard"].dump();

  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(Send(d, Leave(i)));
    std::this_thread::sleep_for(
        std::chrono::milliseconds(150));  // longer than the 100 ms batch delay
  }
  st = WaitTrippedAndHeld(d, 12);
  ASSERT_TRUE(st["guard"]["tripped"].get<bool>()) << st["guard"].dump();
  EXPECT_EQ(CountBlocked(Normalize(sim.State()), 0, kSmall), 0)
      << "no block was sent before the guard tripped";
  EXPECT_EQ(sim.Requests("PATCH /api/v2/users/{id}"), 0);
}

}  // namespace
}  // namespace tenantsync::testing::reconcile
