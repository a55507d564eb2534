#include "daemon/writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "adapters/events/event.h"
#include "common/crypto.h"
#include "daemon/desired_state.h"
#include "daemon/guard.h"
#include "daemon/quarantine.h"

namespace tenantsync {

using Json = nlohmann::json;

struct Writer::Step {
  std::string entity;
  std::string kind;
  Json request = Json::object();
  Json events = Json::array();
  int64_t first_received_ms = 0;
  bool destructive = false;
  Json before = nullptr;  // for patches: the known values of the fields the request changes
};

namespace {

// Event types whose steps are destructive (block, delete, membership removal for a leaver).
bool IsDestructiveEventType(const std::string& t) {
  return t == "user.left" || t == "user.deleted" || t == "user.blocked" || t == "organization.deleted";
}

// Set while Writer::Plan() runs on this thread: Mutate collects steps instead of executing them.
thread_local std::vector<PlannedStep>* t_plan = nullptr;

// The enabled-connection flags tenantsync sets for one listed connection (Auth0's defaults when
// the event leaves them out: no automatic membership, shown as a button).
Json ConnectionFlags(const Json& c) {
  auto flag = [&](const char* k, bool fallback) { return c.contains(k) && c[k].is_boolean() ? c[k].get<bool>() : fallback; };
  return {{"assign_membership_on_login", flag("assign_membership_on_login", false)},
          {"show_as_button", flag("show_as_button", true)}};
}

// A create that stays idempotent across crashes: only a create that may already have reached
// Auth0 (an earlier attempt interrupted or failed) looks first; otherwise Auth0's 409 says the
// object exists and costs one request instead of two. `find_existing` sets the id and answers
// kNotFound when there is nothing to adopt; `create` answers the new object's id.
Status CreateOrAdopt(bool attempted, const std::function<Status()>& find_existing,
                     const std::function<Result<std::string>()>& create, std::string* id) {
  if (attempted) {
    Status found = find_existing();
    if (found.kind() != StatusKind::kNotFound) return found;
  }
  auto created = create();
  if (created.ok()) {
    *id = *created;
    return Status::Ok();
  }
  if (created.status().kind() != StatusKind::kConflict) return created.status();
  Status found = find_existing();
  return found.kind() == StatusKind::kNotFound ? created.status() : found;
}

Json BeforeOf(const Json& patch, const Json& known) {
  Json before = Json::object();
  for (auto& [k, v] : patch.items()) before[k] = known.contains(k) ? known[k] : Json(nullptr);
  return before;
}
}  // namespace

namespace {

bool Has(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

const Json& Get(const Json& obj, const char* key) {
  static const Json kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

bool Truthy(const Json& v) { return v.is_boolean() && v.get<bool>(); }

// A password nobody ever sees: the user sets their own through the emailed link.
std::string RandomPassword() { return "Ts1!" + crypto::Base64Encode(SecureRandom::Bytes(30)); }

// The profile fields tenantsync owns on a user; metadata and blocked are handled apart.
constexpr const char* kUserFields[] = {"email", "email_verified", "name", "given_name", "family_name", "nickname", "picture"};

// The first-level merge patch that turns `known` metadata into `desired` under Auth0's rules
// (a key with a value sets it, a key with null removes it, keys not mentioned stay).
Json MetadataPatch(const Json& desired, const Json& known) {
  Json patch = Json::object();
  if (desired.is_object()) {
    for (auto& [k, v] : desired.items()) {
      if (!known.is_object() || !known.contains(k) || known[k] != v) patch[k] = v;
    }
  }
  if (known.is_object()) {
    for (auto& [k, v] : known.items()) {
      if (!desired.is_object() || !desired.contains(k)) patch[k] = nullptr;
    }
  }
  return patch;
}

// Stores what the writer learned of Auth0 (known, auth0_id) onto the entity as it is now. The
// writer read the row before its Auth0 request; writing that whole copy back (PutEntity) undid
// desired-state fields the scheduler applied meanwhile (lost updates: out-of-order and
// concurrent events silently dropped). The writer owns known/auth0_id; desired is never its to write.
Status PutKnown(StateTxn& txn, const EntityRow& row, int64_t now_ms) {
  auto fresh = txn.GetEntity(row.kind, row.external_id);
  if (!fresh.ok()) return fresh.status();
  fresh->known = row.known;
  fresh->auth0_id = row.auth0_id;
  return txn.PutEntity(*fresh, now_ms);
}

// Whether the latest earlier `kind` mutation of `entity` never finished: interrupted by a crash
// (recovered as failed) or failed retryably. Such an attempt may have reached Auth0: for a
// create, an object found by the pre-create lookup is the one tenantsync created; for a patch,
// the known state must be re-read.
bool LatestWriteUnfinished(SqliteStore& store, const std::string& entity, const std::string& kind) {
  SqliteStore::MutationFilter f;
  f.entity = entity;
  f.limit = 200;
  auto rows = store.ListMutations(f);
  if (!rows.ok()) return false;
  for (auto& m : *rows) {  // newest first
    if (m.kind != kind) continue;
    return m.state == MutationState::kFailed || m.state == MutationState::kInFlight || m.state == MutationState::kPending;
  }
  return false;
}

}  // namespace

Writer::Writer(SqliteStore& store, Auth0Client* client, Clock& clock, Random& random, WriterOptions options,
               WriterObserver observer)
    : store_(store), client_(client), clock_(clock), random_(random), options_(std::move(options)),
      observer_(std::move(observer)), last_loop_(clock.Monotonic()) {
  policy_ = options_.policy;
  auto paused = store_.GetSetting("paused");
  paused_ = paused.ok() && paused->has_value() && **paused == "true";
}

Writer::~Writer() { Stop(); }

void Writer::SetPolicy(PolicyOptions policy) {
  std::lock_guard<std::mutex> lock(policy_mu_);
  policy_ = std::move(policy);
}

PolicyOptions Writer::Policy() const {
  std::lock_guard<std::mutex> lock(policy_mu_);
  return policy_;
}

void Writer::Start() {
  if (auto n = store_.RecoverInterrupted(clock_.NowUnixMillis()); n.ok() && *n > 0) {
    spdlog::warn("writer: {} mutation(s) were in flight when the process stopped; re-planning them from Auth0", *n);
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
  }
  if (client_) client_->Shutdown();
  cv_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  workers_.clear();
}

void Writer::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

Status Writer::SetPaused(bool paused) {
  auto st = InTxn([&](StateTxn& txn) { return txn.PutSetting("paused", paused ? "true" : "false"); });
  if (!st.ok()) return st;
  paused_ = paused;
  spdlog::info("writer {}", paused ? "paused: events are stored but not applied, nothing is sent to Auth0" : "resumed");
  Wake();
  return Status::Ok();
}

Clock::MonoTime Writer::last_loop() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_loop_;
}

Status Writer::InTxn(const std::function<Status(StateTxn&)>& fn) {
  auto txn = store_.BeginState();
  if (!txn.ok()) return txn.status();
  if (auto st = fn(**txn); !st.ok()) return st;
  return (*txn)->Commit();
}

std::chrono::milliseconds Writer::Backoff(int attempts) {
  // Capped exponential backoff with full jitter: spreads retries so a recovering Auth0 is not
  // hit by every entity at once.
  int64_t cap = options_.backoff_cap.count();
  int64_t exp = options_.backoff_base.count() << std::min(attempts, 20);
  int64_t ceiling = std::max<int64_t>(1, std::min(cap, exp));
  return std::chrono::milliseconds(static_cast<int64_t>(random_.Uniform(static_cast<uint64_t>(ceiling))) + 1);
}

void Writer::SchedulerLoop() {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
      last_loop_ = clock_.Monotonic();
    }
    bool more = false;
    if (!paused_) {
      if (auto st = ApplyDueEvents(&more); !st.ok()) spdlog::warn("writer: applying events: {}", st.message());
      if (!more && guard_ != nullptr) {
        // A short pause after applying lets a burst of deliveries land in one batch, so the
        // guard judges the burst as a whole (see Anticipate).
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, std::chrono::milliseconds(options_.batch_delay_ms), [&] { return stopping_; });
        lock.unlock();
        if (!paused_) {
          if (auto st = ApplyDueEvents(&more); !st.ok()) spdlog::warn("writer: applying events: {}", st.message());
        }
      }
      if (paused_) continue;
      // Quarantined: no retries are spent; one entity is tried per probe interval.
      int budget = -1;
      if (quarantine_ != nullptr && quarantine_->active()) budget = quarantine_->ProbeDue() ? 1 : 0;
      for (bool commands : {false, true}) {
        if (budget == 0) break;
        auto due = store_.DueDirty(clock_.NowUnixMillis(), 256, commands);
        if (!due.ok()) continue;
        std::lock_guard<std::mutex> lock(mu_);
        auto& lane = commands ? command_queue_ : queue_;
        for (auto& item : *due) {
          if (budget == 0) break;
          if (budget > 0) --budget;
          if (lane.size() >= static_cast<size_t>(options_.workers) * 4) break;
          if (in_progress_.count(item.entity)) continue;
          in_progress_.insert(item.entity);
          lane.push_back(item);
        }
      }
      cv_.notify_all();
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (!more) {
      cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_ || woken_; });
    }
    woken_ = false;
  }
  cv_.notify_all();
}

void Writer::WorkerLoop(bool commands) {
  while (true) {
    DirtyItem item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto& lane = commands ? command_queue_ : queue_;
      cv_.wait(lock, [&] { return stopping_ || !lane.empty(); });
      if (lane.empty()) return;
      item = lane.front();
      lane.pop_front();
    }
    Outcome outcome = Outcome::kRetry;
    if (!paused_) outcome = Process(item);
    const int64_t now = clock_.NowUnixMillis();
    Status st = InTxn([&](StateTxn& txn) {
      if (outcome == Outcome::kRetry) return txn.DeferDirty(item.entity, item.generation, now + Backoff(item.attempts).count());
      return txn.ClearDirty(item.entity, item.generation);
    });
    if (!st.ok()) spdlog::warn("writer: {}: {}", item.entity, st.message());
    ++progress_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_progress_.erase(item.entity);
      woken_ = true;
    }
    cv_.notify_all();
  }
}

Status Writer::ApplyDueEvents(bool* more) {
  const int64_t now = clock_.NowUnixMillis();
  auto events = store_.DueEvents(now, options_.apply_batch);
  if (!events.ok()) return events.status();
  if (events->empty()) return Status::Ok();
  *more = static_cast<int>(events->size()) == options_.apply_batch;
  std::vector<std::pair<const EventRecord*, EventState>> outcomes;
  // Destructive steps wait the guard's settle time so it sees a spread-out burst whole first.
  const int64_t settle_ms = guard_ != nullptr && !options_.dry_run ? guard_->settle_ms() : 0;
  const bool settle = settle_ms > 0;
  Status st = InTxn([&](StateTxn& txn) {
    outcomes.clear();
    std::vector<std::string> dirty;
    std::set<std::string> settling;
    for (const auto& record : *events) {
      std::string error;
      auto json = ParseJson(record.body);
      Result<ParsedEvent> parsed = json.ok() ? ParseEvent(*json) : Result<ParsedEvent>(json.status());
      if (parsed.ok()) {
        const size_t first = dirty.size();
        Status applied = ApplyEvent(txn, record, *parsed, now, &dirty);
        if (!applied.ok() && applied.kind() != StatusKind::kInvalid) return applied;
        if (applied.ok() && settle && record.type && IsDestructiveEventType(*record.type)) {
          settling.insert(dirty.begin() + static_cast<std::ptrdiff_t>(first), dirty.end());
        }
        error = applied.message();
      } else {
        error = parsed.status().message();
      }
      EventState state = error.empty() ? EventState::kApplied : EventState::kFailed;
      if (auto s = txn.SetEventState(record.seq, state, error, now); !s.ok()) return s;
      outcomes.emplace_back(&record, state);
    }
    std::sort(dirty.begin(), dirty.end());
    dirty.erase(std::unique(dirty.begin(), dirty.end()), dirty.end());
    for (auto& key : dirty) {
      const int64_t not_before = settling.count(key) ? now + settle_ms : 0;
      if (auto s = txn.MarkDirty(key, not_before); !s.ok()) return s;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (guard_ != nullptr && !options_.dry_run) {
    // Trip before sending anything when a burst of destructive events lands together: the
    // per-step check alone would let the first `limit` of them through before it trips.
    int64_t destructive = 0;
    for (auto& [record, state] : outcomes) {
      if (state == EventState::kApplied && record->type && IsDestructiveEventType(*record->type)) ++destructive;
    }
    if (destructive > 0) {
      if (auto anticipated = guard_->Anticipate(destructive); !anticipated.ok()) spdlog::warn("guard: {}", anticipated.message());
    }
  }
  for (auto& [record, state] : outcomes) {
    if (state == EventState::kFailed) {
      spdlog::warn("event source={} id={} failed to apply", record->source, record->event_id);
    }
    if (observer_.on_event_applied) observer_.on_event_applied(*record, state);
  }
  return Status::Ok();
}

Writer::Outcome Writer::Combine(Outcome a, const Status& st) const {
  Outcome b = Outcome::kDone;
  if (!st.ok()) {
    b = (st.kind() == StatusKind::kRetryable || st.kind() == StatusKind::kRateLimited) ? Outcome::kRetry : Outcome::kDead;
  }
  // Retry wins (the entity comes back); a dead step does not stop the rest of the entity.
  if (a == Outcome::kRetry || b == Outcome::kRetry) return Outcome::kRetry;
  if (a == Outcome::kWait) return a;
  if (a == Outcome::kDead || b == Outcome::kDead) return Outcome::kDead;
  return Outcome::kDone;
}

Status Writer::Mutate(const DirtyItem& item, const Step& step, const std::function<Status()>& call,
                      const std::function<Status(StateTxn&)>& on_success) {
  if (t_plan != nullptr) {
    // Planning: report the step as if it succeeded; nothing is recorded, checked or sent.
    t_plan->push_back(PlannedStep{step.entity, step.kind, step.request, step.before, step.events, step.destructive});
    return Status::Ok();
  }
  // The same request already dead-lettered (and not retried by an operator since): a re-plan of
  // the entity, e.g. marked again by an unrelated change, would send it again and add another
  // dead row per pass. It stays one entry until the operator retries it or desired state changes
  // the request.
  {
    SqliteStore::MutationFilter f;
    f.entity = step.entity;
    f.limit = 50;
    auto rows = store_.ListMutations(f);
    if (rows.ok()) {
      for (auto& m : *rows) {  // newest first
        if (m.kind != step.kind || m.request != step.request) continue;
        if (m.state == MutationState::kDead) {
          return Status::Permanent("already dead-lettered as mutation " + std::to_string(m.id) + ": " + m.last_error);
        }
        break;
      }
    }
  }
  if (step.destructive && guard_ != nullptr && !options_.dry_run) {
    // Asked before anything is recorded or sent: a held step leaves no mutation row, only the
    // guard's held entry, and is planned again when an operator approves.
    auto decision = guard_->Check(step.entity, step.kind, step.request, step.events);
    if (!decision.ok()) return Status::Retryable("guard: " + decision.status().message());
    if (*decision == Guard::Decision::kHold) {
      spdlog::warn("mutation entity={} kind={} held by the destructive-change guard", step.entity, step.kind);
      return Status::Conflict("held by the destructive-change guard");
    }
  }
  const int64_t start = clock_.NowUnixMillis();
  MutationRow row;
  row.entity = step.entity;
  row.kind = step.kind;
  row.request = step.request;
  row.events = step.events;
  row.destructive = step.destructive;
  row.state = options_.dry_run ? MutationState::kPending : MutationState::kInFlight;
  row.attempts = item.attempts + 1;
  row.created_at_ms = start;
  if (step.first_received_ms > 0) row.first_received_at_ms = step.first_received_ms;
  if (options_.dry_run) row.last_error = "dry run: planned, not sent";
  int64_t id = 0;
  Status recorded = InTxn([&](StateTxn& txn) {
    auto r = txn.InsertMutation(row);
    if (!r.ok()) return r.status();
    id = *r;
    return Status::Ok();
  });
  if (!recorded.ok()) return Status::Retryable("recording mutation: " + recorded.message());
  row.id = id;
  if (options_.dry_run) return Status::Permanent("dry run");

  Status result = call();
  const int64_t end = clock_.NowUnixMillis();
  MutationState state = MutationState::kDone;
  std::string error;
  if (!result.ok()) {
    error = result.ToString();
    bool retryable = result.kind() == StatusKind::kRetryable || result.kind() == StatusKind::kRateLimited;
    if (retryable && row.attempts >= options_.max_attempts) {
      error = "gave up after " + std::to_string(row.attempts) + " attempts: " + error;
      result = Status::Permanent(error);
      retryable = false;
    }
    state = retryable ? MutationState::kFailed : MutationState::kDead;
  }
  Status saved = InTxn([&](StateTxn& txn) {
    if (auto s = txn.UpdateMutation(id, state, error, row.attempts, end); !s.ok()) return s;
    if (state == MutationState::kDone && on_success) return on_success(txn);
    return Status::Ok();
  });
  if (!saved.ok()) {
    // The write happened but its outcome is not recorded: re-plan from Auth0 later.
    spdlog::error("mutation id={} entity={} kind={}: outcome not recorded: {}", id, step.entity, step.kind, saved.message());
    return Status::Retryable(saved.message());
  }
  if (state == MutationState::kDone) last_success_ms_ = end;
  double lag = step.first_received_ms > 0 ? static_cast<double>(end - step.first_received_ms) / 1000.0 : 0.0;
  if (state == MutationState::kDead) {
    spdlog::error("mutation id={} entity={} kind={} result=dead error={}", id, step.entity, step.kind, error);
  } else if (state == MutationState::kFailed) {
    spdlog::warn("mutation id={} entity={} kind={} result=failed attempt={} error={}", id, step.entity, step.kind,
                 row.attempts, error);
  } else {
    spdlog::info("mutation id={} entity={} kind={} result=done ms={}", id, step.entity, step.kind, end - start);
  }
  if (observer_.on_mutation) observer_.on_mutation(row, state, lag);
  return result;
}

Result<std::vector<PlannedStep>> Writer::Plan(int limit) {
  auto dirty = store_.DueDirty(INT64_MAX, limit);
  if (!dirty.ok()) return dirty.status();
  std::vector<PlannedStep> steps;
  t_plan = &steps;
  for (auto& item : *dirty) Process(item);
  t_plan = nullptr;
  return steps;
}

Writer::Outcome Writer::Process(const DirtyItem& item) {
  const std::string& e = item.entity;
  auto after = [&](const char* prefix) { return e.substr(std::string(prefix).size()); };
  if (e.rfind("org:", 0) == 0) return ReconcileOrg(item, after("org:"));
  if (e.rfind("user:", 0) == 0) return ReconcileUser(item, after("user:"));
  if (e.rfind("members:", 0) == 0) return ReconcileMembers(item, after("members:"));
  if (e.rfind("connection:", 0) == 0) return ReconcileConnection(item, after("connection:"));
  if (e.rfind("command:", 0) == 0) return RunCommand(item, std::stoll(after("command:")));
  if (e == kCallbacksKey) return ReconcileCallbacks(item);
  spdlog::error("writer: unknown entity key {}", e);
  return Outcome::kDead;
}

// ---- Organizations ----------------------------------------------------------------------------

Writer::Outcome Writer::ReconcileOrg(const DirtyItem& item, const std::string& ext) {
  auto read = store_.ReadEntity("org", ext);
  if (!read.ok()) return Outcome::kRetry;
  EntityRow org = std::move(read).value();
  if (!org.exists) return Outcome::kDone;
  const Json view = View(org.desired);
  Json known = org.known;
  const std::string key = OrgKey(ext);
  Outcome outcome = Outcome::kDone;

  if (Truthy(Get(view, "deleted"))) {
    if (!org.auth0_id || Truthy(Get(known, "deleted"))) return Outcome::kDone;
    Step step{key, "delete_organization", {{"organization_id", *org.auth0_id}}, EventsBehind(org.desired, {"deleted"}, nullptr)};
    EventsBehind(org.desired, {"deleted"}, &step.first_received_ms);
    step.destructive = true;
    Status st = Mutate(item, step, [&] {
      Status s = client_->DeleteOrganization(*org.auth0_id);
      return s.kind() == StatusKind::kNotFound ? Status::Ok() : s;  // already gone: the goal holds
    }, [&](StateTxn& txn) {
      org.known = {{"deleted", true}};
      // Forget the Auth0 id and the memberships Auth0 dropped with the organization: a later
      // upsert revives the organization (SPEC §5) by creating a new one, instead of patching
      // the deleted id (404, dead) and believing its members still exist.
      org.auth0_id.reset();
      auto members = txn.KnownMembers(ext);
      if (!members.ok()) return members.status();
      for (auto& m : *members) {
        if (auto s = txn.SetKnownMember(ext, m.user_external_id, std::nullopt); !s.ok()) return s;
      }
      if (auto s = PutKnown(txn, org, clock_.NowUnixMillis()); !s.ok()) return s;
      return txn.MarkDirty(kCallbacksKey);
    });
    return Combine(outcome, st);
  }

  // Fields sent on create and compared afterwards; metadata is sent whole (Auth0 replaces it).
  Json fields = Json::object();
  for (auto f : {"name", "display_name", "branding"}) {
    if (view.contains(f) && !view[f].is_null()) fields[f] = view[f];
  }
  fields["metadata"] = view.contains("metadata") ? view["metadata"] : Json::object();

  if (!org.auth0_id) {
    if (!fields.contains("name") || !fields["name"].is_string()) {
      // A partial update arrived before the event that names it: wait for that one.
      spdlog::info("entity={} waits for an event with its name before it is created", key);
      return Outcome::kDone;
    }
    Step step{key, "create_organization", fields, EventsBehind(org.desired, {}, nullptr)};
    EventsBehind(org.desired, {}, &step.first_received_ms);
    std::string id, how = "created";
    // create_attempted is only recorded when an attempt fails; a crash mid-create leaves just
    // the interrupted mutation row, which must count as an attempt too.
    const bool attempted = Truthy(Get(known, "create_attempted")) || LatestWriteUnfinished(store_, key, "create_organization");
    // Listed connections go in the create body (Auth0 accepts enabled_connections there): one
    // request instead of one more per connection. A name that does not resolve is left to the
    // connection step below, which dead-letters it with a message naming it.
    Json create_connections = Json::array(), created_connections = Json::object();
    if (view.contains("connections") && view["connections"].is_array()) {
      for (auto& c : view["connections"]) {
        const std::string name = c["name"].get<std::string>();
        auto cid = client_->FindConnectionId(name);
        if (!cid.ok()) continue;
        Json flags = ConnectionFlags(c);
        Json entry = flags;
        entry["connection_id"] = *cid;
        create_connections.push_back(entry);
        created_connections[name] = flags;
      }
    }
    if (!create_connections.empty()) step.request["enabled_connections"] = create_connections;
    bool sent_connections = false;
    // Finds an organization of that name: ours after an earlier attempt, else adopted per policy.
    // kNotFound when there is none.
    auto find_existing = [&]() -> Status {
      auto existing = client_->GetOrganizationByName(fields["name"].get<std::string>());
      if (!existing.ok()) return existing.status();
      id = (*existing)["id"].get<std::string>();
      if (attempted) return Status::Ok();  // ours: still "created"
      if (!Policy().adopt_existing) {
        return Status::Permanent("organization \"" + fields["name"].get<std::string>() +
                                 "\" already exists in Auth0 and adopt_existing is false");
      }
      how = "adopted";
      return Status::Ok();
    };
    Status st = Mutate(item, step, [&]() -> Status {
      return CreateOrAdopt(attempted, find_existing, [&]() -> Result<std::string> {
        Json body = fields;
        if (body["metadata"].empty()) body.erase("metadata");
        if (!create_connections.empty()) body["enabled_connections"] = create_connections;
        auto created = client_->CreateOrganization(body);
        if (!created.ok()) return created.status();
        sent_connections = !create_connections.empty();
        return (*created)["id"].get<std::string>();
      }, &id);
    }, [&](StateTxn& txn) {
      org.auth0_id = id;
      org.known = fields;
      if (sent_connections) {
        org.known["connections"] = created_connections;
        for (auto& [name, flags] : created_connections.items()) {
          if (auto s = txn.MarkDirty(ConnectionKey(name)); !s.ok()) return s;
        }
      }
      if (auto s = PutKnown(txn, org, clock_.NowUnixMillis()); !s.ok()) return s;
      if (auto s = txn.AddRegistry("org", id, ext, how, clock_.NowUnixMillis()); !s.ok()) return s;
      if (auto s = txn.MarkDirty(MembersKey(ext)); !s.ok()) return s;
      return txn.MarkDirty(kCallbacksKey);
    });
    if (!st.ok()) {
      // Remember the attempt: a retry after a crash then adopts what the attempt created.
      InTxn([&](StateTxn& txn) {
        auto fresh = txn.GetEntity("org", ext);
        if (!fresh.ok()) return fresh.status();
        fresh->known["create_attempted"] = true;
        return txn.PutEntity(*fresh, clock_.NowUnixMillis());
      });
      return Combine(outcome, st);
    }
    known = fields;
    if (sent_connections) known["connections"] = created_connections;
  } else {
    // As for users: after a patch with an unknown outcome, re-read before planning.
    if (LatestWriteUnfinished(store_, key, "patch_organization")) {
      auto fresh = client_->GetOrganization(*org.auth0_id);
      if (!fresh.ok()) return fresh.status().kind() == StatusKind::kNotFound ? Outcome::kDead : Outcome::kRetry;
      for (auto f : {"name", "display_name", "branding"}) {
        if (fresh->contains(f)) known[f] = (*fresh)[f];
        else known.erase(f);
      }
      known["metadata"] = fresh->contains("metadata") ? (*fresh)["metadata"] : Json::object();
    }
    Json patch = Json::object();
    for (auto& [k, v] : fields.items()) {
      if (!known.contains(k) || known[k] != v) patch[k] = v;
    }
    if (!patch.empty()) {
      std::vector<std::string> changed;
      for (auto& [k, v] : patch.items()) changed.push_back(k);
      Step step{key, "patch_organization", patch, EventsBehind(org.desired, changed, nullptr)};
      EventsBehind(org.desired, changed, &step.first_received_ms);
      step.before = BeforeOf(patch, known);
      Status st = Mutate(item, step, [&] { return client_->PatchOrganization(*org.auth0_id, patch).status(); },
                         [&](StateTxn& txn) {
                           for (auto& [k, v] : patch.items()) known[k] = v;
                           org.known = known;
                           return PutKnown(txn, org, clock_.NowUnixMillis());
                         });
      outcome = Combine(outcome, st);
      if (!st.ok()) return outcome;
    }
  }

  // Enabled connections: listed ones enabled with their flags; ones tenantsync enabled earlier
  // and no longer listed are disabled.
  std::map<std::string, Json> want, have;
  if (view.contains("connections") && view["connections"].is_array()) {
    for (auto& c : view["connections"]) want[c["name"].get<std::string>()] = c;
  }
  if (known.contains("connections") && known["connections"].is_object()) {
    for (auto& [name, c] : known["connections"].items()) have[name] = c;
  }
  for (auto& [name, c] : want) {
    Json state = ConnectionFlags(c);
    bool assign = state["assign_membership_on_login"].get<bool>(), button = state["show_as_button"].get<bool>();
    auto it = have.find(name);
    if (it != have.end() && it->second == state) continue;
    bool exists = it != have.end();
    Step step{key, exists ? "patch_organization_connection" : "enable_organization_connection",
              {{"connection", name}, {"assign_membership_on_login", assign}, {"show_as_button", button}},
              EventsBehind(org.desired, {"connections"}, nullptr)};
    EventsBehind(org.desired, {"connections"}, &step.first_received_ms);
    Status st = Mutate(item, step, [&]() -> Status {
      auto conn = client_->FindConnectionId(name);
      if (!conn.ok()) {
        return conn.status().kind() == StatusKind::kNotFound
                   ? Status::Permanent("connection \"" + name + "\" does not exist in Auth0 (tenantsync never creates connections)")
                   : conn.status();
      }
      if (exists) return client_->PatchOrganizationConnection(*org.auth0_id, *conn, assign, button).status();
      auto added = client_->AddOrganizationConnection(*org.auth0_id, *conn, assign, button);
      if (added.ok() || added.status().kind() != StatusKind::kConflict) return added.status();
      return client_->PatchOrganizationConnection(*org.auth0_id, *conn, assign, button).status();
    }, [&](StateTxn& txn) {
      if (!known.contains("connections") || !known["connections"].is_object()) known["connections"] = Json::object();
      known["connections"][name] = state;
      org.known = known;
      if (auto s = PutKnown(txn, org, clock_.NowUnixMillis()); !s.ok()) return s;
      return txn.MarkDirty(ConnectionKey(name));
    });
    outcome = Combine(outcome, st);
  }
  for (auto& [name, c] : have) {
    if (want.count(name)) continue;
    Step step{key, "disable_organization_connection", {{"connection", name}}, EventsBehind(org.desired, {"connections"}, nullptr)};
    Status st = Mutate(item, step, [&]() -> Status {
      auto conn = client_->FindConnectionId(name);
      if (!conn.ok()) return conn.status().kind() == StatusKind::kNotFound ? Status::Ok() : conn.status();
      Status s = client_->RemoveOrganizationConnection(*org.auth0_id, *conn);
      return s.kind() == StatusKind::kNotFound ? Status::Ok() : s;
    }, [&](StateTxn& txn) {
      known["connections"].erase(name);
      org.known = known;
      return PutKnown(txn, org, clock_.NowUnixMillis());
    });
    outcome = Combine(outcome, st);
  }
  return outcome;
}

// ---- Users ------------------------------------------------------------------------------------

Writer::Outcome Writer::ReconcileUser(const DirtyItem& item, const std::string& ext) {
  auto read = store_.ReadEntity("user", ext);
  if (!read.ok()) return Outcome::kRetry;
  EntityRow user = std::move(read).value();
  if (!user.exists) return Outcome::kDone;
  const Json view = View(user.desired);
  Json known = user.known;
  const std::string key = UserKey(ext);
  const auto on_leave = Policy().on_leave;
  Outcome outcome = Outcome::kDone;

  if (Truthy(Get(view, "deleted"))) {
    if (!user.auth0_id || Truthy(Get(known, "deleted"))) return Outcome::kDone;
    Step step{key, "delete_user", {{"user_id", *user.auth0_id}}, EventsBehind(user.desired, {"deleted"}, nullptr)};
    EventsBehind(user.desired, {"deleted"}, &step.first_received_ms);
    step.destructive = true;
    Status st = Mutate(item, step, [&] { return client_->DeleteUser(*user.auth0_id); }, [&](StateTxn& txn) {
      user.known = {{"deleted", true}};
      // A later upsert revives the user (SPEC §5): with the deleted id kept it would PATCH a user
      // that no longer exists (404, dead); without it the create path looks up by e-mail, creates.
      user.auth0_id.reset();
      if (auto s = PutKnown(txn, user, clock_.NowUnixMillis()); !s.ok()) return s;
      return txn.ForgetKnownMemberships(ext);
    });
    return Combine(outcome, st);
  }

  const bool left = Truthy(Get(view, "left"));
  const bool blocked = Truthy(Get(view, "blocked")) || (left && Has(on_leave, "block"));
  Json fields = Json::object();
  for (auto f : kUserFields) {
    if (view.contains(f)) fields[f] = view[f];
  }
  Json app_md = view.contains("app_metadata") ? view["app_metadata"] : Json::object();
  Json user_md = view.contains("user_metadata") ? view["user_metadata"] : Json::object();

  if (!user.auth0_id) {
    if (!fields.contains("email") || !fields["email"].is_string()) {
      // A partial update arrived before the event that brings the email: wait for that one.
      spdlog::info("entity={} waits for an event with its email before it is created", key);
      return Outcome::kDone;
    }
    const std::string email = fields["email"].get<std::string>();
    Json request = fields;
    for (auto it = request.begin(); it != request.end();) {
      it = it.value().is_null() ? request.erase(it) : std::next(it);
    }
    request["connection"] = options_.connection;
    // Invite flow: no signup verification email from the create itself; the on_create policy
    // decides which emails the user gets (a change-password link by default).
    request["verify_email"] = false;
    if (!app_md.empty()) request["app_metadata"] = app_md;
    if (!user_md.empty()) request["user_metadata"] = user_md;
    if (blocked) request["blocked"] = true;
    Step step{key, "create_user", request, EventsBehind(user.desired, {}, nullptr)};
    EventsBehind(user.desired, {}, &step.first_received_ms);
    std::string id, how = "created";
    // A user found after our own interrupted (crash) or failed create is ours: "created", so the
    // on_create policy (the change-password link) still runs; before, it was "adopted" and the
    // new user never got a way to set a password.
    const bool attempted = Truthy(Get(known, "create_attempted")) || LatestWriteUnfinished(store_, key, "create_user");
    // Finds the user with that email in our connection (immediately consistent): ours after an
    // earlier attempt, else adopted per policy. kNotFound when there is none.
    auto find_existing = [&]() -> Status {
      auto existing = client_->GetUsersByEmail(email);
      if (!existing.ok()) return existing.status();
      for (auto& u : *existing) {
        bool in_connection = false;
        for (auto& ident : Get(u, "identities")) in_connection = in_connection || Get(ident, "connection") == options_.connection;
        if (!in_connection) continue;
        id = u["user_id"].get<std::string>();
        if (attempted) return Status::Ok();  // ours: still "created"
        if (!Policy().adopt_existing) {
          return Status::Permanent("a user with email " + email + " already exists in " + options_.connection +
                                   " and adopt_existing is false");
        }
        how = "adopted";
        return Status::Ok();
      }
      return Status::NotFound("no user with email " + email + " in " + options_.connection);
    };
    Status st = Mutate(item, step, [&]() -> Status {
      return CreateOrAdopt(attempted, find_existing, [&]() -> Result<std::string> {
        Json body = request;
        body["password"] = RandomPassword();
        auto created = client_->CreateUser(body);
        if (!created.ok()) return created.status();
        return (*created)["user_id"].get<std::string>();
      }, &id);
    }, [&](StateTxn& txn) {
      user.auth0_id = id;
      Json k = fields;
      k["app_metadata"] = app_md;
      k["user_metadata"] = user_md;
      k["blocked"] = blocked;
      user.known = k;
      const int64_t now = clock_.NowUnixMillis();
      if (auto s = PutKnown(txn, user, now); !s.ok()) return s;
      if (auto s = txn.AddRegistry("user", id, ext, how, now); !s.ok()) return s;
      auto orgs = txn.UserMemberships(ext);
      if (!orgs.ok()) return orgs.status();
      for (auto& m : *orgs) {
        if (auto s = txn.MarkDirty(MembersKey(m.org_external_id)); !s.ok()) return s;
      }
      if (how == "created") {
        for (auto& action : Policy().on_create) {
          CommandRow cmd;
          cmd.kind = action == "send_password_reset" ? "password_reset" : "verification_email";
          cmd.user_external_id = ext;
          cmd.event = "on_create/" + id;
          cmd.created_at_ms = now;
          auto cid = txn.InsertCommand(cmd);
          if (!cid.ok()) return cid.status();
          if (*cid) {
            if (auto s = txn.MarkDirty(CommandKey(**cid)); !s.ok()) return s;
          }
        }
      }
      return Status::Ok();
    });
    if (!st.ok()) {
      InTxn([&](StateTxn& txn) {
        auto fresh = txn.GetEntity("user", ext);
        if (!fresh.ok()) return fresh.status();
        fresh->known["create_attempted"] = true;
        return txn.PutEntity(*fresh, clock_.NowUnixMillis());
      });
      return Combine(outcome, st);
    }
    // Commands waiting for this user to exist can run now.
    auto cmds = store_.ListCommands(ext, 100);
    if (cmds.ok() && t_plan == nullptr) {
      InTxn([&](StateTxn& txn) {
        for (auto& c : *cmds) {
          if (c.state == "pending") {
            if (auto s = txn.MarkDirty(CommandKey(c.id)); !s.ok()) return s;
          }
        }
        return Status::Ok();
      });
    }
    return outcome;
  }

  // A patch whose outcome is unknown (interrupted by a crash or failed retryably) may or may not
  // have reached Auth0, so `known` cannot be trusted: re-read the user (immediately consistent)
  // first. Without this, a block that landed but was not recorded stayed in Auth0 after the
  // user returned (known still said unblocked, so no patch was planned).
  if (LatestWriteUnfinished(store_, key, "patch_user")) {
    auto fresh = client_->GetUser(*user.auth0_id);
    if (!fresh.ok()) return fresh.status().kind() == StatusKind::kNotFound ? Outcome::kDead : Outcome::kRetry;
    for (auto f : kUserFields) {
      if (fresh->contains(f)) known[f] = (*fresh)[f];
      else known.erase(f);
    }
    known["app_metadata"] = fresh->contains("app_metadata") ? (*fresh)["app_metadata"] : Json::object();
    known["user_metadata"] = fresh->contains("user_metadata") ? (*fresh)["user_metadata"] : Json::object();
    known["blocked"] = Truthy(Get(*fresh, "blocked"));
  }

  // Existing user: the smallest patch that yields the desired profile under Auth0's merge rules.
  Json patch = Json::object();
  std::vector<std::string> changed;
  for (auto& [k, v] : fields.items()) {
    if (!known.contains(k) || known[k] != v) {
      patch[k] = v;
      changed.push_back(k);
    }
  }
  Json app_patch = MetadataPatch(app_md, Get(known, "app_metadata"));
  Json user_patch = MetadataPatch(user_md, Get(known, "user_metadata"));
  if (!app_patch.empty()) {
    patch["app_metadata"] = app_patch;
    changed.push_back("app_metadata");
  }
  if (!user_patch.empty()) {
    patch["user_metadata"] = user_patch;
    changed.push_back("user_metadata");
  }
  const bool block_changes = Get(known, "blocked") != Json(blocked);
  if (block_changes) {
    patch["blocked"] = blocked;
    changed.push_back("blocked");
    changed.push_back("left");
  }
  if (!patch.empty()) {
    Step step{key, "patch_user", patch, EventsBehind(user.desired, changed, nullptr)};
    EventsBehind(user.desired, changed, &step.first_received_ms);
    step.before = BeforeOf(patch, known);
    step.destructive = block_changes && blocked;
    Status st = Mutate(item, step, [&] { return client_->PatchUser(*user.auth0_id, patch).status(); }, [&](StateTxn& txn) {
      for (auto& [k, v] : fields.items()) known[k] = v;
      known["app_metadata"] = app_md;
      known["user_metadata"] = user_md;
      known["blocked"] = blocked;
      user.known = known;
      return PutKnown(txn, user, clock_.NowUnixMillis());
    });
    outcome = Combine(outcome, st);
    if (!st.ok()) return outcome;
  }

  // Leaving revokes sessions and refresh tokens once per departure.
  const bool revoked = Truthy(Get(known, "sessions_revoked"));
  if (left && !revoked && Has(on_leave, "revoke_sessions")) {
    Step step{key, "revoke_sessions", {{"user_id", *user.auth0_id}}, EventsBehind(user.desired, {"left"}, nullptr)};
    EventsBehind(user.desired, {"left"}, &step.first_received_ms);
    step.destructive = true;
    Status st = Mutate(item, step, [&]() -> Status {
      if (auto s = client_->RevokeSessions(*user.auth0_id); !s.ok()) return s;
      return client_->RevokeRefreshTokens(*user.auth0_id);
    }, [&](StateTxn& txn) {
      known["sessions_revoked"] = true;
      user.known = known;
      return PutKnown(txn, user, clock_.NowUnixMillis());
    });
    outcome = Combine(outcome, st);
  } else if (!left && revoked) {
    InTxn([&](StateTxn& txn) {
      known["sessions_revoked"] = false;
      user.known = known;
      return PutKnown(txn, user, clock_.NowUnixMillis());
    });
  }
  return outcome;
}

// ---- Memberships ------------------------------------------------------------------------------

Writer::Outcome Writer::ReconcileMembers(const DirtyItem& item, const std::string& org_ext) {
  const bool remove_leavers = Has(Policy().on_leave, "remove_memberships");
  EntityRow org;
  std::vector<MembershipRow> desired_rows, known_rows;
  std::map<std::string, std::string> auth0_ids;  // user external id -> auth0 id
  std::set<std::string> leavers;
  Status read = InTxn([&](StateTxn& txn) {
    auto o = txn.GetEntity("org", org_ext);
    if (!o.ok()) return o.status();
    org = *o;
    auto d = txn.DesiredMembers(org_ext);
    if (!d.ok()) return d.status();
    auto k = txn.KnownMembers(org_ext);
    if (!k.ok()) return k.status();
    known_rows = *k;
    for (auto& m : *d) {
      auto u = txn.GetEntity("user", m.user_external_id);
      if (!u.ok()) return u.status();
      if (!u->exists || !u->auth0_id) continue;  // created later; its creation marks us again
      Json view = View(u->desired);
      if (Truthy(Get(view, "deleted"))) continue;
      auth0_ids[m.user_external_id] = *u->auth0_id;
      if (Truthy(Get(view, "left"))) {
        leavers.insert(m.user_external_id);
        if (remove_leavers) continue;
      }
      desired_rows.push_back(m);
    }
    for (auto& m : known_rows) {
      if (auth0_ids.count(m.user_external_id)) continue;
      auto u = txn.GetEntity("user", m.user_external_id);
      if (!u.ok()) return u.status();
      if (u->auth0_id) auth0_ids[m.user_external_id] = *u->auth0_id;
    }
    return Status::Ok();
  });
  if (!read.ok()) return Outcome::kRetry;
  if (!org.exists || !org.auth0_id) return Outcome::kWait;  // the organization's creation marks us again
  if (Truthy(Get(View(org.desired), "deleted"))) return Outcome::kDone;
  const std::string org_id = *org.auth0_id;
  const std::string key = MembersKey(org_ext);

  std::map<std::string, Json> want, have;
  for (auto& m : desired_rows) want[m.user_external_id] = m.roles;
  for (auto& m : known_rows) have[m.user_external_id] = m.roles;
  // Members whose latest membership write has an unknown outcome (interrupted by a crash, or
  // failed retryably, e.g. a timeout): Auth0 may or may not have applied it, so
  // known_memberships cannot be trusted for them. Without this, a removal that reached Auth0
  // but was not recorded left a returning member out for good (known said "member"). For them
  // the idempotent write that yields the desired state is sent again (re-adding also re-sends
  // their roles, which a removal drops).
  std::set<std::string> uncertain;  // Auth0 user ids
  std::map<std::string, std::pair<bool, Json>> uncertain_roles;  // Auth0 user id -> (adding, roles)
  {
    SqliteStore::MutationFilter f;
    f.entity = key;
    f.limit = 200;
    auto rows = store_.ListMutations(f);
    if (!rows.ok()) return Outcome::kRetry;
    std::set<std::string> settled, roles_settled;
    for (auto& m : *rows) {  // newest first: the latest write per member decides
      if (m.kind == "add_member_roles" || m.kind == "remove_member_roles") {
        // Same for a role write with an unknown outcome: its roles are re-sent below (both role
        // writes are idempotent) so the member ends with exactly the listed roles.
        auto uid = Get(m.request, "user_id");
        if (!uid.is_string() || !roles_settled.insert(uid.get<std::string>()).second) continue;
        if (m.state == MutationState::kFailed) uncertain_roles[uid.get<std::string>()] = {m.kind == "add_member_roles", Get(m.request, "roles")};
        continue;
      }
      if (m.kind != "add_members" && m.kind != "remove_members") continue;
      for (auto& id : Get(m.request, "members")) {
        if (!id.is_string() || !settled.insert(id.get<std::string>()).second) continue;
        if (m.state == MutationState::kFailed) uncertain.insert(id.get<std::string>());
      }
    }
  }
  // The organization may be deleted by another worker (its own entity) while this one works on
  // its members: Auth0's 404 then is not a permanent error of this mutation (it was going to the
  // dead-letter list), just a plan overtaken by events. Retry: the re-plan sees the deletion.
  // Same for a member's user deleted meanwhile (its own entity, another worker).
  auto org_gone = [&](Status s, const std::vector<std::string>& users = {}) -> Status {
    if (s.kind() != StatusKind::kNotFound) return s;
    auto fresh = store_.ReadEntity("org", org_ext);
    bool gone = fresh.ok() && (Truthy(Get(View(fresh->desired), "deleted")) || fresh->auth0_id != org.auth0_id);
    for (auto& u : users) {
      auto fu = store_.ReadEntity("user", u);
      gone = gone || (fu.ok() && (Truthy(Get(View(fu->desired), "deleted")) || fu->auth0_id != auth0_ids[u]));
    }
    if (gone) return Status::Retryable("deleted meanwhile; re-planned: " + s.message());
    return s;
  };
  std::map<std::string, std::string> ext_of;  // auth0 id -> user external id
  for (auto& [u, id] : auth0_ids) ext_of[id] = u;
  std::vector<std::string> add_ext, add_ids, remove_ext, remove_ids;
  for (auto& [u, roles] : want) {
    if (!have.count(u) || uncertain.count(auth0_ids[u])) {
      add_ext.push_back(u);
      add_ids.push_back(auth0_ids[u]);
    }
  }
  for (auto& [u, roles] : have) {
    if (!want.count(u) && auth0_ids.count(u)) {
      remove_ext.push_back(u);
      remove_ids.push_back(auth0_ids[u]);
    }
  }
  for (auto& id : uncertain) {
    // Not wanted and not known as a member, but an unrecorded add may have made it one.
    // (Only users still mapped here; a deleted user's memberships went with it.)
    auto e = ext_of.find(id);
    if (e == ext_of.end() || want.count(e->second) || have.count(e->second)) continue;  // planned above
    remove_ext.push_back(e->second);
    remove_ids.push_back(id);
  }
  Outcome outcome = Outcome::kDone;
  if (!add_ids.empty()) {
    Step step{key, "add_members", {{"organization_id", org_id}, {"members", add_ids}}, Json::array()};
    Status st = Mutate(item, step, [&] { return org_gone(client_->AddMembers(org_id, add_ids), add_ext); }, [&](StateTxn& txn) {
      for (auto& u : add_ext) {
        if (auto s = txn.SetKnownMember(org_ext, u, Json::array()); !s.ok()) return s;
        have[u] = Json::array();
      }
      return Status::Ok();
    });
    outcome = Combine(outcome, st);
    if (!st.ok()) return outcome;
  }
  if (!remove_ids.empty()) {
    bool for_leavers = false;
    for (auto& u : remove_ext) for_leavers = for_leavers || leavers.count(u);
    Step step{key, "remove_members", {{"organization_id", org_id}, {"members", remove_ids}}, Json::array()};
    step.destructive = for_leavers;
    Status st = Mutate(item, step, [&] { return org_gone(client_->RemoveMembers(org_id, remove_ids), remove_ext); }, [&](StateTxn& txn) {
      for (auto& u : remove_ext) {
        if (auto s = txn.SetKnownMember(org_ext, u, std::nullopt); !s.ok()) return s;
      }
      return Status::Ok();
    });
    outcome = Combine(outcome, st);
  }
  for (auto& [id, write] : uncertain_roles) {
    auto e = ext_of.find(id);
    if (e == ext_of.end() || !have.count(e->second)) continue;
    // The roles that write touched are unknown in Auth0: pretend each is in the state opposite to
    // the wanted one, so the plan sends the (idempotent) write that settles it either way.
    std::set<std::string> now, wanted;
    for (auto& r : have[e->second]) now.insert(r.get<std::string>());
    if (want.count(e->second)) {
      for (auto& r : want[e->second]) wanted.insert(r.get<std::string>());
    }
    for (auto& r : write.second) {
      if (!r.is_string()) continue;
      if (wanted.count(r.get<std::string>())) now.erase(r.get<std::string>());
      else now.insert(r.get<std::string>());
    }
    have[e->second] = Json(std::vector<std::string>(now.begin(), now.end()));
  }
  // Roles: per member, the difference between the listed roles and those tenantsync assigned.
  for (auto& [u, roles] : want) {
    Json current = have.count(u) ? have[u] : Json::array();
    if (current == roles || !have.count(u)) continue;
    std::set<std::string> w, h;
    for (auto& r : roles) w.insert(r.get<std::string>());
    for (auto& r : current) h.insert(r.get<std::string>());
    std::vector<std::string> add, remove;
    for (auto& r : w) if (!h.count(r)) add.push_back(r);
    for (auto& r : h) if (!w.count(r)) remove.push_back(r);
    Json applied = current;
    for (auto [names, adding] : {std::pair{&add, true}, std::pair{&remove, false}}) {
      if (names->empty()) continue;
      Step step{key, adding ? "add_member_roles" : "remove_member_roles",
                {{"organization_id", org_id}, {"user_id", auth0_ids[u]}, {"roles", *names}}, Json::array()};
      Status st = Mutate(item, step, [&]() -> Status {
        std::vector<std::string> ids;
        for (auto& name : *names) {
          auto id = client_->FindRoleId(name);
          if (!id.ok()) {
            return id.status().kind() == StatusKind::kNotFound
                       ? Status::Permanent("role \"" + name + "\" does not exist in Auth0 (tenantsync never creates roles)")
                       : id.status();
          }
          ids.push_back(*id);
        }
        return org_gone(adding ? client_->AddMemberRoles(org_id, auth0_ids[u], ids) : client_->RemoveMemberRoles(org_id, auth0_ids[u], ids), {u});
      }, [&](StateTxn& txn) {
        std::set<std::string> now(applied.begin(), applied.end());
        for (auto& n : *names) adding ? (void)now.insert(n) : (void)now.erase(n);
        applied = Json(std::vector<std::string>(now.begin(), now.end()));
        return txn.SetKnownMember(org_ext, u, applied);
      });
      outcome = Combine(outcome, st);
    }
  }
  return outcome;
}

// ---- Application callbacks (a list Auth0 replaces whole) ----------------------------------------

Writer::Outcome Writer::ReconcileCallbacks(const DirtyItem& item) {
  std::set<std::string> desired;
  Json events = Json::array();
  int64_t first_rt = 0;
  Status read = InTxn([&](StateTxn& txn) {
    auto orgs = txn.AllEntities("org");
    if (!orgs.ok()) return orgs.status();
    for (auto& o : *orgs) {
      Json view = View(o.desired);
      if (Truthy(Get(view, "deleted"))) continue;
      for (auto& url : Get(view, "callback_urls")) desired.insert(url.get<std::string>());
    }
    return Status::Ok();
  });
  if (!read.ok()) return Outcome::kRetry;
  auto managed_setting = store_.GetSetting("callbacks_managed");
  std::set<std::string> managed;
  if (managed_setting.ok() && managed_setting->has_value()) {
    for (auto& u : Json::parse(**managed_setting, nullptr, false)) managed.insert(u.get<std::string>());
  }
  // One read, then one write carrying every pending addition and removal.
  auto client = client_->GetClient(options_.application_client_id);
  if (!client.ok()) {
    return client.status().kind() == StatusKind::kRetryable || client.status().kind() == StatusKind::kRateLimited
               ? Outcome::kRetry : Outcome::kDead;
  }
  std::vector<std::string> current;
  for (auto& u : Get(*client, "callbacks")) current.push_back(u.get<std::string>());
  std::vector<std::string> next;
  std::set<std::string> seen;
  bool removing = false;
  for (auto& u : current) {
    if (managed.count(u) && !desired.count(u)) {
      removing = true;
      continue;  // tenantsync added it and no organization wants it any more
    }
    if (seen.insert(u).second) next.push_back(u);
  }
  for (auto& u : desired) {
    if (seen.insert(u).second) next.push_back(u);
  }
  auto save_managed = [&](StateTxn& txn) {
    return txn.PutSetting("callbacks_managed", Json(std::vector<std::string>(desired.begin(), desired.end())).dump());
  };
  if (next == current) {
    InTxn(save_managed);
    return Outcome::kDone;
  }
  Step step{kCallbacksKey, "patch_client_callbacks", {{"client_id", options_.application_client_id}, {"callbacks", next}}, events};
  step.first_received_ms = first_rt;
  step.destructive = removing;
  Status st = Mutate(item, step, [&] { return client_->PatchClientCallbacks(options_.application_client_id, next).status(); },
                     save_managed);
  return Combine(Outcome::kDone, st);
}

// ---- The application enabled on a connection --------------------------------------------------

Writer::Outcome Writer::ReconcileConnection(const DirtyItem& item, const std::string& name) {
  auto done = store_.GetSetting("connection_enabled:" + name);
  if (done.ok() && done->has_value()) return Outcome::kDone;
  Step step{ConnectionKey(name), "enable_connection_client", {{"connection", name}, {"client_id", options_.application_client_id}}, Json::array()};
  Status st = Mutate(item, step, [&]() -> Status {
    auto id = client_->FindConnectionId(name);
    if (!id.ok()) {
      return id.status().kind() == StatusKind::kNotFound
                 ? Status::Permanent("connection \"" + name + "\" does not exist in Auth0 (tenantsync never creates connections)")
                 : id.status();
    }
    // The delta endpoint: concurrent changes to other clients of this connection are not lost.
    return client_->UpdateConnectionClients(*id, {ConnectionClientChange{options_.application_client_id, true}});
  }, [&](StateTxn& txn) { return txn.PutSetting("connection_enabled:" + name, "true"); });
  return Combine(Outcome::kDone, st);
}

// ---- One-shot commands ------------------------------------------------------------------------

Writer::Outcome Writer::RunCommand(const DirtyItem& item, int64_t id) {
  std::optional<CommandRow> cmd;
  EntityRow user;
  Status read = InTxn([&](StateTxn& txn) {
    auto c = txn.GetCommand(id);
    if (!c.ok()) return c.status();
    cmd = *c;
    if (!cmd) return Status::Ok();
    auto u = txn.GetEntity("user", cmd->user_external_id);
    if (!u.ok()) return u.status();
    user = *u;
    return Status::Ok();
  });
  if (!read.ok()) return Outcome::kRetry;
  if (!cmd || cmd->state == "done" || cmd->state == "dead") return Outcome::kDone;
  const Json view = View(user.desired);
  auto finish = [&](const std::string& state, const std::string& error) {
    InTxn([&](StateTxn& txn) { return txn.UpdateCommand(id, state, error, cmd->attempts + 1, clock_.NowUnixMillis()); });
  };
  if (!user.exists || Truthy(Get(view, "deleted"))) {
    finish("dead", "user " + cmd->user_external_id + " is not known to tenantsync (or deleted)");
    return Outcome::kDead;
  }
  if (!user.auth0_id) return Outcome::kWait;  // the user's creation marks pending commands again
  const std::string email = Get(view, "email").is_string() ? Get(view, "email").get<std::string>() : "";
  const bool reset = cmd->kind == "password_reset";
  Step step{CommandKey(id), reset ? "send_password_reset_email" : "send_verification_email",
            {{"user_id", *user.auth0_id}, {"event", cmd->event}}, Json::array({cmd->event})};
  // in_flight is committed before sending: after a crash between sending and recording, the
  // command goes back to pending and runs at most once more.
  if (t_plan == nullptr) {
    InTxn([&](StateTxn& txn) { return txn.UpdateCommand(id, "in_flight", "", cmd->attempts, clock_.NowUnixMillis()); });
  }
  Status st = Mutate(item, step, [&] {
    return reset ? client_->SendChangePasswordEmail(email) : client_->SendVerificationEmail(*user.auth0_id).status();
  }, [&](StateTxn& txn) { return txn.UpdateCommand(id, "done", "", cmd->attempts + 1, clock_.NowUnixMillis()); });
  if (!st.ok()) {
    bool retry = st.kind() == StatusKind::kRetryable || st.kind() == StatusKind::kRateLimited;
    finish(retry ? "pending" : "dead", st.ToString());
  }
  return Combine(Outcome::kDone, st);
}

}  // namespace tenantsync
