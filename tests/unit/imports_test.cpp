// Users import planning (daemon/planning/imports.h): which users go into which import file.
// Pure: table-driven cases and a property test with a fixed seed.
#include "daemon/planning/imports.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "daemon/desired_state.h"

namespace tenantsync {
namespace {

using Json = nlohmann::json;

constexpr int64_t kNow = 1'800'000'000'000;

EntityRow User(const std::string& ext, const std::vector<std::pair<std::string, Json>>& fields,
               std::optional<std::string> auth0_id = std::nullopt) {
  EntityRow r;
  r.kind = EntityKind::kUser;
  r.external_id = ext;
  r.exists = true;
  r.auth0_id = std::move(auth0_id);
  for (auto& [f, v] : fields) SetField(r.desired, f, v, FieldStamp{kNow - 1000, "hr/" + ext, 0});
  return r;
}

TEST(ImportUserId, DeterministicDistinctAndShapedForAuth0) {
  EXPECT_EQ(ImportUserId("e1"), ImportUserId("e1"));
  EXPECT_NE(ImportUserId("e1"), ImportUserId("e2"));
  EXPECT_EQ(ImportUserId("e1").size(), 34u);
  EXPECT_EQ(ImportUserId("e1").rfind("ts", 0), 0u);
  EXPECT_EQ(Auth0ImportedId("e1"), "auth0|" + ImportUserId("e1"));
}

TEST(ImportRecord, OnlyOrdinaryPendingCreates) {
  PlanPolicy policy;
  struct Case {
    const char* name;
    EntityRow user;
    bool eligible;
  };
  const std::vector<Case> cases = {
      {"pending create", User("a", {{"email", "a@x.io"}, {"name", "A"}}), true},
      {"no email yet", User("b", {{"name", "B"}}), false},
      {"already created", User("c", {{"email", "c@x.io"}}, "auth0|c"), false},
      {"blocked", User("d", {{"email", "d@x.io"}, {"blocked", true}}), false},
      {"left (created blocked)", User("e", {{"email", "e@x.io"}, {"left", true}}), false},
      {"deleted", User("f", {{"email", "f@x.io"}, {"deleted", true}}), false},
  };
  for (const auto& c : cases) {
    auto record = ImportRecord(c.user, policy, kNow);
    EXPECT_EQ(record.has_value(), c.eligible) << c.name;
  }
  auto record = ImportRecord(
      User("a", {{"email", "a@x.io"}, {"name", "A"}, {"app_metadata.plan", "gold"}}), policy, kNow);
  ASSERT_TRUE(record);
  EXPECT_EQ((*record)["user_id"], ImportUserId("a"));
  EXPECT_EQ((*record)["email"], "a@x.io");
  EXPECT_EQ((*record)["name"], "A");
  EXPECT_EQ((*record)["app_metadata"], Json({{"plan", "gold"}}));
  // Never what the users file does not take.
  EXPECT_FALSE(record->contains("connection"));
  EXPECT_FALSE(record->contains("verify_email"));
  EXPECT_FALSE(record->contains("password"));
}

std::vector<std::pair<std::string, Json>> Candidates(int n, size_t pad = 0) {
  std::vector<std::pair<std::string, Json>> out;
  for (int i = 0; i < n; ++i) {
    const std::string ext = "u" + std::to_string(1000 + i);
    out.emplace_back(ext, Json{{"user_id", ImportUserId(ext)},
                               {"email", ext + "@x.io"},
                               {"name", std::string(pad, 'n')}});
  }
  return out;
}

TEST(PlanImports, ThresholdDecides) {
  struct Case {
    int candidates, threshold;
    size_t files, single;
  };
  for (auto c : std::vector<Case>{{49, 50, 0, 49},
                                  {50, 50, 1, 0},
                                  {200, 50, 1, 0},
                                  {200, 0, 0, 200},
                                  {0, 50, 0, 0},
                                  {1, 1, 1, 0}}) {
    ImportPolicy p;
    p.threshold = c.threshold;
    auto plan = PlanImports(Candidates(c.candidates), p);
    EXPECT_EQ(plan.files.size(), c.files) << c.candidates << "/" << c.threshold;
    EXPECT_EQ(plan.single.size(), c.single) << c.candidates << "/" << c.threshold;
  }
}

TEST(PlanImports, FilesStayUnderTheLimitAndOversizedRecordsGoAlone) {
  ImportPolicy p;
  p.threshold = 1;
  p.max_file_bytes = 1000;
  auto candidates = Candidates(30, 100);  // ~150 bytes each: several files
  candidates.emplace_back("zz-huge", Json{{"email", "h@x.io"}, {"name", std::string(2000, 'h')}});
  auto plan = PlanImports(candidates, p);
  ASSERT_GT(plan.files.size(), 1u);
  EXPECT_EQ(plan.single, std::vector<std::string>{"zz-huge"});
  for (auto& f : plan.files) {
    EXPECT_LE(f.json.size(), p.max_file_bytes);
    auto parsed = Json::parse(f.json);
    ASSERT_TRUE(parsed.is_array());
    ASSERT_EQ(parsed.size(), f.users.size());
    for (size_t i = 0; i < f.users.size(); ++i) EXPECT_EQ(parsed[i], f.records[i]);
  }
}

// The executor passes only the first candidates (by external id) of a large backfill and the
// count of all: the threshold is judged on the count, and the files built from such a prefix
// are the first files of the plan of every candidate, except the last, partly filled one.
TEST(PlanImports, CountedCandidatesAndPrefixFiles) {
  struct Case {
    int passed;
    size_t counted;
    int threshold;
    size_t files, single;
  };
  for (auto c : std::vector<Case>{{10, 60, 50, 1, 0},  // 10 of 60 pending: a file, not singles
                                  {10, 49, 50, 0, 10},
                                  {10, 0, 50, 0, 10},     // 0: the passed ones are all
                                  {60, 10, 50, 1, 0}}) {  // never fewer than passed
    ImportPolicy p;
    p.threshold = c.threshold;
    auto plan = PlanImports(Candidates(c.passed), p, c.counted);
    EXPECT_EQ(plan.files.size(), c.files) << c.passed << "/" << c.counted;
    EXPECT_EQ(plan.single.size(), c.single) << c.passed << "/" << c.counted;
  }
  std::mt19937 rng(23);
  for (int round = 0; round < 50; ++round) {
    ImportPolicy p;
    p.threshold = 1;
    p.max_file_bytes = 300 + rng() % 2000;
    auto all = Candidates(200, rng() % 200);
    const size_t prefix = 1 + rng() % all.size();
    std::vector<std::pair<std::string, Json>> first(all.begin(),
                                                    all.begin() + static_cast<long>(prefix));
    auto whole = PlanImports(all, p);
    auto part = PlanImports(first, p, all.size());
    ASSERT_LE(part.files.size(), whole.files.size());
    for (size_t i = 0; i + 1 < part.files.size(); ++i) {
      EXPECT_EQ(part.files[i].json, whole.files[i].json) << "round " << round << " file " << i;
    }
  }
}

// Property: for random candidate sets, every candidate lands exactly once (a file or single),
// files are sorted and under the limit, and the plan does not depend on the input order.
TEST(PlanImports, PropertyPartitionLimitAndDeterminism) {
  std::mt19937 rng(17);
  for (int round = 0; round < 200; ++round) {
    const int n = static_cast<int>(rng() % 120);
    ImportPolicy p;
    p.threshold = static_cast<int>(rng() % 60);
    p.max_file_bytes = 200 + rng() % 3000;
    std::vector<std::pair<std::string, Json>> candidates;
    for (int i = 0; i < n; ++i) {
      const std::string ext = "x" + std::to_string(rng() % 100000) + "-" + std::to_string(i);
      candidates.emplace_back(ext, Json{{"user_id", ImportUserId(ext)},
                                        {"email", ext + "@x.io"},
                                        {"name", std::string(rng() % 400, 'a')}});
    }
    auto shuffled = candidates;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    auto plan = PlanImports(candidates, p);
    auto again = PlanImports(shuffled, p);
    ASSERT_EQ(plan.single, again.single);
    ASSERT_EQ(plan.files.size(), again.files.size());
    std::multiset<std::string> seen;
    std::string previous;
    for (size_t i = 0; i < plan.files.size(); ++i) {
      EXPECT_EQ(plan.files[i].json, again.files[i].json);
      EXPECT_LE(plan.files[i].json.size(), p.max_file_bytes);
      EXPECT_FALSE(plan.files[i].users.empty());
      for (auto& u : plan.files[i].users) {
        EXPECT_LT(previous, u);
        previous = u;
        seen.insert(u);
      }
    }
    for (auto& u : plan.single) seen.insert(u);
    ASSERT_EQ(seen.size(), candidates.size());
    for (auto& [ext, r] : candidates) EXPECT_EQ(seen.count(ext), 1u);
    if (p.threshold == 0 || n < p.threshold) {
      EXPECT_TRUE(plan.files.empty());
    }
  }
}

}  // namespace
}  // namespace tenantsync
