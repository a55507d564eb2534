// bench-store (issue 17): storage at 100,000 managed users. Fills a fresh database with users,
// organizations, memberships, an inbox and a mutation log of the given sizes (half of the history
// older than the default retention), then prints how long the daemon's per-request queries take
// (GET /v1/status's whole set, a user lookup, the listings, the writer's picks), the plan's
// snapshot read, one compaction pass, and the process's peak RSS. Figures, not a test: see
// docs/BENCHMARKS.md for the command and the recorded numbers.
#include <SQLiteCpp/SQLiteCpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "daemon/retention.h"
#include "storage/sqlite_store.h"
#include "tests/bench/bench_support.h"
#include "tests/support/fake_clock.h"
#include "tests/support/subprocess.h"

namespace tenantsync {
namespace {

constexpr int64_t kDayMs = 86400000;

struct Sizes {
  int users = 100000, orgs = 2000, memberships = 150000, events = 300000, mutations = 300000;
};

template <typename T>
void Check(const Result<T>& r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, r.status().ToString().c_str());
    std::exit(1);
  }
}

// Fills the database through its own connection, in large transactions, without fsyncs.
void Fill(const std::string& path, const Sizes& n, int64_t now) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE);
  db.exec("PRAGMA synchronous=OFF");
  std::mt19937_64 rng(17);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  SQLite::Transaction tx(db);
  {
    SQLite::Statement q(db,
                        "INSERT INTO entities (kind, external_id, desired, known, auth0_id, "
                        "updated_at_ms) VALUES (?,?,?,?,?,?)");
    for (int i = 0; i < n.orgs + n.users; ++i) {
      const bool org = i < n.orgs;
      const std::string ext = org ? "org-" + std::to_string(i) : "u" + std::to_string(i);
      const std::string desired =
          org ? R"({"name":{"v":"org-)" + std::to_string(i) +
                    R"(","at":1,"ev":"hr/1"},"display_name":{"v":"Organization )" +
                    std::to_string(i) + R"(","at":1,"ev":"hr/1"}})"
              : R"({"email":{"v":")" + ext + R"(@example.com","at":1795000000000,"ev":"hr/e)" +
                    std::to_string(i) + R"("},"name":{"v":"User )" + ext +
                    R"(","at":1795000000000,"ev":"hr/e1"},"blocked":{"v":false,"at":1,"ev":"hr/1"},)"
                    R"("app_metadata":{"v":{"department":"Sales","cost_center":"CC-1042"},"at":1,)"
                    R"("ev":"hr/1"}})";
      std::string known =
          org ? R"({"name":"org"})" : R"({"email":")" + ext + R"(@example.com","blocked":false})";
      if (!org && i % 2000 == 0) known = R"({"waiting":"an event with the user's email"})";
      q.reset();
      q.bind(1, org ? "org" : "user");
      q.bind(2, ext);
      q.bind(3, desired);
      q.bind(4, known);
      q.bind(5, (org ? "org_" : "auth0|") + std::to_string(100000 + i));
      q.bind(6, static_cast<int64_t>(now - pick(0, 200) * kDayMs));
      q.exec();
    }
  }
  {
    SQLite::Statement m(db,
                        "INSERT OR IGNORE INTO memberships (org_external_id, user_external_id, "
                        "roles) VALUES (?,?,'[\"member\"]')");
    SQLite::Statement k(db,
                        "INSERT OR IGNORE INTO known_memberships (org_external_id, "
                        "user_external_id, roles) VALUES (?,?,'[\"member\"]')");
    for (int i = 0; i < n.memberships; ++i) {
      const std::string org = "org-" + std::to_string(pick(0, n.orgs - 1));
      const std::string user = "u" + std::to_string(n.orgs + (i % n.users));
      for (auto* q : {&m, &k}) {
        q->reset();
        q->bind(1, org);
        q->bind(2, user);
        q->exec();
      }
    }
  }
  {
    SQLite::Statement q(db,
                        "INSERT INTO events (source, event_id, type, occurred_at_ms, "
                        "received_at_ms, state, error, body, updated_at_ms) VALUES "
                        "(?,?,'user.upserted',?,?,?,?,?,?)");
    for (int i = 0; i < n.events; ++i) {
      // Spread over 180 days, oldest first; the newest ones still pending, a few rejected/failed.
      const int64_t at = now - (static_cast<int64_t>(n.events - i) * 180 * kDayMs) / n.events;
      const char* state = i >= n.events - 1000 ? "pending"
                          : i % 500 == 0       ? "rejected"
                          : i % 5000 == 1      ? "failed"
                                               : "applied";
      const std::string user = "u" + std::to_string(n.orgs + (i % n.users));
      q.reset();
      q.bind(1, i % 10 == 0 ? "console" : "hr");
      q.bind(2, "evt-" + std::to_string(i));
      q.bind(3, static_cast<int64_t>(at - 1000));
      q.bind(4, static_cast<int64_t>(at));
      q.bind(5, state);
      if (std::string(state) == "rejected") q.bind(6, "data.email: not an email address");
      q.bind(7, R"({"id":"evt-)" + std::to_string(i) +
                    R"(","type":"user.upserted","timestamp":"2026-06-01T10:00:00Z","data":)"
                    R"({"external_id":")" +
                    user + R"(","email":")" + user +
                    R"(@example.com","name":"A User","organizations":[{"external_id":"org-1",)"
                    R"("roles":["member"]}],"app_metadata":{"department":"Sales"}}})");
      q.bind(8, static_cast<int64_t>(at + 500));
      q.exec();
    }
  }
  {
    SQLite::Statement q(db,
                        "INSERT INTO mutations (entity, kind, request, events, state, attempts, "
                        "last_error, created_at_ms, updated_at_ms) VALUES "
                        "(?,'patch_user',?,?,?,1,?,?,?)");
    for (int i = 0; i < n.mutations; ++i) {
      const int64_t at = now - (static_cast<int64_t>(n.mutations - i) * 180 * kDayMs) / n.mutations;
      const char* state = i % 1000 == 0   ? "dead"
                          : i % 1000 == 1 ? "failed"
                          : i % 50 == 2   ? "superseded"
                                          : "done";
      const std::string user = "u" + std::to_string(n.orgs + (i % n.users));
      q.reset();
      q.bind(1, "user:" + user);
      q.bind(2, R"({"email":")" + user + R"(@example.com","name":"A User"})");
      q.bind(3, R"(["hr/evt-)" + std::to_string(i) + "\"]");
      q.bind(4, state);
      if (std::string(state) != "done") q.bind(5, "409 Conflict: the user already exists");
      q.bind(6, static_cast<int64_t>(at));
      q.bind(7, static_cast<int64_t>(at + 300));
      q.exec();
    }
  }
  {
    SQLite::Statement q(db, "INSERT INTO dirty (entity, not_before_ms) VALUES (?, ?)");
    for (int i = 0; i < 1000; ++i) {
      q.reset();
      q.bind(1, "user:u" + std::to_string(n.orgs + i * 7));
      q.bind(2, static_cast<int64_t>(now + (i % 2 ? 3600000 : -1000)));
      q.exec();
    }
  }
  // Rows inserted here bypass the store's insert path, which keeps the inbox's per-state counts.
  db.exec(
      "INSERT INTO state_counts (tbl, state, n) SELECT 'events', state, COUNT(*) FROM events "
      "GROUP BY state ON CONFLICT (tbl, state) DO UPDATE SET n = excluded.n");
  tx.commit();
  db.exec("ANALYZE");
}

// Median and max milliseconds of `repeat` runs of `f`.
void Time(const char* what, int repeat, const std::function<void()>& f) {
  std::vector<double> ms;
  for (int i = 0; i < repeat; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    ms.push_back(bench::Since(t0) * 1000);
  }
  std::printf("  %-46s median %8.2f ms   max %8.2f ms\n", what, bench::Percentile(ms, 50),
              bench::Percentile(ms, 100));
}

int Run(int argc, char** argv) {
  Sizes n;
  int repeat = 20;
  std::string dir;
  CLI::App app{"bench-store: storage queries and compaction at 100,000 users"};
  app.add_option("--users", n.users);
  app.add_option("--orgs", n.orgs);
  app.add_option("--memberships", n.memberships);
  app.add_option("--events", n.events);
  app.add_option("--mutations", n.mutations);
  app.add_option("--repeat", repeat, "runs per timed query");
  app.add_option("--dir", dir, "directory for the database (default: a new temp dir)");
  CLI11_PARSE(app, argc, argv);
  if (dir.empty()) dir = testing::MakeTempDir("bench-store");

  FakeClock clock;  // the store's and the compactor's "now": a fixed instant
  const int64_t now = clock.NowUnixMillis();
  StorageOptions options;
  options.path = dir + "/bench.db";
  options.clock = &clock;
  {
    auto t0 = std::chrono::steady_clock::now();
    Check(SqliteStore::Migrate(options), "migrate");
    Fill(options.path, n, now);
    std::printf(
        "filled %s: %d users, %d orgs, %d memberships (+ as many known), %d events, %d mutations "
        "in %.1f s\n",
        options.path.c_str(), n.users, n.orgs, n.memberships, n.events, n.mutations,
        bench::Since(t0));
  }
  auto opened = SqliteStore::Open(options);
  Check(opened, "open");
  SqliteStore& s = **opened;

  std::printf("GET /v1/status queries:\n");
  Time("events by state (+ scheduled)", repeat, [&] { Check(s.CountEventsAt(now), "events"); });
  Time("mutations by state", repeat, [&] { Check(s.CountMutationsByState(), "mutations"); });
  Time("waiting entities (count + 5 examples)", repeat, [&] {
    Check(s.CountWaitingEntities(), "waiting");
    Check(s.WaitingEntities(5), "waiting");
  });
  Time("progress (dirty due, done last minute, imports)", repeat, [&] {
    Check(s.CountDirtyDue(now, now + 60000), "due");
    Check(s.CountMutationsDoneSince(now - 60000), "done");
    Check(s.CountOpenImportUsers(), "imports");
  });
  // The guard's part of status (daemon/guard.cpp StatusJson): one read snapshot.
  auto guard_reads = [&] {
    auto txn = s.BeginRead();
    Check(txn, "guard snapshot");
    Check((*txn)->GetSetting("guard"), "guard setting");
    Check((*txn)->ListGuardHeld(false), "guard held");
    Check((*txn)->CountGuardWindow(now - 600000), "guard window");
    Check((*txn)->CountManagedUsers(), "managed users");
  };
  Time("guard (setting, held, window, managed users)", repeat, guard_reads);
  Time("whole status set", repeat, [&] {
    guard_reads();
    Check(s.CountEventsAt(now), "events");
    Check(s.CountMutationsByState(), "mutations");
    Check(s.ScheduledDirty(now, 5), "scheduled");
    Check(s.CountWaitingEntities(), "waiting");
    Check(s.WaitingEntities(5), "waiting");
    Check(s.OldestPendingMs(now), "oldest");
    Check(s.CountDirtyDue(now, now + 60000), "due");
    Check(s.CountMutationsDoneSince(now - 60000), "done");
    Check(s.CountOpenImportUsers(), "imports");
  });
  std::printf("lookups and listings:\n");
  int u = 0;
  Time("user lookup (entity, memberships, mutations, commands)", repeat, [&] {
    const std::string ext = "u" + std::to_string(n.orgs + (u++ * 7919) % n.users);
    Check(s.ReadEntity(EntityKind::kUser, ext), "entity");
    Check(s.ReadUserMemberships(ext), "memberships");
    SqliteStore::MutationFilter f;
    f.entity = "user:" + ext;
    f.limit = 50;
    Check(s.ListMutations(f), "mutations");
    Check(s.ListCommands(ext, 20), "commands");
  });
  Time("event by id without source", repeat, [&] {
    EventFilter f;
    f.event_id = "evt-" + std::to_string((u++ * 7919) % n.events);
    f.limit = 2;
    Check(s.ListEvents(f), "event");
  });
  Time("events: state=rejected, first page of 100", repeat, [&] {
    EventFilter f;
    f.state = EventState::kRejected;
    Check(s.ListEvents(f), "events");
  });
  Time("events: source=console, first page of 100", repeat, [&] {
    EventFilter f;
    f.source = "console";
    Check(s.ListEvents(f), "events");
  });
  Time("mutations: state=dead, newest 100", repeat, [&] {
    SqliteStore::MutationFilter f;
    f.state = MutationState::kDead;
    Check(s.ListMutations(f), "mutations");
  });
  Time("writer picks (due events, due dirty)", repeat, [&] {
    Check(s.DueEvents(now, 256), "due events");
    Check(s.DueDirty(now, 64), "due dirty");
  });
  std::printf("peak RSS so far (fill, status, lookups, listings): %lld MB\n",
              static_cast<long long>(bench::VmHwmKb(getpid()) / 1024));
  Time("plan snapshot: every user with desired state", 3, [&] {
    auto txn = s.BeginState();
    Check(txn, "begin");
    Check((*txn)->AllEntities(EntityKind::kUser), "all users");
  });

  std::printf("compaction (defaults: bodies after 30 days, mutations after 90):\n");
  RetentionOptions r;
  Compactor compactor(s, clock, r, std::chrono::milliseconds(0));
  auto t0 = std::chrono::steady_clock::now();
  auto pass = compactor.RunPass();
  Check(pass, "compaction");
  const double first = bench::Since(t0);
  std::printf("  first pass: %.2f s; event bodies %lld, mutations %lld (batches of %d rows)\n",
              first, static_cast<long long>((*pass)[CompactionKind::kEventBodies]),
              static_cast<long long>((*pass)[CompactionKind::kMutations]), r.compaction_batch_rows);
  t0 = std::chrono::steady_clock::now();
  auto again = compactor.RunPass();
  Check(again, "compaction");
  std::printf("  next pass with nothing due: %.2f ms, %lld rows\n", bench::Since(t0) * 1000,
              static_cast<long long>(again->Total()));
  Time("whole status set after compaction", repeat, [&] {
    guard_reads();
    Check(s.CountEventsAt(now), "events");
    Check(s.CountMutationsByState(), "mutations");
    Check(s.CountWaitingEntities(), "waiting");
    Check(s.OldestPendingMs(now), "oldest");
    Check(s.CountDirtyDue(now, now + 60000), "due");
    Check(s.CountMutationsDoneSince(now - 60000), "done");
  });
  {
    SQLite::Database db(options.path, SQLite::OPEN_READONLY);
    const int64_t page = db.execAndGet("PRAGMA page_size").getInt64();
    std::printf(
        "database: %lld MB in pages, %lld MB of them free for reuse after compaction\n",
        static_cast<long long>(db.execAndGet("PRAGMA page_count").getInt64() * page >> 20),
        static_cast<long long>(db.execAndGet("PRAGMA freelist_count").getInt64() * page >> 20));
  }
  std::printf("peak RSS of this process (with the plan snapshot): %lld MB\n",
              static_cast<long long>(bench::VmHwmKb(getpid()) / 1024));
  return 0;
}

}  // namespace
}  // namespace tenantsync

int main(int argc, char** argv) { return tenantsync::Run(argc, argv); }
