// bench-inbox (issue 13): what storing and settling an event costs the inbox, without HTTP.
// Fills a fresh database (real migrations) with --prefill applied events, then times, in CPU
// seconds of this thread, the two writes every webhook event costs: the group committer's insert
// (--per-commit events per transaction, synchronous=FULL as in the daemon) and the writer marking
// a batch applied (--apply-batch per transaction). --sql runs extra DDL after the migrations, to
// price a schema change before it becomes a migration. Figures, not a test: docs/BENCHMARKS.md.
#include <SQLiteCpp/SQLiteCpp.h>
#include <stdlib.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "storage/sqlite_store.h"
#include "storage/state_store.h"

namespace tenantsync {
namespace {

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "bench-inbox: %s: %s\n", what, r.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

void Must(const Status& st, const char* what) {
  if (!st.ok()) {
    std::fprintf(stderr, "bench-inbox: %s: %s\n", what, st.ToString().c_str());
    std::exit(1);
  }
}

// The body bench-ingest sends (a user.upserted of ~330 bytes); ids random like UUIDs or
// sequential like a sender's counter.
EventRecord MakeEvent(int64_t n, bool random_ids, std::mt19937_64& rng) {
  EventRecord e;
  e.source = "hr";
  if (random_ids) {
    char id[40];
    std::snprintf(id, sizeof id, "%016llx-%016llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng()));
    e.event_id = id;
  } else {
    e.event_id = "evt-" + std::to_string(n);
  }
  e.type = "user.upserted";
  e.occurred_at_ms = 1795000000000 + n;
  e.received_at_ms = 1795000000000 + n;
  e.body =
      R"({"id":")" + e.event_id +
      R"(","type":"user.upserted","timestamp":"2026-11-20T10:00:00Z","data":{"external_id":"emp-)" +
      std::to_string(n) + R"(","email":"emp-)" + std::to_string(n) +
      R"(@example.com","name":"Employee )" + std::to_string(n) +
      R"(","given_name":"Employee","family_name":"Number )" + std::to_string(n) +
      R"(","org_external_id":"org-)" + std::to_string(n % 50) + R"(","roles":["member"]}})";
  return e;
}

struct Phase {
  double insert_s = 0, apply_s = 0;
};

Phase Run(SqliteStore& store, int64_t first, int64_t count, int per_commit, int apply_batch,
          bool random_ids, std::mt19937_64& rng, bool timed) {
  Phase p;
  std::vector<EventRecord> batch;
  std::vector<int64_t> seqs;
  int64_t next = first;
  while (next < first + count) {
    // Insert one apply batch's worth in commits of per_commit, then settle it.
    const int64_t end = std::min(first + count, next + apply_batch);
    const int64_t batch_first = next;
    while (next < end) {
      batch.clear();
      for (int i = 0; i < per_commit && next < end; ++i)
        batch.push_back(MakeEvent(next++, random_ids, rng));
      const double t0 = timed ? ThreadCpuSeconds() : 0;
      Must(store.InsertEvents(batch), "inserting");
      if (timed) p.insert_s += ThreadCpuSeconds() - t0;
    }
    const double t0 = timed ? ThreadCpuSeconds() : 0;
    auto due = Must(store.DueEvents(1795000000000 + end + 1, apply_batch), "reading due events");
    seqs.clear();
    for (const auto& e : due) seqs.push_back(e.seq);
    auto txn = Must(store.BeginState(), "beginning");
    Must(txn->SetEventsApplied(seqs, 1795000000000 + end), "settling");
    Must(txn->Commit(), "committing");
    if (timed) p.apply_s += ThreadCpuSeconds() - t0;
    if (static_cast<int64_t>(seqs.size()) != end - batch_first) {
      std::fprintf(stderr, "bench-inbox: %zu due events, expected %lld\n", seqs.size(),
                   static_cast<long long>(end - batch_first));
      std::exit(1);
    }
  }
  return p;
}

int Main(int argc, char** argv) {
  CLI::App app{"bench-inbox: CPU per event of the inbox's insert and settle (no HTTP)"};
  int64_t events = 50000, prefill = 100000;
  int per_commit = 5, apply_batch = 500;
  std::string dir = "/dev/shm", sql_file, ids = "random";
  app.add_option("--events", events, "timed events (default 50000)")->check(CLI::Range(1, 2000000));
  app.add_option("--prefill", prefill, "applied events already in the inbox (default 100000)")
      ->check(CLI::Range(0, 5000000));
  app.add_option("--per-commit", per_commit, "events per insert transaction (default 5)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--apply-batch", apply_batch, "events per settle transaction (default 500)")
      ->check(CLI::Range(1, 10000));
  app.add_option("--dir", dir, "where the database goes (default /dev/shm: fsync is free)");
  app.add_option("--sql", sql_file,
                 "extra DDL run after the migrations (a schema change to price)");
  app.add_option("--ids", ids, "event ids: random (UUID-like, default) or sequential")
      ->check(CLI::IsMember({"random", "sequential"}));
  CLI11_PARSE(app, argc, argv);

  std::string tmpl = dir + "/bench-inbox-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::fprintf(stderr, "bench-inbox: cannot create a directory in %s\n", dir.c_str());
    return 1;
  }
  struct Cleanup {
    std::string path;
    ~Cleanup() { std::filesystem::remove_all(path); }
  } cleanup{tmpl};
  StorageOptions options;
  options.path = tmpl + "/inbox.db";
  auto store = Must(SqliteStore::Open(options, true), "opening");
  if (!sql_file.empty()) {
    std::ifstream in(sql_file);
    if (!in) {
      std::fprintf(stderr, "bench-inbox: cannot read %s\n", sql_file.c_str());
      return 1;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    try {
      SQLite::Database db(options.path, SQLite::OPEN_READWRITE);
      db.exec(ss.str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench-inbox: %s: %s\n", sql_file.c_str(), e.what());
      return 1;
    }
    // Reopen so the cached statements are prepared against the changed schema.
    store.reset();
    store = Must(SqliteStore::Open(options, true), "reopening");
  }
  const bool random_ids = ids == "random";
  std::mt19937_64 rng(13);
  Run(*store, 0, prefill, 1000, 5000, random_ids, rng, false);
  const Phase p = Run(*store, prefill, events, per_commit, apply_batch, random_ids, rng, true);
  std::printf(
      "bench-inbox: %lld events after %lld, %d per commit, settled %d at a time, %s ids, "
      "db in %s%s%s\n",
      static_cast<long long>(events), static_cast<long long>(prefill), per_commit, apply_batch,
      ids.c_str(), dir.c_str(), sql_file.empty() ? "" : ", extra DDL ", sql_file.c_str());
  const double n = static_cast<double>(events);
  std::printf(
      "  insert (group commit) %.2f us/event\n  settle (writer)       %.2f us/event\n"
      "  total                 %.2f us/event\n",
      p.insert_s / n * 1e6, p.apply_s / n * 1e6, (p.insert_s + p.apply_s) / n * 1e6);
  return 0;
}

}  // namespace
}  // namespace tenantsync

int main(int argc, char** argv) { return tenantsync::Main(argc, argv); }
