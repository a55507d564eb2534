// HttpServer: tenantsync's own small HTTP server interface over cpp-httplib, so that only
// http_server.cpp includes the (heavy) httplib header.
//
// Protections every listener gets: read/write timeouts (slow senders are cut off), a bounded
// worker pool, and a bounded queue of accepted connections; a connection that arrives when the
// queue is full is answered 503 with Retry-After by a small overflow pool instead of waiting.
// A request is first offered to the `precheck` hook with headers only (no body read yet), so
// oversized, chunked or unwanted requests are refused before their body is read. A request with
// neither Content-Length nor Transfer-Encoding has an empty body (RFC 9112 §6.3) and goes to the
// handler at once, instead of httplib reading until the read timeout.
//
// Every answer has a JSON body: an exception escaping a handler or the precheck (a defect) is
// logged and answered 500 {"status":"error","event_id":null,"error":"internal error: ..."}, and
// the errors httplib answers itself (malformed request, body cut short, ...) get the same shape.
//
// Thread safety: handlers run on worker threads concurrently; Start/Stop from one thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace tenantsync {

struct ServerRequest {
  std::string method;
  std::string path;                                // without the query string
  std::multimap<std::string, std::string> params;  // query parameters
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // empty in the precheck hook
  std::string remote_addr;

  // Case-insensitive header lookup; nullopt when absent.
  std::optional<std::string> Header(std::string_view name) const;
  std::optional<std::string> Param(const std::string& name) const;
};

struct ServerResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  bool close_connection = false;  // force "Connection: close" (e.g. when the body was not read)
};

struct HttpServerOptions {
  std::string listen;                       // "HOST:PORT" or "unix:/path"
  std::string tls_cert_file, tls_key_file;  // both set: HTTPS
  size_t max_body_bytes = 1048576;
  int worker_threads = 16;
  int max_queued_connections = 64;
  int read_timeout_seconds = 10;
  int write_timeout_seconds = 10;
  int keep_alive_seconds = 5;
  int retry_after_seconds = 5;
  // Permissions for a unix socket (admin: owner only).
  unsigned unix_socket_mode = 0600;
};

class HttpServer {
 public:
  using Handler = std::function<ServerResponse(const ServerRequest&)>;
  // Returns a response to refuse the request before its body is read, or nullopt to continue.
  using Precheck = std::function<std::optional<ServerResponse>(const ServerRequest&)>;

  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();

  // Every request goes to `handler` (the caller routes); `precheck` is optional.
  void SetHandler(Handler handler, Precheck precheck = nullptr);

  // Binds the listener. Errors: kInvalid (bad address, TLS files) or kRetryable (in use).
  Status Bind();
  // "127.0.0.1:PORT" (with the real port when 0 was asked) or "unix:/path".
  std::string BoundAddress() const;
  int port() const;
  // Serves on a background thread until Stop().
  void Start();
  // Stops accepting, lets requests in progress finish, joins the threads.
  void Stop();
  // Graceful stop: from now on every answer carries "Connection: close"; waits up to `grace` for
  // every connection to finish, then Stop().
  void Drain(std::chrono::milliseconds grace);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tenantsync
