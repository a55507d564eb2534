#include "adapters/events/event.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <exception>
#include <set>
#include <utility>

#include "common/json_text.h"

namespace tenantsync {
namespace {

using nlohmann::json;

constexpr size_t kMaxExternalId = 255;
constexpr size_t kMaxEventId = 255;  // bytes
constexpr size_t kMaxDisplayName = 255;
constexpr size_t kMaxOrgMetadataKeys = 25;
constexpr size_t kMaxOrgMetadataValue = 255;
constexpr size_t kMaxConnections = 10;
constexpr size_t kMaxConnectionName = 128;
constexpr size_t kMaxGivenFamilyName = 150;
constexpr size_t kMaxNameNickname = 300;
constexpr size_t kMaxEmail = 254;
constexpr size_t kMaxEmailLocal = 64;
constexpr size_t kMaxRole = 50;
constexpr size_t kMaxReason = 255;
constexpr size_t kMaxProfileBytes = 10240;
constexpr int kMaxMetadataDepth = 32;
constexpr int kMaxJsonDepth = 64;

constexpr const char* kPasswordMessage =
    "password is not accepted: tenantsync never sets passwords; send "
    "user.password_reset_requested so Auth0 emails the user a change-password link";

struct TypeInfo {
  EventType type;
  const char* name;
};
constexpr std::array<TypeInfo, 10> kTypes = {{
    {EventType::kOrganizationUpserted, "organization.upserted"},
    {EventType::kOrganizationDeleted, "organization.deleted"},
    {EventType::kUserUpserted, "user.upserted"},
    {EventType::kUserLeft, "user.left"},
    {EventType::kUserReturned, "user.returned"},
    {EventType::kUserBlocked, "user.blocked"},
    {EventType::kUserUnblocked, "user.unblocked"},
    {EventType::kUserDeleted, "user.deleted"},
    {EventType::kUserPasswordResetRequested, "user.password_reset_requested"},
    {EventType::kUserVerificationEmailRequested, "user.verification_email_requested"},
}};

// Sender-controlled text goes into messages, logs and the admin API: JSON-quote it (escaping
// control characters, replacing invalid UTF-8) and cut it short at a character boundary.
std::string Quote(std::string_view s, size_t max_bytes = 64) {
  bool cut = false;
  if (s.size() > max_bytes) {
    size_t n = max_bytes;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    s = s.substr(0, n);
    cut = true;
  }
  std::string out = json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
  if (cut) out.insert(out.size() - 1, "...");
  return out;
}

// A key as a path segment: plain identifiers as .key, anything else as ["quoted"].
std::string Child(const std::string& path, std::string_view key) {
  bool plain = !key.empty() && key.size() <= 64;
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-')) {
      plain = false;
      break;
    }
  }
  if (plain) return path + "." + std::string(key);
  return path + "[" + Quote(key) + "]";
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

Status Fail(const std::string& path, std::string_view reason) {
  return Status::Invalid(path + ": " + std::string(reason));
}

// Length as JavaScript (and so Auth0) counts it: UTF-16 code units. A stray byte counts as one.
size_t Utf16Length(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 1;
    if (i + len > s.size()) len = 1;
    n += len == 4 ? 2 : 1;
    i += len;
  }
  return n;
}

// The first control character as (byte offset, code point): C0 controls, DEL, and C1 controls
// (U+0080..U+009F, UTF-8 C2 80..C2 9F); nullopt if there is none.
std::optional<std::pair<size_t, unsigned>> FindControl(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return std::make_pair(i, static_cast<unsigned>(c));
    if (c == 0xC2 && i + 1 < s.size()) {
      unsigned char d = static_cast<unsigned char>(s[i + 1]);
      if (d >= 0x80 && d <= 0x9F) return std::make_pair(i, static_cast<unsigned>(d));
    }
  }
  return std::nullopt;
}

bool HasControl(std::string_view s) { return FindControl(s).has_value(); }

std::string HexByte(unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("0x") + kHex[c >> 4] + kHex[c & 0xF];
}

std::string CodePoint(unsigned cp) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "U+";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xF];
  return out;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// Howard Hinnant's days_from_civil: days since 1970-01-01 in the proleptic Gregorian calendar.
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm). 'T' and 'Z' may be lower case
// (RFC 3339 §5.6 note). A leap second (:60) is accepted and lands on the following second.
// Fractions beyond milliseconds are truncated.
std::optional<int64_t> ParseRfc3339Ms(std::string_view s) {
  size_t i = 0;
  auto num = [&](size_t n) -> std::optional<int> {
    if (i + n > s.size()) return std::nullopt;
    int v = 0;
    for (size_t k = 0; k < n; ++k) {
      if (!IsDigit(s[i + k])) return std::nullopt;
      v = v * 10 + (s[i + k] - '0');
    }
    i += n;
    return v;
  };
  auto lit = [&](std::string_view set) {
    if (i < s.size() && set.find(s[i]) != std::string_view::npos) {
      ++i;
      return true;
    }
    return false;
  };
  auto year = num(4);
  if (!year || !lit("-")) return std::nullopt;
  auto month = num(2);
  if (!month || !lit("-")) return std::nullopt;
  auto day = num(2);
  if (!day || !lit("Tt")) return std::nullopt;
  auto hour = num(2);
  if (!hour || !lit(":")) return std::nullopt;
  auto minute = num(2);
  if (!minute || !lit(":")) return std::nullopt;
  auto second = num(2);
  if (!second) return std::nullopt;
  int64_t ms = 0;
  if (lit(".")) {
    size_t digits = 0;
    while (i < s.size() && IsDigit(s[i])) {
      if (digits < 3) ms = ms * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return std::nullopt;
    for (size_t k = digits; k < 3; ++k) ms *= 10;
  }
  int64_t offset_seconds = 0;
  if (!lit("Zz")) {
    if (i >= s.size() || (s[i] != '+' && s[i] != '-')) return std::nullopt;
    const int sign = s[i] == '-' ? -1 : 1;
    ++i;
    auto oh = num(2);
    if (!oh || !lit(":")) return std::nullopt;
    auto om = num(2);
    if (!om || *oh > 23 || *om > 59) return std::nullopt;
    offset_seconds = sign * (*oh * 3600 + *om * 60);
  }
  if (i != s.size()) return std::nullopt;
  if (*month < 1 || *month > 12 || *day < 1 || *day > DaysInMonth(*year, *month) || *hour > 23 ||
      *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  const int64_t secs = DaysFromCivil(*year, *month, *day) * 86400 + *hour * 3600 + *minute * 60 +
                       *second - offset_seconds;
  return secs * 1000 + ms;
}

// A deliberately simple address check (dot-atom local part, DNS-like domain with at least one
// dot), strict enough to catch garbage and mix-ups, loose enough for internationalised
// addresses (non-ASCII bytes are accepted in both parts). Quoted local parts and IP-literal
// domains are refused: Auth0 database users do not use them.
bool IsValidEmail(std::string_view s) {
  if (Utf16Length(s) > kMaxEmail || HasControl(s)) return false;
  const size_t at = s.find('@');
  if (at == std::string_view::npos || s.find('@', at + 1) != std::string_view::npos) return false;
  std::string_view local = s.substr(0, at), domain = s.substr(at + 1);
  if (local.empty() || Utf16Length(local) > kMaxEmailLocal || domain.empty()) return false;
  static constexpr std::string_view kAtext = "!#$%&'*+-/=?^_`{|}~";
  if (local.front() == '.' || local.back() == '.') return false;
  for (size_t i = 0; i < local.size(); ++i) {
    const char c = local[i];
    if (c == '.') {
      if (local[i + 1] == '.') return false;  // back() != '.', so i + 1 is in range
      continue;
    }
    if (!IsAlnum(c) && kAtext.find(c) == std::string_view::npos &&
        static_cast<unsigned char>(c) < 0x80) {
      return false;
    }
  }
  size_t labels = 0;
  size_t start = 0;
  for (size_t i = 0; i <= domain.size(); ++i) {
    if (i < domain.size() && domain[i] != '.') {
      const char c = domain[i];
      if (!IsAlnum(c) && c != '-' && static_cast<unsigned char>(c) < 0x80) return false;
      continue;
    }
    std::string_view label = domain.substr(start, i - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    ++labels;
    start = i + 1;
  }
  return labels >= 2;
}

struct UrlRules {
  bool allow_http = false;           // any http URL (picture)
  bool allow_http_loopback = false;  // http only to localhost / 127.0.0.1 / [::1] (callbacks)
  bool allow_wildcard = false;       // "*." as the first host label (callbacks)
  bool allow_fragment = true;
};

// Absolute http(s) URL with a host: scheme "://" [host] [":" port] [path/query/fragment].
// No whitespace, control characters, backslashes or userinfo ('@' in the authority).
bool IsValidUrl(std::string_view s, const UrlRules& rules) {
  if (HasControl(s)) return false;
  for (char c : s) {
    if (c == ' ' || c == '\\') return false;
  }
  const size_t colon = s.find("://");
  if (colon == std::string_view::npos) return false;
  const std::string_view scheme = s.substr(0, colon);
  const bool https = EqualsIgnoreCase(scheme, "https");
  const bool http = EqualsIgnoreCase(scheme, "http");
  if (!https && !http) return false;
  std::string_view rest = s.substr(colon + 3);
  const size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (!rules.allow_fragment && rest.find('#') != std::string_view::npos) return false;
  if (authority.empty() || authority.find('@') != std::string_view::npos) return false;

  std::string_view host = authority;
  std::string_view port;
  if (host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (char c : host.substr(1, close - 1)) {
      if (!IsAlnum(c) && c != ':' && c != '.') return false;
    }
    port = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!port.empty()) {
      if (port.front() != ':') return false;
      port.remove_prefix(1);
      if (port.empty()) return false;
    }
  } else {
    const size_t pc = host.find(':');
    if (pc != std::string_view::npos) {
      port = host.substr(pc + 1);
      host = host.substr(0, pc);
      if (port.empty()) return false;
    }
    std::string_view labels = host;
    if (rules.allow_wildcard && labels.substr(0, 2) == "*.") {
      labels.remove_prefix(2);
      if (labels.find('.') == std::string_view::npos) return false;  // not "*.com"
    }
    if (labels.empty()) return false;
    size_t start = 0;
    for (size_t i = 0; i <= labels.size(); ++i) {
      if (i < labels.size() && labels[i] != '.') {
        const char c = labels[i];
        if (!IsAlnum(c) && c != '-' && c != '_' && static_cast<unsigned char>(c) < 0x80)
          return false;
        continue;
      }
      if (i == start) return false;  // empty label
      start = i + 1;
    }
  }
  if (port.size() > 5) return false;
  int port_value = 0;
  for (char c : port) {
    if (!IsDigit(c)) return false;
    port_value = port_value * 10 + (c - '0');
  }
  if (!port.empty() && (port_value == 0 || port_value > 65535)) return false;

  if (https || rules.allow_http) return true;
  return rules.allow_http_loopback &&
         (EqualsIgnoreCase(host, "localhost") || host == "127.0.0.1" || host == "[::1]");
}

bool IsHexColor(std::string_view s) {
  if ((s.size() != 4 && s.size() != 7) || s[0] != '#') return false;
  for (char c : s.substr(1)) {
    if (!IsDigit(c) && !((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

bool IsOrgName(std::string_view s) {
  if (s.empty() || s.size() > 50) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || IsDigit(c) || c == '_' || c == '-')) return false;
  }
  return true;
}

bool IsConnectionName(std::string_view s) {
  if (s.empty() || s.size() > kMaxConnectionName || !IsAlnum(s.front()) || !IsAlnum(s.back())) {
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '-') {
      if (s[i + 1] == '-') return false;  // back() is alphanumeric, so i + 1 is in range
    } else if (!IsAlnum(s[i])) {
      return false;
    }
  }
  return true;
}

bool IsExternalId(const json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  return !s.empty() && Utf16Length(s) <= kMaxExternalId && !HasControl(s);
}

// ---- field checkers: each returns OK or an Invalid naming `path` ----

constexpr const char* kExternalIdRule =
    "must be a non-empty string of at most 255 characters without control characters";

Status CheckExternalId(const json& v, const std::string& path) {
  return IsExternalId(v) ? Status::Ok() : Fail(path, kExternalIdRule);
}

// String of min..max characters, or null (clears the field).
Status CheckText(const json& v, const std::string& path, size_t min, size_t max) {
  if (v.is_null()) return Status::Ok();
  if (v.is_string()) {
    const size_t n = Utf16Length(v.get_ref<const std::string&>());
    if (n >= min && n <= max) return Status::Ok();
  }
  if (min == 0)
    return Fail(path,
                "must be a string of at most " + std::to_string(max) + " characters, or null");
  return Fail(path, "must be a string of " + std::to_string(min) + " to " + std::to_string(max) +
                        " characters, or null");
}

Status CheckBoolOrNull(const json& v, const std::string& path) {
  return v.is_boolean() || v.is_null() ? Status::Ok() : Fail(path, "must be true, false or null");
}

Status CheckTimestampOrNull(const json& v, const std::string& path) {
  if (v.is_null()) return Status::Ok();
  if (v.is_string() && ParseRfc3339Ms(v.get_ref<const std::string&>())) return Status::Ok();
  return Fail(
      path, "must be an RFC 3339 date-time with a time zone (e.g. 2026-11-25T10:00:00Z), or null");
}

// Keys without '.' or '$' at every level (Auth0 stores metadata in a document database that
// reserves both), bounded depth.
Status CheckMetadataKeys(const json& v, const std::string& path, int depth) {
  if (depth > kMaxMetadataDepth) {
    return Fail(path, "nested deeper than " + std::to_string(kMaxMetadataDepth) + " levels");
  }
  if (v.is_object()) {
    for (const auto& [key, value] : v.items()) {
      if (key.find_first_of(".$") != std::string::npos) {
        return Fail(path, "key " + Quote(key) + " must not contain '.' or '$'");
      }
      if (Status s = CheckMetadataKeys(value, Child(path, key), depth + 1); !s.ok()) return s;
    }
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) {
      if (Status s = CheckMetadataKeys(v[i], Index(path, i), depth + 1); !s.ok()) return s;
    }
  }
  return Status::Ok();
}

Status CheckUnknownKeys(const json& obj, const std::string& path,
                        std::initializer_list<std::string_view> allowed, std::string_view owner) {
  for (const auto& [key, value] : obj.items()) {
    bool known = false;
    for (std::string_view a : allowed) known |= key == a;
    if (!known) {
      return Fail(Child(path, key), owner.empty() ? std::string("unknown field")
                                                  : "unknown field for " + std::string(owner));
    }
  }
  return Status::Ok();
}

Status CheckOrgMetadata(const json& v, const std::string& path) {
  if (!v.is_object()) return Fail(path, "must be an object");
  if (v.size() > kMaxOrgMetadataKeys) {
    return Fail(path, "at most 25 keys (got " + std::to_string(v.size()) + ")");
  }
  if (Status s = CheckMetadataKeys(v, path, 0); !s.ok()) return s;
  for (const auto& [key, value] : v.items()) {
    if (Status s = CheckText(value, Child(path, key), 0, kMaxOrgMetadataValue); !s.ok()) return s;
  }
  return Status::Ok();
}

Status CheckBranding(const json& v, const std::string& path) {
  if (!v.is_object()) return Fail(path, "must be an object");
  if (Status s = CheckUnknownKeys(v, path, {"logo_url", "colors"}, ""); !s.ok()) return s;
  if (auto it = v.find("logo_url"); it != v.end() && !it->is_null()) {
    if (!it->is_string() || !IsValidUrl(it->get_ref<const std::string&>(), UrlRules{})) {
      return Fail(path + ".logo_url", "must be an https URL, or null");
    }
  }
  if (auto it = v.find("colors"); it != v.end() && !it->is_null()) {
    const std::string cpath = path + ".colors";
    if (!it->is_object())
      return Fail(cpath, "must be an object with primary and page_background, or null");
    if (Status s = CheckUnknownKeys(*it, cpath, {"primary", "page_background"}, ""); !s.ok())
      return s;
    for (const char* key : {"primary", "page_background"}) {
      auto c = it->find(key);
      if (c == it->end()) return Fail(cpath + "." + key, "required (Auth0 needs both colors)");
      if (!c->is_string() || !IsHexColor(c->get_ref<const std::string&>())) {
        return Fail(cpath + "." + key, "must be a hex color #rgb or #rrggbb");
      }
    }
  }
  return Status::Ok();
}

Status CheckConnections(const json& v, const std::string& path) {
  if (!v.is_array()) return Fail(path, "must be an array");
  if (v.size() > kMaxConnections) {
    return Fail(path, "at most 10 entries (got " + std::to_string(v.size()) + ")");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string epath = Index(path, i);
    const json& e = v[i];
    if (!e.is_object()) return Fail(epath, "must be an object");
    if (Status s = CheckUnknownKeys(e, epath,
                                    {"name", "assign_membership_on_login", "show_as_button"}, "");
        !s.ok()) {
      return s;
    }
    auto name = e.find("name");
    if (name == e.end()) return Fail(epath + ".name", "required");
    if (!name->is_string() || !IsConnectionName(name->get_ref<const std::string&>())) {
      return Fail(epath + ".name",
                  "must be an Auth0 connection name: at most 128 letters, digits and single "
                  "hyphens, starting and ending with a letter or digit");
    }
    if (!seen.insert(name->get<std::string>()).second) {
      return Fail(epath + ".name",
                  "duplicate connection " + Quote(name->get_ref<const std::string&>()));
    }
    for (const char* flag : {"assign_membership_on_login", "show_as_button"}) {
      if (auto f = e.find(flag); f != e.end()) {
        if (Status s = CheckBoolOrNull(*f, epath + "." + flag); !s.ok()) return s;
      }
    }
  }
  return Status::Ok();
}

Status CheckCallbackUrls(const json& v, const std::string& path) {
  if (!v.is_array()) return Fail(path, "must be an array");
  UrlRules rules;
  rules.allow_http_loopback = true;
  rules.allow_wildcard = true;
  rules.allow_fragment = false;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string() || !IsValidUrl(v[i].get_ref<const std::string&>(), rules)) {
      return Fail(
          Index(path, i),
          "must be an https URL (http only for localhost, 127.0.0.1 or [::1]) without a fragment");
    }
  }
  return Status::Ok();
}

Status CheckUserMetadata(const json& v, const std::string& path, bool app) {
  if (!v.is_object()) return Fail(path, "must be an object");
  if (app) {
    static constexpr std::array<std::string_view, 18> kReserved = {
        "__tenant",         "_id",        "blocked",        "clientID",
        "created_at",       "email",      "email_verified", "globalClientID",
        "global_client_id", "identities", "lastIP",         "lastLogin",
        "loginsCount",      "metadata",   "multifactor",    "multifactor_last_modified",
        "updated_at",       "user_id"};
    for (const auto& [key, value] : v.items()) {
      for (std::string_view r : kReserved) {
        if (key == r)
          return Fail(Child(path, key), "reserved by Auth0; it cannot be stored in app_metadata");
      }
    }
  }
  return CheckMetadataKeys(v, path, 0);
}

Status CheckOrganizations(const json& v, const std::string& path) {
  if (!v.is_array()) return Fail(path, "must be an array");
  std::set<std::string> seen;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string epath = Index(path, i);
    const json& e = v[i];
    if (!e.is_object()) return Fail(epath, "must be an object with external_id and roles");
    if (Status s = CheckUnknownKeys(e, epath, {"external_id", "roles"}, ""); !s.ok()) return s;
    auto id = e.find("external_id");
    if (id == e.end()) return Fail(epath + ".external_id", "required");
    if (Status s = CheckExternalId(*id, epath + ".external_id"); !s.ok()) return s;
    if (!seen.insert(id->get<std::string>()).second) {
      return Fail(epath + ".external_id",
                  "duplicate organization " + Quote(id->get_ref<const std::string&>()));
    }
    auto roles = e.find("roles");
    if (roles == e.end()) continue;  // member without roles
    const std::string rpath = epath + ".roles";
    if (!roles->is_array()) return Fail(rpath, "must be an array of role names");
    std::set<std::string> role_seen;
    for (size_t r = 0; r < roles->size(); ++r) {
      const json& role = (*roles)[r];
      const std::string rp = Index(rpath, r);
      if (!role.is_string() || role.get_ref<const std::string&>().empty() ||
          Utf16Length(role.get_ref<const std::string&>()) > kMaxRole ||
          HasControl(role.get_ref<const std::string&>())) {
        return Fail(rp, "must be a non-empty string of at most 50 characters");
      }
      if (!role_seen.insert(role.get<std::string>()).second) {
        return Fail(rp, "duplicate role " + Quote(role.get_ref<const std::string&>()));
      }
    }
  }
  return Status::Ok();
}

// ---- per-type data validation ----

Status ValidateOrganizationUpserted(const json& d) {
  if (auto it = d.find("name"); it != d.end()) {
    if (!it->is_string() || !IsOrgName(it->get_ref<const std::string&>())) {
      return Fail("data.name", "must match ^[a-z0-9_-]{1,50}$");
    }
  }
  if (auto it = d.find("display_name"); it != d.end()) {
    if (Status s = CheckText(*it, "data.display_name", 1, kMaxDisplayName); !s.ok()) return s;
  }
  if (auto it = d.find("metadata"); it != d.end()) {
    if (Status s = CheckOrgMetadata(*it, "data.metadata"); !s.ok()) return s;
  }
  if (auto it = d.find("branding"); it != d.end()) {
    if (Status s = CheckBranding(*it, "data.branding"); !s.ok()) return s;
  }
  if (auto it = d.find("connections"); it != d.end()) {
    if (Status s = CheckConnections(*it, "data.connections"); !s.ok()) return s;
  }
  if (auto it = d.find("callback_urls"); it != d.end()) {
    if (Status s = CheckCallbackUrls(*it, "data.callback_urls"); !s.ok()) return s;
  }
  return Status::Ok();
}

// At least the length of j.dump(-1, ' ', false, error_handler_t::replace), never less: a string
// byte takes at most 6 characters (a control character as \u00XX), 3 when it is not ASCII (an
// invalid byte becomes U+FFFD), 2 for '"' and '\\'; a number at most 32 (a double's shortest
// round-trip form is at most 24); the punctuation is counted exactly.
size_t SaturatingAdd(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

size_t SerializedSizeBound(const json& j) {
  auto string_bound = [](const std::string& text) {
    size_t n = 2;
    for (unsigned char c : text) n += c == '"' || c == '\\' ? 2 : c < 0x20 ? 6 : c >= 0x80 ? 3 : 1;
    return n;
  };
  switch (j.type()) {
    case json::value_t::null:
      return 4;
    case json::value_t::boolean:
      return 5;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return 32;
    case json::value_t::string:
      return string_bound(j.get_ref<const std::string&>());
    case json::value_t::array: {
      size_t n = 2 + (j.empty() ? 0 : j.size() - 1);
      for (const auto& v : j) n = SaturatingAdd(n, SerializedSizeBound(v));
      return n;
    }
    case json::value_t::object: {
      size_t n = 2 + (j.empty() ? 0 : j.size() - 1);
      for (const auto& [k, v] : j.items())
        n = SaturatingAdd(n, SaturatingAdd(string_bound(k) + 1, SerializedSizeBound(v)));
      return n;
    }
    default:  // binary or discarded: never from a parse; measured exactly
      return SIZE_MAX;
  }
}

Status ValidateUserUpserted(const json& d) {
  if (auto it = d.find("email"); it != d.end() && !it->is_null()) {
    if (!it->is_string() || !IsValidEmail(it->get_ref<const std::string&>())) {
      return Fail("data.email", "must be a valid email address of at most 254 characters, or null");
    }
  }
  if (auto it = d.find("email_verified"); it != d.end()) {
    if (Status s = CheckBoolOrNull(*it, "data.email_verified"); !s.ok()) return s;
  }
  for (const char* field : {"given_name", "family_name"}) {
    if (auto it = d.find(field); it != d.end()) {
      if (Status s = CheckText(*it, std::string("data.") + field, 1, kMaxGivenFamilyName); !s.ok())
        return s;
    }
  }
  for (const char* field : {"name", "nickname"}) {
    if (auto it = d.find(field); it != d.end()) {
      if (Status s = CheckText(*it, std::string("data.") + field, 1, kMaxNameNickname); !s.ok())
        return s;
    }
  }
  if (auto it = d.find("picture"); it != d.end() && !it->is_null()) {
    UrlRules rules;
    rules.allow_http = true;
    if (!it->is_string() || !IsValidUrl(it->get_ref<const std::string&>(), rules)) {
      return Fail("data.picture", "must be an http or https URL, or null");
    }
  }
  if (auto it = d.find("app_metadata"); it != d.end()) {
    if (Status s = CheckUserMetadata(*it, "data.app_metadata", true); !s.ok()) return s;
  }
  if (auto it = d.find("user_metadata"); it != d.end()) {
    if (Status s = CheckUserMetadata(*it, "data.user_metadata", false); !s.ok()) return s;
  }
  if (auto it = d.find("organizations"); it != d.end()) {
    if (Status s = CheckOrganizations(*it, "data.organizations"); !s.ok()) return s;
  }
  // Depth is bounded by the checks above, so serialising cannot recurse without limit. Most
  // profiles are far below the limit: a bound computed without building the text settles them
  // (issue 13: ~2,600 fewer instructions per event); the rest are measured exactly.
  if (SerializedSizeBound(d) <= kMaxProfileBytes) return Status::Ok();
  const size_t bytes = d.dump(-1, ' ', false, json::error_handler_t::replace).size();
  if (bytes > kMaxProfileBytes) {
    return Fail("data",
                "profile is at most 10240 bytes serialized (got " + std::to_string(bytes) + ")");
  }
  return Status::Ok();
}

Status ValidateData(EventType type, const json& d) {
  const char* type_name = EventTypeName(type);
  switch (type) {
    case EventType::kOrganizationUpserted:
      if (Status s = CheckUnknownKeys(d, "data",
                                      {"external_id", "effective_at", "name", "display_name",
                                       "metadata", "branding", "connections", "callback_urls"},
                                      type_name);
          !s.ok()) {
        return s;
      }
      break;
    case EventType::kUserUpserted:
      if (Status s = CheckUnknownKeys(d, "data",
                                      {"external_id", "effective_at", "email", "email_verified",
                                       "name", "given_name", "family_name", "nickname", "picture",
                                       "app_metadata", "user_metadata", "organizations"},
                                      type_name);
          !s.ok()) {
        return s;
      }
      break;
    case EventType::kUserBlocked:
    case EventType::kUserUnblocked:
      if (Status s =
              CheckUnknownKeys(d, "data", {"external_id", "effective_at", "reason"}, type_name);
          !s.ok()) {
        return s;
      }
      break;
    default:
      if (Status s = CheckUnknownKeys(d, "data", {"external_id", "effective_at"}, type_name);
          !s.ok())
        return s;
      break;
  }
  auto id = d.find("external_id");
  if (id == d.end()) return Fail("data.external_id", "required");
  if (Status s = CheckExternalId(*id, "data.external_id"); !s.ok()) return s;
  if (auto it = d.find("effective_at"); it != d.end()) {
    if (Status s = CheckTimestampOrNull(*it, "data.effective_at"); !s.ok()) return s;
  }
  switch (type) {
    case EventType::kOrganizationUpserted:
      return ValidateOrganizationUpserted(d);
    case EventType::kUserUpserted:
      return ValidateUserUpserted(d);
    case EventType::kUserBlocked:
    case EventType::kUserUnblocked:
      if (auto it = d.find("reason"); it != d.end())
        return CheckText(*it, "data.reason", 0, kMaxReason);
      return Status::Ok();
    default:
      return Status::Ok();
  }
}

std::string KnownTypes() {
  std::string out;
  for (const auto& t : kTypes) {
    if (!out.empty()) out += ", ";
    out += t.name;
  }
  return out;
}

// `giving_up`: `body` itself, when the caller gives it up, so a valid event takes its `data` by
// move instead of a deep copy (done last: a refused body stays whole); null otherwise.
Result<ParsedEvent> ParseEventUnchecked(const json& body, json* giving_up) {
  if (!body.is_object()) return Status::Invalid("body: must be a JSON object");
  auto data = body.find("data");
  if (body.contains("password") ||
      (data != body.end() && data->is_object() && data->contains("password"))) {
    return Status::Invalid(kPasswordMessage);
  }
  auto type_it = body.find("type");
  if (type_it == body.end()) return Status::Invalid("type: required");
  if (!type_it->is_string()) return Status::Invalid("type: must be a string");
  const auto& type_name = type_it->get_ref<const std::string&>();
  auto type = ParseEventType(type_name);
  if (!type) {
    return Status::Invalid("type: unknown event type " + Quote(type_name) +
                           " (known: " + KnownTypes() + ")");
  }
  auto ts_it = body.find("timestamp");
  if (ts_it == body.end()) return Status::Invalid("timestamp: required");
  std::optional<int64_t> ts;
  if (ts_it->is_string()) ts = ParseRfc3339Ms(ts_it->get_ref<const std::string&>());
  if (!ts) {
    return Status::Invalid(
        "timestamp: must be an RFC 3339 date-time with a time zone (e.g. 2026-11-25T10:00:00Z)");
  }
  if (data == body.end()) return Status::Invalid("data: required");
  if (!data->is_object()) return Status::Invalid("data: must be an object");
  if (Status s = ValidateData(*type, *data); !s.ok()) return s;

  std::optional<int64_t> effective_at_ms;
  if (auto it = data->find("effective_at"); it != data->end() && it->is_string()) {
    effective_at_ms = ParseRfc3339Ms(it->get_ref<const std::string&>());
  }
  std::string external_id = data->at("external_id").get<std::string>();
  return ParsedEvent{*type, std::move(external_id), *ts, effective_at_ms,
                     giving_up ? std::move(giving_up->at("data")) : *data};
}

}  // namespace

std::optional<EventType> ParseEventType(std::string_view name) {
  for (const auto& t : kTypes) {
    if (name == t.name) return t.type;
  }
  return std::nullopt;
}

const char* EventTypeName(EventType t) {
  for (const auto& info : kTypes) {
    if (info.type == t) return info.name;
  }
  return "unknown";
}

bool IsOrganizationEvent(EventType t) {
  return t == EventType::kOrganizationUpserted || t == EventType::kOrganizationDeleted;
}

Result<ParsedEvent> ParseEvent(const nlohmann::json& body) {
  // The checks only use non-throwing accessors after type tests; this is a last line of defence
  // so a library exception can never escape into the HTTP handler.
  try {
    return ParseEventUnchecked(body, nullptr);
  } catch (const std::exception& e) {
    return Status::Invalid(std::string("event could not be validated: ") + e.what());
  }
}

Result<ParsedEvent> ParseEvent(nlohmann::json&& body) {
  try {
    return ParseEventUnchecked(body, &body);
  } catch (const std::exception& e) {
    return Status::Invalid(std::string("event could not be validated: ") + e.what());
  }
}

namespace {

// `text` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD.
std::string ReplaceInvalidUtf8(std::string_view text) {
  std::string out;
  while (auto bad = FindInvalidUtf8(text)) {
    out.append(text.substr(0, *bad)).append("\xEF\xBF\xBD");
    text.remove_prefix(*bad + 1);
  }
  return out.append(text);
}

}  // namespace

std::optional<size_t> FindInvalidUtf8(std::string_view text) {
  const size_t n = text.size();
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  auto in = [&](size_t i, unsigned char lo, unsigned char hi) {
    return i < n && byte(i) >= lo && byte(i) <= hi;
  };
  for (size_t i = 0; i < n;) {
    // Eight bytes of ASCII at a time: bodies and ids are mostly ASCII (issue 13: every delivery's
    // body and id pass through here).
    while (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, text.data() + i, 8);
      if ((word & 0x8080808080808080ULL) != 0) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned char c = byte(i);
    size_t len = 0;
    if (c < 0x80) {
      len = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = in(i + 1, 0x80, 0xBF) ? 2 : 0;
    } else if (c >= 0xE0 && c <= 0xEF) {
      // E0: no overlong forms; ED: no UTF-16 surrogates (RFC 3629 §4).
      const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
      len = in(i + 1, lo, hi) && in(i + 2, 0x80, 0xBF) ? 3 : 0;
    } else if (c >= 0xF0 && c <= 0xF4) {
      // F0: no overlong forms; F4: nothing above U+10FFFF.
      const unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
      len = in(i + 1, lo, hi) && in(i + 2, 0x80, 0xBF) && in(i + 3, 0x80, 0xBF) ? 4 : 0;
    }
    if (len == 0) return i;
    i += len;
  }
  return std::nullopt;
}

Status ValidateEventId(std::string_view id) {
  static constexpr std::string_view kRule =
      "; an event id must be 1 to 255 bytes of UTF-8 without control characters";
  if (id.empty()) return Status::Invalid("is empty" + std::string(kRule));
  if (auto bad = FindInvalidUtf8(id)) {
    return Status::Invalid("is not valid UTF-8 (byte " +
                           HexByte(static_cast<unsigned char>(id[*bad])) + " at offset " +
                           std::to_string(*bad) + ")" + std::string(kRule));
  }
  if (id.size() > kMaxEventId) {
    return Status::Invalid("is longer than 255 bytes (got " + std::to_string(id.size()) + ")" +
                           std::string(kRule));
  }
  if (auto control = FindControl(id)) {
    return Status::Invalid("contains a control character (" + CodePoint(control->second) +
                           " at offset " + std::to_string(control->first) + ")" +
                           std::string(kRule));
  }
  return Status::Ok();
}

Result<nlohmann::json> ParseJson(std::string_view text) {
  // JSON exchanged between systems is UTF-8 (RFC 8259 §8.1). Checked first so the answer names
  // the byte instead of quoting the parser, whose message would carry the raw byte along.
  if (auto bad = FindInvalidUtf8(text)) {
    return Status::Invalid("body is not valid UTF-8 (byte " +
                           HexByte(static_cast<unsigned char>(text[*bad])) + " at offset " +
                           std::to_string(*bad) + "); JSON must be sent as UTF-8");
  }
  // Depth pre-scan: nlohmann parses iteratively, but copying, comparing and dumping recurse.
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        return Status::Invalid("body is not valid JSON: nested deeper than " +
                               std::to_string(kMaxJsonDepth) + " levels");
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  // A compact body (what most senders' serializers write) is read without nlohmann's lexer;
  // whatever that reader accepts, nlohmann reads the same (common/json_text.h), and it leaves
  // every other text, valid or not, to nlohmann and its messages.
  if (auto compact = ParseCompactJson(text)) return *std::move(compact);
  json parsed = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    // Parse again with exceptions only on failure, to get the parser's position and reason.
    try {
      [[maybe_unused]] json reparsed = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
      // Drop the library's "[json.exception.parse_error.101] " tag; keep position and reason.
      std::string_view what = e.what();
      if (size_t tag = what.find("] "); tag != std::string_view::npos) what.remove_prefix(tag + 2);
      // The parser quotes what it last read byte by byte, which can end inside a multi-byte
      // character: keep the message valid UTF-8 (it goes into JSON answers).
      return Status::Invalid("body is not valid JSON: " + ReplaceInvalidUtf8(what));
    } catch (const std::exception& e) {
      return Status::Invalid("body is not valid JSON: " + ReplaceInvalidUtf8(e.what()));
    }
    return Status::Invalid("body is not valid JSON");
  }
  return parsed;
}

}  // namespace tenantsync
