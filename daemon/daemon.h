// The `serve` command: wires storage, ingress and the admin listener together and runs the
// one main loop (signals, the periodic tick for timers, systemd notifications).
#pragma once

#include <string>

namespace tenantsync {

struct ServeFlags {
  std::string config_path;
  bool dry_run = false;
};

// Runs until SIGTERM/SIGINT. Returns the process exit code: 0 after a clean drain, 2 for a
// configuration error, 1 for any other start-up failure.
int RunServe(const ServeFlags& flags);

// The `migrate` command: applies pending migrations and prints what it did.
int RunMigrate(const std::string& config_path);

// The `backup` command: a consistent online copy (SQLite VACUUM INTO) of the database, safe
// while the daemon runs; refuses to overwrite an existing file.
int RunBackup(const std::string& config_path, const std::string& to);

}  // namespace tenantsync
