// vendor-sim: plays BambooHR, HiBob, Personio and HubSpot for tests and the demo
// (tests/vendor-sim/vendor_sim.h lists its API and control endpoints).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <thread>

#include "common/clock.h"
#include "tests/vendor-sim/server.h"

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 0;
  CLI::App app{"vendor-sim: a local simulator of HR/CRM vendor webhooks and APIs"};
  app.add_option("--port", port, "TCP port; 0 picks a free one")->capture_default_str();
  app.add_option("--host", host, "Listen address")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  tenantsync::vsim::VendorSim sim(tenantsync::SystemClock());
  tenantsync::vsim::SimHttpServer server(sim, host, port);
  int bound = server.Bind();
  if (bound <= 0) {
    std::cerr << "vendor-sim: cannot listen on " << host << ":" << port << "\n";
    return 1;
  }
  std::printf("listening on %s:%d\n", host.c_str(), bound);
  std::fflush(stdout);
  std::thread([&server, set] {
    int sig = 0;
    sigwait(&set, &sig);
    server.Stop();
  }).detach();
  server.Listen();
  return 0;
}
