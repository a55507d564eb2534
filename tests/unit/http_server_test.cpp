// The event-loop HTTP server: the request-head parser and answer writer (daemon/http/http1.*),
// and the loop itself in-process on 127.0.0.1 port 0 (keep-alive, pipelining, 100-continue,
// refusals before the body, asynchronous handlers answered from another thread). No sleeps:
// every wait is a bounded poll.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "daemon/http/event_loop.h"
#include "daemon/http/http1.h"

namespace tenantsync::http {
namespace {

ParseResult Parse(const std::string& head, HeadLimits limits = {}) {
  return ParseHead(head, limits);
}

TEST(Http1, FindsTheEndOfAHeadArrivingByteByByte) {
  const std::string head = "GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY";
  std::string buf;
  size_t scanned = 0;
  std::optional<size_t> end;
  for (char c : head) {
    buf.push_back(c);
    end = FindHeadEnd(buf, &scanned);
    if (end) break;
  }
  ASSERT_TRUE(end);
  EXPECT_EQ(*end, head.find("BODY"));
  size_t s2 = 0;
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\nHost: a\n\nX", &s2), 24u);  // bare LF accepted
}

TEST(Http1, FindsTheEndOfRandomHeadsWhateverPiecesTheyArriveIn) {
  // Heads of random lines ending in LF or CRLF, with bodies that hold more line ends, fed in
  // random pieces: the end found is always just past the first empty line.
  std::mt19937 rng(13);
  for (int round = 0; round < 2000; ++round) {
    std::string head = "POST /x HTTP/1.1\r\n";
    const int lines = static_cast<int>(rng() % 6);
    for (int l = 0; l < lines; ++l) {
      head += "X-" + std::to_string(l) + ": " + std::string(rng() % 30, 'v');
      head += rng() % 2 ? "\r\n" : "\n";
    }
    head += rng() % 2 ? "\r\n" : "\n";
    const std::string all = head + "body\n\nmore\r\n\r\n";
    std::string buf;
    size_t scanned = 0;
    std::optional<size_t> end;
    for (size_t at = 0; at < all.size() && !end;) {
      const size_t n = std::min<size_t>(all.size() - at, 1 + rng() % 9);
      buf.append(all, at, n);
      at += n;
      end = FindHeadEnd(buf, &scanned);
    }
    ASSERT_TRUE(end) << head;
    ASSERT_EQ(*end, head.size()) << testing::PrintToString(head);
  }
}

TEST(Http1, AFieldNameIsAcceptedExactlyWhenEveryByteIsATokenCharacter) {
  // RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_"
  // / "`" / "|" / "~" / DIGIT / ALPHA; every other byte, 0x80 and above included, is refused.
  const std::string specials = "!#$%&'*+-.^_`|~";
  for (int c = 0; c < 256; ++c) {
    if (c == ':' || c == '\n' || c == '\r') continue;  // they end the name or the line
    const bool tchar = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       specials.find(static_cast<char>(c)) != std::string::npos;
    const std::string name = std::string("X") + static_cast<char>(c);
    auto r = Parse("GET / HTTP/1.1\r\n" + name + ": v\r\n\r\n");
    EXPECT_EQ(r.head.has_value(), tchar) << "byte " << c;
    auto m = Parse(std::string(1, static_cast<char>(c)) + "ET / HTTP/1.1\r\n\r\n");
    if (c != ' ' && c != '\t') {
      EXPECT_EQ(m.head.has_value(), tchar) << "method byte " << c;
    }
  }
}

TEST(Http1, ParsesRequestLineHeadersAndQuery) {
  auto r = Parse(
      "POST /webhooks/hr%2Dx?a=1&b=x+y&c=%ff HTTP/1.1\r\nHOST: h\r\n"
      "content-length:  12 \r\nX-Empty:\r\n\r\n");
  ASSERT_TRUE(r.head) << r.error.message;
  EXPECT_EQ(r.head->request.method, "POST");
  EXPECT_EQ(r.head->request.path, "/webhooks/hr-x");
  EXPECT_EQ(r.head->request.Param("b"), "x y");
  EXPECT_EQ(r.head->request.Param("c"), "\xff");
  // The query as sent, undecoded (HubSpot's v3 signature covers it); a fragment is not part of it.
  EXPECT_EQ(r.head->request.query, "a=1&b=x+y&c=%ff");
  EXPECT_EQ(Parse("GET /p?x=%3A#frag HTTP/1.1\r\n\r\n").head->request.query, "x=%3A");
  EXPECT_EQ(Parse("GET /p HTTP/1.1\r\n\r\n").head->request.query, "");
  EXPECT_EQ(r.head->request.Header("Content-Length"), "12");
  EXPECT_EQ(r.head->request.Header("x-empty"), "");
  // Other control characters are the handler's to judge (an event id names them).
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nwebhook-id: a\x01\r\n\r\n").head->request.Header("Webhook-Id"),
            "a\x01");
  EXPECT_EQ(r.head->content_length, 12u);
  EXPECT_TRUE(r.head->keep_alive);
}

// Header names and tokens match whatever their ASCII case; bytes outside A-Z are compared as
// they are (no locale folds a Latin-1 byte into a match), and lengths must agree.
TEST(Http1, HeaderNamesMatchWithoutRegardToAsciiCaseOnly) {
  EXPECT_TRUE(IEquals("Content-Length", "content-length"));
  EXPECT_TRUE(IEquals("WEBHOOK-ID", "webhook-id"));
  EXPECT_TRUE(IEquals("", ""));
  EXPECT_FALSE(IEquals("Content-Length", "Content-Lengths"));
  EXPECT_FALSE(IEquals("x-a", "x-b"));
  EXPECT_FALSE(IEquals("\xC9", "\xE9")) << "Latin-1 E-acute folded";
  EXPECT_FALSE(IEquals("[", "{")) << "only A-Z fold (0x5B is not 0x7B)";
  EXPECT_FALSE(IEquals("@", "`"));
}

TEST(Http1, ConnectionAndVersionDecideKeepAlive) {
  EXPECT_FALSE(Parse("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").head->keep_alive);
  EXPECT_FALSE(Parse("GET / HTTP/1.0\r\n\r\n").head->keep_alive);
  EXPECT_TRUE(Parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").head->keep_alive);
  EXPECT_TRUE(Parse("POST / HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n").head->expect_continue);
  EXPECT_FALSE(Parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").head->expect_continue);
}

TEST(Http1, RefusesMalformedHeadsWithSpecificAnswers) {
  struct Case {
    std::string head;
    int status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"GET /\r\n\r\n", 400, "METHOD TARGET HTTP-VERSION"},
      {"GET / HTTP/2.0\r\n\r\n", 505, "only HTTP/1.0 and HTTP/1.1"},
      {"GET / FTP/1.1\r\n\r\n", 400, "HTTP/1.1 or HTTP/1.0"},
      {"GET http://x/ HTTP/1.1\r\n\r\n", 400, "starting with"},
      {"G(T / HTTP/1.1\r\n\r\n", 400, "not a token"},
      {"GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400, "no field name"},
      {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400, "is not a token"},
      {"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400, "folding"},
      {"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", 400, "holds a CR character"},
      {std::string("GET / HTTP/1.1\r\nA: b\0c\r\n\r\n", 26), 400, "holds a NUL character"},
      {"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400, "decimal number"},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "twice"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 411, "chunked bodies"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "not supported"},
      {"POST / HTTP/1.1\r\nExpect: magic\r\n\r\n", 417, "100-continue"},
      {"GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n", 414, "URI too long"},
  };
  for (auto& c : cases) {
    auto r = Parse(c.head);
    EXPECT_FALSE(r.head) << c.head;
    EXPECT_EQ(r.error.status, c.status) << c.head;
    EXPECT_NE(r.error.message.find(c.says), std::string::npos) << r.error.message;
  }
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(Parse(many + "\r\n").error.status, 431);
}

TEST(Http1, FormatsAnswersWithFramingAndConnection) {
  ServerResponse r;
  r.status = 503;
  r.body = "{}";
  r.headers = {{"Retry-After", "5"}, {"Content-Length", "99"}};
  EXPECT_EQ(FormatResponse(r, false, 5, false),
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: "
            "application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
  std::string head_only = FormatResponse(r, true, 7, true);
  EXPECT_NE(head_only.find("Keep-Alive: timeout=7\r\n\r\n"), std::string::npos);
  EXPECT_EQ(head_only.substr(head_only.size() - 4), "\r\n\r\n");
}

// A blocking loopback client for the in-process server.
int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  return fd;
}

// Reads until `count` final answers have been seen, or with count 0 one interim answer (or
// EOF, or 3 s).
std::string ReadAnswers(int fd, int count) {
  std::string got;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < until) {
    if (count == 0 && got.find("\r\n\r\n") != std::string::npos) break;  // an interim answer
    int seen = 0;
    for (size_t p = got.find("HTTP/1.1 "); p != std::string::npos; p = got.find("HTTP/1.1 ", p + 1))
      if (got.compare(p, 12, "HTTP/1.1 100") != 0) ++seen;
    if (seen >= count && got.size() > got.rfind("\r\n\r\n")) {
      // The last answer's body has arrived when its length is satisfied.
      size_t head_end = got.rfind("\r\n\r\n");
      size_t cl = got.rfind("Content-Length: ");
      if (cl != std::string::npos && cl < head_end &&
          got.size() - head_end - 4 >= std::stoul(got.substr(cl + 16)))
        break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

class EventLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions o;
    o.listen = "127.0.0.1:0";
    o.worker_threads = 2;
    o.max_body_bytes = 1000;
    server_ = std::make_unique<EventLoopServer>(
        o,
        [](const ServerRequest& req) {
          ServerResponse r;
          r.status = 202;
          r.body = req.method + " " + req.path + " " + req.body;
          return r;
        },
        [](const ServerRequest& req) -> std::optional<ServerResponse> {
          if (req.path == "/refuse") return Refusal(415, "refused in the precheck");
          return std::nullopt;
        });
    ASSERT_TRUE(server_->Bind().ok());
    server_->Start();
    fd_ = Connect(server_->port());
  }
  void TearDown() override {
    ::close(fd_);
    server_->Stop();
  }
  void Send(const std::string& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  std::unique_ptr<EventLoopServer> server_;
  int fd_ = -1;
};

TEST_F(EventLoopTest, ServesKeepAliveAndPipelinedRequests) {
  Send("POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n");
  std::string got = ReadAnswers(fd_, 2);
  EXPECT_NE(got.find("HTTP/1.1 202 Accepted"), std::string::npos) << got;
  EXPECT_NE(got.find("POST /a abc"), std::string::npos) << got;
  EXPECT_NE(got.find("GET /b "), std::string::npos) << got;
  EXPECT_NE(got.find("Connection: keep-alive"), std::string::npos) << got;
}

TEST_F(EventLoopTest, AnswersContinueBeforeTheBody) {
  Send("POST /c HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
  std::string got = ReadAnswers(fd_, 0);
  EXPECT_EQ(got.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << got;
  Send("hi");
  EXPECT_NE(ReadAnswers(fd_, 1).find("POST /c hi"), std::string::npos);
}

TEST_F(EventLoopTest, RefusesBeforeTheBodyAndCloses) {
  Send("POST /x HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
  std::string got = ReadAnswers(fd_, 1);
  EXPECT_EQ(got.rfind("HTTP/1.1 413 Payload Too Large", 0), 0u) << got;
  EXPECT_NE(got.find(R"("error":"body larger than 1000 bytes")"), std::string::npos) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;

  int fd = Connect(server_->port());
  std::string raw = "POST /refuse HTTP/1.1\r\nContent-Length: 3\r\n\r\n";
  ::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL);
  got = ReadAnswers(fd, 1);
  EXPECT_EQ(got.rfind("HTTP/1.1 415", 0), 0u) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  ::close(fd);

  fd = Connect(server_->port());
  raw = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  ::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL);
  got = ReadAnswers(fd, 1);
  EXPECT_EQ(got.rfind("HTTP/1.1 411 Length Required", 0), 0u) << got;
  ::close(fd);
}

TEST_F(EventLoopTest, HttpOneZeroIsAnsweredAndClosed) {
  Send("GET /old HTTP/1.0\r\n\r\n");
  std::string got = ReadAnswers(fd_, 1);
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  EXPECT_NE(got.find("GET /old "), std::string::npos) << got;
}

// Counts final answers (not 100 Continue) in what a client received.
int CountAnswers(const std::string& got) {
  int seen = 0;
  for (size_t p = got.find("HTTP/1.1 "); p != std::string::npos; p = got.find("HTTP/1.1 ", p + 1))
    if (got.compare(p, 12, "HTTP/1.1 100") != 0) ++seen;
  return seen;
}

std::string ThreadName() {
  char name[32] = {0};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  return name;
}

// An asynchronous handler (as ingress; inline_path_prefix "/in/"): "/in/now" (or any other path)
// answers at once, "/in/later" is answered by another thread (like the group committer) when the
// test releases it, "/in/throw" throws, "/in/twice" answers and then throws. Each answer's body
// names the path, the thread the handler ran on and the body.
class AsyncEventLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions o;
    o.listen = "127.0.0.1:0";
    o.worker_threads = 2;
    o.max_queued_connections = 1;  // at most 3 requests unanswered
    o.inline_path_prefix = "/in/";
    o.max_body_bytes = 100000;
    committer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "ts-later");
      std::unique_lock<std::mutex> lock(mu_);
      while (true) {
        cv_.wait(lock, [&] { return stop_ || (release_ && !later_.empty()); });
        if (stop_ && later_.empty()) return;
        while (!later_.empty()) {
          auto respond = std::move(later_.front());
          later_.pop_front();
          respond(Answer("later", ThreadName()));
        }
        release_ = false;
        cv_.notify_all();  // answered_in_pass_end_ waits for this
      }
    });
    server_ = std::make_unique<EventLoopServer>(
        o,
        [this](ServerRequest req, HttpServer::Responder respond) {
          // A call the loop makes itself runs inside exactly one pass (PassHooks).
          const bool in_pass = passes_begun_.load() - passes_ended_.load() == 1;
          const std::string info =
              ThreadName() + " " + std::to_string(req.body.size()) + (in_pass ? " in-pass" : "");
          if (req.path == "/in/later") {
            {
              std::lock_guard<std::mutex> lock(mu_);
              later_.push_back(std::move(respond));
            }
            cv_.notify_all();
            return;
          }
          if (req.path == "/in/throw") throw std::runtime_error("handler failed");
          respond(Answer(req.path, info));
          if (req.path == "/in/twice") throw std::runtime_error("after answering");
        },
        nullptr);
    server_->SetPassHooks({[this] { ++passes_begun_; },
                           [this] {
                             if (answer_in_pass_end_) AnswerLaterNow();
                             ++passes_ended_;
                           }});
    ASSERT_TRUE(server_->Bind().ok());
    server_->Start();
    fd_ = Connect(server_->port());
  }
  void TearDown() override {
    Release();
    ::close(fd_);
    server_->Stop();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    committer_.join();
  }
  static ServerResponse Answer(const std::string& what, const std::string& info) {
    ServerResponse r;
    r.status = 202;
    r.body = what + " " + info;
    return r;
  }

  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      release_ = true;
    }
    cv_.notify_all();
  }
  // Has the other thread answer what is queued and waits until it has (bounded).
  void AnswerLaterNow() {
    std::unique_lock<std::mutex> lock(mu_);
    if (later_.empty()) return;
    release_ = true;
    cv_.notify_all();
    cv_.wait_for(lock, std::chrono::seconds(3), [&] { return later_.empty() && !release_; });
  }
  void Send(const std::string& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<HttpServer::Responder> later_;  // guarded by mu_
  bool release_ = false, stop_ = false;      // guarded by mu_
  std::thread committer_;
  std::unique_ptr<EventLoopServer> server_;
  int fd_ = -1;
  std::atomic<int> passes_begun_{0}, passes_ended_{0};
  // Set before sending: the pass that queued a "/in/later" has it answered before it ends.
  std::atomic<bool> answer_in_pass_end_{false};
};

TEST_F(AsyncEventLoopTest, AnswersWhenAnotherThreadRespondsAndNotBefore) {
  Send("POST /in/later HTTP/1.1\r\nContent-Length: 1\r\n\r\nxGET /in/now HTTP/1.1\r\n\r\n");
  // Nothing is written while the answer is outstanding (the pipelined request waits its turn).
  pollfd p{fd_, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 300), 0) << "answered before the handler responded";
  Release();
  std::string got = ReadAnswers(fd_, 2);
  ASSERT_EQ(CountAnswers(got), 2) << got;
  const size_t later = got.find("later ts-later"), now = got.find("/in/now ts-http-loop");
  EXPECT_NE(later, std::string::npos) << got;
  EXPECT_NE(now, std::string::npos) << got;
  EXPECT_LT(later, now) << "answers out of order: " << got;
}

TEST_F(AsyncEventLoopTest, AnAnswerGivenWhileTheLoopIsAwakeTakesNoWakeUp) {
  // Another thread answers while the loop is still in the pass that read the request (as the
  // group committer does when its commit ends before the loop's pass): the loop takes the answer
  // after the pass without an eventfd write.
  answer_in_pass_end_ = true;
  Send("POST /in/later HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
  std::string got = ReadAnswers(fd_, 1);
  EXPECT_NE(got.find("later ts-later"), std::string::npos) << got;
  EXPECT_EQ(server_->wakeups(), 0u);
}

TEST_F(AsyncEventLoopTest, AnAnswerGivenWhileTheLoopWaitsWakesIt) {
  // Answers given while the loop waits in epoll each write one wake-up. (The loop also wakes
  // every 100 ms to sweep; an answer given just then needs none, hence "at least half".)
  constexpr int kRounds = 20;
  for (int i = 0; i < kRounds; ++i) {
    Send("POST /in/later HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
    {
      std::unique_lock<std::mutex> lock(mu_);
      ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(3), [&] { return !later_.empty(); }));
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (!server_->waiting() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    Release();
    std::string got = ReadAnswers(fd_, 1);
    ASSERT_NE(got.find("later ts-later"), std::string::npos) << got;
  }
  EXPECT_GE(server_->wakeups(), static_cast<uint64_t>(kRounds / 2));
  EXPECT_LE(server_->wakeups(), static_cast<uint64_t>(kRounds));
}

TEST_F(AsyncEventLoopTest, SmallBodiesUnderThePrefixRunOnTheLoopTheRestOnAWorker) {
  Send("POST /in/where HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789");
  std::string got = ReadAnswers(fd_, 1);
  EXPECT_NE(got.find("/in/where ts-http-loop 10"), std::string::npos) << got;

  const std::string big(20000, 'b');
  ::close(fd_);
  fd_ = Connect(server_->port());
  Send("POST /in/where HTTP/1.1\r\nContent-Length: 20000\r\n\r\n" + big);
  got = ReadAnswers(fd_, 1);
  EXPECT_NE(got.find("/in/where ts-http-work 20000"), std::string::npos) << got;

  // Outside inline_path_prefix (SCIM on the ingress listener): on a worker, whatever the size.
  Send("POST /scim/where HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789");
  got = ReadAnswers(fd_, 1);
  EXPECT_NE(got.find("/scim/where ts-http-work 10"), std::string::npos) << got;
}

TEST_F(AsyncEventLoopTest, HandlerCallsOnTheLoopRunInsideAPassThatEnds) {
  // Three connections whose requests are ready together: each is handled inside a pass (the
  // ingress holds the group committer for it), and every pass has ended once all are answered.
  std::vector<int> fds = {fd_, Connect(server_->port()), Connect(server_->port())};
  for (int fd : fds) {
    const std::string req = "POST /in/pass HTTP/1.1\r\nContent-Length: 1\r\n\r\nx";
    ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  }
  for (int fd : fds) {
    std::string got = ReadAnswers(fd, 1);
    EXPECT_NE(got.find("/in/pass ts-http-loop 1 in-pass"), std::string::npos) << got;
  }
  EXPECT_GE(passes_ended_.load(), 1);
  // (A worker's call runs beside the loop, which may be in a pass of its own at that moment:
  // nothing to check there.)
  for (int fd : {fds[1], fds[2]}) ::close(fd);
}

TEST_F(AsyncEventLoopTest, ManyPipelinedRequestsAnsweredAtOnceAreAllWritten) {
  std::string many;
  for (int i = 0; i < 60; ++i) many += "GET /in/now HTTP/1.1\r\n\r\n";
  Send(many);
  // Each answer starts the next request, answered on the loop again: all within the 3 s read,
  // not one per 100 ms sweep.
  EXPECT_EQ(CountAnswers(ReadAnswers(fd_, 60)), 60);
}

TEST_F(AsyncEventLoopTest, AHandlerThatThrowsIsAnswered500AndAnswersOnlyOnce) {
  Send("GET /in/throw HTTP/1.1\r\n\r\n");
  std::string got = ReadAnswers(fd_, 1);
  EXPECT_EQ(got.rfind("HTTP/1.1 500 Internal Server Error", 0), 0u) << got;
  EXPECT_NE(got.find("internal error"), std::string::npos) << got;

  ::close(fd_);
  fd_ = Connect(server_->port());
  Send("GET /in/twice HTTP/1.1\r\n\r\nGET /in/now HTTP/1.1\r\n\r\n");
  got = ReadAnswers(fd_, 2);
  // The answer given before the exception stands; the 500 for the same request is dropped.
  EXPECT_EQ(CountAnswers(got), 2) << got;
  EXPECT_EQ(got.find(" 500 "), std::string::npos) << got;
  EXPECT_NE(got.find("/in/twice ts-http-loop"), std::string::npos) << got;
  EXPECT_NE(got.find("/in/now ts-http-loop"), std::string::npos) << got;
}

TEST_F(AsyncEventLoopTest, UnansweredRequestsAreBoundedLikeTheWorkerPool) {
  // worker_threads 2 + max_queued_connections 1: three requests may wait for their answer (as
  // events wait for a slow disk); the fourth is refused at once instead of waiting too.
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(Connect(server_->port()));
    const std::string raw = "POST /in/later HTTP/1.1\r\nContent-Length: 1\r\n\r\nx";
    ASSERT_EQ(::send(held.back(), raw.data(), raw.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(raw.size()));
  }
  // The three are with the handler once it has queued them for the other thread.
  {
    std::unique_lock<std::mutex> lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(3), [&] { return later_.size() == 3; }));
  }
  Send("GET /in/now HTTP/1.1\r\n\r\n");
  std::string got = ReadAnswers(fd_, 1);
  EXPECT_EQ(got.rfind("HTTP/1.1 503 Service Unavailable", 0), 0u) << got;
  EXPECT_NE(got.find("server busy"), std::string::npos) << got;
  EXPECT_NE(got.find("Retry-After: "), std::string::npos) << got;

  Release();
  for (int fd : held) {
    EXPECT_NE(ReadAnswers(fd, 1).find("later ts-later"), std::string::npos);
    ::close(fd);
  }
  // Answered: room again.
  ::close(fd_);
  fd_ = Connect(server_->port());
  Send("GET /in/now HTTP/1.1\r\n\r\n");
  EXPECT_NE(ReadAnswers(fd_, 1).find("/in/now ts-http-loop"), std::string::npos);
}

}  // namespace
}  // namespace tenantsync::http
