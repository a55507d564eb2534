// A call to auth0-sim over a plain transport (no token, no retries): `/__sim/*` control and
// seeding endpoints in the Auth0 client's integration tests. Expects a 2xx answer.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "adapters/auth0/http_transport.h"

namespace tenantsync::testing {

inline nlohmann::json SimControl(HttpTransport& transport, const std::string& method,
                                 const std::string& path, const nlohmann::json& body = nullptr) {
  HttpRequest req;
  req.method = method;
  req.target = path;
  if (!body.is_null()) {
    req.body = body.dump();
    req.content_type = "application/json";
  }
  auto resp = transport.Send(req);
  EXPECT_GE(resp.status, 200) << path << " " << resp.error_message;
  EXPECT_LT(resp.status, 300) << path << " " << resp.body;
  return nlohmann::json::parse(resp.body, nullptr, false);
}

}  // namespace tenantsync::testing
