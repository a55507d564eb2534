#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace tenantsync::testing {

nlohmann::json TestResponse::Json() const { return nlohmann::json::parse(body, nullptr, false); }

std::string TestResponse::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

struct TestHttpClient::Impl {
  httplib::Client client;
  Impl(const std::string& host, int port) : client(host, port) {}
};

TestHttpClient::TestHttpClient(std::string host, int port, int timeout_seconds)
    : impl_(std::make_unique<Impl>(host, port)) {
  impl_->client.set_keep_alive(true);
  impl_->client.set_tcp_nodelay(true);
  impl_->client.set_connection_timeout(timeout_seconds, 0);
  impl_->client.set_read_timeout(timeout_seconds, 0);
  impl_->client.set_write_timeout(timeout_seconds, 0);
}

TestHttpClient::~TestHttpClient() = default;

TestResponse TestHttpClient::Get(const std::string& path, const HeaderList& headers) {
  return Send("GET", path, "", headers);
}

TestResponse TestHttpClient::Post(const std::string& path, const std::string& body,
                                  const HeaderList& headers, const std::string& content_type) {
  return Send("POST", path, body, headers, content_type);
}

TestResponse TestHttpClient::Send(const std::string& method, const std::string& path,
                                  const std::string& body, const HeaderList& headers,
                                  const std::string& content_type) {
  httplib::Request req;
  req.method = method;
  req.path = path;
  for (auto& [k, v] : headers) req.headers.emplace(k, v);
  if (method != "GET" && method != "DELETE") {
    req.body = body;
    if (!content_type.empty()) req.headers.emplace("Content-Type", content_type);
  } else if (!body.empty()) {
    req.body = body;
  }
  auto res = impl_->client.send(req);
  TestResponse out;
  if (!res) return out;
  out.status = res->status;
  out.body = res->body;
  for (auto& [k, v] : res->headers) {
    std::string lower = k;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[lower] = v;
  }
  return out;
}

std::string RawExchange(const std::string& host, int port, const std::string& raw, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  (void)!write(fd, raw.data(), raw.size());
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (poll(&p, 1, left > 0 ? left : 0) <= 0) break;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

}  // namespace tenantsync::testing
