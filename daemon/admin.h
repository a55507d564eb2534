// AdminApi: the operator JSON API (SPEC §7) served on its own listener. Request and answer
// bodies are documented in docs/ADMIN-API.md.
//
// Every endpoint but /healthz requires `Authorization: Bearer <token>`, compared in constant
// time; a missing or wrong token gets 401 with no detail. Answers never contain secrets. A path
// or query value that is not UTF-8 once percent-decoded gets 400 saying where; stored text that
// is not UTF-8 (left by older versions) is answered with U+FFFD in its place.
// Thread safety: Handle() runs concurrently on HTTP worker threads.
#pragma once

#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/clock.h"
#include "daemon/config.h"
#include "daemon/http_server.h"
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
};

class AdminApi {
 public:
  // `clock` is the daemon's clock: what is due or scheduled, ages, and the times written by
  // replay, retry and discard.
  AdminApi(std::string token, SqliteStore& store, Clock& clock, AdminHooks hooks);
  ServerResponse Handle(const ServerRequest& req);
  void ReplaceToken(std::string token);

 private:
  bool Authorized(const ServerRequest& req);
  ServerResponse Route(const ServerRequest& req);
  ServerResponse Status();
  ServerResponse Events(const ServerRequest& req);
  ServerResponse Event(const ServerRequest& req, const std::string& id);
  ServerResponse Replay(const ServerRequest& req, const std::string& id);
  // The one event with this sender id (and ?source=); nullopt with *error set (404, 409, 503).
  std::optional<EventRecord> FindEvent(const ServerRequest& req, const std::string& id,
                                       ServerResponse* error);
  ServerResponse Entity(const ServerRequest& req, EntityKind kind, const std::string& external_id);
  ServerResponse Mutations(const ServerRequest& req);
  ServerResponse MutationAction(const std::string& id, const std::string& action);
  ServerResponse Pause(bool paused);
  ServerResponse GuardAction(const ServerRequest& req, const std::string& action);
  ServerResponse Plan();
  ServerResponse DriftRun(const ServerRequest& req);

  std::mutex mu_;
  std::string token_;  // guarded by mu_; secret: never logged or returned
  SqliteStore& store_;
  Clock& clock_;
  AdminHooks hooks_;
};

}  // namespace tenantsync
