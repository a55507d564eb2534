// HttpTransport: the narrow seam between the Auth0 client and the network.
//
// Auth0Client builds requests and interprets answers; an HttpTransport only moves bytes. The
// production implementation (NewHttplibTransport) is the one translation unit that includes
// <httplib.h>; tests substitute a scripted fake or wrap a real transport to record or to inject
// faults, the way leveldb wraps Env.
//
// Thread safety: Send() may be called from many threads at once; implementations must allow it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/auth0/options.h"
#include "common/status.h"

namespace tenantsync {

struct HttpRequest {
  std::string method;  // "GET", "POST", "PATCH", "DELETE"
  std::string target;  // path plus query, already percent-encoded: "/api/v2/users/a%7Cb?x=1"
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Authorization
  std::string body;                                          // empty for none
  std::string content_type;  // "application/json", "application/x-www-form-urlencoded", or ""
};

enum class TransportError {
  kNone,     // a complete HTTP answer arrived (any status)
  kConnect,  // could not connect (refused, DNS, TLS handshake or certificate failure)
  kTimeout,  // connect or read timeout
  kClosed,   // the peer closed or reset the connection mid-exchange
};

struct HttpResponse {
  int status = 0;                              // 0 when transport_error != kNone
  std::map<std::string, std::string> headers;  // keys lowercased
  std::string body;
  TransportError transport_error = TransportError::kNone;
  std::string error_message;  // transport failure detail; never contains credentials

  // The header's value, or "" when absent. `name` must be lowercase.
  std::string Header(std::string_view name) const {
    auto it = headers.find(std::string(name));
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Performs one exchange. Never throws; failures are reported in the response.
  virtual HttpResponse Send(const HttpRequest& request) = 0;
  // GET of an absolute URL on any host (a users-export file: Auth0 hands out a presigned storage
  // URL), without credentials, under the same rules as base_url (https verified; plain http only
  // to loopback). Never throws. The default refuses (transports for tests that need no files).
  virtual HttpResponse Fetch(const std::string& url) {
    (void)url;
    HttpResponse r;
    r.transport_error = TransportError::kConnect;
    r.error_message = "this transport cannot fetch absolute URLs";
    return r;
  }
};

// Creates the production transport for options.base_url (or https://{domain} when empty):
// keep-alive connections pooled up to options.max_in_flight (Send blocks while all are busy),
// TCP_NODELAY, options.connect_timeout / read_timeout, TLS verified against options.ca_cert_path.
// Returns kInvalid when the URL is malformed or is plain http to a host that is not loopback.
Result<std::unique_ptr<HttpTransport>> NewHttplibTransport(const Auth0Options& options);

// Scheme, host and port of the URL requests go to. Exposed for tests and for the refusal rule.
struct BaseUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6
  int port = 0;
};
// Parses options.base_url (or https://{domain}). kInvalid for other schemes, a path other than
// "/", credentials in the URL, or http to a non-loopback host (127.0.0.0/8, ::1, localhost).
Result<BaseUrl> ResolveBaseUrl(const Auth0Options& options);
// Parses an absolute download URL under the same rules (a path and query are allowed); `target`
// receives the path plus query. Error messages never include the query (it may hold a signature).
Result<BaseUrl> ResolveFetchUrl(const std::string& url, std::string* target);

// RFC 3986 percent-encoding of everything but unreserved characters: "auth0|abc" -> "auth0%7Cabc".
// Used for path segments and query values alike.
std::string PercentEncode(std::string_view s);

// "?k1=v1&k2=v2" with keys and values percent-encoded, in the given order; "" when empty.
std::string BuildQuery(const std::vector<std::pair<std::string, std::string>>& params);

// Text received from the network made fit for a Status message (which ends up in logs, SQLite
// and JSON answers): valid UTF-8 (each invalid byte becomes '?'), control characters become
// spaces, and at most `max_bytes` bytes (cut at a character boundary, "..." appended).
std::string SafeText(std::string_view text, size_t max_bytes);

}  // namespace tenantsync
