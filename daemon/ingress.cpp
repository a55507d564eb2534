#include "daemon/ingress.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "adapters/events/event.h"

namespace tenantsync {
namespace {

constexpr std::string_view kPrefix = "/webhooks/";

std::optional<std::string> SourceName(const std::string& path) {
  if (path.compare(0, kPrefix.size(), kPrefix) != 0) return std::nullopt;
  std::string name = path.substr(kPrefix.size());
  if (name.empty() || name.find('/') != std::string::npos) return std::nullopt;
  return name;
}

// Sender-controlled text (a source name from the path) as it may appear in an answer or a log
// line: JSON-quoted, control characters escaped, bytes that are not UTF-8 replaced.
std::string Quoted(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool IsJsonContentType(const std::optional<std::string>& ct) {
  if (!ct) return false;
  std::string media = ct->substr(0, ct->find(';'));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  for (auto& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return media == "application/json";
}

// A source with scheme = "declared" takes no webhooks: its events come from `tenantsync apply`.
std::string DeclaredSourceError(const std::string& name) {
  return "source " + Quoted(name) +
         " is declared (scheme = \"declared\"): it takes no webhooks; its events come from "
         "`tenantsync apply`";
}

}  // namespace

Ingress::Ingress(std::vector<SourceConfig> sources, GroupCommitter& committer, Clock& clock,
                 int retry_after_seconds)
    : committer_(committer),
      clock_(clock),
      retry_after_seconds_(retry_after_seconds),
      sources_(std::make_shared<const std::vector<SourceConfig>>(std::move(sources))) {}

void Ingress::ReplaceSources(std::vector<SourceConfig> sources) {
  auto next = std::make_shared<const std::vector<SourceConfig>>(std::move(sources));
  std::lock_guard<std::mutex> lock(mu_);
  sources_ = std::move(next);
}

std::shared_ptr<const std::vector<SourceConfig>> Ingress::Sources() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sources_;
}

ServerResponse Ingress::Answer(const std::string& source, const std::string& event_id,
                               const std::string& result, int status,
                               const std::string& error) const {
  nlohmann::json body = {
      {"status", result},
      {"event_id", event_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(event_id)},
      {"error", error.empty() ? nlohmann::json(nullptr) : nlohmann::json(error)}};
  ServerResponse r;
  r.status = status;
  // Ids are validated and messages built from checked text, so nothing here should be invalid
  // UTF-8; should it be, it is replaced rather than thrown (an answer must always be JSON).
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (status == 503) r.headers.emplace_back("Retry-After", std::to_string(retry_after_seconds_));
  ++answered_;
  if (observer_) observer_(source, event_id, result, status);
  // A source name outside the configured alphabet came from an unknown path: quoted in the log,
  // so it cannot forge a log line.
  const bool plain = std::all_of(source.begin(), source.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  const std::string shown = plain ? source : Quoted(source);
  if (status >= 500) {
    spdlog::warn("event source={} id={} result={} status={} error={}", shown, event_id, result,
                 status, error);
  } else if (status >= 300 || LogThisSuccess(result)) {
    spdlog::info("event source={} id={} result={} status={}{}{}", shown, event_id, result, status,
                 error.empty() ? "" : " error=", error);
  }
  return r;
}

bool Ingress::LogThisSuccess(const std::string& result) const {
  const int limit = log_events_per_second_.load(std::memory_order_relaxed);
  if (limit <= 0) return true;
  const int64_t second = clock_.NowUnixMillis() / 1000;
  uint64_t accepted = 0, duplicate = 0;
  int64_t window = 0;
  bool log = false;
  {
    std::lock_guard<std::mutex> lock(log_mu_);
    if (second != log_window_) {
      accepted = unlogged_accepted_;
      duplicate = unlogged_duplicate_;
      window = log_window_;
      unlogged_accepted_ = unlogged_duplicate_ = 0;
      logged_in_window_ = 0;
      log_window_ = second;
    }
    log = logged_in_window_ < limit;
    if (log) {
      ++logged_in_window_;
    } else {
      ++(result == "accepted" ? unlogged_accepted_ : unlogged_duplicate_);
    }
  }
  if (accepted + duplicate > 0) {
    spdlog::info(
        "events not logged one per line (over log_events_per_second={} in the second starting "
        "{}): accepted={} duplicate={}; every event is in the inbox (tenantsync events)",
        limit, window, accepted, duplicate);
  }
  return log;
}

std::optional<ServerResponse> Ingress::Precheck(const ServerRequest& req) const {
  auto name = SourceName(req.path);
  auto refuse = [&](int status, const std::string& result, const std::string& error) {
    // Precheck refusals are final and the body is unread, so the connection must close.
    ServerResponse r = Answer(name.value_or(""), "", result, status, error);
    r.close_connection = true;
    return std::optional<ServerResponse>(r);
  };
  if (!name)
    return refuse(404, "not_found", "no such endpoint; webhooks are POSTed to /webhooks/{source}");
  if (req.method != "POST") return refuse(405, "method_not_allowed", "webhooks must be POSTed");
  auto sources = Sources();
  const SourceConfig* src = nullptr;
  for (auto& s : *sources) {
    if (s.name == *name) src = &s;
  }
  if (!src) return refuse(404, "unknown_source", "unknown source " + Quoted(*name));
  if (src->declared) return refuse(403, "declared_source", DeclaredSourceError(*name));
  if (!IsJsonContentType(req.Header("Content-Type"))) {
    return refuse(415, "unsupported_media_type", "Content-Type must be application/json");
  }
  if (draining_) return refuse(503, "unavailable", "shutting down; retry later");
  return std::nullopt;
}

ServerResponse Ingress::Handle(const ServerRequest& req) {
  // The server ran Precheck on this request's head (path, method, source, content type); only
  // what may have changed since is looked at again: the sources (SIGHUP) and draining (SIGTERM).
  auto name = SourceName(req.path);
  if (!name) return *Precheck(req);
  const std::string& source = *name;
  auto sources = Sources();
  const SourceConfig* src = nullptr;
  for (auto& s : *sources) {
    if (s.name == source) src = &s;
  }
  if (!src) return Answer(source, "", "unknown_source", 404, "unknown source " + Quoted(source));
  if (src->declared) {
    ServerResponse r = Answer(source, "", "declared_source", 403, DeclaredSourceError(source));
    r.close_connection = true;
    return r;
  }
  if (draining_) {
    ServerResponse r = Answer(source, "", "unavailable", 503, "shutting down; retry later");
    r.close_connection = true;
    return r;
  }

  const int64_t now_ms = clock_.NowUnixMillis();
  auto verified = VerifySignature(
      src->signature, [&](std::string_view h) { return req.Header(h); }, req.body, now_ms / 1000);
  if (!verified.ok()) return Answer(source, "", "unauthorized", 401, verified.status().message());
  // Authentic, but an id that cannot be stored, shown or addressed: refused, nothing stored.
  if (!verified->id_status.ok())
    return Answer(source, "", "bad_request", 400, verified->id_status.message());
  const std::string& event_id = verified->event_id;

  // Parsed once: schemes that take the id from the body hand over what they parsed.
  auto json = verified->parsed_body ? std::move(*verified->parsed_body) : ParseJson(req.body);
  if (!json.ok()) return Answer(source, event_id, "bad_request", 400, json.status().message());

  EventRecord record;
  record.source = source;
  record.event_id = event_id;
  record.received_at_ms = now_ms;
  record.body = req.body;
  auto event = ParseEvent(*json);
  if (event.ok()) {
    record.type = EventTypeName(event->type);
    record.occurred_at_ms = event->timestamp_ms;
    record.effective_at_ms = event->effective_at_ms;
    record.state = EventState::kPending;
  } else {
    // Signed but not acceptable: kept as rejected so an operator can replay it after a fix.
    if (json->is_object() && json->contains("type") && (*json)["type"].is_string()) {
      record.type = (*json)["type"].get<std::string>();
    }
    record.state = EventState::kRejected;
    record.error = event.status().message();
  }

  auto stored = committer_.Insert(std::move(record));
  if (!stored.ok()) return Answer(source, event_id, "unavailable", 503, stored.status().message());
  if (*stored == InsertOutcome::kDuplicate) return Answer(source, event_id, "duplicate", 200, "");
  if (!event.ok()) return Answer(source, event_id, "rejected", 422, event.status().message());
  return Answer(source, event_id, "accepted", 202, "");
}

}  // namespace tenantsync
