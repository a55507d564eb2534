// Auth0Client's users-imports calls: the hand-built multipart body, the typed job and errors
// answers, and the calls over a scripted transport (what is sent, 204 for no errors).
#include <gtest/gtest.h>

#include <mutex>

#include "adapters/auth0/auth0_client.h"
#include "adapters/auth0/endpoints.h"

namespace tenantsync {
namespace {

// Splits a multipart body as a server would (RFC 7578): name -> content.
std::map<std::string, std::string> Parts(const std::string& body, const std::string& boundary) {
  std::map<std::string, std::string> out;
  const std::string delim = "--" + boundary;
  size_t pos = body.find(delim);
  while (pos != std::string::npos) {
    pos += delim.size();
    if (body.compare(pos, 2, "--") == 0) break;
    pos += 2;  // CRLF
    const size_t head_end = body.find("\r\n\r\n", pos);
    const std::string head = body.substr(pos, head_end - pos);
    const size_t name_at = head.find("name=\"") + 6;
    const std::string name = head.substr(name_at, head.find('"', name_at) - name_at);
    const size_t next = body.find("\r\n" + delim, head_end);
    out[name] = body.substr(head_end + 4, next - head_end - 4);
    pos = next + 2;
  }
  return out;
}

TEST(UsersImportBody, CarriesTheFileAndTheDocumentedFields) {
  UsersImportOptions o;
  o.external_id = "tenantsync-import-7";
  const std::string users = R"([{"email":"a@x.io","user_id":"ts1"}])";
  auto body = BuildUsersImportBody("BOUNDARY", "con_0123456789abcdef", users, o);
  ASSERT_TRUE(body.ok());
  auto parts = Parts(*body, "BOUNDARY");
  EXPECT_EQ(parts["users"], users);
  EXPECT_EQ(parts["connection_id"], "con_0123456789abcdef");
  EXPECT_EQ(parts["upsert"], "false");
  EXPECT_EQ(parts["send_completion_email"], "false");
  EXPECT_EQ(parts["external_id"], "tenantsync-import-7");
  EXPECT_NE(body->find("filename=\"users.json\""), std::string::npos);
  EXPECT_EQ(body->substr(body->size() - 14), "--BOUNDARY--\r\n");
  // No external_id part when there is none; a boundary inside the file is refused.
  o.external_id.clear();
  EXPECT_FALSE(Parts(*BuildUsersImportBody("B", "con_x", users, o), "B").count("external_id"));
  EXPECT_FALSE(BuildUsersImportBody("zz", "con_x", R"([{"name":"--zz"}])", o).ok());
}

TEST(UsersImportAnswers, JobsAndErrorsAreCheckedWhereReceived) {
  auto job = ParseJob(nlohmann::json::parse(
                          R"({"id":"job_1","status":"completed","type":"users_import",
                              "summary":{"total":3,"inserted":2,"updated":0,"failed":1}})"),
                      endpoints::kGetJob);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->status, Auth0JobStatus::kCompleted);
  EXPECT_EQ(job->inserted, 2);
  EXPECT_EQ(job->failed, 1);
  struct Bad {
    const char* body;
    const char* says;
  };
  for (auto c : std::vector<Bad>{
           {R"({"status":"pending"})", "has no id"},
           {R"({"id":"j","status":"done"})", "not a job status"},
           {R"({"id":"j","status":"completed","summary":{"failed":"1"}})", "summary.failed"},
           {R"([])", "not an object"}}) {
    auto r = ParseJob(nlohmann::json::parse(c.body), endpoints::kGetJob);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().kind(), StatusKind::kInvalid);
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << r.status().message();
  }
  auto errors = ParseJobErrors(nlohmann::json::parse(
      R"([{"user":{"email":"a@x.io","user_id":"ts1"},
           "errors":[{"code":"DUPLICATED_USER","message":"The user already exist"}]}])"));
  ASSERT_TRUE(errors.ok());
  ASSERT_EQ(errors->size(), 1u);
  EXPECT_EQ((*errors)[0].code, "DUPLICATED_USER");
  EXPECT_EQ((*errors)[0].user["user_id"], "ts1");
  EXPECT_FALSE(ParseJobErrors(nlohmann::json::parse(R"([{"errors":[]}])")).ok());
  EXPECT_FALSE(ParseJobErrors(nlohmann::json::parse(R"({"user":{}})")).ok());
}

// Sleeps advance time at once, so the rate limiter's waits cost nothing.
class AutoClock final : public Clock {
 public:
  WallTime Now() const override {
    std::lock_guard<std::mutex> l(mu_);
    return WallTime(std::chrono::duration_cast<std::chrono::system_clock::duration>(
        std::chrono::seconds(1795600800) + mono_));
  }
  MonoTime Monotonic() const override {
    std::lock_guard<std::mutex> l(mu_);
    return MonoTime(mono_);
  }
  void SleepFor(std::chrono::nanoseconds d) override {
    std::lock_guard<std::mutex> l(mu_);
    if (d > std::chrono::nanoseconds(0)) mono_ += d;
  }

 private:
  mutable std::mutex mu_;
  std::chrono::nanoseconds mono_{};
};

class ScriptedTransport final : public HttpTransport {
 public:
  HttpResponse Send(const HttpRequest& req) override {
    std::lock_guard<std::mutex> l(mu_);
    HttpResponse r;
    r.headers["content-type"] = "application/json";
    if (req.target == "/oauth/token") {
      r.status = 200;
      r.body = R"({"access_token":"tok","expires_in":3600,"token_type":"Bearer"})";
      return r;
    }
    sent.push_back(req);
    if (req.target == "/api/v2/jobs/users-imports") {
      r.status = 202;
      r.body = R"({"id":"job_abc","status":"pending","type":"users_import"})";
    } else if (req.target == "/api/v2/jobs/job_abc/errors") {
      r.status = 204;
      r.headers.clear();
    } else {
      r.status = 404;
      r.body = R"({"statusCode":404,"error":"Not Found","message":"The job does not exist."})";
    }
    return r;
  }
  HttpResponse Fetch(const std::string&) override { return HttpResponse{}; }
  std::vector<HttpRequest> sent;
  std::mutex mu_;
};

TEST(UsersImportCalls, SendsMultipartAndReadsNoErrorsAsEmpty) {
  Auth0Options o;
  o.domain = "tenant.example.com";
  o.base_url = "http://127.0.0.1:1";
  o.client_id = "m2m";
  o.client_secret = "secret";
  o.application_client_id = "app";
  o.max_retries = 0;
  auto transport = std::make_unique<ScriptedTransport>();
  ScriptedTransport* t = transport.get();
  AutoClock clock;
  SeededRandom random(3);
  Auth0Client client(o, std::move(transport), clock, random);
  const std::string users = R"([{"email":"a@x.io"}])";
  auto job = client.CreateUsersImportJob("con_0123456789abcdef", users, UsersImportOptions{});
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->id, "job_abc");
  EXPECT_EQ(job->status, Auth0JobStatus::kPending);
  ASSERT_EQ(t->sent.size(), 1u);
  const std::string& ct = t->sent[0].content_type;
  ASSERT_EQ(ct.rfind("multipart/form-data; boundary=", 0), 0u) << ct;
  auto parts = Parts(t->sent[0].body, ct.substr(ct.find('=') + 1));
  EXPECT_EQ(parts["users"], users);
  EXPECT_EQ(parts["connection_id"], "con_0123456789abcdef");
  auto errors = client.GetJobErrors("job_abc");
  ASSERT_TRUE(errors.ok()) << errors.status().ToString();
  EXPECT_TRUE(errors->empty());
  EXPECT_EQ(client.GetJob("job_zzz").status().kind(), StatusKind::kNotFound);
  // Over Auth0's file limit: refused before anything is sent.
  const size_t before = t->sent.size();
  auto big = client.CreateUsersImportJob("con_0123456789abcdef",
                                         std::string(kUsersImportMaxBytes + 1, ' '), {});
  EXPECT_EQ(big.status().kind(), StatusKind::kInvalid);
  EXPECT_EQ(t->sent.size(), before);
}

}  // namespace
}  // namespace tenantsync
