#include "common/json_text.h"

#include <array>
#include <charconv>

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

}  // namespace tenantsync
