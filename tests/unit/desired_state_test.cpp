// SetField: the per-field last-writer-wins merge every folded event goes through
// (daemon/desired_state.h).
#include "daemon/desired_state.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace tenantsync {
namespace {

using nlohmann::json;

// The merge as first written: a new slot built for every change. SetField overwrites a plain
// slot in place instead; both must leave the same document.
bool RebuildingSetField(json& desired, const std::string& field, const json& value,
                        const FieldStamp& stamp) {
  auto it = desired.find(field);
  if (it != desired.end() && it->is_object()) {
    int64_t old_ts = it->value("ts", int64_t{0});
    if (old_ts > stamp.ts_ms) return false;
    if (old_ts == stamp.ts_ms) {
      auto ev = it->find("ev");
      if (ev == it->end() ? stamp.event.empty() : ev->get_ref<const std::string&>() >= stamp.event)
        return false;
    }
  }
  desired[field] = {
      {"v", value}, {"ts", stamp.ts_ms}, {"ev", stamp.event}, {"rt", stamp.received_ms}};
  return true;
}

TEST(SetFieldTest, ANewerEventWinsAnOlderOrEqualOneChangesNothing) {
  json d = json::object();
  EXPECT_TRUE(SetField(d, "email", "a@x.co", {100, "hr/2", 7}));
  EXPECT_EQ(d["email"], (json{{"v", "a@x.co"}, {"ts", 100}, {"ev", "hr/2"}, {"rt", 7}}));
  EXPECT_FALSE(SetField(d, "email", "old@x.co", {99, "hr/9", 8}));   // older
  EXPECT_FALSE(SetField(d, "email", "tie@x.co", {100, "hr/1", 8}));  // same time, smaller key
  EXPECT_FALSE(SetField(d, "email", "dup@x.co", {100, "hr/2", 8}));  // the same event again
  EXPECT_EQ(d["email"]["v"], "a@x.co");
  EXPECT_TRUE(SetField(d, "email", "tie@x.co", {100, "hr/3", 9}));  // same time, larger key
  EXPECT_TRUE(SetField(d, "email", nullptr, {101, "crm/a-much-longer-event-key-than-before", 10}));
  EXPECT_EQ(d["email"], (json{{"v", nullptr},
                              {"ts", 101},
                              {"ev", "crm/a-much-longer-event-key-than-before"},
                              {"rt", 10}}));
  EXPECT_EQ(d.size(), 1u);
}

TEST(SetFieldTest, OverwritingARejectedValueDropsTheMark) {
  json d = {
      {"left", {{"v", true}, {"ts", 5}, {"ev", "hr/1"}, {"rt", 5}, {"rejected", {{"at_ms", 6}}}}}};
  EXPECT_TRUE(SetField(d, "left", false, {6, "hr/2", 7}));
  EXPECT_EQ(d["left"], (json{{"v", false}, {"ts", 6}, {"ev", "hr/2"}, {"rt", 7}}));
}

// Random stored documents — plain slots, slots with a rejected mark or a stray member, slots
// missing members, an event key stored as a number, values that are not slots — and random
// events: SetField and the rebuilding merge agree on the answer and on the document, byte for
// byte.
TEST(SetFieldTest, UpdatingInPlaceLeavesWhatRebuildingTheSlotLeaves) {
  std::mt19937 rng(20261203);
  const std::vector<std::string> fields = {"email", "name", "deleted", "app_metadata.k"};
  const std::vector<std::string> events = {"", "hr/1", "hr/2", "hr/10", "crm/x"};
  auto random_value = [&]() -> json {
    switch (rng() % 6) {
      case 0:
        return nullptr;
      case 1:
        return rng() % 2 == 0;
      case 2:
        return static_cast<int64_t>(rng() % 1000) - 500;
      case 3:
        return std::string(rng() % 40, 'x');
      case 4:
        return json::array({1, "two"});
      default:
        return json{{"nested", std::string(rng() % 20, 'y')}};
    }
  };
  auto random_slot = [&]() -> json {
    json slot = {{"v", random_value()},
                 {"ts", static_cast<int64_t>(rng() % 4)},
                 {"ev", events[rng() % events.size()]},
                 {"rt", static_cast<int64_t>(rng() % 1000)}};
    switch (rng() % 8) {
      case 0:
        slot["rejected"] = {{"at_ms", 1}};
        break;
      case 1:
        slot[rng() % 2 == 0 ? "note" : "w"] = "stray";  // sorted among or after the four
        break;
      case 2:
        slot.erase("rt");
        break;
      case 3:
        slot["ev"] = 12;  // not a string
        slot["ts"] = 0;   // compared on time only when older
        break;
      case 4:
        return random_value();  // not a slot at all
      default:
        break;
    }
    return slot;
  };
  int changed = 0;
  for (int round = 0; round < 3000; ++round) {
    json stored = json::object();
    for (const auto& f : fields) {
      if (rng() % 3 != 0) stored[f] = random_slot();
    }
    json a = stored, b = stored;
    for (int step = 0; step < 3; ++step) {
      const std::string& field = fields[rng() % fields.size()];
      const json value = random_value();
      const FieldStamp stamp{static_cast<int64_t>(rng() % 4), events[rng() % events.size()],
                             static_cast<int64_t>(rng() % 1000)};
      if (a.contains(field) && a[field].is_object() && a[field].contains("ev") &&
          !a[field]["ev"].is_string() && a[field].value("ts", int64_t{0}) == stamp.ts_ms)
        continue;  // both merges refuse to compare a key that is not text (they throw alike)
      const bool got = SetField(a, field, value, stamp);
      const bool want = RebuildingSetField(b, field, value, stamp);
      ASSERT_EQ(got, want) << stored.dump() << " " << field << " " << value.dump();
      ASSERT_EQ(a.dump(), b.dump()) << stored.dump();
      changed += got ? 1 : 0;
    }
  }
  EXPECT_GT(changed, 1000);  // the random events did change documents, plain slots included
}

}  // namespace
}  // namespace tenantsync
