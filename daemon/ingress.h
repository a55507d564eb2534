// Ingress: POST /webhooks/{source} (SPEC §4). Verifies the signature, validates the event,
// stores it durably through the GroupCommitter and only then answers 202.
//
// Answers, in the order they are checked: 404 unknown source, 415 not JSON content type,
// 411/413 (refused in the precheck, before the body is read), 401 bad/missing/stale signature,
// 400 authentic but with an unusable event id (ValidateEventId: the message names the header or
// body field), 400 body not UTF-8 or not JSON, 422 event not valid (stored as `rejected`), 503 +
// Retry-After when storage is unavailable or the daemon is draining, 200 duplicate, 202
// accepted. Nothing answered 4xx but 422 is stored, so everything stored can be shown, replayed
// and applied. Every answer is a JSON object, whatever bytes the request carried.
//
// Thread safety: Precheck/Handle run concurrently on HTTP worker threads. ReplaceSources and
// SetDraining may be called from the main loop at any time.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "common/clock.h"
#include "daemon/config.h"
#include "daemon/http_server.h"
#include "storage/group_commit.h"

namespace tenantsync {

// Called once per delivery with its source, event id (may be empty), result label
// ("accepted", "duplicate", "rejected", "unauthorized", ...) and HTTP status. Used for metrics.
using IngressObserver = std::function<void(const std::string& source, const std::string& event_id,
                                           const std::string& result, int status)>;

class Ingress {
 public:
  Ingress(std::vector<SourceConfig> sources, GroupCommitter& committer, Clock& clock,
          int retry_after_seconds);

  std::optional<ServerResponse> Precheck(const ServerRequest& req) const;
  ServerResponse Handle(const ServerRequest& req);

  // SIGHUP: new secrets and sources take effect for the next request.
  void ReplaceSources(std::vector<SourceConfig> sources);
  // SIGTERM: new webhooks get 503 + Retry-After.
  void SetDraining(bool draining) { draining_ = draining; }
  void SetObserver(IngressObserver observer) { observer_ = std::move(observer); }

  // Monotonic count of deliveries answered (for the watchdog's progress check).
  uint64_t answered() const { return answered_.load(); }

 private:
  std::shared_ptr<const std::vector<SourceConfig>> Sources() const;
  ServerResponse Answer(const std::string& source, const std::string& event_id,
                        const std::string& result, int status, const std::string& error) const;

  GroupCommitter& committer_;
  Clock& clock_;
  const int retry_after_seconds_;
  mutable std::mutex mu_;
  std::shared_ptr<const std::vector<SourceConfig>> sources_;  // guarded by mu_
  std::atomic<bool> draining_{false};
  mutable std::atomic<uint64_t> answered_{0};
  IngressObserver observer_;  // set before serving starts
};

}  // namespace tenantsync
