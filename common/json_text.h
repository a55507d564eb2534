// Compact JSON text of an nlohmann::json value, byte for byte what `value.dump()` writes, for the
// values stored once per event (an entity's desired and known state): nlohmann's serializer
// decodes every string byte by byte as UTF-8 to escape it, ~9,000 instructions per desired user,
// where a string of printable ASCII without a quote or backslash — nearly every key and most
// values — is written unchanged between quotes.
//
// Pure and thread-safe. Errors exactly as `dump()`: a string that is not valid UTF-8 throws
// nlohmann::json::type_error (316), so what was refused before is refused still.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace tenantsync {

// Equals value.dump() (indent -1, ensure_ascii false, strict UTF-8) for every value.
std::string CompactJson(const nlohmann::json& value);

// Appends CompactJson(value) to `out`.
void AppendCompactJson(const nlohmann::json& value, std::string& out);

// Appends `s` as a JSON string: CompactJson(nlohmann::json(s)), without building the value.
void AppendJsonString(const std::string& s, std::string& out);

// Reads back what CompactJson writes, without nlohmann's lexer: it reads a stored document
// byte by byte, recording each for its error messages, ~110 instructions per byte — the largest
// cost of folding an event into an entity already stored (issue 13, CPU per event).
//
// Accepts a strict subset of JSON: no whitespace, strings of printable ASCII and well-formed
// UTF-8 with the escapes \" \\ \/ \b \f \n \r \t, integers (no fraction, no exponent, no -0)
// that fit 64 bits, true, false, null, nesting to 128 levels. Anything else, valid JSON or not,
// gives nullopt: the caller parses it with nlohmann. What it accepts it returns exactly as
// nlohmann::json::parse(text) would — the same values of the same types (an integer that is not
// negative as number_unsigned, a negative one as number_integer), the last of repeated keys —
// which json_text_test checks on random documents and on texts broken at random.
// Pure and thread-safe; never throws but std::bad_alloc.
std::optional<nlohmann::json> ParseCompactJson(std::string_view text);

}  // namespace tenantsync
