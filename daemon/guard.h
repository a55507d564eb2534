// Guard: the destructive-change guard (SPEC §6).
//
// Every destructive mutation (block, user delete, membership removal for a leaver, organization
// delete, callback removal, session revocation) asks Check() before it is sent. Destructive
// writes allowed in the last `window_seconds` are counted; when one more would exceed
// max(guard_max_destructive, guard_max_fraction × managed users), the guard trips: that step and
// every later destructive step are held (not sent, recorded in guard_held) until an operator
// approves (held work proceeds: for one window, a destructive step of an approved entity passes
// if its kind was not held or its request is the one that was held; the window count starts
// afresh) or rejects (held work is discarded and recorded as
// such). A burst of destructive events trips it before any is sent (Anticipate): the step
// executor holds each destructive step back for `settle_ms` after its latest event arrived (the
// rest of the entity proceeds), and Anticipate
// adds up the destructive events that arrived within that time, so a burst spread over up to
// `settle_ms` is judged as one. Non-destructive work is never held. State lives in SQLite, so a
// restart keeps the guard tripped.
//
// Thread safety: all methods may be called from any thread (writer workers, admin API).
#pragma once

#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "common/clock.h"
#include "common/status.h"
#include "storage/sqlite_store.h"

namespace tenantsync {

struct GuardOptions {
  int max_destructive = 50;
  double max_fraction = 0.05;
  int window_seconds = 600;
  // Destructive events arriving within this long of each other count as one burst (Anticipate);
  // the writer delays destructive steps by as much. 0 = each applied batch is judged alone.
  int settle_ms = 2000;
};

class Guard {
 public:
  Guard(SqliteStore& store, Clock& clock, GuardOptions options);

  enum class Decision { kAllow, kHold };
  // Decides for one destructive step and records the decision (window entry or held row).
  // Storage errors are returned as kRetryable (the step is neither sent nor held).
  Result<Decision> Check(const std::string& entity, const std::string& kind,
                         const nlohmann::json& request, const nlohmann::json& events);
  // A batch of `destructive_events` was just applied and will be planned next: trips the guard
  // now, before any of them is sent, when they, the other destructive events applied in the
  // last settle_ms and the window's count exceed the limit.
  Status Anticipate(int64_t destructive_events);
  // Approve: held steps are released (their entities are marked dirty and pass the guard once).
  // Returns the entities released.
  Result<std::vector<std::string>> Approve();
  // Reject: held steps are discarded, each recorded as a `discarded` mutation, and the
  // destructive intent of the events behind them is undone in desired state (each event noted
  // as rejected by `by`, with the time): a later routine event for the entity does not plan the
  // block or deletion again; only a newer destructive event does. Returns how many were held.
  Result<int64_t> Reject(const std::string& by = "operator");

  // {"tripped", "tripped_at_ms", "limit", "window_seconds", "destructive_in_window",
  //  "held": {"total", "by_kind": {...}, "examples": [...]}}
  Result<nlohmann::json> StatusJson();
  bool tripped();
  void SetOptions(GuardOptions options);
  // How long the writer holds a destructive step back after its event (GuardOptions::settle_ms).
  int64_t settle_ms();

 private:
  // max(max_destructive, floor(max_fraction × managed users)). mu_ held.
  int64_t LimitLocked(int64_t managed_users) const;

  SqliteStore& store_;
  Clock& clock_;
  std::mutex mu_;         // serialises decisions so two workers cannot both take the last slot
  GuardOptions options_;  // guarded by mu_
  std::deque<std::pair<int64_t, int64_t>> arrivals_;  // (applied at ms, count); guarded by mu_
};

}  // namespace tenantsync
