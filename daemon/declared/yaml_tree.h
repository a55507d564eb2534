// A document read from YAML or JSON text as JSON values, with the line each value starts on.
//
// The one place that sees yaml-cpp is yaml_tree.cpp; everything else works on nlohmann::json.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace tenantsync::declared {

struct LocatedDocument {
  nlohmann::json value;              // null for an empty document
  std::map<std::string, int> lines;  // RFC 6901 JSON pointer of a value → its 1-based line
};

struct TreeProblem {
  int line = 0;         // 1-based; 0 when unknown
  std::string pointer;  // RFC 6901 pointer of the value concerned ("" = the whole document)
  std::string message;
};

// YAML 1.2 text (one document) → JSON. Plain scalars resolve with the YAML 1.2 core schema
// (null, true/false, integers, floats; everything else is a string, so `yes` stays a string);
// quoted scalars and `!!str` are strings. Mapping keys are taken as strings.
// Problems: syntax errors (then false is returned), more than one document, duplicate keys,
// keys that are not scalars, NaN/infinity, unknown tags, nesting deeper than 64 levels, more
// than 10 million values after alias expansion. Non-fatal problems still give a document
// (the offending value left out) and true. Never throws.
bool LoadYaml(std::string_view text, LocatedDocument* out, std::vector<TreeProblem>* problems);

// The core-schema tests LoadYaml resolves plain scalars with: digits (decimal, or hex after
// "0x", octal after "0o") and floats. The emitter (emit.cpp) quotes every string they would not
// read back as a string, so both sides share them.
bool IsDigits(std::string_view s, bool hex = false, bool octal = false);
bool IsCoreFloat(std::string_view s);

// RFC 6901 pointer helpers.
std::string PointerChild(const std::string& pointer, std::string_view key);
std::string PointerIndex(const std::string& pointer, size_t index);

}  // namespace tenantsync::declared
