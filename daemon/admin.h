// AdminApi: the operator JSON API (SPEC §7) served on its own listener.
//
// Every endpoint but /healthz requires `Authorization: Bearer <token>`, compared in constant
// time; a missing or wrong token gets 401 with no detail. Answers never contain secrets.
// Thread safety: Handle() runs concurrently on HTTP worker threads.
#pragma once

#include <functional>
#include <string>

#include "daemon/http_server.h"
#include "storage/store.h"

namespace tenantsync {

struct AdminHooks {
  // Whether an Auth0 access token is currently held (for /readyz). Empty: not connected yet.
  std::function<bool()> auth0_token_valid;
};

class AdminApi {
 public:
  AdminApi(std::string token, Store& store, AdminHooks hooks);
  ServerResponse Handle(const ServerRequest& req);
  void ReplaceToken(std::string token);

 private:
  bool Authorized(const ServerRequest& req);
  ServerResponse Status();
  ServerResponse Events(const ServerRequest& req);
  ServerResponse Event(const ServerRequest& req, const std::string& id);

  std::mutex mu_;
  std::string token_;  // guarded by mu_; secret: never logged or returned
  Store& store_;
  AdminHooks hooks_;
};

}  // namespace tenantsync
