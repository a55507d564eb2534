// CliHttp: the operator CLI's HTTP client (admin API and `send`), keeping httplib out of the
// CLI's own translation units. Blocking, one request at a time; not thread-safe.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tenantsync {

struct CliHttpResponse {
  int status = 0;     // 0: no answer (connection refused, timeout)
  std::string error;  // why there was no answer
  std::string body;
};

class CliHttp {
 public:
  // `address` is "HOST:PORT", "[v6]:PORT", "http(s)://HOST:PORT" or "unix:/path".
  explicit CliHttp(const std::string& address, int timeout_seconds = 30);
  ~CliHttp();
  CliHttpResponse Send(const std::string& method, const std::string& path, const std::string& body,
                       const std::vector<std::pair<std::string, std::string>>& headers);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tenantsync
