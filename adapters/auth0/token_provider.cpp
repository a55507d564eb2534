#include "adapters/auth0/token_provider.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "adapters/auth0/endpoints.h"

namespace tenantsync {

TokenProvider::TokenProvider(const Auth0Options& options, HttpTransport& transport, Clock& clock,
                             Auth0Observer* observer)
    : domain_(options.domain),
      client_id_(options.client_id),
      transport_(transport),
      clock_(clock),
      observer_(observer),
      client_secret_(options.client_secret) {}

Result<std::string> TokenProvider::Get() {
  // A fetch overtaken by a secret rotation is repeated with the new secret (twice at most: a
  // rotation storm is not worth an endless loop).
  for (int attempt = 0;; ++attempt) {
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
    bool stale = false;
    std::string token;
    Status s = Fetch(&stale, &token);
    if (stale) {
      if (attempt < 2) continue;
      return Status::Retryable("auth0 token request: the client secret changed during the request");
    }
    if (!s.ok()) return s;
    return token;  // the one fetched, even if a rotation has dropped it from the cache since
  }
}

void TokenProvider::Invalidate(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  if (token_ == token) token_.clear();
}

void TokenProvider::SetClientSecret(std::string secret) {
  std::lock_guard<std::mutex> lock(mu_);
  client_secret_ = std::move(secret);
  ++secret_generation_;
  token_.clear();
  renew_at_ = {};
}

bool TokenProvider::HasValidToken() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !token_.empty() && clock_.Monotonic() < renew_at_;
}

Status TokenProvider::Fetch(bool* stale, std::string* token) {
  std::string secret;
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    secret = client_secret_;
    generation = secret_generation_;
  }
  auto replaced = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    return secret_generation_ != generation;
  };
  HttpRequest req;
  req.method = "POST";
  req.target = "/oauth/token";
  req.content_type = "application/x-www-form-urlencoded";
  // Key order as in Auth0's recorded exchanges (alphabetical, as the Go SDK encodes forms).
  req.body = "audience=" + PercentEncode("https://" + domain_ + "/api/v2/") +
             "&client_id=" + PercentEncode(client_id_) + "&client_secret=" + PercentEncode(secret) +
             "&grant_type=client_credentials";
  auto started = clock_.Monotonic();
  HttpResponse resp = transport_.Send(req);
  req.body.clear();
  if (observer_ != nullptr) {
    observer_->OnRequest(endpoints::kToken, resp.status,
                         std::chrono::duration<double>(clock_.Monotonic() - started).count());
  }
  *stale = replaced();

  if (resp.transport_error != TransportError::kNone) {
    return Status::Retryable("auth0 token request failed: " + SafeText(resp.error_message, 200));
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
    size_t pos;
    while (!secret.empty() && (pos = description.find(secret)) != std::string::npos) {
      description.replace(pos, secret.size(), "[redacted]");
    }
    std::string msg = "auth0 token request refused (HTTP " + std::to_string(resp.status) +
                      "): " + SafeText(description, 300);
    error = SafeText(error, 100);
    if (resp.status == 429 || resp.status >= 500) {
      return Status::Retryable(std::move(msg)).WithHttp(resp.status, error);
    }
    return Status::Permanent(std::move(msg)).WithHttp(resp.status, error);
  }
  if (!body.is_object() || !body.contains("access_token") || !body["access_token"].is_string() ||
      body["access_token"].get_ref<const std::string&>().empty()) {
    return Status::Invalid(std::string(endpoints::kToken) + ": answer has no access_token")
        .WithHttp(resp.status, "");
  }
  // Seconds; a float is accepted (and truncated), anything else is malformed. Bounded so that the
  // renewal time cannot overflow.
  constexpr int64_t kMaxLifetime = int64_t{10} * 365 * 86400;
  int64_t expires_in = 86400;
  if (body.contains("expires_in") && !body["expires_in"].is_null()) {
    const auto& e = body["expires_in"];
    if (!e.is_number()) {
      return Status::Invalid(std::string(endpoints::kToken) + ": expires_in is " + e.type_name() +
                             ", not a number")
          .WithHttp(resp.status, "");
    }
    double seconds = e.get<double>();
    if (!(seconds > 0)) {
      return Status::Invalid(std::string(endpoints::kToken) + ": expires_in is not positive")
          .WithHttp(resp.status, "");
    }
    expires_in =
        seconds >= static_cast<double>(kMaxLifetime) ? kMaxLifetime : static_cast<int64_t>(seconds);
    expires_in = std::max<int64_t>(expires_in, 1);
  }
  if (*stale) return Status::Ok();  // minted for the old secret: not cached, Get() fetches again
  // Renew at 80% of the lifetime, counted from when the request was sent (the conservative end).
  auto lifetime = std::chrono::milliseconds(expires_in * 800);
  std::lock_guard<std::mutex> lock(mu_);
  if (secret_generation_ != generation) {
    *stale = true;
    return Status::Ok();
  }
  token_ = body["access_token"].get<std::string>();
  renew_at_ = started + lifetime;
  *token = token_;
  return Status::Ok();
}

}  // namespace tenantsync
