// SimServer: the HTTP face of auth0-sim. Owns the tenant, access tokens, rate limits, faults,
// statistics and the /__sim/ control endpoints. This header does not include httplib.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "tests/auth0-sim/ratelimit.h"

namespace tenantsync::sim {

struct Faults {
  int64_t latency_ms = 0;
  int64_t jitter_ms = 0;
  double error_rate = 0;    // share of answers replaced by a 5xx
  double timeout_rate = 0;  // share of requests held timeout_ms, then dropped unanswered
  int64_t timeout_ms = 30000;
  double drop_rate = 0;       // share of connections closed without an answer
  double force_429_rate = 0;  // share of Management API requests answered 429
};

struct SimOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string domain = "tenant.auth0.local";
  std::string client_id;
  std::string client_secret;
  BucketConfig global_rate;                    // rate 0: no global limit
  std::map<std::string, BucketConfig> groups;  // endpoint-group buckets
  Faults faults;
  int64_t token_lifetime_seconds = 86400;
  int64_t index_lag_ms = 1000;
  int64_t export_delay_ms = 0;  // users exports stay "pending" this long
  uint64_t seed = 1;
  int threads = 32;
};

class SimServer {
 public:
  explicit SimServer(SimOptions options);
  ~SimServer();
  SimServer(const SimServer&) = delete;
  SimServer& operator=(const SimServer&) = delete;

  // Binds the listening socket; returns the port, or -1 on failure.
  int Bind();
  // Serves until Stop(); call after Bind().
  bool Listen();
  // Thread-safe; wakes requests held by latency or timeout faults.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tenantsync::sim
