#include "common/json_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <string>

namespace tenantsync {
namespace {

using nlohmann::json;

// What dump() writes, or nothing when it refuses the value (invalid UTF-8).
std::optional<std::string> Dump(const json& v) {
  try {
    return v.dump();
  } catch (const json::type_error&) {
    return std::nullopt;
  }
}

TEST(CompactJson, WritesWhatDumpWrites) {
  const std::vector<json> values = {
      json(nullptr),
      json(true),
      json(false),
      json(0),
      json(-1),
      json(std::numeric_limits<std::int64_t>::min()),
      json(std::numeric_limits<std::int64_t>::max()),
      json(std::numeric_limits<std::uint64_t>::max()),
      json(0.1),
      json(-0.0),
      json(1e300),
      json(std::nan("")),
      json(""),
      json("plain text"),
      json("a \"quote\" and a \\ backslash"),
      json(std::string("nul\0byte", 8)),
      json("tab\there\nnewline\x1f\x7f"),
      json("José Müller 山田"),
      json::object(),
      json::array(),
      json{{"v", "x@example.com"}, {"ts", 1764064800000}, {"ev", "hr/evt-1"}, {"rt", 17}},
      json{{"b", json::array({1, "two", nullptr, json::object()})}, {"a", {{"nested", true}}}},
      json::binary({1, 2, 3}),
  };
  for (const auto& v : values) EXPECT_EQ(CompactJson(v), v.dump()) << v.dump();
}

TEST(CompactJson, RefusesInvalidUtf8LikeDump) {
  for (const std::string& bad : {std::string("\xff"), std::string("caf\xe9"), std::string("\xc3"),
                                 std::string("ok\xed\xa0\x80")}) {
    const json v = {{"name", bad}};
    EXPECT_THROW(v.dump(), json::type_error);
    EXPECT_THROW(CompactJson(v), json::type_error) << "an invalid string must not be stored";
    const json key = {{bad, 1}};
    EXPECT_THROW(CompactJson(key), json::type_error);
  }
}

TEST(CompactJson, EveryByteInAStringIsWrittenAsDumpWritesIt) {
  // Each byte alone, between plain text, as a key and as a value: written unchanged, escaped, or
  // refused (a lone byte >= 0x80 is not UTF-8) exactly as dump() does.
  for (int b = 0; b < 256; ++b) {
    const std::string s = "ab" + std::string(1, static_cast<char>(b)) + "cd";
    for (const json& v : {json(s), json{{s, 1}}}) {
      if (auto want = Dump(v)) {
        EXPECT_EQ(CompactJson(v), *want) << "byte " << b;
      } else {
        EXPECT_THROW(CompactJson(v), json::type_error) << "byte " << b;
      }
    }
  }
}

// The string on its own (how the store lists keys for one statement): each byte between plain
// text appended after what `out` held, as dump() writes the string, or refused like it.
TEST(AppendJsonString, AppendsWhatDumpWritesForTheString) {
  for (int b = 0; b < 256; ++b) {
    const std::string s = "ab" + std::string(1, static_cast<char>(b)) + "cd";
    std::string out = "[1,";
    if (auto want = Dump(json(s))) {
      AppendJsonString(s, out);
      EXPECT_EQ(out, "[1," + *want) << "byte " << b;
    } else {
      EXPECT_THROW(AppendJsonString(s, out), json::type_error) << "byte " << b;
    }
  }
}

// Random values of every type, strings drawn half from printable ASCII and its edges (quote,
// backslash, 0x1f, 0x7f, NUL) and half from arbitrary bytes (valid and invalid UTF-8): the text
// equals dump()'s, or both throw.
TEST(CompactJson, PropertyEqualsDumpOnRandomValues) {
  std::mt19937_64 rng(20261202);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  auto random_string = [&]() {
    std::string s;
    const int len = pick(12);
    const bool ascii = pick(2) == 0;
    for (int i = 0; i < len; ++i) {
      if (ascii) {
        static const char edges[] = {'"', '\\', 0x1f, 0x7f, 0x20, 0x7e, '\0'};
        s += pick(6) == 0 ? edges[pick(7)] : static_cast<char>(0x20 + pick(0x5f));
      } else {
        static const char* const pieces[] = {"a", "é", "山", "😀", "\xff", "\xc3", "\n", "\x01"};
        s += pieces[pick(8)];
      }
    }
    return s;
  };
  std::function<json(int)> random_value = [&](int depth) -> json {
    switch (pick(depth > 3 ? 7 : 9)) {
      case 0:
        return nullptr;
      case 1:
        return pick(2) == 0;
      case 2:
        return static_cast<std::int64_t>(rng());
      case 3:
        return static_cast<std::uint64_t>(rng());
      case 4:
        return std::ldexp(static_cast<double>(static_cast<std::int64_t>(rng())), pick(80) - 40);
      case 5:
        return static_cast<std::int64_t>(pick(2000)) - 1000;
      case 6:
        return random_string();
      case 7: {
        json o = json::object();
        for (int i = pick(5); i > 0; --i) o[random_string()] = random_value(depth + 1);
        return o;
      }
      default: {
        json a = json::array();
        for (int i = pick(5); i > 0; --i) a.push_back(random_value(depth + 1));
        return a;
      }
    }
  };
  int compared = 0, refused = 0;
  for (int i = 0; i < 5000; ++i) {
    const json v = random_value(0);
    const auto expected = Dump(v);
    if (!expected) {
      EXPECT_THROW(CompactJson(v), json::type_error);
      ++refused;
      continue;
    }
    ASSERT_EQ(CompactJson(v), *expected);
    ++compared;
  }
  EXPECT_GT(compared, 2500);
  EXPECT_GT(refused, 100);
}

}  // namespace
}  // namespace tenantsync
