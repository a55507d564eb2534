#include "daemon/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/thread_name.h"
#include "daemon/config.h"
#include "daemon/http/event_loop.h"
#include "daemon/http/http1.h"

namespace tenantsync {
namespace {

using http::ErrorBody;
using http::Guarded;
using http::IEquals;
using http::InternalError;
using http::Refusal;

// Set while a connection is being served by the overflow pool: every request on it is answered
// 503 without reading the body.
thread_local bool t_overflow = false;

// A worker pool with a bounded queue. httplib 0.11's TaskQueue::enqueue cannot refuse work, so
// when the queue is full the connection goes to a small overflow pool that answers 503 +
// Retry-After and closes, instead of letting accepted connections pile up without bound.
class BoundedTaskQueue final : public httplib::TaskQueue {
 public:
  BoundedTaskQueue(int workers, int max_queue, int overflow_workers)
      : max_queue_(static_cast<size_t>(max_queue)) {
    for (int i = 0; i < workers; ++i) {
      threads_.emplace_back([this] {
        SetCurrentThreadName("ts-tls-work");
        Work(jobs_, false);
      });
    }
    for (int i = 0; i < overflow_workers; ++i) {
      threads_.emplace_back([this] {
        SetCurrentThreadName("ts-tls-overflow");
        Work(overflow_, true);
      });
    }
  }

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Idle workers count as free queue slots: the queue bound applies to waiting connections.
      if (jobs_.size() < max_queue_ + idle_) {
        jobs_.push_back(std::move(fn));
      } else {
        overflow_.push_back(std::move(fn));
      }
    }
    cv_.notify_all();
  }

  // Connections being served or waiting (drain waits for this to reach zero).
  size_t active() {
    std::lock_guard<std::mutex> lock(mu_);
    return jobs_.size() + overflow_.size() + busy_;
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      shutdown_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void Work(std::deque<std::function<void()>>& queue, bool overflow) {
    t_overflow = overflow;
    while (true) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (!overflow) ++idle_;
        cv_.wait(lock, [&] { return shutdown_ || !queue.empty(); });
        if (!overflow) --idle_;
        if (queue.empty()) return;  // shutdown and drained
        fn = std::move(queue.front());
        queue.pop_front();
        ++busy_;
      }
      fn();
      std::lock_guard<std::mutex> lock(mu_);
      --busy_;
    }
  }

  const size_t max_queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;      // guarded by mu_
  std::deque<std::function<void()>> overflow_;  // guarded by mu_
  size_t idle_ = 0;                             // guarded by mu_
  size_t busy_ = 0;                             // guarded by mu_
  bool shutdown_ = false;                       // guarded by mu_
  std::vector<std::thread> threads_;
};

ServerRequest ToServerRequest(const httplib::Request& req) {
  ServerRequest out;
  out.method = req.method;
  out.path = req.path;
  for (auto& [k, v] : req.params) out.params.emplace(k, v);
  for (auto& [k, v] : req.headers) out.headers.emplace_back(k, v);
  out.remote_addr = req.remote_addr;
  return out;
}

void Apply(const ServerResponse& from, httplib::Response& to, bool draining = false) {
  to.status = from.status;
  for (auto& [k, v] : from.headers) to.set_header(k, v);
  // While draining every answer closes its connection, so no sender reuses a connection the
  // server is about to drop.
  if (from.close_connection || draining) to.set_header("Connection", "close");
  to.set_content(from.body, from.content_type.c_str());
}

// Reason phrases for the errors httplib produces itself (malformed request line, URI too long,
// unread body, ...), so that even those answers are JSON.
std::string ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "bad request: the HTTP request is malformed";
    case 404:
      return "not found";
    case 405:
      return "method not allowed";
    case 408:
      return "request timeout: the request was not received in time";
    case 413:
      return "payload too large";
    case 414:
      return "URI too long";
    case 416:
      return "range not satisfiable";
    case 431:
      return "request header fields too large";
    case 500:
      return "internal error";
    case 501:
      return "not implemented";
    case 503:
      return "service unavailable";
    default:
      return "HTTP status " + std::to_string(status);
  }
}

// HTTP/1.1 (RFC 9112 §6.3): a request with neither Content-Length nor Transfer-Encoding has no
// body. httplib 0.11 instead reads such a POST until the connection closes, so `curl -X POST`
// without data would wait for the read timeout and get an empty 400.
bool HasNoBody(const ServerRequest& req) {
  return !req.Header("Content-Length") && !req.Header("Transfer-Encoding");
}

}  // namespace

std::optional<std::string> ServerRequest::Header(std::string_view name) const {
  for (auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return std::nullopt;
}

std::optional<std::string> ServerRequest::Param(const std::string& name) const {
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return it->second;
}

struct HttpServer::Impl {
  HttpServerOptions options;
  std::unique_ptr<httplib::Server> server;
  Handler handler;
  AsyncHandler async_handler;  // set: `handler` waits for it (TLS)
  Precheck precheck;
  PassHooks pass_hooks;
  std::thread thread;
  std::string bound;
  int port = 0;
  std::string unix_path;
  int listen_fd = -1;
  BoundedTaskQueue* queue = nullptr;  // owned by the httplib server
  std::atomic<bool> draining{false};
  std::unique_ptr<http::EventLoopServer> loop;  // plain HTTP and unix sockets
};

HttpServer::HttpServer(HttpServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::SetHandler(Handler handler, Precheck precheck) {
  impl_->handler = std::move(handler);
  impl_->async_handler = nullptr;
  impl_->precheck = std::move(precheck);
}

void HttpServer::SetPassHooks(PassHooks hooks) { impl_->pass_hooks = std::move(hooks); }

void HttpServer::SetAsyncHandler(AsyncHandler handler, Precheck precheck) {
  impl_->async_handler = std::move(handler);
  impl_->precheck = std::move(precheck);
  // cpp-httplib (TLS) runs a handler per worker thread and needs its answer before returning.
  Impl* impl = impl_.get();
  impl_->handler = [impl](const ServerRequest& req) {
    std::promise<ServerResponse> promise;
    auto answer = promise.get_future();
    impl->async_handler(req, [&promise](ServerResponse r) { promise.set_value(std::move(r)); });
    return answer.get();
  };
}

Status HttpServer::Bind() {
  auto& o = impl_->options;
  Impl* impl = impl_.get();
  if (o.tls_cert_file.empty()) {
    // Plain HTTP and unix sockets: the event loop (slow and idle connections hold no worker).
    auto precheck = [impl](const ServerRequest& req) -> std::optional<ServerResponse> {
      if (!impl->precheck) return std::nullopt;
      return impl->precheck(req);
    };
    if (impl_->async_handler) {
      impl_->loop = std::make_unique<http::EventLoopServer>(
          o,
          [impl](ServerRequest req, Responder respond) {
            impl->async_handler(std::move(req), std::move(respond));
          },
          precheck);
    } else {
      impl_->loop = std::make_unique<http::EventLoopServer>(
          o, [impl](const ServerRequest& req) { return impl->handler(req); }, precheck);
    }
    impl_->loop->SetPassHooks(impl_->pass_hooks);
    return impl_->loop->Bind();
  }
  {
    auto ssl =
        std::make_unique<httplib::SSLServer>(o.tls_cert_file.c_str(), o.tls_key_file.c_str());
    if (!ssl->is_valid())
      return Status::Invalid("cannot load TLS certificate or key for " + o.listen);
    impl_->server = std::move(ssl);
  }
  auto& svr = *impl_->server;
  svr.set_tcp_nodelay(true);
  svr.set_read_timeout(o.read_timeout_seconds, 0);
  svr.set_write_timeout(o.write_timeout_seconds, 0);
  svr.set_keep_alive_timeout(o.keep_alive_seconds);
  svr.set_keep_alive_max_count(1000);
  svr.set_payload_max_length(o.max_body_bytes);
  const int workers = o.worker_threads, queue = o.max_queued_connections;
  svr.new_task_queue = [impl, workers, queue] {
    impl->queue = new BoundedTaskQueue(workers, queue, 2);
    return impl->queue;
  };

  svr.set_pre_routing_handler([impl](const httplib::Request& req, httplib::Response& res) {
    const auto& opt = impl->options;
    // A request refused here has an unread body; the answer carries "Connection: close" so a
    // well-behaved sender does not reuse the connection (httplib 0.11 cannot close it from here;
    // a sender that keeps writing is cut off by the read timeout).
    auto refuse = [&](const ServerResponse& answer) {
      Apply(answer, res, impl->draining);
      return httplib::Server::HandlerResponse::Handled;
    };
    if (t_overflow) {
      return refuse(Refusal(503, "server busy", opt.retry_after_seconds));
    }
    ServerRequest sreq = ToServerRequest(req);
    auto te = sreq.Header("Transfer-Encoding");
    if (te && te->find("chunked") != std::string::npos) {
      // httplib does not apply payload_max_length to chunked bodies, so refuse them outright.
      return refuse(Refusal(411, "a Content-Length is required; chunked bodies are not accepted"));
    }
    if (auto cl = sreq.Header("Content-Length")) {
      if (std::strtoull(cl->c_str(), nullptr, 10) > opt.max_body_bytes) {
        return refuse(
            Refusal(413, "body larger than " + std::to_string(opt.max_body_bytes) + " bytes"));
      }
    }
    if (impl->precheck) {
      if (auto refusal = Guarded(sreq, [&] { return impl->precheck(sreq); }))
        return refuse(*refusal);
    }
    if (req.method != "GET" && req.method != "HEAD" && HasNoBody(sreq)) {
      // Nothing to read: answer now, with an empty body, instead of letting httplib wait for one.
      Apply(Guarded(sreq, [&] { return impl->handler(sreq); }), res, impl->draining);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  auto dispatch = [impl](const httplib::Request& req, httplib::Response& res) {
    ServerRequest sreq = ToServerRequest(req);
    sreq.body = req.body;
    Apply(Guarded(sreq, [&] { return impl->handler(sreq); }), res, impl->draining);
  };
  // Last lines of defence: an exception outside the handlers, and errors httplib answers itself
  // (with an empty body), still get a JSON body.
  svr.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        ServerResponse answer = InternalError(req.method, req.path, what);
        res.status = answer.status;
        res.set_content(answer.body, answer.content_type.c_str());
      });
  svr.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        res.set_content(ErrorBody(ReasonPhrase(res.status)), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
  for (auto method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    std::string m = method;
    if (m == "GET")
      svr.Get(".*", dispatch);
    else if (m == "POST")
      svr.Post(".*", dispatch);
    else if (m == "PUT")
      svr.Put(".*", dispatch);
    else if (m == "PATCH")
      svr.Patch(".*", dispatch);
    else
      svr.Delete(".*", dispatch);
  }

  // Debian's prebuilt httplib 0.11 listens with a backlog of 5, so a burst of new connections
  // overflows the accept queue and stalls for a SYN retransmit (1 s). Capture the listening
  // socket here and listen() again with a real backlog after bind.
  int* listen_fd = &impl_->listen_fd;
  svr.set_socket_options([listen_fd](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    *listen_fd = sock;
  });
  auto widen_backlog = [this] {
    if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, 1024);
  };

  if (o.listen.rfind("unix:", 0) == 0) {
    impl_->unix_path = o.listen.substr(5);
    ::unlink(impl_->unix_path.c_str());
    svr.set_address_family(AF_UNIX);
    mode_t old = ::umask(0777 & ~o.unix_socket_mode);
    bool ok = svr.bind_to_port(impl_->unix_path.c_str(), 80);
    ::umask(old);
    if (!ok) return Status::Retryable("cannot bind unix socket " + impl_->unix_path);
    ::chmod(impl_->unix_path.c_str(), o.unix_socket_mode);
    widen_backlog();
    impl_->bound = o.listen;
    return Status::Ok();
  }
  std::string host;
  int port = 0;
  if (!ParseHostPort(o.listen, &host, &port))
    return Status::Invalid("bad listen address " + o.listen);
  if (host.find(':') != std::string::npos) svr.set_address_family(AF_INET6);
  if (port == 0) {
    port = svr.bind_to_any_port(host.c_str());
    if (port < 0) return Status::Retryable("cannot bind " + o.listen);
  } else if (!svr.bind_to_port(host.c_str(), port)) {
    return Status::Retryable("cannot bind " + o.listen + " (address in use or not permitted)");
  }
  widen_backlog();
  impl_->port = port;
  impl_->bound =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  return Status::Ok();
}

std::string HttpServer::BoundAddress() const {
  return impl_->loop ? impl_->loop->BoundAddress() : impl_->bound;
}
int HttpServer::port() const { return impl_->loop ? impl_->loop->port() : impl_->port; }

void HttpServer::Start() {
  if (impl_->loop) return impl_->loop->Start();
  impl_->thread = std::thread([this] { impl_->server->listen_after_bind(); });
}

void HttpServer::Drain(std::chrono::milliseconds grace) {
  if (impl_->loop) return impl_->loop->Drain(grace);
  impl_->draining = true;
  // Requests in progress are answered; idle keep-alive connections either send one more request
  // (answered with Connection: close) or time out. Capped so a stuck client cannot hold the stop.
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (impl_->queue && impl_->queue->active() > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Stop();
}

void HttpServer::Stop() {
  if (impl_->loop) return impl_->loop->Stop();
  if (impl_->server) impl_->server->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  if (!impl_->unix_path.empty()) ::unlink(impl_->unix_path.c_str());
  impl_->unix_path.clear();
}

}  // namespace tenantsync
