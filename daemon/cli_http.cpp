#include "daemon/cli_http.h"

#include <httplib.h>
#include <sys/socket.h>

namespace tenantsync {

struct CliHttp::Impl {
  std::unique_ptr<httplib::Client> client;
};

CliHttp::CliHttp(const std::string& address, int timeout_seconds)
    : impl_(std::make_unique<Impl>()) {
  if (address.rfind("unix:", 0) == 0) {
    impl_->client = std::make_unique<httplib::Client>(address.substr(5));
    impl_->client->set_address_family(AF_UNIX);
  } else if (address.rfind("http://", 0) == 0 || address.rfind("https://", 0) == 0) {
    impl_->client = std::make_unique<httplib::Client>(address);
  } else {
    impl_->client = std::make_unique<httplib::Client>("http://" + address);
  }
  impl_->client->set_tcp_nodelay(true);
  impl_->client->set_connection_timeout(timeout_seconds, 0);
  impl_->client->set_read_timeout(timeout_seconds, 0);
}

CliHttp::~CliHttp() = default;

CliHttpResponse CliHttp::Send(const std::string& method, const std::string& path,
                              const std::string& body,
                              const std::vector<std::pair<std::string, std::string>>& headers) {
  httplib::Request req;
  req.method = method;
  req.path = path;
  for (auto& [k, v] : headers) req.headers.emplace(k, v);
  if (method != "GET") {
    req.body = body;
    if (req.headers.find("Content-Type") == req.headers.end())
      req.headers.emplace("Content-Type", "application/json");
  }
  CliHttpResponse out;
  auto res = impl_->client->send(req);
  if (!res) {
    out.error = httplib::to_string(res.error());
    return out;
  }
  out.status = res->status;
  out.body = res->body;
  return out;
}

}  // namespace tenantsync
