// Helpers shared by the end-to-end benchmarks (bench-reconcile, bench-drift): timing, process
// figures from /proc, locating the built binaries, and reading the daemon's status. Header-only.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace tenantsync::bench {

// Seconds since `t0` on the steady clock.
inline double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Wall-clock time in Unix milliseconds (comparable with timestamps the simulator records).
inline int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Unix milliseconds of an RFC 3339 UTC time as auth0-sim writes it ("2026-11-30T10:39:47.123Z";
// the fraction is optional); -1 when it does not parse.
inline int64_t ParseRfc3339Ms(const std::string& s) {
  std::tm tm{};
  int ms = 0, n = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
    return -1;
  if (s.size() > static_cast<size_t>(n) + 1 && s[static_cast<size_t>(n)] == '.') {
    int digits = 0;
    for (size_t i = static_cast<size_t>(n) + 1;
         i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && digits < 3;
         ++i, ++digits)
      ms = ms * 10 + (s[i] - '0');
    for (; digits < 3; ++digits) ms *= 10;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

// Nearest-rank percentile (0 < p <= 100) of `v`; 0 for an empty `v`.
inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// RFC 3339 UTC time of a Unix timestamp.
inline std::string Rfc3339(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// User+system CPU seconds used so far by process `pid` (/proc/PID/stat fields 14 and 15).
inline double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::strtod(field.c_str(), nullptr);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// User+system CPU seconds used so far by each live thread of `pid`, summed by thread name
// (/proc/PID/task/TID/stat: the name in parentheses, fields 14 and 15). tenantsync names its
// threads (common/thread_name.h); threads that already exited are not counted.
inline std::map<std::string, double> ThreadCpuSecondsByName(pid_t pid) {
  std::map<std::string, double> out;
  std::error_code ec;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    const std::string name = stat.substr(open + 1, close - open - 1);
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i >= 14) ticks += std::strtod(field.c_str(), nullptr);
    }
    out[name] += ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return out;
}

// Peak resident memory (VmHWM) of process `pid` in KiB; 0 when unreadable.
inline int64_t VmHwmKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

// The build directory holding tenantsync and auth0-sim: --build-dir, $TENANTSYNC_BUILD_DIR, or
// found next to this executable.
inline std::string FindBuildDir(const std::string& flag) {
  namespace fs = std::filesystem;
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("TENANTSYNC_BUILD_DIR"); env != nullptr && *env != '\0')
    return env;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return ".";
  for (fs::path dir : {exe.parent_path().parent_path(), exe.parent_path()}) {
    if (fs::exists(dir / "tenantsync", ec) && fs::exists(dir / "auth0-sim", ec))
      return dir.string();
  }
  return exe.parent_path().parent_path().string();
}

// Whether /v1/status says nothing is left to do (no pending event, dirty entity or mutation).
inline bool Converged(const nlohmann::json& s) {
  if (!s.is_object() || !s.contains("events") || !s.contains("mutations")) return false;
  return s["events"].value("pending", int64_t{1}) == 0 &&
         s.value("entities_to_reconcile", int64_t{1}) == 0 &&
         s["mutations"].value("pending", int64_t{1}) == 0 &&
         s["mutations"].value("in_flight", int64_t{1}) == 0;
}

}  // namespace tenantsync::bench
