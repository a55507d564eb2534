#include "tests/vendor-sim/server.h"

#include <httplib.h>

#include <cctype>

namespace tenantsync::vsim {

namespace {

using json = nlohmann::json;

// "http://127.0.0.1:8080/path" → host, port, path. Only loopback targets: the simulator must
// never post anywhere else.
bool ParseLoopbackUrl(const std::string& url, std::string* host, int* port, std::string* path) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return false;
  auto slash = url.find('/', scheme.size());
  std::string hostport = url.substr(scheme.size(), slash - scheme.size());
  *path = slash == std::string::npos ? "/" : url.substr(slash);
  auto colon = hostport.rfind(':');
  if (colon == std::string::npos) return false;
  *host = hostport.substr(0, colon);
  try {
    *port = std::stoi(hostport.substr(colon + 1));
  } catch (...) {
    return false;
  }
  return *host == "127.0.0.1" || *host == "localhost";
}

void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

}  // namespace

struct SimHttpServer::Impl {
  VendorSim& sim;
  std::string host;
  int port;
  httplib::Server server;

  Impl(VendorSim& s, std::string h, int p) : sim(s), host(std::move(h)), port(p) {}

  void Send(const json& body, httplib::Response& res) {
    bool replay = false;
    auto parsed = VendorSim::ParseSend(body, &replay);
    if (!parsed.ok()) return Reply(res, 400, {{"error", parsed.status().message()}});
    auto& [cmd, url] = *parsed;
    Delivery d;
    if (replay) {
      auto last = sim.LastDelivery(cmd.vendor);
      if (!last) return Reply(res, 409, {{"error", "nothing was sent for this vendor yet"}});
      d = *last;
    } else {
      auto built = sim.BuildDelivery(cmd);
      if (!built.ok()) return Reply(res, 400, {{"error", built.status().message()}});
      d = std::move(*built);
    }
    std::string to_host, path;
    int to_port = 0;
    if (!ParseLoopbackUrl(url, &to_host, &to_port, &path))
      return Reply(res, 400, {{"error", "url: must be http://127.0.0.1:PORT/... (loopback only)"}});
    if (!d.query.empty()) path += "?" + d.query;
    httplib::Client client(to_host, to_port);
    client.set_connection_timeout(5);
    client.set_read_timeout(15);
    httplib::Headers headers;
    for (const auto& [k, v] : d.headers) headers.emplace(k, v);
    auto r = client.Post(path, headers, d.body, d.content_type);
    // A replay is the vendor re-sending what it sent before, so only authentic ones are kept.
    if (!replay && !cmd.bad_signature) sim.RememberDelivery(d);
    if (!r) return Reply(res, 502, {{"error", "the receiver did not answer"}});
    json answer = json::parse(r->body, nullptr, false);
    Reply(res, 200,
          {{"status", r->status}, {"body", answer.is_discarded() ? json(r->body) : answer}});
  }

  void Handle(const httplib::Request& req, httplib::Response& res) {
    try {
      if (req.path.rfind("/__sim/", 0) == 0) {
        if (req.path == "/__sim/requests" && req.method == "GET")
          return Reply(res, 200, sim.RequestLog());
        json body = json::parse(req.body, nullptr, false);
        if (body.is_discarded()) return Reply(res, 400, {{"error", "body is not JSON"}});
        if (req.path == "/__sim/send") return Send(body, res);
        auto st = sim.Control(req.path, body);
        if (st.ok()) return Reply(res, 200, {{"ok", true}});
        return Reply(res, st.kind() == StatusKind::kNotFound ? 404 : 400,
                     {{"error", st.message()}});
      }
      SimRequest r;
      r.method = req.method;
      r.path = req.path;
      for (const auto& [k, v] : req.params) r.params[k] = v;
      for (const auto& [k, v] : req.headers) {
        std::string lower = k;
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[lower] = v;
      }
      r.body = req.body;
      SimResponse out = sim.HandleApi(r);
      res.status = out.status;
      for (const auto& [k, v] : out.headers) res.set_header(k, v);
      res.set_content(out.body, "application/json");
    } catch (const std::exception& e) {
      Reply(res, 500, {{"error", std::string("internal error: ") + e.what()}});
    }
  }
};

SimHttpServer::SimHttpServer(VendorSim& sim, std::string host, int port)
    : impl_(std::make_unique<Impl>(sim, std::move(host), port)) {
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    impl_->Handle(req, res);
  };
  impl_->server.Get(".*", handler);
  impl_->server.Post(".*", handler);
}

SimHttpServer::~SimHttpServer() { Stop(); }

int SimHttpServer::Bind() {
  if (impl_->port == 0) return impl_->server.bind_to_any_port(impl_->host);
  return impl_->server.bind_to_port(impl_->host, impl_->port) ? impl_->port : -1;
}

bool SimHttpServer::Listen() { return impl_->server.listen_after_bind(); }

void SimHttpServer::Stop() { impl_->server.stop(); }

}  // namespace tenantsync::vsim
