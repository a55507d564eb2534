// Auth0Client over a scripted fake transport: tokens, retries, error kinds, pagination, batching.
#include "adapters/auth0/auth0_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <set>
#include <thread>

#include "adapters/auth0/backoff.h"
#include "adapters/auth0/endpoints.h"
#include "common/gzip.h"

namespace tenantsync {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "s3cr3t-client-secret";
// The smallest user answer a typed call accepts.
constexpr char kUser[] = R"({"user_id":"auth0|1"})";

// SleepFor advances time at once (and records it), so retries and rate-limit waits run instantly.
class AutoClock final : public Clock {
 public:
  WallTime Now() const override {
    std::lock_guard<std::mutex> l(mu_);
    return WallTime(std::chrono::duration_cast<std::chrono::system_clock::duration>(base_ + mono_));
  }
  MonoTime Monotonic() const override {
    std::lock_guard<std::mutex> l(mu_);
    return MonoTime(mono_);
  }
  void SleepFor(std::chrono::nanoseconds d) override {
    std::lock_guard<std::mutex> l(mu_);
    if (d > 0ns) mono_ += d;
    sleeps_.push_back(d);
  }
  std::vector<std::chrono::nanoseconds> sleeps() const {
    std::lock_guard<std::mutex> l(mu_);
    return sleeps_;
  }

 private:
  mutable std::mutex mu_;
  std::chrono::nanoseconds base_ = std::chrono::seconds(1795600800);
  std::chrono::nanoseconds mono_{};
  std::vector<std::chrono::nanoseconds> sleeps_;
};

HttpResponse Answer(int status, std::string body = "",
                    std::map<std::string, std::string> headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  if (!r.body.empty() && !r.headers.count("content-type"))
    r.headers["content-type"] = "application/json";
  return r;
}

HttpResponse Failure(TransportError e) {
  HttpResponse r;
  r.transport_error = e;
  r.error_message = "simulated";
  return r;
}

// Answers /oauth/token itself (counting fetches) and hands every other request to `handler`.
class FakeTransport final : public HttpTransport {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  explicit FakeTransport(Handler handler) : handler_(std::move(handler)) {}

  HttpResponse Send(const HttpRequest& req) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      requests_.push_back(req);
    }
    if (req.target == "/oauth/token") {
      if (token_handler_) return token_handler_(req);
      int n = ++token_fetches_;
      return Answer(200, R"({"access_token":"tok-)" + std::to_string(n) +
                             R"(","expires_in":100,"token_type":"Bearer"})");
    }
    return handler_(req);
  }

  HttpResponse Fetch(const std::string& url) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      fetched_.push_back(url);
    }
    return fetch_handler_ ? fetch_handler_(url) : Failure(TransportError::kConnect);
  }
  std::vector<std::string> Fetched() {
    std::lock_guard<std::mutex> l(mu_);
    return fetched_;
  }
  std::function<HttpResponse(const std::string&)> fetch_handler_;

  std::vector<HttpRequest> Requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }
  std::vector<HttpRequest> ApiRequests() {
    std::vector<HttpRequest> out;
    for (auto& r : Requests()) {
      if (r.target != "/oauth/token") out.push_back(r);
    }
    return out;
  }
  int token_fetches() const { return token_fetches_; }
  Handler token_handler_;

 private:
  Handler handler_;
  std::mutex mu_;
  std::vector<HttpRequest> requests_;
  std::vector<std::string> fetched_;
  std::atomic<int> token_fetches_{0};
};

std::string HeaderOf(const HttpRequest& r, const std::string& name) {
  for (auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

struct Harness {
  explicit Harness(FakeTransport::Handler handler, std::function<void(Auth0Options&)> tweak = {},
                   Auth0Observer* observer = nullptr) {
    Auth0Options o;
    o.domain = "tenant.example.com";
    o.base_url = "http://127.0.0.1:1";
    o.client_id = "m2m-client";
    o.client_secret = kSecret;
    o.application_client_id = "app-client";
    o.max_retries = 3;
    if (tweak) tweak(o);
    auto t = std::make_unique<FakeTransport>(std::move(handler));
    transport = t.get();
    client = std::make_unique<Auth0Client>(o, std::move(t), clock, random, observer);
  }
  AutoClock clock;
  SeededRandom random{42};
  FakeTransport* transport;
  std::unique_ptr<Auth0Client> client;
};

std::map<std::string, std::string> RateHeaders(int limit, int remaining, int64_t reset) {
  return {{"x-ratelimit-limit", std::to_string(limit)},
          {"x-ratelimit-remaining", std::to_string(remaining)},
          {"x-ratelimit-reset", std::to_string(reset)}};
}

// ---- Tokens --------------------------------------------------------------------------------

TEST(Auth0ClientTest, FetchesTokenByClientCredentialsAndCachesIt) {
  Harness h([](const HttpRequest&) { return Answer(200, R"({"user_id":"auth0|1"})"); });
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(h.client->GetUser("auth0|1").ok());
  EXPECT_EQ(h.transport->token_fetches(), 1);
  auto reqs = h.transport->Requests();
  ASSERT_EQ(reqs[0].target, "/oauth/token");
  EXPECT_EQ(reqs[0].content_type, "application/x-www-form-urlencoded");
  EXPECT_EQ(reqs[0].body,
            "audience=https%3A%2F%2Ftenant.example.com%2Fapi%2Fv2%2F&client_id=m2m-client&client_"
            "secret=" +
                std::string(kSecret) + "&grant_type=client_credentials");
  EXPECT_EQ(HeaderOf(reqs[1], "Authorization"), "Bearer tok-1");
}

TEST(Auth0ClientTest, RenewsTokenAtEightyPercentOfLifetime) {
  Harness h([](const HttpRequest&) { return Answer(200, kUser); });
  ASSERT_TRUE(h.client->GetUser("u").ok());
  h.clock.SleepFor(79s);  // lifetime 100 s
  ASSERT_TRUE(h.client->GetUser("u").ok());
  EXPECT_EQ(h.transport->token_fetches(), 1);
  h.clock.SleepFor(2s);
  ASSERT_TRUE(h.client->GetUser("u").ok());
  EXPECT_EQ(h.transport->token_fetches(), 2);
  EXPECT_EQ(HeaderOf(h.transport->ApiRequests().back(), "Authorization"), "Bearer tok-2");
}

TEST(Auth0ClientTest, RenewsOnceOn401) {
  Harness h([](const HttpRequest& r) {
    if (HeaderOf(r, "Authorization") == "Bearer tok-1") {
      return Answer(
          401,
          R"({"statusCode":401,"error":"Unauthorized","message":"Expired token received for JSON Web Token validation","attributes":{"error":"Expired token received for JSON Web Token validation"}})");
    }
    return Answer(200, kUser);
  });
  auto r = h.client->GetUser("u");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(h.transport->token_fetches(), 2);
}

TEST(Auth0ClientTest, Second401IsPermanent) {
  Harness h([](const HttpRequest&) {
    return Answer(401, R"({"statusCode":401,"error":"Unauthorized","message":"Invalid token"})");
  });
  auto r = h.client->GetUser("u");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kPermanent);
  EXPECT_EQ(r.status().http_status(), 401);
  EXPECT_EQ(h.transport->ApiRequests().size(), 2u);
}

TEST(Auth0ClientTest, TokenErrorCarriesErrorDescriptionButNeverTheSecret) {
  Harness h([](const HttpRequest&) { return Answer(200, kUser); });
  h.transport->token_handler_ = [](const HttpRequest&) {
    return Answer(401, R"({"error":"access_denied","error_description":"Unauthorized"})");
  };
  auto r = h.client->GetUser("u");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kPermanent);
  EXPECT_EQ(r.status().error_code(), "access_denied");
  EXPECT_THAT(r.status().message(), HasSubstr("Unauthorized"));
  EXPECT_THAT(r.status().ToString(), Not(HasSubstr(kSecret)));
  EXPECT_TRUE(h.transport->ApiRequests().empty());
}

TEST(Auth0ClientTest, TokenServerErrorsAreRetried) {
  std::atomic<int> calls{0};
  Harness h([](const HttpRequest&) { return Answer(200, kUser); });
  h.transport->token_handler_ = [&](const HttpRequest&) {
    if (calls++ < 2) return Answer(503, R"({"error":"temporarily_unavailable"})");
    return Answer(200, R"({"access_token":"t","expires_in":86400})");
  };
  EXPECT_TRUE(h.client->GetUser("u").ok());
  EXPECT_EQ(calls.load(), 3);
}

// ---- Requests, errors and retries ------------------------------------------------------------

TEST(Auth0ClientTest, PercentEncodesUserIdsInPaths) {
  Harness h([](const HttpRequest&) { return Answer(204); });
  ASSERT_TRUE(h.client->RevokeSessions("auth0|abc").ok());
  ASSERT_TRUE(h.client->RevokeRefreshTokens("auth0|abc").ok());
  ASSERT_TRUE(h.client->AddMemberRoles("org_1", "auth0|abc", {"rol_1"}).ok());
  auto reqs = h.transport->ApiRequests();
  EXPECT_EQ(reqs[0].method, "DELETE");
  EXPECT_EQ(reqs[0].target, "/api/v2/users/auth0%7Cabc/sessions");
  EXPECT_EQ(reqs[1].target, "/api/v2/users/auth0%7Cabc/refresh-tokens");
  EXPECT_EQ(reqs[2].target, "/api/v2/organizations/org_1/members/auth0%7Cabc/roles");
  EXPECT_EQ(Json::parse(reqs[2].body), Json::parse(R"({"roles":["rol_1"]})"));
}

TEST(Auth0ClientTest, RetriesServerErrorsAndTimeoutsWithJitteredBackoff) {
  std::atomic<int> n{0};
  Harness h([&](const HttpRequest&) {
    switch (n++) {
      case 0:
        return Answer(503, R"({"statusCode":503,"error":"Service Unavailable","message":"x"})");
      case 1:
        return Failure(TransportError::kTimeout);
      case 2:
        return Failure(TransportError::kClosed);
      default:
        return Answer(200, kUser);
    }
  });
  auto r = h.client->GetUser("u");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto sleeps = h.clock.sleeps();
  ASSERT_GE(sleeps.size(), 3u);
  // Full jitter: each backoff is within [0, min(cap, base * 2^n)].
  for (size_t i = 0; i < 3; ++i) EXPECT_LE(sleeps[i], 200ms * (1 << i)) << i;
}

TEST(Auth0ClientTest, GivesUpAfterMaxRetries) {
  Harness h([](const HttpRequest&) {
    return Answer(502, "bad gateway", {{"content-type", "text/html"}});
  });
  auto r = h.client->GetUser("u");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kRetryable);
  EXPECT_EQ(h.transport->ApiRequests().size(), 4u);  // 1 + max_retries
}

TEST(Auth0ClientTest, BadRequestIsPermanentAndNotRetried) {
  Harness h([](const HttpRequest&) {
    return Answer(
        400,
        R"({"statusCode":400,"error":"Bad Request","message":"Payload validation error: 'Invalid property'","errorCode":"invalid_body"})");
  });
  auto r = h.client->PatchUser("auth0|x", Json{{"bogus", 1}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kPermanent);
  EXPECT_EQ(r.status().http_status(), 400);
  EXPECT_EQ(r.status().error_code(), "invalid_body");
  EXPECT_THAT(r.status().message(), HasSubstr("Payload validation error"));
  EXPECT_EQ(h.transport->ApiRequests().size(), 1u);
}

TEST(Auth0ClientTest, KindsFollowStatusNotMessage) {
  auto now = Clock::WallTime(std::chrono::seconds(1000));
  auto kind = [&](int status, std::string body) {
    return ClassifyAuth0Response(Answer(status, std::move(body)), "GET /x", now).kind();
  };
  EXPECT_EQ(
      kind(
          404,
          R"({"statusCode":404,"message":"The user does not exist.","errorCode":"inexistent_user"})"),
      StatusKind::kNotFound);
  EXPECT_EQ(
      kind(
          409,
          R"({"statusCode":409,"message":"The user already exists.","errorCode":"auth0_idp_error"})"),
      StatusKind::kConflict);
  EXPECT_EQ(
      kind(403,
           R"({"statusCode":403,"message":"Insufficient scope","errorCode":"insufficient_scope"})"),
      StatusKind::kPermanent);
  // A message that mentions "rate limit" or "try again" changes nothing.
  EXPECT_EQ(kind(400, R"({"statusCode":400,"message":"rate limit, please try again later"})"),
            StatusKind::kPermanent);
  EXPECT_EQ(kind(500, "oops"), StatusKind::kRetryable);
  EXPECT_EQ(kind(429, R"({"statusCode":429,"error":"Too Many Requests"})"),
            StatusKind::kRateLimited);
  auto limited = ClassifyAuth0Response(Answer(429, "", {{"retry-after", "7"}}), "GET /x", now);
  EXPECT_EQ(*limited.retry_at(), now + 7s);
  auto reset = ClassifyAuth0Response(
      Answer(429, "", {{"x-ratelimit-reset", "1010"}, {"retry-after", "2"}}), "GET /x", now);
  EXPECT_EQ(*reset.retry_at(), Clock::WallTime(std::chrono::seconds(1010)));
}

TEST(Auth0ClientTest, WaitsUntilRateLimitResetOn429) {
  std::atomic<int> n{0};
  std::vector<Clock::WallTime> sent;
  int64_t reset = 0;
  Harness* hp = nullptr;
  Harness h([&](const HttpRequest&) {
    sent.push_back(hp->clock.Now());
    if (n++ == 0) {
      reset = hp->clock.NowUnixSeconds() + 2;
      auto headers = RateHeaders(50, 0, reset);
      return Answer(
          429,
          R"({"statusCode":429,"error":"Too Many Requests","message":"Global limit has been reached","errorCode":"too_many_requests"})",
          headers);
    }
    return Answer(200, kUser, RateHeaders(50, 40, hp->clock.NowUnixSeconds() + 1));
  });
  hp = &h;
  auto r = h.client->GetUser("u");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_GE(sent[1], Clock::WallTime(std::chrono::seconds(reset)));
  EXPECT_EQ(h.client->RateLimitView().throttled_total, 1);
}

TEST(Auth0ClientTest, RateLimitWaitsAreBounded) {
  Harness h(
      [](const HttpRequest&) {
        return Answer(429, "", {{"retry-after", "1"}});
      },
      [](Auth0Options& o) { o.max_rate_limit_waits = 2; });
  auto r = h.client->GetUser("u");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kRateLimited);
  EXPECT_TRUE(r.status().retry_at().has_value());
  EXPECT_EQ(h.transport->ApiRequests().size(), 3u);
}

TEST(Auth0ClientTest, InvalidJsonOnSuccessIsInvalid) {
  Harness h([](const HttpRequest&) { return Answer(200, "{not json"); });
  auto r = h.client->GetUser("u");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kInvalid);
}

TEST(Auth0ClientTest, SecretsNeverAppearInErrors) {
  Harness h([](const HttpRequest& r) {
    return Answer(400,
                  R"({"statusCode":400,"message":"bad"})" + std::string(r.body.empty() ? "" : ""));
  });
  auto r = h.client->GetUser("u");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().ToString(), Not(HasSubstr(kSecret)));
  EXPECT_THAT(r.status().ToString(), Not(HasSubstr("tok-1")));
}

TEST(Auth0ClientTest, ConcurrentCallersShareOneToken) {
  Harness h([](const HttpRequest&) { return Answer(200, kUser, RateHeaders(1000, 999, 0)); },
            [](Auth0Options& o) { o.rate_limit_fraction = 1.0; });
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 20; ++j) ok += h.client->GetUser("u").ok();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 160);
  EXPECT_EQ(h.transport->token_fetches(), 1);
}

// ---- Pagination ------------------------------------------------------------------------------

std::map<std::string, std::string> QueryOf(const std::string& target) {
  std::map<std::string, std::string> out;
  auto q = target.find('?');
  if (q == std::string::npos) return out;
  std::string rest = target.substr(q + 1);
  size_t pos = 0;
  while (pos <= rest.size()) {
    auto amp = rest.find('&', pos);
    std::string kv = rest.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    auto eq = kv.find('=');
    out[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

// Serves `total` organizations in pages of `take`; with `cursor_on_last`, the last (short) page
// still carries a cursor that leads to an empty page (the second way a walk ends).
FakeTransport::Handler OrgPages(int total, bool cursor_on_last) {
  return [=](const HttpRequest& r) {
    auto q = QueryOf(r.target);
    int from = q.count("from") ? std::stoi(q["from"].substr(1)) : 0;
    int take = std::stoi(q["take"]);
    Json page{{"organizations", Json::array()}};
    for (int i = from; i < std::min(total, from + take); ++i) {
      page["organizations"].push_back(Json{{"id", "org_" + std::to_string(i)}});
    }
    int next = from + take;
    if (next < total || (cursor_on_last && from < total)) page["next"] = "c" + std::to_string(next);
    return Answer(200, page.dump());
  };
}

void ExpectEachOnce(const std::vector<Json>& items, int total) {
  std::set<std::string> ids;
  for (auto& o : items) ids.insert(o["id"].get<std::string>());
  EXPECT_EQ(items.size(), static_cast<size_t>(total));
  EXPECT_EQ(ids.size(), static_cast<size_t>(total));
}

TEST(Auth0ClientTest, CheckpointWalkEndsWithoutNext) {
  Harness h(OrgPages(250, false));
  auto r = h.client->ListOrganizations();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectEachOnce(r.value(), 250);
  auto reqs = h.transport->ApiRequests();
  EXPECT_EQ(reqs.size(), 3u);
  EXPECT_EQ(QueryOf(reqs[0].target).count("from"), 0u);
  EXPECT_EQ(QueryOf(reqs[1].target)["from"], "c100");
  for (auto& req : reqs) EXPECT_EQ(QueryOf(req.target).count("page"), 0u) << "never offset paging";
}

TEST(Auth0ClientTest, CheckpointWalkEndsOnEmptyPageAfterShortPageWithNext) {
  Harness h(OrgPages(250, true));
  auto r = h.client->ListOrganizations();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectEachOnce(r.value(), 250);
  EXPECT_EQ(h.transport->ApiRequests().size(), 4u);
}

TEST(Auth0ClientTest, CheckpointWalkRefusesAStuckCursor) {
  Harness h([](const HttpRequest&) {
    return Answer(200, R"({"organizations":[{"id":"org_1"}],"next":"same"})");
  });
  auto r = h.client->ListOrganizations();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kInvalid);
}

TEST(Auth0ClientTest, UserSearchNeverPagesPastAThousand) {
  Harness h([](const HttpRequest& r) {
    auto q = QueryOf(r.target);
    int page = std::stoi(q["page"]);
    int per_page = std::stoi(q["per_page"]);
    EXPECT_LE((page + 1) * per_page, 1000);
    Json body{
        {"total", 5000}, {"start", page * per_page}, {"limit", per_page}, {"users", Json::array()}};
    for (int i = 0; i < per_page; ++i)
      body["users"].push_back(Json{{"user_id", "u" + std::to_string(page * per_page + i)}});
    return Answer(200, body.dump());
  });
  auto r = h.client->SearchUsers("email:\"*@example.com\"");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->users.size(), 1000u);
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->total, 5000);
  auto first = h.transport->ApiRequests().front();
  EXPECT_EQ(QueryOf(first.target)["q"], "email%3A%22%2A%40example.com%22");
  EXPECT_EQ(QueryOf(first.target)["search_engine"], "v3");
}

// Members with roles: one offset page with totals for a small organization, the checkpoint walk
// for one beyond offset paging's reach.
FakeTransport::Handler MemberPages(int total) {
  return [=](const HttpRequest& r) {
    auto q = QueryOf(r.target);
    EXPECT_EQ(q["fields"], "user_id%2Croles");
    EXPECT_EQ(q["include_fields"], "true");
    Json out;
    int from = 0, n = 0;
    if (q.count("page")) {
      from = std::stoi(q["page"]) * std::stoi(q["per_page"]);
      n = std::stoi(q["per_page"]);
      out = {{"total", total}, {"start", from}, {"limit", n}};
    } else {
      from = q.count("from") ? std::stoi(q["from"]) : 0;
      n = std::stoi(q["take"]);
      if (from < total) out["next"] = std::to_string(from + n);
    }
    out["members"] = Json::array();
    for (int i = from; i < std::min(total, from + n); ++i) {
      out["members"].push_back({{"user_id", "u" + std::to_string(i)},
                                {"roles", Json::array({{{"id", "rol_1"}, {"name", "admin"}}})}});
    }
    return Answer(200, out.dump());
  };
}

TEST(Auth0ClientTest, MembersWithRolesSmallOrganizationIsOneRequest) {
  Harness h(MemberPages(37));
  auto r = h.client->ListMembersWithRoles("org_1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 37u);
  EXPECT_EQ((*r)[5]["roles"][0]["name"], "admin");
  auto reqs = h.transport->ApiRequests();
  ASSERT_EQ(reqs.size(), 1u) << "the total says the first page was all of it";
  EXPECT_EQ(QueryOf(reqs[0].target)["include_totals"], "true");
}

TEST(Auth0ClientTest, MembersWithRolesBeyondOffsetReachUseCheckpoints) {
  Harness h(MemberPages(1234));
  auto r = h.client->ListMembersWithRoles("org_1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::set<std::string> ids;
  for (auto& m : *r) ids.insert(m["user_id"].get<std::string>());
  EXPECT_EQ(r->size(), 1234u);
  EXPECT_EQ(ids.size(), 1234u) << "each member once, although offset pages were read first";
  for (auto& req : h.transport->ApiRequests()) {
    auto q = QueryOf(req.target);
    if (q.count("page")) {
      EXPECT_LE((std::stoi(q["page"]) + 1) * std::stoi(q["per_page"]), 1000);
    }
  }
}

// ---- Users export job ------------------------------------------------------------------------

std::string Gzip(const std::string& text) {
  auto gz = GzipCompress(text);
  EXPECT_TRUE(gz.ok());
  return gz.ok() ? *gz : std::string();
}

// Serves a users export job that stays pending for `pending_polls` status reads.
struct ExportScript {
  int pending_polls = 1;
  std::string final_status = "completed";
  std::string file = Gzip(
      "{\"user_id\":\"auth0|1\",\"email\":\"a@example.com\",\"app_metadata\":{\"k\":1}}\n"
      "{\"user_id\":\"auth0|2\",\"blocked\":true}\n");
  int polls = 0;
  Json created;

  FakeTransport::Handler Handler() {
    return [this](const HttpRequest& r) {
      if (r.method == "POST" && r.target == "/api/v2/jobs/users-exports") {
        created = Json::parse(r.body);
        return Answer(200, R"({"type":"users_export","status":"pending","id":"job_X1"})");
      }
      if (r.method == "GET" && r.target == "/api/v2/jobs/job_X1") {
        ++polls;
        if (polls <= pending_polls) return Answer(200, R"({"status":"pending","id":"job_X1"})");
        Json j = {{"status", final_status}, {"id", "job_X1"}};
        if (final_status == "completed")
          j["location"] = "https://exports.example.com/job_X1.json.gz?X-Sig=secret-signature";
        return Answer(200, j.dump());
      }
      ADD_FAILURE() << r.method << " " << r.target;
      return Answer(500);
    };
  }
};

TEST(Auth0ClientTest, ExportUsersPollsTheJobAndReadsTheGzippedFile) {
  ExportScript script;
  script.pending_polls = 2;
  Harness h(script.Handler());
  h.transport->fetch_handler_ = [&](const std::string&) {
    return Answer(200, script.file, {{"content-type", "application/gzip"}});
  };
  UserExportOptions eo;
  eo.connection_id = "con_1";
  eo.fields = {"user_id", "email", "app_metadata", "blocked"};
  eo.poll_interval = 3s;
  std::vector<Json> users;
  auto r = h.client->ExportUsers(eo, [&](Json&& u) { users.push_back(std::move(u)); });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->users, 2);
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0]["app_metadata"]["k"], 1);
  EXPECT_EQ(users[1]["blocked"], true);
  EXPECT_EQ(r->status_polls, 3);
  EXPECT_EQ(script.created["format"], "json");
  EXPECT_EQ(script.created["connection_id"], "con_1");
  EXPECT_EQ(script.created["fields"][2]["name"], "app_metadata");
  ASSERT_EQ(h.transport->Fetched().size(), 1u);
  // Polls were spaced by the interval on the injected clock, not by real sleeps.
  int naps = 0;
  for (auto d : h.clock.sleeps()) naps += d >= 100ms ? 1 : 0;
  EXPECT_GE(naps, 2 * 3000 / 100 - 2);
}

TEST(Auth0ClientTest, ExportUsersFailedJobIsPermanent) {
  ExportScript script;
  script.final_status = "failed";
  Harness h(script.Handler());
  auto r = h.client->ExportUsers({}, [](Json&&) {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kPermanent);
  EXPECT_THAT(r.status().message(), HasSubstr("job_X1"));
}

TEST(Auth0ClientTest, ExportUsersGivesUpAfterTheTimeout) {
  ExportScript script;
  script.pending_polls = 1000000;
  Harness h(script.Handler());
  UserExportOptions eo;
  eo.poll_interval = 1s;
  eo.timeout = 30s;
  auto r = h.client->ExportUsers(eo, [](Json&&) {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kRetryable);
  EXPECT_LE(script.polls, 31);
}

TEST(Auth0ClientTest, ExportUsersCorruptFileIsInvalidAndUrlSignatureNeverShown) {
  ExportScript script;
  script.file = Gzip("{\"user_id\":\"auth0|1\"}\n").substr(0, 12);  // truncated
  Harness h(script.Handler());
  h.transport->fetch_handler_ = [&](const std::string&) { return Answer(200, script.file); };
  auto r = h.client->ExportUsers({}, [](Json&&) {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kInvalid);
  EXPECT_THAT(r.status().message(), Not(HasSubstr("secret-signature")));
}

// A large file is read as it is decompressed: records that straddle the decompressor's pieces
// arrive whole, every one of them, and a final line without a newline counts.
TEST(Auth0ClientTest, ExportUsersReadsEveryRecordOfALargeFile) {
  ExportScript script;
  std::string text;
  for (int i = 0; i < 5000; ++i) {
    text += "{\"user_id\":\"auth0|" + std::to_string(i) + "\",\"user_metadata\":{\"pad\":\"" +
            std::string(static_cast<size_t>(i % 97), 'x') + "\"}}";
    if (i + 1 < 5000) text += "\n";
  }
  script.file = Gzip(text);
  Harness h(script.Handler());
  h.transport->fetch_handler_ = [&](const std::string&) { return Answer(200, script.file); };
  std::vector<std::string> ids;
  auto r = h.client->ExportUsers({}, [&](Json&& u) { ids.push_back(u["user_id"]); });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->users, 5000);
  ASSERT_EQ(ids.size(), 5000u);
  EXPECT_EQ(ids[4321], "auth0|4321");
}

TEST(Auth0ClientTest, ExportUsersRetriesTheDownload) {
  ExportScript script;
  Harness h(script.Handler());
  int calls = 0;
  h.transport->fetch_handler_ = [&](const std::string&) {
    return ++calls < 3 ? Answer(503, "busy") : Answer(200, script.file);
  };
  auto r = h.client->ExportUsers({}, [](Json&&) {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(r->users, 2);
}

// ---- Batching --------------------------------------------------------------------------------

TEST(Auth0ClientTest, MembersGoInBatchesOfAtMostTen) {
  Harness h([](const HttpRequest&) { return Answer(204); },
            [](Auth0Options& o) { o.member_batch_size = 25; });  // clamped to Auth0's 10
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) ids.push_back("auth0|" + std::to_string(i));
  ASSERT_TRUE(h.client->AddMembers("org_1", ids).ok());
  ASSERT_TRUE(h.client->RemoveMembers("org_1", {"auth0|1"}).ok());
  auto reqs = h.transport->ApiRequests();
  ASSERT_EQ(reqs.size(), 4u);
  std::vector<size_t> sizes;
  std::set<std::string> seen;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(reqs[i].method, "POST");
    EXPECT_EQ(reqs[i].target, "/api/v2/organizations/org_1/members");
    auto body = Json::parse(reqs[i].body);
    sizes.push_back(body["members"].size());
    for (auto& m : body["members"]) seen.insert(m.get<std::string>());
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{10, 10, 5}));
  EXPECT_EQ(seen.size(), 25u);
  EXPECT_EQ(reqs[3].method, "DELETE");
  EXPECT_EQ(Json::parse(reqs[3].body), Json::parse(R"({"members":["auth0|1"]})"));
}

TEST(Auth0ClientTest, ConfiguredSmallerMemberBatch) {
  Harness h([](const HttpRequest&) { return Answer(204); },
            [](Auth0Options& o) { o.member_batch_size = 4; });
  ASSERT_TRUE(h.client->AddMembers("org_1", {"a", "b", "c", "d", "e"}).ok());
  EXPECT_EQ(h.transport->ApiRequests().size(), 2u);
}

TEST(Auth0ClientTest, EnablingTheApplicationOnAConnectionIsADelta) {
  Harness h([](const HttpRequest&) { return Answer(204); });
  ASSERT_TRUE(h.client->EnableConnectionClient("con_1", "app-client").ok());
  auto reqs = h.transport->ApiRequests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "PATCH");
  EXPECT_EQ(reqs[0].target, "/api/v2/connections/con_1/clients");
  EXPECT_EQ(Json::parse(reqs[0].body),
            Json::parse(R"([{"client_id":"app-client","status":true}])"));
}

// ---- Lookups and emails ----------------------------------------------------------------------

TEST(Auth0ClientTest, RoleLookupMatchesExactNameAndIsCached) {
  Harness h([](const HttpRequest&) {
    return Answer(
        200,
        R"({"roles":[{"id":"rol_2","name":"admin-lite"},{"id":"rol_1","name":"admin"}],"total":2})");
  });
  auto r = h.client->FindRoleId("admin");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), "rol_1");
  ASSERT_TRUE(h.client->FindRoleId("admin").ok());
  EXPECT_EQ(h.transport->ApiRequests().size(), 1u);
  EXPECT_EQ(QueryOf(h.transport->ApiRequests()[0].target)["name_filter"], "admin");
  auto missing = h.client->FindRoleId("auditor");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().kind(), StatusKind::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("auditor"));
}

TEST(Auth0ClientTest, ChangePasswordEmailUsesAuthenticationApi) {
  Harness h([](const HttpRequest&) {
    return Answer(200, "We've just sent you an email to reset your password.",
                  {{"content-type", "text/html"}});
  });
  ASSERT_TRUE(h.client->SendChangePasswordEmail("a@example.com").ok());
  auto reqs = h.transport->Requests();
  ASSERT_EQ(reqs.size(), 1u);  // no token needed
  EXPECT_EQ(reqs[0].target, "/dbconnections/change_password");
  EXPECT_EQ(HeaderOf(reqs[0], "Authorization"), "");
  EXPECT_EQ(
      Json::parse(reqs[0].body),
      Json::parse(
          R"({"client_id":"app-client","email":"a@example.com","connection":"Username-Password-Authentication"})"));
}

TEST(Auth0ClientTest, VerificationEmailNamesTheIdentity) {
  Harness h([](const HttpRequest&) {
    return Answer(201, R"({"type":"verification_email","status":"pending","id":"job_1"})");
  });
  auto r = h.client->SendVerificationEmail("auth0|643e");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(
      Json::parse(h.transport->ApiRequests()[0].body),
      Json::parse(R"({"user_id":"auth0|643e","identity":{"user_id":"643e","provider":"auth0"}})"));
}

TEST(Auth0ClientTest, CreateUserDefaultsTheConnection) {
  Harness h([](const HttpRequest&) { return Answer(201, R"({"user_id":"auth0|1"})"); });
  auto r = h.client->CreateUser(Json{{"email", "a@example.com"}, {"password", "x"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Json::parse(h.transport->ApiRequests()[0].body)["connection"],
            "Username-Password-Authentication");
}

// ---- Typed answers ---------------------------------------------------------------------------

TEST(Auth0ClientTest, UserAnswersAreCheckedIntoTypedResults) {
  Harness h([](const HttpRequest&) {
    return Answer(
        200,
        R"({"user_id":"auth0|1","email":"a@example.com","email_verified":true,"name":"A B",
            "given_name":"A","family_name":"B","nickname":"ab","picture":"https://p.example/a.png",
            "blocked":true,"app_metadata":{"plan":"gold"},"user_metadata":{"lang":"fr"},
            "identities":[{"connection":"Username-Password-Authentication","provider":"auth0",
                           "user_id":"1","isSocial":false}],
            "logins_count":3,"created_at":"2026-11-25T10:00:00.000Z"})");
  });
  auto u = h.client->GetUser("auth0|1");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->user_id, "auth0|1");
  // Only the profile fields tenantsync owns; logins_count, created_at ... are left out.
  EXPECT_EQ(u->profile, Json::parse(R"({"email":"a@example.com","email_verified":true,
      "name":"A B","given_name":"A","family_name":"B","nickname":"ab",
      "picture":"https://p.example/a.png"})"));
  EXPECT_TRUE(u->blocked);
  EXPECT_EQ(u->app_metadata, Json::parse(R"({"plan":"gold"})"));
  EXPECT_EQ(u->user_metadata, Json::parse(R"({"lang":"fr"})"));
  EXPECT_EQ(u->connections, std::vector<std::string>{"Username-Password-Authentication"});
}

TEST(Auth0ClientTest, AbsentOrNullFieldsTakeTheirDefaults) {
  Harness h([](const HttpRequest&) {
    return Answer(200, R"({"user_id":"auth0|1","name":null,"blocked":null,"app_metadata":null,
                 "identities":[{"provider":"auth0"}]})");
  });
  auto u = h.client->GetUser("auth0|1");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->profile, Json::object());
  EXPECT_FALSE(u->blocked);
  EXPECT_EQ(u->app_metadata, Json::object());
  EXPECT_EQ(u->user_metadata, Json::object());
  EXPECT_TRUE(u->connections.empty());
}

TEST(Auth0ClientTest, OrganizationApplicationAndUserListAnswersAreTyped) {
  Harness h([](const HttpRequest& r) {
    if (r.target.starts_with("/api/v2/organizations")) {
      return Answer(200, R"({"id":"org_1","name":"acme","display_name":"Acme",
                             "branding":{"logo_url":"https://l.example/x.png"},
                             "metadata":{"tier":"gold"}})");
    }
    if (r.target.starts_with("/api/v2/clients")) {
      return Answer(200, R"({"client_id":"app","name":"Web","callbacks":["https://a/cb"]})");
    }
    return Answer(200, R"([{"user_id":"auth0|1","identities":[{"connection":"db"}]},
                           {"user_id":"google-oauth2|2","identities":[{"connection":"google"}]}])");
  });
  auto org = h.client->GetOrganizationByName("acme");
  ASSERT_TRUE(org.ok()) << org.status().ToString();
  EXPECT_EQ(org->id, "org_1");
  EXPECT_EQ(org->name, "acme");
  EXPECT_EQ(org->display_name, "Acme");
  EXPECT_EQ(org->branding["logo_url"], "https://l.example/x.png");
  EXPECT_EQ(org->metadata, Json::parse(R"({"tier":"gold"})"));
  auto app = h.client->GetApplication("app");
  ASSERT_TRUE(app.ok()) << app.status().ToString();
  EXPECT_EQ(app->client_id, "app");
  EXPECT_EQ(app->callbacks, std::vector<std::string>{"https://a/cb"});
  auto users = h.client->GetUsersByEmail("a@example.com");
  ASSERT_TRUE(users.ok()) << users.status().ToString();
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[1].user_id, "google-oauth2|2");
  EXPECT_EQ((*users)[1].connections, std::vector<std::string>{"google"});

  Harness bare([](const HttpRequest&) { return Answer(200, R"({"id":"org_1","name":"acme"})"); });
  auto plain = bare.client->GetOrganization("org_1");
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->display_name.is_null());
  EXPECT_TRUE(plain->branding.is_null());
  EXPECT_EQ(plain->metadata, Json::object());
}

// Every call whose answer is read, by name.
using AnyCall = std::function<Status(Auth0Client&)>;
std::map<std::string, AnyCall> ReadingCalls() {
  auto st = [](auto&& r) { return r.status(); };
  return {
      {"CreateUser",
       [=](Auth0Client& c) {
         return st(c.CreateUser(Json{{"email", "a@x.io"}}));
       }},
      {"GetUser", [=](Auth0Client& c) { return st(c.GetUser("auth0|1")); }},
      {"PatchUser",
       [=](Auth0Client& c) {
         return st(c.PatchUser("auth0|1", Json{{"blocked", true}}));
       }},
      {"GetUsersByEmail", [=](Auth0Client& c) { return st(c.GetUsersByEmail("a@x.io")); }},
      {"CreateOrganization",
       [=](Auth0Client& c) {
         return st(c.CreateOrganization(Json{{"name", "acme"}}));
       }},
      {"GetOrganization", [=](Auth0Client& c) { return st(c.GetOrganization("org_1")); }},
      {"GetOrganizationByName",
       [=](Auth0Client& c) { return st(c.GetOrganizationByName("acme")); }},
      {"PatchOrganization",
       [=](Auth0Client& c) {
         return st(c.PatchOrganization("org_1", Json{{"name", "a"}}));
       }},
      {"GetApplication", [=](Auth0Client& c) { return st(c.GetApplication("app")); }},
      {"FindRoleId", [=](Auth0Client& c) { return st(c.FindRoleId("admin")); }},
      {"FindConnectionId", [=](Auth0Client& c) { return st(c.FindConnectionId("db")); }},
      {"ListOrganizations", [=](Auth0Client& c) { return st(c.ListOrganizations()); }},
      {"ListMembersWithRoles", [=](Auth0Client& c) { return st(c.ListMembersWithRoles("org_1")); }},
      {"ListOrganizationConnections",
       [=](Auth0Client& c) { return st(c.ListOrganizationConnections("org_1")); }},
      {"SearchUsers", [=](Auth0Client& c) { return st(c.SearchUsers("email:x")); }},
      {"GetUserLogs", [=](Auth0Client& c) { return st(c.GetUserLogs("auth0|1")); }},
      {"ExportUsers", [=](Auth0Client& c) { return st(c.ExportUsers({}, [](Json&&) {})); }},
  };
}

struct MalformedCase {
  const char* call;
  const char* answer;    // the 2xx body
  const char* endpoint;  // the template the message starts with
  const char* what;      // what the message says was wrong
  size_t requests = 1;   // Management API requests sent: a malformed answer is not retried
};

TEST(Auth0ClientTest, MalformedAnswersAreInvalidNamingTheEndpoint) {
  const MalformedCase cases[] = {
      {"CreateUser", "not json", "POST /api/v2/users", "answer is not valid JSON"},
      {"CreateUser", "", "POST /api/v2/users", "answer is empty (HTTP 200)"},
      {"CreateUser", "[]", "POST /api/v2/users", "answer is array, not an object"},
      {"CreateUser", "{}", "POST /api/v2/users", "answer has no user_id"},
      {"CreateUser", R"({"user_id": 5})", "POST /api/v2/users", "user_id is number, not a string"},
      {"CreateUser", R"({"user_id": ""})", "POST /api/v2/users", "user_id is empty"},
      {"GetUser", R"({"user_id":"x","blocked":"yes"})", "GET /api/v2/users/{id}",
       "blocked is string, not a boolean"},
      {"GetUser", R"({"user_id":"x","app_metadata":[]})", "GET /api/v2/users/{id}",
       "app_metadata is array, not an object"},
      {"GetUser", R"({"user_id":"x","user_metadata":"x"})", "GET /api/v2/users/{id}",
       "user_metadata is string, not an object"},
      {"GetUser", R"({"user_id":"x","email":5})", "GET /api/v2/users/{id}",
       "email is number, not a string"},
      {"GetUser", R"({"user_id":"x","email_verified":"true"})", "GET /api/v2/users/{id}",
       "email_verified is string, not a boolean"},
      {"GetUser", R"({"user_id":"x","identities":{}})", "GET /api/v2/users/{id}",
       "identities is object, not an array"},
      {"GetUser", R"({"user_id":"x","identities":["db"]})", "GET /api/v2/users/{id}",
       "identities[0] is string, not an object"},
      {"GetUser", R"({"user_id":"x","identities":[{"connection":1}]})", "GET /api/v2/users/{id}",
       "identities[0].connection is number, not a string"},
      {"PatchUser", R"("a string")", "PATCH /api/v2/users/{id}", "answer is string, not an object"},
      {"PatchUser", R"({"user_id":"x","name":["a"]})", "PATCH /api/v2/users/{id}",
       "name is array, not a string"},
      {"GetUsersByEmail", "{}", "GET /api/v2/users-by-email", "answer is object, not an array"},
      {"GetUsersByEmail", "[5]", "GET /api/v2/users-by-email", "[0] is number, not an object"},
      {"GetUsersByEmail", R"([{"user_id":"auth0|1"},{"email":"a@x.io"}])",
       "GET /api/v2/users-by-email", "[1] has no user_id"},
      {"GetUsersByEmail", R"([{"user_id":"x","blocked":1}])", "GET /api/v2/users-by-email",
       "[0].blocked is number, not a boolean"},
      {"CreateOrganization", "{}", "POST /api/v2/organizations", "answer has no id"},
      {"CreateOrganization", R"({"id":7,"name":"acme"})", "POST /api/v2/organizations",
       "id is number, not a string"},
      {"GetOrganization", R"({"id":"org_1"})", "GET /api/v2/organizations/{id}",
       "answer has no name"},
      {"GetOrganization", R"({"id":"org_1","name":"acme","metadata":"x"})",
       "GET /api/v2/organizations/{id}", "metadata is string, not an object"},
      {"GetOrganizationByName", R"({"id":"org_1","name":"acme","display_name":5})",
       "GET /api/v2/organizations/name/{name}", "display_name is number, not a string"},
      {"PatchOrganization", R"({"id":"org_1","name":"acme","branding":[]})",
       "PATCH /api/v2/organizations/{id}", "branding is array, not an object"},
      {"PatchOrganization", "null", "PATCH /api/v2/organizations/{id}",
       "answer is null, not an object"},
      {"GetApplication", R"({"callbacks":[]})", "GET /api/v2/clients/{id}",
       "answer has no client_id"},
      {"GetApplication", R"({"client_id":"app","callbacks":"https://a"})",
       "GET /api/v2/clients/{id}", "callbacks is string, not an array"},
      {"GetApplication", R"({"client_id":"app","callbacks":["https://a",5]})",
       "GET /api/v2/clients/{id}", "callbacks[1] is number, not a string"},
      {"FindRoleId", R"({"roles":[{"name":"admin","id":5}]})", "GET /api/v2/roles",
       "roles[0].id is number, not a string"},
      {"FindRoleId", R"({"roles":["admin"]})", "GET /api/v2/roles",
       "roles[0] is string, not an object"},
      {"FindConnectionId", R"({"connections":[{"name":"db"}]})", "GET /api/v2/connections",
       "connections[0] has no id"},
      {"ListOrganizations", R"({"organizations":[1]})", "GET /api/v2/organizations",
       "organizations[0] is number, not an object"},
      {"ListOrganizations", R"({"organizations":{}})", "GET /api/v2/organizations",
       "organizations is object, not an array"},
      {"ListOrganizations", R"("x")", "GET /api/v2/organizations",
       "answer is string, not an object"},
      {"ListMembersWithRoles", R"({"members":5})", "GET /api/v2/organizations/{id}/members",
       "members is number, not an array"},
      {"ListOrganizationConnections", "[null]",
       "GET /api/v2/organizations/{id}/enabled_connections", "[0] is null, not an object"},
      {"SearchUsers", R"({"users":["u"],"total":1})", "GET /api/v2/users",
       "users[0] is string, not an object"},
      {"GetUserLogs", R"({"logs":"x"})", "GET /api/v2/users/{id}/logs",
       "logs is string, not an array"},
      {"ExportUsers", R"({"id":5})", "POST /api/v2/jobs/users-exports",
       "id is number, not a string"},
      // The same answer to the job's status read: a status that is not a string.
      {"ExportUsers", R"({"id":"job_1","status":5})", "GET /api/v2/jobs/{id}",
       "status is number, not a string", 2},
  };
  auto calls = ReadingCalls();
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.call) + " <- " + c.answer);
    Harness h([&](const HttpRequest&) { return Answer(200, c.answer); });
    ASSERT_TRUE(calls.count(c.call));
    Status st;
    EXPECT_NO_THROW(st = calls.at(c.call)(*h.client));
    EXPECT_EQ(st.kind(), StatusKind::kInvalid) << st.ToString();
    EXPECT_EQ(st.message(), std::string(c.endpoint) + ": " + c.what);
    EXPECT_EQ(h.transport->ApiRequests().size(), c.requests);
  }
}

TEST(Auth0ClientTest, HostileAnswersNeverThrowFromAnyCall) {
  std::string deep(5000, '[');
  deep += std::string(5000, ']');
  const std::vector<std::string> bodies = {
      "",
      "null",
      "true",
      "-0",
      "1e999",
      "\xff\xfe{\"user_id\":1}",
      R"({"user_id":"\ud800"})",
      "{\"user_id\":\"a\xc3\"}",
      deep,
      R"({"user_id":"x","id":"y","name":"n","client_id":"c","blocked":1e308,"identities":[[]]})",
      R"({"total":-5,"users":[],"members":[],"organizations":[],"roles":[],"connections":[],
          "enabled_connections":[],"logs":[],"next":7})",
      R"({"total":"many","start":null,"users":[{}],"members":[{"user_id":5,"roles":"admin"}],
          "organizations":[{"id":[]}],"roles":[{"name":"admin"}],"id":"job_1",
          "status":"completed","location":5})",
      R"([{"name":"admin","id":"rol_1"},{"name":"db","id":"con_1"}])",
  };
  for (const auto& [name, call] : ReadingCalls()) {
    for (const auto& body : bodies) {
      SCOPED_TRACE(name + " <- " + body.substr(0, 80));
      Harness h([&](const HttpRequest&) { return Answer(200, body); });
      Status st;
      EXPECT_NO_THROW(st = call(*h.client));
      if (!st.ok()) {
        // kRetryable: an export job whose status never reads "completed" times out.
        EXPECT_TRUE(st.kind() == StatusKind::kInvalid || st.kind() == StatusKind::kNotFound ||
                    (name == "ExportUsers" && st.kind() == StatusKind::kRetryable))
            << st.ToString();
        EXPECT_NO_THROW((void)Json(st.message()).dump()) << "message is not valid UTF-8";
      }
    }
  }
}

TEST(Auth0ClientTest, TokenAnswersAreChecked) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"access_token":5})", "POST /oauth/token: answer has no access_token"},
      {R"({"access_token":""})", "POST /oauth/token: answer has no access_token"},
      {"[]", "POST /oauth/token: answer has no access_token"},
      {R"({"access_token":"t","expires_in":"soon"})",
       "POST /oauth/token: expires_in is string, not a number"},
      {R"({"access_token":"t","expires_in":-1})", "POST /oauth/token: expires_in is not positive"},
  };
  for (const auto& [answer, message] : cases) {
    SCOPED_TRACE(answer);
    Harness h([](const HttpRequest&) { return Answer(200, kUser); });
    h.transport->token_handler_ = [a = std::string(answer)](const HttpRequest&) {
      return Answer(200, a);
    };
    Result<Auth0User> r = Status::Ok();
    EXPECT_NO_THROW(r = h.client->GetUser("auth0|1"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), StatusKind::kInvalid);
    EXPECT_EQ(r.status().message(), message);
    EXPECT_TRUE(h.transport->ApiRequests().empty());
  }
  // An enormous lifetime is bounded instead of overflowing the renewal time.
  Harness h([](const HttpRequest&) { return Answer(200, kUser); });
  h.transport->token_handler_ = [](const HttpRequest&) {
    return Answer(200, R"({"access_token":"t","expires_in":1e300})");
  };
  EXPECT_TRUE(h.client->GetUser("auth0|1").ok());
  EXPECT_TRUE(h.client->HasValidToken());
}

TEST(Auth0ClientTest, CallsReturningOnlyAStatusDoNotReadTheAnswer) {
  Harness h([](const HttpRequest&) {
    return Answer(201, "<html>done</html>", {{"content-type", "text/html"}});
  });
  Auth0Client& c = *h.client;
  EXPECT_TRUE(c.DeleteUser("auth0|1").ok());
  EXPECT_TRUE(c.RevokeSessions("auth0|1").ok());
  EXPECT_TRUE(c.RevokeRefreshTokens("auth0|1").ok());
  EXPECT_TRUE(c.DeleteOrganization("org_1").ok());
  EXPECT_TRUE(c.AddMembers("org_1", {"auth0|1"}).ok());
  EXPECT_TRUE(c.RemoveMembers("org_1", {"auth0|1"}).ok());
  EXPECT_TRUE(c.AddMemberRoles("org_1", "auth0|1", {"rol_1"}).ok());
  EXPECT_TRUE(c.RemoveMemberRoles("org_1", "auth0|1", {"rol_1"}).ok());
  EXPECT_TRUE(c.AddOrganizationConnection("org_1", "con_1", true, false).ok());
  EXPECT_TRUE(c.PatchOrganizationConnection("org_1", "con_1", false, true).ok());
  EXPECT_TRUE(c.RemoveOrganizationConnection("org_1", "con_1").ok());
  EXPECT_TRUE(c.EnableConnectionClient("con_1", "app").ok());
  EXPECT_TRUE(c.PatchApplicationCallbacks("app", {"https://a/cb"}).ok());
  EXPECT_TRUE(c.SendVerificationEmail("auth0|1").ok());
  EXPECT_TRUE(c.SendChangePasswordEmail("a@x.io").ok());
  EXPECT_EQ(h.transport->Requests().size(), 16u);  // one token request, 15 calls
  // Empty role lists are nothing to send (Auth0 refuses them).
  EXPECT_TRUE(c.AddMemberRoles("org_1", "auth0|1", {}).ok());
  EXPECT_EQ(h.transport->Requests().size(), 16u);
}

TEST(Auth0ClientTest, ErrorTextFromTheNetworkIsBoundedValidUtf8) {
  std::string body = "\xff\xfe\x01 broken ";
  body += std::string(5000, 'x');
  body += "\xc3";  // cut in the middle of a character
  Harness h([&](const HttpRequest&) {
    return Answer(400, body, {{"content-type", "text/plain"}});
  });
  auto r = h.client->GetUser("auth0|1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kPermanent);
  EXPECT_LT(r.status().message().size(), 400u);
  EXPECT_THAT(r.status().message(), HasSubstr("??  broken xxx"));
  EXPECT_NO_THROW((void)Json(r.status().ToString()).dump());
}

// ---- Observer --------------------------------------------------------------------------------

class RecordingObserver : public Auth0Observer {
 public:
  void OnRequest(std::string_view endpoint, int status, double seconds) override {
    std::lock_guard<std::mutex> l(mu_);
    EXPECT_GE(seconds, 0.0);
    seen_.emplace_back(std::string(endpoint), status);
  }
  std::vector<std::pair<std::string, int>> Seen() {
    std::lock_guard<std::mutex> l(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::string, int>> seen_;
};

using Seen = std::vector<std::pair<std::string, int>>;

TEST(Auth0ClientTest, ObserverSeesEveryAttemptOnceIncludingTokensAndUnansweredRequests) {
  RecordingObserver obs;
  std::atomic<int> n{0};
  Harness h(
      [&](const HttpRequest&) {
        switch (n++) {
          case 0:
            return Failure(TransportError::kTimeout);
          case 1:
            return Failure(TransportError::kClosed);
          case 2:
            return Answer(500, "");
          case 3:
            return Answer(429, "", {{"retry-after", "1"}});
          case 4:
            return Answer(401, R"({"statusCode":401,"message":"Expired token"})");
          default:
            return Answer(200, "{}");
        }
      },
      [](Auth0Options& o) { o.max_retries = 8; }, &obs);
  std::atomic<int> tokens{0};
  h.transport->token_handler_ = [&](const HttpRequest&) {
    if (tokens++ == 0) return Failure(TransportError::kConnect);
    return Answer(200, R"({"access_token":"tok","expires_in":86400})");
  };
  ASSERT_TRUE(h.client->PatchApplicationCallbacks("app", {"https://a.example.com/cb"}).ok());
  const std::string patch = "PATCH /api/v2/clients/{id}";
  EXPECT_EQ(obs.Seen(), (Seen{{"POST /oauth/token", 0},
                              {"POST /oauth/token", 200},
                              {patch, 0},
                              {patch, 0},
                              {patch, 500},
                              {patch, 429},
                              {patch, 401},
                              {"POST /oauth/token", 200},
                              {patch, 200}}));
}

TEST(Auth0ClientTest, ObserverSeesAuthenticationApiAndExportDownloads) {
  RecordingObserver obs;
  ExportScript script;
  script.pending_polls = 0;
  auto jobs = script.Handler();
  Harness h(
      [&](const HttpRequest& r) {
        if (r.target == "/dbconnections/change_password") return Answer(200, "sent");
        return jobs(r);
      },
      {}, &obs);
  int fetches = 0;
  h.transport->fetch_handler_ = [&](const std::string&) {
    return ++fetches == 1 ? Answer(503, "busy") : Answer(200, script.file);
  };
  ASSERT_TRUE(h.client->SendChangePasswordEmail("a@example.com").ok());
  ASSERT_TRUE(h.client->ExportUsers({}, [](Json&&) {}).ok());
  EXPECT_EQ(obs.Seen(), (Seen{{endpoints::kChangePasswordEmail, 200},
                              {endpoints::kToken, 200},
                              {endpoints::kCreateUsersExport, 200},
                              {endpoints::kGetJob, 200},
                              {endpoints::kUsersExportFile, 503},
                              {endpoints::kUsersExportFile, 200}}));
}

TEST(Auth0ClientTest, RequestCutByShutdownIsReportedOnceAndNotRepeated) {
  RecordingObserver obs;
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, released = false;
  Harness h(
      [&](const HttpRequest&) {
        std::unique_lock<std::mutex> l(mu);
        entered = true;
        cv.notify_all();
        cv.wait(l, [&] { return released; });
        return Failure(TransportError::kTimeout);  // the read timed out while stopping
      },
      [](Auth0Options& o) { o.max_retries = 8; }, &obs);
  Result<Auth0User> r = Status::Ok();
  std::thread caller([&] { r = h.client->GetUser("auth0|1"); });
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return entered; });
  }
  h.client->Shutdown();
  {
    std::lock_guard<std::mutex> l(mu);
    released = true;
  }
  cv.notify_all();
  caller.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kRetryable);
  EXPECT_THAT(r.status().message(), HasSubstr("shutting down"));
  EXPECT_EQ(obs.Seen(), (Seen{{"POST /oauth/token", 200}, {"GET /api/v2/users/{id}", 0}}));
  EXPECT_EQ(h.transport->ApiRequests().size(), 1u);
  // After Shutdown nothing is sent, so nothing is reported.
  auto late = h.client->GetUser("auth0|1");
  EXPECT_EQ(late.status().kind(), StatusKind::kRetryable);
  EXPECT_EQ(obs.Seen().size(), 2u);
  EXPECT_EQ(h.transport->ApiRequests().size(), 1u);
}

// ---- Client secret rotation ------------------------------------------------------------------

std::string SecretOf(const HttpRequest& token_request) {
  auto q = QueryOf("?" + token_request.body);
  return q["client_secret"];
}

TEST(Auth0ClientTest, RotatedSecretDropsTheTokenAndIsUsedForTheNextOne) {
  Harness h([](const HttpRequest&) { return Answer(200, kUser); });
  ASSERT_TRUE(h.client->GetUser("auth0|1").ok());
  EXPECT_TRUE(h.client->HasValidToken());
  h.client->SetClientSecret("rotated-secret");
  EXPECT_FALSE(h.client->HasValidToken());
  ASSERT_TRUE(h.client->GetUser("auth0|1").ok());
  std::vector<HttpRequest> token_requests;
  for (auto& r : h.transport->Requests()) {
    if (r.target == "/oauth/token") token_requests.push_back(r);
  }
  ASSERT_EQ(token_requests.size(), 2u);
  EXPECT_EQ(SecretOf(token_requests[0]), kSecret);
  EXPECT_EQ(SecretOf(token_requests[1]), "rotated-secret");
  EXPECT_EQ(HeaderOf(h.transport->ApiRequests().back(), "Authorization"), "Bearer tok-2");
}

TEST(Auth0ClientTest, TokenFetchedWithTheOldSecretDuringARotationIsNotKept) {
  Harness* hp = nullptr;
  Harness h([](const HttpRequest&) { return Answer(200, kUser); });
  hp = &h;
  std::vector<std::string> secrets;
  h.transport->token_handler_ = [&](const HttpRequest& r) {
    secrets.push_back(SecretOf(r));
    // SIGHUP arrives while the first token request is on the wire.
    if (secrets.size() == 1) hp->client->SetClientSecret("rotated-secret");
    return Answer(200, R"({"access_token":"tok-)" + std::to_string(secrets.size()) +
                           R"(","expires_in":86400})");
  };
  ASSERT_TRUE(h.client->GetUser("auth0|1").ok());
  EXPECT_EQ(secrets, (std::vector<std::string>{kSecret, "rotated-secret"}));
  EXPECT_EQ(HeaderOf(h.transport->ApiRequests().back(), "Authorization"), "Bearer tok-2");
}

TEST(Auth0ClientTest, SecretRotationIsSafeWhileCallsRun) {
  Harness h([](const HttpRequest&) { return Answer(200, kUser, RateHeaders(1000, 999, 0)); },
            [](Auth0Options& o) { o.rate_limit_fraction = 1.0; });
  std::atomic<bool> done{false};
  std::atomic<int> ok{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) ok += h.client->GetUser("auth0|1").ok();
    });
  }
  std::thread rotator([&] {
    for (int i = 0; i < 50 && !done; ++i) h.client->SetClientSecret("secret-" + std::to_string(i));
  });
  for (auto& t : callers) t.join();
  done = true;
  rotator.join();
  EXPECT_EQ(ok.load(), 200);
  for (auto& r : h.transport->Requests()) {
    if (r.target != "/oauth/token") continue;
    std::string secret = SecretOf(r);
    EXPECT_TRUE(secret == kSecret || secret.starts_with("secret-")) << secret;
  }
}

// ---- Backoff ---------------------------------------------------------------------------------

TEST(Auth0ClientTest, FullJitterBackoffStaysUnderItsCeiling) {
  SeededRandom random(7);
  for (int retry = -1; retry < 40; ++retry) {
    auto ceiling =
        std::min<std::chrono::milliseconds>(30s, 200ms * (int64_t{1} << std::clamp(retry, 0, 30)));
    std::chrono::milliseconds high{0};
    for (int i = 0; i < 200; ++i) {
      auto d = FullJitterBackoff(retry, 200ms, 30s, random);
      EXPECT_GE(d, 0ms);
      EXPECT_LE(d, ceiling) << retry;
      high = std::max(high, d);
    }
    EXPECT_GE(high, ceiling / 2) << "full jitter spreads over the whole range";
  }
  EXPECT_LE(FullJitterBackoff(3, 0ms, 0ms, random), 1ms);
}

}  // namespace
}  // namespace tenantsync
