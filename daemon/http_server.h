// HttpServer: tenantsync's own small HTTP server interface. Two implementations behind it:
//
// - plain HTTP and unix sockets (every admin listener, and ingress without TLS):
//   http::EventLoopServer (daemon/http/event_loop.h) — one epoll thread reads heads and bodies
//   under whole-head/whole-body deadlines, caps connections globally and per peer, answers
//   overflow itself (503 + Retry-After, close) and hands only complete requests to the bounded
//   worker pool, so slow or idle connections never hold a worker (issue 13);
// - TLS (tls_cert_file/tls_key_file): cpp-httplib's SSLServer, thread-per-connection, with
//   per-read timeouts, the worker pool and a bounded queue of connections (overflow: 503 from a
//   small overflow pool). Without the deadlines and caps: docs/OPERATIONS.md recommends
//   terminating TLS in a reverse proxy. Only this file includes the (heavy) httplib header.
//
// Both: a request is first offered to the `precheck` hook with headers only (no body read yet),
// so oversized, chunked or unwanted requests are refused before their body is read, and such a
// refusal closes the connection. A request with neither Content-Length nor Transfer-Encoding
// has an empty body (RFC 9112 §6.3). Every answer has a JSON body: an exception escaping a
// handler or the precheck (a defect) is logged and answered 500
// {"status":"error","event_id":null,"error":"internal error: ..."}, and the errors the server
// answers itself (malformed request, timeouts, caps) get the same shape.
//
// Thread safety: handlers run on worker threads concurrently (the precheck, on the event loop's
// thread for plain HTTP; an asynchronous handler, on the loop's thread for small bodies under
// inline_path_prefix, and its answers come from any thread); Start/Stop from one thread.
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
  // The query string as received, without '?' and '#...', not decoded (a vendor signature such as
  // HubSpot's v3 covers the URI as sent). Filled by the plain-HTTP listener
  // (daemon/http/http1.cpp); empty on the TLS listener, which hands over decoded parameters only.
  std::string query;
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
  // Plain-HTTP and unix-socket listeners (daemon/http/event_loop.h); TLS listeners use cpp-httplib
  // with the per-read read_timeout_seconds instead.
  int max_connections = 1024;          // open connections; beyond: idle ones closed, then 503
  int max_connections_per_peer = 128;  // per remote address (TCP); 0 = no cap
  int head_timeout_seconds = 5;        // whole request head
  int body_timeout_seconds = 20;       // whole request body, from the end of the head
  size_t max_head_bytes = 16384;       // request line and header fields
  // Requests for these paths have a worker of their own (admin: /healthz, /readyz).
  std::vector<std::string> priority_paths;
  // With an asynchronous handler (SetAsyncHandler): requests whose path starts with this prefix
  // and whose body is at most 16 KiB are handed to it on the event loop's own thread (ingress:
  // "/webhooks/", whose handler only verifies, parses and queues); every other request is handed
  // to it on a worker, so a handler part that blocks (SCIM's synchronous writes) never holds the
  // loop. Empty: always on a worker.
  std::string inline_path_prefix;
  // Told of each connection or request the event loop refuses or cuts off, with the reason:
  // connection_cap, peer_cap, evicted, workers_busy, head_timeout, body_timeout, silent. Called
  // on the loop thread: must be cheap and must not block. Null: not observed.
  std::function<void(const char* reason)> on_refused;
  // Prefix of the server's thread names (+ "-loop", "-work", "-prio"): ingress "ts-in", admin
  // "ts-admin", so `top -H` and the ingest benchmark can tell them apart.
  std::string thread_name = "ts-http";
};

class HttpServer {
 public:
  using Handler = std::function<ServerResponse(const ServerRequest&)>;
  // Returns a response to refuse the request before its body is read, or nullopt to continue.
  using Precheck = std::function<std::optional<ServerResponse>(const ServerRequest&)>;
  // Called exactly once with the answer, from any thread.
  using Responder = std::function<void(ServerResponse)>;
  // A handler that never blocks: it answers through `respond`, at once or later from another
  // thread (ingress answers from the group committer once the event is durable). The event loop
  // calls it on its own thread for small bodies, so it must be quick; TLS listeners call it on a
  // worker and wait for the answer there.
  using AsyncHandler = std::function<void(ServerRequest req, Responder respond)>;

  // Called on the event loop's thread before and after each pass over the connections that
  // became ready together; every handler call the loop makes itself during the pass (small
  // /webhooks/ bodies, inline_path_prefix) runs between them. Ingress holds the group committer
  // for a pass, so its events share one commit. Either may be empty. TLS listeners (cpp-httplib)
  // have no passes and never call them.
  struct PassHooks {
    std::function<void()> begin;
    std::function<void()> end;
  };

  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();

  // Every request goes to `handler` (the caller routes); `precheck` is optional.
  void SetHandler(Handler handler, Precheck precheck = nullptr);
  // Instead of SetHandler: the same, answered asynchronously.
  void SetAsyncHandler(AsyncHandler handler, Precheck precheck = nullptr);
  // Before Bind().
  void SetPassHooks(PassHooks hooks);

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
