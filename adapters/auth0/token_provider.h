// TokenProvider: Management API access tokens by the client-credentials grant.
//
// POST {base}/oauth/token (form-encoded, as Auth0's SDKs send it) with grant_type
// client_credentials, client_id, client_secret and audience "https://{domain}/api/v2/". The token
// is cached and renewed once 80% of its lifetime (expires_in) has passed, so a token does not
// expire mid-run; Invalidate() drops it after a 401 so that the next Get() fetches a new one.
// Only one fetch runs at a time; concurrent callers wait for it and share its result.
//
// Errors: kPermanent (HTTP 4xx: wrong secret, unknown client, audience not allowed) carrying
// Auth0's error_description and its OAuth error code (Status::error_code()); kRetryable for 5xx,
// 429 and transport failures; kInvalid for a 2xx answer that is not a JSON object with a
// non-empty string access_token (and, when present, a positive numeric expires_in). Neither the
// secret nor the token ever appears in a Status message or a log line.
//
// Rotation: SetClientSecret() replaces the secret and drops the cached token, so the next Get()
// fetches with the new secret. A fetch that was already under way with the old secret does not
// install its token; Get() fetches again with the new one.
//
// Observer: every token request (each attempt) is reported once as "POST /oauth/token" with its
// HTTP status, 0 when no answer came.
//
// Thread safety: all methods may be called concurrently. The transport and clock must outlive
// the provider. Token requests do not draw from the Management API rate limiter: Auth0 limits
// the Authentication API separately.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "adapters/auth0/http_transport.h"
#include "adapters/auth0/observer.h"
#include "adapters/auth0/options.h"
#include "common/clock.h"
#include "common/status.h"

namespace tenantsync {

class TokenProvider {
 public:
  // `observer` may be null; it sees token requests as "POST /oauth/token".
  TokenProvider(const Auth0Options& options, HttpTransport& transport, Clock& clock,
                Auth0Observer* observer = nullptr);

  // A valid access token, fetched if none is cached or the cached one is due for renewal.
  Result<std::string> Get();
  // Drops `token` if it is still the cached one (another thread may have renewed already).
  void Invalidate(const std::string& token);
  // Whether a token is cached and not yet due for renewal (for readiness checks).
  bool HasValidToken() const;
  // Replaces the client secret (a rotated credential) and drops the cached token.
  void SetClientSecret(std::string secret);

 private:
  // One token request; requires fetch_mu_ held. On success caches the token and copies it to
  // *token. Sets *stale when the secret was replaced while the request was under way (its result
  // is then not cached).
  Status Fetch(bool* stale, std::string* token);

  const std::string domain_;
  const std::string client_id_;
  HttpTransport& transport_;
  Clock& clock_;
  Auth0Observer* const observer_;

  std::mutex fetch_mu_;  // serialises fetches; taken before mu_
  mutable std::mutex mu_;
  std::string client_secret_;       // guarded by mu_
  uint64_t secret_generation_ = 0;  // guarded by mu_; bumped by SetClientSecret
  std::string token_;               // guarded by mu_
  Clock::MonoTime renew_at_{};      // guarded by mu_
};

}  // namespace tenantsync
