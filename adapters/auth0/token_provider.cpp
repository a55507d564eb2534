#include "adapters/auth0/token_provider.h"

#include <nlohmann/json.hpp>

namespace tenantsync {

TokenProvider::TokenProvider(const Auth0Options& options, HttpTransport& transport, Clock& clock,
                             Auth0Observer* observer)
    : domain_(options.domain),
      client_id_(options.client_id),
      client_secret_(options.client_secret),
      transport_(transport),
      clock_(clock),
      observer_(observer) {}

Result<std::string> TokenProvider::Get() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!token_.empty() && clock_.Monotonic() < renew_at_) return token_;
  }
  std::lock_guard<std::mutex> fetch_lock(fetch_mu_);
  {
    // Another thread may have fetched while this one waited for fetch_mu_.
    std::lock_guard<std::mutex> lock(mu_);
    if (!token_.empty() && clock_.Monotonic() < renew_at_) return token_;
  }
  Status s = Fetch();
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  return token_;
}

void TokenProvider::Invalidate(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  if (token_ == token) token_.clear();
}

bool TokenProvider::HasValidToken() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !token_.empty() && clock_.Monotonic() < renew_at_;
}

int64_t TokenProvider::fetch_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fetch_count_;
}

Status TokenProvider::Fetch() {
  HttpRequest req;
  req.method = "POST";
  req.target = "/oauth/token";
  req.content_type = "application/x-www-form-urlencoded";
  // Key order as in Auth0's recorded exchanges (alphabetical, as the Go SDK encodes forms).
  req.body = "audience=" + PercentEncode("https://" + domain_ + "/api/v2/") +
             "&client_id=" + PercentEncode(client_id_) +
             "&client_secret=" + PercentEncode(client_secret_) + "&grant_type=client_credentials";
  auto started = clock_.Monotonic();
  HttpResponse resp = transport_.Send(req);
  if (observer_ != nullptr) {
    observer_->OnRequest("POST /oauth/token", resp.status,
                         std::chrono::duration<double>(clock_.Monotonic() - started).count());
  }

  if (resp.transport_error != TransportError::kNone) {
    return Status::Retryable("auth0 token request failed: " + resp.error_message);
  }
  nlohmann::json body = nlohmann::json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
  if (resp.status < 200 || resp.status >= 300) {
    std::string error, description;
    if (body.is_object()) {
      if (body.contains("error") && body["error"].is_string()) error = body["error"];
      if (body.contains("error_description") && body["error_description"].is_string()) {
        description = body["error_description"];
      }
    }
    if (description.empty()) description = "HTTP " + std::to_string(resp.status);
    // error_description is Auth0's wording about the request (e.g. "Unauthorized"); it never
    // echoes the secret, but redact defensively anyway.
    for (const std::string* secret : {&client_secret_}) {
      size_t pos;
      while (!secret->empty() && (pos = description.find(*secret)) != std::string::npos) {
        description.replace(pos, secret->size(), "[redacted]");
      }
    }
    std::string msg =
        "auth0 token request refused (HTTP " + std::to_string(resp.status) + "): " + description;
    if (resp.status == 429 || resp.status >= 500) {
      return Status::Retryable(std::move(msg)).WithHttp(resp.status, error);
    }
    return Status::Permanent(std::move(msg)).WithHttp(resp.status, error);
  }
  if (!body.is_object() || !body.contains("access_token") || !body["access_token"].is_string() ||
      body["access_token"].get_ref<const std::string&>().empty()) {
    return Status::Invalid("auth0 token answer has no access_token");
  }
  int64_t expires_in = 86400;
  if (body.contains("expires_in") && body["expires_in"].is_number()) {
    expires_in = body["expires_in"].get<int64_t>();
  }
  if (expires_in <= 0) return Status::Invalid("auth0 token answer has a non-positive expires_in");
  // Renew at 80% of the lifetime, counted from when the request was sent (the conservative end).
  auto lifetime = std::chrono::milliseconds(expires_in * 800);
  std::lock_guard<std::mutex> lock(mu_);
  token_ = body["access_token"].get<std::string>();
  renew_at_ = started + lifetime;
  ++fetch_count_;
  return Status::Ok();
}

}  // namespace tenantsync
