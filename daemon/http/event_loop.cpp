#include "daemon/http/event_loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/thread_name.h"
#include "daemon/config.h"
#include "daemon/http/http1.h"

namespace tenantsync::http {
namespace {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

constexpr uint64_t kListenId = 0;
constexpr uint64_t kWakeId = 1;
constexpr auto kSweepInterval = std::chrono::milliseconds(100);
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr auto kOverflowLingerTime = std::chrono::seconds(1);  // refused connections
// Refused connections lingering at once, per unit of max_connections: beyond, a refusal is
// closed at once and its peer may see a reset instead of the 503.
constexpr size_t kLingerPerConnection = 4;
// At the connection cap, a connection that has spent this long on its head may be closed to make
// room (a sender's head normally arrives in one packet).
constexpr auto kEvictableHeadAge = std::chrono::seconds(1);
constexpr size_t kReadChunk = 65536;
constexpr size_t kMaxReadPerEvent = 4 * kReadChunk;  // fairness between connections
// An asynchronous handler (ingress) is called on the loop thread itself for bodies up to this
// size (and paths under inline_path_prefix): a typical webhook is verified and parsed in a few
// microseconds, less than handing it to a worker costs in wake-ups. Larger bodies go to a worker so
// the loop is not held.
constexpr size_t kInlineBodyBytes = 16384;

// Calls a pass's end hook exactly once, also when a handler throws out of the pass.
class PassScope {
 public:
  explicit PassScope(const HttpServer::PassHooks* hooks) : hooks_(hooks) {
    if (hooks_ != nullptr && hooks_->begin) hooks_->begin();
  }
  ~PassScope() { End(); }
  PassScope(const PassScope&) = delete;
  PassScope& operator=(const PassScope&) = delete;
  void End() {
    if (hooks_ != nullptr && hooks_->end) hooks_->end();
    hooks_ = nullptr;
  }

 private:
  const HttpServer::PassHooks* hooks_;
};

// Worker threads with a bounded queue; TryPush refuses instead of waiting.
class WorkerPool {
 public:
  WorkerPool(int threads, size_t max_queue, std::string name) : max_queue_(max_queue) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this, name] {
        SetCurrentThreadName(name);
        Work();
      });
    }
  }
  ~WorkerPool() { Shutdown(); }

  bool TryPush(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Idle workers count as free slots: the bound applies to requests that would wait.
      if (shutdown_ || jobs_.size() >= max_queue_ + idle_) return false;
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
    return true;
  }

  void Shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_ && threads_.empty()) return;
      shutdown_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void Work() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ++idle_;
        cv_.wait(lock, [&] { return shutdown_ || !jobs_.empty(); });
        --idle_;
        if (jobs_.empty()) return;  // shut down and drained
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  const size_t max_queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  size_t idle_ = 0;                         // guarded by mu_
  bool shutdown_ = false;                   // guarded by mu_
  std::vector<std::thread> threads_;
};

enum class State {
  kHead,        // awaiting or reading a request head
  kBody,        // head parsed and accepted; reading the body
  kDispatched,  // with a worker
  kWriting,     // answer being written
  kIdle,        // keep-alive, between requests
  kLinger,      // answered, write side shut; discarding input until EOF or kLingerTime
};

struct Conn {
  uint64_t id = 0;
  int fd = -1;
  std::string peer;  // remote address ("" for a unix socket)
  bool counted_peer = false;
  State state = State::kHead;
  TimePoint since;      // when the current state began
  TimePoint deadline;   // when the current state times out
  TimePoint last_read;  // last byte received (read_timeout_seconds: silence within a request)
  std::string in;       // bytes read and not consumed
  size_t scanned = 0;   // FindHeadEnd progress
  size_t head_end = 0;
  std::optional<ParsedHead> head;
  std::string out;
  size_t out_off = 0;
  bool close_after_write = false;
  uint32_t interest = 0;
  bool peer_gone = false;      // hung up while dispatched
  uint64_t seq = 0;            // requests dispatched so far: matches an answer to its request
  bool async_pending = false;  // an asynchronous handler has the request (counted in Impl)
};

// An answer from a handler, for the request `seq` of connection `id`.
struct Completion {
  uint64_t id = 0, seq = 0;
  ServerResponse response;
};

std::string PeerAddress(const sockaddr_storage& addr) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    return buf;
  }
  if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    return buf;
  }
  return "";
}

}  // namespace

struct EventLoopServer::Impl {
  HttpServerOptions options;
  HttpServer::Handler handler;             // or:
  HttpServer::AsyncHandler async_handler;  // one of the two is set
  HttpServer::PassHooks pass_hooks;
  HttpServer::Precheck precheck;
  HeadLimits limits;
  std::thread::id loop_thread_id;

  int listen_fd = -1, epoll_fd = -1, wake_fd = -1;
  bool listening_paused = false;  // out of file descriptors: accept resumes at the next sweep
  std::string bound, unix_path;
  int port = 0;
  std::thread thread;
  std::unique_ptr<WorkerPool> workers, priority_workers;

  // Loop thread only.
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;
  std::unordered_map<std::string, int> per_peer;
  uint64_t next_id = 2;
  size_t lingering = 0;
  // Requests an asynchronous handler has not answered yet: bounded like the worker pool
  // (worker_threads + max_queued_connections), beyond → 503, so a stalled disk is answered
  // "busy" instead of piling up connections that wait.
  size_t async_pending = 0;
  TimePoint next_sweep, next_report;
  struct Counters {
    uint64_t over_cap = 0, over_peer_cap = 0, queue_full = 0, head_timeouts = 0, body_timeouts = 0,
             evicted = 0, silent = 0;
  } counters;
  // Counts a refused or cut-off connection or request, and tells the observer (metrics).
  void Refused(uint64_t& counter, const char* reason) {
    ++counter;
    if (options.on_refused) options.on_refused(reason);
  }

  // Other threads (workers, the group committer) → loop.
  std::mutex done_mu;
  std::vector<Completion> done;  // guarded by done_mu
  // True from just before the loop looks at `done` for the last time before a blocking
  // epoll_wait until that wait returns: only then does an answer from another thread need the
  // eventfd. An awake loop takes `done` after its current pass anyway, and each wake-up written
  // cost the committer an eventfd write that wakes the loop's thread on the other core
  // (docs/BENCHMARKS.md, session 35).
  std::atomic<bool> loop_waiting{false};
  // done is not empty (written under done_mu, read by the loop without it: no lock per wait).
  std::atomic<bool> done_pending{false};
  std::atomic<uint64_t> wakeups{0};  // eventfd writes (tests)
  // Answered on the loop thread itself (an asynchronous handler that answered at once): taken
  // after the current batch of events, without a wake-up.
  std::vector<Completion> ready;

  std::atomic<bool> stopping{false}, draining{false};
  std::atomic<size_t> active{0};  // connections with a request in progress (last sweep)
  std::atomic<uint64_t> sweeps{0};

  ~Impl() {
    for (int fd : {listen_fd, epoll_fd, wake_fd}) {
      if (fd >= 0) ::close(fd);
    }
  }

  // ---- set-up --------------------------------------------------------------------------------

  Status Bind() {
    limits.max_head_bytes = options.max_head_bytes;
    auto& o = options;
    if (o.listen.rfind("unix:", 0) == 0) {
      unix_path = o.listen.substr(5);
      sockaddr_un addr{};
      if (unix_path.empty() || unix_path.size() >= sizeof(addr.sun_path))
        return Status::Invalid("bad unix socket path " + unix_path);
      ::unlink(unix_path.c_str());
      listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (listen_fd < 0) return Status::Retryable("cannot create a unix socket");
      addr.sun_family = AF_UNIX;
      std::memcpy(addr.sun_path, unix_path.c_str(), unix_path.size());
      mode_t old = ::umask(0777 & ~o.unix_socket_mode);
      int rc = ::bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
      ::umask(old);
      if (rc != 0) {
        std::string why = std::strerror(errno);
        unix_path.clear();
        return Status::Retryable("cannot bind unix socket " + o.listen.substr(5) + ": " + why);
      }
      ::chmod(unix_path.c_str(), o.unix_socket_mode);
      bound = o.listen;
    } else {
      std::string host;
      int want_port = 0;
      if (!ParseHostPort(o.listen, &host, &want_port))
        return Status::Invalid("bad listen address " + o.listen);
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
      addrinfo* res = nullptr;
      if (int rc = ::getaddrinfo(host.c_str(), std::to_string(want_port).c_str(), &hints, &res);
          rc != 0)
        return Status::Invalid("bad listen address " + o.listen + ": " + ::gai_strerror(rc));
      std::string error = "no address";
      for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          ai->ai_protocol);
        if (fd < 0) continue;
        int yes = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
        if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
          listen_fd = fd;
          break;
        }
        error = std::strerror(errno);
        ::close(fd);
      }
      ::freeaddrinfo(res);
      if (listen_fd < 0)
        return Status::Retryable("cannot bind " + o.listen + " (" + error +
                                 "; address in use or not permitted)");
      sockaddr_storage addr{};
      socklen_t len = sizeof(addr);
      ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
      port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
      bound = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
              std::to_string(port);
    }
    RaiseFileLimit();
    if (::listen(listen_fd, 1024) != 0)
      return Status::Retryable("cannot listen on " + o.listen + ": " + std::strerror(errno));
    epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd < 0 || wake_fd < 0) return Status::Retryable("cannot create an epoll instance");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenId;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);
    ev.data.u64 = kWakeId;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev);
    return Status::Ok();
  }

  // Open connections and lingering refusals each take a descriptor: raise the soft limit
  // (systemd gives services 1024) towards the hard one so max_connections can be reached.
  void RaiseFileLimit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
    const rlim_t need =
        (1 + kLingerPerConnection) * static_cast<rlim_t>(options.max_connections) + 64;
    const rlim_t want = lim.rlim_cur + need;
    if (lim.rlim_cur < want && lim.rlim_cur < lim.rlim_max) {
      lim.rlim_cur = std::min(want, lim.rlim_max);
      ::setrlimit(RLIMIT_NOFILE, &lim);
      ::getrlimit(RLIMIT_NOFILE, &lim);
    }
    if (lim.rlim_cur < need) {
      spdlog::warn(
          "http {}: the open-file limit ({}) is below what max_connections = {} needs (about "
          "{}); raise LimitNOFILE= or lower max_connections",
          options.listen, lim.rlim_cur, options.max_connections, need);
    }
  }

  void Wake() {
    ++wakeups;
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof(one));
  }

  // ---- the loop ------------------------------------------------------------------------------

  void Run() {
    SetCurrentThreadName(options.thread_name + "-loop");
    loop_thread_id = std::this_thread::get_id();
    workers = std::make_unique<WorkerPool>(options.worker_threads,
                                           static_cast<size_t>(options.max_queued_connections),
                                           options.thread_name + "-work");
    if (!options.priority_paths.empty())
      priority_workers = std::make_unique<WorkerPool>(1, 8, options.thread_name + "-prio");
    next_sweep = SteadyClock::now() + kSweepInterval;
    next_report = SteadyClock::now() + std::chrono::seconds(10);
    bool listener_closed = false;
    std::vector<epoll_event> events(256);
    while (true) {
      if (stopping) {
        if (!listener_closed) {
          ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
          ::close(listen_fd);
          listen_fd = -1;
          listener_closed = true;
        }
        CloseQuiet();
      }
      if (stopping && conns.empty()) break;
      // Answers given on this thread outside an event (none today) must not wait for one.
      int timeout = ready.empty() ? static_cast<int>(kSweepInterval.count()) : 0;
      if (timeout != 0) {
        // Announced before the last look at `done` (both sequentially consistent): an answer
        // queued after that look sees the flag and writes the eventfd (Complete), one queued
        // before it is seen here.
        loop_waiting.store(true);
        if (done_pending.load()) timeout = 0;
      }
      int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), timeout);
      loop_waiting.store(false);
      PassScope pass(n > 0 ? &pass_hooks : nullptr);
      for (int i = 0; i < n; ++i) {
        uint64_t id = events[i].data.u64;
        if (id == kListenId) {
          if (!stopping) Accept();
        } else if (id == kWakeId) {
          // One read returns and resets the whole eventfd counter.
          uint64_t count;
          [[maybe_unused]] auto got = ::read(wake_fd, &count, sizeof(count));
        } else {
          OnEvent(id, events[i].events);
        }
      }
      pass.End();
      Completions();
      if (SteadyClock::now() >= next_sweep) Sweep();
    }
    // Every connection is closed; the workers have nothing left that anyone waits for.
    workers->Shutdown();
    if (priority_workers) priority_workers->Shutdown();
  }

  // While stopping: connections without a complete request (nothing was promised to them) are
  // closed without an answer; those with a worker or an answer being written are finished.
  void CloseQuiet() {
    std::vector<uint64_t> ids;
    for (auto& [id, c] : conns) {
      if (c->state != State::kDispatched && c->state != State::kWriting) ids.push_back(id);
    }
    for (auto id : ids) Close(id);
  }

  void Accept() {
    for (int i = 0; i < 256; ++i) {
      sockaddr_storage addr{};
      socklen_t len = sizeof(addr);
      int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Level-triggered: pause accepting until the next sweep instead of spinning.
          spdlog::warn("http {}: cannot accept a connection: {}", bound, std::strerror(errno));
          ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
          listening_paused = true;
        }
        return;  // EAGAIN, or a connection aborted before it was accepted
      }
      const bool tcp = unix_path.empty();
      if (tcp) {
        int yes = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
      }
      std::string peer = tcp ? PeerAddress(addr) : "";
      if (conns.size() >= static_cast<size_t>(options.max_connections) && !MakeRoom()) {
        Refused(counters.over_cap, "connection_cap");
        Overflow(fd, "server busy: too many connections; retry later");
        continue;
      }
      const int peer_cap = options.max_connections_per_peer;
      if (tcp && peer_cap > 0 && per_peer[peer] >= peer_cap) {
        Refused(counters.over_peer_cap, "peer_cap");
        Overflow(fd, "server busy: too many connections from " + peer + "; retry later");
        continue;
      }
      auto c = std::make_unique<Conn>();
      c->id = next_id++;
      c->fd = fd;
      c->peer = std::move(peer);
      if (tcp && peer_cap > 0) {
        ++per_peer[c->peer];
        c->counted_peer = true;
      }
      StartHead(*c, SteadyClock::now());
      Watch(*c, EPOLLIN, EPOLL_CTL_ADD);
      conns.emplace(c->id, std::move(c));
    }
  }

  // At the global cap: closes the connection that has spent longest (over kEvictableHeadAge) on
  // its head, else the oldest idle keep-alive connection. False when neither exists.
  bool MakeRoom() {
    const TimePoint now = SteadyClock::now();
    Conn* idle = nullptr;
    Conn* slow = nullptr;
    for (auto& [id, c] : conns) {
      if (c->state == State::kIdle && (!idle || c->since < idle->since)) idle = c.get();
      if (c->state == State::kHead && now - c->since >= kEvictableHeadAge &&
          (!slow || c->since < slow->since))
        slow = c.get();
    }
    // A head that has taken over a second is most likely hostile; an idle keep-alive connection
    // belongs to a sender that may be about to reuse it (and would then see it closed).
    Conn* victim = slow ? slow : idle;
    if (!victim) return false;
    Refused(counters.evicted, "evicted");
    Close(victim->id);
    return true;
  }

  // Answers 503 on a connection that is not taken in: one non-blocking write, then a lingering
  // close (bounded) or, when too many linger already, an immediate one.
  void Overflow(int fd, const std::string& message) {
    std::string out = FormatResponse(Refusal(503, message, options.retry_after_seconds), false,
                                     options.keep_alive_seconds, false);
    [[maybe_unused]] auto n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (lingering >= kLingerPerConnection * static_cast<size_t>(options.max_connections)) {
      // Too many linger already: close now, after discarding what the peer has sent so far (a
      // close with unread input sends a reset, which may destroy the 503 before it is read).
      char buf[4096];
      for (int i = 0; i < 16 && ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; ++i) {
      }
      ::shutdown(fd, SHUT_WR);
      ::close(fd);
      return;
    }
    auto c = std::make_unique<Conn>();
    c->id = next_id++;
    c->fd = fd;
    StartLinger(*c, SteadyClock::now(), kOverflowLingerTime);
    Watch(*c, EPOLLIN, EPOLL_CTL_ADD);
    conns.emplace(c->id, std::move(c));
  }

  void Watch(Conn& c, uint32_t events, int op = EPOLL_CTL_MOD) {
    if (op == EPOLL_CTL_MOD && c.interest == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = c.id;
    ::epoll_ctl(epoll_fd, op, c.fd, &ev);
    c.interest = events;
  }

  void StartHead(Conn& c, TimePoint now) {
    c.state = State::kHead;
    c.since = now;
    c.deadline = now + std::chrono::seconds(options.head_timeout_seconds);
    c.scanned = 0;
    c.head.reset();
  }

  void StartLinger(Conn& c, TimePoint now, std::chrono::seconds time = kLingerTime) {
    ::shutdown(c.fd, SHUT_WR);
    c.state = State::kLinger;
    c.since = now;
    c.deadline = now + time;
    c.in.clear();
    ++lingering;
  }

  void Close(uint64_t id) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    Conn& c = *it->second;
    if (c.state == State::kLinger) --lingering;
    EndAsync(c);
    if (c.counted_peer) {
      auto p = per_peer.find(c.peer);
      if (p != per_peer.end() && --p->second <= 0) per_peer.erase(p);
    }
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    conns.erase(it);
  }

  void OnEvent(uint64_t id, uint32_t events) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    Conn& c = *it->second;
    if (c.state == State::kDispatched) {
      if (events & (EPOLLERR | EPOLLHUP)) {
        // Hung up while a worker has its request: stop watching; closed when the answer is back.
        c.peer_gone = true;
        Watch(c, 0);
        ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
        return;
      }
      // Bytes (a pipelined request, or the peer's FIN) while a worker has the request: they wait
      // in the socket until the answer is written; stop watching until then.
      Watch(c, 0);
      return;
    }
    if (c.state == State::kWriting) {
      if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) Write(c);
      return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) Read(c);
  }

  void Read(Conn& c) {
    const TimePoint now = SteadyClock::now();
    size_t total = 0;
    char buf[kReadChunk];
    while (total < kMaxReadPerEvent) {
      ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
      if (n > 0) {
        total += static_cast<size_t>(n);
        c.last_read = now;
        if (c.state != State::kLinger) c.in.append(buf, static_cast<size_t>(n));
        // A head cannot be longer than the cap: stop reading once past it.
        if (c.state == State::kHead && c.in.size() > limits.max_head_bytes + kReadChunk) break;
        // A short read emptied the socket: no second recv just to hear EAGAIN (the listener is
        // level-triggered, so anything arriving later is reported again).
        if (static_cast<size_t>(n) < sizeof(buf)) break;
        continue;
      }
      if (n == 0) return Close(c.id);  // peer closed (a half-close ends the exchange too)
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return Close(c.id);
    }
    if (c.state == State::kLinger) return;
    if (c.state == State::kIdle) StartHead(c, now);
    Process(c, now);
  }

  void Process(Conn& c, TimePoint now) {
    if (c.state == State::kHead) {
      auto end = FindHeadEnd(c.in, &c.scanned);
      if (!end) {
        if (c.in.size() > limits.max_head_bytes)
          return Respond(c, Refusal(431,
                                    "request header fields too large: the request head is "
                                    "longer than " +
                                        std::to_string(limits.max_head_bytes) + " bytes"));
        return;
      }
      auto parsed = ParseHead(std::string_view(c.in).substr(0, *end), limits);
      if (!parsed.head) return Respond(c, Refusal(parsed.error.status, parsed.error.message));
      c.head = std::move(parsed.head);
      c.head_end = *end;
      ServerRequest& req = c.head->request;
      req.remote_addr = c.peer;
      if (c.head->content_length > options.max_body_bytes)
        return Respond(c, Refusal(413, "body larger than " +
                                           std::to_string(options.max_body_bytes) + " bytes"));
      if (precheck) {
        if (auto refusal = Guarded(req, [&] { return precheck(req); })) {
          // The body is unread: the connection closes after the answer.
          refusal->close_connection = true;
          return Respond(c, std::move(*refusal));
        }
      }
      c.state = State::kBody;
      c.since = now;
      c.deadline = now + std::chrono::seconds(options.body_timeout_seconds);
      if (c.head->expect_continue && c.in.size() - c.head_end < c.head->content_length) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        ssize_t n = ::send(c.fd, kContinue.data(), kContinue.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n != static_cast<ssize_t>(kContinue.size())) return Close(c.id);
      }
    }
    if (c.state == State::kBody) {
      const size_t need = c.head->content_length;
      if (c.in.size() - c.head_end < need) return;
      ServerRequest req = std::move(c.head->request);
      req.body.assign(c.in, c.head_end, need);
      c.in.erase(0, c.head_end + need);  // what is left is the next (pipelined) request
      Dispatch(c, std::move(req));
    }
  }

  bool InlinePath(const std::string& path) const {
    const std::string& prefix = options.inline_path_prefix;
    return !prefix.empty() && path.compare(0, prefix.size(), prefix) == 0;
  }

  bool IsPriority(const std::string& path) const {
    return std::find(options.priority_paths.begin(), options.priority_paths.end(), path) !=
           options.priority_paths.end();
  }

  void Dispatch(Conn& c, ServerRequest req) {
    const bool priority = priority_workers && IsPriority(req.path);
    c.state = State::kDispatched;
    c.since = SteadyClock::now();
    // The connection stays watched for input while dispatched (OnEvent stops watching if bytes
    // come): re-arming it for every request would cost two epoll_ctl calls per request.
    const uint64_t id = c.id, seq = ++c.seq;
    std::function<void()> job;
    if (async_handler) {
      const size_t cap = static_cast<size_t>(options.worker_threads) +
                         static_cast<size_t>(options.max_queued_connections);
      if (async_pending >= cap) return Busy(c);
      ++async_pending;
      c.async_pending = true;
      if (!priority && req.body.size() <= kInlineBodyBytes && InlinePath(req.path))
        return CallAsync(id, seq, std::move(req));
      job = [this, id, seq, req = std::move(req)]() mutable { CallAsync(id, seq, std::move(req)); };
    } else {
      job = [this, id, seq, req = std::move(req)]() mutable {
        ServerResponse r = Guarded(req, [&] { return handler(req); });
        Complete(id, seq, std::move(r));
      };
    }
    WorkerPool& pool = priority ? *priority_workers : *workers;
    if (!pool.TryPush(std::move(job))) {
      EndAsync(c);
      Busy(c);
    }
  }

  void Busy(Conn& c) {
    Refused(counters.queue_full, "workers_busy");
    Respond(c, Refusal(503, "server busy: every worker is taken; retry later",
                       options.retry_after_seconds));
  }

  void EndAsync(Conn& c) {
    if (!c.async_pending) return;
    c.async_pending = false;
    --async_pending;
  }

  // Runs the asynchronous handler; its answer comes back through Complete, from whichever thread
  // calls `respond`. An exception escaping the handler (a defect) is answered 500; should the
  // handler answer too, the second answer is dropped (Finish matches answers by seq).
  void CallAsync(uint64_t id, uint64_t seq, ServerRequest req) {
    std::string method = req.method, path = req.path;
    try {
      async_handler(std::move(req),
                    [this, id, seq](ServerResponse r) { Complete(id, seq, std::move(r)); });
    } catch (const std::exception& e) {
      Complete(id, seq, InternalError(method, path, e.what()));
    } catch (...) {
      Complete(id, seq, InternalError(method, path, "unknown exception"));
    }
  }

  // Any thread: hands an answer to the loop.
  void Complete(uint64_t id, uint64_t seq, ServerResponse r) {
    if (std::this_thread::get_id() == loop_thread_id) {
      ready.push_back(Completion{id, seq, std::move(r)});
      return;
    }
    bool first = false;
    {
      std::lock_guard<std::mutex> lock(done_mu);
      first = done.empty();
      done.push_back(Completion{id, seq, std::move(r)});
      if (first) done_pending.store(true);
    }
    // The loop takes every completion at once: one wake-up per batch is enough (a group commit
    // answers its whole batch with one), and none while the loop is awake.
    if (first && loop_waiting.load()) Wake();
  }

  void Completions() {
    std::vector<Completion> batch;
    {
      std::lock_guard<std::mutex> lock(done_mu);
      batch.swap(done);
      done_pending.store(false);
    }
    Finish(batch);
    // Answering may start the next pipelined request, which may be answered at once again.
    while (!ready.empty()) {
      batch.clear();
      batch.swap(ready);
      Finish(batch);
    }
  }

  void Finish(std::vector<Completion>& batch) {
    for (auto& d : batch) {
      auto it = conns.find(d.id);
      if (it == conns.end()) continue;
      Conn& c = *it->second;
      if (c.state != State::kDispatched || c.seq != d.seq) continue;  // a second answer
      EndAsync(c);
      if (c.peer_gone) {
        Close(d.id);
        continue;
      }
      Respond(c, std::move(d.response));
    }
  }

  void Respond(Conn& c, ServerResponse response) {
    const bool head_method = c.head && c.head->head_method;
    const bool keep = c.head && c.head->keep_alive && !response.close_connection && !draining &&
                      !stopping && c.state != State::kHead;
    c.out = FormatResponse(response, keep, options.keep_alive_seconds, head_method);
    c.out_off = 0;
    c.close_after_write = !keep;
    c.state = State::kWriting;
    c.since = SteadyClock::now();
    c.deadline = c.since + std::chrono::seconds(options.write_timeout_seconds);
    Write(c);
  }

  void Write(Conn& c) {
    while (c.out_off < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        c.out_off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Watch(c, EPOLLOUT);
      return Close(c.id);
    }
    c.out.clear();
    c.out.shrink_to_fit();
    const TimePoint now = SteadyClock::now();
    if (c.close_after_write) {
      StartLinger(c, now);
      return Watch(c, EPOLLIN);
    }
    c.head.reset();
    Watch(c, EPOLLIN);
    if (!c.in.empty()) {
      StartHead(c, now);
      return Process(c, now);
    }
    c.state = State::kIdle;
    c.since = now;
    c.deadline = now + std::chrono::seconds(options.keep_alive_seconds);
  }

  void Sweep() {
    const TimePoint now = SteadyClock::now();
    next_sweep = now + kSweepInterval;
    if (listening_paused && listen_fd >= 0 && !stopping) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = kListenId;
      ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);
      listening_paused = false;
    }
    std::vector<uint64_t> close_ids, late_heads, late_bodies, silent;
    size_t in_progress = 0;
    const auto silence = std::chrono::seconds(options.read_timeout_seconds);
    for (auto& [id, c] : conns) {
      const bool expired = now >= c->deadline;
      switch (c->state) {
        case State::kIdle:
          if (expired || draining) close_ids.push_back(id);
          break;
        case State::kHead:
          if (!c->in.empty()) ++in_progress;
          if (expired) {
            (c->in.empty() ? close_ids : late_heads).push_back(id);
          } else if (!c->in.empty() && now - c->last_read >= silence) {
            silent.push_back(id);
          }
          break;
        case State::kBody:
          ++in_progress;
          if (expired) {
            late_bodies.push_back(id);
          } else if (now - c->last_read >= silence) {
            silent.push_back(id);
          }
          break;
        case State::kDispatched:
          ++in_progress;
          break;
        case State::kWriting:
          ++in_progress;
          if (expired) close_ids.push_back(id);
          break;
        case State::kLinger:
          if (expired) close_ids.push_back(id);
          break;
      }
    }
    for (auto id : close_ids) Close(id);
    auto time_out = [&](const std::vector<uint64_t>& ids, uint64_t& counter, const char* reason,
                        const std::string& what) {
      for (auto id : ids) {
        Refused(counter, reason);
        Respond(*conns.at(id), Refusal(408, "request timeout: " + what));
      }
    };
    time_out(late_heads, counters.head_timeouts, "head_timeout",
             "the request head was not received within " +
                 std::to_string(options.head_timeout_seconds) + " seconds");
    time_out(late_bodies, counters.body_timeouts, "body_timeout",
             "the request body was not received within " +
                 std::to_string(options.body_timeout_seconds) + " seconds");
    time_out(silent, counters.silent, "silent",
             "no bytes of the request were received for " +
                 std::to_string(options.read_timeout_seconds) + " seconds");
    active = in_progress;
    ++sweeps;
    if (now >= next_report) Report(now);
  }

  // One warning per 10 s while connections are refused or cut off, so an attack is visible in
  // the log without a line per connection.
  void Report(TimePoint now) {
    next_report = now + std::chrono::seconds(10);
    auto& k = counters;
    if (k.over_cap + k.over_peer_cap + k.queue_full + k.head_timeouts + k.body_timeouts +
            k.evicted + k.silent ==
        0)
      return;
    spdlog::warn(
        "http {}: in the last 10 s: {} connections refused 503 at the connection cap ({}), {} at "
        "the per-peer cap ({}), {} requests refused 503 with every worker busy, {} idle or slow "
        "connections closed to make room, {} heads and {} bodies cut off at their deadline and {} "
        "requests after read_timeout_seconds of silence (408); {} connections open",
        bound, k.over_cap, options.max_connections, k.over_peer_cap,
        options.max_connections_per_peer, k.queue_full, k.evicted, k.head_timeouts, k.body_timeouts,
        k.silent, conns.size());
    k = Counters{};
  }
};

EventLoopServer::EventLoopServer(HttpServerOptions options, HttpServer::Handler handler,
                                 HttpServer::Precheck precheck)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
  impl_->precheck = std::move(precheck);
}

EventLoopServer::EventLoopServer(HttpServerOptions options, HttpServer::AsyncHandler handler,
                                 HttpServer::Precheck precheck)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->async_handler = std::move(handler);
  impl_->precheck = std::move(precheck);
}

EventLoopServer::~EventLoopServer() { Stop(); }

void EventLoopServer::SetPassHooks(HttpServer::PassHooks hooks) {
  impl_->pass_hooks = std::move(hooks);
}

Status EventLoopServer::Bind() { return impl_->Bind(); }
std::string EventLoopServer::BoundAddress() const { return impl_->bound; }
int EventLoopServer::port() const { return impl_->port; }

uint64_t EventLoopServer::wakeups() const { return impl_->wakeups.load(); }
bool EventLoopServer::waiting() const { return impl_->loop_waiting.load(); }

void EventLoopServer::Start() {
  impl_->thread = std::thread([impl = impl_.get()] { impl->Run(); });
}

void EventLoopServer::Drain(std::chrono::milliseconds grace) {
  impl_->draining = true;
  impl_->Wake();
  const auto deadline = SteadyClock::now() + grace;
  // Wait for a sweep that started after draining was set, then for no request in progress.
  const uint64_t first = impl_->sweeps.load() + 2;
  while (impl_->thread.joinable() && SteadyClock::now() < deadline &&
         (impl_->sweeps.load() < first || impl_->active.load() > 0)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Stop();
}

void EventLoopServer::Stop() {
  if (impl_->thread.joinable()) {
    impl_->stopping = true;
    impl_->Wake();
    impl_->thread.join();
  }
  if (!impl_->unix_path.empty()) ::unlink(impl_->unix_path.c_str());
  impl_->unix_path.clear();
}

}  // namespace tenantsync::http
