#include "daemon/ingress/scim_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "adapters/events/event.h"
#include "common/crypto.h"
#include "daemon/ingress/scim_store.h"

namespace tenantsync {

using nlohmann::json;
using scim::Error;
using scim::ErrorType;
using scim::ResourceKind;

namespace {

constexpr std::string_view kRoot = "/scim/v2";

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> Split(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find('/', i);
    if (j == std::string_view::npos) j = s.size();
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool IsScimContentType(const std::optional<std::string>& ct) {
  if (!ct) return false;
  std::string media = Lower(ct->substr(0, ct->find(';')));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  return media == "application/scim+json" || media == "application/json";
}

Error NotFound(const std::string& what) { return Error{404, ErrorType::kNone, what}; }

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Sender-controlled text in a detail or a log line: JSON-quoted (control characters escaped).
std::string Quoted(const std::string& s) { return Dump(json(s)); }

// Collects the inbox events of one write, validated as ingress validates a webhook's.
class Emitter {
 public:
  Emitter(std::string source, int64_t now_ms) : source_(std::move(source)), now_ms_(now_ms) {}

  // Events of the entity behind `row` (whose version was just bumped). Their timestamps start
  // at the request time but after the entity's previous SCIM event, one millisecond apart, so
  // per-field last-writer-wins follows request order even within one millisecond.
  std::optional<Error> Emit(ScimRow& row, const std::vector<scim::MappedEvent>& events) {
    const int64_t base = std::max(now_ms_, row.last_event_ms + 1);
    for (size_t i = 0; i < events.size(); ++i) {
      const int64_t ts = base + static_cast<int64_t>(i);
      json envelope = scim::Envelope(events[i], ts);
      auto parsed = ParseEvent(envelope);
      if (!parsed.ok()) {
        return Error{400, ErrorType::kInvalidValue,
                     std::string("cannot be provisioned: ") + EventTypeName(events[i].type) + " " +
                         parsed.status().message()};
      }
      EventRecord r;
      r.source = source_;
      r.event_id = std::string(scim::EndpointName(row.kind)) + "/" + row.id + "/v" +
                   std::to_string(row.version) + "." + std::to_string(i);
      r.type = EventTypeName(events[i].type);
      r.occurred_at_ms = ts;
      r.received_at_ms = now_ms_;
      r.state = EventState::kPending;
      r.body = Dump(envelope);
      records.push_back(std::move(r));
      row.last_event_ms = ts;
    }
    return std::nullopt;
  }

  std::vector<EventRecord> records;

 private:
  const std::string source_;
  const int64_t now_ms_;
};

scim::MappingOptions Mapping(const SourceConfig& src) {
  scim::MappingOptions m;
  m.role_map = src.scim_role_map;
  m.delete_users = src.scim_delete_users;
  return m;
}

std::set<std::string> MemberIds(const json& group) {
  std::set<std::string> out;
  if (auto it = group.find("members"); it != group.end() && it->is_array()) {
    for (const auto& m : *it) {
      if (m.is_object() && m.contains("value") && m["value"].is_string())
        out.insert(m["value"].get<std::string>());
    }
  }
  return out;
}

// The organizations list of a user from the groups it is in (after this write's member rows).
json UserOrganizations(ScimTables& t, const ScimRow& user, const scim::MappingOptions& mapping) {
  std::vector<scim::Membership> groups;
  for (const auto& gid : t.GroupsOf(user.id)) {
    if (auto g = t.Get(ResourceKind::kGroup, gid)) groups.push_back({g->entity_id});
  }
  return scim::Organizations(user.resource, groups, mapping);
}

std::optional<std::string> ExternalId(const json& resource) {
  if (auto it = resource.find("externalId"); it != resource.end() && it->is_string())
    return it->get<std::string>();
  return std::nullopt;
}

// The uniqueness key: userName ignoring case (caseExact false, RFC 7643 §4.1.1) or the
// organization name a group becomes (Auth0 organization names are unique).
std::string NameKey(ResourceKind kind, const json& resource, const std::string& fallback) {
  if (kind == ResourceKind::kUser) return Lower(resource.value("userName", std::string()));
  return scim::OrganizationName(resource.value("displayName", std::string()), fallback);
}

// The resource as answered: what was stored, its id and meta (RFC 7643 §3.1).
json Rendered(const ScimRow& row, const std::string& base, bool without_members) {
  json body = row.resource;
  if (without_members) body.erase("members");
  body["id"] = row.id;
  body["meta"] = {{"resourceType", scim::ResourceTypeName(row.kind)},
                  {"created", scim::FormatTime(row.created_ms)},
                  {"lastModified", scim::FormatTime(row.modified_ms)},
                  {"location", base + "/" + scim::EndpointName(row.kind) + "/" + row.id},
                  {"version", "W/\"" + std::to_string(row.version) + "\""}};
  return body;
}

}  // namespace

struct ScimService::Route {
  const SourceConfig* source = nullptr;
  std::shared_ptr<const std::vector<SourceConfig>> sources;  // keeps *source alive
  std::vector<std::string> rest;                             // segments after the source
  std::string base;                                          // URL prefix for locations
};

struct ScimService::Written {
  ScimRow row;
  int status = 200;
  size_t events = 0;
};

ScimService::ScimService(SqliteStore& store, Clock& clock, Random& random, SourcesFn sources,
                         std::function<void()> wake, Options options)
    : store_(store),
      clock_(clock),
      random_(random),
      sources_(std::move(sources)),
      wake_(std::move(wake)),
      options_(options) {}

bool ScimService::Handles(const std::string& path) {
  return path.compare(0, kRoot.size(), kRoot) == 0 &&
         (path.size() == kRoot.size() || path[kRoot.size()] == '/');
}

ServerResponse ScimService::Answer(int status, const json& body) const {
  ServerResponse r;
  r.status = status;
  r.content_type = "application/scim+json";
  if (status != 204) r.body = Dump(body);
  if (status == 503)
    r.headers.emplace_back("Retry-After", std::to_string(options_.retry_after_seconds));
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"tenantsync\"");
  return r;
}

ServerResponse ScimService::Fail(const Error& error) const {
  return Answer(error.status, scim::ErrorJson(error));
}

std::variant<ScimService::Route, ServerResponse> ScimService::Resolve(
    const ServerRequest& req) const {
  Route route;
  route.sources = sources_();
  std::vector<const SourceConfig*> scim_sources;
  for (const auto& s : *route.sources) {
    if (s.scim) scim_sources.push_back(&s);
  }
  auto segments = Split(std::string_view(req.path).substr(kRoot.size()));
  if (!segments.empty()) {
    for (auto* s : scim_sources) {
      if (s->name == segments[0]) route.source = s;
    }
  }
  std::string prefix(kRoot);
  if (route.source) {
    prefix += "/" + route.source->name;
    segments.erase(segments.begin());
  } else if (scim_sources.size() == 1) {
    route.source = scim_sources[0];
  } else {
    return Fail(NotFound(scim_sources.empty() ? "no source has scheme = \"scim\""
                                              : "several SCIM sources: name one, e.g. /scim/v2/" +
                                                    scim_sources[0]->name + "/Users"));
  }
  route.rest = std::move(segments);
  const auto host = req.Header("Host");
  route.base = host ? (options_.tls ? "https://" : "http://") + *host + prefix : prefix;

  // The bearer token, compared in constant time with every configured one.
  const auto auth = req.Header("Authorization");
  bool authorized = false;
  if (auth && auth->size() > 7 && Lower(auth->substr(0, 7)) == "bearer ") {
    std::string token = auth->substr(7);
    while (!token.empty() && token.front() == ' ') token.erase(token.begin());
    for (const auto& t : route.source->scim_tokens) {
      if (crypto::ConstantTimeEquals(token, t)) authorized = true;
    }
  }
  if (!authorized) {
    return Fail(Error{401, ErrorType::kNone,
                      auth ? "the bearer token is not valid for this source"
                           : "missing Authorization: Bearer token"});
  }
  static const std::set<std::string> kMethods = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  if (!kMethods.count(req.method)) return Fail(Error{405, ErrorType::kNone, "method not allowed"});
  if ((req.method == "POST" || req.method == "PUT" || req.method == "PATCH") &&
      !IsScimContentType(req.Header("Content-Type")))
    return Fail(Error{415, ErrorType::kNone,
                      "Content-Type must be application/scim+json or application/json"});
  if (draining_) return Fail(Error{503, ErrorType::kNone, "shutting down; retry later"});
  return route;
}

std::optional<ServerResponse> ScimService::Precheck(const ServerRequest& req) const {
  auto resolved = Resolve(req);
  if (auto* refusal = std::get_if<ServerResponse>(&resolved)) {
    refusal->close_connection = true;
    spdlog::info("scim path={} method={} status={} (refused before the body)", Quoted(req.path),
                 Quoted(req.method), refusal->status);
    return *refusal;
  }
  return std::nullopt;
}

ServerResponse ScimService::Handle(const ServerRequest& req) {
  auto resolved = Resolve(req);
  if (auto* refusal = std::get_if<ServerResponse>(&resolved)) return *refusal;
  const Route& route = std::get<Route>(resolved);
  ServerResponse r = Dispatch(route, req);
  if (r.status >= 400 || req.method != "GET") {
    // One line per write or failure; no body, no token (SPEC §7).
    spdlog::info("scim source={} method={} path={} status={}", route.source->name, req.method,
                 Quoted(req.path), r.status);
  }
  return r;
}

ServerResponse ScimService::Dispatch(const Route& route, const ServerRequest& req) {
  const auto& rest = route.rest;
  if (rest.empty()) return Fail(NotFound("no such SCIM endpoint"));
  const std::string top = Lower(rest[0]);
  const std::string& m = req.method;
  auto parse_body = [&]() -> std::variant<json, Error> {
    auto body = ParseJson(req.body);
    if (!body.ok()) return Error{400, ErrorType::kInvalidSyntax, body.status().message()};
    return *body;
  };
  if (top == "serviceproviderconfig" && rest.size() == 1 && m == "GET")
    return Answer(200,
                  scim::ServiceProviderConfig(options_.bulk, options_.max_results, route.base));
  if (top == "resourcetypes" && m == "GET") {
    if (rest.size() == 1) return Answer(200, scim::ResourceTypes(route.base));
    if (auto rt = scim::ResourceType(rest[1], route.base); rt && rest.size() == 2)
      return Answer(200, *rt);
    return Fail(NotFound("no such resource type"));
  }
  if (top == "schemas" && m == "GET") {
    if (rest.size() == 1) return Answer(200, scim::Schemas(route.base));
    if (auto s = scim::Schema(rest[1], route.base); s && rest.size() == 2) return Answer(200, *s);
    return Fail(NotFound("no such schema"));
  }
  if (top == "bulk" && rest.size() == 1 && m == "POST") return Bulk(route, req);
  std::optional<ResourceKind> kind;
  if (top == "users") kind = ResourceKind::kUser;
  if (top == "groups") kind = ResourceKind::kGroup;
  if (!kind || rest.size() > 2) return Fail(NotFound("no such SCIM endpoint"));
  auto written = [&](std::variant<Written, Error> w) {
    if (auto* e = std::get_if<Error>(&w)) return Fail(*e);
    auto& ok = std::get<Written>(w);
    if (ok.status == 204) return Answer(204, nullptr);
    ServerResponse r = Answer(ok.status, Rendered(ok.row, route.base, false));
    const std::string location =
        route.base + "/" + scim::EndpointName(ok.row.kind) + "/" + ok.row.id;
    if (ok.status == 201) r.headers.emplace_back("Location", location);
    r.headers.emplace_back("ETag", "W/\"" + std::to_string(ok.row.version) + "\"");
    return r;
  };
  if (rest.size() == 1) {
    if (m == "GET") return List(route, *kind, req);
    if (m == "POST") {
      auto body = parse_body();
      if (auto* e = std::get_if<Error>(&body)) return Fail(*e);
      return written(Create(route, *kind, std::get<json>(body), false));
    }
    return Fail(Error{405, ErrorType::kNone, "method not allowed on a resource list"});
  }
  const std::string& id = rest[1];
  if (m == "GET") return GetOne(route, *kind, id, req);
  if (m == "DELETE") return written(Remove(route, *kind, id));
  if (m == "PUT" || m == "PATCH") {
    auto body = parse_body();
    if (auto* e = std::get_if<Error>(&body)) return Fail(*e);
    return written(Update(route, *kind, id, std::get<json>(body), m == "PATCH"));
  }
  return Fail(Error{405, ErrorType::kNone, "method not allowed on a resource"});
}

std::string ScimService::NewId() {
  static const char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) id.push_back('-');
    id.push_back(kHex[random_.Uniform(16)]);
  }
  return id;
}

// One write: `work` runs inside the store's write transaction with the SCIM tables and an
// emitter; its events are inserted in the same transaction. An Error from `work` rolls back.
namespace {
using Work = std::function<std::variant<ScimRow, Error>(ScimTables&, Emitter&)>;

struct WriteOutcome {
  std::variant<ScimRow, Error> result;
  size_t events = 0;
};

WriteOutcome RunWrite(SqliteStore& store, const std::string& source, int64_t now_ms,
                      const Work& work) {
  std::optional<Error> error;
  std::optional<ScimRow> row;
  size_t events = 0;
  auto stored =
      store.WriteWithEvents([&](SQLite::Database& db) -> Result<std::vector<EventRecord>> {
        ScimTables tables(db, source);
        Emitter emitter(source, now_ms);
        auto out = work(tables, emitter);
        if (auto* e = std::get_if<Error>(&out)) {
          error = *e;
          return Status::Invalid("refused");  // rolls the transaction back
        }
        row = std::get<ScimRow>(std::move(out));
        events = emitter.records.size();
        return std::move(emitter.records);
      });
  if (error) return {*error, 0};
  if (!stored.ok()) {
    spdlog::warn("scim source={} storage: {}", source, stored.status().message());
    return {Error{503, ErrorType::kNone, "storage unavailable; retry later"}, 0};
  }
  return {std::move(*row), events};
}
}  // namespace

std::variant<ScimService::Written, Error> ScimService::Create(const Route& route, ResourceKind kind,
                                                              const json& body, bool upsert) {
  auto norm = scim::Normalize(kind, body);
  if (!norm.ok()) return norm.error();
  const json resource = *norm;
  const auto mapping = Mapping(*route.source);
  const int64_t now = clock_.NowUnixMillis();
  const std::string id = NewId();
  bool updated_instead = false;
  std::optional<std::variant<Written, Error>> delegated;
  auto out = RunWrite(
      store_, route.source->name, now,
      [&](ScimTables& t, Emitter& emit) -> std::variant<ScimRow, Error> {
        const auto external = ExternalId(resource);
        if (external) {
          if (auto existing = t.FindByExternalId(kind, *external)) {
            if (upsert) {
              updated_instead = true;
              return *existing;  // handled below as a replace (Entra bulk: matched by externalId)
            }
            return Error{409, ErrorType::kUniqueness,
                         std::string(scim::ResourceTypeName(kind)) + " with externalId " +
                             Quoted(*external) + " exists (id " + existing->id + ")"};
          }
        }
        ScimRow row;
        row.kind = kind;
        row.id = id;
        row.entity_id = external.value_or(id);
        row.external_id = external;
        row.name_key = NameKey(kind, resource, row.entity_id);
        if (auto clash = t.FindByName(kind, row.name_key)) {
          if (upsert && kind == ResourceKind::kUser && !external) {
            updated_instead = true;
            return *clash;
          }
          return Error{409, ErrorType::kUniqueness,
                       kind == ResourceKind::kUser
                           ? "userName " + Quoted(resource.value("userName", "")) +
                                 " is taken (id " + clash->id + ")"
                           : "a group with organization name \"" + row.name_key + "\" exists (id " +
                                 clash->id + ")"};
        }
        row.resource = resource;
        row.version = 1;
        row.created_ms = row.modified_ms = now;
        const auto tombstone = t.FindDeletedEntity(kind, row.entity_id);
        if (tombstone) row.last_event_ms = tombstone->last_event_ms;
        if (kind == ResourceKind::kUser) {
          // Auth0 creates a database-connection user only with an email (SPEC §5: required when
          // first seen): refused here rather than accepted and failed later in the inbox.
          if (!tombstone && !scim::UserProfile(resource, row.entity_id).contains("email"))
            return Error{400, ErrorType::kInvalidValue,
                         "an email is required: emails[].value, or an email address as userName"};
          t.Put(row);
          auto events = scim::UserEvents(std::nullopt, resource, row.entity_id, std::nullopt,
                                         tombstone.has_value() && !mapping.delete_users, mapping);
          if (auto e = emit.Emit(row, events)) return *e;
          t.Put(row);
          return row;
        }
        // A group: its organization, then the memberships of its members.
        const auto member_set = MemberIds(resource);
        std::vector<std::string> members(member_set.begin(), member_set.end());
        std::vector<ScimRow> users;
        for (const auto& uid : members) {
          auto u = t.Get(ResourceKind::kUser, uid);
          if (!u)
            return Error{400, ErrorType::kInvalidValue,
                         "member " + Quoted(uid) + " is not a User of this source"};
          users.push_back(std::move(*u));
        }
        t.Put(row);
        t.SetMembers(row.id, members);
        if (auto e = emit.Emit(row, {{EventType::kOrganizationUpserted,
                                      scim::GroupOrganization(resource, row.entity_id)}}))
          return *e;
        t.Put(row);
        for (auto& u : users) {
          ++u.version;
          json data = {{"external_id", u.entity_id},
                       {"organizations", UserOrganizations(t, u, mapping)}};
          if (auto e = emit.Emit(u, {{EventType::kUserUpserted, data}})) return *e;
          t.Put(u);
        }
        return row;
      });
  if (auto* e = std::get_if<Error>(&out.result)) return *e;
  if (updated_instead) {
    const auto& existing = std::get<ScimRow>(out.result);
    return Update(route, kind, existing.id, body, false);
  }
  if (out.events > 0 && wake_) wake_();
  return Written{std::get<ScimRow>(std::move(out.result)), 201, out.events};
}

std::variant<ScimService::Written, Error> ScimService::Update(const Route& route, ResourceKind kind,
                                                              const std::string& id,
                                                              const json& body, bool patch) {
  const auto mapping = Mapping(*route.source);
  const int64_t now = clock_.NowUnixMillis();
  auto out = RunWrite(
      store_, route.source->name, now,
      [&](ScimTables& t, Emitter& emit) -> std::variant<ScimRow, Error> {
        auto found = t.Get(kind, id);
        if (!found)
          return NotFound(std::string(scim::ResourceTypeName(kind)) + " " + Quoted(id) +
                          " not found");
        ScimRow row = std::move(*found);
        const json before = row.resource;
        json next = body;
        if (patch) {
          auto patched = scim::ApplyPatch(before, body);
          if (!patched.ok()) return patched.error();
          next = std::move(*patched);
        }
        auto norm = scim::Normalize(kind, next);
        if (!norm.ok()) return norm.error();
        const json after = *norm;
        const auto external = ExternalId(after);
        if (external && external != row.external_id) {
          if (auto other = t.FindByExternalId(kind, *external); other && other->id != row.id)
            return Error{409, ErrorType::kUniqueness,
                         "externalId " + Quoted(*external) + " belongs to id " + other->id};
        }
        const std::string name_key = NameKey(kind, after, row.entity_id);
        if (auto other = t.FindByName(kind, name_key); other && other->id != row.id)
          return Error{409, ErrorType::kUniqueness,
                       kind == ResourceKind::kUser
                           ? "userName " + Quoted(after.value("userName", "")) + " is taken (id " +
                                 other->id + ")"
                           : "a group with organization name \"" + name_key + "\" exists (id " +
                                 other->id + ")"};
        if (after == before) return row;  // nothing changed: no event, same version
        row.resource = after;
        row.external_id = external;  // the entity keeps the id it was created with
        row.name_key = name_key;
        row.modified_ms = now;
        ++row.version;
        if (kind == ResourceKind::kUser) {
          t.Put(row);
          // Memberships come from groups; a user write changes them only through the roles the
          // role map turns into organization roles.
          std::optional<json> orgs;
          if (!t.GroupsOf(row.id).empty()) {
            ScimRow old = row;
            old.resource = before;
            json now_orgs = UserOrganizations(t, row, mapping);
            if (now_orgs != UserOrganizations(t, old, mapping)) orgs = std::move(now_orgs);
          }
          auto events = scim::UserEvents(before, after, row.entity_id, orgs, false, mapping);
          if (auto e = emit.Emit(row, events)) return *e;
          t.Put(row);
          return row;
        }
        const auto old_members = MemberIds(before);
        const auto new_members = MemberIds(after);
        std::vector<ScimRow> affected;
        for (const auto& uid : new_members) {
          if (old_members.count(uid)) continue;
          auto u = t.Get(ResourceKind::kUser, uid);
          if (!u)
            return Error{400, ErrorType::kInvalidValue,
                         "member " + Quoted(uid) + " is not a User of this source"};
          affected.push_back(std::move(*u));
        }
        for (const auto& uid : old_members) {
          if (new_members.count(uid)) continue;
          if (auto u = t.Get(ResourceKind::kUser, uid)) affected.push_back(std::move(*u));
        }
        t.Put(row);
        t.SetMembers(row.id, std::vector<std::string>(new_members.begin(), new_members.end()));
        json org_before = scim::GroupOrganization(before, row.entity_id);
        json org_after = scim::GroupOrganization(after, row.entity_id);
        if (org_before != org_after) {
          if (auto e = emit.Emit(row, {{EventType::kOrganizationUpserted, org_after}})) return *e;
        }
        t.Put(row);
        for (auto& u : affected) {
          ++u.version;
          json data = {{"external_id", u.entity_id},
                       {"organizations", UserOrganizations(t, u, mapping)}};
          if (auto e = emit.Emit(u, {{EventType::kUserUpserted, data}})) return *e;
          t.Put(u);
        }
        return row;
      });
  if (auto* e = std::get_if<Error>(&out.result)) return *e;
  if (out.events > 0 && wake_) wake_();
  return Written{std::get<ScimRow>(std::move(out.result)), 200, out.events};
}

std::variant<ScimService::Written, Error> ScimService::Remove(const Route& route, ResourceKind kind,
                                                              const std::string& id) {
  const auto mapping = Mapping(*route.source);
  const int64_t now = clock_.NowUnixMillis();
  auto out = RunWrite(store_, route.source->name, now,
                      [&](ScimTables& t, Emitter& emit) -> std::variant<ScimRow, Error> {
                        auto found = t.Get(kind, id);
                        if (!found)
                          return NotFound(std::string(scim::ResourceTypeName(kind)) + " " +
                                          Quoted(id) + " not found");
                        ScimRow row = std::move(*found);
                        row.deleted = true;
                        row.modified_ms = now;
                        ++row.version;
                        if (kind == ResourceKind::kUser) {
                          // The user leaves the groups it was in (their member lists as answered
                          // change too).
                          for (const auto& gid : t.GroupsOf(row.id)) {
                            auto g = t.Get(ResourceKind::kGroup, gid);
                            if (!g) continue;
                            json kept = json::array();
                            std::vector<std::string> ids;
                            for (const auto& m : g->resource.value("members", json::array())) {
                              if (m.value("value", "") == row.id) continue;
                              kept.push_back(m);
                              ids.push_back(m.value("value", ""));
                            }
                            g->resource["members"] = std::move(kept);
                            g->modified_ms = now;
                            ++g->version;
                            t.Put(*g);
                            t.SetMembers(g->id, ids);
                          }
                          auto events = scim::UserEvents(row.resource, std::nullopt, row.entity_id,
                                                         std::nullopt, false, mapping);
                          if (auto e = emit.Emit(row, events)) return *e;
                          t.Put(row);
                          return row;
                        }
                        std::vector<ScimRow> affected;
                        for (const auto& uid : MemberIds(row.resource)) {
                          if (auto u = t.Get(ResourceKind::kUser, uid))
                            affected.push_back(std::move(*u));
                        }
                        t.Put(row);
                        t.SetMembers(row.id, {});
                        if (auto e = emit.Emit(row, {{EventType::kOrganizationDeleted,
                                                      {{"external_id", row.entity_id}}}}))
                          return *e;
                        t.Put(row);
                        for (auto& u : affected) {
                          ++u.version;
                          json data = {{"external_id", u.entity_id},
                                       {"organizations", UserOrganizations(t, u, mapping)}};
                          if (auto e = emit.Emit(u, {{EventType::kUserUpserted, data}})) return *e;
                          t.Put(u);
                        }
                        return row;
                      });
  if (auto* e = std::get_if<Error>(&out.result)) return *e;
  if (out.events > 0 && wake_) wake_();
  return Written{std::get<ScimRow>(std::move(out.result)), 204, out.events};
}

namespace {

// excludedAttributes=members (Entra reads groups that way).
bool WithoutMembers(const ServerRequest& req) {
  auto ex = req.Param("excludedAttributes");
  return ex && Lower(*ex).find("members") != std::string::npos;
}

// A startIndex or count parameter: nullopt when absent, -1 when not an integer, 0 for a
// negative one (RFC 7644 §3.4.2.4 treats those as 0 and 1), large values capped.
std::optional<int64_t> ParseCount(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  std::string digits = *s;
  const bool negative = !digits.empty() && digits[0] == '-';
  if (negative) digits.erase(0, 1);
  if (digits.empty()) return -1;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
  }
  if (negative) return 0;
  return digits.size() > 9 ? int64_t{999999999} : std::stoll(digits);
}
}  // namespace

ServerResponse ScimService::GetOne(const Route& route, ResourceKind kind, const std::string& id,
                                   const ServerRequest& req) {
  std::optional<ScimRow> row;
  auto st = store_.ReadWith([&](SQLite::Database& db) {
    ScimTables t(db, route.source->name);
    row = t.Get(kind, id);
    return Status::Ok();
  });
  if (!st.ok()) return Fail(Error{503, ErrorType::kNone, "storage unavailable; retry later"});
  if (!row)
    return Fail(
        NotFound(std::string(scim::ResourceTypeName(kind)) + " " + Quoted(id) + " not found"));
  ServerResponse r = Answer(200, Rendered(*row, route.base, WithoutMembers(req)));
  r.headers.emplace_back("ETag", "W/\"" + std::to_string(row->version) + "\"");
  return r;
}

ServerResponse ScimService::List(const Route& route, ResourceKind kind, const ServerRequest& req) {
  std::optional<scim::Filter> filter;
  if (auto text = req.Param("filter")) {
    auto parsed = scim::ParseFilter(*text);
    if (!parsed.ok()) return Fail(parsed.error());
    filter = *parsed;
  }
  auto start = ParseCount(req.Param("startIndex"));
  auto count = ParseCount(req.Param("count"));
  if ((start && *start < 0) || (count && *count < 0))
    return Fail(Error{400, ErrorType::kInvalidValue, "startIndex and count must be integers"});
  // RFC 7644 §3.4.2.4: startIndex below 1 is 1, a negative count is 0.
  const int64_t first = std::max<int64_t>(1, start.value_or(1));
  const int64_t size =
      std::min<int64_t>(count.value_or(options_.max_results), options_.max_results);
  std::vector<ScimRow> rows;
  auto st = store_.ReadWith([&](SQLite::Database& db) {
    ScimTables t(db, route.source->name);
    // The lookups clients make (Okta: userName; Entra: externalId) use an index.
    if (filter && filter->all.size() == 1 && filter->all[0].value.is_string()) {
      const std::string attr = Lower(filter->all[0].attribute);
      const std::string v = filter->all[0].value.get<std::string>();
      std::optional<ScimRow> one;
      if (attr == "id") {
        one = t.Get(kind, v);
      } else if (attr == "externalid") {
        one = t.FindByExternalId(kind, v);
      } else if (attr == "username" && kind == ResourceKind::kUser) {
        one = t.FindByName(kind, Lower(v));
      } else {
        rows = t.List(kind);
      }
      if (one) rows.push_back(std::move(*one));
      return Status::Ok();
    }
    rows = t.List(kind);
    return Status::Ok();
  });
  if (!st.ok()) return Fail(Error{503, ErrorType::kNone, "storage unavailable; retry later"});
  std::vector<json> matching;
  const bool without_members = WithoutMembers(req);
  for (const auto& row : rows) {
    json rendered = Rendered(row, route.base, false);
    if (filter && !scim::Matches(*filter, rendered)) continue;
    if (without_members) rendered.erase("members");
    matching.push_back(std::move(rendered));
  }
  std::vector<json> page;
  for (int64_t i = first - 1;
       i < static_cast<int64_t>(matching.size()) && static_cast<int64_t>(page.size()) < size; ++i)
    page.push_back(std::move(matching[static_cast<size_t>(i)]));
  return Answer(200, scim::ListResponse(page, matching.size(), static_cast<size_t>(first)));
}

ServerResponse ScimService::Bulk(const Route& route, const ServerRequest& req) {
  if (req.body.size() > options_.bulk.max_payload_bytes)
    return Fail(Error{413, ErrorType::kNone,
                      "payload of " + std::to_string(req.body.size()) +
                          " bytes is over maxPayloadSize " +
                          std::to_string(options_.bulk.max_payload_bytes)});
  auto body = ParseJson(req.body);
  if (!body.ok()) return Fail(Error{400, ErrorType::kInvalidSyntax, body.status().message()});
  auto bulk = scim::ParseBulk(*body, options_.bulk);
  if (!bulk.ok()) return Fail(bulk.error());
  std::map<std::string, std::string> created;  // bulkId → SCIM id
  std::vector<scim::BulkResult> results;
  int errors = 0;
  for (auto& op : bulk->operations) {
    if (bulk->fail_on_errors && errors >= *bulk->fail_on_errors) break;
    scim::BulkResult r;
    r.method = op.method_name;
    r.bulk_id = op.bulk_id;
    auto fail = [&](const Error& e) {
      r.status = e.status;
      r.error = e;
      ++errors;
    };
    json path = op.path;
    if (auto missing = scim::ResolveBulkIds(op.data, created)) {
      fail(Error{409, ErrorType::kInvalidValue, "bulkId " + Quoted(*missing) + " is not known"});
    } else if (auto missing_in_path = scim::ResolveBulkIds(path, created)) {
      fail(Error{409, ErrorType::kInvalidValue,
                 "bulkId " + Quoted(*missing_in_path) + " is not known"});
    } else {
      auto segments = Split(path.get<std::string>());
      std::optional<ResourceKind> kind;
      if (!segments.empty() && Lower(segments[0]) == "users") kind = ResourceKind::kUser;
      if (!segments.empty() && Lower(segments[0]) == "groups") kind = ResourceKind::kGroup;
      std::optional<std::variant<Written, Error>> w;
      if (!kind || segments.size() > 2) {
        fail(Error{404, ErrorType::kNone, "no such endpoint " + Quoted(op.path)});
      } else if (op.method == scim::BulkMethod::kPost && segments.size() == 1) {
        // Entra's API-driven provisioning posts every record to /Users and expects the match on
        // externalId (and userName when there is none) to update the existing user.
        w = Create(route, *kind, op.data, *kind == ResourceKind::kUser);
      } else if (segments.size() == 2 && op.method == scim::BulkMethod::kDelete) {
        w = Remove(route, *kind, segments[1]);
      } else if (segments.size() == 2 && op.method != scim::BulkMethod::kPost) {
        w = Update(route, *kind, segments[1], op.data, op.method == scim::BulkMethod::kPatch);
      } else {
        fail(Error{405, ErrorType::kNone, op.method_name + " is not allowed on " + op.path});
      }
      if (w) {
        if (auto* e = std::get_if<Error>(&*w)) {
          fail(*e);
        } else {
          auto& ok = std::get<Written>(*w);
          r.status = ok.status;
          r.location = route.base + "/" + scim::EndpointName(ok.row.kind) + "/" + ok.row.id;
          if (ok.status != 204) r.version = "W/\"" + std::to_string(ok.row.version) + "\"";
          if (op.bulk_id) created[*op.bulk_id] = ok.row.id;
        }
      }
    }
    results.push_back(std::move(r));
  }
  return Answer(200, scim::BulkResponseJson(results));
}

}  // namespace tenantsync
