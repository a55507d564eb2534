#include "daemon/ingress/vendor_stage.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "adapters/events/event.h"
#include "common/thread_name.h"

namespace tenantsync {
namespace {

constexpr auto kReplace = nlohmann::json::error_handler_t::replace;

std::string Dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, kReplace); }

std::optional<VendorRowState> ParseRowState(const std::string& s) {
  if (s == "pending") return VendorRowState::kPending;
  if (s == "mapped") return VendorRowState::kMapped;
  if (s == "failed") return VendorRowState::kFailed;
  return std::nullopt;
}

constexpr const char* kRowColumns =
    "source, event_id, state, body, attempts, next_at_ms, error, events, received_at_ms, "
    "updated_at_ms, rowid";

VendorRow ReadRow(SQLite::Statement& q) {
  VendorRow r;
  r.source = q.getColumn(0).getString();
  r.event_id = q.getColumn(1).getString();
  // The CHECK constraint admits only the three names; anything else reads as failed.
  r.state = ParseRowState(q.getColumn(2).getString()).value_or(VendorRowState::kFailed);
  r.body = q.getColumn(3).getString();
  r.attempts = q.getColumn(4).getInt();
  r.next_at_ms = q.getColumn(5).getInt64();
  if (!q.getColumn(6).isNull()) r.error = q.getColumn(6).getString();
  r.events = q.getColumn(7).getInt();
  r.received_at_ms = q.getColumn(8).getInt64();
  r.updated_at_ms = q.getColumn(9).getInt64();
  r.seq = q.getColumn(10).getInt64();
  return r;
}

const SourceConfig* FindSource(const std::vector<SourceConfig>& sources, const std::string& name) {
  for (auto& s : sources) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// The row's new state after a decision, written in the transaction that inserts its events.
void WriteDecision(SQLite::Database& db, const std::string& source, const std::string& event_id,
                   const VendorDecision& d, int attempts, int64_t now_ms) {
  SQLite::Statement up(db,
                       "UPDATE vendor_notifications SET state = ?, body = ?, attempts = ?, "
                       "next_at_ms = ?, error = ?, events = ?, updated_at_ms = ? "
                       "WHERE source = ? AND event_id = ?");
  const char* state = d.kind == VendorDecision::Kind::kMapped  ? "mapped"
                      : d.kind == VendorDecision::Kind::kRetry ? "pending"
                                                               : "failed";
  up.bind(1, state);
  up.bind(2, d.body);
  up.bind(3, d.kind == VendorDecision::Kind::kRetry ? attempts + 1 : attempts);
  up.bind(4, static_cast<int64_t>(d.kind == VendorDecision::Kind::kRetry ? d.next_at_ms : now_ms));
  if (d.error.empty()) {
    up.bind(5);
  } else {
    up.bind(5, d.error);
  }
  up.bind(6, static_cast<int>(d.events.size()));
  up.bind(7, static_cast<int64_t>(now_ms));
  up.bind(8, source);
  up.bind(9, event_id);
  up.exec();
}

}  // namespace

const char* VendorRowStateName(VendorRowState s) {
  switch (s) {
    case VendorRowState::kPending:
      return "pending";
    case VendorRowState::kMapped:
      return "mapped";
    case VendorRowState::kFailed:
      return "failed";
  }
  return "failed";
}

std::optional<VendorRowState> ParseVendorRowState(std::string_view name) {
  return ParseRowState(std::string(name));
}

Result<std::vector<VendorRow>> ListVendorNotifications(SqliteStore& store,
                                                       const VendorNotificationQuery& query) {
  std::vector<VendorRow> rows;
  Status st = store.ReadWith([&](SQLite::Database& db) {
    SQLite::Statement q(db, std::string("SELECT ") + kRowColumns +
                                " FROM vendor_notifications WHERE (?1 IS NULL OR source = ?1) "
                                "AND (?2 IS NULL OR state = ?2) AND (?3 <= 0 OR rowid < ?3) "
                                "ORDER BY rowid DESC LIMIT ?4");
    if (query.source) q.bind(1, *query.source);
    if (query.state) q.bind(2, VendorRowStateName(*query.state));
    q.bind(3, static_cast<int64_t>(query.before_seq));
    q.bind(4, std::max(1, query.limit));
    while (q.executeStep()) rows.push_back(ReadRow(q));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return rows;
}

Result<std::optional<VendorRow>> ReadVendorNotification(SqliteStore& store,
                                                        const std::string& source,
                                                        const std::string& event_id) {
  std::optional<VendorRow> row;
  Status st = store.ReadWith([&](SQLite::Database& db) {
    SQLite::Statement q(db, std::string("SELECT ") + kRowColumns +
                                " FROM vendor_notifications WHERE source = ? AND event_id = ?");
    q.bind(1, source);
    q.bind(2, event_id);
    if (q.executeStep()) row = ReadRow(q);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return row;
}

Result<VendorNotificationCounts> CountVendorNotifications(SqliteStore& store) {
  VendorNotificationCounts counts;
  Status st = store.ReadWith([&](SQLite::Database& db) {
    // One equality lookup per state on vendor_notifications_due (state, next_at_ms): a count that
    // stays cheap however many mapped rows accumulate.
    SQLite::Statement q(db, "SELECT COUNT(*) FROM vendor_notifications WHERE state = ?");
    q.bind(1, "pending");
    if (q.executeStep()) counts.pending = q.getColumn(0).getInt64();
    q.reset();
    q.bind(1, "failed");
    if (q.executeStep()) counts.failed = q.getColumn(0).getInt64();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return counts;
}

VendorDecision DecideVendorNotification(const std::string& source, const Mapping& mapping,
                                        const StoredVendor& stored, VendorApi* api, int attempts,
                                        int64_t now_ms, const VendorStageOptions& options) {
  VendorDecision d;
  VendorNotification n = stored.notification;
  nlohmann::json record = stored.record;
  std::optional<int64_t> fetched_at = stored.fetched_at_ms;
  auto body = [&] { return Dump(StoredVendorEvent(n, record, fetched_at)); };
  auto fail = [&](std::string error) {
    d.kind = VendorDecision::Kind::kFailed;
    d.error = std::move(error);
    d.body = body();
    return d;
  };
  // A stored record (a replay, or a delivery that carried the values) is mapped as it is: the
  // vendor's current record may have changed since, and a replay must give the same events.
  if (record.is_null() && n.needs_fetch) {
    if (api == nullptr) {
      return fail("record not fetched: " + n.vendor_event + " needs the " +
                  (n.object == ObjectKind::kCompany ? "company" : "person") +
                  "'s record and the source has no credentials_file for the vendor's API");
    }
    auto fetched = api->FetchRecord(n.object, n.object_id);
    if (fetched.ok()) {
      record = std::move(fetched).value();
      fetched_at = now_ms;
    } else {
      const Status& st = fetched.status();
      switch (st.kind()) {
        case StatusKind::kNotFound:
          // Gone at the vendor since the notification: what the vendor's deletion would say.
          n.action = NotificationAction::kDeleted;
          n.needs_fetch = false;
          fetched_at = now_ms;
          break;
        case StatusKind::kRateLimited:
        case StatusKind::kRetryable: {
          d.kind = VendorDecision::Kind::kRetry;
          d.error = st.message();
          d.body = body();
          // Full doubling from retry_base_ms, capped; a 429's Retry-After wins when later.
          int64_t wait = options.retry_base_ms;
          for (int i = 0; i < attempts && wait < options.retry_cap_ms; ++i) wait *= 2;
          wait = std::min(wait, options.retry_cap_ms);
          d.next_at_ms = now_ms + wait;
          if (st.retry_at()) {
            const int64_t at = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   st.retry_at()->time_since_epoch())
                                   .count();
            d.next_at_ms = std::max(d.next_at_ms, at);
          }
          return d;
        }
        default:
          return fail(st.message());
      }
    }
  }
  auto mapped = MapNotification(mapping, n, record, now_ms);
  if (!mapped.ok()) return fail(mapped.status().message());
  for (auto& ev : *mapped) {
    auto parsed = ParseEvent(ev.body);
    // MapNotification validates every event; this is the inbox's own view of it.
    if (!parsed.ok())
      return fail("the mapping produced an invalid event: " + parsed.status().message());
    EventRecord r;
    r.source = source;
    r.event_id = n.event_id + ev.id_suffix;
    r.type = EventTypeName(parsed->type);
    r.occurred_at_ms = parsed->timestamp_ms;
    r.effective_at_ms = parsed->effective_at_ms;
    r.received_at_ms = now_ms;
    r.state = EventState::kPending;
    r.body = Dump(ev.body);
    d.events.push_back(std::move(r));
  }
  d.kind = VendorDecision::Kind::kMapped;
  d.body = body();
  return d;
}

VendorStage::VendorStage(SqliteStore& store, Clock& clock, Sources sources, ApiFactory api_factory,
                         std::function<void()> wake_writer, VendorStageOptions options)
    : store_(store),
      clock_(clock),
      sources_(std::move(sources)),
      api_factory_(std::move(api_factory)),
      wake_writer_(std::move(wake_writer)),
      options_(options) {}

VendorStage::~VendorStage() { Stop(); }

void VendorStage::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_ || stopping_) return;
  running_ = true;
  intake_thread_ = std::thread([this] { IntakeLoop(); });
  stage_thread_ = std::thread([this] { StageLoop(); });
}

void VendorStage::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  intake_cv_.notify_all();
  stage_cv_.notify_all();
  if (intake_thread_.joinable()) intake_thread_.join();
  if (stage_thread_.joinable()) stage_thread_.join();
}

void VendorStage::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  stage_cv_.notify_all();
}

void VendorStage::Intake(SourceConfig source, std::vector<VendorNotification> notifications,
                         Done done) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (running_) {
      if (stopping_) {
        lock.unlock();
        return done(Status::Retryable("shutting down; retry later"));
      }
      if (intake_.size() >= options_.max_intake_queue) {
        lock.unlock();
        return done(Status::Retryable("too many vendor deliveries waiting to be stored"));
      }
      intake_.push_back(Job{std::move(source), std::move(notifications), std::move(done)});
      lock.unlock();
      intake_cv_.notify_one();
      return;
    }
  }
  done(Store(source, notifications));
}

void VendorStage::IntakeLoop() {
  SetCurrentThreadName("ts-vendor-in");
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      intake_cv_.wait(lock, [&] { return stopping_ || !intake_.empty(); });
      if (intake_.empty()) return;  // stopping, and every queued delivery was answered
      job = std::move(intake_.front());
      intake_.pop_front();
    }
    auto stored = Store(job.source, job.notifications);
    try {
      job.done(std::move(stored));
    } catch (const std::exception& e) {
      spdlog::error("vendor intake: answering a delivery failed: {}", e.what());
    }
  }
}

Result<std::vector<InsertOutcome>> VendorStage::Store(
    const SourceConfig& source, const std::vector<VendorNotification>& notifications) {
  const int64_t now = clock_.NowUnixMillis();
  // Payloads that carry the values are decided now (no fetch), so their events land in the same
  // transaction as the notification itself.
  std::optional<Result<Mapping>> mapping;
  std::vector<std::optional<VendorDecision>> decisions(notifications.size());
  for (size_t i = 0; i < notifications.size(); ++i) {
    const auto& n = notifications[i];
    if (n.needs_fetch) continue;
    if (!mapping) mapping = MappingFor(source);
    if (!mapping->ok()) {
      VendorDecision d;
      d.error = mapping->status().message();
      d.body = Dump(StoredVendorEvent(n, nullptr, std::nullopt));
      decisions[i] = std::move(d);
      continue;
    }
    decisions[i] = DecideVendorNotification(source.name, **mapping,
                                            StoredVendor{n, nlohmann::json(), std::nullopt},
                                            nullptr, 0, now, options_);
  }
  std::vector<InsertOutcome> outcomes;
  bool inserted_events = false;
  auto written =
      store_.WriteWithEvents([&](SQLite::Database& db) -> Result<std::vector<EventRecord>> {
        outcomes.clear();
        std::vector<EventRecord> events;
        SQLite::Statement ins(
            db,
            "INSERT INTO vendor_notifications (source, event_id, state, body, attempts, "
            "next_at_ms, received_at_ms, updated_at_ms) VALUES (?, ?, 'pending', ?, 0, ?, ?, ?) "
            "ON CONFLICT (source, event_id) DO NOTHING");
        for (size_t i = 0; i < notifications.size(); ++i) {
          const auto& n = notifications[i];
          ins.reset();
          ins.clearBindings();
          ins.bind(1, source.name);
          ins.bind(2, n.event_id);
          ins.bind(3, Dump(StoredVendorEvent(n, nullptr, std::nullopt)));
          ins.bind(4, static_cast<int64_t>(now));
          ins.bind(5, static_cast<int64_t>(now));
          ins.bind(6, static_cast<int64_t>(now));
          const bool fresh = ins.exec() == 1;
          outcomes.push_back(fresh ? InsertOutcome::kInserted : InsertOutcome::kDuplicate);
          if (!fresh || !decisions[i]) continue;
          WriteDecision(db, source.name, n.event_id, *decisions[i], 0, now);
          for (auto& e : decisions[i]->events) events.push_back(e);
        }
        inserted_events = !events.empty();
        return events;
      });
  if (!written.ok()) return written.status();
  for (size_t i = 0; i < notifications.size(); ++i) {
    if (outcomes[i] == InsertOutcome::kInserted && decisions[i] &&
        decisions[i]->kind == VendorDecision::Kind::kFailed) {
      spdlog::warn("vendor source={} id={} failed: {}", source.name, notifications[i].event_id,
                   decisions[i]->error);
    }
  }
  if (inserted_events && wake_writer_) wake_writer_();
  if (std::any_of(outcomes.begin(), outcomes.end(),
                  [](InsertOutcome o) { return o == InsertOutcome::kInserted; })) {
    Wake();
  }
  return outcomes;
}

Result<Mapping> VendorStage::MappingFor(const SourceConfig& source) {
  if (!source.vendor) return Status::Invalid("source \"" + source.name + "\" has no vendor");
  const std::string key =
      std::string(VendorName(*source.vendor)) + "\n" +
      Dump(source.vendor_mapping.is_null() ? nlohmann::json::object() : source.vendor_mapping);
  std::lock_guard<std::mutex> lock(cache_mu_);
  auto it = mappings_.find(source.name);
  if (it != mappings_.end() && it->second.first == key) return it->second.second;
  auto m = ParseMapping(*source.vendor, source.vendor_mapping.is_null() ? nlohmann::json::object()
                                                                        : source.vendor_mapping);
  if (!m.ok()) return m.status();
  mappings_[source.name] = {key, *m};
  return std::move(m).value();
}

VendorApi* VendorStage::ApiFor(const SourceConfig& source, std::string* error) {
  const VendorApiOptions& o = source.vendor_api;
  if (o.credential.empty() || !api_factory_) return nullptr;
  // The credential is part of the key so a rotated credential (SIGHUP) takes a new client; the
  // key never leaves this map.
  const std::string key = std::string(VendorName(o.vendor)) + "\n" + o.base_url + "\n" +
                          o.company_domain + "\n" + o.credential;
  std::lock_guard<std::mutex> lock(cache_mu_);
  auto it = apis_.find(source.name);
  if (it != apis_.end() && it->second.key == key) return it->second.api.get();
  auto made = api_factory_(source);
  if (!made.ok()) {
    *error = made.status().message();
    return nullptr;
  }
  auto& slot = apis_[source.name];
  slot.key = key;
  slot.api = std::move(made).value();
  return slot.api.get();
}

Result<int> VendorStage::RunOnce() {
  const int64_t now = clock_.NowUnixMillis();
  std::vector<VendorRow> due;
  Status read = store_.ReadWith([&](SQLite::Database& db) {
    SQLite::Statement q(db, std::string("SELECT ") + kRowColumns +
                                " FROM vendor_notifications WHERE state = 'pending' AND "
                                "next_at_ms <= ? ORDER BY next_at_ms, received_at_ms LIMIT ?");
    q.bind(1, static_cast<int64_t>(now));
    q.bind(2, options_.batch);
    while (q.executeStep()) due.push_back(ReadRow(q));
    return Status::Ok();
  });
  if (!read.ok()) return read;
  auto sources = sources_ ? sources_() : nullptr;
  int decided = 0;
  for (const auto& row : due) {
    const int64_t at = clock_.NowUnixMillis();
    VendorDecision d;
    const SourceConfig* src = sources ? FindSource(*sources, row.source) : nullptr;
    auto json = ParseJson(row.body);
    auto stored = json.ok() ? ParseStoredVendorEvent(*json) : Result<StoredVendor>(json.status());
    if (!stored.ok()) {
      d.error = "stored notification unreadable: " + stored.status().message();
      d.body = row.body;
    } else if (src == nullptr || !src->vendor) {
      d.error = "source \"" + row.source + "\" is no longer a configured vendor source";
      d.body = row.body;
    } else if (auto mapping = MappingFor(*src); !mapping.ok()) {
      d.error = mapping.status().message();
      d.body = row.body;
    } else {
      std::string api_error;
      VendorApi* api = ApiFor(*src, &api_error);
      if (api == nullptr && !api_error.empty() && stored->record.is_null() &&
          stored->notification.needs_fetch) {
        d.error = "vendor API: " + api_error;
        d.body = row.body;
      } else {
        d = DecideVendorNotification(row.source, *mapping, *stored, api, row.attempts, at,
                                     options_);
      }
    }
    bool inserted = false;
    auto written =
        store_.WriteWithEvents([&](SQLite::Database& db) -> Result<std::vector<EventRecord>> {
          // Decided while no lock was held: only a row still pending takes the decision (a
          // concurrent Replay or a second stage cannot make it apply twice).
          SQLite::Statement still(db,
                                  "SELECT 1 FROM vendor_notifications WHERE source = ? AND "
                                  "event_id = ? AND state = 'pending'");
          still.bind(1, row.source);
          still.bind(2, row.event_id);
          if (!still.executeStep()) return std::vector<EventRecord>{};
          WriteDecision(db, row.source, row.event_id, d, row.attempts, at);
          inserted = !d.events.empty();
          return d.events;
        });
    if (!written.ok()) return written.status();
    ++decided;
    if (d.kind == VendorDecision::Kind::kFailed) {
      spdlog::warn("vendor source={} id={} failed: {}", row.source, row.event_id, d.error);
    } else if (d.kind == VendorDecision::Kind::kRetry) {
      spdlog::info("vendor source={} id={} fetch will be retried (attempt {}): {}", row.source,
                   row.event_id, row.attempts + 1, d.error);
    } else {
      spdlog::info("vendor source={} id={} mapped into {} event(s)", row.source, row.event_id,
                   d.events.size());
    }
    if (inserted && wake_writer_) wake_writer_();
  }
  return decided;
}

Status VendorStage::Replay(const std::string& source, const std::string& event_id) {
  const int64_t now = clock_.NowUnixMillis();
  Status outcome;
  auto written =
      store_.WriteWithEvents([&](SQLite::Database& db) -> Result<std::vector<EventRecord>> {
        SQLite::Statement q(
            db, "SELECT state FROM vendor_notifications WHERE source = ? AND event_id = ?");
        q.bind(1, source);
        q.bind(2, event_id);
        if (!q.executeStep()) {
          outcome = Status::NotFound("no vendor notification " + event_id + " of source " + source);
          return std::vector<EventRecord>{};
        }
        const std::string state = q.getColumn(0).getString();
        if (state != "failed") {
          // A mapped notification's events are in the inbox: those are what gets replayed.
          outcome = Status::Conflict(
              "only failed vendor notifications can be replayed; this one is " + state +
              (state == "mapped" ? " (replay the events it became: POST /v1/events/{id}/replay)"
                                 : ""));
          return std::vector<EventRecord>{};
        }
        SQLite::Statement up(db,
                             "UPDATE vendor_notifications SET state = 'pending', attempts = 0, "
                             "next_at_ms = ?, error = NULL, updated_at_ms = ? WHERE source = ? AND "
                             "event_id = ?");
        up.bind(1, static_cast<int64_t>(now));
        up.bind(2, static_cast<int64_t>(now));
        up.bind(3, source);
        up.bind(4, event_id);
        up.exec();
        return std::vector<EventRecord>{};
      });
  if (!written.ok()) return written.status();
  if (outcome.ok()) Wake();
  return outcome;
}

Result<std::vector<VendorRow>> VendorStage::List(std::optional<VendorRowState> state, int limit) {
  std::vector<VendorRow> rows;
  Status st = store_.ReadWith([&](SQLite::Database& db) {
    SQLite::Statement q(db, std::string("SELECT ") + kRowColumns +
                                " FROM vendor_notifications WHERE (?1 IS NULL OR state = ?1) "
                                "ORDER BY received_at_ms, rowid LIMIT ?2");
    if (state) q.bind(1, VendorRowStateName(*state));
    q.bind(2, limit);
    while (q.executeStep()) rows.push_back(ReadRow(q));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return rows;
}

void VendorStage::StageLoop() {
  SetCurrentThreadName("ts-vendor");
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      woken_ = false;
    }
    auto done = RunOnce();
    if (!done.ok()) spdlog::warn("vendor stage: {}", done.status().message());
    const bool more = done.ok() && *done == options_.batch;
    std::unique_lock<std::mutex> lock(mu_);
    if (more) continue;
    // Short polls: a retry time that falls due is noticed within `poll`, and a wake (new
    // notifications, a replay) at once.
    stage_cv_.wait_for(lock, options_.poll, [&] { return stopping_ || woken_; });
  }
}

}  // namespace tenantsync
