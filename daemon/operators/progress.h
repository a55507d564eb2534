// Progress of a burst people can watch (issue 17 item 2; docs/OPERATIONS.md "Watching a
// backfill"): `tenantsync wait` and `tenantsync apply --wait` poll GET /v1/status and turn two
// successive snapshots of its `progress` object into converged/total, writes per second, Auth0
// requests per second, Auth0 headroom and an ETA, rendered as a one-line terminal bar or as plain
// periodic lines.
//
// Pure: no I/O, no clock (snapshot times come from the caller); ProgressTracker is a value type,
// not thread-safe (one per watching command). Nothing here fails: odd input (time going
// backwards, counters that shrink) yields "no rate" and an unknown ETA, never an error.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

namespace tenantsync {

// The figures of one GET /v1/status answer that progress is computed from.
struct ProgressSnapshot {
  int64_t at_ms = 0;        // when it was read (the caller's clock)
  int64_t pending = 0;      // work still to do: entities marked (due + scheduled soon), users
                            // waiting for an import job, events not applied yet
  int64_t writes_done = 0;  // cumulative mutations done in Auth0 (each one Auth0 write request)
  // Cumulative HTTP requests sent to Auth0 (every attempt: reads, retries, import-job polls and
  // token requests included); nullopt when the daemon does not report it.
  std::optional<int64_t> requests_done;
  std::optional<int64_t> headroom;  // Auth0 requests left in the current rate-limit window
  // Auth0 writes estimated to be left (progress.writes_left_estimate: one per marked entity and
  // pending event, plus the steps an entity had left when its turn ended); nullopt from an older
  // daemon.
  std::optional<int64_t> writes_left;
};

// Reads a snapshot from a GET /v1/status answer's `progress` object; nullopt when the answer has
// none (an older daemon).
std::optional<ProgressSnapshot> ProgressSnapshotFromStatus(const nlohmann::json& status,
                                                           int64_t at_ms);

struct ProgressFigures {
  int64_t converged = 0;         // entities/events converged since the watch began
  int64_t total = 0;             // converged + pending (grows when a burst adds work while watched)
  double writes_per_second = 0;  // over the last interval; 0 when none or dt <= 0
  // Auth0 requests per second over the last interval; 0 when none or dt <= 0, nullopt when either
  // snapshot lacks requests_done (an older daemon).
  std::optional<double> requests_per_second;
  std::optional<int64_t> headroom;  // as in the latest snapshot
  // nullopt: unknown (no progress in the interval). The larger of two estimates, each known only
  // when its work moved in the interval: pending work ÷ how fast it went down, and writes left ÷
  // writes per second. The second keeps the ETA at the tail of a backfill, where a few
  // organizations' member lists (one entity each, thousands of writes) are all that is left.
  std::optional<int64_t> eta_seconds;
};

// Follows successive snapshots. The first Update() sets the baseline: total = its pending,
// converged = 0. Later ones: total never shrinks and grows by any pending beyond what is left
// of it; converged = total - pending (never decreasing). Rates are from the previous snapshot
// to this one: a zero or negative time step, or counters that go down (a restarted daemon),
// give no rate and an unknown ETA instead of a negative or infinite one.
class ProgressTracker {
 public:
  ProgressFigures Update(const ProgressSnapshot& s);

 private:
  std::optional<ProgressSnapshot> prev_;
  int64_t total_ = 0;
  int64_t converged_ = 0;
};

// "1h02m", "3m05s", "42s"; "unknown" for nullopt.
std::string FormatEta(std::optional<int64_t> seconds);

// One terminal line: "\r[#####-----] 120/500  3.2 writes/s  15.9 req/s  headroom 45  ETA 2m05s"
// (the req/s figure only when known), bounded to
// `width` columns (the bar shrinks first, then the line is cut) and padded with spaces so a
// shorter line overwrites a longer one. width < 20 is treated as 20.
std::string RenderProgressBar(const ProgressFigures& f, int width);
// One plain line for logs and pipes, newline-terminated:
// "progress: 120/500 converged (24%), 3.2 writes/s, 15.9 Auth0 requests/s, Auth0 headroom 45,
// ETA 2m05s\n" (the requests/s figure only when known).
std::string RenderProgressLine(const ProgressFigures& f);

}  // namespace tenantsync
