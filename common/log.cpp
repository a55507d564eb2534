#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

namespace tenantsync {

bool StderrIsJournal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (js == nullptr) return false;
  struct stat st{};
  if (fstat(fileno(stderr), &st) != 0) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

bool InitLogging(const LogOptions& options) {
  auto level = spdlog::level::from_str(options.level);
  if (level == spdlog::level::off && options.level != "off") return false;
  auto logger = spdlog::stderr_logger_mt("tenantsync-" + std::to_string(reinterpret_cast<uintptr_t>(&options)));
  if (options.format == LogFormat::kJson) {
    // Messages are escaped by the caller-facing helpers; the pattern keeps one object per line.
    logger->set_pattern(options.journald
                            ? R"({"level":"%l","msg":"%v"})"
                            : R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%v"})",
                        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern(options.journald ? "%l: %v" : "%Y-%m-%dT%H:%M:%S.%eZ %l %v",
                        spdlog::pattern_time_type::utc);
  }
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return true;
}

std::string Redact(std::string text, std::initializer_list<std::string_view> secrets) {
  for (auto s : secrets) {
    if (s.empty()) continue;
    size_t pos = 0;
    while ((pos = text.find(s, pos)) != std::string::npos) {
      text.replace(pos, s.size(), "[redacted]");
      pos += 10;
    }
  }
  return text;
}

}  // namespace tenantsync
