#include "tests/auth0-sim/logs.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <set>

namespace tenantsync::sim {
namespace {

using Json = nlohmann::json;

constexpr size_t kLogIdLength = 56;  // "900" + YYYYMMDDhhmmssmmm + 36-digit sequence
constexpr size_t kSeqDigits = 36;

// The searchable fields of "Log Search Query Syntax"
// (https://auth0.com/docs/deploy-monitor/logs/log-search-query-syntax), plus `type`.
constexpr std::string_view kSearchable[] = {
    "client_id", "client_name", "connection", "connection_id", "description",
    "date",      "hostname",    "ip",         "log_id",        "organization_id",
    "user_id",   "user_name",   "user_agent", "strategy",      "strategy_type",
    "type"};

bool Searchable(std::string_view field) {
  return std::find(std::begin(kSearchable), std::end(kSearchable), field) != std::end(kSearchable);
}

const char* kQueryWhat = "Query in Lucene query string syntax";

LogError InvalidQueryString(std::string_view q) {
  return {400,
          "Query validation error: 'Invalid query: " + std::string(q) + "' on property q (" +
              kQueryWhat + ").",
          "invalid_query_string"};
}

// Valid Lucene that the simulator does not implement: same shape, and it says so.
LogError Unsupported(const std::string& what) {
  return {400,
          "Query validation error: 'Not supported by auth0-sim: " + what + "' on property q (" +
              kQueryWhat + ").",
          "invalid_query_string"};
}

LogError InvalidQueryParam(const std::string& detail) {
  return {400, "Query validation error: " + detail, "invalid_query_string"};
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// An integer query parameter within [min, max]; `out` keeps its default when absent.
std::optional<LogError> Number(const LogParams& params, const char* key, int64_t min, int64_t max,
                               const char* what, int64_t& out) {
  auto it = params.find(key);
  if (it == params.end()) return std::nullopt;
  auto v = ParseInt(it->second);
  if (!v) {
    return InvalidQueryParam(std::string("'Expected type integer but found type string' on "
                                         "property ") +
                             key + " (" + what + ").");
  }
  if (*v < min) {
    return InvalidQueryParam("'Too small: must be at least " + std::to_string(min) +
                             "' on property " + key + " (" + what + ").");
  }
  if (*v > max) {
    return InvalidQueryParam("'Too big: must be at most " + std::to_string(max) + "' on property " +
                             key + " (" + what + ").");
  }
  out = *v;
  return std::nullopt;
}

bool IsTrue(const LogParams& params, const char* key) {
  auto it = params.find(key);
  return it != params.end() && it->second == "true";
}

// The sequence number inside a log id; nullopt when `id` is not one of ours in shape.
std::optional<uint64_t> LogIdSeq(std::string_view id) {
  if (id.size() != kLogIdLength) return std::nullopt;
  if (!std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isdigit(c); }))
    return std::nullopt;
  std::string_view seq = id.substr(kLogIdLength - kSeqDigits);
  while (seq.size() > 1 && seq.front() == '0') seq.remove_prefix(1);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(seq.data(), seq.data() + seq.size(), v);
  if (ec != std::errc() || p != seq.data() + seq.size()) return std::nullopt;
  return v;
}

std::string FieldText(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

class QueryParser {
 public:
  explicit QueryParser(std::string_view q) : q_(q) {}

  std::variant<std::vector<LogTerm>, LogError> Parse() {
    std::vector<LogTerm> terms;
    SkipSpace();
    if (AtEnd()) return terms;
    while (true) {
      auto term = Term();
      if (auto* e = std::get_if<LogError>(&term)) return *e;
      terms.push_back(std::move(std::get<LogTerm>(term)));
      bool spaced = SkipSpace();
      if (AtEnd()) return terms;
      if (!spaced) return InvalidQueryString(q_);
      std::string_view word = Word();
      if (word == "AND") {
        if (!SkipSpace()) return InvalidQueryString(q_);
        continue;
      }
      if (word == "OR") return Unsupported("OR between terms (use field:(a OR b))");
      if (word == "NOT") return Unsupported("NOT");
      return Unsupported("terms joined without AND (\"" + std::string(word) + "\")");
    }
  }

 private:
  bool AtEnd() const { return pos_ >= q_.size(); }
  char Peek() const { return AtEnd() ? '\0' : q_[pos_]; }
  bool SkipSpace() {
    size_t start = pos_;
    while (!AtEnd() && std::isspace(static_cast<unsigned char>(q_[pos_]))) ++pos_;
    return pos_ > start;
  }
  // A run of characters up to whitespace, a parenthesis, a quote or a colon (not consumed).
  std::string_view Word() {
    size_t start = pos_;
    while (!AtEnd()) {
      char c = q_[pos_];
      if (std::isspace(static_cast<unsigned char>(c)) || c == '(' || c == ')' || c == '"' ||
          c == ':')
        break;
      ++pos_;
    }
    return q_.substr(start, pos_ - start);
  }

  std::variant<LogTerm, LogError> Term() {
    char c = Peek();
    if (c == '(') return Unsupported("grouping of terms with parentheses");
    if (c == '-' || c == '+' || c == '!')
      return Unsupported("the prefix '" + std::string(1, c) + "'");
    if (c == '"') return Unsupported("a phrase without a field name");
    std::string_view field = Word();
    if (field.empty()) return InvalidQueryString(q_);
    if (Peek() != ':') {
      if (field == "NOT") return Unsupported("NOT");
      return Unsupported("a term without a field name (\"" + std::string(field) + "\")");
    }
    ++pos_;  // ':'
    if (!Searchable(field)) return Unsupported("the field '" + std::string(field) + "'");
    LogTerm term;
    term.field = std::string(field);
    if (Peek() == '(') {
      ++pos_;
      while (true) {
        SkipSpace();
        auto v = Value();
        if (auto* e = std::get_if<LogError>(&v)) return *e;
        term.values.push_back(std::move(std::get<std::string>(v)));
        bool spaced = SkipSpace();
        if (Peek() == ')') {
          ++pos_;
          break;
        }
        if (!spaced) return InvalidQueryString(q_);
        std::string_view op = Word();
        if (op == "AND") return Unsupported("AND inside parentheses");
        if (op != "OR" || !SkipSpace()) return InvalidQueryString(q_);
      }
      return term;
    }
    auto v = Value();
    if (auto* e = std::get_if<LogError>(&v)) return *e;
    term.values.push_back(std::move(std::get<std::string>(v)));
    return term;
  }

  std::variant<std::string, LogError> Value() {
    if (Peek() == '"') {
      ++pos_;
      std::string out;
      while (true) {
        if (AtEnd()) return InvalidQueryString(q_);  // unterminated phrase
        char c = q_[pos_++];
        if (c == '"') return out;
        if (c == '\\') {
          if (AtEnd()) return InvalidQueryString(q_);
          c = q_[pos_++];
        }
        out.push_back(c);
      }
    }
    char c = Peek();
    if (c == '[' || c == '{') return Unsupported("range queries");
    std::string_view word = Word();
    if (word.empty()) return InvalidQueryString(q_);
    if (word == "AND" || word == "OR" || word == "NOT") return InvalidQueryString(q_);
    if (word.find_first_of("*?") != std::string_view::npos) return Unsupported("wildcards");
    if (word.find('~') != std::string_view::npos) return Unsupported("fuzzy or proximity queries");
    if (word.find('^') != std::string_view::npos) return Unsupported("boosts");
    if (Peek() == ':') return InvalidQueryString(q_);  // a second colon, e.g. a:b:c unquoted
    return std::string(word);
  }

  std::string_view q_;
  size_t pos_ = 0;
};

// fields/include_fields on one event.
Json Project(const Json& event, const std::set<std::string>& fields, bool include) {
  if (fields.empty()) return event;
  Json out = Json::object();
  for (auto it = event.begin(); it != event.end(); ++it) {
    if (fields.count(it.key()) == static_cast<size_t>(include)) out[it.key()] = it.value();
  }
  return out;
}

}  // namespace

std::variant<std::vector<LogTerm>, LogError> ParseLogQuery(std::string_view q) {
  return QueryParser(q).Parse();
}

bool LogMatches(const Json& event, const std::vector<LogTerm>& terms) {
  for (const auto& term : terms) {
    auto it = event.find(term.field);
    if (it == event.end() || it->is_null()) return false;
    const std::string text = FieldText(*it);
    bool any = std::any_of(term.values.begin(), term.values.end(), [&](const std::string& v) {
      return term.field == "date" ? text.starts_with(v) : text == v;
    });
    if (!any) return false;
  }
  return true;
}

std::string LogDate(int64_t unix_ms) {
  if (unix_ms < 0) unix_ms = 0;
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

LogStore::LogStore(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

std::string LogStore::Append(Json event, int64_t now_ms) {
  if (!event.is_object()) event = Json::object();
  const std::string date = LogDate(now_ms);
  // "900" + the date's digits (17) + the sequence number padded to 36 digits.
  std::string digits;
  for (char c : date) {
    if (std::isdigit(static_cast<unsigned char>(c))) digits.push_back(c);
  }
  digits.resize(17, '0');
  std::string seq = std::to_string(next_seq_++);
  std::string log_id = "900" + digits + std::string(kSeqDigits - seq.size(), '0') + seq;
  event["date"] = date;
  event["log_id"] = log_id;
  events_.push_back(std::move(event));
  while (events_.size() > capacity_) events_.pop_front();
  return log_id;
}

void LogStore::Clear() {
  events_.clear();
  next_seq_ = 1;
}

std::optional<Json> LogStore::Get(const std::string& log_id) const {
  auto seq = LogIdSeq(log_id);
  if (!seq) return std::nullopt;
  for (const auto& e : events_) {
    if (e["log_id"] == log_id) return e;
  }
  return std::nullopt;
}

LogAnswer LogStore::Checkpoint(const LogParams& params) const {
  int64_t take = 50;
  if (auto e = Number(params, "take", 1, 100,
                      "Number of entries to retrieve when using the from "
                      "parameter.",
                      take)) {
    return *e;
  }
  uint64_t after = 0;
  if (auto it = params.find("from"); it != params.end() && !it->second.empty()) {
    auto seq = LogIdSeq(it->second);
    if (!seq) {
      return InvalidQueryParam(
          "'Invalid value for from: not a log_id' on property from (Log Event "
          "Id from which to start selection from.).");
    }
    after = *seq;
  }
  Json out = Json::array();
  for (const auto& e : events_) {
    if (*LogIdSeq(e["log_id"].get<std::string>()) <= after) continue;
    if (static_cast<int64_t>(out.size()) == take) break;
    out.push_back(e);
  }
  return out;
}

LogAnswer LogStore::Page(std::vector<const Json*> hits, const LogParams& params,
                         bool allow_fields) const {
  int64_t page = 0, per_page = 50;
  if (auto e = Number(params, "page", 0, 1000000,
                      "Page index of the results to return. First page is 0.", page)) {
    return *e;
  }
  if (auto e = Number(params, "per_page", 1, 100, "Number of results per page.", per_page)) {
    return *e;
  }
  // Search by criteria reaches the first 1000 records only; beyond that, checkpoints.
  if (page * per_page + per_page > 1000) {
    return LogError{400,
                    "Requesting page " + std::to_string(page) +
                        " exceeds the allowed maximum of 1000 records. To fetch results beyond "
                        "1000, use the checkpoint pagination method.",
                    "invalid_paging"};
  }
  // sort: FIELD:1 (ascending) or FIELD:-1 (descending); Auth0 lists newest first by default.
  std::string sort_field = "date";
  bool ascending = false;
  if (auto it = params.find("sort"); it != params.end() && !it->second.empty()) {
    const std::string& s = it->second;
    auto colon = s.rfind(':');
    std::string field = s.substr(0, colon);
    std::string dir = colon == std::string::npos ? "" : s.substr(colon + 1);
    if (colon == std::string::npos || (dir != "1" && dir != "-1") || !Searchable(field)) {
      return InvalidQueryParam("'Invalid sort: " + s +
                               "' on property sort (Field to use for sorting appended with :1 for "
                               "ascending and :-1 for descending.).");
    }
    sort_field = field;
    ascending = dir == "1";
  }
  // Stable on arrival order: ties keep log_id order (reversed when descending).
  if (!ascending) std::reverse(hits.begin(), hits.end());
  std::stable_sort(hits.begin(), hits.end(), [&](const Json* a, const Json* b) {
    std::string ka = a->contains(sort_field) ? FieldText((*a)[sort_field]) : "";
    std::string kb = b->contains(sort_field) ? FieldText((*b)[sort_field]) : "";
    return ascending ? ka < kb : kb < ka;
  });
  std::set<std::string> fields;
  bool include = true;
  if (allow_fields) {
    if (auto it = params.find("fields"); it != params.end()) {
      size_t start = 0;
      const std::string& f = it->second;
      while (start <= f.size()) {
        size_t comma = f.find(',', start);
        if (comma == std::string::npos) comma = f.size();
        if (comma > start) fields.insert(f.substr(start, comma - start));
        start = comma + 1;
      }
      include = !params.count("include_fields") || IsTrue(params, "include_fields");
    }
  }
  Json items = Json::array();
  size_t start = static_cast<size_t>(page * per_page);
  for (size_t i = start; i < hits.size() && i < start + static_cast<size_t>(per_page); ++i) {
    items.push_back(Project(*hits[i], fields, include));
  }
  if (!IsTrue(params, "include_totals")) return items;
  Json out = Json::object();
  out["start"] = start;
  out["limit"] = per_page;
  out["length"] = items.size();
  out["total"] = hits.size();
  out["logs"] = std::move(items);
  return out;
}

LogAnswer LogStore::Search(const LogParams& params) const {
  // Checkpoint paging: "Any parameter other than from and take will be ignored."
  if (params.count("from") || params.count("take")) return Checkpoint(params);
  std::vector<LogTerm> terms;
  if (auto it = params.find("q"); it != params.end()) {
    auto parsed = ParseLogQuery(it->second);
    if (auto* e = std::get_if<LogError>(&parsed)) return *e;
    terms = std::move(std::get<std::vector<LogTerm>>(parsed));
  }
  std::vector<const Json*> hits;
  for (const auto& e : events_) {
    if (LogMatches(e, terms)) hits.push_back(&e);
  }
  return Page(std::move(hits), params, true);
}

LogAnswer LogStore::UserLogs(const std::string& user_id, const LogParams& params) const {
  std::vector<const Json*> hits;
  for (const auto& e : events_) {
    if (user_id.empty()) break;  // an empty user_id (API operations, fu) is nobody's
    auto it = e.find("user_id");
    if (it != e.end() && it->is_string() && *it == user_id) hits.push_back(&e);
  }
  return Page(std::move(hits), params, false);
}

}  // namespace tenantsync::sim
