// MigrationNotice: keeps systemd's start-up timeout (TimeoutStartSec=300 in the unit) from cutting
// a schema migration short. The daemon migrates before READY=1; on a large database one migration
// can take longer than the timeout (0016 took 32 s per million events, docs/OPERATIONS.md
// "Upgrade"), and a start killed mid-migration rolls it back and, with Restart=on-failure, starts
// it again: the service would never come up. While migrations make progress this tells the service
// manager "EXTEND_TIMEOUT_USEC=<extension>" (sd_notify(3), systemd 236 and later: each message
// moves the timeout to at least `extension` from now, and must be repeated within it) with a
// STATUS= line naming the migration. A migration that stops progressing (waiting on a lock held by
// another process) stops the messages, and the timeout then applies as configured.
//
// Thread safety: one thread (the one migrating). The notify function is called on it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "common/clock.h"
#include "storage/migrations.h"

namespace tenantsync {

struct MigrationNoticeOptions {
  // At most one message per interval; well inside `extension` so a late one still lands in time.
  std::chrono::milliseconds interval{10000};
  // How far each message moves the start-up timeout.
  std::chrono::milliseconds extension{60000};
};

class MigrationNotice {
 public:
  // `notify` receives sd_notify state strings; `clock` times the messages. Neither is owned.
  MigrationNotice(Clock& clock, std::function<void(const std::string&)> notify,
                  MigrationNoticeOptions options = {});

  // Hooks for StorageOptions::migration_observer, bound to this object (which must outlive it).
  const MigrationObserver& observer() const { return observer_; }

  // A migration begins: a message unless one went out less than `interval` ago.
  void Starting(const std::string& label);
  // The running migration made progress: a message once `interval` has passed since the last.
  void Working();

  // Messages sent so far.
  int sent() const { return sent_; }

 private:
  void Send();

  Clock& clock_;
  std::function<void(const std::string&)> notify_;
  MigrationNoticeOptions options_;
  MigrationObserver observer_;
  std::string label_;
  Clock::MonoTime label_since_{};
  std::optional<Clock::MonoTime> last_sent_;
  int sent_ = 0;
};

// MigrationProgress: what `tenantsync migrate` prints while it migrates, so that an operator
// upgrading a large database sees what runs instead of a silent terminal (0016 took 32 s per
// million events): a line as each migration starts ("applying 0016_checks_compared_in_place"),
// and while one runs and makes progress, a line every `interval` with how long it has run. A
// migration that makes no progress (waiting on a lock) prints nothing more.
//
// Thread safety: one thread (the one migrating). `print` is called on it.
class MigrationProgress {
 public:
  // `print` receives one line at a time, without its newline; `clock` times them. Neither is
  // owned.
  MigrationProgress(Clock& clock, std::function<void(const std::string&)> print,
                    std::chrono::milliseconds interval = std::chrono::seconds(10));

  // Hooks for StorageOptions::migration_observer, bound to this object (which must outlive it).
  const MigrationObserver& observer() const { return observer_; }

  void Starting(const std::string& label);
  void Working();

 private:
  Clock& clock_;
  std::function<void(const std::string&)> print_;
  std::chrono::milliseconds interval_;
  MigrationObserver observer_;
  std::string label_;
  Clock::MonoTime since_{};
  Clock::MonoTime last_line_{};
};

}  // namespace tenantsync
