// VendorStage: the durable connector stage between a vendor's webhook and the inbox (issue 18,
// docs/CONNECTORS.md "Status" and "How a delivery flows").
//
// Ingress verifies a vendor delivery (VerifyVendorDelivery) and decodes it (DecodeNotifications);
// Intake stores every notification of the delivery in `vendor_notifications` (migration 0009) in
// one transaction before the delivery is answered 2xx. A notification whose payload carries the
// values (BambooHR field-based, deletions) is mapped in that same transaction: its SPEC §5 events
// land in the inbox at once. A dataless one stays `pending` until the stage's thread fetches the
// record from the vendor's API (VendorApi) and then, in ONE transaction, writes the record into
// the stored body (StoredVendorEvent(n, record, fetched_at)) and inserts the mapped events into
// the inbox as pending events of the source (event id = notification id + MappedEvent::id_suffix),
// and wakes the writer.
//
// Decisions per pending notification (DecideVendorNotification, pure but for the fetch):
//   record already stored (a replay)           → mapped from it, no fetch
//   fetch OK                                    → mapped from the fetched record
//   fetch kNotFound                             → mapped as a deletion (user.left / organization.
//                                                 deleted), stored that way
//   fetch kRateLimited / kRetryable             → stays pending, next try at Retry-After or after a
//                                                 capped exponential backoff; the error is kept
//   fetch kPermanent / kInvalid, no credentials,
//   mapping error, source no longer configured  → failed with the message (replayable: Replay)
//
// Idempotency: (source, event_id) is unique in vendor_notifications (a redelivery is a duplicate)
// and in the inbox (mapping the same notification twice inserts nothing new). A row leaves
// `pending` only in the transaction that inserts its events.
//
// Thread safety: every public method may be called from any thread. Intake's `done` runs on the
// intake thread (or at once on the caller's thread when the intake queue is full or stopped).
// Time comes from the injected Clock.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "adapters/mapping/mapping.h"
#include "adapters/vendors/vendor_api.h"
#include "common/clock.h"
#include "common/status.h"
#include "daemon/config.h"
#include "storage/sqlite_store.h"

namespace tenantsync {

struct VendorStageOptions {
  int batch = 32;                        // pending notifications read per pass
  int64_t retry_base_ms = 5000;          // first wait after a temporary fetch failure
  int64_t retry_cap_ms = 10 * 60000;     // longest wait between two fetch attempts
  size_t max_intake_queue = 256;         // deliveries waiting to be stored before 503
  std::chrono::milliseconds poll{1000};  // the stage thread looks for due work at least this often
};

enum class VendorRowState { kPending, kMapped, kFailed };
const char* VendorRowStateName(VendorRowState s);
// "pending" | "mapped" | "failed"; nullopt for anything else.
std::optional<VendorRowState> ParseVendorRowState(std::string_view name);

// One row of vendor_notifications.
struct VendorRow {
  std::string source, event_id;
  VendorRowState state = VendorRowState::kPending;
  std::string body;  // StoredVendorEvent JSON
  int attempts = 0;
  int64_t next_at_ms = 0;
  std::string error;
  int events = 0;
  int64_t received_at_ms = 0, updated_at_ms = 0;
  // SQLite rowid: grows with every stored notification; the paging cursor of
  // ListVendorNotifications (not an identity: (source, event_id) is).
  int64_t seq = 0;
};

// A page of vendor_notifications for operators (GET /v1/vendor-notifications).
struct VendorNotificationQuery {
  std::optional<std::string> source;
  std::optional<VendorRowState> state;
  int limit = 100;         // rows at most (>= 1)
  int64_t before_seq = 0;  // > 0: only rows with seq < before_seq (the next page)
};

// Rows matching `query`, newest first (seq descending). Reads only; any thread. Errors: storage.
Result<std::vector<VendorRow>> ListVendorNotifications(SqliteStore& store,
                                                       const VendorNotificationQuery& query);

// The one row of (source, event_id), nullopt when there is none. Errors: storage.
Result<std::optional<VendorRow>> ReadVendorNotification(SqliteStore& store,
                                                        const std::string& source,
                                                        const std::string& event_id);

// How many notifications wait for the stage (pending) and how many need an operator (failed),
// for GET /v1/status. Both counts come from the (state, next_at_ms) index. Errors: storage.
struct VendorNotificationCounts {
  int64_t pending = 0, failed = 0;
};
Result<VendorNotificationCounts> CountVendorNotifications(SqliteStore& store);

// What becomes of one stored notification.
struct VendorDecision {
  enum class Kind { kMapped, kRetry, kFailed };
  Kind kind = Kind::kFailed;
  std::string body;                 // the row's new body (StoredVendorEvent JSON)
  std::vector<EventRecord> events;  // kMapped: inbox rows (pending) to insert
  int64_t next_at_ms = 0;           // kRetry
  std::string error;                // kRetry: the temporary failure; kFailed: why
};

// Decides as listed in the header comment. `api` may be null (no credentials_file): a
// notification that needs a fetch then fails. `attempts` is the number of earlier temporary
// failures (for the backoff). Never throws.
VendorDecision DecideVendorNotification(const std::string& source, const Mapping& mapping,
                                        const StoredVendor& stored, VendorApi* api, int attempts,
                                        int64_t now_ms, const VendorStageOptions& options);

class VendorStage {
 public:
  using Sources = std::function<std::shared_ptr<const std::vector<SourceConfig>>()>;
  // Builds the API client of a source (production: NewHttpVendorApi); tests pass a fake.
  using ApiFactory = std::function<Result<std::unique_ptr<VendorApi>>(const SourceConfig&)>;
  using Done = std::function<void(Result<std::vector<InsertOutcome>>)>;

  // `store` and `clock` must outlive the stage. `wake_writer` is called after events were
  // inserted into the inbox (may be null).
  VendorStage(SqliteStore& store, Clock& clock, Sources sources, ApiFactory api_factory,
              std::function<void()> wake_writer, VendorStageOptions options = {});
  ~VendorStage();
  VendorStage(const VendorStage&) = delete;
  VendorStage& operator=(const VendorStage&) = delete;

  // Starts the intake and connector threads. Stop drains the intake queue (every queued delivery
  // gets its answer) and joins both; idempotent.
  void Start();
  void Stop();

  // Stores the notifications of one verified delivery of `source` (one transaction; one outcome
  // per notification, duplicates of (source, event_id) reported as kDuplicate) and calls `done`
  // once it has committed. Runs on the intake thread so an event-loop caller never blocks on
  // SQLite; without Start it runs on the caller's thread. kRetryable when the queue is full,
  // stopped or storage fails: nothing of the delivery is stored.
  void Intake(SourceConfig source, std::vector<VendorNotification> notifications, Done done);
  // The synchronous core of Intake.
  Result<std::vector<InsertOutcome>> Store(const SourceConfig& source,
                                           const std::vector<VendorNotification>& notifications);

  // One pass over due pending notifications (what the thread does; tests call it directly).
  // Returns how many were decided.
  Result<int> RunOnce();
  // Failed → pending, due now (the stored record, if any, is mapped without a fetch). kNotFound
  // when no such row; kConflict when it is not failed.
  Status Replay(const std::string& source, const std::string& event_id);
  // Rows of vendor_notifications, oldest first (for tests and operators).
  Result<std::vector<VendorRow>> List(std::optional<VendorRowState> state, int limit);
  void Wake();

 private:
  Result<Mapping> MappingFor(const SourceConfig& source);
  VendorApi* ApiFor(const SourceConfig& source, std::string* error);
  void IntakeLoop();
  void StageLoop();

  SqliteStore& store_;
  Clock& clock_;
  Sources sources_;
  ApiFactory api_factory_;
  std::function<void()> wake_writer_;
  const VendorStageOptions options_;

  std::mutex cache_mu_;
  std::map<std::string, std::pair<std::string, Mapping>> mappings_;  // guarded: source → (key, m)
  struct CachedApi {
    std::string key;
    std::unique_ptr<VendorApi> api;
  };
  std::map<std::string, CachedApi> apis_;  // guarded by cache_mu_

  struct Job {
    SourceConfig source;
    std::vector<VendorNotification> notifications;
    Done done;
  };
  std::mutex mu_;
  std::condition_variable intake_cv_, stage_cv_;
  std::deque<Job> intake_;  // guarded by mu_
  bool running_ = false;    // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  bool woken_ = false;      // guarded by mu_
  std::thread intake_thread_, stage_thread_;
};

}  // namespace tenantsync
