// Test support: a small blocking HTTP client for tests and benchmarks (loopback only), so that
// test files need not include httplib.h. Keep-alive; not thread-safe (one per thread).
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace tenantsync::testing {

struct TestResponse {
  int status = 0;  // 0: connection failed
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  nlohmann::json Json() const;
  std::string Header(const std::string& lower_name) const;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class TestHttpClient {
 public:
  TestHttpClient(std::string host, int port, int timeout_seconds = 10);
  ~TestHttpClient();

  TestResponse Get(const std::string& path, const HeaderList& headers = {});
  TestResponse Post(const std::string& path, const std::string& body,
                    const HeaderList& headers = {},
                    const std::string& content_type = "application/json");
  TestResponse Send(const std::string& method, const std::string& path, const std::string& body,
                    const HeaderList& headers = {},
                    const std::string& content_type = "application/json");

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Sends `raw` bytes on a fresh TCP connection and returns everything read until the peer closes
// or `timeout_ms` passes (for malformed, chunked or slow requests).
std::string RawExchange(const std::string& host, int port, const std::string& raw,
                        int timeout_ms = 3000);

}  // namespace tenantsync::testing
