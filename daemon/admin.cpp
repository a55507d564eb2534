#include "daemon/admin.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "adapters/auth0/auth0_client.h"
#include "adapters/events/event.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "daemon/console/console.h"
#include "daemon/declared_api.h"
#include "daemon/desired_state.h"
#include "daemon/guard.h"
#include "daemon/ingress/vendor_stage.h"
#include "daemon/writer.h"

namespace tenantsync {
namespace {

using Json = nlohmann::json;

ServerResponse JsonAnswer(int status, const Json& body) {
  ServerResponse r;
  r.status = status;
  // Request text is checked to be UTF-8 before it reaches an answer, but rows stored by older
  // versions may hold other bytes: those are replaced (U+FFFD) rather than failing the answer.
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

ServerResponse Error(int status, const std::string& message) {
  return JsonAnswer(status, {{"error", message}});
}

Json OptionalJson(const std::optional<int64_t>& v) { return v ? Json(*v) : Json(nullptr); }

// A vendor_notifications row for operators: where it stands and why, not the stored payload
// (the fetched person record stays out of lists).
Json VendorRowJson(const VendorRow& r) {
  return {{"seq", r.seq},
          {"source", r.source},
          {"event_id", r.event_id},
          {"state", VendorRowStateName(r.state)},
          {"attempts", r.attempts},
          {"next_at_ms", r.state == VendorRowState::kPending ? Json(r.next_at_ms) : Json(nullptr)},
          {"error", r.error.empty() ? Json(nullptr) : Json(r.error)},
          {"events", r.events},
          {"received_at_ms", r.received_at_ms},
          {"updated_at_ms", r.updated_at_ms}};
}

// A pending event whose effective_at is still ahead of `now_ms`: it is applied then, on purpose
// (a pending event that is not scheduled is due: the writer is busy or paused).
bool Scheduled(const EventRecord& e, int64_t now_ms) {
  return e.state == EventState::kPending && e.effective_at_ms && *e.effective_at_ms > now_ms;
}

Json EventJson(const EventRecord& e, int64_t now_ms) {
  return {{"seq", e.seq},
          {"source", e.source},
          {"event_id", e.event_id},
          {"type", e.type ? Json(*e.type) : Json(nullptr)},
          {"state", EventStateName(e.state)},
          {"scheduled", Scheduled(e, now_ms)},
          {"occurred_at_ms", OptionalJson(e.occurred_at_ms)},
          {"effective_at_ms", OptionalJson(e.effective_at_ms)},
          {"received_at_ms", e.received_at_ms},
          {"updated_at_ms", e.updated_at_ms},
          {"error", e.error.empty() ? Json(nullptr) : Json(e.error)},
          {"note", e.note.empty() ? Json(nullptr) : Json(e.note)},
          {"submitted_by", e.submitted_by.empty() ? Json(nullptr) : Json(e.submitted_by)},
          {"compacted_at_ms", OptionalJson(e.compacted_at_ms)}};
}

// Why a compacted event has no body (docs/OPERATIONS.md "Retention").
std::string BodyRemoved(const EventRecord& e) {
  return "body removed at " + std::to_string(e.compacted_at_ms.value_or(0)) +
         " ms by the retention ([storage] event_body_retention_days); the event stays recorded, "
         "so a redelivery of it is still a duplicate";
}

Json MutationJson(const MutationRow& m) {
  return {{"id", m.id},
          {"entity", m.entity},
          {"kind", m.kind},
          {"state", MutationStateName(m.state)},
          {"destructive", m.destructive},
          {"attempts", m.attempts},
          {"request", m.request},
          {"events", m.events},
          {"error", m.last_error.empty() ? Json(nullptr) : Json(m.last_error)},
          {"created_at_ms", m.created_at_ms},
          {"updated_at_ms", m.updated_at_ms}};
}

// Parses a positive integer query parameter; nullopt with *error set when malformed.
std::optional<int64_t> IntParam(const ServerRequest& req, const std::string& name, int64_t min,
                                int64_t max, int64_t fallback, std::string* error) {
  auto s = req.Param(name);
  if (!s) return fallback;
  char* end = nullptr;
  long long n = std::strtoll(s->c_str(), &end, 10);
  if (s->empty() || *end != '\0' || n < min || n > max) {
    *error =
        name + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
    return std::nullopt;
  }
  return n;
}

// Null when `text` is valid UTF-8, else "byte 0xff at offset 3".
std::optional<std::string> Utf8Problem(std::string_view text) {
  auto bad = FindInvalidUtf8(text);
  if (!bad) return std::nullopt;
  char buf[64];
  std::snprintf(buf, sizeof buf, "byte 0x%02x at offset %zu",
                static_cast<unsigned char>(text[*bad]), *bad);
  return std::string(buf);
}

// Ids in paths and query values end up in storage lookups and in answers (JSON, so UTF-8): a
// path or query value that is not UTF-8 once percent-decoded is refused with 400 saying which.
std::optional<std::string> RequestTextProblem(const ServerRequest& req) {
  if (auto p = Utf8Problem(req.path))
    return "the path is not valid UTF-8 once percent-decoded (" + *p + ")";
  for (const auto& [name, value] : req.params) {
    if (auto p = Utf8Problem(name))
      return "a query parameter name is not valid UTF-8 once percent-decoded (" + *p + ")";
    if (auto p = Utf8Problem(value)) {
      return "query parameter \"" + name + "\" is not valid UTF-8 once percent-decoded (" + *p +
             ")";
    }
  }
  return std::nullopt;
}

// Who rejects held work, from the optional body of POST /v1/guard/reject: {"by": "NAME"}, NAME
// 1 to 100 characters of UTF-8 without control characters (it is stored in event notes and
// mutation errors and logged). No body, an empty one, `{}` or "by": null: `fallback` (the name
// of the caller's token).
Result<std::string> RejectedBy(const std::string& body, const std::string& fallback) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return fallback;
  if (auto p = Utf8Problem(body))
    return Status::Invalid("the body is not valid UTF-8 (" + *p + ")");
  const Json j = Json::parse(body, nullptr, false);
  if (!j.is_object())
    return Status::Invalid("the body must be a JSON object such as {\"by\": \"NAME\"}");
  for (const auto& [key, value] : j.items()) {
    if (key != "by")
      return Status::Invalid("unknown field \"" + key + "\" (only \"by\" is accepted)");
  }
  if (!j.contains("by") || j["by"].is_null()) return fallback;
  const std::string kRule = "\"by\" must be a string of 1 to 100 characters";
  if (!j["by"].is_string()) return Status::Invalid(kRule);
  const std::string by = j["by"].get<std::string>();
  size_t characters = 0;
  for (size_t i = 0; i < by.size(); ++i) {
    const auto c = static_cast<unsigned char>(by[i]);
    if ((c & 0xC0) != 0x80) ++characters;  // not a continuation byte: a new character
    const bool c1 = c == 0xC2 && i + 1 < by.size() &&
                    static_cast<unsigned char>(by[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(by[i + 1]) <= 0x9F;  // U+0080..U+009F
    if (c < 0x20 || c == 0x7F || c1)
      return Status::Invalid("\"by\" must not contain control characters");
  }
  if (characters < 1 || characters > 100) return Status::Invalid(kRule);
  if (by.find_first_not_of(' ') == std::string::npos)
    return Status::Invalid("\"by\" must not be blank");
  return by;
}

// Entity keys as the writer names them ("user:emp-1", "org:acme").
std::string EntityKey(EntityKind kind, const std::string& ext) {
  return kind == EntityKind::kOrganization ? OrgKey(ext) : UserKey(ext);
}

constexpr char kCookieName[] = "ts_session";

// The value of cookie `name` in a Cookie header ("a=1; ts_session=x"), or nullopt.
std::optional<std::string> CookieValue(const std::string& header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    std::string_view part(header.data() + pos, end - pos);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    const size_t eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name)
      return std::string(part.substr(eq + 1));
    pos = end + 1;
  }
  return std::nullopt;
}

// RFC 6265 cookie-octet: what a token must consist of to be kept in the session cookie as is.
bool IsCookieValue(const std::string& v) {
  return std::all_of(v.begin(), v.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
           (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
  });
}

std::string SessionCookie(const std::string& value, bool secure, bool expire) {
  return std::string(kCookieName) + "=" + value + "; Path=/; HttpOnly; SameSite=Strict" +
         (expire ? "; Max-Age=0" : "") + (secure ? "; Secure" : "");
}

Json WhoJson(const Principal& who, const std::string& token) {
  return {{"name", who.name},
          {"role", RoleName(who.role)},
          {"organizations", who.organizations},
          {"csrf", CsrfToken(token)}};
}

// RFC 3339 UTC with milliseconds: the envelope timestamp of a submitted event.
std::string Rfc3339(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

// Whether `j` holds a key "password" at any depth (a console must never carry one).
bool HasPasswordKey(const Json& j, int depth = 0) {
  if (depth > 64) return false;  // ParseJson refuses deeper documents before this runs
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if (key == "password" || HasPasswordKey(value, depth + 1)) return true;
    }
  } else if (j.is_array()) {
    for (const auto& v : j)
      if (HasPasswordKey(v, depth + 1)) return true;
  }
  return false;
}

// The organization external ids of a user view's "organizations" ([{external_id, roles}]).
std::vector<std::string> OrgIds(const Json& organizations) {
  std::vector<std::string> out;
  if (!organizations.is_array()) return out;
  for (const auto& m : organizations) {
    if (m.is_object() && m.contains("external_id") && m["external_id"].is_string())
      out.push_back(m["external_id"].get<std::string>());
  }
  return out;
}

TargetScope ScopeOf(bool in) { return in ? TargetScope::kInScope : TargetScope::kOutOfScope; }

// Rows an org-admin's filtered list reads at most per request: a page may hold fewer than `limit`
// items; the client continues from next_after/next_before.
constexpr int kScopedScanRows = 5000;
constexpr int kScopedScanPage = 500;

}  // namespace

std::string CsrfToken(const std::string& token) {
  return crypto::HexEncode(crypto::HmacSha256(token, "tenantsync-csrf"));
}

// Org-admin scope of one request: whether an organization, a user (by their desired
// memberships), an event or a mutation lies within the caller's organizations. Every role but
// org-admin sees everything. Lookups are cached for the request.
class AdminApi::Scope {
 public:
  Scope(const Principal& who, SqliteStore& store) : who_(who), store_(store) {}

  bool Org(const std::string& ext) const { return OrganizationInScope(who_, ext); }

  Result<bool> User(const std::string& ext) {
    if (who_.role != Role::kOrgAdmin) return true;
    if (auto it = users_.find(ext); it != users_.end()) return it->second;
    auto rows = store_.ReadUserMemberships(ext);
    if (!rows.ok()) return rows.status();
    std::vector<std::string> orgs;
    for (const auto& m : *rows) orgs.push_back(m.org_external_id);
    const bool in = UserInScope(who_, orgs);
    users_[ext] = in;
    return in;
  }

  // An event is in scope when the entity it is about is (an event whose body names no entity,
  // e.g. one rejected as malformed, belongs to nobody's scope).
  Result<bool> Event(const EventRecord& e) {
    if (who_.role != Role::kOrgAdmin) return true;
    const Json body = Json::parse(e.body, nullptr, false);
    if (!body.is_object() || !body.contains("type") || !body["type"].is_string()) return false;
    auto type = ParseEventType(body["type"].get<std::string>());
    const Json data = body.contains("data") ? body["data"] : Json();
    if (!type || !data.is_object() || !data.contains("external_id") ||
        !data["external_id"].is_string())
      return false;
    const std::string ext = data["external_id"].get<std::string>();
    if (IsOrganizationEvent(*type)) return Org(ext);
    return User(ext);
  }

  // Mutation entities: "org:X" and "members:X" belong to organization X, "user:X" to user X;
  // tenant-wide work (callbacks, connections, commands) to nobody's scope.
  Result<bool> MutationEntity(const std::string& entity) {
    if (who_.role != Role::kOrgAdmin) return true;
    for (const char* prefix : {"org:", "members:"}) {
      if (entity.rfind(prefix, 0) == 0) return Org(entity.substr(std::strlen(prefix)));
    }
    if (entity.rfind("user:", 0) == 0) return User(entity.substr(5));
    return false;
  }

 private:
  const Principal& who_;
  SqliteStore& store_;
  std::unordered_map<std::string, bool> users_;
};

AdminApi::AdminApi(const std::vector<AdminToken>& tokens, SqliteStore& store, Clock& clock,
                   AdminHooks hooks)
    : store_(store), clock_(clock), hooks_(std::move(hooks)) {
  ReplaceTokens(tokens);
}

void AdminApi::ReplaceTokens(const std::vector<AdminToken>& tokens) {
  std::vector<KnownToken> next;
  for (const auto& t : tokens)
    next.push_back({Principal{t.name, t.role, t.organizations}, crypto::Sha256(t.token)});
  std::lock_guard<std::mutex> lock(mu_);
  tokens_ = std::move(next);
}

std::optional<AdminApi::Caller> AdminApi::Match(const std::string& presented) {
  // Digests are compared so the time does not even depend on the presented length, and every
  // configured token is compared, whatever matched before, so it does not tell which one did.
  const std::string digest = crypto::Sha256(presented);
  std::lock_guard<std::mutex> lock(mu_);
  size_t found = tokens_.size();
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const bool equal = crypto::ConstantTimeEquals(digest, tokens_[i].digest);
    found = equal ? i : found;
  }
  if (found == tokens_.size()) return std::nullopt;
  return Caller{tokens_[found].who, presented, false};
}

std::optional<AdminApi::Caller> AdminApi::Authenticate(const ServerRequest& req) {
  if (auto h = req.Header("Authorization")) {
    if (h->rfind("Bearer ", 0) != 0) return std::nullopt;
    return Match(h->substr(7));
  }
  if (auto header = req.Header("Cookie")) {
    if (auto value = CookieValue(*header, kCookieName)) {
      auto caller = Match(*value);
      if (caller) caller->cookie = true;
      return caller;
    }
  }
  return std::nullopt;
}

ServerResponse AdminApi::Handle(const ServerRequest& req) {
  if (req.path == "/healthz") return JsonAnswer(200, {{"status", "ok"}});
  // The console's static files hold no data: served without a token (daemon/console/console.h).
  if (auto page = ServeConsole(req)) return *page;
  if (req.path == "/v1/session" && req.method == "POST") return SignIn(req);
  if (req.path == "/v1/session" && req.method == "DELETE") {
    // Signing out needs no valid token: a cookie left from a token that was since rotated away
    // must still be clearable.
    ServerResponse r;
    r.status = 204;
    r.headers.emplace_back("Set-Cookie", SessionCookie("", hooks_.tls, /*expire=*/true));
    return r;
  }
  auto caller = Authenticate(req);
  if (!caller) return Error(401, "unauthorized");
  // A browser attaches the cookie to requests other sites make it send: a change made with the
  // cookie must prove it comes from the console's own page, which alone can read the CSRF token
  // (from POST /v1/session or GET /v1/whoami). A bearer token is never sent by a browser unasked.
  if (caller->cookie && req.method != "GET" && req.method != "HEAD") {
    auto presented = req.Header("X-CSRF-Token");
    if (!presented || !crypto::ConstantTimeEquals(crypto::Sha256(*presented),
                                                  crypto::Sha256(CsrfToken(caller->token))))
      return Error(403, "CSRF token missing or wrong");
  }
  if (auto problem = RequestTextProblem(req)) return Error(400, *problem);
  return Route(req, *caller);
}

ServerResponse AdminApi::SignIn(const ServerRequest& req) {
  auto ct = req.Header("Content-Type");
  // JSON only: a cross-site form cannot send application/json without a CORS preflight, so
  // another site cannot sign a browser in with a token of its choosing.
  if (!ct || ct->substr(0, ct->find(';')) != "application/json")
    return Error(415, "Content-Type must be application/json");
  auto body = ParseJson(req.body);
  if (!body.ok()) return Error(400, body.status().message());
  if (!body->is_object() || !body->contains("token") || !(*body)["token"].is_string())
    return Error(400, "the body must be {\"token\": \"...\"}");
  const std::string token = (*body)["token"].get<std::string>();
  auto caller = Match(token);
  if (!caller) return Error(401, "wrong token");
  if (!IsCookieValue(token))
    return Error(400,
                 "this token cannot be kept in a cookie (it holds spaces, quotes, commas, "
                 "semicolons, backslashes or non-ASCII characters); use a token such as `openssl "
                 "rand -hex 32` prints, or send it as Authorization: Bearer");
  spdlog::info("admin: token={} signed in to the console", caller->who.name);
  ServerResponse r = JsonAnswer(200, WhoJson(caller->who, token));
  r.headers.emplace_back("Set-Cookie", SessionCookie(token, hooks_.tls, /*expire=*/false));
  return r;
}

ServerResponse AdminApi::Route(const ServerRequest& req, const Caller& caller) {
  const Principal& who = caller.who;
  const std::string& p = req.path;
  const bool get = req.method == "GET", post = req.method == "POST";
  auto rest = [&](const std::string& prefix) -> std::optional<std::string> {
    if (p.rfind(prefix, 0) != 0 || p.size() == prefix.size()) return std::nullopt;
    return p.substr(prefix.size());
  };
  // 403 when the role may not do `action` at all (whatever the entity).
  auto deny = [&](AdminAction action) -> std::optional<ServerResponse> {
    if (Authorize(who, action, TargetScope::kInScope) == Decision::kForbidden)
      return Error(403, ForbiddenMessage(who.role, action));
    return std::nullopt;
  };
  auto filtered = [&](AdminAction action) {
    return Authorize(who, action, TargetScope::kTenant) == Decision::kAllowFiltered;
  };
  if (get && p == "/v1/whoami") return JsonAnswer(200, WhoJson(who, caller.token));
  if (get && p == "/readyz") {
    if (auto d = deny(AdminAction::kReadiness)) return *d;
    auto counts = store_.CountEventsByState();
    bool storage_ok = counts.ok();
    bool auth0_ok = hooks_.auth0_token_valid && hooks_.auth0_token_valid();
    std::optional<std::string> stalled =
        hooks_.pipeline_stalled ? hooks_.pipeline_stalled() : std::nullopt;
    const bool ready = storage_ok && auth0_ok && !stalled;
    return JsonAnswer(ready ? 200 : 503, {{"ready", ready},
                                          {"storage", storage_ok},
                                          {"auth0_token", auth0_ok},
                                          {"pipeline", stalled ? *stalled : std::string("ok")}});
  }
  if (get && p == "/metrics" && hooks_.metrics) {
    if (auto d = deny(AdminAction::kMetrics)) return *d;
    ServerResponse r;
    r.body = hooks_.metrics();
    r.content_type = "text/plain; version=0.0.4";
    return r;
  }
  if (get && p == "/v1/status") {
    if (auto d = deny(AdminAction::kStatus)) return *d;
    return Status();
  }
  if (get && p == "/v1/events") {
    if (auto d = deny(AdminAction::kListEvents)) return *d;
    return Events(req, who, filtered(AdminAction::kListEvents));
  }
  if (post && p == "/v1/events") {
    if (auto d = deny(AdminAction::kSubmitEvent)) return *d;
    return SubmitEvent(req, who);
  }
  if (get && p == "/v1/mutations") {
    if (auto d = deny(AdminAction::kListMutations)) return *d;
    return Mutations(req, who, filtered(AdminAction::kListMutations));
  }
  if (get && p == "/v1/organizations") {
    if (auto d = deny(AdminAction::kListOrganizations)) return *d;
    return List(req, who, EntityKind::kOrganization, filtered(AdminAction::kListOrganizations));
  }
  if (get && p == "/v1/users") {
    if (auto d = deny(AdminAction::kListUsers)) return *d;
    return List(req, who, EntityKind::kUser, filtered(AdminAction::kListUsers));
  }
  if (get && p == "/v1/plan") {
    if (auto d = deny(AdminAction::kPlan)) return *d;
    return Plan(req);
  }
  if (post && (p == "/v1/guard/approve" || p == "/v1/guard/reject")) {
    const bool approve = p == "/v1/guard/approve";
    if (auto d = deny(approve ? AdminAction::kGuardApprove : AdminAction::kGuardReject)) return *d;
    return GuardAction(req, who, p.substr(10));
  }
  if (post && p == "/v1/drift/run") {
    if (auto d = deny(AdminAction::kDriftRun)) return *d;
    return DriftRun(req);
  }
  if (post && (p == "/v1/pause" || p == "/v1/resume")) {
    const bool pause = p == "/v1/pause";
    if (auto d = deny(pause ? AdminAction::kPause : AdminAction::kResume)) return *d;
    return Pause(who, pause);
  }
  if (p == "/v1/sources" || p.rfind("/v1/sources/", 0) == 0) {
    if (auto d = deny(get ? AdminAction::kReadSources : AdminAction::kDeclaredApply)) return *d;
    ServerResponse r = HandleSourcesRequest(
        req, store_, clock_, hooks_.sources ? hooks_.sources() : std::vector<SourceConfig>{},
        hooks_.writer);
    if (get && p == "/v1/sources" && r.status == 200) {
      // Events submitted through POST /v1/events have a source of their own; listed so that a
      // client can offer it as a filter like any other.
      Json body = Json::parse(r.body, nullptr, false);
      if (body.is_object() && body["sources"].is_array()) {
        body["sources"].push_back({{"name", kConsoleSource}, {"scheme", "console"}});
        r = JsonAnswer(200, body);
      }
    }
    return r;
  }
  if (get && p == "/v1/vendor-notifications") {
    if (auto d = deny(AdminAction::kListVendorNotifications)) return *d;
    return VendorNotifications(req);
  }
  if (auto tail = rest("/v1/vendor-notifications/"); tail && get) {
    if (auto d = deny(AdminAction::kListVendorNotifications)) return *d;
    return VendorNotification(*tail);
  }
  if (auto tail = rest("/v1/vendor-notifications/"); tail && post) {
    if (auto d = deny(AdminAction::kReplayVendorNotification)) return *d;
    return VendorReplay(who, *tail);
  }
  if (auto id = rest("/v1/events/")) {
    const std::string suffix = "/replay";
    if (post && id->size() > suffix.size() &&
        id->compare(id->size() - suffix.size(), suffix.size(), suffix) == 0) {
      if (auto d = deny(AdminAction::kReplay)) return *d;
      return Replay(req, who, id->substr(0, id->size() - suffix.size()));
    }
    if (get) {
      if (auto d = deny(AdminAction::kReadEvent)) return *d;
      return Event(req, who, *id);
    }
  }
  if (auto ext = rest("/v1/users/"); ext && get) {
    if (auto d = deny(AdminAction::kReadUser)) return *d;
    return Entity(req, who, EntityKind::kUser, *ext);
  }
  if (auto ext = rest("/v1/organizations/"); ext && get) {
    if (auto d = deny(AdminAction::kReadOrganization)) return *d;
    return Entity(req, who, EntityKind::kOrganization, *ext);
  }
  if (auto tail = rest("/v1/mutations/"); tail && post) {
    auto slash = tail->find('/');
    if (slash != std::string::npos)
      return MutationAction(who, tail->substr(0, slash), tail->substr(slash + 1));
  }
  return Error(404, "no such endpoint: " + req.method + " " + req.path);
}

ServerResponse AdminApi::Status() {
  const int64_t now = clock_.NowUnixMillis();
  auto events = store_.CountEventsAt(now);
  auto mutations = store_.CountMutationsByState();
  auto oldest = store_.OldestPendingMs(now);
  // Work still to do now or within a minute, what `tenantsync wait` and `apply --wait` watch
  // (daemon/operators/progress.h), from the same pass over the queue as its totals.
  constexpr int64_t kSoonMs = 60000;
  auto dirty = store_.CountDirtyDue(now, now + kSoonMs);
  auto next_scheduled = store_.ScheduledDirty(now, 5);
  auto waiting = store_.CountWaitingEntities();
  auto waiting_examples = store_.WaitingEntities(5);
  if (!events.ok() || !mutations.ok() || !oldest.ok() || !dirty.ok() || !next_scheduled.ok() ||
      !waiting.ok() || !waiting_examples.ok()) {
    return Error(503, "storage unavailable");
  }
  // pending = every event not applied yet = due (now) + scheduled (effective_at still ahead).
  Json ev = Json::object();
  for (auto state : {"pending", "scheduled", "applied", "rejected", "failed"})
    ev[state] = events->count(state) ? events->at(state) : 0;
  ev["due"] = std::max<int64_t>(0, ev["pending"].get<int64_t>() - ev["scheduled"].get<int64_t>());
  Json mu = Json::object();
  for (auto state : {"pending", "in_flight", "done", "failed", "dead", "discarded", "superseded"}) {
    mu[state] = mutations->count(state) ? mutations->at(state) : 0;
  }
  Json next = Json::array();
  for (const auto& d : *next_scheduled)
    next.push_back({{"entity", d.entity}, {"due_at_ms", d.not_before_ms}});
  Json examples = Json::array();
  for (const auto& w : *waiting_examples)
    examples.push_back({{"entity", EntityKey(w.kind, w.external_id)}, {"reason", w.reason}});
  Json body = {
      {"events", ev},
      {"mutations", mu},
      // Every entity marked for reconciliation, scheduled work included (counted apart below).
      {"entities_to_reconcile", dirty->total},
      {"scheduled_work", {{"total", dirty->scheduled}, {"next", next}}},
      {"waiting", {{"total", *waiting}, {"examples", examples}}},
      {"oldest_pending_seconds",
       oldest->has_value() ? Json((now - **oldest) / 1000.0) : Json(nullptr)}};
  if (hooks_.writer) {
    body["paused"] = hooks_.writer->paused();
    int64_t last = hooks_.writer->last_success_ms();
    body["last_success_ms"] = last > 0 ? Json(last) : Json(nullptr);
  }
  if (hooks_.auth0) {
    auto v = hooks_.auth0->RateLimitView();
    body["rate_limit"] = {{"limit", v.limit},
                          {"remaining", v.remaining},
                          {"reset_unix", v.reset_unix},
                          {"tokens", v.tokens},
                          {"capacity", v.capacity},
                          {"refill_per_second", v.refill_per_second},
                          {"throttled_total", v.throttled_total}};
  }
  {
    auto imports = store_.CountOpenImportUsers();
    auto recent = store_.CountMutationsDoneSince(now - 60000);
    if (!imports.ok() || !recent.ok()) return Error(503, "storage unavailable");
    const int64_t events_due = ev["due"].get<int64_t>();
    Json headroom = nullptr;
    if (hooks_.auth0) {
      // Auth0's own x-ratelimit-remaining once seen, else the local bucket's tokens.
      auto v = hooks_.auth0->RateLimitView();
      headroom = v.limit > 0 ? v.remaining : static_cast<int64_t>(v.tokens);
    }
    body["progress"] = {
        {"pending_entities", {{"due", dirty->due}, {"within_a_minute", dirty->soon}}},
        // Users waiting for a users-import job (its own or the next file): revisited only at a
        // long backstop, so not within a minute, yet work still to do.
        {"awaiting_import", dirty->awaiting_import},
        // Of all users to be created by import, those in jobs Auth0 is running now.
        {"import_users", *imports},
        {"events_pending", events_due},
        {"pending_total", dirty->due + dirty->soon + dirty->awaiting_import + events_due},
        // Auth0 writes left, estimated: one per marked entity and pending event, plus what
        // entities had left when their turn ended (an organization's member list). Users
        // awaiting an import are left out: a job creates thousands in three requests.
        {"writes_left_estimate",
         dirty->due + dirty->soon + events_due +
             (hooks_.writer ? hooks_.writer->ExtraStepsLeft() : int64_t{0})},
        {"mutations_done_last_minute", *recent},
        // A counter since start (the stored done count drops when the retention deletes old
        // rows, which would read as writes going backwards).
        {"mutations_done_total",
         hooks_.mutations_done_total ? Json(hooks_.mutations_done_total()) : Json(nullptr)},
        {"auth0_requests_total",
         hooks_.auth0_requests_total ? Json(hooks_.auth0_requests_total()) : Json(nullptr)},
        {"auth0_headroom", headroom}};
  }
  if (hooks_.guard) {
    auto g = hooks_.guard->StatusJson();
    body["guard"] = g.ok() ? *g : Json({{"error", g.status().message()}});
  }
  if (hooks_.drift_last) {
    Json last = hooks_.drift_last();
    if (last.is_object()) {
      Json first = Json::array();
      for (auto& d : last.value("differences", Json::array())) {
        if (first.size() >= 5) break;
        first.push_back(d);
      }
      body["drift"] = {{"ran_at_ms", last.value("ran_at_ms", Json(nullptr))},
                       {"mode", last.value("mode", Json(nullptr))},
                       {"differences", last.value("differences", Json::array()).size()},
                       {"first", first},
                       {"corrected", last.value("corrected", Json(0))}};
    } else {
      body["drift"] = nullptr;
    }
  }
  if (auto vn = CountVendorNotifications(store_); vn.ok()) {
    body["vendor_notifications"] = {{"pending", vn->pending}, {"failed", vn->failed}};
  } else {
    body["vendor_notifications"] = {{"error", vn.status().message()}};
  }
  if (hooks_.extra_status) hooks_.extra_status(body);
  return JsonAnswer(200, body);
}

ServerResponse AdminApi::Events(const ServerRequest& req, const Principal& who, bool filtered) {
  EventFilter f;
  // "pending" is every event not applied yet; "due" and "scheduled" split it by whether its
  // effective_at is still ahead.
  std::optional<bool> scheduled;
  if (auto s = req.Param("state")) {
    if (*s == "scheduled" || *s == "due") {
      scheduled = *s == "scheduled";
    } else {
      f.state = ParseEventState(*s);
      if (!f.state)
        return Error(400,
                     "state must be one of pending, due, scheduled, applied, rejected, failed "
                     "(got \"" +
                         *s + "\")");
    }
  }
  if (auto s = req.Param("source")) f.source = *s;
  std::string error;
  auto limit = IntParam(req, "limit", 1, 1000, 100, &error);
  auto after = IntParam(req, "after", 0, INT64_MAX, 0, &error);
  if (!limit || !after) return Error(400, error);
  f.limit = static_cast<int>(*limit);
  f.after_seq = *after;
  const int64_t now = clock_.NowUnixMillis();
  if (scheduled) f.pending_at = EventFilter::Timing{now, *scheduled};
  if (filtered) {
    // Only events about entities in the caller's scope: read pages and keep those, up to
    // `limit` of them or kScopedScanRows rows read; next_after continues after the last row read.
    Scope scope(who, store_);
    Json items = Json::array();
    const int limit_items = f.limit;
    f.limit = kScopedScanPage;
    int scanned = 0;
    Json next = nullptr;
    while (true) {
      auto page = store_.ListEvents(f);
      if (!page.ok()) return Error(503, page.status().message());
      bool stop = false;
      for (auto& e : *page) {
        f.after_seq = e.seq;
        ++scanned;
        auto in = scope.Event(e);
        if (!in.ok()) return Error(503, in.status().message());
        if (*in) items.push_back(EventJson(e, now));
        if (items.size() == static_cast<size_t>(limit_items) || scanned >= kScopedScanRows) {
          next = e.seq;
          stop = true;
          break;
        }
      }
      if (stop || page->size() < static_cast<size_t>(kScopedScanPage)) break;
    }
    return JsonAnswer(200, {{"events", items}, {"next_after", next}});
  }
  auto list = store_.ListEvents(f);
  if (!list.ok()) return Error(503, list.status().message());
  Json items = Json::array();
  for (auto& e : *list) items.push_back(EventJson(e, now));
  Json body = {{"events", items}};
  body["next_after"] =
      list->size() == static_cast<size_t>(f.limit) ? Json(list->back().seq) : Json(nullptr);
  return JsonAnswer(200, body);
}

std::optional<EventRecord> AdminApi::FindEvent(const ServerRequest& req, const std::string& id,
                                               ServerResponse* error) {
  EventFilter f;
  f.event_id = id;
  if (auto s = req.Param("source")) f.source = *s;
  f.limit = 2;
  auto list = store_.ListEvents(f);
  if (!list.ok())
    *error = Error(503, list.status().message());
  else if (list->empty())
    *error = Error(404, "no event with id \"" + id + "\"");
  else if (list->size() > 1)
    *error = Error(409, "several sources sent event id \"" + id + "\"; add ?source=NAME");
  else
    return list->front();
  return std::nullopt;
}

ServerResponse AdminApi::Event(const ServerRequest& req, const Principal& who,
                               const std::string& id) {
  ServerResponse error;
  auto e = FindEvent(req, id, &error);
  if (!e) return error;
  Scope scope(who, store_);
  auto in = scope.Event(*e);
  if (!in.ok()) return Error(503, in.status().message());
  if (Authorize(who, AdminAction::kReadEvent, ScopeOf(*in)) == Decision::kNotFound)
    return Error(404, "no event with id \"" + id + "\"");
  auto j = EventJson(*e, clock_.NowUnixMillis());
  if (e->compacted_at_ms) {
    j["body"] = nullptr;
    j["body_removed"] = BodyRemoved(*e);
    return JsonAnswer(200, j);
  }
  j["body"] = Json::parse(e->body, nullptr, false);
  if (j["body"].is_discarded()) j["body"] = e->body;
  return JsonAnswer(200, j);
}

ServerResponse AdminApi::Replay(const ServerRequest& req, const Principal& who,
                                const std::string& id) {
  ServerResponse error;
  auto found = FindEvent(req, id, &error);
  if (!found) return error;
  const EventRecord& e = *found;
  Scope scope(who, store_);
  auto in = scope.Event(e);
  if (!in.ok()) return Error(503, in.status().message());
  switch (Authorize(who, AdminAction::kReplay, ScopeOf(*in))) {
    case Decision::kNotFound:
      return Error(404, "no event with id \"" + id + "\"");
    case Decision::kForbidden:
      return Error(403, ForbiddenMessage(who.role, AdminAction::kReplay));
    default:
      break;
  }
  if (e.state != EventState::kRejected && e.state != EventState::kFailed) {
    return Error(409, std::string("only rejected or failed events can be replayed; this one is ") +
                          EventStateName(e.state));
  }
  if (e.compacted_at_ms) {
    return Error(410, "this event cannot be replayed: its " + BodyRemoved(e) +
                          "; ask the source to send the change again under a new event id");
  }
  // Validated again with the current rules: a replay after a fix succeeds, one without fails
  // with the same clear message.
  auto json = ParseJson(e.body);
  Result<ParsedEvent> parsed = json.ok() ? ParseEvent(*json) : Result<ParsedEvent>(json.status());
  if (!parsed.ok()) return Error(422, "still not valid: " + parsed.status().message());
  auto txn = store_.BeginState();
  if (!txn.ok()) return Error(503, txn.status().message());
  const int64_t now = clock_.NowUnixMillis();
  if (auto st = (*txn)->SetEventState(e.seq, EventState::kPending, "", now); !st.ok()) {
    return Error(503, st.message());
  }
  if (auto st = (*txn)->Commit(); !st.ok()) return Error(503, st.message());
  txn->reset();
  spdlog::info("admin: token={} replayed event source={} id={}", who.name, e.source, e.event_id);
  if (hooks_.writer) hooks_.writer->Wake();
  EventRecord replayed = e;
  replayed.state = EventState::kPending;
  auto j = EventJson(replayed, now);
  j["error"] = nullptr;
  return JsonAnswer(200, j);
}

ServerResponse AdminApi::Entity(const ServerRequest& req, const Principal& who, EntityKind kind,
                                const std::string& ext) {
  const ServerResponse missing = Error(
      404, std::string("no ") + (kind == EntityKind::kOrganization ? "organization" : "user") +
               " with external_id \"" + ext + "\"");
  Scope scope(who, store_);
  Result<bool> in =
      kind == EntityKind::kOrganization ? Result<bool>(scope.Org(ext)) : scope.User(ext);
  if (!in.ok()) return Error(503, in.status().message());
  const AdminAction action =
      kind == EntityKind::kOrganization ? AdminAction::kReadOrganization : AdminAction::kReadUser;
  // Outside an org-admin's scope the answer is the one for an entity that does not exist.
  if (Authorize(who, action, ScopeOf(*in)) == Decision::kNotFound) return missing;
  auto row = store_.ReadEntity(kind, ext);
  if (!row.ok()) return Error(503, row.status().message());
  if (!row->exists) return missing;
  const std::string key = EntityKey(kind, ext);
  // known.waiting is the executor's note on why nothing can be done yet, not Auth0 state: it is
  // shown on its own.
  Json known = row->known;
  Json waiting = nullptr;
  if (known.is_object() && known.contains("waiting")) {
    if (known["waiting"].is_string()) waiting = known["waiting"];
    known.erase("waiting");
  }
  Json desired = View(row->desired);
  if (who.role == Role::kOrgAdmin && desired.contains("organizations") &&
      desired["organizations"].is_array()) {
    // A member of other organizations too: those are not the caller's to see.
    Json mine = Json::array();
    for (const auto& m : desired["organizations"]) {
      if (m.is_object() && OrganizationInScope(who, m.value("external_id", std::string())))
        mine.push_back(m);
    }
    desired["organizations"] = mine;
  }
  Json body = {{"external_id", ext},
               {"auth0_id", row->auth0_id ? Json(*row->auth0_id) : Json(nullptr)},
               {"waiting", waiting},
               {"desired", desired},
               {"last_known_auth0", known},
               {"events", EventsBehind(row->desired, {}, nullptr)}};
  Json mutations = Json::array();
  for (const std::string& entity :
       {key, kind == EntityKind::kOrganization ? MembersKey(ext) : std::string()}) {
    if (entity.empty()) continue;
    SqliteStore::MutationFilter f;
    f.entity = entity;
    f.limit = 50;
    auto list = store_.ListMutations(f);
    if (!list.ok()) return Error(503, list.status().message());
    for (auto& m : *list) mutations.push_back(MutationJson(m));
  }
  body["mutations"] = mutations;
  if (kind == EntityKind::kOrganization) {
    // Its desired members with their roles (every one of them is in an org-admin's scope, since
    // the organization is).
    constexpr int kMaxMembers = 1000;
    auto members = store_.ReadOrgMembers(ext, kMaxMembers + 1);
    if (!members.ok()) return Error(503, members.status().message());
    Json list = Json::array();
    for (const auto& m : *members) {
      if (list.size() == kMaxMembers) break;
      list.push_back({{"external_id", m.user_external_id}, {"roles", m.roles}});
    }
    body["members"] = list;
    body["members_truncated"] = members->size() > kMaxMembers;
  }
  if (kind == EntityKind::kUser) {
    auto cmds = store_.ListCommands(ext, 20);
    if (!cmds.ok()) return Error(503, cmds.status().message());
    Json commands = Json::array();
    for (auto& c : *cmds) {
      commands.push_back({{"id", c.id},
                          {"kind", CommandKindName(c.kind)},
                          {"event", c.event},
                          {"state", CommandStateName(c.state)},
                          {"attempts", c.attempts},
                          {"error", c.last_error.empty() ? Json(nullptr) : Json(c.last_error)}});
    }
    body["commands"] = commands;
    // Membership writes that died or keep failing for this person (e.g. a role that does not
    // exist in Auth0): they belong to the organization's member list, so they are found by the
    // user's Auth0 id in their request.
    Json problems = Json::array();
    if (row->auth0_id) {
      auto list = store_.MembershipProblems(*row->auth0_id, 20);
      if (!list.ok()) return Error(503, list.status().message());
      for (auto& m : *list) {
        auto mine = scope.MutationEntity(m.entity);
        if (!mine.ok()) return Error(503, mine.status().message());
        if (*mine) problems.push_back(MutationJson(m));
      }
    }
    body["membership_problems"] = problems;
    if (req.Param("logs") == std::optional<std::string>("true")) {
      if (!hooks_.auth0 || !row->auth0_id) {
        body["auth0_logs"] = nullptr;
      } else {
        auto logs = hooks_.auth0->GetUserLogs(*row->auth0_id, 0, 20);
        body["auth0_logs"] = logs.ok() ? Json(*logs) : Json({{"error", logs.status().ToString()}});
      }
    }
  }
  return JsonAnswer(200, body);
}

ServerResponse AdminApi::Mutations(const ServerRequest& req, const Principal& who, bool filtered) {
  SqliteStore::MutationFilter f;
  if (auto s = req.Param("state")) {
    f.state = ParseMutationState(*s);
    if (!f.state)
      return Error(
          400,
          "state must be one of pending, in_flight, done, failed, dead, discarded, superseded "
          "(got \"" +
              *s + "\")");
  }
  if (auto s = req.Param("entity")) f.entity = *s;
  std::string error;
  auto limit = IntParam(req, "limit", 1, 1000, 100, &error);
  auto before = IntParam(req, "before", 0, INT64_MAX, 0, &error);
  if (!limit || !before) return Error(400, error);
  f.limit = static_cast<int>(*limit);
  f.before_id = *before;
  if (filtered) {
    // As for events: rows of entities in the caller's scope, up to `limit` of them or
    // kScopedScanRows rows read; next_before continues before the last row read.
    Scope scope(who, store_);
    Json items = Json::array();
    const int limit_items = f.limit;
    f.limit = kScopedScanPage;
    int scanned = 0;
    Json next = nullptr;
    while (true) {
      auto page = store_.ListMutations(f);
      if (!page.ok()) return Error(503, page.status().message());
      bool stop = false;
      for (auto& m : *page) {
        f.before_id = m.id;
        ++scanned;
        auto in = scope.MutationEntity(m.entity);
        if (!in.ok()) return Error(503, in.status().message());
        if (*in) items.push_back(MutationJson(m));
        if (items.size() == static_cast<size_t>(limit_items) || scanned >= kScopedScanRows) {
          next = m.id;
          stop = true;
          break;
        }
      }
      if (stop || page->size() < static_cast<size_t>(kScopedScanPage)) break;
    }
    return JsonAnswer(200, {{"mutations", items}, {"next_before", next}});
  }
  auto list = store_.ListMutations(f);
  if (!list.ok()) return Error(503, list.status().message());
  Json items = Json::array();
  for (auto& m : *list) items.push_back(MutationJson(m));
  Json body = {{"mutations", items}};
  body["next_before"] =
      list->size() == static_cast<size_t>(f.limit) ? Json(list->back().id) : Json(nullptr);
  return JsonAnswer(200, body);
}

ServerResponse AdminApi::MutationAction(const Principal& who, const std::string& id_text,
                                        const std::string& action) {
  if (action != "retry" && action != "discard")
    return Error(404, "no such action: " + action + " (retry or discard)");
  const AdminAction what = action == "retry" ? AdminAction::kRetry : AdminAction::kDiscard;
  if (Authorize(who, what, TargetScope::kInScope) == Decision::kForbidden)
    return Error(403, ForbiddenMessage(who.role, what));
  char* end = nullptr;
  long long id = std::strtoll(id_text.c_str(), &end, 10);
  if (id_text.empty() || *end != '\0' || id <= 0)
    return Error(400, "mutation id must be a positive integer");
  auto m = store_.GetMutation(id);
  if (!m.ok()) return Error(503, m.status().message());
  if (!*m) return Error(404, "no mutation " + id_text);
  Scope scope(who, store_);
  auto in = scope.MutationEntity((*m)->entity);
  if (!in.ok()) return Error(503, in.status().message());
  if (Authorize(who, what, ScopeOf(*in)) != Decision::kAllow)
    return Error(403, ForbiddenMessage(who.role, what));
  if ((*m)->state != MutationState::kDead && (*m)->state != MutationState::kFailed) {
    return Error(
        409,
        std::string("only dead or failed mutations can be retried or discarded; this one is ") +
            MutationStateName((*m)->state));
  }
  auto txn = store_.BeginState();
  if (!txn.ok()) return Error(503, txn.status().message());
  const int64_t now = clock_.NowUnixMillis();
  MutationState next = action == "retry" ? MutationState::kFailed : MutationState::kDiscarded;
  const std::string by = " (token " + who.name + ")";
  std::string note = action == "retry"
                         ? "retried by an operator" + by + ": re-planned from desired state"
                         : "discarded by an operator" + by;
  tenantsync::Status st = (*txn)->UpdateMutation(
      id, next, note + (((*m)->last_error.empty()) ? "" : "; was: " + (*m)->last_error),
      (*m)->attempts, now);
  if (st.ok() && action == "retry")
    st = (*txn)->MarkDirty((*m)->entity, 0, /*reset_attempts=*/true);
  if (st.ok()) st = (*txn)->Commit();
  if (!st.ok()) return Error(503, st.message());
  txn->reset();
  spdlog::info("admin: token={} {} mutation {}", who.name,
               action == "retry" ? "retried" : "discarded", id);
  if (hooks_.writer) hooks_.writer->Wake();
  auto fresh = store_.GetMutation(id);
  return JsonAnswer(200, fresh.ok() && *fresh ? MutationJson(**fresh) : Json({{"id", id}}));
}

ServerResponse AdminApi::GuardAction(const ServerRequest& req, const Principal& who,
                                     const std::string& action) {
  std::string by;
  if (action == "reject") {
    auto parsed = RejectedBy(req.body, who.name);
    if (!parsed.ok()) return Error(400, parsed.status().message());
    by = *parsed;
  }
  if (!hooks_.guard) return Error(503, "the guard is not running");
  if (!hooks_.guard->tripped()) return Error(409, "the guard is not tripped; nothing is held");
  if (action == "approve") {
    auto released = hooks_.guard->Approve();
    if (!released.ok()) return Error(503, released.status().message());
    spdlog::info("admin: token={} approved the guard ({} entities)", who.name, released->size());
    if (hooks_.writer) hooks_.writer->Wake();
    return JsonAnswer(200, {{"approved", released->size()}, {"entities", *released}});
  }
  auto discarded = hooks_.guard->Reject(by);
  if (!discarded.ok()) return Error(503, discarded.status().message());
  spdlog::info("admin: token={} rejected the guard (by {})", who.name, by);
  if (hooks_.writer) hooks_.writer->Wake();  // the entities whose intent was undone re-plan
  return JsonAnswer(200, {{"rejected", *discarded}, {"by", by}});
}

ServerResponse AdminApi::VendorNotifications(const ServerRequest& req) {
  VendorNotificationQuery q;
  if (auto s = req.Param("state")) {
    q.state = ParseVendorRowState(*s);
    if (!q.state)
      return Error(400, "state must be one of pending, mapped, failed (got \"" + *s + "\")");
  }
  if (auto s = req.Param("source")) q.source = *s;
  std::string error;
  auto limit = IntParam(req, "limit", 1, 1000, 100, &error);
  auto after = IntParam(req, "after", 0, INT64_MAX, 0, &error);
  if (!limit || !after) return Error(400, error);
  q.limit = static_cast<int>(*limit);
  q.before_seq = *after;
  auto rows = ListVendorNotifications(store_, q);
  if (!rows.ok()) return Error(503, rows.status().message());
  Json items = Json::array();
  for (const auto& r : *rows) items.push_back(VendorRowJson(r));
  // Newest first: the next page continues with rows stored before the last one answered.
  const Json next =
      rows->size() == static_cast<size_t>(q.limit) ? Json(rows->back().seq) : Json(nullptr);
  return JsonAnswer(200, {{"vendor_notifications", items}, {"next_after", next}});
}

ServerResponse AdminApi::VendorNotification(const std::string& tail) {
  // {source}/{event_id}: source names never hold '/', a vendor's event id may.
  const auto slash = tail.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= tail.size())
    return Error(404, "no such endpoint: GET /v1/vendor-notifications/" + tail);
  const std::string source = tail.substr(0, slash);
  const std::string event_id = tail.substr(slash + 1);
  auto row = ReadVendorNotification(store_, source, event_id);
  if (!row.ok()) return Error(503, row.status().message());
  if (!row->has_value())
    return Error(404, "no vendor notification " + event_id + " from source " + source);
  Json body = VendorRowJson(**row);
  if ((*row)->body.empty() && (*row)->state == VendorRowState::kMapped) {
    // docs/OPERATIONS.md "Retention": a mapped notification's record is dropped after
    // event_body_retention_days; the inbox events it became carry what it said.
    body["stored"] = nullptr;
    body["stored_removed"] =
        "the fetched record was removed by the retention ([storage] event_body_retention_days); "
        "the notification stays recorded, so a redelivery of it is still a duplicate";
    return JsonAnswer(200, body);
  }
  // The stored delivery (notification and fetched record) is what a replay maps again; a row
  // written by a newer or damaged build still answers, with the text as stored.
  Json stored = Json::parse((*row)->body, nullptr, false);
  body["stored"] = stored.is_discarded() ? Json((*row)->body) : stored;
  return JsonAnswer(200, body);
}

ServerResponse AdminApi::VendorReplay(const Principal& who, const std::string& tail) {
  // {source}/{event_id}/replay: source names never hold '/', a vendor's event id may.
  const std::string suffix = "/replay";
  const auto slash = tail.find('/');
  if (slash == std::string::npos || slash == 0 || tail.size() <= slash + 1 + suffix.size() ||
      tail.compare(tail.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return Error(404, "no such endpoint: POST /v1/vendor-notifications/" + tail);
  }
  const std::string source = tail.substr(0, slash);
  const std::string event_id = tail.substr(slash + 1, tail.size() - slash - 1 - suffix.size());
  if (!hooks_.vendor_replay) return Error(503, "the vendor connector stage is not running");
  tenantsync::Status st = hooks_.vendor_replay(source, event_id);
  if (st.kind() == StatusKind::kNotFound) return Error(404, st.message());
  if (st.kind() == StatusKind::kConflict) return Error(409, st.message());
  if (!st.ok()) return Error(503, st.message());
  spdlog::info("admin: token={} replayed vendor notification source={} id={}", who.name, source,
               event_id);
  auto row = ReadVendorNotification(store_, source, event_id);
  if (!row.ok() || !row->has_value())
    return JsonAnswer(200, {{"source", source}, {"event_id", event_id}, {"state", "pending"}});
  return JsonAnswer(200, VendorRowJson(**row));
}

ServerResponse AdminApi::Plan(const ServerRequest& req) {
  if (!hooks_.writer) return Error(503, "the writer is not running");
  std::string error;
  auto limit =
      IntParam(req, "limit", 1, Writer::kMaxPlanEntities, Writer::kDefaultPlanEntities, &error);
  if (!limit) return Error(400, error);
  // The marks counted before planning: a plan covers at most `limit` of them, and says so.
  auto waiting = store_.CountDirty();
  if (!waiting.ok()) return Error(503, "storage unavailable");
  // Each step is written out as it is planned: the answer for 100,000 users is ~30 MB of text,
  // their steps as objects twenty times that.
  std::string body = "{\"plan\":[";
  bool first = true;
  tenantsync::Status st = hooks_.writer->Plan(static_cast<int>(*limit), [&](PlannedStep&& step) {
    if (!first) body += ',';
    first = false;
    body +=
        Json{{"entity", step.entity}, {"kind", step.kind},     {"request", step.request},
             {"before", step.before}, {"events", step.events}, {"destructive", step.destructive}}
            .dump(-1, ' ', false, Json::error_handler_t::replace);
  });
  if (!st.ok()) return Error(503, st.message());
  const int64_t planned = std::min<int64_t>(*waiting, *limit);
  body += "],\"entities_waiting\":" + std::to_string(*waiting) +
          ",\"entities_planned\":" + std::to_string(planned) +
          ",\"truncated\":" + (*waiting > *limit ? "true" : "false") + "}";
  ServerResponse r;
  r.status = 200;
  r.body = std::move(body);
  return r;
}

ServerResponse AdminApi::DriftRun(const ServerRequest& req) {
  if (!hooks_.drift_run) return Error(503, "drift detection is not running");
  std::string mode = req.Param("mode").value_or("");
  if (!mode.empty() && mode != "report" && mode != "correct") {
    return Error(400, "mode must be report or correct (got \"" + mode + "\")");
  }
  auto report = hooks_.drift_run(mode);
  if (!report.ok()) return Error(503, "drift run failed: " + report.status().ToString());
  if (hooks_.writer && report->value("corrected", 0) > 0) hooks_.writer->Wake();
  return JsonAnswer(200, *report);
}

ServerResponse AdminApi::Pause(const Principal& who, bool paused) {
  if (!hooks_.writer) return Error(503, "the writer is not running");
  if (auto st = hooks_.writer->SetPaused(paused); !st.ok()) return Error(503, st.message());
  spdlog::info("admin: token={} {} the writer", who.name, paused ? "paused" : "resumed");
  return JsonAnswer(200, {{"paused", paused}});
}

ServerResponse AdminApi::SubmitEvent(const ServerRequest& req, const Principal& who) {
  auto body = ParseJson(req.body);
  if (!body.ok()) return Error(400, body.status().message());
  if (!body->is_object())
    return Error(400, "the body must be a JSON object {\"type\", \"data\"} (optional \"id\")");
  for (const auto& [key, value] : body->items()) {
    if (key != "type" && key != "data" && key != "id")
      return Error(400, "unknown field \"" + key + "\" (allowed: type, data, id)");
  }
  if (!body->contains("type") || !(*body)["type"].is_string())
    return Error(400, "type: must be a string");
  const Json data = body->contains("data") ? (*body)["data"] : Json(nullptr);
  // Checked at every depth, before the event's own validation: a console never sets passwords.
  if (HasPasswordKey(data))
    return Error(400, "password is not accepted; send user.password_reset_requested");
  std::string id;
  if (body->contains("id")) {
    if (!(*body)["id"].is_string()) return Error(400, "id: must be a string");
    id = (*body)["id"].get<std::string>();
    if (auto st = ValidateEventId(id); !st.ok()) return Error(400, "id " + st.message());
  } else {
    if (!hooks_.random) return Error(503, "no source of randomness for event ids; send \"id\"");
    char buf[48];
    std::snprintf(buf, sizeof buf, "console-%016llx%016llx",
                  static_cast<unsigned long long>(hooks_.random->Uniform(UINT64_MAX)),
                  static_cast<unsigned long long>(hooks_.random->Uniform(UINT64_MAX)));
    id = buf;
  }
  // Validated exactly as ingress validates a webhook, in the envelope it is stored in.
  const int64_t now = clock_.NowUnixMillis();
  const Json envelope = {{"type", (*body)["type"]}, {"timestamp", Rfc3339(now)}, {"data", data}};
  auto parsed = ParseEvent(envelope);
  if (!parsed.ok()) return Error(400, parsed.status().message());

  if (who.role == Role::kOrgAdmin) {
    std::optional<std::vector<std::string>> event_orgs;
    if (parsed->type == EventType::kUserUpserted && parsed->data.contains("organizations"))
      event_orgs = OrgIds(parsed->data["organizations"]);
    bool exists = false;
    std::vector<std::string> current;
    if (!IsOrganizationEvent(parsed->type)) {
      auto row = store_.ReadEntity(EntityKind::kUser, parsed->external_id);
      if (!row.ok()) return Error(503, row.status().message());
      exists = row->exists;
      auto members = store_.ReadUserMemberships(parsed->external_id);
      if (!members.ok()) return Error(503, members.status().message());
      for (const auto& m : *members) current.push_back(m.org_external_id);
    }
    auto allowed =
        SubmitDecision(who, parsed->type, parsed->external_id, event_orgs, exists, current);
    if (!allowed.ok()) return Error(403, allowed.message());
  }

  EventRecord record;
  record.source = kConsoleSource;
  record.event_id = id;
  record.type = EventTypeName(parsed->type);
  record.occurred_at_ms = parsed->timestamp_ms;
  record.effective_at_ms = parsed->effective_at_ms;
  record.received_at_ms = now;
  record.state = EventState::kPending;
  record.body = envelope.dump(-1, ' ', false, Json::error_handler_t::replace);
  record.submitted_by = who.name;
  auto stored = store_.InsertEvents({record});
  if (!stored.ok()) return Error(503, stored.status().message());
  if (stored->front() == InsertOutcome::kDuplicate)
    return JsonAnswer(200, {{"status", "duplicate"}, {"event_id", id}, {"error", nullptr}});
  spdlog::info("admin: token={} submitted event source=console id={} type={}", who.name, id,
               EventTypeName(parsed->type));
  if (hooks_.writer) hooks_.writer->Wake();
  return JsonAnswer(202, {{"status", "accepted"}, {"event_id", id}, {"error", nullptr}});
}

ServerResponse AdminApi::List(const ServerRequest& req, const Principal& who, EntityKind kind,
                              bool filtered) {
  SqliteStore::EntitySearch search;
  search.kind = kind;
  search.query = req.Param("q").value_or("");
  search.after = req.Param("after").value_or("");
  std::string error;
  auto limit = IntParam(req, "limit", 1, 500, 50, &error);
  if (!limit) return Error(400, error);
  search.limit = static_cast<int>(*limit);
  if (filtered) search.organizations = who.organizations;
  auto rows = store_.SearchEntities(search);
  if (!rows.ok()) return Error(503, rows.status().message());
  const bool org = kind == EntityKind::kOrganization;
  Json items = Json::array();
  for (const auto& found : *rows) {
    const EntityRow& row = found.row;
    const Json view = View(row.desired);
    const bool waiting = row.known.is_object() && row.known.contains("waiting");
    Json item = {{"external_id", row.external_id},
                 {"auth0_id", row.auth0_id ? Json(*row.auth0_id) : Json(nullptr)},
                 {"name", view.value("name", Json(nullptr))},
                 {"to_reconcile", found.to_reconcile},
                 // In Auth0 as desired, as far as tenantsync knows: created or adopted, and no
                 // work left for it.
                 {"converged", row.auth0_id.has_value() && !found.to_reconcile && !waiting}};
    if (org) {
      item["display_name"] = view.value("display_name", Json(nullptr));
    } else {
      item["email"] = view.value("email", Json(nullptr));
      item["blocked"] = view.value("blocked", false);
      item["left"] = view.value("left", false);
      item["deleted"] = view.value("deleted", false);
      Json orgs = Json::array();
      for (const auto& o : OrgIds(view.value("organizations", Json::array()))) {
        if (OrganizationInScope(who, o)) orgs.push_back(o);
      }
      item["organizations"] = orgs;
    }
    items.push_back(std::move(item));
  }
  const Json next = rows->size() == static_cast<size_t>(search.limit)
                        ? Json(rows->back().row.external_id)
                        : Json(nullptr);
  return JsonAnswer(200, {{org ? "organizations" : "users", items}, {"next_after", next}});
}

}  // namespace tenantsync
