// Ingress: POST /webhooks/{source} (SPEC §4). Verifies the signature, validates the event,
// stores it durably through the GroupCommitter and only then answers 202.
//
// Vendor sources (scheme = "bamboohr" | "hibob" | "personio" | "hubspot", docs/CONNECTORS.md) are
// verified with the vendor's own scheme (VerifyVendorDelivery) and answered differently: 401 bad
// signature or token, 200 {"status":"ok"} for a handshake (HiBob's ping; nothing stored), 400 a
// payload that is not the vendor's shape, 200 "ignored" for a delivery with nothing to do, 202
// when at least one notification was stored (every notification of the delivery in one
// transaction, through the VendorStage, before the answer), 200 duplicate when all were stored
// before, 503 + Retry-After when storage is unavailable. Their content type may also be
// application/x-www-form-urlencoded (bamboohr) or text/plain (hibob's ping).
//
// Answers, in the order they are checked: 404 unknown source, 403 a declared source (scheme =
// "declared": it takes no webhooks), 415 not JSON content type,
// 411/413 (refused in the precheck, before the body is read), 401 bad/missing/stale signature,
// 400 authentic but with an unusable event id (ValidateEventId: the message names the header or
// body field), 400 body not UTF-8 or not JSON, 422 event not valid (stored as `rejected`), 503 +
// Retry-After when storage is unavailable or the daemon is draining, 200 duplicate, 202
// accepted. Nothing answered 4xx but 422 is stored, so everything stored can be shown, replayed
// and applied. Every answer is a JSON object, whatever bytes the request carried.
//
// Precheck must have passed for a request before Handle is called (HttpServer guarantees it);
// Handle re-checks only what can change in between (sources on SIGHUP, draining on SIGTERM).
//
// Logs: one line per answered delivery (SPEC §7), except that 2xx lines (accepted, duplicate)
// beyond log_events_per_second in one second are counted into a summary line instead; refusals
// and failures always get their own line. docs/INGRESS.md "Logs" explains the trade.
//
// Thread safety: Precheck/HandleAsync run concurrently (event-loop, worker and group
// committer threads; the observer and the log lines too). ReplaceSources and
// SetDraining may be called from the main loop at any time.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "daemon/config.h"
#include "daemon/http_server.h"
#include "daemon/parsed_events.h"
#include "storage/group_commit.h"

namespace tenantsync {

class ScimService;
class VendorStage;

// Called once per delivery with its source, event id (may be empty), result label
// ("accepted", "duplicate", "rejected", "unauthorized", ...) and HTTP status. Used for metrics.
using IngressObserver = std::function<void(const std::string& source, const std::string& event_id,
                                           const std::string& result, int status)>;

// The JSON body of every ingress answer: {"error":E,"event_id":I,"status":R}, where E and I are
// null when empty, else JSON strings (R always a string) (bytes that are not UTF-8 replaced by
// U+FFFD), byte for byte what nlohmann's dump of that object gives (SPEC §4's answers).
std::string IngressAnswerBody(const std::string& result, const std::string& event_id,
                              const std::string& error);

class Ingress {
 public:
  Ingress(std::vector<SourceConfig> sources, GroupCommitter& committer, Clock& clock,
          int retry_after_seconds);

  std::optional<ServerResponse> Precheck(const ServerRequest& req) const;
  // Answers the delivery without waiting for storage: everything before the insert (signature,
  // parse, validation) runs on the calling thread, then `respond` is called exactly once —
  // on the calling thread when nothing is to be stored or the insert is refused at once, else
  // on the group committer's thread after the transaction holding the event has committed. Does
  // not block for webhooks (the event loop calls it on its own thread for small /webhooks/
  // bodies); SCIM paths answer synchronously after their own write, so the listener runs them on
  // a worker (HttpServerOptions::inline_path_prefix).
  void HandleAsync(ServerRequest req, std::function<void(ServerResponse)> respond);

  // SIGHUP: new secrets and sources take effect for the next request.
  void ReplaceSources(std::vector<SourceConfig> sources);
  // SIGTERM: new webhooks get 503 + Retry-After.
  void SetDraining(bool draining) { draining_ = draining; }
  void SetObserver(IngressObserver observer) { observer_ = std::move(observer); }
  // SCIM (issue 18): requests under /scim/v2/ go to `scim` (precheck and answer); set before
  // serving starts. Null: such paths are unknown (404).
  void SetScim(ScimService* scim) { scim_ = scim; }
  // Vendor connectors (issue 18): notifications of vendor sources are stored through `vendors`
  // (its intake thread, so the event loop never waits on SQLite); set before serving starts.
  // Null: deliveries to vendor sources are answered 503.
  void SetVendorStage(VendorStage* vendors) { vendors_ = vendors; }
  // Issue 13: the parse of each accepted webhook event (not scheduled for later) is offered to
  // `parsed` before the event is queued for its commit, so the writer does not parse the body
  // again (ParsedEventCache); withdrawn when the insert stores nothing. Set before serving
  // starts. Null: nothing is offered.
  void SetParsedEvents(ParsedEventCache* parsed) { parsed_events_ = parsed; }
  // At most this many 2xx (accepted/duplicate) event lines per second of the clock; the rest are
  // counted and reported in one summary line when the next second's first 2xx event is answered.
  // Every other answer (4xx, 5xx) keeps its own line. 0: a line for every event.
  void SetLogEventsPerSecond(int limit) { log_events_per_second_ = limit; }

  // Monotonic count of deliveries answered (for the watchdog's progress check).
  uint64_t answered() const { return answered_.load(); }

  // The sources in effect (replaced on SIGHUP); also read by the admin API.
  std::shared_ptr<const std::vector<SourceConfig>> Sources() const;

 private:
  // What Prepare hands to storage.
  struct ToStore {
    std::string source, event_id;
    EventRecord record;
    std::optional<ParsedEvent> parsed;  // set when the event is valid (record.state pending)
  };
  // The answer (nothing to store), or the record to store (req.body moves into it).
  std::variant<ServerResponse, ToStore> Prepare(ServerRequest& req);
  // The answer once storage has spoken; `rejection` set: the event was stored as rejected (422).
  ServerResponse Stored(const std::string& source, const std::string& event_id,
                        const std::optional<std::string>& rejection,
                        const Result<InsertOutcome>& stored) const;
  ServerResponse Answer(const std::string& source, const std::string& event_id,
                        const std::string& result, int status, const std::string& error) const;
  // The vendor source a /webhooks/ request is for, or null (not a vendor source).
  std::shared_ptr<const SourceConfig> VendorSourceOf(const ServerRequest& req) const;
  void HandleVendor(ServerRequest req, std::shared_ptr<const SourceConfig> src,
                    std::function<void(ServerResponse)> respond);

  GroupCommitter& committer_;
  Clock& clock_;
  const int retry_after_seconds_;
  mutable std::mutex mu_;
  std::shared_ptr<const std::vector<SourceConfig>> sources_;  // guarded by mu_
  std::atomic<bool> draining_{false};
  mutable std::atomic<uint64_t> answered_{0};
  // Whether a 2xx event's line is within log_events_per_second_; logs the summary of the
  // previous second when a new one starts.
  bool LogThisSuccess(const std::string& result) const;

  IngressObserver observer_;                   // set before serving starts
  ScimService* scim_ = nullptr;                // set before serving starts; not owned
  VendorStage* vendors_ = nullptr;             // set before serving starts; not owned
  ParsedEventCache* parsed_events_ = nullptr;  // set before serving starts; not owned
  std::atomic<int> log_events_per_second_{100};
  mutable std::mutex log_mu_;
  mutable int64_t log_window_ = 0;           // guarded by log_mu_: Unix second
  mutable int logged_in_window_ = 0;         // guarded by log_mu_
  mutable uint64_t unlogged_accepted_ = 0;   // guarded by log_mu_
  mutable uint64_t unlogged_duplicate_ = 0;  // guarded by log_mu_
};

}  // namespace tenantsync
