#include "daemon/quarantine.h"

#include <spdlog/spdlog.h>

namespace tenantsync {

Quarantine::Quarantine(Clock& clock, QuarantineOptions options, Auth0Observer* next)
    : clock_(clock), options_(options), next_(next) {}

void Quarantine::Prune(Clock::MonoTime now) {
  while (!window_.empty() &&
         now - window_.front().at > std::chrono::seconds(options_.window_seconds)) {
    failures_ -= window_.front().failed ? 1 : 0;
    window_.pop_front();
  }
}

void Quarantine::OnRequest(std::string_view endpoint_template, int status, double seconds) {
  if (next_) next_->OnRequest(endpoint_template, status, seconds);
  // 4xx other than 401/403 are answers about one request, not about Auth0 being usable.
  const bool failed = status == 0 || status >= 500 || status == 401 || status == 403;
  const auto now = clock_.Monotonic();
  std::lock_guard<std::mutex> lock(mu_);
  if (!failed && status >= 200 && status < 300 && active_) {
    spdlog::warn("quarantine lifted: Auth0 answered {} {}", status, std::string(endpoint_template));
    active_ = false;
    window_.clear();
    failures_ = 0;
    return;
  }
  // Only failures need their endpoint (for the reason); successes stay cheap at high rates.
  window_.push_back(
      {now, failed,
       failed ? std::to_string(status) + " " + std::string(endpoint_template) : std::string()});
  failures_ += failed ? 1 : 0;
  Prune(now);
  if (active_) return;
  const size_t failures = failures_;
  if (static_cast<int>(window_.size()) >= options_.min_requests &&
      static_cast<double>(failures) >=
          options_.failure_fraction * static_cast<double>(window_.size())) {
    std::map<std::string, int> kinds;
    for (auto& o : window_) {
      if (o.failed) ++kinds[o.what];
    }
    std::string top;
    int best = 0;
    for (auto& [k, n] : kinds) {
      if (n > best) best = n, top = k;
    }
    active_ = true;
    since_ms_ = clock_.NowUnixMillis();
    last_probe_ = now;
    reason_ = std::to_string(failures) + " of the last " + std::to_string(window_.size()) +
              " Auth0 requests failed (most often: " +
              (top.rfind("0 ", 0) == 0 ? "no answer from " + top.substr(2) : top) + ")";
    spdlog::error("quarantined: {}; retries stop, one probe every {} s", reason_,
                  options_.probe_interval_seconds);
  }
}

bool Quarantine::active() {
  std::lock_guard<std::mutex> lock(mu_);
  return active_;
}

bool Quarantine::ProbeDue() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!active_) return true;
  auto now = clock_.Monotonic();
  if (now - last_probe_ < std::chrono::seconds(options_.probe_interval_seconds)) return false;
  last_probe_ = now;
  return true;
}

nlohmann::json Quarantine::StatusJson() {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t failures = failures_;
  return {{"active", active_},
          {"since_ms", active_ ? nlohmann::json(since_ms_) : nlohmann::json(nullptr)},
          {"reason", active_ ? nlohmann::json(reason_) : nlohmann::json(nullptr)},
          {"failures", failures},
          {"requests", window_.size()}};
}

}  // namespace tenantsync
