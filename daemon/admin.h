// AdminApi: the operator JSON API (SPEC §7) served on its own listener. Request and answer
// bodies are documented in docs/ADMIN-API.md.
//
// Authentication: every endpoint but /healthz and POST /v1/session requires a configured token,
// as `Authorization: Bearer <token>` or as the console's cookie `ts_session=<token>`. The
// presented token is compared in constant time with every configured token (no early exit); a
// missing or wrong token gets 401 with no detail. A cookie-authenticated request with a method
// other than GET/HEAD (outside /v1/session) must carry `X-CSRF-Token: CsrfToken(token)`, else 403.
// Authorization: each token has a role (daemon/operators/authz.h) enforced per endpoint; an
// org-admin sees only its organizations and their members (others answer 404 like unknown ones).
// What a token does is recorded with its name (events it submits, guard rejections, retries and
// discards, and a log line per change).
//
// Answers never contain secrets (a session cookie is only ever set from the token the caller
// just presented). A path or query value that is not UTF-8 once percent-decoded gets 400 saying
// where; stored text that is not UTF-8 (left by older versions) is answered with U+FFFD in its
// place.
// Thread safety: Handle() runs concurrently on HTTP worker threads; ReplaceTokens() may be called
// at any time (SIGHUP).
#pragma once

#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/random.h"
#include "daemon/config.h"
#include "daemon/http_server.h"
#include "daemon/operators/authz.h"
#include "storage/sqlite_store.h"

namespace tenantsync {

class Writer;
class Auth0Client;
class Guard;

struct AdminHooks {
  // Whether an Auth0 access token is currently held (for /readyz).
  std::function<bool()> auth0_token_valid;
  // Why the event pipeline is stalled (applying events has failed continuously for a while), or
  // nullopt while it flows; /readyz is 503 with the reason while stalled. Empty: never stalled.
  std::function<std::optional<std::string>()> pipeline_stalled;
  Writer* writer = nullptr;      // pause/resume, last success; may be null in tests
  Auth0Client* auth0 = nullptr;  // user logs and the rate-limit view; null in dry runs
  Guard* guard = nullptr;        // destructive-change guard: status, approve, reject
  // Auth0 requests sent since start (Metrics::Auth0RequestsTotal), for GET /v1/status
  // progress.auth0_requests_total. Empty: null there.
  std::function<int64_t()> auth0_requests_total;
  // Mutations done since start (Metrics::MutationsDoneTotal), for progress.mutations_done_total.
  // Empty: null there.
  std::function<int64_t()> mutations_done_total;
  // GET /metrics: the Prometheus text exposition (bearer token required like every endpoint).
  std::function<std::string()> metrics;
  // Extra status sections (guard, drift, quarantine) merged into /v1/status.
  std::function<void(nlohmann::json&)> extra_status;
  // POST /v1/drift/run: runs a drift comparison now; mode "report" or "correct" ("" = the
  // configured mode). Empty: 503. GET /v1/status "drift": the last report's summary (null when
  // drift never ran).
  std::function<Result<nlohmann::json>(const std::string& mode)> drift_run;
  std::function<nlohmann::json()> drift_last;
  // The configured sources (replaced on SIGHUP), for /v1/sources and the declared-source
  // endpoints (daemon/declared_api.h). Empty: every source is unknown there.
  std::function<std::vector<SourceConfig>()> sources;
  // POST /v1/vendor-notifications/{source}/{event_id}/replay: VendorStage::Replay (failed →
  // pending, the stage woken). kNotFound / kConflict as documented there. Empty: 503.
  std::function<Status(const std::string& source, const std::string& event_id)> vendor_replay;
  // Ids of events submitted through POST /v1/events without one. Null: such a request gets 503.
  Random* random = nullptr;
  // The admin listener is HTTPS: the session cookie is marked Secure.
  bool tls = false;
};

// The CSRF token of a session: hex(HMAC-SHA256(key = token, "tenantsync-csrf")). The console
// sends it as X-CSRF-Token on every cookie-authenticated change.
std::string CsrfToken(const std::string& token);

class AdminApi {
 public:
  // `tokens`: every accepted token (AdminOptions::AllTokens()). `clock` is the daemon's clock:
  // what is due or scheduled, ages, and the times written by replay, retry, discard and submitted
  // events.
  AdminApi(const std::vector<AdminToken>& tokens, SqliteStore& store, Clock& clock,
           AdminHooks hooks);
  ServerResponse Handle(const ServerRequest& req);
  // SIGHUP: the next request is checked against these tokens.
  void ReplaceTokens(const std::vector<AdminToken>& tokens);

 private:
  struct Caller {
    Principal who;
    std::string token;  // the presented (matching) token: secret, never logged or answered
    bool cookie = false;
  };
  // Scope lookups for one org-admin request (cached per entity). Errors are storage errors.
  class Scope;

  std::optional<Caller> Authenticate(const ServerRequest& req);
  std::optional<Caller> Match(const std::string& presented);
  ServerResponse Route(const ServerRequest& req, const Caller& caller);
  ServerResponse SignIn(const ServerRequest& req);
  ServerResponse Status();
  ServerResponse Events(const ServerRequest& req, const Principal& who, bool filtered);
  ServerResponse Event(const ServerRequest& req, const Principal& who, const std::string& id);
  ServerResponse Replay(const ServerRequest& req, const Principal& who, const std::string& id);
  // The one event with this sender id (and ?source=); nullopt with *error set (404, 409, 503).
  std::optional<EventRecord> FindEvent(const ServerRequest& req, const std::string& id,
                                       ServerResponse* error);
  ServerResponse SubmitEvent(const ServerRequest& req, const Principal& who);
  ServerResponse Entity(const ServerRequest& req, const Principal& who, EntityKind kind,
                        const std::string& external_id);
  ServerResponse List(const ServerRequest& req, const Principal& who, EntityKind kind,
                      bool filtered);
  ServerResponse Mutations(const ServerRequest& req, const Principal& who, bool filtered);
  ServerResponse MutationAction(const Principal& who, const std::string& id,
                                const std::string& action);
  ServerResponse Pause(const Principal& who, bool paused);
  ServerResponse GuardAction(const ServerRequest& req, const Principal& who,
                             const std::string& action);
  // GET /v1/vendor-notifications and POST …/{source}/{event_id}/replay (tenant-wide).
  ServerResponse VendorNotifications(const ServerRequest& req);
  // GET /v1/vendor-notifications/{source}/{event_id}: the row and its stored delivery; 404 when
  // there is none.
  ServerResponse VendorNotification(const std::string& tail);
  ServerResponse VendorReplay(const Principal& who, const std::string& tail);
  ServerResponse Plan(const ServerRequest& req);
  ServerResponse DriftRun(const ServerRequest& req);

  struct KnownToken {
    Principal who;
    std::string digest;  // SHA-256 of the token: what presented tokens are compared with
  };
  std::mutex mu_;
  std::vector<KnownToken> tokens_;  // guarded by mu_
  SqliteStore& store_;
  Clock& clock_;
  AdminHooks hooks_;
};

}  // namespace tenantsync
