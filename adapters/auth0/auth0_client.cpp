#include "adapters/auth0/auth0_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "adapters/auth0/backoff.h"
#include "adapters/auth0/endpoints.h"
#include "common/gzip.h"

namespace tenantsync {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

constexpr int kCheckpointTake = 100;    // Auth0's maximum `take`
constexpr int kOffsetPerPage = 100;     // Auth0's maximum `per_page`
constexpr int kOffsetCap = 1000;        // Auth0 refuses offset paging past 1000 records
constexpr int kMaxMembersPerCall = 10;  // Auth0's limit for organization member add/remove
// A 429 with a reset far away (clock skew, a daily quota) must not park the writer for hours;
// the caller gets kRateLimited with the real time instead once the waits are used up.
constexpr std::chrono::seconds kMaxSingleRateLimitWait{120};
// Guard against a server that keeps returning the same cursor.
constexpr int kMaxCheckpointPages = 1000000;
// Bounds of text from the network quoted in a Status message.
constexpr size_t kMaxQuoted = 300;

std::optional<int64_t> ParseInt(const std::string& s) {
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

bool IsJsonContentType(const std::string& ct) {
  return ct.empty() || ct.find("json") != std::string::npos;
}

std::string Enc(std::string_view s) { return PercentEncode(s); }

// A request body. Strings that are not valid UTF-8 are sent with U+FFFD instead of throwing
// (nlohmann's dump() throws type_error.316 on them by default).
std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// The priority of the calling thread's Management API calls: background reads (BackgroundScope)
// or urgent access removals (SetThreadUrgent).
thread_local RateLimiter::Priority tl_priority = RateLimiter::Priority::kNormal;
// Management API requests sent by the calling thread (BackgroundScope::requests()).
thread_local int64_t tl_requests = 0;

// ---- Checking answers into typed results -------------------------------------------------------

Status Malformed(std::string_view endpoint, const std::string& what) {
  return Status::Invalid(std::string(endpoint) + ": " + what);
}

// "<what> is <type>, not <expected>", e.g. "user_id is number, not a string".
std::string WrongType(const std::string& what, const Json& value, const char* expected) {
  return what + " is " + value.type_name() + ", not " + expected;
}

// Reads the fields of one object of an answer: the answer itself (`at` = "") or an element of a
// list answer (`at` = "[3]"). Absent and null fields are both "absent". The first problem found
// is kept; status() reports it as kInvalid "<endpoint>: <what was wrong>".
class Fields {
 public:
  Fields(const Json& object, std::string_view endpoint, std::string at)
      : object_(object), endpoint_(endpoint), at_(std::move(at)) {}

  bool ok() const { return error_.ok(); }
  const Status& status() const { return error_; }

  // A non-empty string that must be present (an id).
  std::string Id(const char* key) {
    const Json* v = Find(key);
    if (v == nullptr) {
      Fail((at_.empty() ? std::string("answer") : at_) + " has no " + key);
      return "";
    }
    if (!v->is_string()) {
      Fail(WrongType(Name(key), *v, "a string"));
      return "";
    }
    if (v->get_ref<const std::string&>().empty()) {
      Fail(Name(key) + " is empty");
      return "";
    }
    return v->get<std::string>();
  }
  std::optional<std::string> String(const char* key) {
    const Json* v = Find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) {
      Fail(WrongType(Name(key), *v, "a string"));
      return std::nullopt;
    }
    return v->get<std::string>();
  }
  std::optional<bool> Bool(const char* key) {
    const Json* v = Find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean()) {
      Fail(WrongType(Name(key), *v, "a boolean"));
      return std::nullopt;
    }
    return v->get<bool>();
  }
  const Json* Object(const char* key) { return Typed(key, &Json::is_object, "an object"); }
  const Json* Array(const char* key) { return Typed(key, &Json::is_array, "an array"); }

  std::string Name(const std::string& key) const { return at_.empty() ? key : at_ + "." + key; }
  void Fail(const std::string& what) {
    if (error_.ok()) error_ = Malformed(endpoint_, what);
  }

 private:
  const Json* Find(const char* key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  const Json* Typed(const char* key, bool (Json::*is)() const noexcept, const char* expected) {
    const Json* v = Find(key);
    if (v == nullptr) return nullptr;
    if (!((*v).*is)()) {
      Fail(WrongType(Name(key), *v, expected));
      return nullptr;
    }
    return v;
  }

  const Json& object_;
  std::string_view endpoint_;
  std::string at_;
  Status error_;
};

Status NotAnObject(std::string_view endpoint, const std::string& at, const Json& value) {
  return Malformed(endpoint, WrongType(at.empty() ? "answer" : at, value, "an object"));
}

// The profile fields tenantsync owns (Auth0User::profile).
constexpr const char* kProfileStrings[] = {"email",       "name",     "given_name",
                                           "family_name", "nickname", "picture"};

Result<Auth0User> ParseUser(const Json& j, std::string_view endpoint, const std::string& at) {
  if (!j.is_object()) return NotAnObject(endpoint, at, j);
  Fields f(j, endpoint, at);
  Auth0User u;
  u.user_id = f.Id("user_id");
  for (const char* key : kProfileStrings) {
    if (auto v = f.String(key)) u.profile[key] = *v;
  }
  if (auto v = f.Bool("email_verified")) u.profile["email_verified"] = *v;
  if (const Json* md = f.Object("app_metadata")) u.app_metadata = *md;
  if (const Json* md = f.Object("user_metadata")) u.user_metadata = *md;
  u.blocked = f.Bool("blocked").value_or(false);
  if (const Json* identities = f.Array("identities")) {
    for (size_t i = 0; i < identities->size(); ++i) {
      const Json& identity = (*identities)[i];
      const std::string name = f.Name("identities[" + std::to_string(i) + "]");
      if (!identity.is_object()) {
        f.Fail(WrongType(name, identity, "an object"));
        break;
      }
      auto c = identity.find("connection");
      if (c == identity.end() || c->is_null()) continue;
      if (!c->is_string()) {
        f.Fail(WrongType(name + ".connection", *c, "a string"));
        break;
      }
      u.connections.push_back(c->get<std::string>());
    }
  }
  if (!f.ok()) return f.status();
  return u;
}

Result<Auth0Organization> ParseOrganization(const Json& j, std::string_view endpoint) {
  if (!j.is_object()) return NotAnObject(endpoint, "", j);
  Fields f(j, endpoint, "");
  Auth0Organization o;
  o.id = f.Id("id");
  o.name = f.Id("name");
  if (auto v = f.String("display_name")) o.display_name = *v;
  if (const Json* b = f.Object("branding")) o.branding = *b;
  if (const Json* md = f.Object("metadata")) o.metadata = *md;
  if (!f.ok()) return f.status();
  return o;
}

Result<Auth0Application> ParseApplication(const Json& j, std::string_view endpoint) {
  if (!j.is_object()) return NotAnObject(endpoint, "", j);
  Fields f(j, endpoint, "");
  Auth0Application a;
  a.client_id = f.Id("client_id");
  if (const Json* callbacks = f.Array("callbacks")) {
    for (size_t i = 0; i < callbacks->size(); ++i) {
      const Json& url = (*callbacks)[i];
      if (!url.is_string()) {
        f.Fail(WrongType("callbacks[" + std::to_string(i) + "]", url, "a string"));
        break;
      }
      a.callbacks.push_back(url.get<std::string>());
    }
  }
  if (!f.ok()) return f.status();
  return a;
}

// The items of a list answer: every one must be a JSON object.
Status CheckObjects(const Json& items, std::string_view endpoint, const std::string& list_key) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_object()) {
      return Malformed(endpoint,
                       WrongType(list_key + "[" + std::to_string(i) + "]", items[i], "an object"));
    }
  }
  return Status::Ok();
}

// The array of records in a page: the answer itself, or its `list_key` member.
Result<Json*> PageItems(Json& body, std::string_view endpoint, const std::string& list_key) {
  if (body.is_array()) {
    if (auto s = CheckObjects(body, endpoint, ""); !s.ok()) return s;
    return &body;
  }
  if (!body.is_object()) return Malformed(endpoint, WrongType("answer", body, "an object"));
  auto it = body.find(list_key);
  if (it == body.end()) return Malformed(endpoint, "page without '" + list_key + "'");
  if (!it->is_array()) return Malformed(endpoint, WrongType(list_key, *it, "an array"));
  if (auto s = CheckObjects(*it, endpoint, list_key); !s.ok()) return s;
  return &*it;
}

}  // namespace

Auth0Client::BackgroundScope::BackgroundScope()
    : previous_(tl_priority), requests_at_start_(tl_requests) {
  tl_priority = RateLimiter::Priority::kBackground;
}
int64_t Auth0Client::BackgroundScope::requests() const { return tl_requests - requests_at_start_; }
Auth0Client::BackgroundScope::~BackgroundScope() { tl_priority = previous_; }

void Auth0Client::SetThreadUrgent(bool urgent) {
  tl_priority = urgent ? RateLimiter::Priority::kUrgent : RateLimiter::Priority::kNormal;
}

Status ClassifyAuth0Response(const HttpResponse& r, std::string_view endpoint,
                             Clock::WallTime now) {
  std::string where(endpoint);
  if (r.transport_error != TransportError::kNone) {
    const char* what = r.transport_error == TransportError::kTimeout   ? "timed out"
                       : r.transport_error == TransportError::kConnect ? "could not connect"
                                                                       : "connection closed";
    return Status::Retryable(where + ": " + what + " (" + SafeText(r.error_message, kMaxQuoted) +
                             ")");
  }
  // Auth0's error body: {"statusCode","error","message","errorCode"}.
  std::string message, error_code;
  Json body = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    if (body.contains("message") && body["message"].is_string()) message = body["message"];
    if (body.contains("errorCode") && body["errorCode"].is_string()) error_code = body["errorCode"];
    if (message.empty() && body.contains("error") && body["error"].is_string())
      message = body["error"];
  }
  if (message.empty()) message = r.body;
  error_code = SafeText(error_code, 100);
  std::string text = where + ": HTTP " + std::to_string(r.status) +
                     (error_code.empty() ? "" : " " + error_code) + ": " +
                     SafeText(message, kMaxQuoted);
  int s = r.status;
  if (s == 429) {
    Clock::WallTime until = now + std::chrono::seconds(1);
    auto reset = ParseInt(r.Header("x-ratelimit-reset"));
    auto retry_after = ParseInt(r.Header("retry-after"));
    // Bounded: a header far in the future (or absurd) must not overflow the time point.
    constexpr int64_t kFarFuture = int64_t{1} << 40;
    if (reset && *reset > 0 && *reset < kFarFuture &&
        Clock::WallTime(std::chrono::seconds(*reset)) > now) {
      until = Clock::WallTime(std::chrono::seconds(*reset));
    } else if (retry_after && *retry_after >= 0 && *retry_after < kFarFuture) {
      until = now + std::chrono::seconds(*retry_after);
    }
    return Status::RateLimited(until, std::move(text)).WithHttp(s, error_code);
  }
  if (s == 408 || s == 500 || s == 502 || s == 503 || s == 504) {
    return Status::Retryable(std::move(text)).WithHttp(s, error_code);
  }
  if (s == 404) return Status::NotFound(std::move(text)).WithHttp(s, error_code);
  if (s == 409) return Status::Conflict(std::move(text)).WithHttp(s, error_code);
  if (s >= 400 && s < 600) return Status::Permanent(std::move(text)).WithHttp(s, error_code);
  // 1xx/3xx: Auth0 never redirects the Management API; treat it as a malformed answer.
  return Status::Invalid(std::move(text)).WithHttp(s, error_code);
}

Auth0Client::Auth0Client(Auth0Options options, std::unique_ptr<HttpTransport> transport,
                         Clock& clock, Random& random, Auth0Observer* observer)
    : options_(std::move(options)),
      transport_(std::move(transport)),
      clock_(clock),
      random_(random),
      observer_(observer),
      tokens_(options_, *transport_, clock_, observer_),
      limiter_(clock_, options_.rate_limit_fraction, options_.fallback_rate_per_second) {
  options_.member_batch_size = std::clamp(options_.member_batch_size, 1, kMaxMembersPerCall);
  options_.client_secret.clear();  // TokenProvider holds the only copy it needs
}

Auth0Client::~Auth0Client() = default;

Result<std::unique_ptr<Auth0Client>> Auth0Client::Create(const Auth0Options& options, Clock& clock,
                                                         Random& random, Auth0Observer* observer) {
  auto transport = NewHttplibTransport(options);
  if (!transport.ok()) return transport.status();
  return std::make_unique<Auth0Client>(options, std::move(transport).value(), clock, random,
                                       observer);
}

void Auth0Client::Shutdown() {
  shutting_down_ = true;
  limiter_.Shutdown();
}

bool Auth0Client::Nap(std::chrono::nanoseconds d) {
  const auto deadline = clock_.Monotonic() + d;
  while (!shutting_down_) {
    auto left = deadline - clock_.Monotonic();
    if (left <= std::chrono::nanoseconds::zero()) return true;
    // Short slices so a shutdown is noticed within 100 ms; a fake clock advanced past the
    // deadline ends the whole nap at once.
    clock_.SleepFor(std::min<std::chrono::nanoseconds>(left, std::chrono::milliseconds(100)));
  }
  return false;
}

void Auth0Client::Report(std::string_view endpoint, int status, Clock::MonoTime started) {
  if (observer_ == nullptr) return;
  observer_->OnRequest(endpoint, status,
                       std::chrono::duration<double>(clock_.Monotonic() - started).count());
}

bool Auth0Client::WaitToRetry(const Status& st, bool management_api, int* retries,
                              int* rate_limit_waits, Status* final) {
  switch (st.kind()) {
    case StatusKind::kRateLimited: {
      if (++*rate_limit_waits > options_.max_rate_limit_waits) return false;
      auto until = std::min(st.retry_at().value_or(clock_.Now() + std::chrono::seconds(1)),
                            clock_.Now() + kMaxSingleRateLimitWait);
      if (management_api) {
        limiter_.BlockUntil(until);  // every caller waits in Acquire, not just this one
        return true;
      }
      if (Nap(until - clock_.Now())) return true;
      *final = Status::Retryable("shutting down");
      return false;
    }
    case StatusKind::kRetryable:
      if (*retries >= options_.max_retries) return false;
      if (Nap(FullJitterBackoff((*retries)++, options_.backoff_base, options_.backoff_cap,
                                random_))) {
        return true;
      }
      *final = Status::Retryable("shutting down");
      return false;
    default:
      return false;
  }
}

Result<HttpResponse> Auth0Client::Execute(const Call& call) {
  int retries = 0;
  int rate_limit_waits = 0;
  bool renewed = false;
  for (;;) {
    if (shutting_down_) return Status::Retryable("shutting down: " + call.endpoint + " not sent");
    HttpRequest req;
    req.method = call.method;
    req.target = call.target;
    req.body = call.body;
    req.content_type = call.content_type;
    req.headers.emplace_back("Accept", "application/json");
    std::string token;
    if (!call.authentication_api) {
      auto t = tokens_.Get();
      if (!t.ok()) {
        Status final;
        if (WaitToRetry(t.status(), /*management_api=*/false, &retries, &rate_limit_waits,
                        &final)) {
          continue;
        }
        return final.ok() ? t.status() : final;
      }
      token = std::move(t).value();
      req.headers.emplace_back("Authorization", "Bearer " + token);
    }

    uint64_t ticket = call.authentication_api ? 0 : limiter_.Acquire(tl_priority);
    if (shutting_down_) {
      if (!call.authentication_api) limiter_.Complete(ticket);
      return Status::Retryable("shutting down: " + call.endpoint + " not sent");
    }
    auto started = clock_.Monotonic();
    if (!call.authentication_api) ++tl_requests;
    HttpResponse resp = transport_->Send(req);
    Report(call.endpoint, resp.status, started);
    if (!call.authentication_api) {
      auto limit = ParseInt(resp.Header("x-ratelimit-limit"));
      auto remaining = ParseInt(resp.Header("x-ratelimit-remaining"));
      auto reset = ParseInt(resp.Header("x-ratelimit-reset"));
      if (limit && remaining) limiter_.Update(ticket, *limit, *remaining, reset.value_or(0));
      limiter_.Complete(ticket);
    }
    if (resp.transport_error == TransportError::kNone && resp.status >= 200 && resp.status < 300) {
      return resp;
    }

    Status st = ClassifyAuth0Response(resp, call.endpoint, clock_.Now());
    if (resp.status == 401 && !call.authentication_api && !renewed) {
      // The token was revoked or expired early; one renewal, then a 401 is final.
      renewed = true;
      tokens_.Invalidate(token);
      continue;
    }
    if (st.kind() == StatusKind::kRateLimited) {
      spdlog::debug("auth0 {}: 429, waiting until the rate-limit reset", call.endpoint);
    } else if (st.kind() == StatusKind::kRetryable) {
      spdlog::debug("auth0 {}: attempt {} failed: {}", call.endpoint, retries + 1, st.message());
    }
    Status final;
    if (WaitToRetry(st, !call.authentication_api, &retries, &rate_limit_waits, &final)) continue;
    return final.ok() ? st : final;
  }
}

Auth0Client::Call Auth0Client::MakeCall(std::string_view endpoint, std::string target,
                                        const Json* body) const {
  Call c;
  c.method = std::string(endpoint.substr(0, endpoint.find(' ')));
  c.endpoint = std::string(endpoint);
  c.target = std::move(target);
  if (body != nullptr) {
    c.body = Dump(*body);
    c.content_type = "application/json";
  }
  return c;
}

Result<Json> Auth0Client::ExecuteJson(const Call& call) {
  auto resp = Execute(call);
  if (!resp.ok()) return resp.status();
  const HttpResponse& r = resp.value();
  if (r.body.empty()) {
    return Status::Invalid(call.endpoint + ": answer is empty (HTTP " + std::to_string(r.status) +
                           ")")
        .WithHttp(r.status, "");
  }
  if (!IsJsonContentType(r.Header("content-type"))) {
    return Status::Invalid(call.endpoint + ": answer is not JSON (" +
                           SafeText(r.Header("content-type"), 100) + ")")
        .WithHttp(r.status, "");
  }
  Json j = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Status::Invalid(call.endpoint + ": answer is not valid JSON").WithHttp(r.status, "");
  }
  return j;
}

Status Auth0Client::ExecuteStatus(const Call& call) {
  auto r = Execute(call);
  return r.ok() ? Status::Ok() : r.status();
}

// ---- Pagination ------------------------------------------------------------------------------

Status Auth0Client::WalkCheckpoint(std::string_view endpoint, const std::string& path,
                                   Params params, const std::string& list_key,
                                   const std::function<void(Json&&)>& visit) {
  std::string from;
  for (int page = 0; page < kMaxCheckpointPages; ++page) {
    Params q = params;
    if (!from.empty()) q.emplace_back("from", from);
    q.emplace_back("take", std::to_string(kCheckpointTake));
    auto r = ExecuteJson(MakeCall(endpoint, path + BuildQuery(q)));
    if (!r.ok()) return r.status();
    Json& body = r.value();
    auto items = PageItems(body, endpoint, list_key);
    if (!items.ok()) return items.status();
    std::string next;
    if (body.is_object()) {
      auto it = body.find("next");
      if (it != body.end() && it->is_string()) next = it->get<std::string>();
    }
    bool empty = (*items)->empty();
    for (auto& item : **items) visit(std::move(item));
    // A walk ends on an answer without "next", or — since Auth0 may hand out a cursor with the
    // last, short page — on the empty page that cursor leads to.
    if (next.empty() || empty) return Status::Ok();
    if (next == from) return Malformed(endpoint, "cursor did not advance");
    from = std::move(next);
  }
  return Malformed(endpoint, "too many pages");
}

Result<bool> Auth0Client::WalkOffset(std::string_view endpoint, const std::string& path,
                                     Params params, const std::string& list_key,
                                     const std::function<void(Json&&)>& visit, int64_t* total_out) {
  int64_t seen = 0;
  int64_t total = -1;
  for (int page = 0; (page + 1) * kOffsetPerPage <= kOffsetCap; ++page) {
    Params q = params;
    q.emplace_back("page", std::to_string(page));
    q.emplace_back("per_page", std::to_string(kOffsetPerPage));
    q.emplace_back("include_totals", "true");
    auto r = ExecuteJson(MakeCall(endpoint, path + BuildQuery(q)));
    if (!r.ok()) return r.status();
    Json& body = r.value();
    auto items = PageItems(body, endpoint, list_key);
    if (!items.ok()) return items.status();
    if (body.is_object()) {
      auto it = body.find("total");
      if (it != body.end() && it->is_number_integer()) total = it->get<int64_t>();
    }
    auto n = static_cast<int64_t>((*items)->size());
    for (auto& item : **items) visit(std::move(item));
    seen += n;
    if (total_out != nullptr) *total_out = total;
    if (n < kOffsetPerPage || (total >= 0 && seen >= total)) return false;
  }
  // The cap was reached with full pages: more may exist (exactly when total says so, if known).
  return total < 0 || total > seen;
}

// ---- Users -----------------------------------------------------------------------------------

Result<Auth0User> Auth0Client::CreateUser(const Json& user) {
  if (!user.is_object()) return Status::Invalid("CreateUser: user must be a JSON object");
  Json body = user;
  if (!body.contains("connection")) body["connection"] = options_.connection;
  auto r = ExecuteJson(MakeCall(endpoints::kCreateUser, "/api/v2/users", &body));
  if (!r.ok()) return r.status();
  return ParseUser(*r, endpoints::kCreateUser, "");
}

Result<Auth0User> Auth0Client::GetUser(std::string_view user_id) {
  auto r = ExecuteJson(MakeCall(endpoints::kGetUser, "/api/v2/users/" + Enc(user_id)));
  if (!r.ok()) return r.status();
  return ParseUser(*r, endpoints::kGetUser, "");
}

Result<Auth0User> Auth0Client::PatchUser(std::string_view user_id, const Json& patch) {
  if (!patch.is_object()) return Status::Invalid("PatchUser: patch must be a JSON object");
  auto r = ExecuteJson(MakeCall(endpoints::kPatchUser, "/api/v2/users/" + Enc(user_id), &patch));
  if (!r.ok()) return r.status();
  return ParseUser(*r, endpoints::kPatchUser, "");
}

Status Auth0Client::DeleteUser(std::string_view user_id) {
  return ExecuteStatus(MakeCall(endpoints::kDeleteUser, "/api/v2/users/" + Enc(user_id)));
}

Result<std::vector<Auth0User>> Auth0Client::GetUsersByEmail(std::string_view email) {
  auto r =
      ExecuteJson(MakeCall(endpoints::kUsersByEmail,
                           "/api/v2/users-by-email" + BuildQuery({{"email", std::string(email)}})));
  if (!r.ok()) return r.status();
  if (!r->is_array())
    return Malformed(endpoints::kUsersByEmail, WrongType("answer", *r, "an array"));
  std::vector<Auth0User> out;
  out.reserve(r->size());
  for (size_t i = 0; i < r->size(); ++i) {
    auto u = ParseUser((*r)[i], endpoints::kUsersByEmail, "[" + std::to_string(i) + "]");
    if (!u.ok()) return u.status();
    out.push_back(std::move(u).value());
  }
  return out;
}

Status Auth0Client::RevokeSessions(std::string_view user_id) {
  return ExecuteStatus(
      MakeCall(endpoints::kRevokeSessions, "/api/v2/users/" + Enc(user_id) + "/sessions"));
}

Status Auth0Client::RevokeRefreshTokens(std::string_view user_id) {
  return ExecuteStatus(MakeCall(endpoints::kRevokeRefreshTokens,
                                "/api/v2/users/" + Enc(user_id) + "/refresh-tokens"));
}

Result<std::vector<Json>> Auth0Client::GetUserLogs(std::string_view user_id, int page,
                                                   int per_page) {
  if (page < 0 || per_page <= 0 || per_page > kOffsetPerPage ||
      (page + 1) * per_page > kOffsetCap) {
    return Status::Invalid(
        "GetUserLogs: page/per_page out of range (at most 1000 records, 100 per page)");
  }
  auto r = ExecuteJson(MakeCall(
      endpoints::kUserLogs,
      "/api/v2/users/" + Enc(user_id) + "/logs" +
          BuildQuery({{"page", std::to_string(page)}, {"per_page", std::to_string(per_page)}})));
  if (!r.ok()) return r.status();
  // A plain array, or {"logs": [...]} when totals are included.
  auto items = PageItems(r.value(), endpoints::kUserLogs, "logs");
  if (!items.ok()) return items.status();
  std::vector<Json> out;
  out.reserve((*items)->size());
  for (auto& item : **items) out.push_back(std::move(item));
  return out;
}

Result<UserSearchResult> Auth0Client::SearchUsers(std::string_view query, std::string_view fields) {
  UserSearchResult out;
  Params params{{"q", std::string(query)}, {"search_engine", "v3"}};
  if (!fields.empty()) {
    params.emplace_back("fields", std::string(fields));
    params.emplace_back("include_fields", "true");
  }
  auto truncated = WalkOffset(
      endpoints::kSearchUsers, "/api/v2/users", std::move(params), "users",
      [&](Json&& u) { out.users.push_back(std::move(u)); }, &out.total);
  if (!truncated.ok()) return truncated.status();
  out.truncated = truncated.value();
  return out;
}

Result<UserExport> Auth0Client::ExportUsers(const UserExportOptions& eo,
                                            const std::function<void(Json&&)>& visit) {
  Json body = {{"format", "json"}};
  if (!eo.connection_id.empty()) body["connection_id"] = eo.connection_id;
  Json fields = Json::array();
  for (const auto& f : eo.fields) fields.push_back({{"name", f}});
  if (!fields.empty()) body["fields"] = fields;
  auto job =
      ExecuteJson(MakeCall(endpoints::kCreateUsersExport, "/api/v2/jobs/users-exports", &body));
  if (!job.ok()) return job.status();
  if (!job->is_object()) return NotAnObject(endpoints::kCreateUsersExport, "", *job);
  UserExport out;
  {
    Fields f(*job, endpoints::kCreateUsersExport, "");
    out.job_id = f.Id("id");
    if (!f.ok()) return f.status();
  }
  const auto deadline = clock_.Monotonic() + eo.timeout;
  std::string location;
  for (;;) {
    auto st = ExecuteJson(MakeCall(endpoints::kGetJob, "/api/v2/jobs/" + Enc(out.job_id)));
    ++out.status_polls;
    if (!st.ok()) return st.status();
    if (!st->is_object()) return NotAnObject(endpoints::kGetJob, "", *st);
    Fields f(*st, endpoints::kGetJob, "");
    const std::string status = f.String("status").value_or("");
    if (!f.ok()) return f.status();
    if (status == "completed") {
      location = f.String("location").value_or("");
      if (!f.ok()) return f.status();
      if (location.empty()) return Malformed(endpoints::kGetJob, "completed without a location");
      break;
    }
    if (status == "failed" || status == "cancelled") {
      std::string why = st->contains("summary") ? Dump((*st)["summary"]) : status;
      return Status::Permanent("users export job " + out.job_id + " " + status + ": " +
                               SafeText(why, kMaxQuoted));
    }
    if (clock_.Monotonic() + eo.poll_interval > deadline) {
      return Status::Retryable("users export job " + out.job_id + " did not complete within " +
                               std::to_string(eo.timeout.count()) + " ms (status " +
                               SafeText(status, 50) + ")");
    }
    if (!Nap(eo.poll_interval)) return Status::Retryable("shutting down");
  }

  // The file lives on storage outside the Management API: no token, no rate-limit draw. Its
  // URL (with a presigned signature in the query) never appears in a message.
  HttpResponse file;
  int retries = 0;
  int rate_limit_waits = 0;
  for (;;) {
    if (shutting_down_) return Status::Retryable("shutting down: users export file not fetched");
    auto started = clock_.Monotonic();
    file = transport_->Fetch(location);
    Report(endpoints::kUsersExportFile, file.status, started);
    if (file.transport_error == TransportError::kNone && file.status >= 200 && file.status < 300)
      break;
    Status err = ClassifyAuth0Response(file, "GET users export file", clock_.Now());
    Status final;
    if (WaitToRetry(err, /*management_api=*/false, &retries, &rate_limit_waits, &final)) continue;
    return final.ok() ? err : final;
  }
  out.bytes = static_cast<int64_t>(file.body.size());
  // Records are parsed as the file is decompressed, never holding the whole text (~40 MB for
  // 100,000 users). Gzip as Auth0 stores it; a plain body (a proxy that decompressed it) passes
  // through.
  size_t line_no = 0;
  LineSplitter lines([&](std::string_view line) -> Status {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return Status::Ok();
    Json u = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!u.is_object()) {
      return Status::Invalid("line " + std::to_string(line_no) + " is not a JSON object");
    }
    ++out.users;
    visit(std::move(u));
    return Status::Ok();
  });
  Status st = LooksGzipped(file.body)
                  ? GzipDecompressChunks(file.body,
                                         [&](std::string_view chunk) { return lines.Add(chunk); })
                  : lines.Add(file.body);
  if (st.ok()) st = lines.Finish();
  if (!st.ok()) return Status::Invalid("users export file: " + st.message());
  return out;
}

// ---- Users import jobs
// ---------------------------------------------------------------------------

Result<std::string> BuildUsersImportBody(std::string_view boundary, std::string_view connection_id,
                                         const std::string& users_json,
                                         const UsersImportOptions& options) {
  std::vector<std::pair<std::string, std::string>> text = {
      {"connection_id", std::string(connection_id)},
      {"upsert", options.upsert ? "true" : "false"},
      {"send_completion_email", options.send_completion_email ? "true" : "false"}};
  if (!options.external_id.empty()) text.emplace_back("external_id", options.external_id);
  const std::string delimiter = "--" + std::string(boundary);
  if (boundary.empty() || users_json.find(delimiter) != std::string::npos) {
    return Status::Invalid("users import: the multipart boundary occurs in the users file");
  }
  std::string body;
  body.reserve(users_json.size() + 512);
  body += delimiter + "\r\n";
  body += "Content-Disposition: form-data; name=\"users\"; filename=\"users.json\"\r\n";
  body += "Content-Type: application/json\r\n\r\n";
  body += users_json;
  body += "\r\n";
  for (const auto& [name, value] : text) {
    if (value.find(delimiter) != std::string::npos || value.find('\r') != std::string::npos ||
        value.find('\n') != std::string::npos) {
      return Status::Invalid("users import: " + name + " cannot be sent in a multipart field");
    }
    body += delimiter + "\r\n";
    body += "Content-Disposition: form-data; name=\"" + name + "\"\r\n\r\n";
    body += value + "\r\n";
  }
  body += delimiter + "--\r\n";
  return body;
}

Result<Auth0Job> ParseJob(const Json& j, std::string_view endpoint) {
  if (!j.is_object()) return NotAnObject(endpoint, "", j);
  Fields f(j, endpoint, "");
  Auth0Job job;
  job.id = f.Id("id");
  const std::string status = f.String("status").value_or("");
  job.type = f.String("type").value_or("");
  job.external_id = f.String("external_id").value_or("");
  if (const Json* s = f.Object("summary")) {
    for (auto [key, slot] :
         {std::pair{"total", &job.total}, std::pair{"inserted", &job.inserted},
          std::pair{"updated", &job.updated}, std::pair{"failed", &job.failed}}) {
      auto it = s->find(key);
      if (it == s->end() || it->is_null()) continue;
      if (!it->is_number_integer()) {
        f.Fail(WrongType(std::string("summary.") + key, *it, "an integer"));
        break;
      }
      *slot = it->get<int64_t>();
    }
  }
  if (!f.ok()) return f.status();
  static const std::pair<const char*, Auth0JobStatus> kStatuses[] = {
      {"pending", Auth0JobStatus::kPending},
      {"processing", Auth0JobStatus::kProcessing},
      {"completed", Auth0JobStatus::kCompleted},
      {"failed", Auth0JobStatus::kFailed},
      {"expired", Auth0JobStatus::kExpired}};
  for (auto [name, value] : kStatuses) {
    if (status == name) {
      job.status = value;
      return job;
    }
  }
  return Malformed(endpoint, "status \"" + SafeText(status, 50) + "\" is not a job status");
}

Result<std::vector<Auth0ImportError>> ParseJobErrors(const Json& j) {
  const std::string_view endpoint = endpoints::kGetJobErrors;
  if (!j.is_array()) return Malformed(endpoint, WrongType("answer", j, "an array"));
  std::vector<Auth0ImportError> out;
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string at = "[" + std::to_string(i) + "]";
    if (!j[i].is_object()) return NotAnObject(endpoint, at, j[i]);
    Fields f(j[i], endpoint, at);
    Auth0ImportError e;
    const Json* user = f.Object("user");
    const Json* errors = f.Array("errors");
    if (!f.ok()) return f.status();
    if (user == nullptr) return Malformed(endpoint, at + " has no user");
    e.user = *user;
    if (errors != nullptr && !errors->empty()) {
      if (!(*errors)[0].is_object()) return NotAnObject(endpoint, at + ".errors[0]", (*errors)[0]);
      Fields ef((*errors)[0], endpoint, at + ".errors[0]");
      e.code = ef.String("code").value_or("");
      e.message = ef.String("message").value_or("");
      if (!ef.ok()) return ef.status();
    }
    if (e.message.empty()) e.message = e.code.empty() ? "import failed" : e.code;
    out.push_back(std::move(e));
  }
  return out;
}

Result<Auth0Job> Auth0Client::CreateUsersImportJob(std::string_view connection_id,
                                                   const std::string& users_json,
                                                   const UsersImportOptions& options) {
  if (users_json.size() > kUsersImportMaxBytes) {
    return Status::Invalid("users import: the file is " + std::to_string(users_json.size()) +
                           " bytes; Auth0 accepts at most " + std::to_string(kUsersImportMaxBytes));
  }
  // A boundary that does not occur in the file (JSON records rarely contain one; try again).
  std::string boundary;
  Result<std::string> body = Status::Invalid("no boundary");
  for (int i = 0; i < 4 && !body.ok(); ++i) {
    boundary = "tenantsync-";
    for (int k = 0; k < 24; ++k) boundary += "0123456789abcdef"[random_.Uniform(16)];
    body = BuildUsersImportBody(boundary, connection_id, users_json, options);
  }
  if (!body.ok()) return body.status();
  Call call = MakeCall(endpoints::kCreateUsersImport, "/api/v2/jobs/users-imports");
  call.body = std::move(body).value();
  call.content_type = "multipart/form-data; boundary=" + boundary;
  auto r = ExecuteJson(call);
  if (!r.ok()) return r.status();
  return ParseJob(*r, endpoints::kCreateUsersImport);
}

Result<Auth0Job> Auth0Client::GetJob(std::string_view job_id) {
  auto r = ExecuteJson(MakeCall(endpoints::kGetJob, "/api/v2/jobs/" + Enc(job_id)));
  if (!r.ok()) return r.status();
  return ParseJob(*r, endpoints::kGetJob);
}

Result<std::vector<Auth0ImportError>> Auth0Client::GetJobErrors(std::string_view job_id) {
  auto resp =
      Execute(MakeCall(endpoints::kGetJobErrors, "/api/v2/jobs/" + Enc(job_id) + "/errors"));
  if (!resp.ok()) return resp.status();
  // No failed users: Auth0 answers 204 without a body.
  if (resp->status == 204 || resp->body.empty()) return std::vector<Auth0ImportError>{};
  Json j = Json::parse(resp->body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Malformed(endpoints::kGetJobErrors, "answer is not JSON");
  return ParseJobErrors(j);
}

// ---- Organizations ---------------------------------------------------------------------------

Result<Auth0Organization> Auth0Client::CreateOrganization(const Json& organization) {
  if (!organization.is_object()) {
    return Status::Invalid("CreateOrganization: organization must be a JSON object");
  }
  auto r =
      ExecuteJson(MakeCall(endpoints::kCreateOrganization, "/api/v2/organizations", &organization));
  if (!r.ok()) return r.status();
  return ParseOrganization(*r, endpoints::kCreateOrganization);
}

Result<Auth0Organization> Auth0Client::GetOrganization(std::string_view org_id) {
  auto r =
      ExecuteJson(MakeCall(endpoints::kGetOrganization, "/api/v2/organizations/" + Enc(org_id)));
  if (!r.ok()) return r.status();
  return ParseOrganization(*r, endpoints::kGetOrganization);
}

Result<Auth0Organization> Auth0Client::GetOrganizationByName(std::string_view name) {
  auto r = ExecuteJson(
      MakeCall(endpoints::kGetOrganizationByName, "/api/v2/organizations/name/" + Enc(name)));
  if (!r.ok()) return r.status();
  return ParseOrganization(*r, endpoints::kGetOrganizationByName);
}

Result<Auth0Organization> Auth0Client::PatchOrganization(std::string_view org_id,
                                                         const Json& patch) {
  if (!patch.is_object()) return Status::Invalid("PatchOrganization: patch must be a JSON object");
  auto r = ExecuteJson(
      MakeCall(endpoints::kPatchOrganization, "/api/v2/organizations/" + Enc(org_id), &patch));
  if (!r.ok()) return r.status();
  return ParseOrganization(*r, endpoints::kPatchOrganization);
}

Status Auth0Client::DeleteOrganization(std::string_view org_id) {
  return ExecuteStatus(
      MakeCall(endpoints::kDeleteOrganization, "/api/v2/organizations/" + Enc(org_id)));
}

Result<std::vector<Json>> Auth0Client::ListOrganizations() {
  std::vector<Json> out;
  Status s = WalkCheckpoint(endpoints::kListOrganizations, "/api/v2/organizations", {},
                            "organizations", [&](Json&& o) { out.push_back(std::move(o)); });
  if (!s.ok()) return s;
  return out;
}

Status Auth0Client::MemberBatches(std::string_view endpoint, std::string_view org_id,
                                  const std::vector<std::string>& user_ids) {
  std::string target = "/api/v2/organizations/" + Enc(org_id) + "/members";
  auto batch = static_cast<size_t>(options_.member_batch_size);
  for (size_t i = 0; i < user_ids.size(); i += batch) {
    Json body{{"members", Json::array()}};
    for (size_t j = i; j < std::min(user_ids.size(), i + batch); ++j)
      body["members"].push_back(user_ids[j]);
    if (Status s = ExecuteStatus(MakeCall(endpoint, target, &body)); !s.ok()) return s;
  }
  return Status::Ok();
}

Status Auth0Client::AddMembers(std::string_view org_id, const std::vector<std::string>& user_ids) {
  return MemberBatches(endpoints::kAddMembers, org_id, user_ids);
}

Status Auth0Client::RemoveMembers(std::string_view org_id,
                                  const std::vector<std::string>& user_ids) {
  return MemberBatches(endpoints::kRemoveMembers, org_id, user_ids);
}

Result<std::vector<Json>> Auth0Client::ListMembersWithRoles(std::string_view org_id) {
  const std::string path = "/api/v2/organizations/" + Enc(org_id) + "/members";
  const Params fields{{"fields", "user_id,roles"}, {"include_fields", "true"}};
  std::vector<Json> out;
  int64_t total = -1;
  auto truncated = WalkOffset(
      endpoints::kListMembers, path, fields, "members",
      [&](Json&& m) { out.push_back(std::move(m)); }, &total);
  if (!truncated.ok()) return truncated.status();
  if (!truncated.value()) return out;
  // More than offset paging can reach: the checkpoint walk reads the whole list again.
  out.clear();
  Status s = WalkCheckpoint(endpoints::kListMembers, path, fields, "members",
                            [&](Json&& m) { out.push_back(std::move(m)); });
  if (!s.ok()) return s;
  return out;
}

Status Auth0Client::AddMemberRoles(std::string_view org_id, std::string_view user_id,
                                   const std::vector<std::string>& role_ids) {
  if (role_ids.empty()) return Status::Ok();  // Auth0 refuses an empty list; nothing to do
  Json body{{"roles", role_ids}};
  return ExecuteStatus(MakeCall(
      endpoints::kAddMemberRoles,
      "/api/v2/organizations/" + Enc(org_id) + "/members/" + Enc(user_id) + "/roles", &body));
}

Status Auth0Client::RemoveMemberRoles(std::string_view org_id, std::string_view user_id,
                                      const std::vector<std::string>& role_ids) {
  if (role_ids.empty()) return Status::Ok();
  Json body{{"roles", role_ids}};
  return ExecuteStatus(MakeCall(
      endpoints::kRemoveMemberRoles,
      "/api/v2/organizations/" + Enc(org_id) + "/members/" + Enc(user_id) + "/roles", &body));
}

Status Auth0Client::AddOrganizationConnection(std::string_view org_id,
                                              std::string_view connection_id,
                                              bool assign_membership_on_login,
                                              bool show_as_button) {
  Json body{{"connection_id", connection_id},
            {"assign_membership_on_login", assign_membership_on_login},
            {"show_as_button", show_as_button}};
  return ExecuteStatus(MakeCall(endpoints::kAddOrganizationConnection,
                                "/api/v2/organizations/" + Enc(org_id) + "/enabled_connections",
                                &body));
}

Status Auth0Client::PatchOrganizationConnection(std::string_view org_id,
                                                std::string_view connection_id,
                                                bool assign_membership_on_login,
                                                bool show_as_button) {
  Json body{{"assign_membership_on_login", assign_membership_on_login},
            {"show_as_button", show_as_button}};
  return ExecuteStatus(MakeCall(
      endpoints::kPatchOrganizationConnection,
      "/api/v2/organizations/" + Enc(org_id) + "/enabled_connections/" + Enc(connection_id),
      &body));
}

Status Auth0Client::RemoveOrganizationConnection(std::string_view org_id,
                                                 std::string_view connection_id) {
  return ExecuteStatus(MakeCall(
      endpoints::kRemoveOrganizationConnection,
      "/api/v2/organizations/" + Enc(org_id) + "/enabled_connections/" + Enc(connection_id)));
}

Result<std::vector<Json>> Auth0Client::ListOrganizationConnections(std::string_view org_id) {
  std::vector<Json> out;
  auto r = WalkOffset(endpoints::kListOrganizationConnections,
                      "/api/v2/organizations/" + Enc(org_id) + "/enabled_connections", {},
                      "enabled_connections", [&](Json&& j) { out.push_back(std::move(j)); });
  if (!r.ok()) return r.status();
  return out;
}

// ---- Roles, connections, clients -------------------------------------------------------------

Result<std::string> Auth0Client::CachedLookup(
    std::map<std::string, std::pair<std::string, Clock::MonoTime>>& cache, std::string_view name,
    const std::function<Result<std::string>()>& fetch) {
  auto now = clock_.Monotonic();
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache.find(std::string(name));
    if (it != cache.end() && (options_.lookup_cache_ttl.count() == 0 ||
                              now - it->second.second < options_.lookup_cache_ttl)) {
      return it->second.first;
    }
  }
  // Single flight: concurrent misses (many workers needing the same role at start-up) wait for
  // one fetch instead of each spending a request of the rate budget.
  std::lock_guard<std::mutex> flight(lookup_flight_mu_);
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache.find(std::string(name));
    if (it != cache.end() && (options_.lookup_cache_ttl.count() == 0 ||
                              now - it->second.second < options_.lookup_cache_ttl)) {
      return it->second.first;
    }
  }
  auto r = fetch();
  if (!r.ok()) return r;
  std::lock_guard<std::mutex> lock(cache_mu_);
  cache[std::string(name)] = {r.value(), now};
  return r;
}

// The id of the record named exactly `name` in an offset-paged list (roles, connections):
// name_filter / name match loosely, so only an exact name counts. kNotFound naming it when none;
// kInvalid when the matching record has no usable id.
Result<std::string> Auth0Client::LookupByName(std::string_view endpoint, const std::string& path,
                                              const char* param, const char* list_key,
                                              const char* what, std::string_view name) {
  std::string id;
  int index = -1;
  Status bad;
  auto r = WalkOffset(endpoint, path, {{param, std::string(name)}}, list_key, [&](Json&& record) {
    ++index;
    if (!id.empty() || !bad.ok()) return;
    auto n = record.find("name");
    if (n == record.end() || !n->is_string() || n->get_ref<const std::string&>() != name) return;
    Fields f(record, endpoint, std::string(list_key) + "[" + std::to_string(index) + "]");
    id = f.Id("id");
    if (!f.ok()) bad = f.status();
  });
  if (!r.ok()) return r.status();
  if (!bad.ok()) return bad;
  if (id.empty()) {
    return Status::NotFound(std::string(what) + " '" + std::string(name) +
                            "' does not exist in Auth0");
  }
  return id;
}

Result<std::string> Auth0Client::FindRoleId(std::string_view name) {
  return CachedLookup(role_ids_, name, [&]() {
    return LookupByName(endpoints::kListRoles, "/api/v2/roles", "name_filter", "roles", "role",
                        name);
  });
}

Result<std::string> Auth0Client::FindConnectionId(std::string_view name) {
  return CachedLookup(connection_ids_, name, [&]() {
    return LookupByName(endpoints::kListConnections, "/api/v2/connections", "name", "connections",
                        "connection", name);
  });
}

Status Auth0Client::EnableConnectionClient(std::string_view connection_id,
                                           std::string_view client_id) {
  Json body = Json::array({Json{{"client_id", client_id}, {"status", true}}});
  return ExecuteStatus(MakeCall(endpoints::kPatchConnectionClients,
                                "/api/v2/connections/" + Enc(connection_id) + "/clients", &body));
}

Result<Auth0Application> Auth0Client::GetApplication(std::string_view client_id) {
  auto r = ExecuteJson(MakeCall(endpoints::kGetClient, "/api/v2/clients/" + Enc(client_id)));
  if (!r.ok()) return r.status();
  return ParseApplication(*r, endpoints::kGetClient);
}

Status Auth0Client::PatchApplicationCallbacks(std::string_view client_id,
                                              const std::vector<std::string>& callbacks) {
  Json body{{"callbacks", callbacks}};
  return ExecuteStatus(
      MakeCall(endpoints::kPatchClient, "/api/v2/clients/" + Enc(client_id), &body));
}

// ---- Emails ----------------------------------------------------------------------------------

Status Auth0Client::SendChangePasswordEmail(std::string_view email) {
  Json body{{"client_id", options_.application_client_id.empty() ? options_.client_id
                                                                 : options_.application_client_id},
            {"email", email},
            {"connection", options_.connection}};
  Call c = MakeCall(endpoints::kChangePasswordEmail, "/dbconnections/change_password", &body);
  c.authentication_api = true;
  // Auth0 answers 200 with a plain-text sentence, not JSON: only the status matters.
  return ExecuteStatus(c);
}

Status Auth0Client::SendVerificationEmail(std::string_view user_id) {
  Json body{{"user_id", user_id}};
  // The identity makes Auth0 pick the right one for users with linked accounts.
  auto bar = user_id.find('|');
  if (bar != std::string_view::npos && bar > 0 && bar + 1 < user_id.size()) {
    body["identity"] =
        Json{{"user_id", user_id.substr(bar + 1)}, {"provider", user_id.substr(0, bar)}};
  }
  return ExecuteStatus(
      MakeCall(endpoints::kVerificationEmail, "/api/v2/jobs/verification-email", &body));
}

}  // namespace tenantsync
