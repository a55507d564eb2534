// Logging set-up. All tenantsync code logs through spdlog's default logger after
// InitLogging(); run-time format strings must go through fmt::runtime.
//
// Secrets: never pass a secret, token or password to a log call. Redact() is for the rare
// value that may embed one (a URL with credentials, a header dump).
#pragma once

#include <string>
#include <string_view>

namespace tenantsync {

enum class LogFormat { kText, kJson };

struct LogOptions {
  LogFormat format = LogFormat::kText;
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  // When true, lines carry no timestamp (journald adds its own). Default: detected from
  // $JOURNAL_STREAM matching stderr.
  bool journald = false;
};

// Detects whether stderr is connected to the systemd journal ($JOURNAL_STREAM).
bool StderrIsJournal();

// Installs the default logger writing to stderr. Returns false (and changes nothing) when the
// level name is unknown.
bool InitLogging(const LogOptions& options);

// Replaces every occurrence of each non-empty secret in `text` with "[redacted]".
std::string Redact(std::string text, std::initializer_list<std::string_view> secrets);

}  // namespace tenantsync
