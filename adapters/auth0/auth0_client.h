// Auth0Client: typed calls to the Auth0 Management API (and the two Authentication API calls
// tenantsync needs). It is the only code that speaks HTTP to Auth0; the writer and the drift
// reader use it and nothing else does.
//
// Every call:
// - takes a token from TokenProvider (renewed before expiry; on a 401 it is dropped and the call
//   is repeated once with a fresh token);
// - draws a token from the shared RateLimiter before sending (Management API calls only);
// - retries kRetryable failures (5xx, 408, timeouts, connection errors) up to
//   Auth0Options::max_retries times with capped exponential backoff and full jitter
//   (sleep = uniform[0, min(backoff_cap, backoff_base * 2^n)]), and waits out 429s until
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
//     kInvalid      a 2xx answer that is not the JSON the call expects, or bad arguments
// Status messages name the endpoint and Auth0's message; they never contain the client secret,
// the access token, or a password-change ticket.
//
// Idempotency: GET, PATCH and DELETE calls are idempotent and safe to repeat. Create calls
// (CreateUser, CreateOrganization, AddOrganizationConnection) are not: repeated after a lost
// answer they return kConflict, and the caller adopts the existing object (SPEC §6). The email
// calls (SendChangePasswordEmail, SendVerificationEmail, CreatePasswordChangeTicket) send or
// mint something each time they succeed; a retry after a lost answer may send twice.
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

struct ConnectionClientChange {
  std::string client_id;
  bool enabled = true;
};

struct PasswordTicketOptions {
  std::string result_url;  // where the user lands afterwards; "" = Auth0's default
  int64_t ttl_sec = 0;     // 0 = Auth0's default (5 days)
  bool mark_email_as_verified = false;
  bool include_email_in_redirect = false;
};

// Maps an answer that is not 2xx (or a transport failure) to a Status (see the kinds above).
// `endpoint` prefixes the message; `now` anchors relative Retry-After values.
Status ClassifyAuth0Response(const HttpResponse& response, std::string_view endpoint,
                             Clock::WallTime now);

class Auth0Client {
 public:
  // `transport` is owned; `clock`, `random` and `observer` (may be null) must outlive the client.
  // member_batch_size is clamped to Auth0's maximum of 10 members per request.
  Auth0Client(Auth0Options options, std::unique_ptr<HttpTransport> transport, Clock& clock,
              Random& random, Auth0Observer* observer = nullptr);
  ~Auth0Client();
  Auth0Client(const Auth0Client&) = delete;
  Auth0Client& operator=(const Auth0Client&) = delete;

  // The production client over NewHttplibTransport; kInvalid for a refused base_url.
  static Result<std::unique_ptr<Auth0Client>> Create(const Auth0Options& options, Clock& clock,
                                                     Random& random,
                                                     Auth0Observer* observer = nullptr);

  // ---- Users ------------------------------------------------------------------------------
  // POST /api/v2/users. `user` holds Auth0 user fields; "connection" defaults to
  // options.connection. Not idempotent: kConflict when the user already exists.
  Result<Json> CreateUser(Json user);
  // GET /api/v2/users/{id}. Immediately consistent. kNotFound when absent.
  Result<Json> GetUser(std::string_view user_id);
  // PATCH /api/v2/users/{id}. Idempotent. Metadata merges at the first level (null deletes).
  Result<Json> PatchUser(std::string_view user_id, const Json& patch);
  // DELETE /api/v2/users/{id}. Idempotent (Auth0 answers 204 for an absent user too).
  Status DeleteUser(std::string_view user_id);
  // GET /api/v2/users-by-email?email=. Immediately consistent; an array, possibly empty.
  Result<std::vector<Json>> GetUsersByEmail(std::string_view email);
  // PATCH /api/v2/users/{id} {"blocked": true|false}. Idempotent.
  Status BlockUser(std::string_view user_id);
  Status UnblockUser(std::string_view user_id);
  // DELETE /api/v2/users/{id}/sessions, /refresh-tokens. Idempotent.
  Status RevokeSessions(std::string_view user_id);
  Status RevokeRefreshTokens(std::string_view user_id);
  // GET /api/v2/users/{id}/logs?page=&per_page= (newest first). One page.
  Result<std::vector<Json>> GetUserLogs(std::string_view user_id, int page = 0, int per_page = 50);
  // GET /api/v2/users?q=&search_engine=v3, offset-paged 100 at a time, never past 1000 records
  // (Auth0's cap): `truncated` says more exist. Search is eventually consistent (index lag):
  // for the drift reader, never to verify a write. `fields` ("" = all) limits the attributes.
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

  // ---- Organizations -----------------------------------------------------------------------
  // POST /api/v2/organizations. Not idempotent: kConflict when the name is taken.
  Result<Json> CreateOrganization(const Json& organization);
  Result<Json> GetOrganization(std::string_view org_id);      // kNotFound when absent
  Result<Json> GetOrganizationByName(std::string_view name);  // kNotFound when absent
  // PATCH /api/v2/organizations/{id}. Idempotent. metadata is replaced whole by Auth0.
  Result<Json> PatchOrganization(std::string_view org_id, const Json& patch);
  Status DeleteOrganization(std::string_view org_id);
  // Every organization, by checkpoint pagination (from/take, 100 per page). Each record once.
  Result<std::vector<Json>> ListOrganizations();

  // POST|DELETE /api/v2/organizations/{id}/members in batches of member_batch_size (≤ 10).
  // Idempotent. On failure the batches before the failing one are applied; repeat the call.
  Status AddMembers(std::string_view org_id, const std::vector<std::string>& user_ids);
  Status RemoveMembers(std::string_view org_id, const std::vector<std::string>& user_ids);
  // Every member (user_id, email, name, picture), by checkpoint pagination. Member lists lag
  // behind writes slightly in real Auth0: for drift, not to verify a write.
  Result<std::vector<Json>> ListMembers(std::string_view org_id);
  // Every member with its directly assigned roles (fields=user_id,roles; each member carries
  // "roles": [{"id","name"}]). An organization of at most 1000 members is read with offset pages
  // and totals (one request for up to 100 members); a larger one by checkpoint pagination, which
  // is restarted from the beginning.
  Result<std::vector<Json>> ListMembersWithRoles(std::string_view org_id);
  // POST|DELETE /api/v2/organizations/{id}/members/{user}/roles {"roles": [role ids]}.
  // Idempotent. kNotFound when the user is not a member.
  Status AddMemberRoles(std::string_view org_id, std::string_view user_id,
                        const std::vector<std::string>& role_ids);
  Status RemoveMemberRoles(std::string_view org_id, std::string_view user_id,
                           const std::vector<std::string>& role_ids);
  Result<std::vector<Json>> ListMemberRoles(std::string_view org_id, std::string_view user_id);

  // POST /api/v2/organizations/{id}/enabled_connections. kConflict when already enabled.
  Result<Json> AddOrganizationConnection(std::string_view org_id, std::string_view connection_id,
                                         bool assign_membership_on_login, bool show_as_button);
  // PATCH .../enabled_connections/{connection_id} {"assign_membership_on_login","show_as_button"}.
  Result<Json> PatchOrganizationConnection(std::string_view org_id, std::string_view connection_id,
                                           bool assign_membership_on_login, bool show_as_button);
  Status RemoveOrganizationConnection(std::string_view org_id, std::string_view connection_id);
  Result<std::vector<Json>> ListOrganizationConnections(std::string_view org_id);

  // ---- Roles, connections, clients ---------------------------------------------------------
  // Id of the role / connection with exactly this name. kNotFound (message naming it) when none.
  // Found ids are cached for lookup_cache_ttl; misses are not cached (an admin may create it).
  Result<std::string> FindRoleId(std::string_view name);
  Result<std::string> FindConnectionId(std::string_view name);
  void ClearLookupCache();

  // PATCH /api/v2/connections/{id}/clients [{"client_id","status"}]: a delta, so concurrent
  // changes to other clients are not lost. Sent 50 per request. Idempotent.
  Status UpdateConnectionClients(std::string_view connection_id,
                                 const std::vector<ConnectionClientChange>& changes);
  // GET /api/v2/connections/{id}/clients (checkpoint-paged): the enabled client ids.
  Result<std::vector<std::string>> GetConnectionClients(std::string_view connection_id);
  // GET /api/v2/clients/{id}.
  Result<Json> GetClient(std::string_view client_id);
  // PATCH /api/v2/clients/{id} {"callbacks": [...]}: Auth0 replaces the whole list, so the
  // caller must send the complete desired list after reading it (one writer, serialised).
  Result<Json> PatchClientCallbacks(std::string_view client_id,
                                    const std::vector<std::string>& callbacks);

  // ---- Emails ------------------------------------------------------------------------------
  // POST /dbconnections/change_password {"client_id","email","connection"} (Authentication
  // API; no Management token, not drawn from the Management rate limiter). Auth0 emails the
  // user a link. client_id is options.application_client_id (else options.client_id).
  Status SendChangePasswordEmail(std::string_view email);
  // POST /api/v2/tickets/password-change: returns the ticket URL. The URL lets its holder set
  // the password: never log it.
  Result<std::string> CreatePasswordChangeTicket(std::string_view user_id,
                                                 const PasswordTicketOptions& options = {});
  // POST /api/v2/jobs/verification-email: returns the job.
  Result<Json> SendVerificationEmail(std::string_view user_id);

  // ---- Generic and status ------------------------------------------------------------------
  // One Management API request with the full retry policy, for endpoints without a typed call.
  // `endpoint_template` names it for metrics ("GET /api/v2/roles/{id}"); `target` is the
  // encoded path and query; `body` may be null. Returns the parsed body (null when empty).
  Result<Json> Request(std::string_view method, std::string_view endpoint_template,
                       std::string target, const Json* body);

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
    bool previous_;
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
  // ("shutting down") promptly instead of sleeping on, and no new request is sent. Irreversible.
  void Shutdown();
  const Auth0Options& options() const { return options_; }

 private:
  struct Call {
    std::string method;
    std::string endpoint;  // template for metrics and messages
    std::string target;
    std::string body;
    std::string content_type;
    bool authentication_api = false;  // no token, not rate-limited by the Management bucket
  };
  // Sends with tokens, rate limiting and retries; returns the 2xx answer or the final error.
  Result<HttpResponse> Execute(const Call& call);
  Result<Json> ExecuteJson(const Call& call);
  Call JsonCall(std::string_view method, std::string_view endpoint, std::string target,
                const Json* body) const;
  // One Management API call named by its template "METHOD /path/{id}" (the method is its first
  // word); CallObject also requires a JSON object back.
  Result<Json> CallJson(std::string_view endpoint, std::string target, const Json* body = nullptr);
  Result<Json> CallObject(std::string_view endpoint, std::string target,
                          const Json* body = nullptr);
  std::chrono::nanoseconds Backoff(int retry);
  // Sleeps `d` in short slices against an absolute deadline; false when Shutdown() interrupts.
  bool Nap(std::chrono::nanoseconds d);
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
  Status MemberBatches(std::string_view method, std::string_view org_id,
                       const std::vector<std::string>& user_ids);
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
