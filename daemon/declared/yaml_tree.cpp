#include "daemon/declared/yaml_tree.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <exception>
#include <set>

namespace tenantsync::declared {

bool IsDigits(std::string_view s, bool hex, bool octal) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool digit = octal ? (c >= '0' && c <= '7') : (c >= '0' && c <= '9');
    const bool hexdigit = hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
    if (!digit && !hexdigit) return false;
  }
  return true;
}

// YAML 1.2 core schema float: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
bool IsCoreFloat(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

namespace {

using nlohmann::json;

constexpr int kMaxDepth = 64;              // as ParseJson: later copies and dumps recurse
constexpr size_t kMaxValues = 10'000'000;  // aliases can expand a small file exponentially
constexpr const char* kStrTag = "tag:yaml.org,2002:str";

class Converter {
 public:
  explicit Converter(std::vector<TreeProblem>* problems) : problems_(problems) {}

  // Returns false when the value must be left out (a problem was recorded).
  bool Convert(const YAML::Node& node, const std::string& pointer, int depth, json* out,
               std::map<std::string, int>* lines) {
    const int line = node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
    if (++values_ > kMaxValues) {
      if (values_ == kMaxValues + 1) {
        Problem(line, pointer, "more than 10 million values (aliases expanding?)");
      }
      return false;
    }
    if (depth > kMaxDepth) {
      Problem(line, pointer, "nested deeper than " + std::to_string(kMaxDepth) + " levels");
      return false;
    }
    (*lines)[pointer] = line;
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        *out = nullptr;
        return true;
      case YAML::NodeType::Scalar:
        return Scalar(node, pointer, line, out);
      case YAML::NodeType::Sequence: {
        *out = json::array();
        size_t index = 0;
        for (const auto& item : node) {
          json v;
          if (Convert(item, PointerIndex(pointer, index), depth + 1, &v, lines)) {
            out->push_back(std::move(v));
          } else {
            out->push_back(nullptr);  // keep indexes aligned with the file
          }
          ++index;
        }
        return true;
      }
      case YAML::NodeType::Map: {
        *out = json::object();
        std::set<std::string> seen;
        for (const auto& kv : node) {
          const int key_line = kv.first.Mark().line >= 0 ? kv.first.Mark().line + 1 : line;
          if (!kv.first.IsScalar() && !kv.first.IsNull()) {
            Problem(key_line, pointer, "mapping keys must be plain strings");
            continue;
          }
          const std::string key = kv.first.IsNull() ? std::string() : kv.first.Scalar();
          const std::string child = PointerChild(pointer, key);
          if (!seen.insert(key).second) {
            Problem(key_line, child, "duplicate key \"" + key + "\"");
            continue;
          }
          json v;
          if (Convert(kv.second, child, depth + 1, &v, lines)) (*out)[key] = std::move(v);
          // A value on the key's own line is reported there; a block value below it starts on
          // a later line, but the key line is what a reader looks for.
          (*lines)[child] = key_line;
        }
        return true;
      }
    }
    return false;
  }

 private:
  bool Scalar(const YAML::Node& node, const std::string& pointer, int line, json* out) {
    const std::string& text = node.Scalar();
    const std::string& tag = node.Tag();
    if (tag == "!" || tag == kStrTag) {  // quoted, or explicitly a string
      *out = text;
      return true;
    }
    if (tag != "?" && !tag.empty()) {
      Problem(line, pointer, "unsupported YAML tag " + tag);
      return false;
    }
    // Plain scalar: YAML 1.2 core schema.
    if (text == "null" || text == "Null" || text == "NULL" || text == "~" || text.empty()) {
      *out = nullptr;
    } else if (text == "true" || text == "True" || text == "TRUE") {
      *out = true;
    } else if (text == "false" || text == "False" || text == "FALSE") {
      *out = false;
    } else if (std::string_view s = text;
               IsDigits((s.front() == '-' || s.front() == '+') ? s.substr(1) : s)) {
      errno = 0;
      const long long v = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) {
        *out = std::strtod(text.c_str(), nullptr);
      } else {
        *out = static_cast<int64_t>(v);
      }
    } else if (s.substr(0, 2) == "0x" && IsDigits(s.substr(2), /*hex=*/true)) {
      *out = static_cast<int64_t>(std::strtoll(text.c_str() + 2, nullptr, 16));
    } else if (s.substr(0, 2) == "0o" && IsDigits(s.substr(2), false, /*octal=*/true)) {
      *out = static_cast<int64_t>(std::strtoll(text.c_str() + 2, nullptr, 8));
    } else if (IsCoreFloat(s)) {
      *out = std::strtod(text.c_str(), nullptr);
    } else if (s == ".nan" || s == ".NaN" || s == ".NAN" || s.find(".inf") != s.npos ||
               s.find(".Inf") != s.npos || s.find(".INF") != s.npos) {
      Problem(line, pointer, "NaN and infinity cannot be represented in JSON");
      return false;
    } else {
      *out = text;
    }
    return true;
  }

  void Problem(int line, const std::string& pointer, std::string message) {
    problems_->push_back(TreeProblem{line, pointer, std::move(message)});
  }

  std::vector<TreeProblem>* problems_;
  size_t values_ = 0;
};

}  // namespace

std::string PointerChild(const std::string& pointer, std::string_view key) {
  std::string out = pointer + "/";
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string PointerIndex(const std::string& pointer, size_t index) {
  return pointer + "/" + std::to_string(index);
}

bool LoadYaml(std::string_view text, LocatedDocument* out, std::vector<TreeProblem>* problems) {
  // yaml-cpp reports everything through exceptions; they stop here.
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(std::string(text));
    out->value = nullptr;
    out->lines.clear();
    if (docs.empty()) return true;
    if (docs.size() > 1) {
      const int line = docs[1].Mark().line >= 0 ? docs[1].Mark().line + 1 : 0;
      problems->push_back(
          {line, "", "more than one YAML document (---); put each in a file of its own"});
    }
    Converter converter(problems);
    if (!converter.Convert(docs[0], "", 0, &out->value, &out->lines)) out->value = nullptr;
    return true;
  } catch (const YAML::Exception& e) {
    problems->push_back({e.mark.line >= 0 ? e.mark.line + 1 : 0, "",
                         "not valid YAML: " + (e.msg.empty() ? std::string(e.what()) : e.msg)});
  } catch (const std::exception& e) {
    problems->push_back({0, "", std::string("could not be read as YAML: ") + e.what()});
  }
  return false;
}

}  // namespace tenantsync::declared
