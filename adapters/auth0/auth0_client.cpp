#include "adapters/auth0/auth0_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/gzip.h"

namespace tenantsync {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

constexpr int kCheckpointTake = 100;    // Auth0's maximum `take`
constexpr int kOffsetPerPage = 100;     // Auth0's maximum `per_page`
constexpr int kOffsetCap = 1000;        // Auth0 refuses offset paging past 1000 records
constexpr int kMaxMembersPerCall = 10;  // Auth0's limit for organization member add/remove
constexpr size_t kMaxConnectionClientsPerCall = 50;
// A 429 with a reset far away (clock skew, a daily quota) must not park the writer for hours;
// the caller gets kRateLimited with the real time instead once the waits are used up.
constexpr std::chrono::seconds kMaxSingleRateLimitWait{120};
// Guard against a server that keeps returning the same cursor.
constexpr int kMaxCheckpointPages = 1000000;

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

// Whether the calling thread's Management API calls are background reads (BackgroundScope).
thread_local bool tl_background = false;
// Management API requests sent by the calling thread (BackgroundScope::requests()).
thread_local int64_t tl_requests = 0;

}  // namespace

Auth0Client::BackgroundScope::BackgroundScope()
    : previous_(tl_background), requests_at_start_(tl_requests) {
  tl_background = true;
}
int64_t Auth0Client::BackgroundScope::requests() const { return tl_requests - requests_at_start_; }
Auth0Client::BackgroundScope::~BackgroundScope() { tl_background = previous_; }

Status ClassifyAuth0Response(const HttpResponse& r, std::string_view endpoint,
                             Clock::WallTime now) {
  std::string where(endpoint);
  if (r.transport_error != TransportError::kNone) {
    const char* what = r.transport_error == TransportError::kTimeout   ? "timed out"
                       : r.transport_error == TransportError::kConnect ? "could not connect"
                                                                       : "connection closed";
    return Status::Retryable(where + ": " + what + " (" + r.error_message + ")");
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
  if (message.empty()) message = r.body.substr(0, 200);
  std::string text = where + ": HTTP " + std::to_string(r.status) +
                     (error_code.empty() ? "" : " " + error_code) + ": " + message;
  int s = r.status;
  if (s == 429) {
    Clock::WallTime until = now + std::chrono::seconds(1);
    auto reset = ParseInt(r.Header("x-ratelimit-reset"));
    auto retry_after = ParseInt(r.Header("retry-after"));
    if (reset && Clock::WallTime(std::chrono::seconds(*reset)) > now) {
      until = Clock::WallTime(std::chrono::seconds(*reset));
    } else if (retry_after && *retry_after >= 0) {
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

std::chrono::nanoseconds Auth0Client::Backoff(int retry) {
  // Full jitter (AWS architecture blog): uniform over [0, min(cap, base * 2^retry)].
  double ceiling =
      static_cast<double>(options_.backoff_base.count()) * std::ldexp(1.0, std::min(retry, 30));
  ceiling = std::min(ceiling, static_cast<double>(options_.backoff_cap.count()));
  auto ceiling_ms = static_cast<uint64_t>(std::max(1.0, ceiling));
  return std::chrono::milliseconds(random_.Uniform(ceiling_ms + 1));
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

Result<HttpResponse> Auth0Client::Execute(const Call& call) {
  int retries = 0;
  int rate_limit_waits = 0;
  bool renewed = false;
  for (;;) {
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
        Status st = t.status();
        if (st.kind() == StatusKind::kRetryable && retries < options_.max_retries) {
          if (!Nap(Backoff(retries++))) return Status::Retryable("shutting down");
          continue;
        }
        return st;
      }
      token = std::move(t).value();
      req.headers.emplace_back("Authorization", "Bearer " + token);
    }

    uint64_t ticket = call.authentication_api ? 0 : limiter_.Acquire(tl_background);
    if (shutting_down_) {
      if (!call.authentication_api) limiter_.Complete(ticket);
      return Status::Retryable("shutting down: " + std::string(call.endpoint) + " not sent");
    }
    auto started = clock_.Monotonic();
    if (!call.authentication_api) ++tl_requests;
    HttpResponse resp = transport_->Send(req);
    if (observer_ != nullptr) {
      observer_->OnRequest(call.endpoint, resp.status,
                           std::chrono::duration<double>(clock_.Monotonic() - started).count());
    }
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
    switch (st.kind()) {
      case StatusKind::kRateLimited: {
        if (++rate_limit_waits > options_.max_rate_limit_waits) return st;
        auto until = std::min(*st.retry_at(), clock_.Now() + kMaxSingleRateLimitWait);
        spdlog::debug("auth0 {}: 429, waiting until the rate-limit reset", call.endpoint);
        if (call.authentication_api) {
          if (!Nap(until - clock_.Now())) return Status::Retryable("shutting down");
        } else {
          limiter_.BlockUntil(until);  // every caller waits, not just this one
        }
        continue;
      }
      case StatusKind::kRetryable:
        if (retries >= options_.max_retries) return st;
        spdlog::debug("auth0 {}: retry {} after: {}", call.endpoint, retries + 1, st.message());
        if (!Nap(Backoff(retries++))) return Status::Retryable("shutting down");
        continue;
      default:
        return st;
    }
  }
}

Auth0Client::Call Auth0Client::JsonCall(std::string_view method, std::string_view endpoint,
                                        std::string target, const Json* body) const {
  Call c;
  c.method = std::string(method);
  c.endpoint = std::string(endpoint);
  c.target = std::move(target);
  if (body != nullptr) {
    c.body = body->dump();
    c.content_type = "application/json";
  }
  return c;
}

Result<Json> Auth0Client::ExecuteJson(const Call& call) {
  auto resp = Execute(call);
  if (!resp.ok()) return resp.status();
  const HttpResponse& r = resp.value();
  if (r.body.empty()) return Json();
  if (!IsJsonContentType(r.Header("content-type"))) {
    return Status::Invalid(call.endpoint + ": answer is not JSON (" + r.Header("content-type") +
                           ")")
        .WithHttp(r.status, "");
  }
  Json j = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Status::Invalid(call.endpoint + ": answer is not valid JSON").WithHttp(r.status, "");
  }
  return j;
}

Result<Json> Auth0Client::CallJson(std::string_view endpoint, std::string target,
                                   const Json* body) {
  return ExecuteJson(
      JsonCall(endpoint.substr(0, endpoint.find(' ')), endpoint, std::move(target), body));
}

Result<Json> Auth0Client::Request(std::string_view method, std::string_view endpoint_template,
                                  std::string target, const Json* body) {
  return ExecuteJson(JsonCall(method, endpoint_template, std::move(target), body));
}

namespace {

Status Discard(const Result<Json>& r) { return r.ok() ? Status::Ok() : r.status(); }

Result<std::vector<Json>> ToVector(Result<Json> r, std::string_view endpoint) {
  if (!r.ok()) return r.status();
  if (!r->is_array()) return Status::Invalid(std::string(endpoint) + ": expected a JSON array");
  std::vector<Json> out;
  out.reserve(r->size());
  for (auto& item : r.value()) out.push_back(std::move(item));
  return out;
}

Result<Json> ExpectObject(Result<Json> r, std::string_view endpoint) {
  if (r.ok() && !r->is_object())
    return Status::Invalid(std::string(endpoint) + ": expected a JSON object");
  return r;
}

}  // namespace

Result<Json> Auth0Client::CallObject(std::string_view endpoint, std::string target,
                                     const Json* body) {
  return ExpectObject(CallJson(endpoint, std::move(target), body), endpoint);
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
    auto r = CallJson(endpoint, path + BuildQuery(q));
    if (!r.ok()) return r.status();
    Json& body = r.value();
    Json* items = nullptr;
    if (body.is_object() && body.contains(list_key) && body[list_key].is_array()) {
      items = &body[list_key];
    } else if (body.is_array()) {
      items = &body;
    } else {
      return Status::Invalid(std::string(endpoint) + ": page without '" + list_key + "'");
    }
    bool empty = items->empty();
    for (auto& item : *items) visit(std::move(item));
    std::string next;
    if (body.is_object() && body.contains("next") && body["next"].is_string()) next = body["next"];
    // A walk ends on an answer without "next", or — since Auth0 may hand out a cursor with the
    // last, short page — on the empty page that cursor leads to.
    if (next.empty() || empty) return Status::Ok();
    if (next == from) return Status::Invalid(std::string(endpoint) + ": cursor did not advance");
    from = std::move(next);
  }
  return Status::Invalid(std::string(endpoint) + ": too many pages");
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
    auto r = CallJson(endpoint, path + BuildQuery(q));
    if (!r.ok()) return r.status();
    Json& body = r.value();
    Json* items = nullptr;
    if (body.is_object() && body.contains(list_key) && body[list_key].is_array()) {
      items = &body[list_key];
      if (body.contains("total") && body["total"].is_number_integer())
        total = body["total"].get<int64_t>();
    } else if (body.is_array()) {
      items = &body;
    } else {
      return Status::Invalid(std::string(endpoint) + ": page without '" + list_key + "'");
    }
    auto n = static_cast<int64_t>(items->size());
    for (auto& item : *items) visit(std::move(item));
    seen += n;
    if (total_out != nullptr) *total_out = total;
    if (n < kOffsetPerPage || (total >= 0 && seen >= total)) return false;
  }
  // The cap was reached with full pages: more may exist (exactly when total says so, if known).
  return total < 0 || total > seen;
}

// ---- Users -----------------------------------------------------------------------------------

Result<Json> Auth0Client::CreateUser(Json user) {
  if (!user.is_object()) return Status::Invalid("CreateUser: user must be a JSON object");
  if (!user.contains("connection")) user["connection"] = options_.connection;
  return CallObject("POST /api/v2/users", "/api/v2/users", &user);
}

Result<Json> Auth0Client::GetUser(std::string_view user_id) {
  return CallObject("GET /api/v2/users/{id}", "/api/v2/users/" + Enc(user_id));
}

Result<Json> Auth0Client::PatchUser(std::string_view user_id, const Json& patch) {
  return CallObject("PATCH /api/v2/users/{id}", "/api/v2/users/" + Enc(user_id), &patch);
}

Status Auth0Client::DeleteUser(std::string_view user_id) {
  return Discard(CallJson("DELETE /api/v2/users/{id}", "/api/v2/users/" + Enc(user_id)));
}

Result<std::vector<Json>> Auth0Client::GetUsersByEmail(std::string_view email) {
  return ToVector(CallJson("GET /api/v2/users-by-email",
                           "/api/v2/users-by-email" + BuildQuery({{"email", std::string(email)}})),
                  "GET /api/v2/users-by-email");
}

Status Auth0Client::BlockUser(std::string_view user_id) {
  return Discard(PatchUser(user_id, Json{{"blocked", true}}));
}

Status Auth0Client::UnblockUser(std::string_view user_id) {
  return Discard(PatchUser(user_id, Json{{"blocked", false}}));
}

Status Auth0Client::RevokeSessions(std::string_view user_id) {
  return Discard(CallJson("DELETE /api/v2/users/{id}/sessions",
                          "/api/v2/users/" + Enc(user_id) + "/sessions"));
}

Status Auth0Client::RevokeRefreshTokens(std::string_view user_id) {
  return Discard(CallJson("DELETE /api/v2/users/{id}/refresh-tokens",
                          "/api/v2/users/" + Enc(user_id) + "/refresh-tokens"));
}

Result<std::vector<Json>> Auth0Client::GetUserLogs(std::string_view user_id, int page,
                                                   int per_page) {
  if (page < 0 || per_page <= 0 || per_page > kOffsetPerPage ||
      (page + 1) * per_page > kOffsetCap) {
    return Status::Invalid(
        "GetUserLogs: page/per_page out of range (at most 1000 records, 100 per page)");
  }
  auto r = CallJson(
      "GET /api/v2/users/{id}/logs",
      "/api/v2/users/" + Enc(user_id) + "/logs" +
          BuildQuery({{"page", std::to_string(page)}, {"per_page", std::to_string(per_page)}}));
  if (r.ok() && r->is_object() && r->contains("logs"))
    return ToVector(Json(std::move((*r)["logs"])), "");
  return ToVector(std::move(r), "GET /api/v2/users/{id}/logs");
}

Result<UserSearchResult> Auth0Client::SearchUsers(std::string_view query, std::string_view fields) {
  UserSearchResult out;
  Params params{{"q", std::string(query)}, {"search_engine", "v3"}};
  if (!fields.empty()) {
    params.emplace_back("fields", std::string(fields));
    params.emplace_back("include_fields", "true");
  }
  auto truncated = WalkOffset(
      "GET /api/v2/users", "/api/v2/users", std::move(params), "users",
      [&](Json&& u) { out.users.push_back(std::move(u)); }, &out.total);
  if (!truncated.ok()) return truncated.status();
  out.truncated = truncated.value();
  return out;
}

Result<UserExport> Auth0Client::ExportUsers(const UserExportOptions& eo,
                                            const std::function<void(Json&&)>& visit) {
  static constexpr char kCreate[] = "POST /api/v2/jobs/users-exports";
  static constexpr char kStatus[] = "GET /api/v2/jobs/{id}";
  Json body = {{"format", "json"}};
  if (!eo.connection_id.empty()) body["connection_id"] = eo.connection_id;
  Json fields = Json::array();
  for (const auto& f : eo.fields) fields.push_back({{"name", f}});
  if (!fields.empty()) body["fields"] = fields;
  auto job = CallObject(kCreate, "/api/v2/jobs/users-exports", &body);
  if (!job.ok()) return job.status();
  UserExport out;
  if (!job->contains("id") || !(*job)["id"].is_string()) {
    return Status::Invalid(std::string(kCreate) + ": answer without a job id");
  }
  out.job_id = (*job)["id"].get<std::string>();
  const auto deadline = clock_.Monotonic() + eo.timeout;
  std::string location;
  for (;;) {
    auto st = CallObject(kStatus, "/api/v2/jobs/" + Enc(out.job_id));
    ++out.status_polls;
    if (!st.ok()) return st.status();
    const std::string status = st->value("status", "");
    if (status == "completed") {
      if (st->contains("location") && (*st)["location"].is_string()) location = (*st)["location"];
      if (location.empty())
        return Status::Invalid(std::string(kStatus) + ": completed without a location");
      break;
    }
    if (status == "failed" || status == "cancelled") {
      std::string why = st->contains("summary") ? (*st)["summary"].dump() : status;
      return Status::Permanent("users export job " + out.job_id + " " + status + ": " + why);
    }
    if (clock_.Monotonic() + eo.poll_interval > deadline) {
      return Status::Retryable("users export job " + out.job_id + " did not complete within " +
                               std::to_string(eo.timeout.count()) + " ms (status " + status + ")");
    }
    if (!Nap(eo.poll_interval)) return Status::Retryable("shutting down");
  }

  // The file lives on storage outside the Management API: no token, no rate-limit draw.
  HttpResponse file;
  for (int retries = 0;; ++retries) {
    file = transport_->Fetch(location);
    if (file.transport_error == TransportError::kNone && file.status >= 200 && file.status < 300)
      break;
    Status err = ClassifyAuth0Response(file, "GET users export file", clock_.Now());
    bool again = err.kind() == StatusKind::kRetryable || err.kind() == StatusKind::kRateLimited;
    if (!again || retries >= options_.max_retries) return err;
    if (!Nap(Backoff(retries))) return Status::Retryable("shutting down");
  }
  out.bytes = static_cast<int64_t>(file.body.size());
  // Gzip as Auth0 stores it; a plain body (a proxy that decompressed it) passes through.
  Result<std::string> text =
      LooksGzipped(file.body) ? GzipDecompress(file.body) : Result<std::string>(file.body);
  file.body.clear();
  file.body.shrink_to_fit();
  if (!text.ok()) return Status::Invalid("users export file: " + text.status().message());
  size_t line_no = 0;
  size_t pos = 0;
  const std::string& t = text.value();
  while (pos < t.size()) {
    size_t end = t.find('\n', pos);
    if (end == std::string::npos) end = t.size();
    std::string_view line(t.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    Json u = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!u.is_object()) {
      return Status::Invalid("users export file: line " + std::to_string(line_no) +
                             " is not a JSON object");
    }
    ++out.users;
    visit(std::move(u));
  }
  return out;
}

// ---- Organizations ---------------------------------------------------------------------------

Result<Json> Auth0Client::CreateOrganization(const Json& organization) {
  return CallObject("POST /api/v2/organizations", "/api/v2/organizations", &organization);
}

Result<Json> Auth0Client::GetOrganization(std::string_view org_id) {
  return CallObject("GET /api/v2/organizations/{id}", "/api/v2/organizations/" + Enc(org_id));
}

Result<Json> Auth0Client::GetOrganizationByName(std::string_view name) {
  return CallObject("GET /api/v2/organizations/name/{name}",
                    "/api/v2/organizations/name/" + Enc(name));
}

Result<Json> Auth0Client::PatchOrganization(std::string_view org_id, const Json& patch) {
  return CallObject("PATCH /api/v2/organizations/{id}", "/api/v2/organizations/" + Enc(org_id),
                    &patch);
}

Status Auth0Client::DeleteOrganization(std::string_view org_id) {
  return Discard(
      CallJson("DELETE /api/v2/organizations/{id}", "/api/v2/organizations/" + Enc(org_id)));
}

Result<std::vector<Json>> Auth0Client::ListOrganizations() {
  std::vector<Json> out;
  Status s = WalkCheckpoint("GET /api/v2/organizations", "/api/v2/organizations", {},
                            "organizations", [&](Json&& o) { out.push_back(std::move(o)); });
  if (!s.ok()) return s;
  return out;
}

Status Auth0Client::MemberBatches(std::string_view method, std::string_view org_id,
                                  const std::vector<std::string>& user_ids) {
  std::string endpoint = std::string(method) + " /api/v2/organizations/{id}/members";
  std::string target = "/api/v2/organizations/" + Enc(org_id) + "/members";
  auto batch = static_cast<size_t>(options_.member_batch_size);
  for (size_t i = 0; i < user_ids.size(); i += batch) {
    Json body{{"members", Json::array()}};
    for (size_t j = i; j < std::min(user_ids.size(), i + batch); ++j)
      body["members"].push_back(user_ids[j]);
    auto r = ExecuteJson(JsonCall(method, endpoint, target, &body));
    if (!r.ok()) return r.status();
  }
  return Status::Ok();
}

Status Auth0Client::AddMembers(std::string_view org_id, const std::vector<std::string>& user_ids) {
  return MemberBatches("POST", org_id, user_ids);
}

Status Auth0Client::RemoveMembers(std::string_view org_id,
                                  const std::vector<std::string>& user_ids) {
  return MemberBatches("DELETE", org_id, user_ids);
}

Result<std::vector<Json>> Auth0Client::ListMembers(std::string_view org_id) {
  std::vector<Json> out;
  Status s = WalkCheckpoint("GET /api/v2/organizations/{id}/members",
                            "/api/v2/organizations/" + Enc(org_id) + "/members", {}, "members",
                            [&](Json&& m) { out.push_back(std::move(m)); });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<Json>> Auth0Client::ListMembersWithRoles(std::string_view org_id) {
  static constexpr char kEndpoint[] = "GET /api/v2/organizations/{id}/members";
  const std::string path = "/api/v2/organizations/" + Enc(org_id) + "/members";
  const Params fields{{"fields", "user_id,roles"}, {"include_fields", "true"}};
  std::vector<Json> out;
  int64_t total = -1;
  auto truncated = WalkOffset(
      kEndpoint, path, fields, "members", [&](Json&& m) { out.push_back(std::move(m)); }, &total);
  if (!truncated.ok()) return truncated.status();
  if (!truncated.value()) return out;
  // More than offset paging can reach: the checkpoint walk reads the whole list again.
  out.clear();
  Status s = WalkCheckpoint(kEndpoint, path, fields, "members",
                            [&](Json&& m) { out.push_back(std::move(m)); });
  if (!s.ok()) return s;
  return out;
}

Status Auth0Client::AddMemberRoles(std::string_view org_id, std::string_view user_id,
                                   const std::vector<std::string>& role_ids) {
  Json body{{"roles", role_ids}};
  return Discard(CallJson(
      "POST /api/v2/organizations/{id}/members/{user_id}/roles",
      "/api/v2/organizations/" + Enc(org_id) + "/members/" + Enc(user_id) + "/roles", &body));
}

Status Auth0Client::RemoveMemberRoles(std::string_view org_id, std::string_view user_id,
                                      const std::vector<std::string>& role_ids) {
  Json body{{"roles", role_ids}};
  return Discard(CallJson(
      "DELETE /api/v2/organizations/{id}/members/{user_id}/roles",
      "/api/v2/organizations/" + Enc(org_id) + "/members/" + Enc(user_id) + "/roles", &body));
}

Result<std::vector<Json>> Auth0Client::ListMemberRoles(std::string_view org_id,
                                                       std::string_view user_id) {
  std::vector<Json> out;
  auto r =
      WalkOffset("GET /api/v2/organizations/{id}/members/{user_id}/roles",
                 "/api/v2/organizations/" + Enc(org_id) + "/members/" + Enc(user_id) + "/roles", {},
                 "roles", [&](Json&& j) { out.push_back(std::move(j)); });
  if (!r.ok()) return r.status();
  return out;
}

Result<Json> Auth0Client::AddOrganizationConnection(std::string_view org_id,
                                                    std::string_view connection_id,
                                                    bool assign_membership_on_login,
                                                    bool show_as_button) {
  Json body{{"connection_id", connection_id},
            {"assign_membership_on_login", assign_membership_on_login},
            {"show_as_button", show_as_button}};
  return CallObject("POST /api/v2/organizations/{id}/enabled_connections",
                    "/api/v2/organizations/" + Enc(org_id) + "/enabled_connections", &body);
}

Result<Json> Auth0Client::PatchOrganizationConnection(std::string_view org_id,
                                                      std::string_view connection_id,
                                                      bool assign_membership_on_login,
                                                      bool show_as_button) {
  Json body{{"assign_membership_on_login", assign_membership_on_login},
            {"show_as_button", show_as_button}};
  return CallObject(
      "PATCH /api/v2/organizations/{id}/enabled_connections/{connection_id}",
      "/api/v2/organizations/" + Enc(org_id) + "/enabled_connections/" + Enc(connection_id), &body);
}

Status Auth0Client::RemoveOrganizationConnection(std::string_view org_id,
                                                 std::string_view connection_id) {
  return Discard(CallJson(
      "DELETE /api/v2/organizations/{id}/enabled_connections/{connection_id}",
      "/api/v2/organizations/" + Enc(org_id) + "/enabled_connections/" + Enc(connection_id)));
}

Result<std::vector<Json>> Auth0Client::ListOrganizationConnections(std::string_view org_id) {
  std::vector<Json> out;
  auto r = WalkOffset("GET /api/v2/organizations/{id}/enabled_connections",
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

Result<std::string> Auth0Client::FindRoleId(std::string_view name) {
  return CachedLookup(role_ids_, name, [&]() -> Result<std::string> {
    std::string id;
    // name_filter matches substrings case-insensitively; only an exact name counts.
    auto r = WalkOffset("GET /api/v2/roles", "/api/v2/roles", {{"name_filter", std::string(name)}},
                        "roles", [&](Json&& role) {
                          if (id.empty() && role.value("name", "") == name)
                            id = role.value("id", "");
                        });
    if (!r.ok()) return r.status();
    if (id.empty())
      return Status::NotFound("role '" + std::string(name) + "' does not exist in Auth0");
    return id;
  });
}

Result<std::string> Auth0Client::FindConnectionId(std::string_view name) {
  return CachedLookup(connection_ids_, name, [&]() -> Result<std::string> {
    std::string id;
    auto r = WalkOffset("GET /api/v2/connections", "/api/v2/connections",
                        {{"name", std::string(name)}}, "connections", [&](Json&& c) {
                          if (id.empty() && c.value("name", "") == name) id = c.value("id", "");
                        });
    if (!r.ok()) return r.status();
    if (id.empty())
      return Status::NotFound("connection '" + std::string(name) + "' does not exist in Auth0");
    return id;
  });
}

void Auth0Client::ClearLookupCache() {
  std::lock_guard<std::mutex> lock(cache_mu_);
  role_ids_.clear();
  connection_ids_.clear();
}

Status Auth0Client::UpdateConnectionClients(std::string_view connection_id,
                                            const std::vector<ConnectionClientChange>& changes) {
  std::string target = "/api/v2/connections/" + Enc(connection_id) + "/clients";
  for (size_t i = 0; i < changes.size(); i += kMaxConnectionClientsPerCall) {
    Json body = Json::array();
    for (size_t j = i; j < std::min(changes.size(), i + kMaxConnectionClientsPerCall); ++j) {
      body.push_back(Json{{"client_id", changes[j].client_id}, {"status", changes[j].enabled}});
    }
    auto r = CallJson("PATCH /api/v2/connections/{id}/clients", target, &body);
    if (!r.ok()) return r.status();
  }
  return Status::Ok();
}

Result<std::vector<std::string>> Auth0Client::GetConnectionClients(std::string_view connection_id) {
  std::vector<std::string> out;
  Status s = WalkCheckpoint(
      "GET /api/v2/connections/{id}/clients",
      "/api/v2/connections/" + Enc(connection_id) + "/clients", {}, "clients", [&](Json&& c) {
        if (c.is_object() && c.contains("client_id") && c["client_id"].is_string()) {
          out.push_back(c["client_id"].get<std::string>());
        }
      });
  if (!s.ok()) return s;
  return out;
}

Result<Json> Auth0Client::GetClient(std::string_view client_id) {
  return CallObject("GET /api/v2/clients/{id}", "/api/v2/clients/" + Enc(client_id));
}

Result<Json> Auth0Client::PatchClientCallbacks(std::string_view client_id,
                                               const std::vector<std::string>& callbacks) {
  Json body{{"callbacks", callbacks}};
  return CallObject("PATCH /api/v2/clients/{id}", "/api/v2/clients/" + Enc(client_id), &body);
}

// ---- Emails ----------------------------------------------------------------------------------

Status Auth0Client::SendChangePasswordEmail(std::string_view email) {
  Json body{{"client_id", options_.application_client_id.empty() ? options_.client_id
                                                                 : options_.application_client_id},
            {"email", email},
            {"connection", options_.connection}};
  Call c = JsonCall("POST", "POST /dbconnections/change_password", "/dbconnections/change_password",
                    &body);
  c.authentication_api = true;
  // Auth0 answers 200 with a plain-text sentence, not JSON.
  auto r = Execute(c);
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::string> Auth0Client::CreatePasswordChangeTicket(std::string_view user_id,
                                                            const PasswordTicketOptions& o) {
  Json body{{"user_id", user_id},
            {"mark_email_as_verified", o.mark_email_as_verified},
            {"includeEmailInRedirect", o.include_email_in_redirect}};
  if (!o.result_url.empty()) body["result_url"] = o.result_url;
  if (o.ttl_sec > 0) body["ttl_sec"] = o.ttl_sec;
  auto r =
      CallJson("POST /api/v2/tickets/password-change", "/api/v2/tickets/password-change", &body);
  if (!r.ok()) return r.status();
  if (!r->is_object() || !r->contains("ticket") || !(*r)["ticket"].is_string()) {
    return Status::Invalid("POST /api/v2/tickets/password-change: answer has no ticket");
  }
  return (*r)["ticket"].get<std::string>();
}

Result<Json> Auth0Client::SendVerificationEmail(std::string_view user_id) {
  Json body{{"user_id", user_id}};
  // The identity makes Auth0 pick the right one for users with linked accounts.
  auto bar = user_id.find('|');
  if (bar != std::string_view::npos && bar > 0 && bar + 1 < user_id.size()) {
    body["identity"] =
        Json{{"user_id", user_id.substr(bar + 1)}, {"provider", user_id.substr(0, bar)}};
  }
  return CallObject("POST /api/v2/jobs/verification-email", "/api/v2/jobs/verification-email",
                    &body);
}

}  // namespace tenantsync
