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

// Random values of every JSON type, nested up to five levels; `random_string` draws the strings
// (keys included), and one number in `float_one_in` is a double.
json RandomValue(std::mt19937_64& rng, const std::function<std::string()>& random_string,
                 int float_one_in, int depth = 0) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  switch (pick(depth > 3 ? 7 : 9)) {
    case 0:
      return nullptr;
    case 1:
      return pick(2) == 0;
    case 2:
      return static_cast<std::int64_t>(rng());
    case 3:
      return static_cast<std::uint64_t>(rng() >> pick(64));
    case 4:
      if (pick(float_one_in) == 0)
        return std::ldexp(static_cast<double>(static_cast<std::int64_t>(rng())), pick(80) - 40);
      return static_cast<std::int64_t>(pick(2000)) - 1000;
    case 5:
    case 6:
      return random_string();
    case 7: {
      json o = json::object();
      for (int i = pick(5); i > 0; --i)
        o[random_string()] = RandomValue(rng, random_string, float_one_in, depth + 1);
      return o;
    }
    default: {
      json a = json::array();
      for (int i = pick(5); i > 0; --i)
        a.push_back(RandomValue(rng, random_string, float_one_in, depth + 1));
      return a;
    }
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
  int compared = 0, refused = 0;
  for (int i = 0; i < 5000; ++i) {
    const json v = RandomValue(rng, random_string, 2);
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

namespace tenantsync {
namespace {

// Same values of the same JSON types all the way down (== treats 1 and 1u and 1.0 alike).
bool SameTypes(const json& a, const json& b) {
  if (a.type() != b.type() || a != b) return false;
  if (a.is_object()) {
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib)
      if (ia.key() != ib.key() || !SameTypes(*ia, *ib)) return false;
  }
  if (a.is_array()) {
    for (size_t i = 0; i < a.size(); ++i)
      if (!SameTypes(a[i], b[i])) return false;
  }
  return true;
}

// ParseCompactJson's promise: whatever it accepts, nlohmann's parse accepts too and reads the
// same; `accepted` counts the texts it took.
void ExpectAgreesWithNlohmann(const std::string& text, int* accepted = nullptr) {
  const auto fast = ParseCompactJson(text);
  if (!fast) return;
  const json reference = json::parse(text, nullptr, false);
  ASSERT_FALSE(reference.is_discarded())
      << "accepted what nlohmann refuses: "
      << json(text).dump(-1, ' ', false, json::error_handler_t::replace);
  ASSERT_TRUE(SameTypes(*fast, reference))
      << "text " << json(text).dump(-1, ' ', false, json::error_handler_t::replace) << " read as "
      << fast->dump() << ", nlohmann reads " << reference.dump();
  if (accepted != nullptr) ++*accepted;
}

TEST(ParseCompactJson, ReadsTheSubsetAndLeavesTheRestToNlohmann) {
  struct Case {
    std::string text;
    std::optional<json> read;  // nullopt: left to nlohmann
  };
  const Case cases[] = {
      {R"({"a":{"ev":"hr/1","rt":2,"ts":3,"v":"x@y.co"}})",
       json{{"a", {{"ev", "hr/1"}, {"rt", 2u}, {"ts", 3u}, {"v", "x@y.co"}}}}},
      {R"([true,false,null,-1,0,[],{}])",
       json::array({true, false, nullptr, -1, 0u, json::array(), json::object()})},
      {R"("q\"b\\s\/n\nr\rt\tb\bf\f")", json("q\"b\\s/n\nr\rt\tb\bf\f")},
      {"\"Jos\xc3\xa9 \xe5\xb1\xb1 \xf0\x9f\x98\x80\"",
       json("Jos\xc3\xa9 \xe5\xb1\xb1 \xf0\x9f\x98\x80")},
      {R"({"a":1,"a":2})", json{{"a", 2u}}},  // the last of repeated keys, as nlohmann
      {"18446744073709551615", json(std::numeric_limits<std::uint64_t>::max())},
      {"-9223372036854775808", json(std::numeric_limits<std::int64_t>::min())},
      {"18446744073709551616", std::nullopt},  // beyond 64 bits: nlohmann reads a double
      {"-9223372036854775809", std::nullopt},
      {"-0", std::nullopt},
      {"01", std::nullopt},
      {"1.5", std::nullopt},
      {"1e3", std::nullopt},
      {R"("\u0041")", std::nullopt},
      {" {}", std::nullopt},
      {"{} ", std::nullopt},
      {"{\"a\": 1}", std::nullopt},
      {"\xef\xbb\xbf{}", std::nullopt},  // a byte order mark
      {"", std::nullopt},
      {"tru", std::nullopt},
      {"truex", std::nullopt},
      {"\"a\x01\"", std::nullopt},
      {"\"\xed\xa0\x80\"", std::nullopt},      // a UTF-16 surrogate
      {"\"\xc0\xaf\"", std::nullopt},          // an overlong form
      {"\"\xf4\x90\x80\x80\"", std::nullopt},  // above U+10FFFF
      {"\"abc", std::nullopt},
      {"{\"a\":1,}", std::nullopt},
      {std::string(129, '[') + std::string(129, ']'), std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const auto got = ParseCompactJson(c.text);
    ASSERT_EQ(got.has_value(), c.read.has_value());
    if (got) {
      EXPECT_TRUE(SameTypes(*got, *c.read)) << got->dump();
    }
    ExpectAgreesWithNlohmann(c.text);
  }
  EXPECT_TRUE(ParseCompactJson(std::string(128, '[') + std::string(128, ']')).has_value());
}

// Random documents as CompactJson writes them are read back as nlohmann reads them, the most
// of them by ParseCompactJson itself; and each broken at random — a byte replaced, dropped or
// added, the text cut short — is either left to nlohmann or read as nlohmann reads it.
TEST(ParseCompactJson, PropertyAgreesWithNlohmannOnWrittenAndBrokenTexts) {
  std::mt19937_64 rng(20261203);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  static const char* const pieces[] = {"a", "Z",    "0",    " ",           "\"", "\\",
                                       "/", "\n",   "\x01", "\x7f",        "é",  "山",
                                       "😀", "\xff", "\xc3", "\xed\xa0\x80"};
  auto random_string = [&]() {
    std::string s;
    for (int i = pick(14); i > 0; --i) s += pick(3) == 0 ? pieces[pick(16)] : "k";
    return s;
  };
  static const char kBytes[] = "{}[]\":,\\-.0123456789eEtfnu \x01\x1f\x7f\x80\xbf\xc3\xed\xf4\xff";
  int written = 0, accepted = 0, broken_accepted = 0;
  for (int i = 0; i < 4000; ++i) {
    const json v = RandomValue(rng, random_string, 8);
    std::string text;
    try {
      text = CompactJson(v);
    } catch (const json::type_error&) {
      continue;  // not valid UTF-8: never stored
    }
    ++written;
    ASSERT_NO_FATAL_FAILURE(ExpectAgreesWithNlohmann(text, &accepted));
    for (int m = 0; m < 8; ++m) {
      std::string broken = text;
      const size_t at = broken.empty() ? 0 : static_cast<size_t>(rng() % broken.size());
      switch (pick(4)) {
        case 0:
          if (!broken.empty()) broken[at] = kBytes[pick(sizeof kBytes - 1)];
          break;
        case 1:
          if (!broken.empty()) broken.erase(at, 1);
          break;
        case 2:
          broken.insert(at, 1, kBytes[pick(sizeof kBytes - 1)]);
          break;
        default:
          broken.resize(at);
          break;
      }
      ASSERT_NO_FATAL_FAILURE(ExpectAgreesWithNlohmann(broken, &broken_accepted));
    }
  }
  EXPECT_GT(written, 3000);
  EXPECT_GT(accepted, written / 2) << "most written documents are read without nlohmann";
  EXPECT_GT(broken_accepted, 1000) << "broken texts that are still JSON were compared too";
}

}  // namespace
}  // namespace tenantsync
