// vendor-sim's HTTP layer (the only httplib user of the simulator): routes /__sim/* to the
// control functions and everything else to VendorSim::HandleApi; /__sim/send posts the signed
// delivery to its url (loopback hosts only). Thread safety: Stop() may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "common/clock.h"
#include "tests/vendor-sim/vendor_sim.h"

namespace tenantsync::vsim {

class SimHttpServer {
 public:
  SimHttpServer(VendorSim& sim, std::string host, int port);
  ~SimHttpServer();
  // Binds; returns the port (a free one for port 0) or -1.
  int Bind();
  bool Listen();  // serves until Stop()
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tenantsync::vsim
