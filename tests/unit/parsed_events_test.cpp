// ParsedEventCache (daemon/parsed_events.h): the parse handed to the writer is only ever the parse
// of the very body the writer reads (issue 13). Its producer is tested in ingress_unit_test.cpp,
// its consumer in writer_test.cpp.
#include "daemon/parsed_events.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <thread>
#include <vector>

#include "tests/support/daemon_fixture.h"

namespace tenantsync {
namespace {

std::string Body(const std::string& external_id, const std::string& email) {
  return testing::EventBody("user.upserted", {{"external_id", external_id}, {"email", email}});
}

ParsedEvent Parse(const std::string& body) {
  auto json = ParseJson(body);
  EXPECT_TRUE(json.ok());
  auto parsed = ParseEvent(*json);
  EXPECT_TRUE(parsed.ok()) << parsed.status().message();
  return std::move(parsed).value();
}

TEST(ParsedEventCache, TakesTheParseOnlyForTheSameBody) {
  ParsedEventCache cache;
  const std::string b1 = Body("u1", "a@example.com");
  ASSERT_NE(cache.Offer("hr", "e1", b1, Parse(b1)), 0u);
  ASSERT_NE(cache.Offer("hr", "e2", b1, Parse(b1)), 0u);
  auto hit = cache.Take("hr", "e1", b1);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->external_id, "u1");
  EXPECT_EQ(hit->data["email"], "a@example.com");
  // Taken: gone.
  EXPECT_FALSE(cache.Take("hr", "e1", b1).has_value());
  // Another body under the same key is not this parse, and the stale entry is removed.
  EXPECT_FALSE(cache.Take("hr", "e2", Body("u1", "b@example.com")).has_value());
  EXPECT_FALSE(cache.Take("hr", "e2", b1).has_value());
  // The same id from another source is another event.
  ASSERT_NE(cache.Offer("crm", "e3", b1, Parse(b1)), 0u);
  EXPECT_FALSE(cache.Take("hr", "e3", b1).has_value());
  EXPECT_TRUE(cache.Take("crm", "e3", b1).has_value());
  EXPECT_EQ(cache.hits(), 2u);
  EXPECT_EQ(cache.misses(), 4u);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ParsedEventCache, TheFirstOfferStaysAndDropRemovesOnlyItsOwnEntry) {
  ParsedEventCache cache;
  const std::string b1 = Body("u1", "a@example.com"), b2 = Body("u1", "b@example.com");
  const uint64_t first = cache.Offer("hr", "e1", b1, Parse(b1));
  ASSERT_NE(first, 0u);
  // A duplicate delivery (same id, another body) while the first is not folded yet.
  const uint64_t second = cache.Offer("hr", "e1", b2, Parse(b2));
  EXPECT_EQ(second, 0u);
  cache.Drop("hr", "e1", second);  // the duplicate's insert stored nothing
  cache.Drop("hr", "e1", first + 1000);
  ASSERT_EQ(cache.size(), 1u);
  EXPECT_TRUE(cache.Take("hr", "e1", b1).has_value());

  const uint64_t third = cache.Offer("hr", "e1", b2, Parse(b2));
  ASSERT_NE(third, 0u);
  EXPECT_NE(third, first);
  cache.Drop("hr", "e1", third);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ParsedEventCache, RefusesOffersWhenFull) {
  ParsedEventCache cache(3);
  const std::string b = Body("u1", "a@example.com");
  for (int i = 0; i < 3; ++i)
    ASSERT_NE(cache.Offer("hr", "e" + std::to_string(i), b, Parse(b)), 0u);
  EXPECT_EQ(cache.Offer("hr", "e3", b, Parse(b)), 0u);
  EXPECT_EQ(cache.size(), 3u);
  ASSERT_TRUE(cache.Take("hr", "e0", b).has_value());
  EXPECT_NE(cache.Offer("hr", "e3", b, Parse(b)), 0u);
}

// Property: random offers, drops and takes (fixed seed) against a model of the contract.
TEST(ParsedEventCache, MatchesTheModelOverRandomOperations) {
  std::mt19937 rng(20261201);
  const size_t capacity = 8;
  ParsedEventCache cache(capacity);
  std::vector<std::string> bodies = {Body("u1", "a@example.com"), Body("u2", "b@example.com"),
                                     Body("u3", "c@example.com")};
  std::vector<ParsedEvent> parses;
  for (auto& b : bodies) parses.push_back(Parse(b));
  struct ModelEntry {
    uint64_t token;
    size_t body;
  };
  std::map<std::string, ModelEntry> model;
  std::map<std::string, uint64_t> tokens_seen;
  for (int step = 0; step < 20000; ++step) {
    const std::string id = "e" + std::to_string(rng() % 12);
    const size_t body = rng() % bodies.size();
    switch (rng() % 3) {
      case 0: {
        const uint64_t token = cache.Offer("hr", id, bodies[body], parses[body]);
        const bool expect_stored = model.size() < capacity && model.count(id) == 0;
        ASSERT_EQ(token != 0, expect_stored) << "step " << step;
        if (token != 0) model[id] = {token, body};
        tokens_seen[id] = token;
        break;
      }
      case 1: {
        const uint64_t token = rng() % 2 ? tokens_seen[id] : tokens_seen[id] + 1;
        cache.Drop("hr", id, token);
        auto it = model.find(id);
        if (token != 0 && it != model.end() && it->second.token == token) model.erase(it);
        break;
      }
      default: {
        auto got = cache.Take("hr", id, bodies[body]);
        auto it = model.find(id);
        const bool expect_hit = it != model.end() && it->second.body == body;
        ASSERT_EQ(got.has_value(), expect_hit) << "step " << step;
        if (got) {
          EXPECT_EQ(got->external_id, parses[body].external_id);
        }
        if (it != model.end()) model.erase(it);
      }
    }
    ASSERT_EQ(cache.size(), model.size()) << "step " << step;
  }
}

TEST(ParsedEventCache, ThreadsOfferingAndTakingEachFindTheirOwn) {
  ParsedEventCache cache(100000);
  const std::string b = Body("u1", "a@example.com");
  const ParsedEvent p = Parse(b);
  std::vector<std::thread> threads;
  std::atomic<int> found{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string id = std::to_string(t) + "-" + std::to_string(i);
        if (cache.Offer("hr", id, b, p) == 0) continue;
        if (cache.Take("hr", id, b)) ++found;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(found.load(), 8000);
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace tenantsync
