// Auth0Options: the [auth0] section of the configuration, as the client needs it.
// Plain struct; defaults documented here and in docs/CONFIGURATION.md; validated once at
// start-up by daemon/config.cpp (ValidateAuth0Options).
#pragma once

#include <chrono>
#include <string>

namespace tenantsync {

struct Auth0Options {
  // Tenant domain, e.g. "example.eu.auth0.com". Required. The token audience is
  // "https://{domain}/api/v2/".
  std::string domain;
  // Optional override of where requests go (the simulator). Plain http is accepted only for a
  // loopback host (127.0.0.1, ::1, localhost). Empty: "https://{domain}".
  std::string base_url;
  std::string client_id;      // Required.
  std::string client_secret;  // Secret: read from client_secret_file; never logged.
  // The database connection new users are created in.
  std::string connection = "Username-Password-Authentication";
  // The application whose callbacks and connections tenantsync manages. Required.
  std::string application_client_id;
  // Concurrent requests the writer keeps in flight (1..64).
  int max_in_flight = 4;
  // Share of the tenant's rate-limit budget tenantsync may use (0 < f <= 1).
  double rate_limit_fraction = 0.8;
  // Members added or removed per request (Auth0 accepts up to 10 per call... see client docs).
  int member_batch_size = 10;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds read_timeout{15000};
  // Retries for retryable errors before a call gives up (the writer may re-queue later).
  int max_retries = 8;
  std::chrono::milliseconds backoff_base{200};
  std::chrono::milliseconds backoff_cap{30000};

  // Fields below were added with the client (docs/AUTH0-CLIENT.md); defaults suit production.

  // How many 429 answers one call may wait out before it returns kRateLimited to the caller.
  // A 429 never counts against max_retries: waiting for the reset is the cure, not a failure.
  int max_rate_limit_waits = 20;
  // Sustained rate assumed before the tenant's x-ratelimit-* headers have been seen long enough
  // to measure it (Auth0's lowest published plan, Free, allows 2 requests per second).
  double fallback_rate_per_second = 2.0;
  // Certificate authorities used to verify https://{domain}; empty = OpenSSL's default paths.
  std::string ca_cert_path = "/etc/ssl/certs/ca-certificates.crt";
  // Role and connection ids looked up by name are kept this long (0 = until the process ends).
  std::chrono::seconds lookup_cache_ttl{600};
  // Users pending creation in the connection from which the writer creates them by users-imports
  // jobs instead of one request each (docs/AUTH0-CLIENT.md, "Users import jobs"); 0 disables.
  int import_threshold = 50;
};

}  // namespace tenantsync
