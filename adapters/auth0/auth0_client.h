// Auth0Client: typed calls to the Auth0 Management API (and the two Authentication API calls
// tenantsync needs). It is the only code that speaks HTTP to Auth0; the writer (through the
// Auth0Api interface it implements) and the drift reader use it and nothing else does.
//
// Every call:
// - takes a token from TokenProvider (renewed before expiry; on a 401 it is dropped and the call
//   is repeated once with a fresh token);
// - draws a token from the shared RateLimiter before sending (Management API calls only);
// - retries kRetryable failures (5xx, 408, timeouts, connection errors) up to
//   Auth0Options::max_retries times with FullJitterBackoff (backoff.h:
//   sleep = uniform[0, min(backoff_cap, backoff_base * 2^n)]), and waits out 429s until
//   x-ratelimit-reset (or Retry-After) up to max_rate_limit_waits times;
// - returns errors as values. Kinds, decided from the HTTP status (and Auth0's errorCode where
//   it matters), never from message text:
//     kRetryable    retries exhausted on 5xx/408/transport failures; try again later
//     kRateLimited  429s beyond max_rate_limit_waits; retry_at() says when to come back
//     kConflict     409: the object exists (e.g. a user with that email, an org with that name)
//     kNotFound     404: the object (or its parent) does not exist
//     kPermanent    other 4xx, including 401 after a renewed token and 403 (missing scope);
//                   http_status() / error_code() carry Auth0's statusCode / errorCode and the
//                   message carries Auth0's message. Never retried.
//     kInvalid      a 2xx answer that is not what the call promises, or bad arguments
// - checks the answer into its typed result where it is received (auth0_api.h): a 2xx answer
//   that is not JSON, not an object (an array for lists), lacks the id, or has a field of the
//   wrong type is kInvalid "<METHOD> <endpoint template>: <what was wrong>", e.g.
//   "POST /api/v2/users: user_id is number, not a string". No answer ever raises an exception.
//   Calls that return only a Status do not read the answer's body.
// Status messages name the endpoint and Auth0's message (made valid UTF-8 and bounded,
// SafeText); they never contain the client secret or the access token.
//
// Idempotency: GET, PATCH and DELETE calls are idempotent and safe to repeat. Create calls
// (CreateUser, CreateOrganization, AddOrganizationConnection) are not: repeated after a lost
// answer they return kConflict, and the caller adopts the existing object (SPEC §6). The email
// calls (SendChangePasswordEmail, SendVerificationEmail) send each time they succeed; a retry
// after a lost answer may send twice.
//
// Observer: every HTTP attempt (token requests, retries, 401 renewals, the export download) is
// reported exactly once, after its answer or failure, with its endpoint template (endpoints.h)
// and status (0 = no answer: timeout, refused, reset). A request that was never sent (Shutdown()
// came first) is not reported.
//
// Thread safety: all methods may be called from many threads at once (the writer keeps up to
// max_in_flight calls going). Calls block while the rate limiter or a backoff makes them wait.
// User, organization and connection ids are percent-encoded in paths by the client.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/auth0/auth0_api.h"
#include "adapters/auth0/http_transport.h"
#include "adapters/auth0/observer.h"
#include "adapters/auth0/options.h"
#include "adapters/auth0/rate_limiter.h"
#include "adapters/auth0/token_provider.h"
#include "common/clock.h"
#include "common/random.h"
#include "common/status.h"

namespace tenantsync {

using Json = nlohmann::json;

// Result of an offset-paged read that Auth0 caps at 1000 records (user search).
struct UserSearchResult {
  std::vector<Json> users;
  int64_t total = -1;      // Auth0's reported total, -1 when not reported
  bool truncated = false;  // more matches exist than offset paging can reach (narrow the query)
};

// What one users export job produced (ExportUsers).
struct UserExport {
  int64_t users = 0;  // records handed to the visitor
  std::string job_id;
  int64_t status_polls = 0;  // GET /api/v2/jobs/{id} requests made
  int64_t bytes = 0;         // size of the downloaded file (compressed)
};

struct UserExportOptions {
  std::string connection_id;        // "" = every user of the tenant
  std::vector<std::string> fields;  // top-level attributes, e.g. "user_id", "app_metadata"
  std::chrono::milliseconds poll_interval{2000};  // between job status reads
  std::chrono::milliseconds timeout{600000};      // the job must complete within this
};

// Maps an answer that is not 2xx (or a transport failure) to a Status (see the kinds above).
// `endpoint` prefixes the message; `now` anchors relative Retry-After values.
Status ClassifyAuth0Response(const HttpResponse& response, std::string_view endpoint,
                             Clock::WallTime now);

// Auth0's limit on a users import file (docs/AUTH0-CLIENT.md, "Users import jobs").
inline constexpr size_t kUsersImportMaxBytes = 500 * 1024;

// The multipart/form-data body of POST /api/v2/jobs/users-imports: the file part "users"
// (filename users.json, application/json) then connection_id, upsert, send_completion_email and
// external_id (when not empty) as text parts, delimited by `boundary` (RFC 7578). Returns the
// body; kInvalid when the boundary occurs in a value (choose another).
Result<std::string> BuildUsersImportBody(std::string_view boundary, std::string_view connection_id,
                                         const std::string& users_json,
                                         const UsersImportOptions& options);
// Checks a job answer into Auth0Job (kInvalid "<endpoint>: ..." when malformed).
Result<Auth0Job> ParseJob(const Json& j, std::string_view endpoint);
// Checks a GET /jobs/{id}/errors answer (an array of {user, errors:[{code,message}]}).
Result<std::vector<Auth0ImportError>> ParseJobErrors(const Json& j);

class Auth0Client : public Auth0Api {
 public:
  // `transport` is owned; `clock`, `random` and `observer` (may be null) must outlive the client.
  // member_batch_size is clamped to Auth0's maximum of 10 members per request.
  Auth0Client(Auth0Options options, std::unique_ptr<HttpTransport> transport, Clock& clock,
              Random& random, Auth0Observer* observer = nullptr);
  ~Auth0Client() override;
  Auth0Client(const Auth0Client&) = delete;
  Auth0Client& operator=(const Auth0Client&) = delete;

  // The production client over NewHttplibTransport; kInvalid for a refused base_url.
  static Result<std::unique_ptr<Auth0Client>> Create(const Auth0Options& options, Clock& clock,
                                                     Random& random,
                                                     Auth0Observer* observer = nullptr);

  // ---- Users (Auth0Api) ---------------------------------------------------------------------
  // POST /api/v2/users. `user` holds Auth0 user fields; "connection" defaults to
  // options.connection. Not idempotent: kConflict when the user already exists.
  Result<Auth0User> CreateUser(const Json& user) override;
  // GET /api/v2/users/{id}. Immediately consistent. kNotFound when absent.
  Result<Auth0User> GetUser(std::string_view user_id) override;
  // PATCH /api/v2/users/{id}. Idempotent. Metadata merges at the first level (null deletes).
  // Blocking is a patch {"blocked": true|false}.
  Result<Auth0User> PatchUser(std::string_view user_id, const Json& patch) override;
  // DELETE /api/v2/users/{id}. Idempotent (Auth0 answers 204 for an absent user too).
  Status DeleteUser(std::string_view user_id) override;
  // GET /api/v2/users-by-email?email=. Immediately consistent; possibly empty.
  Result<std::vector<Auth0User>> GetUsersByEmail(std::string_view email) override;
  // DELETE /api/v2/users/{id}/sessions, /refresh-tokens. Idempotent.
  Status RevokeSessions(std::string_view user_id) override;
  Status RevokeRefreshTokens(std::string_view user_id) override;

  // ---- Users: raw records for the admin API and the drift reader -------------------------------
  // GET /api/v2/users/{id}/logs?page=&per_page= (newest first). One page; each log an object.
  Result<std::vector<Json>> GetUserLogs(std::string_view user_id, int page = 0, int per_page = 50);
  // GET /api/v2/users?q=&search_engine=v3, offset-paged 100 at a time, never past 1000 records
  // (Auth0's cap): `truncated` says more exist. Search is eventually consistent (index lag):
  // for the drift reader, never to verify a write. `fields` ("" = all) limits the attributes.
  // Each record is a JSON object (else kInvalid); its fields are not checked.
  Result<UserSearchResult> SearchUsers(std::string_view query, std::string_view fields = "");
  // Every user (of options.connection_id) through one users export job: POST
  // /api/v2/jobs/users-exports (format json), GET /api/v2/jobs/{id} every poll_interval until
  // "completed", then the file at the job's `location` (fetched without credentials, gzip
  // decompressed, one JSON object per line), each record handed to `visit` as it is parsed (so a
  // large tenant is never held as JSON all at once). Errors: the job "failed" -> kPermanent with
  // Auth0's summary; not completed within `timeout` -> kRetryable; an unreadable file -> kInvalid.
  // Exports read a snapshot and may trail the newest writes by the job's duration.
  Result<UserExport> ExportUsers(const UserExportOptions& options,
                                 const std::function<void(Json&&)>& visit);

  // ---- Users import jobs (Auth0Api) ----------------------------------------------------------
  // POST /api/v2/jobs/users-imports as multipart/form-data (BuildUsersImportBody). The file is
  // checked against Auth0's 500 KB limit before sending (kInvalid). A 429 (rate limit, or too
  // many import jobs running in the tenant) is waited out like any other.
  Result<Auth0Job> CreateUsersImportJob(std::string_view connection_id,
                                        const std::string& users_json,
                                        const UsersImportOptions& options) override;
  Result<Auth0Job> GetJob(std::string_view job_id) override;
  Result<std::vector<Auth0ImportError>> GetJobErrors(std::string_view job_id) override;

  // ---- Organizations (Auth0Api) -------------------------------------------------------------
  // POST /api/v2/organizations. Not idempotent: kConflict when the name is taken.
  Result<Auth0Organization> CreateOrganization(const Json& organization) override;
  Result<Auth0Organization> GetOrganization(std::string_view org_id) override;  // kNotFound
  Result<Auth0Organization> GetOrganizationByName(std::string_view name) override;
  // PATCH /api/v2/organizations/{id}. Idempotent. metadata is replaced whole by Auth0.
  Result<Auth0Organization> PatchOrganization(std::string_view org_id, const Json& patch) override;
  Status DeleteOrganization(std::string_view org_id) override;
  // POST|DELETE /api/v2/organizations/{id}/members in batches of member_batch_size (≤ 10).
  // Idempotent. On failure the batches before the failing one are applied; repeat the call.
  Status AddMembers(std::string_view org_id, const std::vector<std::string>& user_ids) override;
  Status RemoveMembers(std::string_view org_id, const std::vector<std::string>& user_ids) override;
  // POST|DELETE /api/v2/organizations/{id}/members/{user}/roles {"roles": [role ids]}.
  // Idempotent. kNotFound when the user is not a member.
  Status AddMemberRoles(std::string_view org_id, std::string_view user_id,
                        const std::vector<std::string>& role_ids) override;
  Status RemoveMemberRoles(std::string_view org_id, std::string_view user_id,
                           const std::vector<std::string>& role_ids) override;
  // POST /api/v2/organizations/{id}/enabled_connections. kConflict when already enabled.
  Status AddOrganizationConnection(std::string_view org_id, std::string_view connection_id,
                                   bool assign_membership_on_login, bool show_as_button) override;
  // PATCH .../enabled_connections/{connection_id} {"assign_membership_on_login","show_as_button"}.
  Status PatchOrganizationConnection(std::string_view org_id, std::string_view connection_id,
                                     bool assign_membership_on_login, bool show_as_button) override;
  Status RemoveOrganizationConnection(std::string_view org_id,
                                      std::string_view connection_id) override;

  // ---- Organizations: raw records for the drift reader ----------------------------------------
  // Every organization, by checkpoint pagination (from/take, 100 per page). Each record once;
  // each a JSON object (else kInvalid), its fields not checked.
  Result<std::vector<Json>> ListOrganizations();
  // Every member with its directly assigned roles (fields=user_id,roles; each member carries
  // "roles": [{"id","name"}]). An organization of at most 1000 members is read with offset pages
  // and totals (one request for up to 100 members); a larger one by checkpoint pagination, which
  // is restarted from the beginning. Member lists lag behind writes slightly in real Auth0.
  Result<std::vector<Json>> ListMembersWithRoles(std::string_view org_id);
  // The organization's enabled connections ({"connection_id","connection":{"name"},
  // "assign_membership_on_login","show_as_button"}), offset-paged.
  Result<std::vector<Json>> ListOrganizationConnections(std::string_view org_id);

  // ---- Roles, connections, the application (Auth0Api) ---------------------------------------
  // Id of the role / connection with exactly this name. kNotFound (message naming it) when none.
  // Found ids are cached for lookup_cache_ttl; misses are not cached (an admin may create it).
  Result<std::string> FindRoleId(std::string_view name) override;
  Result<std::string> FindConnectionId(std::string_view name) override;
  // PATCH /api/v2/connections/{id}/clients [{"client_id","status":true}]: a delta, so
  // concurrent changes to other clients are not lost (never the legacy enabled_clients list).
  // Idempotent.
  Status EnableConnectionClient(std::string_view connection_id,
                                std::string_view client_id) override;
  // GET /api/v2/clients/{id}: the client id and its callbacks.
  Result<Auth0Application> GetApplication(std::string_view client_id) override;
  // PATCH /api/v2/clients/{id} {"callbacks": [...]}: Auth0 replaces the whole list, so the
  // caller must send the complete desired list after reading it (one writer, serialised).
  Status PatchApplicationCallbacks(std::string_view client_id,
                                   const std::vector<std::string>& callbacks) override;

  // ---- Emails (Auth0Api) ----------------------------------------------------------------------
  // POST /dbconnections/change_password {"client_id","email","connection"} (Authentication
  // API; no Management token, not drawn from the Management rate limiter). Auth0 emails the
  // user a link. client_id is options.application_client_id (else options.client_id).
  Status SendChangePasswordEmail(std::string_view email) override;
  // POST /api/v2/jobs/verification-email {"user_id","identity"}.
  Status SendVerificationEmail(std::string_view user_id) override;

  // ---- Credentials and status -----------------------------------------------------------------
  // A rotated client secret (SIGHUP): thread-safe; the cached token is dropped and the next
  // token request uses the new secret. A token request already under way with the old secret
  // does not install its token.
  void SetClientSecret(std::string secret) { tokens_.SetClientSecret(std::move(secret)); }

  // While an object of this class lives, Management API calls made by the current thread are
  // background reads: they yield to calls from other threads in the rate limiter (RateLimiter,
  // Priority). The drift reader holds one for its whole pass. Not nestable across threads.
  class BackgroundScope {
   public:
    BackgroundScope();
    ~BackgroundScope();
    BackgroundScope(const BackgroundScope&) = delete;
    BackgroundScope& operator=(const BackgroundScope&) = delete;
    // Management API requests this thread sent since the scope began (retries included).
    int64_t requests() const;

   private:
    RateLimiter::Priority previous_;
    int64_t requests_at_start_;
  };

  RateLimiter::View RateLimitView() const { return limiter_.GetView(); }
  bool HasValidToken() const { return tokens_.HasValidToken(); }
  // Obtains (or renews) the access token now, so readiness does not wait for the first write.
  Status EnsureToken() {
    auto t = tokens_.Get();
    return t.ok() ? Status::Ok() : t.status();
  }
  // The process is stopping: calls waiting in a backoff or rate-limit wait return kRetryable
  // ("shutting down") promptly instead of sleeping on, and no new request is sent. A request
  // already on the wire finishes (bounded by the read timeout) and is reported to the observer.
  // Irreversible.
  void Shutdown() override;
  void SetThreadUrgent(bool urgent) override;

 private:
  struct Call {
    std::string method;
    std::string endpoint;  // template for metrics and messages (endpoints.h)
    std::string target;
    std::string body;
    std::string content_type;
    bool authentication_api = false;  // no token, not rate-limited by the Management bucket
  };
  // A call named by its endpoint template "METHOD /path/{id}" (the method is its first word),
  // with an optional JSON body.
  Call MakeCall(std::string_view endpoint, std::string target, const Json* body = nullptr) const;
  // Sends with tokens, rate limiting and retries; returns the 2xx answer or the final error.
  Result<HttpResponse> Execute(const Call& call);
  // Execute, then the body parsed as JSON: kInvalid for an empty, non-JSON or unparsable body.
  Result<Json> ExecuteJson(const Call& call);
  // Execute, ignoring the answer's body.
  Status ExecuteStatus(const Call& call);
  // After the failure `st` of an attempt: when the retry policy allows another attempt, waits
  // (a backoff, or a 429 wait) and returns true; false when the call must end with `st` (or, if
  // *final is set, with *final: Shutdown() interrupted the wait).
  bool WaitToRetry(const Status& st, bool management_api, int* retries, int* rate_limit_waits,
                   Status* final);
  // Sleeps `d` in short slices against an absolute deadline; false when Shutdown() interrupts.
  bool Nap(std::chrono::nanoseconds d);
  // Reports one attempt to the observer.
  void Report(std::string_view endpoint, int status, Clock::MonoTime started);
  std::atomic<bool> shutting_down_{false};

  // Checkpoint pagination (from/take): calls `visit` for each item of `list_key`; ends on an
  // answer without "next", or on an empty page.
  Status WalkCheckpoint(std::string_view endpoint, const std::string& path,
                        std::vector<std::pair<std::string, std::string>> params,
                        const std::string& list_key, const std::function<void(Json&&)>& visit);
  // Offset pagination (page/per_page, include_totals), never past 1000 records. Returns whether
  // records were left unread at the cap; `total` receives Auth0's total when reported.
  Result<bool> WalkOffset(std::string_view endpoint, const std::string& path,
                          std::vector<std::pair<std::string, std::string>> params,
                          const std::string& list_key, const std::function<void(Json&&)>& visit,
                          int64_t* total = nullptr);
  // `endpoint` is kAddMembers or kRemoveMembers.
  Status MemberBatches(std::string_view endpoint, std::string_view org_id,
                       const std::vector<std::string>& user_ids);
  // The id of the record named exactly `name` in an offset-paged list (`param` = the name
  // filter); kNotFound "<what> '<name>' does not exist in Auth0" when none.
  Result<std::string> LookupByName(std::string_view endpoint, const std::string& path,
                                   const char* param, const char* list_key, const char* what,
                                   std::string_view name);
  Result<std::string> CachedLookup(
      std::map<std::string, std::pair<std::string, Clock::MonoTime>>& cache, std::string_view name,
      const std::function<Result<std::string>()>& fetch);

  Auth0Options options_;
  std::unique_ptr<HttpTransport> transport_;
  Clock& clock_;
  Random& random_;
  Auth0Observer* const observer_;
  TokenProvider tokens_;
  RateLimiter limiter_;

  std::mutex cache_mu_;
  std::mutex lookup_flight_mu_;  // held while one lookup miss fetches (single flight)
  std::map<std::string, std::pair<std::string, Clock::MonoTime>> role_ids_;        // guarded
  std::map<std::string, std::pair<std::string, Clock::MonoTime>> connection_ids_;  // guarded
};

}  // namespace tenantsync
