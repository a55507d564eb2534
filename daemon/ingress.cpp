#include "daemon/ingress.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <variant>

#include "adapters/events/event.h"
#include "daemon/ingress/scim_service.h"
#include "daemon/ingress/vendor_stage.h"

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

std::string MediaType(const std::optional<std::string>& ct) {
  if (!ct) return "";
  std::string media = ct->substr(0, ct->find(';'));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  for (auto& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return media;
}

bool IsJsonContentType(const std::optional<std::string>& ct) {
  return MediaType(ct) == "application/json";
}

// What a source accepts: JSON, plus BambooHR's form posts and HiBob's plain-text ping.
bool AcceptsContentType(const SourceConfig& src, const std::optional<std::string>& ct) {
  if (IsJsonContentType(ct)) return true;
  if (!src.vendor) return false;
  const std::string media = MediaType(ct);
  if (*src.vendor == Vendor::kBambooHr) return media == "application/x-www-form-urlencoded";
  if (*src.vendor == Vendor::kHiBob) return media == "text/plain";
  return false;
}

std::string ContentTypeError(const SourceConfig& src) {
  if (src.vendor && *src.vendor == Vendor::kBambooHr)
    return "Content-Type must be application/json or application/x-www-form-urlencoded";
  return "Content-Type must be application/json";
}

// A source with scheme = "declared" takes no webhooks: its events come from `tenantsync apply`.
std::string DeclaredSourceError(const std::string& name) {
  return "source " + Quoted(name) +
         " is declared (scheme = \"declared\"): it takes no webhooks; its events come from "
         "`tenantsync apply`";
}

// A record kept as `rejected` is answered 422 with the reason it was not acceptable.
std::optional<std::string> Rejection(const EventRecord& record) {
  if (record.state != EventState::kRejected) return std::nullopt;
  return record.error;
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

std::string IngressAnswerBody(const std::string& result, const std::string& event_id,
                              const std::string& error) {
  // Ids are validated and messages built from checked text, so nothing here should be invalid
  // UTF-8; should it be, it is replaced rather than thrown (an answer must always be JSON).
  auto string = [](const std::string& text) {
    // Event ids and results are nearly always printable ASCII without a quote or backslash,
    // which the serializer writes unchanged between quotes; only other text goes through it.
    const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
      return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\';
    });
    if (plain) return '"' + text + '"';
    return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  auto quoted = [&](const std::string& text) {
    return text.empty() ? std::string("null") : string(text);
  };
  // Written in the order nlohmann's object (a sorted map) gives its keys, so the bytes are those
  // the answers always had; only the three values go through the serializer (an answer per
  // event: building and dumping a whole object cost ~10,000 instructions of it).
  std::string body = "{\"error\":";
  body += quoted(error);
  body += ",\"event_id\":";
  body += quoted(event_id);
  body += ",\"status\":";
  body += string(result);
  body += '}';
  return body;
}

ServerResponse Ingress::Answer(const std::string& source, const std::string& event_id,
                               const std::string& result, int status,
                               const std::string& error) const {
  ServerResponse r;
  r.status = status;
  r.body = IngressAnswerBody(result, event_id, error);
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
  if (scim_ && ScimService::Handles(req.path)) return scim_->Precheck(req);  // its own methods
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
  if (!AcceptsContentType(*src, req.Header("Content-Type"))) {
    return refuse(415, "unsupported_media_type", ContentTypeError(*src));
  }
  if (draining_) return refuse(503, "unavailable", "shutting down; retry later");
  return std::nullopt;
}

// Everything up to the durable insert: either the final answer (nothing to store) or the record
// to store. The request's body moves into the record.
std::variant<ServerResponse, Ingress::ToStore> Ingress::Prepare(ServerRequest& req) {
  // The server ran Precheck on this request's head (path, method, source, content type); only
  // what may have changed since is looked at again: the sources (SIGHUP) and draining (SIGTERM).
  if (scim_ && ScimService::Handles(req.path)) return scim_->Handle(req);
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

  ToStore out;
  out.source = source;
  out.event_id = verified->event_id;
  // Parsed once: schemes that take the id from the body hand over what they parsed.
  auto json = verified->parsed_body ? std::move(*verified->parsed_body) : ParseJson(req.body);
  if (!json.ok()) return Answer(source, out.event_id, "bad_request", 400, json.status().message());

  EventRecord& record = out.record;
  record.source = source;
  record.event_id = out.event_id;
  record.received_at_ms = now_ms;
  record.body = std::move(req.body);
  auto event = ParseEvent(std::move(*json));  // a refused body stays whole (its type below)
  if (event.ok()) {
    record.type = EventTypeName(event->type);
    record.occurred_at_ms = event->timestamp_ms;
    record.effective_at_ms = event->effective_at_ms;
    record.state = EventState::kPending;
    out.parsed = std::move(event).value();
  } else {
    // Signed but not acceptable: kept as rejected so an operator can replay it after a fix.
    if (json->is_object() && json->contains("type") && (*json)["type"].is_string()) {
      record.type = (*json)["type"].get<std::string>();
    }
    record.state = EventState::kRejected;
    record.error = event.status().message();
  }
  return out;
}

ServerResponse Ingress::Stored(const std::string& source, const std::string& event_id,
                               const std::optional<std::string>& rejection,
                               const Result<InsertOutcome>& stored) const {
  if (!stored.ok()) return Answer(source, event_id, "unavailable", 503, stored.status().message());
  if (*stored == InsertOutcome::kDuplicate) return Answer(source, event_id, "duplicate", 200, "");
  if (rejection) return Answer(source, event_id, "rejected", 422, *rejection);
  return Answer(source, event_id, "accepted", 202, "");
}

std::shared_ptr<const SourceConfig> Ingress::VendorSourceOf(const ServerRequest& req) const {
  if (scim_ && ScimService::Handles(req.path)) return nullptr;
  auto name = SourceName(req.path);
  if (!name) return nullptr;
  auto sources = Sources();
  for (auto& s : *sources) {
    // Aliasing: the config stays alive as long as the pointer, across a SIGHUP.
    if (s.name == *name && s.vendor) return std::shared_ptr<const SourceConfig>(sources, &s);
  }
  return nullptr;
}

void Ingress::HandleVendor(ServerRequest req, std::shared_ptr<const SourceConfig> src,
                           std::function<void(ServerResponse)> respond) {
  const std::string& source = src->name;
  auto close = [](ServerResponse r) {
    r.close_connection = true;
    return r;
  };
  if (draining_)
    return respond(close(Answer(source, "", "unavailable", 503, "shutting down; retry later")));
  if (vendors_ == nullptr) {
    return respond(
        Answer(source, "", "unavailable", 503, "the vendor connector stage is not running"));
  }
  const int64_t now_ms = clock_.NowUnixMillis();
  VendorRequest vreq;
  vreq.method = req.method;
  vreq.query = req.query;
  vreq.headers = [&](std::string_view h) { return req.Header(h); };
  vreq.body = req.body;
  auto verified = VerifyVendorDelivery(src->vendor_verify, vreq, now_ms);
  if (!verified.ok())
    return respond(Answer(source, "", "unauthorized", 401, verified.status().message()));
  if (verified->kind == DeliveryKind::kHandshake) return respond(Answer(source, "", "ok", 200, ""));
  auto decoded =
      DecodeNotifications(*src->vendor, req.Header("Content-Type").value_or(""), req.body);
  if (!decoded.ok())
    return respond(Answer(source, "", "bad_request", 400, decoded.status().message()));
  if (decoded->empty()) return respond(Answer(source, "", "ignored", 200, ""));
  const std::string first_id = decoded->front().event_id;
  // Stored on the stage's intake thread: a SQLite transaction must not hold the event loop.
  vendors_->Intake(
      *src, std::move(decoded).value(),
      [this, source, first_id,
       respond = std::move(respond)](Result<std::vector<InsertOutcome>> stored) {
        if (!stored.ok()) {
          return respond(Answer(source, first_id, "unavailable", 503, stored.status().message()));
        }
        const bool any = std::any_of(stored->begin(), stored->end(),
                                     [](InsertOutcome o) { return o == InsertOutcome::kInserted; });
        respond(any ? Answer(source, first_id, "accepted", 202, "")
                    : Answer(source, first_id, "duplicate", 200, ""));
      });
}

void Ingress::HandleAsync(ServerRequest req, std::function<void(ServerResponse)> respond) {
  if (auto vendor = VendorSourceOf(req)) {
    return HandleVendor(std::move(req), std::move(vendor), std::move(respond));
  }
  auto prepared = Prepare(req);
  if (auto* answer = std::get_if<ServerResponse>(&prepared)) return respond(std::move(*answer));
  auto& s = std::get<ToStore>(prepared);
  auto rejection = Rejection(s.record);
  // Offered before the insert is queued, so the writer, which sees the event only after its
  // commit, finds it. An event due later is left out: it would hold a slot until then.
  uint64_t offered = 0;
  if (parsed_events_ != nullptr && s.parsed &&
      s.record.effective_at_ms.value_or(0) <= s.record.received_at_ms) {
    offered = parsed_events_->Offer(s.source, s.event_id, s.record.body, std::move(*s.parsed));
  }
  // Answered from the committer thread once the transaction holding the event has committed:
  // "stored durably before answering" (SPEC §4) without a thread waiting for the fsync.
  committer_.InsertAsync(
      std::move(s.record), [this, source = std::move(s.source), event_id = std::move(s.event_id),
                            rejection = std::move(rejection), respond = std::move(respond),
                            offered](Result<InsertOutcome> stored) mutable {
        if (offered != 0 && (!stored.ok() || *stored != InsertOutcome::kInserted)) {
          parsed_events_->Drop(source, event_id, offered);
        }
        respond(Stored(source, event_id, rejection, stored));
      });
}

}  // namespace tenantsync
