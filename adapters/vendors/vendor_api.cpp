#include "adapters/vendors/vendor_api.h"

#include <algorithm>
#include <cctype>
#include <thread>

#include "adapters/auth0/backoff.h"
#include "adapters/auth0/options.h"
#include "adapters/events/event.h"
#include "adapters/vendors/vendor_time.h"
#include "common/crypto.h"

namespace tenantsync {

namespace {

std::string Join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out.push_back(sep);
    out += v[i];
  }
  return out;
}

std::string ObjectName(Vendor v, ObjectKind k) {
  if (v == Vendor::kHubSpot) return k == ObjectKind::kPerson ? "contact" : "company";
  return k == ObjectKind::kPerson ? "person" : "company";
}

// Splits "https://host:port/path" into origin and path ("" for "/").
bool SplitUrl(const std::string& url, std::string* origin, std::string* path) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return false;
  auto slash = url.find('/', scheme_end + 3);
  *origin = url.substr(0, slash);
  *path = slash == std::string::npos ? "" : url.substr(slash);
  while (!path->empty() && path->back() == '/') path->pop_back();
  return !origin->empty();
}

// A 429's Retry-After in seconds (delta form), 10 s when absent or unreadable.
std::chrono::seconds RetryAfter(const HttpResponse& r) {
  std::string ra = r.Header("retry-after");
  if (!ra.empty() && ra.size() < 7 &&
      std::all_of(ra.begin(), ra.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::chrono::seconds(std::stoll(ra));
  return std::chrono::seconds(10);
}

}  // namespace

std::string VendorApiBaseUrl(const VendorApiOptions& o) {
  if (!o.base_url.empty()) return o.base_url;
  switch (o.vendor) {
    case Vendor::kBambooHr:
      return "https://api.bamboohr.com/api/gateway.php/" + o.company_domain;
    case Vendor::kHiBob:
      return "https://api.hibob.com";
    case Vendor::kPersonio:
      return "https://api.personio.de";
    case Vendor::kHubSpot:
      return "https://api.hubapi.com";
  }
  return "";
}

std::vector<std::string> DefaultPersonFields(Vendor v) {
  switch (v) {
    case Vendor::kBambooHr:
      return {"firstName", "lastName", "preferredName",   "workEmail",
              "homeEmail", "status",   "department",      "division",
              "jobTitle",  "hireDate", "terminationDate", "employmentHistoryStatus"};
    case Vendor::kHiBob:
      return {"root.id",
              "root.email",
              "root.firstName",
              "root.surname",
              "root.displayName",
              "work.department",
              "work.title",
              "work.startDate",
              "internal.status",
              "internal.terminationDate",
              "internal.lifecycleStatus"};
    case Vendor::kPersonio:
      return {};
    case Vendor::kHubSpot:
      return {"email", "firstname", "lastname", "company", "jobtitle", "lifecyclestage"};
  }
  return {};
}

std::vector<std::string> DefaultCompanyFields(Vendor v) {
  if (v == Vendor::kHubSpot) return {"name", "domain"};
  return {};
}

namespace {
// `base` (or the vendor's defaults when empty) followed by the extras it does not hold yet.
std::vector<std::string> FieldsWith(std::vector<std::string> base,
                                    const std::vector<std::string>& extra) {
  for (const auto& f : extra)
    if (std::find(base.begin(), base.end(), f) == base.end()) base.push_back(f);
  return base;
}

Status CheckFieldNames(const char* key, const std::vector<std::string>& fields) {
  for (const auto& f : fields)
    if (f.empty() || f.find(',') != std::string::npos)
      return Status::Invalid(std::string(key) + ": \"" + f +
                             "\" is not a field name (empty or holding ',')");
  return Status::Ok();
}
}  // namespace

Status ValidateVendorApiOptions(const VendorApiOptions& o) {
  std::string cred = o.credential;
  while (!cred.empty() && std::isspace(static_cast<unsigned char>(cred.back()))) cred.pop_back();
  if (cred.empty()) return Status::Invalid("credentials_file: no credential on its first line");
  const bool pair =
      cred.find(':') != std::string::npos && cred.front() != ':' && cred.back() != ':';
  if (o.vendor == Vendor::kHiBob && !pair)
    return Status::Invalid("credentials_file: a HiBob credential is SERVICE_USER_ID:TOKEN");
  if (o.vendor == Vendor::kPersonio && !pair)
    return Status::Invalid("credentials_file: a Personio credential is CLIENT_ID:CLIENT_SECRET");
  if (o.vendor == Vendor::kBambooHr && o.base_url.empty() && o.company_domain.empty())
    return Status::Invalid("company_domain: required for bamboohr (the NAME of NAME.bamboohr.com)");
  if (o.requests_per_second <= 0) return Status::Invalid("requests_per_second must be positive");
  if (o.vendor == Vendor::kPersonio && !o.extra_person_fields.empty())
    return Status::Invalid(
        "api_person_fields: personio answers the whole person; there is nothing to name");
  if (o.vendor != Vendor::kHubSpot && !o.extra_company_fields.empty())
    return Status::Invalid("api_company_fields: only hubspot fetches companies");
  if (auto st = CheckFieldNames("api_person_fields", o.extra_person_fields); !st.ok()) return st;
  if (auto st = CheckFieldNames("api_company_fields", o.extra_company_fields); !st.ok()) return st;
  if (o.max_retries < 0 || o.max_rate_limit_waits < 0)
    return Status::Invalid("max_retries must not be negative");
  std::string origin, path;
  if (!SplitUrl(VendorApiBaseUrl(o), &origin, &path))
    return Status::Invalid("api_base_url: not an absolute URL");
  Auth0Options a;
  a.base_url = origin;
  a.domain = "vendor.invalid";
  auto resolved = ResolveBaseUrl(a);
  if (!resolved.ok()) {
    // ResolveBaseUrl speaks of Auth0's base_url; the key here is api_base_url.
    std::string msg = resolved.status().message();
    if (msg.rfind("auth0 base_url: ", 0) == 0) msg = msg.substr(16);
    return Status::Invalid("api_base_url: " + msg);
  }
  return Status::Ok();
}

HttpRequest BuildFetchRequest(const VendorApiOptions& o, const std::string& path_prefix,
                              ObjectKind kind, const std::string& id, const std::string& bearer) {
  HttpRequest r;
  r.method = "GET";
  r.headers.emplace_back("Accept", "application/json");
  const std::string eid = PercentEncode(id);
  switch (o.vendor) {
    case Vendor::kBambooHr: {
      auto fields =
          FieldsWith(o.person_fields.empty() ? DefaultPersonFields(o.vendor) : o.person_fields,
                     o.extra_person_fields);
      r.target = path_prefix + "/v1/employees/" + eid + BuildQuery({{"fields", Join(fields, ',')}});
      r.headers.emplace_back("Authorization", "Basic " + crypto::Base64Encode(o.credential + ":x"));
      break;
    }
    case Vendor::kHiBob: {
      auto fields =
          FieldsWith(o.person_fields.empty() ? DefaultPersonFields(o.vendor) : o.person_fields,
                     o.extra_person_fields);
      r.method = "POST";
      r.target = path_prefix + "/v1/people/" + eid;
      r.body = nlohmann::json{{"fields", fields}}.dump();
      r.content_type = "application/json";
      r.headers.emplace_back("Authorization", "Basic " + crypto::Base64Encode(o.credential));
      break;
    }
    case Vendor::kPersonio:
      r.target = path_prefix + "/v2/persons/" + eid;
      r.headers.emplace_back("Authorization", "Bearer " + bearer);
      break;
    case Vendor::kHubSpot: {
      if (kind == ObjectKind::kPerson) {
        auto props =
            FieldsWith(o.person_fields.empty() ? DefaultPersonFields(o.vendor) : o.person_fields,
                       o.extra_person_fields);
        r.target = path_prefix + "/crm/v3/objects/contacts/" + eid +
                   BuildQuery({{"properties", Join(props, ',')}, {"associations", "companies"}});
      } else {
        auto props =
            FieldsWith(o.company_fields.empty() ? DefaultCompanyFields(o.vendor) : o.company_fields,
                       o.extra_company_fields);
        r.target = path_prefix + "/crm/v3/objects/companies/" + eid +
                   BuildQuery({{"properties", Join(props, ',')}});
      }
      r.headers.emplace_back("Authorization", "Bearer " + o.credential);
      break;
    }
  }
  return r;
}

Result<nlohmann::json> InterpretFetchResponse(Vendor v, ObjectKind kind, const std::string& id,
                                              const HttpResponse& r, Clock::WallTime now) {
  const std::string what =
      std::string(VendorName(v)) + " " + ObjectName(v, kind) + " " + SafeText(id, 64);
  if (r.transport_error != TransportError::kNone)
    return Status::Retryable(what + ": " + SafeText(r.error_message, 200));
  const std::string status = " (HTTP " + std::to_string(r.status) + ")";
  if (r.status == 200) {
    auto j = ParseJson(r.body);
    if (!j.ok() || !j->is_object())
      return Status::Invalid(what + ": the answer is not a JSON object");
    return std::move(*j);
  }
  if (r.status == 404) return Status::NotFound(what + ": not found at the vendor" + status);
  if (r.status == 429)
    return Status::RateLimited(now + RetryAfter(r), what + ": rate limited by the vendor" + status);
  if (r.status == 401 || r.status == 403)
    return Status::Permanent(what + ": the vendor refused the credentials" + status);
  if (r.status >= 500) return Status::Retryable(what + ": vendor error" + status);
  return Status::Permanent(what + ": the vendor refused the request" + status);
}

HttpVendorApi::HttpVendorApi(VendorApiOptions o, std::string path_prefix,
                             std::unique_ptr<HttpTransport> transport, Clock& clock, Random& random)
    : o_(std::move(o)),
      path_prefix_(std::move(path_prefix)),
      transport_(std::move(transport)),
      clock_(clock),
      random_(random),
      limiter_(clock, 1.0, o_.requests_per_second) {}

HttpResponse HttpVendorApi::Send(const HttpRequest& req) {
  uint64_t ticket = limiter_.Acquire();
  HttpResponse r = transport_->Send(req);
  limiter_.Complete(ticket);
  return r;
}

Result<std::string> HttpVendorApi::AccessToken(bool refresh) {
  std::lock_guard<std::mutex> lock(token_mu_);
  if (!refresh && !token_.empty() && clock_.Monotonic() < token_expiry_) return token_;
  auto colon = o_.credential.find(':');
  HttpRequest req;
  req.method = "POST";
  req.target = path_prefix_ + "/v2/auth/token";
  req.content_type = "application/x-www-form-urlencoded";
  req.body = BuildQuery({{"grant_type", "client_credentials"},
                         {"client_id", o_.credential.substr(0, colon)},
                         {"client_secret", o_.credential.substr(colon + 1)}})
                 .substr(1);
  req.headers.emplace_back("Accept", "application/json");
  HttpResponse r = Send(req);
  if (r.transport_error != TransportError::kNone)
    return Status::Retryable("personio token: " + SafeText(r.error_message, 200));
  if (r.status >= 500)
    return Status::Retryable("personio token: vendor error (HTTP " + std::to_string(r.status) +
                             ")");
  // Throttled is not refused: waited out by FetchRecord like a throttled fetch.
  if (r.status == 429)
    return Status::RateLimited(clock_.Now() + RetryAfter(r),
                               "personio token: rate limited by the vendor (HTTP 429)");
  if (r.status != 200)
    return Status::Permanent("personio token: the vendor refused the credentials (HTTP " +
                             std::to_string(r.status) + ")");
  auto j = ParseJson(r.body);
  if (!j.ok() || !j->is_object() || !j->contains("access_token") ||
      !(*j)["access_token"].is_string())
    return Status::Invalid("personio token: the answer has no access_token");
  token_ = (*j)["access_token"].get<std::string>();
  int64_t ttl = 3600;
  if (j->contains("expires_in") && (*j)["expires_in"].is_number_integer())
    ttl = (*j)["expires_in"].get<int64_t>();
  // Renew a minute early so a token never expires between the check and the request.
  token_expiry_ = clock_.Monotonic() + std::chrono::seconds(std::max<int64_t>(0, ttl - 60));
  return token_;
}

Result<nlohmann::json> HttpVendorApi::FetchRecord(ObjectKind kind, const std::string& id) {
  int retries = 0, waits = 0;
  bool refreshed = false;
  while (true) {
    std::string bearer;
    if (o_.vendor == Vendor::kPersonio) {
      auto token = AccessToken(false);
      if (!token.ok()) {
        if (token.status().kind() == StatusKind::kRateLimited) {
          if (waits++ >= o_.max_rate_limit_waits) return token.status();
          limiter_.BlockUntil(*token.status().retry_at());
          continue;
        }
        if (token.status().kind() != StatusKind::kRetryable || retries >= o_.max_retries)
          return token.status();
        clock_.SleepFor(FullJitterBackoff(retries++, o_.backoff_base, o_.backoff_cap, random_));
        continue;
      }
      bearer = *token;
    }
    HttpResponse r = Send(BuildFetchRequest(o_, path_prefix_, kind, id, bearer));
    auto result = InterpretFetchResponse(o_.vendor, kind, id, r, clock_.Now());
    if (result.ok()) return result;
    const Status& st = result.status();
    if (o_.vendor == Vendor::kPersonio && r.status == 401 && !refreshed) {
      // An expired or revoked token: get a new one once before calling the credentials bad.
      refreshed = true;
      std::lock_guard<std::mutex> lock(token_mu_);
      token_.clear();
      continue;
    }
    if (st.kind() == StatusKind::kRateLimited) {
      if (waits++ >= o_.max_rate_limit_waits) return st;
      limiter_.BlockUntil(*st.retry_at());
      continue;
    }
    if (st.kind() == StatusKind::kRetryable && retries < o_.max_retries) {
      clock_.SleepFor(FullJitterBackoff(retries++, o_.backoff_base, o_.backoff_cap, random_));
      continue;
    }
    return st;
  }
}

Result<std::unique_ptr<VendorApi>> NewHttpVendorApi(const VendorApiOptions& o, Clock& clock,
                                                    Random& random) {
  if (auto st = ValidateVendorApiOptions(o); !st.ok()) return st;
  std::string origin, path;
  SplitUrl(VendorApiBaseUrl(o), &origin, &path);
  Auth0Options a;
  a.domain = "vendor.invalid";
  a.base_url = origin;
  a.max_in_flight = 2;
  a.connect_timeout = o.connect_timeout;
  a.read_timeout = o.read_timeout;
  auto transport = NewHttplibTransport(a);
  if (!transport.ok()) return Status::Invalid("api_base_url: " + transport.status().message());
  return std::unique_ptr<VendorApi>(
      new HttpVendorApi(o, path, std::move(*transport), clock, random));
}

nlohmann::json StoredVendorEvent(const VendorNotification& n, const nlohmann::json& record,
                                 std::optional<int64_t> fetched_at_ms) {
  nlohmann::json j = {{"notification", NotificationToJson(n)}, {"record", record}};
  if (fetched_at_ms) j["fetched_at"] = FormatRfc3339Ms(*fetched_at_ms);
  return j;
}

Result<StoredVendor> ParseStoredVendorEvent(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("notification"))
    return Status::Invalid("notification: missing");
  auto n = NotificationFromJson(j["notification"]);
  if (!n.ok()) return n.status();
  StoredVendor s;
  s.notification = std::move(*n);
  if (j.contains("record")) {
    if (!j["record"].is_null() && !j["record"].is_object())
      return Status::Invalid("record: must be an object or null");
    s.record = j["record"];
  }
  if (j.contains("fetched_at") && j["fetched_at"].is_string()) {
    auto t = ParseVendorTime(j["fetched_at"].get<std::string>());
    if (!t.ok()) return Status::Invalid("fetched_at: " + t.status().message());
    s.fetched_at_ms = ResolveVendorTime(*t, TimeZone::Utc());
  }
  return s;
}

}  // namespace tenantsync
