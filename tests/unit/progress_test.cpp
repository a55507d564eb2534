#include "daemon/operators/progress.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <vector>

namespace tenantsync {
namespace {

ProgressSnapshot Snap(int64_t at_ms, int64_t pending, int64_t writes,
                      std::optional<int64_t> headroom = std::nullopt,
                      std::optional<int64_t> requests = std::nullopt) {
  ProgressSnapshot s;
  s.at_ms = at_ms;
  s.pending = pending;
  s.writes_done = writes;
  s.headroom = headroom;
  s.requests_done = requests;
  return s;
}

// The same with the daemon's estimate of Auth0 writes left.
ProgressSnapshot SnapW(int64_t at_ms, int64_t pending, int64_t writes, int64_t writes_left) {
  ProgressSnapshot s = Snap(at_ms, pending, writes);
  s.writes_left = writes_left;
  return s;
}

struct Step {
  ProgressSnapshot snap;
  int64_t converged, total;
  double writes_per_second;
  std::optional<int64_t> eta;
};

struct Case {
  const char* name;
  std::vector<Step> steps;
};

TEST(Progress, TrackerTable) {
  const std::vector<Case> cases = {
      {"steady drain",
       {{Snap(0, 100, 0), 0, 100, 0, std::nullopt},
        {Snap(10000, 80, 40), 20, 100, 4.0, 40},  // 20 in 10 s -> 80 left take 40 s
        {Snap(20000, 40, 120), 60, 100, 8.0, 10},
        {Snap(25000, 0, 150), 100, 100, 6.0, 0}}},
      {"no progress: ETA unknown",
       {{Snap(0, 50, 7), 0, 50, 0, std::nullopt}, {Snap(5000, 50, 7), 0, 50, 0, std::nullopt}}},
      {"zero time step: no rate",
       {{Snap(1000, 10, 0), 0, 10, 0, std::nullopt}, {Snap(1000, 5, 5), 5, 10, 0, std::nullopt}}},
      {"time going backwards and counters shrinking: no negative rate",
       {{Snap(5000, 10, 100), 0, 10, 0, std::nullopt},
        {Snap(4000, 8, 50), 2, 10, 0, std::nullopt}}},
      {"burst grows the total while watched",
       {{Snap(0, 10, 0), 0, 10, 0, std::nullopt},
        {Snap(1000, 5, 5), 5, 10, 5.0, 1},
        {Snap(2000, 25, 10), 5, 30, 5.0, std::nullopt},  // 20 more arrived: total 30
        {Snap(4000, 15, 20), 15, 30, 5.0, 3}}},
      {"nothing to do from the start", {{Snap(0, 0, 3), 0, 0, 0, 0}}},
      // The tail of bench-backfill's 20,000 users: 500 organizations' member lists left, each
      // one entity with ~66 writes; no entity converges for minutes while writes go on at 16/s.
      // Without the writes left the ETA stayed "unknown" for 28 minutes.
      {"entities stay while writes go on: ETA from the writes left",
       {{SnapW(0, 500, 1000, 33000), 0, 500, 0, std::nullopt},
        {SnapW(10000, 500, 1160, 32840), 0, 500, 16.0, 2053}}},
      {"the larger of the two estimates",
       {{SnapW(0, 100, 0, 500), 0, 100, 0, std::nullopt},
        // entities: 20 in 10 s -> 80 left take 40 s; writes: 4/s -> 400 left take 100 s
        {SnapW(10000, 80, 40, 400), 20, 100, 4.0, 100}}},
      {"writes left but no write in the interval: the entities' estimate",
       {{SnapW(0, 100, 0, 500), 0, 100, 0, std::nullopt},
        {SnapW(10000, 80, 0, 480), 20, 100, 0, 40}}},
      {"negative pending is read as none", {{Snap(0, -4, 0), 0, 0, 0, 0}}},
  };
  for (const auto& c : cases) {
    ProgressTracker t;
    for (size_t i = 0; i < c.steps.size(); ++i) {
      const Step& st = c.steps[i];
      ProgressFigures f = t.Update(st.snap);
      SCOPED_TRACE(std::string(c.name) + " step " + std::to_string(i));
      EXPECT_EQ(f.converged, st.converged);
      EXPECT_EQ(f.total, st.total);
      EXPECT_DOUBLE_EQ(f.writes_per_second, st.writes_per_second);
      EXPECT_EQ(f.eta_seconds, st.eta);
      EXPECT_EQ(f.headroom, st.snap.headroom);
    }
  }
}

// Auth0 requests per second: every request (reads, import-job polls, retries) over the interval,
// apart from the writes; unknown unless both snapshots carry the count.
TEST(Progress, RequestsPerSecondTable) {
  struct RateStep {
    ProgressSnapshot snap;
    std::optional<double> requests_per_second;
  };
  const std::vector<std::pair<const char*, std::vector<RateStep>>> cases = {
      {"steady 16 requests/s while only 2 writes/s",
       {{Snap(0, 100, 0, 50, 1000), std::nullopt},
        {Snap(10000, 90, 20, 0, 1160), 16.0},
        {Snap(12000, 88, 24, 0, 1192), 16.0}}},
      {"requests without writes (an import job polled): a rate, no writes",
       {{Snap(0, 500, 7, 40, 10), std::nullopt}, {Snap(4000, 500, 7, 40, 14), 1.0}}},
      {"no request in the interval: 0",
       {{Snap(0, 5, 0, 50, 30), std::nullopt}, {Snap(2000, 5, 0, 50, 30), 0.0}}},
      {"zero time step or a restarted daemon (count went down): 0, never negative",
       {{Snap(1000, 5, 0, 50, 300), std::nullopt},
        {Snap(1000, 5, 0, 50, 320), 0.0},
        {Snap(3000, 5, 0, 50, 12), 0.0}}},
      {"an older daemon without the count: unknown",
       {{Snap(0, 5, 0, 50), std::nullopt}, {Snap(2000, 4, 1, 50), std::nullopt}}},
      {"the count appears only in the later snapshot: unknown for that interval",
       {{Snap(0, 5, 0, 50), std::nullopt},
        {Snap(2000, 4, 1, 50, 100), std::nullopt},
        {Snap(4000, 3, 2, 50, 140), 20.0}}},
  };
  for (const auto& [name, steps] : cases) {
    ProgressTracker t;
    for (size_t i = 0; i < steps.size(); ++i) {
      SCOPED_TRACE(std::string(name) + " step " + std::to_string(i));
      const ProgressFigures f = t.Update(steps[i].snap);
      ASSERT_EQ(f.requests_per_second.has_value(), steps[i].requests_per_second.has_value());
      if (f.requests_per_second) {
        EXPECT_DOUBLE_EQ(*f.requests_per_second, *steps[i].requests_per_second);
      }
    }
  }
}

TEST(Progress, FormatEta) {
  EXPECT_EQ(FormatEta(std::nullopt), "unknown");
  EXPECT_EQ(FormatEta(0), "0s");
  EXPECT_EQ(FormatEta(42), "42s");
  EXPECT_EQ(FormatEta(185), "3m05s");
  EXPECT_EQ(FormatEta(3720), "1h02m");
  EXPECT_EQ(FormatEta(-5), "0s");
}

TEST(Progress, PlainLine) {
  ProgressFigures f;
  f.converged = 120;
  f.total = 500;
  f.writes_per_second = 3.25;
  f.headroom = 45;
  f.eta_seconds = 125;
  EXPECT_EQ(RenderProgressLine(f),
            "progress: 120/500 converged (24%), 3.2 writes/s, Auth0 headroom 45, ETA 2m05s\n");
  ProgressFigures empty;
  EXPECT_EQ(RenderProgressLine(empty),
            "progress: 0/0 converged (100%), 0.0 writes/s, Auth0 headroom -, ETA unknown\n");
  f.requests_per_second = 15.94;
  EXPECT_EQ(RenderProgressLine(f),
            "progress: 120/500 converged (24%), 3.2 writes/s, 15.9 Auth0 requests/s, Auth0 "
            "headroom 45, ETA 2m05s\n");
}

TEST(Progress, BarIsBoundedAndOverwrites) {
  ProgressFigures f;
  f.converged = 50;
  f.total = 100;
  f.writes_per_second = 2;
  f.headroom = 9;
  f.eta_seconds = 30;
  for (int width : {5, 20, 40, 60, 80, 200}) {
    const std::string bar = RenderProgressBar(f, width);
    SCOPED_TRACE(width);
    ASSERT_FALSE(bar.empty());
    EXPECT_EQ(bar[0], '\r');
    EXPECT_EQ(bar.find('\n'), std::string::npos);
    // Exactly width-1 columns after the carriage return (never wraps, always overwrites).
    EXPECT_EQ(static_cast<int>(bar.size()) - 1, std::max(width, 20) - 1);
  }
  const std::string wide = RenderProgressBar(f, 120);
  EXPECT_NE(wide.find("[####################--------------------] 50/100"), std::string::npos)
      << wide;
  EXPECT_NE(wide.find("2.0 writes/s  headroom 9  ETA 30s"), std::string::npos) << wide;
  f.requests_per_second = 16;
  const std::string with_requests = RenderProgressBar(f, 120);
  EXPECT_NE(with_requests.find("2.0 writes/s  16.0 req/s  headroom 9  ETA 30s"), std::string::npos)
      << with_requests;
  EXPECT_EQ(with_requests.size(), wide.size());
  // Too narrow for a bar: the figures alone, cut at the width.
  const std::string narrow = RenderProgressBar(f, 30);
  EXPECT_EQ(narrow.find('['), std::string::npos);
  EXPECT_EQ(narrow.substr(1, 6), "50/100");
}

TEST(Progress, SnapshotFromStatus) {
  auto j = nlohmann::json::parse(
      R"({"progress": {"pending_total": 12, "mutations_done_total": 30, "auth0_headroom": 7,
          "auth0_requests_total": 41}})");
  auto s = ProgressSnapshotFromStatus(j, 99);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->at_ms, 99);
  EXPECT_EQ(s->pending, 12);
  EXPECT_EQ(s->writes_done, 30);
  EXPECT_EQ(s->headroom, 7);
  EXPECT_EQ(s->requests_done, 41);
  EXPECT_FALSE(s->writes_left.has_value()) << "an older daemon does not estimate it";
  auto w = ProgressSnapshotFromStatus(
      nlohmann::json::parse(R"({"progress": {"pending_total": 3, "writes_left_estimate": 250}})"),
      0);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->writes_left, 250);
  auto none = ProgressSnapshotFromStatus(nlohmann::json::parse(R"({"progress": {"pending_total": 1,
      "auth0_headroom": null}})"),
                                         0);
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->headroom.has_value());
  EXPECT_FALSE(none->requests_done.has_value());
  EXPECT_FALSE(ProgressSnapshotFromStatus(nlohmann::json::parse(R"({"events": {}})"), 0));
}

}  // namespace
}  // namespace tenantsync
