#include "daemon/migration_notice.h"

#include <utility>

namespace tenantsync {

MigrationNotice::MigrationNotice(Clock& clock, std::function<void(const std::string&)> notify,
                                 MigrationNoticeOptions options)
    : clock_(clock), notify_(std::move(notify)), options_(options) {
  observer_.starting = [this](const std::string& label) { Starting(label); };
  observer_.working = [this] { Working(); };
}

void MigrationNotice::Starting(const std::string& label) {
  label_ = label;
  label_since_ = clock_.Monotonic();
  // A fresh database runs every migration in milliseconds: one message covers them all.
  Working();
}

void MigrationNotice::Working() {
  if (!last_sent_ || clock_.Monotonic() - *last_sent_ >= options_.interval) Send();
}

void MigrationNotice::Send() {
  const auto now = clock_.Monotonic();
  last_sent_ = now;
  ++sent_;
  const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(options_.extension);
  const auto running = std::chrono::duration_cast<std::chrono::seconds>(now - label_since_);
  notify_("EXTEND_TIMEOUT_USEC=" + std::to_string(usec.count()) +
          "\nSTATUS=migrating the database: " + label_ + " (running " +
          std::to_string(running.count()) + " s)");
}

MigrationProgress::MigrationProgress(Clock& clock, std::function<void(const std::string&)> print,
                                     std::chrono::milliseconds interval)
    : clock_(clock), print_(std::move(print)), interval_(interval) {
  observer_.starting = [this](const std::string& label) { Starting(label); };
  observer_.working = [this] { Working(); };
}

void MigrationProgress::Starting(const std::string& label) {
  label_ = label;
  since_ = last_line_ = clock_.Monotonic();
  print_("applying " + label);
}

void MigrationProgress::Working() {
  const auto now = clock_.Monotonic();
  if (now - last_line_ < interval_) return;
  last_line_ = now;
  const auto running = std::chrono::duration_cast<std::chrono::seconds>(now - since_);
  print_("  " + label_ + ": running " + std::to_string(running.count()) + " s");
}

}  // namespace tenantsync
