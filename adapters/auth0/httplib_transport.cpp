// The only translation unit that includes <httplib.h> (it is heavy, and builds run on 2 cores).
#include <httplib.h>
#include <sys/stat.h>

#include <cctype>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "adapters/auth0/http_transport.h"

namespace tenantsync {
namespace {

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class HttplibTransport final : public HttpTransport {
 public:
  HttplibTransport(const Auth0Options& options, BaseUrl base)
      : options_(options), base_(std::move(base)) {
    options_.client_secret.clear();  // the transport never needs it
    max_clients_ = options_.max_in_flight > 0 ? static_cast<size_t>(options_.max_in_flight) : 1;
  }

  HttpResponse Send(const HttpRequest& request) override {
    std::unique_ptr<httplib::Client> client = Checkout();
    httplib::Request req;
    req.method = request.method;
    req.path = request.target;
    for (const auto& [k, v] : request.headers) req.headers.emplace(k, v);
    if (!request.content_type.empty()) req.headers.emplace("Content-Type", request.content_type);
    req.body = request.body;

    HttpResponse out = Exchange(*client, req);
    Return(std::move(client));
    return out;
  }

  HttpResponse Fetch(const std::string& url) override {
    std::string target;
    auto where = ResolveFetchUrl(url, &target);
    if (!where.ok()) {
      HttpResponse out;
      out.transport_error = TransportError::kConnect;
      out.error_message = where.status().message();
      return out;
    }
    // A one-off connection: downloads are rare (one per drift pass) and go to another host.
    auto client = NewClient(*where);
    client->set_keep_alive(false);
    httplib::Request req;
    req.method = "GET";
    req.path = target;
    return Exchange(*client, req);
  }

 private:
  HttpResponse Exchange(httplib::Client& client, const httplib::Request& req) const {
    auto started = std::chrono::steady_clock::now();
    HttpResponse out;
    // httplib reports failures as values, but whatever a peer sends must not end the process:
    // an exception from parsing its answer (or bad_alloc) is one more transport failure.
    try {
      httplib::Result res = client.send(req);
      if (res) {
        out.status = res->status;
        for (const auto& [k, v] : res->headers) out.headers.emplace(Lower(k), v);
        out.body = std::move(res->body);
      } else {
        auto elapsed = std::chrono::steady_clock::now() - started;
        out.transport_error = Classify(res.error(), elapsed);
        // to_string(Error) names the failure only; the request (and its Authorization header) is
        // never part of the message.
        out.error_message = httplib::to_string(res.error());
      }
    } catch (const std::exception&) {
      out = HttpResponse{};
      out.transport_error = TransportError::kClosed;
      out.error_message = "the HTTP client failed while reading the answer";
    }
    return out;
  }

  TransportError Classify(httplib::Error e, std::chrono::steady_clock::duration elapsed) const {
    switch (e) {
      case httplib::Error::ConnectionTimeout:
        return TransportError::kTimeout;
      case httplib::Error::Connection:
      case httplib::Error::BindIPAddress:
      case httplib::Error::SSLConnection:
      case httplib::Error::SSLLoadingCerts:
      case httplib::Error::SSLServerVerification:
        return TransportError::kConnect;
      case httplib::Error::Read:
        // httplib reports a read timeout and a peer reset alike; the time spent tells them apart.
        return elapsed + std::chrono::milliseconds(50) >= options_.read_timeout
                   ? TransportError::kTimeout
                   : TransportError::kClosed;
      default:
        return TransportError::kClosed;
    }
  }

  std::unique_ptr<httplib::Client> Checkout() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || created_ < max_clients_; });
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
    ++created_;
    lock.unlock();
    return NewClient(base_);
  }

  void Return(std::unique_ptr<httplib::Client> client) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      idle_.push_back(std::move(client));
    }
    cv_.notify_one();
  }

  static std::string Origin(const BaseUrl& b) {
    std::string host = b.host.find(':') != std::string::npos ? "[" + b.host + "]" : b.host;
    return b.scheme + "://" + host + ":" + std::to_string(b.port);
  }

  std::unique_ptr<httplib::Client> NewClient(const BaseUrl& where) const {
    auto c = std::make_unique<httplib::Client>(Origin(where));
    c->set_keep_alive(true);
    c->set_tcp_nodelay(true);
    c->set_url_encode(false);  // targets arrive percent-encoded; encoding twice would corrupt ids
    c->set_follow_location(false);
    c->set_connection_timeout(options_.connect_timeout);
    c->set_read_timeout(options_.read_timeout);
    c->set_write_timeout(options_.read_timeout);
    c->set_default_headers({{"User-Agent", "tenantsync/0.1"}});
    if (where.scheme == "https") {
      c->enable_server_certificate_verification(true);
      struct stat st {};
      // Without an explicit bundle httplib falls back to OpenSSL's default verify paths.
      if (!options_.ca_cert_path.empty() && stat(options_.ca_cert_path.c_str(), &st) == 0) {
        c->set_ca_cert_path(options_.ca_cert_path);
      }
    }
    return c;
  }

  Auth0Options options_;  // client_secret cleared
  const BaseUrl base_;
  size_t max_clients_ = 1;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<httplib::Client>> idle_;  // guarded by mu_
  size_t created_ = 0;                                  // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<HttpTransport>> NewHttplibTransport(const Auth0Options& options) {
  auto base = ResolveBaseUrl(options);
  if (!base.ok()) return base.status();
  return std::unique_ptr<HttpTransport>(new HttplibTransport(options, std::move(base).value()));
}

}  // namespace tenantsync
