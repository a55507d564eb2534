// EventLoopServer: the plain-HTTP and unix-socket listeners (HttpServer without TLS).
//
// One thread runs an epoll loop that owns every connection: it accepts, reads request heads and
// bodies, and writes answers, all non-blocking. Only a complete request (head and body read) goes
// to the bounded worker pool, so a slow or idle connection never holds a worker:
//
// - the whole request head must arrive within head_timeout_seconds of the connection's first
//   byte being awaited (accept, or the end of the previous answer plus the first byte of the next
//   request), and the whole body within body_timeout_seconds of the head — deadlines, not per-read
//   timeouts, so trickling bytes does not extend them; late → 408 and close;
// - keep-alive connections wait in the loop, not in a worker, and are closed after
//   keep_alive_seconds idle, at once when draining, and first when connections run short;
// - a global cap (max_connections) and a per-peer-address cap (max_connections_per_peer, TCP
//   only): at the global cap the loop first closes the connection that has spent longest (over
//   a second) on its head, then the oldest idle keep-alive connection; if neither exists, the new
//   connection is answered 503 + Retry-After by the loop itself (one non-blocking write) and
//   closed — that answer cannot be held by a slow client;
// - complete requests beyond worker_threads + max_queued_connections waiting are answered 503 +
//   Retry-After by the loop; paths in priority_paths (admin /healthz, /readyz) have their own
//   worker and never queue behind other requests;
// - answers are written by the loop with a write deadline (write_timeout_seconds); a connection
//   closed after an answer is half-closed and drained for at most 2 s ("lingering close"), so the
//   peer reads the answer instead of a reset.
//
// - an asynchronous handler (ingress) is called on the loop thread itself for bodies up to 16 KiB
//   on paths under inline_path_prefix, and on a worker for everything else; either way it answers
//   later, from any thread (the group committer's), and no thread waits for the answer: the loop
//   writes it when it comes. A request the handler has not yet answered keeps its connection busy
//   (kDispatched) as before.
//
// Timing is checked by a sweep every 100 ms, so deadlines fire up to 100 ms late.
// Thread safety: Start/Stop/Drain from one thread; synchronous handlers run on worker threads.
// Stop() waits for every dispatched request's answer, so an asynchronous handler must answer
// every request it was given (the server outlives the answers).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "daemon/http_server.h"

namespace tenantsync::http {

class EventLoopServer {
 public:
  EventLoopServer(HttpServerOptions options, HttpServer::Handler handler,
                  HttpServer::Precheck precheck);
  EventLoopServer(HttpServerOptions options, HttpServer::AsyncHandler handler,
                  HttpServer::Precheck precheck);
  ~EventLoopServer();

  // Before Start(): called around each pass over the connections epoll reported ready
  // (HttpServer::PassHooks).
  void SetPassHooks(HttpServer::PassHooks hooks);
  Status Bind();
  std::string BoundAddress() const;
  int port() const;
  void Start();
  // Stops accepting; requests in progress are answered (Connection: close), then threads joined.
  void Stop();
  // Every answer from now on closes its connection; idle connections are closed; waits up to
  // `grace` for requests in progress, then Stop().
  void Drain(std::chrono::milliseconds grace);

  // For tests: eventfd wake-ups written so far (an answer from another thread writes one only
  // when the loop is waiting in epoll, Stop and Drain always), and whether the loop is waiting
  // now (or about to: it has announced it and looks at the answers once more first).
  uint64_t wakeups() const;
  bool waiting() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tenantsync::http
