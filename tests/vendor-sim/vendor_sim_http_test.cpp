// vendor-sim over HTTP on 127.0.0.1 (in-process server, port chosen at run time): the production
// HttpVendorApi fetches through it (so the fetch, its auth and its retries run over a real
// socket), and /__sim/send posts signed deliveries that a receiver verifies, including a replay
// sent byte for byte.
#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "adapters/vendors/vendor_api.h"
#include "common/clock.h"
#include "common/random.h"
#include "tests/vendor-sim/server.h"

namespace tenantsync::vsim {
namespace {

using json = nlohmann::json;

struct Running {
  VendorSim sim{SystemClock()};
  SimHttpServer server{sim, "127.0.0.1", 0};
  int port = server.Bind();
  std::thread thread{[this] { server.Listen(); }};
  ~Running() {
    server.Stop();
    thread.join();
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

TEST(VendorSimHttp, HttpVendorApiFetchesThroughTheSimulatorAndRetries) {
  Running r;
  ASSERT_GT(r.port, 0);
  VendorConfig c;
  c.webhook_secret = "s";
  c.api_credential = "svc:tok";
  r.sim.Configure(Vendor::kHiBob, c);
  r.sim.PutRecord(Vendor::kHiBob, ObjectKind::kPerson, "42", {{"id", "42"}, {"email", "bo@x.io"}});
  VendorApiOptions o;
  o.vendor = Vendor::kHiBob;
  o.base_url = r.Url();
  o.credential = "svc:tok";
  o.backoff_base = std::chrono::milliseconds(1);
  o.backoff_cap = std::chrono::milliseconds(5);
  o.requests_per_second = 200;
  SeededRandom random(1);
  auto api = NewHttpVendorApi(o, SystemClock(), random);
  ASSERT_TRUE(api.ok()) << api.status().message();
  r.sim.FailNext(2, 503, 0);
  auto rec = (*api)->FetchRecord(ObjectKind::kPerson, "42");
  ASSERT_TRUE(rec.ok()) << rec.status().message();
  EXPECT_EQ((*rec)["email"], "bo@x.io");
  EXPECT_EQ(r.sim.RequestLog().size(), 3u);  // two failures, then the record
  auto missing = (*api)->FetchRecord(ObjectKind::kPerson, "nobody");
  EXPECT_EQ(missing.status().kind(), StatusKind::kNotFound);

  o.credential = "svc:wrong";
  auto bad = NewHttpVendorApi(o, SystemClock(), random);
  ASSERT_TRUE(bad.ok());
  auto refused = (*bad)->FetchRecord(ObjectKind::kPerson, "42");
  EXPECT_EQ(refused.status().kind(), StatusKind::kPermanent);
  EXPECT_EQ(refused.status().message().find("wrong"), std::string::npos);
}

TEST(VendorSimHttp, SendPostsSignedDeliveriesAndReplays) {
  Running sim;
  // A receiver that verifies BambooHR deliveries the way ingress would.
  httplib::Server receiver;
  std::vector<std::string> seen;
  std::mutex mu;
  receiver.Post("/webhooks/bamboo", [&](const httplib::Request& req, httplib::Response& res) {
    VendorVerifyOptions o;
    o.vendor = Vendor::kBambooHr;
    o.secrets = {"bamboo-key"};
    VendorRequest vr{"POST", "",
                     [&req](std::string_view n) -> std::optional<std::string> {
                       if (!req.has_header(std::string(n))) return std::nullopt;
                       return req.get_header_value(std::string(n));
                     },
                     req.body};
    auto v = VerifyVendorDelivery(o, vr, SystemClock().NowUnixMillis());
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(req.body);
    res.status = v.ok() ? 202 : 401;
    res.set_content(json{{"ok", v.ok()}}.dump(), "application/json");
  });
  int rport = receiver.bind_to_any_port("127.0.0.1");
  std::thread rt([&] { receiver.listen_after_bind(); });

  httplib::Client client("127.0.0.1", sim.port);
  auto post = [&](const json& body) {
    auto res = client.Post("/__sim/send", body.dump(), "application/json");
    EXPECT_TRUE(res);
    return res ? json::parse(res->body) : json();
  };
  ASSERT_EQ(client
                .Post("/__sim/config",
                      json{{"vendor", "bamboohr"}, {"webhook_secret", "bamboo-key"}}.dump(),
                      "application/json")
                ->status,
            200);
  const std::string url = "http://127.0.0.1:" + std::to_string(rport) + "/webhooks/bamboo";
  auto ok =
      post({{"vendor", "bamboohr"}, {"event", "employee.updated"}, {"ids", {"1"}}, {"url", url}});
  EXPECT_EQ(ok["status"], 202);
  auto bad = post({{"vendor", "bamboohr"},
                   {"event", "employee.updated"},
                   {"ids", {"1"}},
                   {"url", url},
                   {"bad_signature", true}});
  EXPECT_EQ(bad["status"], 401);
  auto again = post({{"vendor", "bamboohr"}, {"replay", true}, {"url", url}});
  EXPECT_EQ(again["status"], 202);
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[2], seen[0]);  // the replay is the first delivery, byte for byte
  }
  auto off_host = post({{"vendor", "bamboohr"},
                        {"event", "employee.updated"},
                        {"ids", {"1"}},
                        {"url", "http://192.0.2.1:80/x"}});
  EXPECT_EQ(off_host.value("error", ""), "url: must be http://127.0.0.1:PORT/... (loopback only)");
  receiver.stop();
  rt.join();
}

}  // namespace
}  // namespace tenantsync::vsim
