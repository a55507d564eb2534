// HttpTransport helpers and the httplib transport's failure classification (raw loopback sockets).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "adapters/auth0/http_transport.h"

namespace tenantsync {
namespace {

using namespace std::chrono_literals;

Auth0Options WithBase(std::string base) {
  Auth0Options o;
  o.domain = "example.eu.auth0.com";
  o.base_url = std::move(base);
  return o;
}

TEST(TransportTest, PercentEncodesUserIdsAndQueries) {
  EXPECT_EQ(PercentEncode("auth0|abc"), "auth0%7Cabc");
  EXPECT_EQ(PercentEncode("a b/c@d"), "a%20b%2Fc%40d");
  EXPECT_EQ(PercentEncode("A-z_0.9~"), "A-z_0.9~");
  EXPECT_EQ(BuildQuery({{"q", "email:\"x@y.com\""}, {"per_page", "50"}}),
            "?q=email%3A%22x%40y.com%22&per_page=50");
  EXPECT_EQ(BuildQuery({}), "");
}

TEST(TransportTest, DefaultsToHttpsDomain) {
  auto b = ResolveBaseUrl(WithBase(""));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->scheme, "https");
  EXPECT_EQ(b->host, "example.eu.auth0.com");
  EXPECT_EQ(b->port, 443);
}

TEST(TransportTest, PlainHttpOnlyToLoopback) {
  for (std::string ok :
       {"http://127.0.0.1:4000", "http://localhost:1", "http://[::1]:8080/", "http://127.1.2.3"}) {
    EXPECT_TRUE(ResolveBaseUrl(WithBase(ok)).ok()) << ok;
  }
  for (std::string bad :
       {"http://example.com", "http://10.0.0.1:4000", "http://128.0.0.1", "ftp://127.0.0.1",
        "127.0.0.1:4000", "http://127.0.0.1:99999", "http://127.0.0.1/api"}) {
    auto r = ResolveBaseUrl(WithBase(bad));
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().kind(), StatusKind::kInvalid) << bad;
    }
  }
  auto r = NewHttplibTransport(WithBase("http://auth0.example.com"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kInvalid);
  EXPECT_TRUE(NewHttplibTransport(WithBase("https://auth0.example.com")).ok());
}

TEST(TransportTest, CredentialsInUrlAreRefusedWithoutEchoingThem) {
  auto r = ResolveBaseUrl(WithBase("http://user:hunter2@127.0.0.1:4000"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find("hunter2"), std::string::npos);
}

TEST(TransportTest, DownloadUrlsFollowTheSameRulesAndHideTheSignature) {
  std::string target;
  auto ok = ResolveFetchUrl("https://exports.example.com/t/job_1.json.gz?X-Sig=abc", &target);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->host, "exports.example.com");
  EXPECT_EQ(ok->port, 443);
  EXPECT_EQ(target, "/t/job_1.json.gz?X-Sig=abc");
  auto local = ResolveFetchUrl("http://127.0.0.1:4000/__sim/exports/job_1.json.gz", &target);
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(target, "/__sim/exports/job_1.json.gz");
  auto plain = ResolveFetchUrl("http://exports.example.com/job.json.gz?X-Sig=topsecret", &target);
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.status().kind(), StatusKind::kInvalid);
  EXPECT_EQ(plain.status().message().find("topsecret"), std::string::npos);
  EXPECT_FALSE(ResolveFetchUrl("ftp://exports.example.com/x", &target).ok());
}

// A loopback listener driven by hand: it accepts and then either stays silent or hangs up.
class RawServer {
 public:
  explicit RawServer(bool hang_up) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd_, 8);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, hang_up] {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      (void)!read(c, buf, sizeof(buf));
      if (!hang_up) {
        while (!stop_) std::this_thread::sleep_for(10ms);
      }
      close(c);
    });
  }
  ~RawServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

HttpRequest Get() {
  HttpRequest r;
  r.method = "GET";
  r.target = "/api/v2/users/auth0%7Cabc";
  return r;
}

TEST(TransportTest, ReadTimeoutIsReportedAsTimeout) {
  RawServer server(/*hang_up=*/false);
  auto o = WithBase("http://127.0.0.1:" + std::to_string(server.port()));
  o.read_timeout = 300ms;
  auto t = NewHttplibTransport(o);
  ASSERT_TRUE(t.ok());
  auto resp = t.value()->Send(Get());
  EXPECT_EQ(resp.status, 0);
  EXPECT_EQ(resp.transport_error, TransportError::kTimeout) << resp.error_message;
}

TEST(TransportTest, HangUpIsReportedAsClosed) {
  RawServer server(/*hang_up=*/true);
  auto o = WithBase("http://127.0.0.1:" + std::to_string(server.port()));
  o.read_timeout = 5000ms;
  auto t = NewHttplibTransport(o);
  ASSERT_TRUE(t.ok());
  auto resp = t.value()->Send(Get());
  EXPECT_EQ(resp.status, 0);
  EXPECT_EQ(resp.transport_error, TransportError::kClosed) << resp.error_message;
}

TEST(TransportTest, RefusedConnectionIsReportedAsConnect) {
  int port;
  {
    RawServer server(true);
    port = server.port();
  }
  auto t = NewHttplibTransport(WithBase("http://127.0.0.1:" + std::to_string(port)));
  ASSERT_TRUE(t.ok());
  auto resp = t.value()->Send(Get());
  EXPECT_EQ(resp.transport_error, TransportError::kConnect) << resp.error_message;
}

}  // namespace
}  // namespace tenantsync
