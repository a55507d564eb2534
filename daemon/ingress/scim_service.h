// ScimService: the SCIM 2.0 service provider on the ingress listener (issue 18, docs/SCIM.md).
//
// Serves /scim/v2/ for the sources with scheme = "scim": `/scim/v2/<source>/…` names the source,
// `/scim/v2/…` serves the only one (several SCIM sources and no name: 404). Endpoints:
// ServiceProviderConfig, ResourceTypes, Schemas; Users and Groups (POST, GET by id, GET with
// filter/startIndex/count, PUT, PATCH, DELETE); Bulk.
//
// Every accepted write is stored before it is answered: the resource (scim_resources) and the
// tenantsync events it means (SPEC §5, mapping in adapters/scim/scim.h) are written in one SQLite
// transaction (SqliteStore::WriteWithEvents), then the writer is woken. Events are of the SCIM
// source, ids "<Users|Groups>/<scim id>/v<version>.<n>", timestamp = the request time from the
// clock, bumped to stay after the entity's previous SCIM event so per-field ordering follows
// request order. Reads answer from scim_resources, so a GET right after a write shows it.
//
// Errors use SCIM's error schema (RFC 7644 §3.12): 400 invalidSyntax/invalidFilter/invalidValue/
// invalidPath/noTarget, 401 (missing or wrong bearer token, compared in constant time), 404, 405,
// 409 uniqueness (userName, externalId, organization name), 413 (Bulk limits), 415, 503 +
// Retry-After (storage busy, draining). No answer or log line contains a token or a password.
//
// Thread safety: Precheck/Handle may run concurrently on any threads; writes serialise on the
// store's write lock. SetDraining may be called at any time.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "adapters/scim/scim.h"
#include "common/clock.h"
#include "common/random.h"
#include "daemon/config.h"
#include "daemon/http_server.h"
#include "storage/sqlite_store.h"

namespace tenantsync {

class ScimService {
 public:
  // The sources in effect (SIGHUP replaces them); called per request.
  using SourcesFn = std::function<std::shared_ptr<const std::vector<SourceConfig>>()>;

  struct Options {
    scim::BulkLimits bulk;  // advertised in ServiceProviderConfig
    int max_results = 200;  // largest page of a list
    int retry_after_seconds = 5;
    bool tls = false;  // the listener's scheme, for Location and meta.location
  };

  // `store`, `clock` and `random` (SCIM ids) must outlive the service; `wake` is called after
  // every committed write.
  ScimService(SqliteStore& store, Clock& clock, Random& random, SourcesFn sources,
              std::function<void()> wake, Options options);

  // True for /scim/v2 and every path below it.
  static bool Handles(const std::string& path);

  // On the request head: route, source, method, content type, bearer token, draining. A refusal
  // closes the connection (its body is unread).
  std::optional<ServerResponse> Precheck(const ServerRequest& req) const;
  ServerResponse Handle(const ServerRequest& req);

  void SetDraining(bool draining) { draining_ = draining; }

 private:
  struct Route;
  struct Written;
  // The route of `req` or the answer refusing it (checked on the head).
  std::variant<Route, ServerResponse> Resolve(const ServerRequest& req) const;
  ServerResponse Dispatch(const Route& route, const ServerRequest& req);
  ServerResponse Answer(int status, const nlohmann::json& body) const;
  ServerResponse Fail(const scim::Error& error) const;

  // Writes (one transaction each).
  std::variant<Written, scim::Error> Create(const Route& route, scim::ResourceKind kind,
                                            const nlohmann::json& body, bool upsert);
  std::variant<Written, scim::Error> Update(const Route& route, scim::ResourceKind kind,
                                            const std::string& id, const nlohmann::json& body,
                                            bool patch);
  std::variant<Written, scim::Error> Remove(const Route& route, scim::ResourceKind kind,
                                            const std::string& id);
  ServerResponse Bulk(const Route& route, const ServerRequest& req);
  // Reads.
  ServerResponse GetOne(const Route& route, scim::ResourceKind kind, const std::string& id,
                        const ServerRequest& req);
  ServerResponse List(const Route& route, scim::ResourceKind kind, const ServerRequest& req);

  std::string NewId();

  SqliteStore& store_;
  Clock& clock_;
  Random& random_;
  SourcesFn sources_;
  std::function<void()> wake_;
  const Options options_;
  std::atomic<bool> draining_{false};
};

}  // namespace tenantsync
