// LogStore (tests/auth0-sim/logs.h): the log query language, search paging and sorting, checkpoint
// paging and a user's logs, without HTTP.
#include "tests/auth0-sim/logs.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

namespace tenantsync::sim {
namespace {

using Json = nlohmann::json;

// 2026-11-30T10:00:00.000Z
constexpr int64_t kT0 = 1796032800000;

struct ParseCase {
  std::string q;
  std::vector<LogTerm> terms;  // expected when `ok`
  bool ok;
  std::string mention;  // in the error message when !ok
};
ParseCase Good(std::string q, std::vector<LogTerm> terms) {
  return {std::move(q), std::move(terms), true, ""};
}
ParseCase Bad(std::string q, std::string mention) {
  return {std::move(q), {}, false, std::move(mention)};
}

TEST(LogQueryTest, ParsesTheSupportedFormsAndRefusesTheRest) {
  const std::vector<ParseCase> cases = {
      Good("", {}),
      Good("   ", {}),
      Good("type:s", {{"type", {"s"}}}),
      Good(R"(user_id:"auth0|abc123")", {{"user_id", {"auth0|abc123"}}}),
      Good("user_id:auth0|abc123", {{"user_id", {"auth0|abc123"}}}),
      Good("type:(s OR f)", {{"type", {"s", "f"}}}),
      Good("type:( s OR fp OR fu )", {{"type", {"s", "fp", "fu"}}}),
      Good(R"(type:s AND user_id:"auth0|1")", {{"type", {"s"}}, {"user_id", {"auth0|1"}}}),
      Good(R"(type:(f OR fp) AND ip:"10.0.0.1" AND date:2026-11-30)",
           {{"type", {"f", "fp"}}, {"ip", {"10.0.0.1"}}, {"date", {"2026-11-30"}}}),
      Good(R"(description:"user is blocked")", {{"description", {"user is blocked"}}}),
      Good(R"(user_name:"a \"quoted\" name")", {{"user_name", {"a \"quoted\" name"}}}),
      // Refused: syntax errors.
      Bad("type:", "Invalid query"),
      Bad("type:s AND", "Invalid query"),
      Bad(R"(user_id:"unterminated)", "Invalid query"),
      Bad("type:(s OR", "Invalid query"),
      Bad("type:(s f)", "Invalid query"),
      Bad("type:s)", "Invalid query"),
      // Refused: valid Lucene the simulator does not implement, said so.
      Bad("type:s OR type:f", "OR between terms"),
      Bad("type:s type:f", "without AND"),
      Bad("NOT type:s", "NOT"),
      Bad("-type:s", "prefix"),
      Bad("(type:s AND ip:1)", "grouping"),
      Bad("blocked", "without a field name"),
      Bad("user_name:jo*", "wildcards"),
      Bad("date:[2026-01-01 TO 2026-12-31]", "range"),
      Bad("details.error:x", "the field 'details.error'"),
      Bad("type:(s AND f)", "AND inside parentheses"),
  };
  for (const auto& c : cases) {
    auto parsed = ParseLogQuery(c.q);
    if (c.ok) {
      ASSERT_TRUE(std::holds_alternative<std::vector<LogTerm>>(parsed))
          << c.q << ": " << std::get<LogError>(parsed).message;
      EXPECT_EQ(std::get<std::vector<LogTerm>>(parsed), c.terms) << c.q;
    } else {
      ASSERT_TRUE(std::holds_alternative<LogError>(parsed)) << c.q << " was accepted";
      const LogError& e = std::get<LogError>(parsed);
      EXPECT_EQ(e.status, 400) << c.q;
      EXPECT_EQ(e.error_code, "invalid_query_string") << c.q;
      EXPECT_NE(e.message.find("on property q"), std::string::npos) << e.message;
      EXPECT_NE(e.message.find(c.mention), std::string::npos) << c.q << ": " << e.message;
    }
  }
}

class LogStoreTest : public ::testing::Test {
 protected:
  // Events one second apart: logins of two users and an API write.
  void SetUp() override {
    Add({{"type", "sapi"}, {"user_id", ""}, {"description", "Create a User"}});        // 0
    Add({{"type", "s"}, {"user_id", "auth0|a"}, {"ip", "10.0.0.1"}});                  // 1
    Add({{"type", "fp"}, {"user_id", "auth0|a"}, {"ip", "10.0.0.2"}});                 // 2
    Add({{"type", "s"}, {"user_id", "auth0|b"}, {"ip", "10.0.0.1"}});                  // 3
    Add({{"type", "f"}, {"user_id", "auth0|a"}, {"description", "user is blocked"}});  // 4
  }
  void Add(Json e) {
    ids_.push_back(store_.Append(std::move(e), kT0 + 1000 * static_cast<int64_t>(ids_.size())));
  }
  Json Ok(const LogAnswer& a) {
    if (const auto* e = std::get_if<LogError>(&a)) {
      ADD_FAILURE() << e->message;
      return nullptr;
    }
    return std::get<Json>(a);
  }
  LogError Err(const LogAnswer& a) {
    EXPECT_TRUE(std::holds_alternative<LogError>(a)) << std::get<Json>(a).dump();
    return std::holds_alternative<LogError>(a) ? std::get<LogError>(a) : LogError{};
  }
  // The log_ids of an answer (a bare array), as indexes into ids_.
  std::vector<int> Indexes(const Json& arr) {
    std::vector<int> out;
    for (const auto& e : arr) {
      auto it = std::find(ids_.begin(), ids_.end(), e["log_id"].get<std::string>());
      out.push_back(it == ids_.end() ? -1 : static_cast<int>(it - ids_.begin()));
    }
    return out;
  }

  LogStore store_;
  std::vector<std::string> ids_;
};

TEST_F(LogStoreTest, StampsDateAndGrowingLogIds) {
  const auto& events = store_.events();
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0]["date"], "2026-11-30T10:00:00.000Z");
  EXPECT_EQ(events[4]["date"], "2026-11-30T10:00:04.000Z");
  for (size_t i = 0; i < ids_.size(); ++i) {
    EXPECT_EQ(ids_[i].size(), 56u) << ids_[i];
    EXPECT_TRUE(ids_[i].starts_with("90020261130100")) << ids_[i];
    if (i > 0) {
      EXPECT_LT(ids_[i - 1], ids_[i]);
    }
  }
  ASSERT_TRUE(store_.Get(ids_[2]).has_value());
  EXPECT_EQ((*store_.Get(ids_[2]))["type"], "fp");
  EXPECT_FALSE(store_.Get("900").has_value());
  EXPECT_FALSE(store_.Get(std::string(56, '9')).has_value());
}

TEST_F(LogStoreTest, SearchFiltersSortsAndPages) {
  struct Case {
    LogParams params;
    std::vector<int> want;
  };
  const std::vector<Case> cases = {
      {{}, {4, 3, 2, 1, 0}},  // newest first by default
      {{{"sort", "date:1"}}, {0, 1, 2, 3, 4}},
      {{{"sort", "date:-1"}}, {4, 3, 2, 1, 0}},
      {{{"q", "type:s"}}, {3, 1}},
      {{{"q", "type:(s OR f)"}, {"sort", "date:1"}}, {1, 3, 4}},
      {{{"q", R"(user_id:"auth0|a")"}, {"sort", "date:1"}}, {1, 2, 4}},
      {{{"q", R"(user_id:"auth0|a" AND type:(s OR fp))"}}, {2, 1}},
      {{{"q", R"(ip:"10.0.0.1" AND type:s)"}}, {3, 1}},
      {{{"q", "description:\"user is blocked\""}}, {4}},
      {{{"q", "date:2026-11-30"}, {"sort", "date:1"}}, {0, 1, 2, 3, 4}},
      {{{"q", "date:2026-11-29"}}, {}},
      {{{"q", "type:slo"}}, {}},
      {{{"per_page", "2"}}, {4, 3}},
      {{{"per_page", "2"}, {"page", "1"}}, {2, 1}},
      {{{"per_page", "2"}, {"page", "2"}}, {0}},
      {{{"per_page", "2"}, {"page", "3"}}, {}},
      {{{"per_page", "2"}, {"page", "1"}, {"sort", "date:1"}}, {2, 3}},
  };
  for (const auto& c : cases) {
    Json got = Ok(store_.Search(c.params));
    ASSERT_TRUE(got.is_array()) << got.dump();
    std::string desc;
    for (const auto& [k, v] : c.params) desc += k + "=" + v + " ";
    EXPECT_EQ(Indexes(got), c.want) << desc;
  }
}

TEST_F(LogStoreTest, IncludeTotalsAndFields) {
  Json page = Ok(store_.Search({{"q", "type:s"}, {"include_totals", "true"}, {"per_page", "1"}}));
  EXPECT_EQ(page["total"], 2);
  EXPECT_EQ(page["start"], 0);
  EXPECT_EQ(page["limit"], 1);
  EXPECT_EQ(page["length"], 1);
  EXPECT_EQ(Indexes(page["logs"]), std::vector<int>({3}));

  Json only = Ok(store_.Search({{"fields", "type,log_id"}, {"include_fields", "true"}}));
  ASSERT_EQ(only.size(), 5u);
  EXPECT_EQ(only[0].size(), 2u) << only[0].dump();
  Json without = Ok(store_.Search({{"fields", "details,ip"}, {"include_fields", "false"}}));
  EXPECT_FALSE(without[1].contains("ip")) << without[1].dump();
  EXPECT_TRUE(without[1].contains("type"));
}

TEST_F(LogStoreTest, RefusesBadParameters) {
  struct Case {
    LogParams params;
    std::string code, mention;
  };
  const std::vector<Case> cases = {
      {{{"per_page", "0"}}, "invalid_query_string", "per_page"},
      {{{"per_page", "101"}}, "invalid_query_string", "per_page"},
      {{{"per_page", "ten"}}, "invalid_query_string", "per_page"},
      {{{"page", "-1"}}, "invalid_query_string", "page"},
      {{{"page", "10"}, {"per_page", "100"}}, "invalid_paging", "checkpoint"},
      {{{"sort", "date"}}, "invalid_query_string", "sort"},
      {{{"sort", "date:2"}}, "invalid_query_string", "sort"},
      {{{"sort", "password:1"}}, "invalid_query_string", "sort"},
      {{{"q", "type:s OR type:f"}}, "invalid_query_string", "auth0-sim"},
      {{{"from", "not-a-log-id"}}, "invalid_query_string", "from"},
      {{{"take", "0"}}, "invalid_query_string", "take"},
      {{{"take", "101"}}, "invalid_query_string", "take"},
  };
  for (const auto& c : cases) {
    LogError e = Err(store_.Search(c.params));
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.error_code, c.code) << e.message;
    EXPECT_NE(e.message.find(c.mention), std::string::npos) << e.message;
  }
  EXPECT_EQ(Err(store_.UserLogs("auth0|a", {{"per_page", "500"}})).status, 400);
}

TEST_F(LogStoreTest, CheckpointWalksEveryEventOnceInLogIdOrder) {
  // from/take ignore every other parameter (q, sort, page) and go oldest to newest.
  struct Case {
    LogParams params;
    std::vector<int> want;
  };
  const std::vector<Case> cases = {
      {{{"take", "2"}}, {0, 1}},
      {{{"from", ids_[0]}, {"take", "2"}}, {1, 2}},
      {{{"from", ids_[1]}}, {2, 3, 4}},
      {{{"from", ids_[2]}, {"take", "2"}, {"q", "type:s"}, {"sort", "date:-1"}}, {3, 4}},
      {{{"from", ids_[4]}}, {}},
  };
  for (const auto& c : cases) {
    Json got = Ok(store_.Search(c.params));
    ASSERT_TRUE(got.is_array()) << got.dump();
    EXPECT_EQ(Indexes(got), c.want);
  }
  // A consumer following its checkpoint sees each event exactly once, new ones included.
  std::vector<int> seen;
  std::string from = "";
  for (int round = 0; round < 10; ++round) {
    if (round == 2) Add({{"type", "s"}, {"user_id", "auth0|c"}});
    LogParams p = {{"take", "2"}};
    if (!from.empty()) p["from"] = from;
    Json page = Ok(store_.Search(p));
    if (page.empty()) {
      if (round > 3) break;
      continue;
    }
    for (int i : Indexes(page)) seen.push_back(i);
    from = page.back()["log_id"];
  }
  EXPECT_EQ(seen, std::vector<int>({0, 1, 2, 3, 4, 5}));
}

TEST_F(LogStoreTest, UserLogsAreTheUsersEventsOnly) {
  EXPECT_EQ(Indexes(Ok(store_.UserLogs("auth0|a", {}))), std::vector<int>({4, 2, 1}));
  EXPECT_EQ(Indexes(Ok(store_.UserLogs("auth0|a", {{"sort", "date:1"}, {"per_page", "2"}}))),
            std::vector<int>({1, 2}));
  EXPECT_EQ(Indexes(Ok(store_.UserLogs("auth0|b", {}))), std::vector<int>({3}));
  // The sapi event has an empty user_id: it belongs to no user.
  EXPECT_TRUE(Ok(store_.UserLogs("", {})).empty());
  EXPECT_TRUE(Ok(store_.UserLogs("auth0|nobody", {})).empty());
  Json totals = Ok(store_.UserLogs("auth0|a", {{"include_totals", "true"}, {"per_page", "1"}}));
  EXPECT_EQ(totals["total"], 3);
  EXPECT_EQ(totals["length"], 1);
  EXPECT_EQ(Indexes(totals["logs"]), std::vector<int>({4}));
}

TEST(LogStoreCapacityTest, DropsTheOldestBeyondCapacity) {
  LogStore store(3);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(store.Append({{"type", "s"}}, kT0 + i));
  ASSERT_EQ(store.size(), 3u);
  EXPECT_EQ(store.events().front()["log_id"], ids[2]);
  EXPECT_FALSE(store.Get(ids[0]).has_value());
  // A checkpoint older than what is kept still resumes at the oldest kept event.
  Json page = std::get<Json>(store.Search({{"from", ids[0]}}));
  ASSERT_EQ(page.size(), 3u);
  EXPECT_EQ(page[0]["log_id"], ids[2]);
  store.Clear();
  EXPECT_EQ(store.size(), 0u);
}

}  // namespace
}  // namespace tenantsync::sim
