// VendorApi: fetching the person or company a dataless vendor notification names (issue 18 item 2,
// docs/CONNECTORS.md "What is fetched").
//
// The narrow interface (one call: the record of one object) lets the connector and the
// `mapping test --fetch` CLI run against the real vendor, the simulator (tests/vendor-sim) or a
// scripted fake. HttpVendorApi is the production implementation over the project's HttpTransport
// (adapters/auth0/http_transport.h, the only httplib user), paced by a RateLimiter
// (adapters/auth0/rate_limiter.h: a token bucket refilled at requests_per_second, held until a
// 429's Retry-After) and retried with FullJitterBackoff (adapters/auth0/backoff.h).
//
// What is fetched (pure: BuildFetchRequest):
//   bamboohr  GET  {base}/v1/employees/{id}?fields=a,b,c      Basic <api key>:x
//   hibob     POST {base}/v1/people/{id}  {"fields":[...]}     Basic <service user id>:<token>
//   personio  GET  {base}/v2/persons/{id}                      Bearer from POST /v2/auth/token
//                                                              (client_credentials), cached
//   hubspot   GET  {base}/crm/v3/objects/contacts/{id}?properties=...&associations=companies
//             GET  {base}/crm/v3/objects/companies/{id}?properties=...   Bearer <private app token>
//
// Credentials (a file, one value on its first non-blank line; never logged, never in a Status):
//   bamboohr "API_KEY"; hibob "SERVICE_USER_ID:TOKEN"; personio "CLIENT_ID:CLIENT_SECRET";
//   hubspot "PRIVATE_APP_TOKEN".
//
// The fetched record is kept with the event (StoredVendorEvent) so a replay maps the same data
// without a second fetch.
//
// Thread safety: FetchRecord may be called from several threads at once.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "adapters/auth0/http_transport.h"
#include "adapters/auth0/rate_limiter.h"
#include "adapters/vendors/vendors.h"
#include "common/clock.h"
#include "common/random.h"
#include "common/status.h"

namespace tenantsync {

struct VendorApiOptions {
  Vendor vendor = Vendor::kBambooHr;
  // Empty: the vendor's production API (bamboohr: https://api.bamboohr.com/api/gateway.php/
  // {company_domain}). Plain http only to a loopback host (the simulator).
  std::string base_url;
  std::string company_domain;  // bamboohr only: the "{company}" of {company}.bamboohr.com
  std::string credential;      // secret; see the header comment for its form
  std::vector<std::string> person_fields;   // bamboohr fields / hibob fields / hubspot properties
  std::vector<std::string> company_fields;  // hubspot company properties
  // Fetched as well as the above (config api_person_fields / api_company_fields): what a custom
  // mapping reads beyond the default mapping's fields. Each field is asked for once.
  std::vector<std::string> extra_person_fields;
  std::vector<std::string> extra_company_fields;  // hubspot only
  double requests_per_second = 2.0;
  int max_retries = 4;            // 5xx and transport failures
  int max_rate_limit_waits = 10;  // 429s waited out before giving up with kRateLimited
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_cap{30000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds read_timeout{15000};
};

// The default base URL for `o` (see above); o.base_url when set.
std::string VendorApiBaseUrl(const VendorApiOptions& o);
// Default fields each vendor's fetch asks for (what the default mapping reads).
std::vector<std::string> DefaultPersonFields(Vendor v);
std::vector<std::string> DefaultCompanyFields(Vendor v);

// Checks the options: a credential of the vendor's form, a usable base URL, positive rates.
// kInvalid naming the key ("credentials_file: a HiBob credential is SERVICE_USER_ID:TOKEN").
Status ValidateVendorApiOptions(const VendorApiOptions& o);

class VendorApi {
 public:
  virtual ~VendorApi() = default;
  // The vendor's record of the object. kNotFound: the vendor has no such object (deleted since);
  // kRateLimited: still throttled after max_rate_limit_waits (a 429 on Personio's token exchange
  // counts as one, never as refused credentials); kRetryable: the vendor kept failing;
  // kPermanent: credentials refused or a request the vendor will never accept; kInvalid: the
  // answer is not a JSON object. Messages name the vendor, the object and the HTTP status, never
  // a credential.
  virtual Result<nlohmann::json> FetchRecord(ObjectKind kind, const std::string& id) = 0;
};

// Pure request building. `bearer` is the access token for personio (ignored by the others).
// `path_prefix` is the base URL's path ("/api/gateway.php/acme" for bamboohr).
HttpRequest BuildFetchRequest(const VendorApiOptions& o, const std::string& path_prefix,
                              ObjectKind kind, const std::string& id, const std::string& bearer);

// Pure interpretation of one answer (see FetchRecord's errors). A 429 yields kRateLimited with
// retry_at = now + Retry-After (seconds, default 10).
Result<nlohmann::json> InterpretFetchResponse(Vendor v, ObjectKind kind, const std::string& id,
                                              const HttpResponse& r, Clock::WallTime now);

class HttpVendorApi final : public VendorApi {
 public:
  // `transport` sends to the origin of VendorApiBaseUrl(o); `path_prefix` is its path. `clock`
  // and `random` must outlive this.
  HttpVendorApi(VendorApiOptions o, std::string path_prefix,
                std::unique_ptr<HttpTransport> transport, Clock& clock, Random& random);
  Result<nlohmann::json> FetchRecord(ObjectKind kind, const std::string& id) override;

 private:
  Result<std::string> AccessToken(bool refresh);  // personio only
  HttpResponse Send(const HttpRequest& req);

  VendorApiOptions o_;
  std::string path_prefix_;
  std::unique_ptr<HttpTransport> transport_;
  Clock& clock_;
  Random& random_;
  RateLimiter limiter_;
  std::mutex token_mu_;
  std::string token_;               // guarded by token_mu_ (secret)
  Clock::MonoTime token_expiry_{};  // guarded by token_mu_
};

// The production API for `o`: validates it, resolves the base URL and creates an httplib
// transport for its origin.
Result<std::unique_ptr<VendorApi>> NewHttpVendorApi(const VendorApiOptions& o, Clock& clock,
                                                    Random& random);

// What is kept with the event: {"notification": NotificationToJson(n), "record": record or null,
// "fetched_at": RFC 3339 or absent}. ParseStoredVendorEvent reads it back (kInvalid naming the
// key), so a replay maps the same record without fetching.
nlohmann::json StoredVendorEvent(const VendorNotification& n, const nlohmann::json& record,
                                 std::optional<int64_t> fetched_at_ms);
struct StoredVendor {
  VendorNotification notification;
  nlohmann::json record;  // null when nothing was fetched
  std::optional<int64_t> fetched_at_ms;
};
Result<StoredVendor> ParseStoredVendorEvent(const nlohmann::json& j);

}  // namespace tenantsync
