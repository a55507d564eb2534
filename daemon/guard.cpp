#include "daemon/guard.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <map>
#include <set>

#include "adapters/events/event.h"
#include "daemon/desired_state.h"

namespace tenantsync {

using Json = nlohmann::json;

Guard::Guard(SqliteStore& store, Clock& clock, GuardOptions options)
    : store_(store), clock_(clock), options_(options) {}

namespace {

int64_t Limit(const GuardOptions& o, int64_t managed_users) {
  return std::max<int64_t>(
      o.max_destructive,
      static_cast<int64_t>(std::floor(o.max_fraction * static_cast<double>(managed_users))));
}

}  // namespace

int64_t Guard::LimitLocked(int64_t managed_users) const { return Limit(options_, managed_users); }

int64_t Guard::settle_ms() {
  std::lock_guard<std::mutex> lock(mu_);
  return options_.settle_ms;
}

void Guard::SetOptions(GuardOptions options) {
  std::lock_guard<std::mutex> lock(mu_);
  options_ = options;
}

namespace {

struct TripState {
  bool tripped = false;
  int64_t at_ms = 0;
};

TripState ReadTrip(const std::optional<std::string>& setting) {
  TripState t;
  if (!setting) return t;
  auto j = Json::parse(*setting, nullptr, false);
  if (j.is_object()) {
    t.tripped = j.value("tripped", false);
    t.at_ms = j.value("tripped_at_ms", int64_t{0});
  }
  return t;
}

}  // namespace

Result<Guard::Decision> Guard::Check(const std::string& entity, const std::string& kind,
                                     const Json& request, const Json& events) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = clock_.NowUnixMillis();
  Decision decision = Decision::kAllow;
  auto txn = store_.BeginState();
  if (!txn.ok()) return Status::Retryable(txn.status().message());
  StateTxn& t = **txn;
  auto approved = t.GuardApproved(entity, now - options_.window_seconds * 1000LL);
  if (!approved.ok()) return approved.status();
  if (*approved) {
    // The approval covers what the operator saw: a step of a kind that was held passes only with
    // the request that was held. Without this, a later unrelated burst touching the same entity
    // within the window (e.g. removing *other* leavers from an organization approved earlier)
    // went straight through while the guard was tripped, and a reject could not stop it.
    // Kinds never held (planned after the held step, e.g. revoke_sessions after the block)
    // still pass for the window.
    auto rows = t.ListGuardHeld(true);
    if (!rows.ok()) return rows.status();
    bool kind_held = false, same_request = false;
    for (auto& h : *rows) {
      if (h.entity != entity || h.kind != kind) continue;
      kind_held = true;
      same_request = same_request || h.request == request;
    }
    *approved = !kind_held || same_request;
  }
  if (*approved) {
    // Released by an operator: sent, and counted so the window reflects what really happened.
    if (auto st = t.AddGuardWindow(now, kind, now - options_.window_seconds * 1000LL); !st.ok())
      return st;
  } else {
    auto setting = t.GetSetting("guard");
    if (!setting.ok()) return setting.status();
    TripState trip = ReadTrip(*setting);
    auto in_window = t.CountGuardWindow(now - options_.window_seconds * 1000LL);
    auto managed = t.CountManagedUsers();
    if (!in_window.ok() || !managed.ok()) return Status::Retryable("guard: storage unavailable");
    const int64_t limit = LimitLocked(*managed);
    if (!trip.tripped && *in_window + 1 > limit) {
      trip.tripped = true;
      trip.at_ms = now;
      if (auto st = t.PutSetting("guard", Json({{"tripped", true}, {"tripped_at_ms", now}}).dump());
          !st.ok())
        return st;
      spdlog::error(
          "guard tripped: {} destructive change(s) in the last {} s would exceed the limit of {}; "
          "destructive work is held until `tenantsync guard approve` or `reject`",
          *in_window + 1, options_.window_seconds, limit);
    }
    if (trip.tripped) {
      StateTxn::GuardHeld held{entity, kind, request, events, now, false};
      if (auto st = t.HoldGuard(held); !st.ok()) return st;
      decision = Decision::kHold;
    } else if (auto st = t.AddGuardWindow(now, kind, now - options_.window_seconds * 1000LL);
               !st.ok()) {
      return st;
    }
  }
  if (auto st = t.Commit(); !st.ok()) return Status::Retryable(st.message());
  return decision;
}

Status Guard::Anticipate(int64_t destructive_events) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = clock_.NowUnixMillis();
  auto txn = store_.BeginState();
  if (!txn.ok()) return txn.status();
  StateTxn& t = **txn;
  auto setting = t.GetSetting("guard");
  auto in_window = t.CountGuardWindow(now - options_.window_seconds * 1000LL);
  auto managed = t.CountManagedUsers();
  if (!setting.ok() || !in_window.ok() || !managed.ok())
    return Status::Retryable("guard: storage unavailable");
  // Recent arrivals not yet sent (the writer holds them for settle_ms) belong to this burst.
  while (!arrivals_.empty() && arrivals_.front().first < now - options_.settle_ms)
    arrivals_.pop_front();
  int64_t recent = 0;
  for (auto& a : arrivals_) recent += a.second;
  arrivals_.emplace_back(now, destructive_events);
  destructive_events += recent;
  if (ReadTrip(*setting).tripped) return Status::Ok();
  const int64_t limit = LimitLocked(*managed);
  if (*in_window + destructive_events <= limit) return Status::Ok();
  if (auto st = t.PutSetting("guard", Json({{"tripped", true}, {"tripped_at_ms", now}}).dump());
      !st.ok())
    return st;
  if (auto st = t.Commit(); !st.ok()) return st;
  spdlog::error(
      "guard tripped: {} destructive event(s) arrived within {} ms ({} already in the last {} s, "
      "limit {}); "
      "destructive work is held until `tenantsync guard approve` or `reject`",
      destructive_events, options_.settle_ms, *in_window, options_.window_seconds, limit);
  return Status::Ok();
}

Result<std::vector<std::string>> Guard::Approve() {
  std::lock_guard<std::mutex> lock(mu_);
  auto txn = store_.BeginState();
  if (!txn.ok()) return txn.status();
  StateTxn& t = **txn;
  auto held = t.ListGuardHeld(false);
  if (!held.ok()) return held.status();
  std::vector<std::string> entities;
  arrivals_.clear();  // the operator judged this burst
  Status st = t.ApproveGuardHeld(clock_.NowUnixMillis());
  // The operator vouched for this burst: the window starts afresh so the released work and what
  // follows are not immediately held again.
  if (st.ok()) st = t.ClearGuardWindow();
  if (st.ok()) st = t.PutSetting("guard", Json({{"tripped", false}, {"tripped_at_ms", 0}}).dump());
  for (auto& h : *held) {
    if (st.ok()) st = t.MarkDirty(h.entity, 0, /*reset_attempts=*/true);
    entities.push_back(h.entity);
  }
  if (st.ok()) st = t.Commit();
  if (!st.ok()) return st;
  spdlog::warn("guard approved by an operator: {} held destructive change(s) released",
               entities.size());
  return entities;
}

Result<int64_t> Guard::Reject(const std::string& by) {
  std::lock_guard<std::mutex> lock(mu_);
  arrivals_.clear();
  const int64_t now = clock_.NowUnixMillis();
  // The events behind the held work, read before the write transaction (another connection).
  std::vector<std::pair<EventRecord, ParsedEvent>> rejected;
  {
    auto held = store_.BeginRead();
    if (!held.ok()) return held.status();
    auto rows = (*held)->ListGuardHeld(false);
    if (!rows.ok()) return rows.status();
    held->reset();
    std::set<std::string> seen;
    for (auto& h : *rows) {
      for (auto& e : h.events) {
        if (!e.is_string() || !seen.insert(e.get<std::string>()).second) continue;
        const std::string key = e.get<std::string>();
        const auto slash = key.find('/');
        if (slash == std::string::npos) continue;
        EventFilter f;
        f.source = key.substr(0, slash);
        f.event_id = key.substr(slash + 1);
        f.limit = 1;
        auto found = store_.ListEvents(f);
        if (!found.ok()) return found.status();
        if (found->empty()) continue;
        auto json = ParseJson(found->front().body);
        if (!json.ok()) continue;
        auto parsed = ParseEvent(*json);
        if (parsed.ok()) rejected.emplace_back(found->front(), std::move(parsed).value());
      }
    }
  }
  auto txn = store_.BeginState();
  if (!txn.ok()) return txn.status();
  StateTxn& t = **txn;
  auto held = t.ListGuardHeld(false);
  if (!held.ok()) return held.status();
  Status st = Status::Ok();
  // Undo the destructive intent of the rejected events, so a routine later event for the same
  // entity does not plan the rejected block or deletion again; only a newer destructive event
  // does (and it passes the guard again).
  const Json rejection = {{"by", by}, {"at_ms", now}};
  std::vector<std::string> dirty;
  for (auto& [record, parsed] : rejected) {
    st = RejectDestructiveIntent(t, record, parsed, rejection, &dirty);
    if (!st.ok()) break;
    st = t.NoteEvent(
        record.source, record.event_id,
        "destructive effect rejected at the guard by " + by + " at " + std::to_string(now) + " ms",
        now);
    if (!st.ok()) break;
  }
  for (auto& key : dirty) {
    if (st.ok()) st = t.MarkDirty(key);
  }
  for (auto& h : *held) {
    if (!st.ok()) break;
    MutationRow row;
    row.entity = h.entity;
    row.kind = h.kind;
    row.request = h.request;
    row.events = h.events;
    row.destructive = true;
    row.state = MutationState::kDiscarded;
    row.last_error =
        "rejected by an operator (" + by + ") at the destructive-change guard; not sent";
    row.created_at_ms = now;
    auto id = t.InsertMutation(row);
    if (!id.ok()) {
      st = id.status();
      break;
    }
  }
  if (st.ok()) st = t.DeleteGuardHeld(false);
  if (st.ok()) st = t.ClearGuardWindow();
  if (st.ok()) st = t.PutSetting("guard", Json({{"tripped", false}, {"tripped_at_ms", 0}}).dump());
  if (st.ok()) st = t.Commit();
  if (!st.ok()) return st;
  spdlog::warn("guard rejected by {}: {} held destructive change(s) discarded, {} event(s) undone",
               by, held->size(), rejected.size());
  return static_cast<int64_t>(held->size());
}

bool Guard::tripped() {
  auto s = store_.GetSetting("guard");
  return s.ok() && ReadTrip(*s).tripped;
}

Result<Json> Guard::StatusJson() {
  GuardOptions options;
  {
    // Not held while reading: Check() holds mu_ while it waits for the write lock.
    std::lock_guard<std::mutex> lock(mu_);
    options = options_;
  }
  const int64_t now = clock_.NowUnixMillis();
  // A read snapshot: status must answer while the writer holds a long transaction.
  auto txn = store_.BeginRead();
  if (!txn.ok()) return txn.status();
  StateTxn& t = **txn;
  auto setting = t.GetSetting("guard");
  auto held = t.ListGuardHeld(false);
  auto in_window = t.CountGuardWindow(now - options.window_seconds * 1000LL);
  auto managed = t.CountManagedUsers();
  if (!setting.ok() || !held.ok() || !in_window.ok() || !managed.ok())
    return Status::Retryable("guard: storage unavailable");
  TripState trip = ReadTrip(*setting);
  std::map<std::string, int64_t> by_kind;
  Json examples = Json::array();
  for (auto& h : *held) {
    ++by_kind[h.kind];
    if (examples.size() < 5)
      examples.push_back({{"entity", h.entity}, {"kind", h.kind}, {"events", h.events}});
  }
  const int64_t limit = Limit(options, *managed);
  return Json{{"tripped", trip.tripped},
              {"tripped_at_ms", trip.tripped ? Json(trip.at_ms) : Json(nullptr)},
              {"limit", limit},
              {"window_seconds", options.window_seconds},
              {"destructive_in_window", *in_window},
              {"held", {{"total", held->size()}, {"by_kind", by_kind}, {"examples", examples}}}};
}

}  // namespace tenantsync
