// Quarantine (SPEC §6): when most Auth0 requests fail for a sustained time (Auth0 down,
// credentials revoked, a scope missing), the writer stops spending retries and only probes at a
// slow rate; status and metrics say it is quarantined and why; it resumes by itself when a
// request succeeds.
//
// Fed by every Auth0 request outcome (as an Auth0Observer, chained in front of the metrics).
// Thread safety: all methods may be called from any thread.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "adapters/auth0/observer.h"
#include "common/clock.h"

namespace tenantsync {

struct QuarantineOptions {
  int window_seconds = 60;          // outcomes considered
  int min_requests = 20;            // fewer than this in the window never quarantines
  double failure_fraction = 0.9;    // share of failures (no answer, 5xx, 401, 403) that does
  int probe_interval_seconds = 30;  // while quarantined, one entity is tried this often
};

class Quarantine final : public Auth0Observer {
 public:
  Quarantine(Clock& clock, QuarantineOptions options, Auth0Observer* next);

  void OnRequest(std::string_view endpoint_template, int status, double seconds) override;

  bool active();
  // While active: true at most once per probe interval (the writer may try one entity then).
  bool ProbeDue();
  // {"active", "since_ms", "reason", "failures", "requests"}
  nlohmann::json StatusJson();

 private:
  void Prune(Clock::MonoTime now);  // requires mu_

  Clock& clock_;
  const QuarantineOptions options_;
  Auth0Observer* next_;
  std::mutex mu_;
  struct Outcome {
    Clock::MonoTime at;
    bool failed;
    std::string what;
  };
  std::deque<Outcome> window_;    // guarded by mu_
  size_t failures_ = 0;           // failed outcomes in window_; guarded by mu_
  bool active_ = false;           // guarded by mu_
  int64_t since_ms_ = 0;          // guarded by mu_
  std::string reason_;            // guarded by mu_
  Clock::MonoTime last_probe_{};  // guarded by mu_
};

}  // namespace tenantsync
