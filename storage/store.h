// Store: the narrow interface to tenantsync's durable state (SQLite behind it).
//
// Thread safety: every method may be called from any thread; implementations serialise writes.
// Durability: a method that writes returns OK only after its transaction is committed and
// fsynced (WAL with synchronous=FULL).
// Errors: kRetryable when storage is busy, full or failing (the caller may answer 503 and the
// sender retries); kInvalid for a request the store cannot satisfy.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace tenantsync {

enum class EventState { kPending, kApplied, kRejected, kFailed };
const char* EventStateName(EventState s);
std::optional<EventState> ParseEventState(std::string_view name);

struct EventRecord {
  int64_t seq = 0;  // assigned by the store
  std::string source;
  std::string event_id;
  std::optional<std::string> type;
  std::optional<int64_t> occurred_at_ms;
  std::optional<int64_t> effective_at_ms;
  int64_t received_at_ms = 0;
  EventState state = EventState::kPending;
  std::string error;
  std::string body;
  int64_t updated_at_ms = 0;
  std::string note;  // what happened to it after it was applied (e.g. rejected at the guard)
  // The admin token that submitted it (source "console", POST /v1/events); empty otherwise.
  std::string submitted_by;
  // Set when retention removed the body (body is then empty): applied or rejected longer than
  // [storage] event_body_retention_days ago. The row itself is kept forever (dedup).
  std::optional<int64_t> compacted_at_ms;
};

enum class InsertOutcome { kInserted, kDuplicate };

struct EventFilter {
  std::optional<EventState> state;
  std::optional<std::string> source;
  std::optional<std::string> event_id;
  int64_t after_seq = 0;  // paging: only events with seq > after_seq
  int limit = 100;
  // Only pending events split by effective_at at `now_ms`: the due ones (no effective_at, or
  // effective_at <= now_ms) or, with `scheduled`, the ones whose effective_at is later.
  struct Timing {
    int64_t now_ms = 0;
    bool scheduled = false;
  };
  std::optional<Timing> pending_at;
};

class Store {
 public:
  virtual ~Store() = default;

  // Inserts each event unless its (source, event_id) already exists, all in one transaction.
  // Returns one outcome per input, in order (a repeat within the batch is a duplicate of the
  // first). On error nothing of the batch is stored.
  virtual Result<std::vector<InsertOutcome>> InsertEvents(
      const std::vector<EventRecord>& events) = 0;

  virtual Result<std::vector<EventRecord>> ListEvents(const EventFilter& filter) = 0;
  // Pending events that are due (no effective_at, or effective_at <= now_ms), in arrival order.
  virtual Result<std::vector<EventRecord>> DueEvents(int64_t now_ms, int limit) = 0;
  // Number of events per state name ("pending", "applied", ...); states with none are absent.
  virtual Result<std::map<std::string, int64_t>> CountEventsByState() = 0;
};

}  // namespace tenantsync
