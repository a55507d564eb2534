// Test support: run a real binary (tenantsync, auth0-sim) as a child process.
//
// Subprocess owns the child: the destructor sends SIGTERM, waits up to 5 s, then SIGKILLs.
// Output (stdout+stderr merged) is captured to a temp file readable at any time.
// Not thread-safe; use from one test thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tenantsync::testing {

// Path of a binary built into the build directory ($TENANTSYNC_BUILD_DIR, set by ts_add_test).
std::string BuildPath(const std::string& name);
// $TENANTSYNC_SHARED_DIR, or nullopt when unset or missing on disk.
std::optional<std::string> SharedDir();
// A fresh temporary directory removed by the caller (or left for post-mortem).
std::string MakeTempDir(const std::string& prefix);
// Polls `done` every 50 ms until it holds or `timeout` passes; returns its last answer.
bool WaitFor(const std::function<bool()>& done,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));

class Subprocess {
 public:
  Subprocess(std::string program, std::vector<std::string> args,
             std::map<std::string, std::string> extra_env = {});
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Waits until a line of output contains `needle`; returns that line, or nullopt on timeout or
  // exit. Lines already matched by an earlier call are not skipped, so call in output order.
  std::optional<std::string> WaitForLine(
      const std::string& needle, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Parses "... listening on HOST:PORT" lines: returns PORT for the first line containing `what`.
  int WaitForPort(const std::string& what = "listening on",
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Everything the child printed so far.
  std::string Output() const;
  bool Running();
  void Signal(int sig);
  // Waits for exit; returns the exit code (128+signal when killed), or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::string out_path_;
  std::optional<int> exit_code_;
};

}  // namespace tenantsync::testing
