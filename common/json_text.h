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
#include <string>

namespace tenantsync {

// Equals value.dump() (indent -1, ensure_ascii false, strict UTF-8) for every value.
std::string CompactJson(const nlohmann::json& value);

// Appends CompactJson(value) to `out`.
void AppendCompactJson(const nlohmann::json& value, std::string& out);

// Appends `s` as a JSON string: CompactJson(nlohmann::json(s)), without building the value.
void AppendJsonString(const std::string& s, std::string& out);

}  // namespace tenantsync
