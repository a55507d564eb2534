#include "daemon/declared_api.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "adapters/events/event.h"
#include "daemon/declared/live_fields.h"
#include "daemon/declared/state_json.h"
#include "daemon/writer.h"

namespace tenantsync {
namespace {

using Json = nlohmann::json;

ServerResponse JsonAnswer(int status, const Json& body) {
  ServerResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

ServerResponse Error(int status, const std::string& message) {
  return JsonAnswer(status, {{"error", message}});
}

// RFC 3339 UTC with milliseconds: the envelope timestamp of an apply's events.
std::string Rfc3339(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

std::string SchemeName(const SourceConfig& s) {
  if (s.declared) return "declared";
  if (s.scim) return "scim";
  if (s.vendor) return VendorName(*s.vendor);
  return SignatureSchemeName(s.signature.scheme);
}

// `with_auth0_ids` (?auth0_ids=true, for `tenantsync export`): also "auth0_ids":
// {"organizations": {external_id: auth0_id}, "users": {...}} for the entities of the state.
ServerResponse Declared(SqliteStore& store, const std::string& source, bool with_auth0_ids) {
  auto row = store.ReadDeclared(source);
  if (!row.ok()) return Error(503, row.status().message());
  Json state = Json{{"organizations", Json::array()}, {"users", Json::array()}};
  if (!row->state.empty()) {
    state = Json::parse(row->state, nullptr, false);
    if (state.is_discarded()) return Error(503, "the stored declared state is not JSON");
  }
  Json answer = {{"source", source},
                 {"revision", row->revision},
                 {"applied_at_ms", row->revision > 0 ? Json(row->applied_at_ms) : Json(nullptr)},
                 {"state", state}};
  if (with_auth0_ids) {
    Json ids = Json::object();
    for (auto [kind, key] : {std::pair{"org", "organizations"}, std::pair{"user", "users"}}) {
      auto known = store.Auth0IdsByExternalId(kind);
      if (!known.ok()) return Error(503, known.status().message());
      Json of_kind = Json::object();
      const Json entities = state.is_object() && state.contains(key) ? state[key] : Json();
      for (const auto& e : entities.is_array() ? entities : Json::array()) {
        const std::string ext = e.is_object() ? e.value("external_id", "") : "";
        if (auto it = known->find(ext); it != known->end()) of_kind[ext] = it->second;
      }
      ids[key] = std::move(of_kind);
    }
    answer["auth0_ids"] = std::move(ids);
  }
  return JsonAnswer(200, answer);
}

// GET /v1/sources/{name}/live-fields (issue 15 item 6): the fields of the entities in the
// source's stored state that another source set after the source's last apply (per-field
// last-writer-wins; `apply --plan` warns about them). {source, since_ms, fields: [...]}.
ServerResponse LiveFields(SqliteStore& store, const std::string& source) {
  auto row = store.ReadDeclared(source);
  if (!row.ok()) return Error(503, row.status().message());
  const int64_t since = row->revision > 0 ? row->applied_at_ms : 0;
  std::vector<declared::LiveField> fields;
  if (!row->state.empty()) {
    auto state = declared::StateFromJson(Json::parse(row->state, nullptr, false));
    if (!state.ok()) return Error(503, "the stored declared state: " + state.status().message());
    auto scan = [&](EntityKind kind, declared::EntityKind as, const std::string& ext) -> Status {
      auto entity = store.ReadEntity(kind, ext);
      if (!entity.ok()) return entity.status();
      for (auto& f : declared::FieldsSetByOthers(as, ext, entity->desired, source, since))
        fields.push_back(std::move(f));
      return Status::Ok();
    };
    for (const auto& o : state->organizations) {
      auto st = scan(EntityKind::kOrganization, declared::EntityKind::kOrganization, o.external_id);
      if (!st.ok()) return Error(503, st.message());
    }
    for (const auto& u : state->users) {
      auto st = scan(EntityKind::kUser, declared::EntityKind::kUser, u.external_id);
      if (!st.ok()) return Error(503, st.message());
    }
  }
  return JsonAnswer(
      200,
      {{"source", source}, {"since_ms", since}, {"fields", declared::LiveFieldsToJson(fields)}});
}

ServerResponse Apply(const ServerRequest& req, SqliteStore& store, Clock& clock,
                     const std::string& source, Writer* writer) {
  auto body = ParseJson(req.body);
  if (!body.ok()) return Error(400, body.status().message());
  if (!body->is_object())
    return Error(400, "the body must be a JSON object {\"base_revision\", \"events\", \"state\"}");
  for (const auto& [key, value] : body->items()) {
    if (key != "base_revision" && key != "events" && key != "state")
      return Error(400, "unknown field \"" + key + "\" (allowed: base_revision, events, state)");
  }
  const Json& base = (*body)["base_revision"];
  if (!base.is_number_integer() || base.get<int64_t>() < 0)
    return Error(400, "base_revision must be an integer ≥ 0 (the revision the plan was made from)");
  const Json& events = (*body)["events"];
  if (!events.is_array()) return Error(400, "events must be an array");
  if (!body->contains("state")) return Error(400, "state is required");
  auto state = declared::StateFromJson((*body)["state"]);
  if (!state.ok()) return Error(400, state.status().message());

  // Every event is validated exactly as ingress validates a webhook, in the envelope it is
  // stored in: the writer folds it like any other event of the source.
  const int64_t now = clock.NowUnixMillis();
  const std::string timestamp = Rfc3339(now);
  std::vector<EventRecord> records;
  records.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const std::string at = "events[" + std::to_string(i) + "]";
    const Json& e = events[i];
    if (!e.is_object()) return Error(400, at + ": must be an object {event_id, type, data}");
    for (const auto& [key, value] : e.items()) {
      if (key != "event_id" && key != "type" && key != "data")
        return Error(400, at + ": unknown field \"" + key + "\" (allowed: event_id, type, data)");
    }
    if (!e.contains("event_id") || !e["event_id"].is_string())
      return Error(400, at + ".event_id: must be a string");
    const std::string id = e["event_id"].get<std::string>();
    if (auto st = ValidateEventId(id); !st.ok())
      return Error(400, at + ".event_id " + st.message());
    if (!e.contains("type") || !e["type"].is_string())
      return Error(400, at + ".type: must be a string");
    Json envelope = {{"type", e["type"]},
                     {"timestamp", timestamp},
                     {"data", e.contains("data") ? e["data"] : Json(nullptr)}};
    auto parsed = ParseEvent(envelope);
    if (!parsed.ok()) return Error(400, at + ": " + parsed.status().message());
    EventRecord r;
    r.source = source;
    r.event_id = id;
    r.type = EventTypeName(parsed->type);
    r.occurred_at_ms = parsed->timestamp_ms;
    r.effective_at_ms = parsed->effective_at_ms;
    r.received_at_ms = now;
    r.state = EventState::kPending;
    r.body = envelope.dump(-1, ' ', false, Json::error_handler_t::replace);
    records.push_back(std::move(r));
  }

  const std::string state_text = declared::StateToJson(*state).dump();
  auto applied = store.ApplyDeclared(source, base.get<int64_t>(), records, state_text, now);
  if (!applied.ok()) {
    if (applied.status().kind() == StatusKind::kConflict)
      return Error(409, applied.status().message());
    if (applied.status().kind() == StatusKind::kRetryable)
      return Error(503, applied.status().message());
    return Error(400, applied.status().message());
  }
  Json ids = Json::array(), duplicates = Json::array();
  for (size_t i = 0; i < records.size(); ++i) {
    ids.push_back(records[i].event_id);
    if (applied->outcomes[i] == InsertOutcome::kDuplicate)
      duplicates.push_back(records[i].event_id);
  }
  spdlog::info("declared apply source={} revision={} events={} duplicates={}", source,
               applied->revision, records.size(), duplicates.size());
  if (writer && !records.empty()) writer->Wake();
  return JsonAnswer(200, {{"source", source},
                          {"revision", applied->revision},
                          {"applied_at_ms", now},
                          {"event_ids", ids},
                          {"duplicates", duplicates}});
}

}  // namespace

ServerResponse HandleSourcesRequest(const ServerRequest& req, SqliteStore& store, Clock& clock,
                                    const std::vector<SourceConfig>& sources, Writer* writer) {
  const std::string& p = req.path;
  const bool get = req.method == "GET", post = req.method == "POST";
  if (p == "/v1/sources") {
    if (!get) return Error(404, "no such endpoint: " + req.method + " " + p);
    Json list = Json::array();
    for (const auto& s : sources) list.push_back({{"name", s.name}, {"scheme", SchemeName(s)}});
    return JsonAnswer(200, {{"sources", list}});
  }
  // /v1/sources/{name}/{declared|apply}
  const std::string rest = p.substr(std::string("/v1/sources/").size());
  const auto slash = rest.find('/');
  if (slash == std::string::npos || slash == 0)
    return Error(404, "no such endpoint: " + req.method + " " + p);
  const std::string name = rest.substr(0, slash), action = rest.substr(slash + 1);
  const bool declared = get && action == "declared", apply = post && action == "apply";
  const bool live_fields = get && action == "live-fields";
  if (!declared && !apply && !live_fields)
    return Error(404, "no such endpoint: " + req.method + " " + p);
  const SourceConfig* src = nullptr;
  for (const auto& s : sources) {
    if (s.name == name) src = &s;
  }
  if (!src) return Error(404, "unknown source \"" + name + "\"");
  if (!src->declared) {
    return Error(409, "source \"" + name + "\" is not declared (scheme = \"" + SchemeName(*src) +
                          "\"); apply needs a source with scheme = \"declared\"");
  }
  if (live_fields) return LiveFields(store, name);
  if (declared) return Declared(store, name, req.Param("auth0_ids").value_or("") == "true");
  return Apply(req, store, clock, name, writer);
}

std::optional<ServerResponse> AdminBodyPrecheck(const ServerRequest& req) {
  auto length = req.Header("Content-Length");
  if (!length) return std::nullopt;
  const unsigned long long n = std::strtoull(length->c_str(), nullptr, 10);
  const bool apply = req.method == "POST" && req.path.rfind("/v1/sources/", 0) == 0 &&
                     req.path.size() > 6 && req.path.compare(req.path.size() - 6, 6, "/apply") == 0;
  const size_t limit = apply ? kMaxApplyBodyBytes : kMaxAdminBodyBytes;
  if (n <= limit) return std::nullopt;
  ServerResponse r = Error(413, "request body too large (at most " + std::to_string(limit) +
                                    " bytes for " + req.method + " " + req.path + ")");
  r.close_connection = true;
  return r;
}

}  // namespace tenantsync
