#include "daemon/admin.h"

#include <nlohmann/json.hpp>

#include "common/crypto.h"

namespace tenantsync {
namespace {

ServerResponse Json(int status, const nlohmann::json& body) {
  ServerResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

ServerResponse Error(int status, const std::string& message) {
  return Json(status, {{"error", message}});
}

nlohmann::json EventJson(const EventRecord& e) {
  nlohmann::json j = {{"seq", e.seq},
                      {"source", e.source},
                      {"event_id", e.event_id},
                      {"type", e.type ? nlohmann::json(*e.type) : nlohmann::json(nullptr)},
                      {"state", EventStateName(e.state)},
                      {"received_at_ms", e.received_at_ms},
                      {"updated_at_ms", e.updated_at_ms},
                      {"error", e.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.error)}};
  j["occurred_at_ms"] = e.occurred_at_ms ? nlohmann::json(*e.occurred_at_ms) : nlohmann::json(nullptr);
  j["effective_at_ms"] = e.effective_at_ms ? nlohmann::json(*e.effective_at_ms) : nlohmann::json(nullptr);
  return j;
}

}  // namespace

AdminApi::AdminApi(std::string token, Store& store, AdminHooks hooks)
    : token_(std::move(token)), store_(store), hooks_(std::move(hooks)) {}

void AdminApi::ReplaceToken(std::string token) {
  std::lock_guard<std::mutex> lock(mu_);
  token_ = std::move(token);
}

bool AdminApi::Authorized(const ServerRequest& req) {
  auto h = req.Header("Authorization");
  if (!h || h->rfind("Bearer ", 0) != 0) return false;
  std::string presented = h->substr(7);
  std::lock_guard<std::mutex> lock(mu_);
  // Compare digests so the comparison time does not even depend on the presented length.
  return crypto::ConstantTimeEquals(crypto::Sha256(presented), crypto::Sha256(token_));
}

ServerResponse AdminApi::Handle(const ServerRequest& req) {
  if (req.path == "/healthz") return Json(200, {{"status", "ok"}});
  if (!Authorized(req)) return Error(401, "unauthorized");
  if (req.path == "/readyz") {
    auto counts = store_.CountEventsByState();
    bool storage_ok = counts.ok();
    bool auth0_ok = hooks_.auth0_token_valid && hooks_.auth0_token_valid();
    return Json(storage_ok && auth0_ok ? 200 : 503,
                {{"ready", storage_ok && auth0_ok}, {"storage", storage_ok}, {"auth0_token", auth0_ok}});
  }
  if (req.method == "GET" && req.path == "/v1/status") return Status();
  if (req.method == "GET" && req.path == "/v1/events") return Events(req);
  const std::string prefix = "/v1/events/";
  if (req.method == "GET" && req.path.rfind(prefix, 0) == 0) return Event(req, req.path.substr(prefix.size()));
  return Error(404, "no such endpoint: " + req.method + " " + req.path);
}

ServerResponse AdminApi::Status() {
  auto counts = store_.CountEventsByState();
  if (!counts.ok()) return Error(503, counts.status().message());
  nlohmann::json events = nlohmann::json::object();
  for (auto state : {"pending", "applied", "rejected", "failed"}) {
    auto it = counts->find(state);
    events[state] = it == counts->end() ? 0 : it->second;
  }
  return Json(200, {{"events", events}});
}

ServerResponse AdminApi::Events(const ServerRequest& req) {
  EventFilter f;
  if (auto s = req.Param("state")) {
    f.state = ParseEventState(*s);
    if (!f.state) return Error(400, "state must be one of pending, applied, rejected, failed (got \"" + *s + "\")");
  }
  if (auto s = req.Param("source")) f.source = *s;
  if (auto s = req.Param("limit")) {
    char* end = nullptr;
    long n = std::strtol(s->c_str(), &end, 10);
    if (s->empty() || *end != '\0' || n < 1 || n > 1000) return Error(400, "limit must be an integer from 1 to 1000");
    f.limit = static_cast<int>(n);
  }
  if (auto s = req.Param("after")) {
    char* end = nullptr;
    long long n = std::strtoll(s->c_str(), &end, 10);
    if (s->empty() || *end != '\0' || n < 0) return Error(400, "after must be a non-negative sequence number");
    f.after_seq = n;
  }
  auto list = store_.ListEvents(f);
  if (!list.ok()) return Error(503, list.status().message());
  nlohmann::json items = nlohmann::json::array();
  for (auto& e : *list) items.push_back(EventJson(e));
  nlohmann::json body = {{"events", items}};
  body["next_after"] = list->size() == static_cast<size_t>(f.limit) ? nlohmann::json(list->back().seq) : nlohmann::json(nullptr);
  return Json(200, body);
}

ServerResponse AdminApi::Event(const ServerRequest& req, const std::string& id) {
  EventFilter f;
  f.event_id = id;
  if (auto s = req.Param("source")) f.source = *s;
  f.limit = 2;
  auto list = store_.ListEvents(f);
  if (!list.ok()) return Error(503, list.status().message());
  if (list->empty()) return Error(404, "no event with id \"" + id + "\"");
  if (list->size() > 1) return Error(409, "several sources sent event id \"" + id + "\"; add ?source=NAME");
  auto j = EventJson(list->front());
  j["body"] = nlohmann::json::parse(list->front().body, nullptr, false);
  if (j["body"].is_discarded()) j["body"] = list->front().body;
  return Json(200, j);
}

}  // namespace tenantsync
