#include "common/json_text.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace tenantsync {
namespace {

// ASCII the serializer writes unchanged: no control character, quote or backslash (DEL is written
// as is), and no byte of a multi-byte sequence, whose UTF-8 it must check. One table load per
// byte instead of four comparisons.
constexpr std::array<bool, 256> kPlainByte = [] {
  std::array<bool, 256> t{};
  for (int b = 0x20; b < 0x80; ++b) t[static_cast<size_t>(b)] = b != '"' && b != '\\';
  return t;
}();

bool Plain(const std::string& s) {
  for (const char c : s) {
    if (!kPlainByte[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

void AppendString(const std::string& s, std::string& out) {
  if (Plain(s)) {
    out += '"';
    out += s;
    out += '"';
    return;
  }
  // Escapes, control characters and multi-byte UTF-8 (and its validation) are the serializer's.
  out += nlohmann::json(s).dump();
}

template <typename Int>
void AppendInteger(Int v, std::string& out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

constexpr size_t kStructuredReserve = 512;

}  // namespace

void AppendJsonString(const std::string& s, std::string& out) { AppendString(s, out); }

void AppendCompactJson(const nlohmann::json& value, std::string& out) {
  using Type = nlohmann::json::value_t;
  switch (value.type()) {
    case Type::object: {
      out += '{';
      bool first = true;
      for (auto it = value.cbegin(); it != value.cend(); ++it) {
        if (!first) out += ',';
        first = false;
        AppendString(it.key(), out);
        out += ':';
        AppendCompactJson(it.value(), out);
      }
      out += '}';
      return;
    }
    case Type::array: {
      out += '[';
      bool first = true;
      for (const auto& element : value) {
        if (!first) out += ',';
        first = false;
        AppendCompactJson(element, out);
      }
      out += ']';
      return;
    }
    case Type::string:
      AppendString(value.get_ref<const std::string&>(), out);
      return;
    case Type::boolean:
      out += value.get<bool>() ? "true" : "false";
      return;
    case Type::null:
      out += "null";
      return;
    case Type::number_integer:
      AppendInteger(value.get<std::int64_t>(), out);
      return;
    case Type::number_unsigned:
      AppendInteger(value.get<std::uint64_t>(), out);
      return;
    case Type::number_float:
    case Type::binary:
    case Type::discarded:
      // Shortest round-trip floats, NaN as null, binary and discarded values: as the serializer
      // writes them.
      out += value.dump();
      return;
  }
}

std::string CompactJson(const nlohmann::json& value) {
  std::string out;
  // A desired user or organization is a few hundred bytes: one allocation instead of the
  // string doubling its way there.
  if (value.is_structured()) out.reserve(kStructuredReserve);
  AppendCompactJson(value, out);
  return out;
}

namespace {

// Recursive descent over CompactJson's subset (json_text.h). Every "false" is a refusal: the
// caller's nlohmann parse then accepts or rejects the text, so nothing here decides validity.
class CompactReader {
 public:
  explicit CompactReader(std::string_view text)
      : p_(text.data()), end_(text.data() + text.size()) {}

  bool Read(nlohmann::json& out) { return Value(out, 0) && p_ == end_; }

 private:
  static constexpr int kMaxDepth = 128;

  bool Value(nlohmann::json& out, int depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{':
        return Object(out, depth);
      case '[':
        return Array(out, depth);
      case '"': {
        std::string s;
        if (!String(s)) return false;
        out = std::move(s);
        return true;
      }
      case 't':
        return Literal("true", 4) && (out = true, true);
      case 'f':
        return Literal("false", 5) && (out = false, true);
      case 'n':
        return Literal("null", 4) && (out = nullptr, true);
      default:
        return Integer(out);
    }
  }

  bool Literal(const char* word, size_t n) {
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return false;
    p_ += n;
    return true;
  }

  bool Object(nlohmann::json& out, int depth) {
    if (depth >= kMaxDepth) return false;
    out = nlohmann::json(nlohmann::json::value_t::object);
    auto& members = *out.get_ptr<nlohmann::json::object_t*>();
    return Sequence('}', [&] {
      std::string key;
      if (p_ == end_ || *p_ != '"' || !String(key) || p_ == end_ || *p_ != ':') return false;
      ++p_;
      // A repeated key keeps its last value, as nlohmann's parse does.
      return Value(members[std::move(key)], depth + 1);
    });
  }

  bool Array(nlohmann::json& out, int depth) {
    if (depth >= kMaxDepth) return false;
    out = nlohmann::json(nlohmann::json::value_t::array);
    auto& items = *out.get_ptr<nlohmann::json::array_t*>();
    return Sequence(']', [&] { return Value(items.emplace_back(), depth + 1); });
  }

  // The items of an object or array after its opening byte: none, or `item` then `,` or `close`.
  template <typename Item>
  bool Sequence(char close, Item&& item) {
    ++p_;
    if (p_ != end_ && *p_ == close) {
      ++p_;
      return true;
    }
    while (true) {
      if (!item() || p_ == end_) return false;
      if (*p_ == close) {
        ++p_;
        return true;
      }
      if (*p_ != ',') return false;
      ++p_;
    }
  }

  static bool Continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

  // The length of the well-formed UTF-8 sequence at p (RFC 3629; Unicode table 3-7), 0 if none.
  size_t Utf8Sequence(const char* p) const {
    const auto at = [&](size_t i) {
      return p + i < end_ ? static_cast<unsigned char>(p[i]) : static_cast<unsigned char>(0);
    };
    const unsigned char c = at(0);
    if (c >= 0xC2 && c <= 0xDF) return Continuation(at(1)) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
      const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
      return at(1) >= lo && at(1) <= hi && Continuation(at(2)) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
      const unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
      return at(1) >= lo && at(1) <= hi && Continuation(at(2)) && Continuation(at(3)) ? 4 : 0;
    }
    return 0;
  }

  bool String(std::string& s) {
    ++p_;
    while (true) {
      const char* run = p_;
      while (p_ != end_ && kPlainByte[static_cast<unsigned char>(*p_)]) ++p_;
      s.append(run, static_cast<size_t>(p_ - run));
      if (p_ == end_) return false;
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c >= 0x80) {
        const size_t n = Utf8Sequence(p_);
        if (n == 0) return false;
        s.append(p_, n);
        p_ += n;
        continue;
      }
      if (c != '\\' || ++p_ == end_) return false;  // a control character is not JSON
      switch (*p_) {
        case '"':
        case '\\':
        case '/':
          s += *p_;
          break;
        case 'b':
          s += '\b';
          break;
        case 'f':
          s += '\f';
          break;
        case 'n':
          s += '\n';
          break;
        case 'r':
          s += '\r';
          break;
        case 't':
          s += '\t';
          break;
        default:
          return false;  // \u escapes (and invalid ones) are nlohmann's
      }
      ++p_;
    }
  }

  bool Integer(nlohmann::json& out) {
    const char* q = p_;
    const bool negative = *q == '-';
    if (negative) ++q;
    if (q == end_ || *q < '0' || *q > '9') return false;
    if (*q == '0') {
      ++q;
      if (negative) return false;  // -0
    } else {
      while (q != end_ && *q >= '0' && *q <= '9') ++q;
    }
    // A fraction, an exponent or a leading zero's digits: nlohmann's to read or refuse.
    if (q != end_ && (*q == '.' || *q == 'e' || *q == 'E' || (*q >= '0' && *q <= '9')))
      return false;
    if (negative) {
      std::int64_t v = 0;
      const auto r = std::from_chars(p_, q, v);
      if (r.ec != std::errc() || r.ptr != q) return false;
      out = v;
    } else {
      std::uint64_t v = 0;
      const auto r = std::from_chars(p_, q, v);
      if (r.ec != std::errc() || r.ptr != q) return false;
      out = v;
    }
    p_ = q;
    return true;
  }

  const char* p_;
  const char* const end_;
};

}  // namespace

std::optional<nlohmann::json> ParseCompactJson(std::string_view text) {
  nlohmann::json out;
  if (!CompactReader(text).Read(out)) return std::nullopt;
  return out;
}

}  // namespace tenantsync
