#include "daemon/operators/progress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace tenantsync {

std::optional<ProgressSnapshot> ProgressSnapshotFromStatus(const nlohmann::json& status,
                                                           int64_t at_ms) {
  if (!status.is_object() || !status.contains("progress") || !status["progress"].is_object())
    return std::nullopt;
  const nlohmann::json& p = status["progress"];
  auto num = [&](const char* key) -> int64_t {
    return p.contains(key) && p[key].is_number_integer() ? p[key].get<int64_t>() : 0;
  };
  ProgressSnapshot s;
  s.at_ms = at_ms;
  s.pending = num("pending_total");
  s.writes_done = num("mutations_done_total");
  if (p.contains("auth0_requests_total") && p["auth0_requests_total"].is_number_integer())
    s.requests_done = p["auth0_requests_total"].get<int64_t>();
  if (p.contains("auth0_headroom") && p["auth0_headroom"].is_number_integer())
    s.headroom = p["auth0_headroom"].get<int64_t>();
  if (p.contains("writes_left_estimate") && p["writes_left_estimate"].is_number_integer())
    s.writes_left = std::max<int64_t>(0, p["writes_left_estimate"].get<int64_t>());
  return s;
}

ProgressFigures ProgressTracker::Update(const ProgressSnapshot& s) {
  const int64_t pending = std::max<int64_t>(0, s.pending);
  ProgressFigures f;
  f.headroom = s.headroom;
  if (!prev_) {
    total_ = pending;
    converged_ = 0;
  } else {
    // Work added while watching (a second burst) grows the total instead of making converged
    // go backwards.
    total_ = std::max(total_, converged_ + pending);
    converged_ = std::max(converged_, total_ - pending);
  }
  f.total = total_;
  f.converged = converged_;
  if (prev_) {
    const int64_t dt_ms = s.at_ms - prev_->at_ms;
    const int64_t writes = s.writes_done - prev_->writes_done;
    if (dt_ms > 0 && writes > 0) f.writes_per_second = writes * 1000.0 / static_cast<double>(dt_ms);
    if (s.requests_done && prev_->requests_done) {
      const int64_t requests = *s.requests_done - *prev_->requests_done;
      f.requests_per_second =
          dt_ms > 0 && requests > 0 ? requests * 1000.0 / static_cast<double>(dt_ms) : 0.0;
    }
    // ETA from how fast pending work went down in this interval, and from the writes left at the
    // write rate of this interval: the larger of those known; nothing left is 0.
    const int64_t drained = prev_->pending - pending;
    auto keep = [&](double seconds) {
      const auto eta = static_cast<int64_t>(std::ceil(seconds));
      f.eta_seconds = f.eta_seconds ? std::max(*f.eta_seconds, eta) : eta;
    };
    if (pending == 0) {
      f.eta_seconds = 0;
    } else {
      if (dt_ms > 0 && drained > 0) {
        keep(static_cast<double>(pending) * static_cast<double>(dt_ms) / 1000.0 /
             static_cast<double>(drained));
      }
      if (s.writes_left && f.writes_per_second > 0) {
        keep(static_cast<double>(*s.writes_left) / f.writes_per_second);
      }
    }
  } else if (pending == 0) {
    f.eta_seconds = 0;
  }
  prev_ = s;
  prev_->pending = pending;
  return f;
}

std::string FormatEta(std::optional<int64_t> seconds) {
  if (!seconds) return "unknown";
  const int64_t s = std::max<int64_t>(0, *seconds);
  char buf[48];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof(buf), "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%llds", static_cast<long long>(s));
  }
  return buf;
}

namespace {

std::string Figures(const ProgressFigures& f, const char* sep, bool words) {
  char buf[256];
  const std::string headroom = f.headroom ? std::to_string(*f.headroom) : "-";
  // Left out rather than shown as 0 when the daemon does not count requests (an older one).
  char requests[64] = "";
  if (f.requests_per_second)
    std::snprintf(requests, sizeof(requests), "%.1f %s%s", *f.requests_per_second,
                  words ? "Auth0 requests/s" : "req/s", sep);
  std::snprintf(buf, sizeof(buf), "%lld/%lld%s%s%.1f writes/s%s%s%s%s%sETA %s",
                static_cast<long long>(f.converged), static_cast<long long>(f.total),
                words ? " converged" : "", sep, f.writes_per_second, sep, requests,
                words ? "Auth0 headroom " : "headroom ", headroom.c_str(), sep,
                FormatEta(f.eta_seconds).c_str());
  return buf;
}

}  // namespace

std::string RenderProgressBar(const ProgressFigures& f, int width) {
  width = std::max(width, 20);
  const std::string text = Figures(f, "  ", false);
  // "[" + bar + "] " + text; the bar takes what is left, between 10 and 40 columns.
  const int room = width - static_cast<int>(text.size()) - 3;
  std::string line;
  if (room >= 10) {
    const int bar = std::min(room, 40);
    const int filled =
        f.total > 0 ? static_cast<int>(static_cast<double>(bar) * static_cast<double>(f.converged) /
                                       static_cast<double>(f.total))
                    : bar;
    line = "[" + std::string(std::clamp(filled, 0, bar), '#') +
           std::string(bar - std::clamp(filled, 0, bar), '-') + "] " + text;
  } else {
    line = text;
  }
  // One column is kept free: a terminal wraps a line that fills its last column.
  const size_t cols = static_cast<size_t>(width - 1);
  if (line.size() > cols) line.resize(cols);
  line.append(cols - line.size(), ' ');
  return "\r" + line;
}

std::string RenderProgressLine(const ProgressFigures& f) {
  const int64_t pct = f.total > 0 ? f.converged * 100 / f.total : 100;
  std::string text = Figures(f, ", ", true);
  // "N/M converged (P%), ..." : the percentage goes right after "converged".
  const size_t at = text.find(" converged") + std::string(" converged").size();
  text.insert(at, " (" + std::to_string(pct) + "%)");
  return "progress: " + text + "\n";
}

}  // namespace tenantsync
