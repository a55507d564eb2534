#include "daemon/admin.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "adapters/auth0/auth0_client.h"
#include "adapters/events/event.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "daemon/declared_api.h"
#include "daemon/desired_state.h"
#include "daemon/guard.h"
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
          {"note", e.note.empty() ? Json(nullptr) : Json(e.note)}};
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
// mutation errors and logged). No body, an empty one, `{}` or "by": null: `fallback`.
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

// The default `by` of a reject without one.
constexpr char kRejectedByDefault[] = "admin API";

// Entity keys as the writer names them ("user:emp-1", "org:acme").
std::string EntityKey(EntityKind kind, const std::string& ext) {
  return kind == EntityKind::kOrganization ? OrgKey(ext) : UserKey(ext);
}

}  // namespace

AdminApi::AdminApi(std::string token, SqliteStore& store, Clock& clock, AdminHooks hooks)
    : token_(std::move(token)), store_(store), clock_(clock), hooks_(std::move(hooks)) {}

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
  if (req.path == "/healthz") return JsonAnswer(200, {{"status", "ok"}});
  if (!Authorized(req)) return Error(401, "unauthorized");
  if (auto problem = RequestTextProblem(req)) return Error(400, *problem);
  return Route(req);
}

ServerResponse AdminApi::Route(const ServerRequest& req) {
  const std::string& p = req.path;
  const bool get = req.method == "GET", post = req.method == "POST";
  auto rest = [&](const std::string& prefix) -> std::optional<std::string> {
    if (p.rfind(prefix, 0) != 0 || p.size() == prefix.size()) return std::nullopt;
    return p.substr(prefix.size());
  };
  if (get && p == "/readyz") {
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
    ServerResponse r;
    r.body = hooks_.metrics();
    r.content_type = "text/plain; version=0.0.4";
    return r;
  }
  if (get && p == "/v1/status") return Status();
  if (get && p == "/v1/events") return Events(req);
  if (get && p == "/v1/mutations") return Mutations(req);
  if (get && p == "/v1/plan") return Plan();
  if (post && (p == "/v1/guard/approve" || p == "/v1/guard/reject"))
    return GuardAction(req, p.substr(10));
  if (post && p == "/v1/drift/run") return DriftRun(req);
  if (post && p == "/v1/pause") return Pause(true);
  if (post && p == "/v1/resume") return Pause(false);
  if (p == "/v1/sources" || p.rfind("/v1/sources/", 0) == 0) {
    return HandleSourcesRequest(req, store_, clock_,
                                hooks_.sources ? hooks_.sources() : std::vector<SourceConfig>{},
                                hooks_.writer);
  }
  if (auto id = rest("/v1/events/")) {
    const std::string suffix = "/replay";
    if (post && id->size() > suffix.size() &&
        id->compare(id->size() - suffix.size(), suffix.size(), suffix) == 0) {
      return Replay(req, id->substr(0, id->size() - suffix.size()));
    }
    if (get) return Event(req, *id);
  }
  if (auto ext = rest("/v1/users/"); ext && get) return Entity(req, EntityKind::kUser, *ext);
  if (auto ext = rest("/v1/organizations/"); ext && get)
    return Entity(req, EntityKind::kOrganization, *ext);
  if (auto tail = rest("/v1/mutations/"); tail && post) {
    auto slash = tail->find('/');
    if (slash != std::string::npos)
      return MutationAction(tail->substr(0, slash), tail->substr(slash + 1));
  }
  return Error(404, "no such endpoint: " + req.method + " " + req.path);
}

ServerResponse AdminApi::Status() {
  const int64_t now = clock_.NowUnixMillis();
  auto events = store_.CountEventsAt(now);
  auto mutations = store_.CountMutationsByState();
  auto oldest = store_.OldestPendingMs(now);
  auto dirty = store_.CountDirty();
  auto scheduled_dirty = store_.CountScheduledDirty(now);
  auto next_scheduled = store_.ScheduledDirty(now, 5);
  auto waiting = store_.CountWaitingEntities();
  auto waiting_examples = store_.WaitingEntities(5);
  if (!events.ok() || !mutations.ok() || !oldest.ok() || !dirty.ok() || !scheduled_dirty.ok() ||
      !next_scheduled.ok() || !waiting.ok() || !waiting_examples.ok()) {
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
      {"entities_to_reconcile", *dirty},
      {"scheduled_work", {{"total", *scheduled_dirty}, {"next", next}}},
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
  if (hooks_.extra_status) hooks_.extra_status(body);
  return JsonAnswer(200, body);
}

ServerResponse AdminApi::Events(const ServerRequest& req) {
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

ServerResponse AdminApi::Event(const ServerRequest& req, const std::string& id) {
  ServerResponse error;
  auto e = FindEvent(req, id, &error);
  if (!e) return error;
  auto j = EventJson(*e, clock_.NowUnixMillis());
  j["body"] = Json::parse(e->body, nullptr, false);
  if (j["body"].is_discarded()) j["body"] = e->body;
  return JsonAnswer(200, j);
}

ServerResponse AdminApi::Replay(const ServerRequest& req, const std::string& id) {
  ServerResponse error;
  auto found = FindEvent(req, id, &error);
  if (!found) return error;
  const EventRecord& e = *found;
  if (e.state != EventState::kRejected && e.state != EventState::kFailed) {
    return Error(409, std::string("only rejected or failed events can be replayed; this one is ") +
                          EventStateName(e.state));
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
  if (hooks_.writer) hooks_.writer->Wake();
  EventRecord replayed = e;
  replayed.state = EventState::kPending;
  auto j = EventJson(replayed, now);
  j["error"] = nullptr;
  return JsonAnswer(200, j);
}

ServerResponse AdminApi::Entity(const ServerRequest& req, EntityKind kind, const std::string& ext) {
  auto row = store_.ReadEntity(kind, ext);
  if (!row.ok()) return Error(503, row.status().message());
  if (!row->exists)
    return Error(404, std::string("no ") +
                          (kind == EntityKind::kOrganization ? "organization" : "user") +
                          " with external_id \"" + ext + "\"");
  const std::string key = EntityKey(kind, ext);
  // known.waiting is the executor's note on why nothing can be done yet, not Auth0 state: it is
  // shown on its own.
  Json known = row->known;
  Json waiting = nullptr;
  if (known.is_object() && known.contains("waiting")) {
    if (known["waiting"].is_string()) waiting = known["waiting"];
    known.erase("waiting");
  }
  Json body = {{"external_id", ext},
               {"auth0_id", row->auth0_id ? Json(*row->auth0_id) : Json(nullptr)},
               {"waiting", waiting},
               {"desired", View(row->desired)},
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
      for (auto& m : *list) problems.push_back(MutationJson(m));
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

ServerResponse AdminApi::Mutations(const ServerRequest& req) {
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
  auto list = store_.ListMutations(f);
  if (!list.ok()) return Error(503, list.status().message());
  Json items = Json::array();
  for (auto& m : *list) items.push_back(MutationJson(m));
  Json body = {{"mutations", items}};
  body["next_before"] =
      list->size() == static_cast<size_t>(f.limit) ? Json(list->back().id) : Json(nullptr);
  return JsonAnswer(200, body);
}

ServerResponse AdminApi::MutationAction(const std::string& id_text, const std::string& action) {
  if (action != "retry" && action != "discard")
    return Error(404, "no such action: " + action + " (retry or discard)");
  char* end = nullptr;
  long long id = std::strtoll(id_text.c_str(), &end, 10);
  if (id_text.empty() || *end != '\0' || id <= 0)
    return Error(400, "mutation id must be a positive integer");
  auto m = store_.GetMutation(id);
  if (!m.ok()) return Error(503, m.status().message());
  if (!*m) return Error(404, "no mutation " + id_text);
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
  std::string note = action == "retry" ? "retried by an operator: re-planned from desired state"
                                       : "discarded by an operator";
  tenantsync::Status st = (*txn)->UpdateMutation(
      id, next, note + (((*m)->last_error.empty()) ? "" : "; was: " + (*m)->last_error),
      (*m)->attempts, now);
  if (st.ok() && action == "retry")
    st = (*txn)->MarkDirty((*m)->entity, 0, /*reset_attempts=*/true);
  if (st.ok()) st = (*txn)->Commit();
  if (!st.ok()) return Error(503, st.message());
  txn->reset();
  if (hooks_.writer) hooks_.writer->Wake();
  auto fresh = store_.GetMutation(id);
  return JsonAnswer(200, fresh.ok() && *fresh ? MutationJson(**fresh) : Json({{"id", id}}));
}

ServerResponse AdminApi::GuardAction(const ServerRequest& req, const std::string& action) {
  std::string by;
  if (action == "reject") {
    auto parsed = RejectedBy(req.body, kRejectedByDefault);
    if (!parsed.ok()) return Error(400, parsed.status().message());
    by = *parsed;
  }
  if (!hooks_.guard) return Error(503, "the guard is not running");
  if (!hooks_.guard->tripped()) return Error(409, "the guard is not tripped; nothing is held");
  if (action == "approve") {
    auto released = hooks_.guard->Approve();
    if (!released.ok()) return Error(503, released.status().message());
    if (hooks_.writer) hooks_.writer->Wake();
    return JsonAnswer(200, {{"approved", released->size()}, {"entities", *released}});
  }
  auto discarded = hooks_.guard->Reject(by);
  if (!discarded.ok()) return Error(503, discarded.status().message());
  if (hooks_.writer) hooks_.writer->Wake();  // the entities whose intent was undone re-plan
  return JsonAnswer(200, {{"rejected", *discarded}, {"by", by}});
}

ServerResponse AdminApi::Plan() {
  if (!hooks_.writer) return Error(503, "the writer is not running");
  auto steps = hooks_.writer->Plan();
  if (!steps.ok()) return Error(503, steps.status().message());
  Json items = Json::array();
  for (auto& st : *steps) {
    items.push_back({{"entity", st.entity},
                     {"kind", st.kind},
                     {"request", st.request},
                     {"before", st.before},
                     {"events", st.events},
                     {"destructive", st.destructive}});
  }
  return JsonAnswer(200, {{"plan", items}});
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

ServerResponse AdminApi::Pause(bool paused) {
  if (!hooks_.writer) return Error(503, "the writer is not running");
  if (auto st = hooks_.writer->SetPaused(paused); !st.ok()) return Error(503, st.message());
  return JsonAnswer(200, {{"paused", paused}});
}

}  // namespace tenantsync
