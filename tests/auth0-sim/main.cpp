// auth0-sim: a local simulator of the Auth0 Management API (SPEC §9, docs/AUTH0-SIM.md).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <thread>

#include "tests/auth0-sim/server.h"

namespace {

// "NAME=R:B" -> (NAME, {R, B}).
bool ParseGroup(const std::string& spec, std::string& name, tenantsync::sim::BucketConfig& cfg) {
  auto eq = spec.find('=');
  auto colon = spec.find(':', eq == std::string::npos ? 0 : eq);
  if (eq == std::string::npos || eq == 0 || colon == std::string::npos) return false;
  name = spec.substr(0, eq);
  try {
    cfg.rate = std::stod(spec.substr(eq + 1, colon - eq - 1));
    cfg.burst = std::stod(spec.substr(colon + 1));
  } catch (...) {
    return false;
  }
  return cfg.rate >= 0 && cfg.burst >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  tenantsync::sim::SimOptions o;
  std::vector<std::string> groups;
  CLI::App app{"auth0-sim: a local simulator of the Auth0 Management API"};
  app.add_option("--port", o.port, "TCP port; 0 picks a free one")->required();
  app.add_option("--host", o.host, "Listen address")->capture_default_str();
  app.add_option("--domain", o.domain, "Tenant domain (token audience https://D/api/v2/)")
      ->required();
  app.add_option("--client-id", o.client_id, "The machine-to-machine client id")->required();
  app.add_option("--client-secret", o.client_secret, "Its secret")->required();
  app.add_option("--rate", o.global_rate.rate, "Global bucket: tokens per second (0 = off)");
  app.add_option("--burst", o.global_rate.burst, "Global bucket capacity");
  app.add_option("--group-rate", groups, "Endpoint-group bucket NAME=RATE:BURST (repeatable)");
  app.add_option("--latency-ms", o.faults.latency_ms, "Fixed latency added to every answer");
  app.add_option("--jitter-ms", o.faults.jitter_ms, "Extra uniform random latency, 0..J ms");
  app.add_option("--error-rate", o.faults.error_rate, "Share of answers replaced by a 5xx");
  app.add_option("--timeout-rate", o.faults.timeout_rate,
                 "Share of requests held --timeout-ms, then dropped");
  app.add_option("--timeout-ms", o.faults.timeout_ms, "How long a timed-out request hangs")
      ->capture_default_str();
  app.add_option("--drop-rate", o.faults.drop_rate, "Share of connections closed unanswered");
  app.add_option("--force-429-rate", o.faults.force_429_rate,
                 "Share of Management API requests answered 429");
  app.add_option("--token-lifetime-seconds", o.token_lifetime_seconds, "Access token lifetime")
      ->capture_default_str();
  app.add_option("--index-lag-ms", o.index_lag_ms,
                 "Delay before writes show in user search and member lists")
      ->capture_default_str();
  app.add_option("--export-delay-ms", o.export_delay_ms,
                 "How long a users export job stays pending before its file is ready")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "Seed for ids, jitter and fault choice")->capture_default_str();
  app.add_option("--threads", o.threads, "Worker threads")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  for (const auto& spec : groups) {
    std::string name;
    tenantsync::sim::BucketConfig cfg;
    if (!ParseGroup(spec, name, cfg)) {
      std::cerr << "auth0-sim: --group-rate wants NAME=RATE:BURST, got '" << spec << "'\n";
      return 2;
    }
    o.groups[name] = cfg;
  }

  // Signals are taken synchronously by one thread so shutdown can call into the server safely.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  tenantsync::sim::SimServer server(o);
  int port = server.Bind();
  if (port <= 0) {
    std::cerr << "auth0-sim: cannot listen on " << o.host << ":" << o.port << "\n";
    return 1;
  }
  std::printf("listening on %s:%d\n", o.host.c_str(), port);
  std::fflush(stdout);

  std::thread([&server, set] {
    int sig = 0;
    sigwait(&set, &sig);
    server.Stop();
  }).detach();
  server.Listen();
  return 0;
}
