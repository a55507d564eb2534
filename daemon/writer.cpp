#include "daemon/writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "adapters/auth0/backoff.h"
#include "adapters/events/event.h"
#include "common/thread_name.h"
#include "daemon/desired_state.h"
#include "daemon/guard.h"
#include "daemon/quarantine.h"

namespace tenantsync {

using Json = nlohmann::json;

namespace {

bool Has(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

// Which desired fields an event type sets: a scheduled event is superseded only by a newer one
// of the same family (a later departure date moves the departure; it does not cancel a rename).
int Family(EventType t) {
  switch (t) {
    case EventType::kUserLeft:
    case EventType::kUserReturned:
      return 1;
    case EventType::kUserBlocked:
    case EventType::kUserUnblocked:
      return 2;
    case EventType::kUserDeleted:
    case EventType::kOrganizationDeleted:
      return 3;
    case EventType::kUserUpserted:
    case EventType::kOrganizationUpserted:
      return 4;
    case EventType::kUserPasswordResetRequested:
    case EventType::kUserVerificationEmailRequested:
      return 0;  // each asks for its own email: never superseded
  }
  return 0;
}

std::set<std::string> DataKeys(const Json& data) {
  std::set<std::string> keys;
  for (auto& [k, v] : data.items()) {
    if (k != "effective_at") keys.insert(k);
  }
  return keys;
}

// The newer scheduled event that supersedes `due` (same entity, same family, newer timestamp,
// due later, setting at least the fields `due` sets), if any.
const EventRecord* SupersededBy(const EventRecord& due, const ParsedEvent& parsed,
                                const std::vector<std::pair<EventRecord, ParsedEvent>>& scheduled) {
  if (Family(parsed.type) == 0) return nullptr;
  const auto keys = DataKeys(parsed.data);
  for (auto& [record, later] : scheduled) {
    if (Family(later.type) != Family(parsed.type) ||
        IsOrganizationEvent(later.type) != IsOrganizationEvent(parsed.type) ||
        later.external_id != parsed.external_id) {
      continue;
    }
    const bool newer = later.timestamp_ms > parsed.timestamp_ms ||
                       (later.timestamp_ms == parsed.timestamp_ms &&
                        record.source + "/" + record.event_id > due.source + "/" + due.event_id);
    if (!newer) continue;
    const auto later_keys = DataKeys(later.data);
    if (std::includes(later_keys.begin(), later_keys.end(), keys.begin(), keys.end()))
      return &record;
  }
  return nullptr;
}

}  // namespace

ExecutorPolicy MakeExecutorPolicy(const PolicyOptions& policy, const std::string& connection,
                                  const std::string& application_client_id, int member_batch_size) {
  ExecutorPolicy p;
  p.plan.block_on_leave = Has(policy.on_leave, "block");
  p.plan.remove_memberships_on_leave = Has(policy.on_leave, "remove_memberships");
  p.plan.revoke_sessions_on_leave = Has(policy.on_leave, "revoke_sessions");
  p.plan.delete_after_days = policy.delete_after_days;
  p.plan.connection = connection;
  p.plan.application_client_id = application_client_id;
  p.plan.member_batch_size = member_batch_size;
  p.adopt_existing = policy.adopt_existing;
  p.on_create.clear();
  for (auto& action : policy.on_create) {
    p.on_create.push_back(action == "send_password_reset" ? CommandKind::kPasswordReset
                                                          : CommandKind::kVerificationEmail);
  }
  return p;
}

Writer::Writer(SqliteStore& store, Auth0Api* api, Clock& clock, Random& random,
               WriterOptions options, WriterObserver observer)
    : store_(store),
      api_(api),
      clock_(clock),
      random_(random),
      options_(std::move(options)),
      observer_(std::move(observer)),
      executor_(
          store, *api, clock,
          ExecutorOptions{options_.max_attempts, options_.max_steps_per_turn,
                          [this] { return urgent_waiting_.load() > 0; }, options_.import_threshold},
          ExecutorObserver{observer_.on_mutation, observer_.on_import_planned}),
      last_loop_(clock.Monotonic()) {
  policy_ = options_.policy;
  auto paused = store_.GetSetting("paused");
  paused_ = paused.ok() && paused->has_value() && **paused == "true";
}

Writer::~Writer() { Stop(); }

void Writer::SetGuard(Guard* guard) {
  guard_ = guard;
  executor_.SetGuard(guard);
}

void Writer::SetPolicy(PolicyOptions policy) {
  std::lock_guard<std::mutex> lock(policy_mu_);
  policy_ = std::move(policy);
}

ExecutorPolicy Writer::Policy() const {
  std::lock_guard<std::mutex> lock(policy_mu_);
  return MakeExecutorPolicy(policy_, options_.connection, options_.application_client_id,
                            options_.member_batch_size);
}

void Writer::Start() {
  if (auto n = store_.RecoverInterrupted(clock_.NowUnixMillis()); n.ok() && *n > 0) {
    spdlog::warn(
        "writer: {} mutation(s) were in flight when the process stopped; re-planning them from "
        "Auth0",
        *n);
  }
  scheduler_ = std::thread([this] { SchedulerLoop(); });
  // Emails go through the Authentication API, outside the Management API's rate budget: their
  // own lane keeps them from queueing behind rate-limited work (and from idling its slots).
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers_.emplace_back([this] { WorkerLoop(false); });
    workers_.emplace_back([this] { WorkerLoop(true); });
  }
}

void Writer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !scheduler_.joinable()) return;
    stopping_ = true;
    queue_.clear();  // not started: stays dirty in SQLite and resumes after a restart
    command_queue_.clear();
    urgent_waiting_ = 0;
  }
  // Only a started writer has threads that may wait in Auth0 retries; one driven by RunOnce()
  // leaves the client to its owner.
  if (api_ && scheduler_.joinable()) api_->Shutdown();
  sched_cv_.notify_all();
  lane_cv_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  workers_.clear();
}

void Writer::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Already woken: the scheduler has not run since, and will see everything up to now.
    if (woken_) return;
    woken_ = true;
  }
  sched_cv_.notify_one();
}

Status Writer::SetPaused(bool paused) {
  auto st =
      InTxn([&](StateTxn& txn) { return txn.PutSetting("paused", paused ? "true" : "false"); });
  if (!st.ok()) return st;
  paused_ = paused;
  spdlog::info(
      "writer {}",
      paused ? "paused: events are stored but not applied, nothing is sent to Auth0" : "resumed");
  Wake();
  return Status::Ok();
}

int64_t Writer::ExtraStepsLeft() const {
  std::lock_guard<std::mutex> lock(steps_mu_);
  return extra_steps_total_;
}

Clock::MonoTime Writer::last_loop() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_loop_;
}

std::optional<std::string> Writer::Stalled() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!apply_failing_since_) return std::nullopt;
  const auto failing = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Monotonic() -
                                                                             *apply_failing_since_);
  if (failing.count() < options_.stall_after_ms) return std::nullopt;
  return "applying events has failed for " + std::to_string(failing.count() / 1000) +
         " s: " + apply_error_;
}

Status Writer::InTxn(const std::function<Status(StateTxn&)>& fn) {
  auto txn = store_.BeginState();
  if (!txn.ok()) return txn.status();
  if (auto st = fn(**txn); !st.ok()) return st;
  return (*txn)->Commit();
}

void Writer::SchedulerLoop() {
  SetCurrentThreadName("ts-writer-sched");
  auto apply = [&](bool* more) {
    Status st = ApplyDueEvents(more);
    std::lock_guard<std::mutex> lock(mu_);
    if (st.ok()) {
      apply_failing_since_.reset();
      return;
    }
    spdlog::warn("writer: applying events: {}", st.message());
    if (!apply_failing_since_) apply_failing_since_ = clock_.Monotonic();
    apply_error_ = st.message();
  };
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
      last_loop_ = clock_.Monotonic();
    }
    bool more = false;
    if (!paused_) {
      apply(&more);
      if (!more && guard_ != nullptr) {
        // A short pause after applying lets a burst of deliveries land in one batch, so the
        // guard judges the burst as a whole (see Anticipate).
        std::unique_lock<std::mutex> lock(mu_);
        sched_cv_.wait_for(lock, std::chrono::milliseconds(options_.batch_delay_ms),
                           [&] { return stopping_; });
        lock.unlock();
        if (!paused_) apply(&more);
      }
      if (paused_) continue;
      // Quarantined: no retries are spent; one entity is tried per probe interval.
      int budget = -1;
      if (quarantine_ != nullptr && quarantine_->active()) budget = quarantine_->ProbeDue() ? 1 : 0;
      bool handed = false;
      for (bool commands : {false, true}) {
        if (budget == 0) break;
        auto due = store_.DueDirty(clock_.NowUnixMillis(), 256, commands);
        if (!due.ok()) continue;
        std::lock_guard<std::mutex> lock(mu_);
        auto& lane = commands ? command_queue_ : queue_;
        for (auto& item : *due) {
          if (budget == 0) break;
          // Access removals go to the front of the lane and never wait for it to drain.
          const bool urgent = item.priority >= kAccessRemovalPriority;
          if (!urgent && lane.size() >= static_cast<size_t>(options_.workers) * 4) break;
          if (in_progress_.count(item.entity)) continue;
          if (budget > 0) --budget;
          in_progress_.insert(item.entity);
          handed = true;
          if (urgent) {
            ++urgent_waiting_;
            lane.push_front(item);
          } else {
            lane.push_back(item);
          }
        }
      }
      if (handed) lane_cv_.notify_all();
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (!more) {
      sched_cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_ || woken_; });
    }
    woken_ = false;
  }
  lane_cv_.notify_all();
}

void Writer::Process(const DirtyItem& item) {
  using Outcome = StepExecutor::Outcome;
  StepExecutor::RunResult result{Outcome::kRetry, std::nullopt};
  if (!paused_) {
    result = executor_.Run(item, options_.dry_run ? ExecMode::kDryRun : ExecMode::kSend, Policy());
  }
  {
    std::lock_guard<std::mutex> lock(steps_mu_);
    const int64_t extra =
        result.outcome == Outcome::kMore ? std::max<int64_t>(0, result.steps_left - 1) : 0;
    auto it = extra_steps_.find(item.entity);
    if (it != extra_steps_.end()) {
      extra_steps_total_ -= it->second;
      extra_steps_.erase(it);
    }
    if (extra > 0) {
      extra_steps_.emplace(item.entity, extra);
      extra_steps_total_ += extra;
    }
  }
  const int64_t now = clock_.NowUnixMillis();
  Status st = InTxn([&](StateTxn& txn) {
    switch (result.outcome) {
      case Outcome::kRetry:
        return txn.DeferDirty(
            item.entity, item.generation,
            now + std::max<int64_t>(1, FullJitterBackoff(item.attempts, options_.backoff_base,
                                                         options_.backoff_cap, random_)
                                           .count()));
      case Outcome::kMore:
        return txn.RequeueDirty(item.entity, item.generation, now);
      case Outcome::kDone:
      case Outcome::kDead:
        break;
    }
    // The pass re-planned the entity from what Auth0 holds: earlier failed attempts are moot.
    if (auto s = txn.SupersedeFailed(item.entity); !s.ok()) return s;
    if (result.revisit_at_ms) {
      // A user waiting for an import keeps that priority; a mark that waited and now has other
      // scheduled work is ordinary again.
      std::optional<int> priority;
      if (result.awaiting_import) {
        priority = kAwaitingImportPriority;
      } else if (item.priority == kAwaitingImportPriority) {
        priority = 0;
      }
      return txn.RequeueDirty(item.entity, item.generation, *result.revisit_at_ms, priority);
    }
    return txn.ClearDirty(item.entity, item.generation);
  });
  if (!st.ok()) spdlog::warn("writer: {}: {}", item.entity, st.message());
}

Result<int> Writer::RunOnce() {
  for (bool more = true; more;) {
    more = false;
    if (auto st = ApplyDueEvents(&more); !st.ok()) return st;
  }
  int ran = 0;
  for (bool commands : {false, true}) {
    auto due = store_.DueDirty(clock_.NowUnixMillis(), 100000, commands);
    if (!due.ok()) return due.status();
    for (auto& item : *due) {
      Process(item);
      ++ran;
      ++progress_;
    }
  }
  return ran;
}

void Writer::WorkerLoop(bool commands) {
  SetCurrentThreadName(commands ? "ts-writer-cmd" : "ts-writer");
  while (true) {
    DirtyItem item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto& lane = commands ? command_queue_ : queue_;
      lane_cv_.wait(lock, [&] { return stopping_ || !lane.empty(); });
      if (lane.empty()) return;
      item = lane.front();
      lane.pop_front();
      if (item.priority >= kAccessRemovalPriority) --urgent_waiting_;
    }
    Process(item);
    ++progress_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_progress_.erase(item.entity);
      woken_ = true;
    }
    sched_cv_.notify_one();
  }
}

Status Writer::ApplyDueEvents(bool* more) {
  const int64_t now = clock_.NowUnixMillis();
  auto events = store_.DueEvents(now, options_.apply_batch);
  if (!events.ok()) return events.status();
  if (events->empty()) return Status::Ok();
  *more = static_cast<int>(events->size()) == options_.apply_batch;
  // Scheduled events that may supersede ones coming due now (only read when one is scheduled).
  std::vector<std::pair<EventRecord, ParsedEvent>> scheduled;
  if (std::any_of(events->begin(), events->end(),
                  [](const EventRecord& e) { return e.effective_at_ms.has_value(); })) {
    auto later = store_.ScheduledEvents(now, 10000);
    if (!later.ok()) return later.status();
    for (auto& record : *later) {
      auto json = ParseJson(record.body);
      if (!json.ok()) continue;
      auto parsed = ParseEvent(std::move(*json));
      if (parsed.ok()) scheduled.emplace_back(record, std::move(parsed).value());
    }
  }
  // Each body is parsed once (or not at all when the ingress handed over its parse of these very
  // bytes), before the transaction: the write lock is not held for it and the
  // careful pass below does not parse again.
  std::vector<Result<ParsedEvent>> parsed_events;
  parsed_events.reserve(events->size());
  for (const auto& record : *events) {
    if (parsed_events_ != nullptr) {
      if (auto offered = parsed_events_->Take(record.source, record.event_id, record.body)) {
        parsed_events.emplace_back(std::move(offered).value());
        continue;
      }
    }
    auto json = ParseJson(record.body);
    parsed_events.push_back(json.ok() ? ParseEvent(std::move(*json))
                                      : Result<ParsedEvent>(json.status()));
  }
  std::vector<std::pair<const EventRecord*, EventState>> outcomes;
  int64_t destructive = 0;
  // An event that cannot be applied is undone alone and marked failed; it never abandons the
  // batch (which stalled every later event for good). Events almost never fail, so the batch is
  // first folded as one transaction without savepoints; only if an event fails is that
  // transaction rolled back and the batch folded again with a savepoint per event. (A savepoint
  // over the whole batch journals every page the batch changes — megabytes, spilled to a temp file
  // per batch — where rolling back the transaction costs nothing in WAL mode.)
  bool redo = false;
  auto fold = [&](StateTxn& txn, const bool careful) -> Status {
    outcomes.clear();
    destructive = 0;
    std::map<std::string, int> marks;  // entity key -> priority
    std::vector<int64_t> applied;      // seqs marked applied in one statement at the end
    for (size_t i = 0; i < events->size(); ++i) {
      const EventRecord& record = (*events)[i];
      const Result<ParsedEvent>& parsed = parsed_events[i];
      std::string error, note;
      std::vector<std::string> dirty;
      if (careful) {
        if (auto s = txn.Savepoint(); !s.ok()) return s;
      }
      if (!parsed.ok()) {
        error = parsed.status().message();
      } else if (const EventRecord* by =
                     record.effective_at_ms ? SupersededBy(record, *parsed, scheduled) : nullptr) {
        note = "superseded by " + by->source + "/" + by->event_id +
               ", scheduled later (effective_at " + std::to_string(*by->effective_at_ms) + " ms)";
      } else {
        Status s = ApplyEvent(txn, record, *parsed, now, &dirty);
        if (!s.ok()) {
          if (s.kind() == StatusKind::kRetryable) return s;  // storage: retry the batch
          if (!careful) {
            redo = true;
            return s;  // rolls the transaction back
          }
          error = s.message();
        }
      }
      if (careful) {
        if (!error.empty()) {
          if (auto s = txn.RollbackToSavepoint(); !s.ok()) return s;
          dirty.clear();
        } else if (auto s = txn.ReleaseSavepoint(); !s.ok()) {
          return s;
        }
      }
      const EventState state = error.empty() ? EventState::kApplied : EventState::kFailed;
      if (state == EventState::kApplied) {
        applied.push_back(record.seq);
      } else if (auto s = txn.SetEventState(record.seq, state, error, now); !s.ok()) {
        return s;
      }
      if (!note.empty()) {
        if (auto s = txn.NoteEvent(record.source, record.event_id, note, now); !s.ok()) return s;
      }
      const bool removal = state == EventState::kApplied && note.empty() && parsed.ok() &&
                           IsDestructiveEvent(parsed->type);
      if (removal) ++destructive;
      for (auto& key : dirty) {
        int& priority = marks[key];
        if (removal) priority = kAccessRemovalPriority;
      }
      outcomes.emplace_back(&record, state);
    }
    if (auto s = txn.SetEventsApplied(applied, now); !s.ok()) return s;
    // One statement per priority for the whole batch (issue 13: CPU per event).
    std::map<int, std::vector<std::string>> by_priority;
    for (auto& [key, priority] : marks) by_priority[priority].push_back(key);
    for (auto& [priority, keys] : by_priority) {
      if (auto s = txn.MarkDirtyMany(keys, priority); !s.ok()) return s;
    }
    return Status::Ok();
  };
  Status st = InTxn([&](StateTxn& txn) { return fold(txn, false); });
  if (redo) st = InTxn([&](StateTxn& txn) { return fold(txn, true); });
  if (!st.ok()) return st;
  if (guard_ != nullptr && !options_.dry_run && destructive > 0) {
    // Trip before sending anything when a burst of destructive events lands together: the
    // per-step check alone would let the first `limit` of them through before it trips.
    if (auto anticipated = guard_->Anticipate(destructive); !anticipated.ok())
      spdlog::warn("guard: {}", anticipated.message());
  }
  for (auto& [record, state] : outcomes) {
    if (state == EventState::kFailed) {
      spdlog::warn("event source={} id={} failed to apply", record->source, record->event_id);
    }
    if (observer_.on_event_applied) observer_.on_event_applied(*record, state);
  }
  return Status::Ok();
}

Result<std::vector<PlannedStep>> Writer::Plan(int limit) {
  std::vector<PlannedStep> steps;
  if (Status st = Plan(limit, [&](PlannedStep&& s) { steps.push_back(std::move(s)); }); !st.ok())
    return st;
  return steps;
}

Status Writer::Plan(int limit, const std::function<void(PlannedStep&&)>& visit) {
  auto dirty = store_.DueDirty(INT64_MAX, limit);
  if (!dirty.ok()) return dirty.status();
  const ExecutorPolicy policy = Policy();
  std::vector<PlannedStep> steps;
  for (auto& item : *dirty) {
    steps.clear();
    executor_.Run(item, ExecMode::kPlan, policy, &steps);
    for (auto& s : steps) visit(std::move(s));
  }
  return Status::Ok();
}

}  // namespace tenantsync
