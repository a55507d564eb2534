#include "adapters/vendors/vendor_time.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iterator>

namespace tenantsync {

namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int64_t* out) {
  if (pos + n > s.size()) return false;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

int64_t BigEndian(const std::string& data, size_t pos, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(data[pos + i]);
  // Sign-extend: TZif times and offsets are two's complement.
  if (n < 8 && (v & (1ULL << (n * 8 - 1)))) v |= ~((1ULL << (n * 8)) - 1);
  return static_cast<int64_t>(v);
}

std::optional<int32_t> ParseOffset(std::string_view s) {
  if (s.empty() || (s[0] != '+' && s[0] != '-')) return std::nullopt;
  int64_t h = 0, m = 0;
  if (s.size() == 3 && Digits(s, 1, 2, &h)) {
  } else if (s.size() == 5 && Digits(s, 1, 2, &h) && Digits(s, 3, 2, &m)) {
  } else if (s.size() == 6 && s[3] == ':' && Digits(s, 1, 2, &h) && Digits(s, 4, 2, &m)) {
  } else {
    return std::nullopt;
  }
  if (h > 23 || m > 59) return std::nullopt;
  int32_t off = static_cast<int32_t>(h * 3600 + m * 60);
  return s[0] == '-' ? -off : off;
}

}  // namespace

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  // H. Hinnant, "chrono-Compatible Low-Level Date Algorithms".
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

TimeZone TimeZone::Utc() {
  TimeZone z;
  z.name_ = "UTC";
  return z;
}

Result<TimeZone> TimeZone::Load(std::string_view name, const std::string& zoneinfo_dir) {
  TimeZone z;
  z.name_ = std::string(name);
  if (name == "UTC" || name == "Z" || name == "Etc/UTC") return z;
  if (auto off = ParseOffset(name)) {
    z.initial_offset_ = *off;
    return z;
  }
  // An IANA name: letters, digits, '_', '-', '+', '/' only, no "..", so it stays in the directory.
  bool ok = !name.empty() && name.find("..") == std::string_view::npos && name[0] != '/';
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '+' ||
          c == '/'))
      ok = false;
  }
  if (!ok) return Status::Invalid("unknown time zone \"" + std::string(name) + "\"");
  std::ifstream in(zoneinfo_dir + "/" + std::string(name), std::ios::binary);
  if (!in) return Status::Invalid("unknown time zone \"" + std::string(name) + "\"");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto bad = [&] { return Status::Invalid("time zone file for \"" + z.name_ + "\" is not TZif"); };
  if (data.size() < 44 || data.compare(0, 4, "TZif") != 0) return bad();
  // RFC 8536 §3.1: six counts after 20 header bytes. Version 2+ files repeat the data with 64-bit
  // times after the version-1 block; prefer those.
  auto counts = [&](size_t at, int64_t c[6]) {
    for (int i = 0; i < 6; ++i) c[i] = BigEndian(data, at + 20 + 4 * i, 4);
  };
  int64_t c[6];  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  counts(0, c);
  size_t pos = 44;
  size_t time_size = 4;
  if (data[4] >= '2') {
    size_t v1 = c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
    if (data.size() < 44 + v1 + 44) return bad();
    counts(44 + v1, c);
    pos = 44 + v1 + 44;
    time_size = 8;
  }
  const size_t need = c[3] * time_size + c[3] + c[4] * 6;
  if (c[4] < 1 || data.size() < pos + need) return bad();
  std::vector<int64_t> times(c[3]);
  for (int64_t i = 0; i < c[3]; ++i) times[i] = BigEndian(data, pos + i * time_size, time_size);
  const size_t idx_pos = pos + c[3] * time_size;
  const size_t type_pos = idx_pos + c[3];
  std::vector<int32_t> type_offsets(c[4]);
  for (int64_t i = 0; i < c[4]; ++i)
    type_offsets[i] = static_cast<int32_t>(BigEndian(data, type_pos + i * 6, 4));
  z.initial_offset_ = type_offsets[0];
  for (int64_t i = 0; i < c[3]; ++i) {
    auto t = static_cast<unsigned char>(data[idx_pos + i]);
    if (t >= type_offsets.size()) return bad();
    z.transitions_.push_back(times[i]);
    z.offsets_.push_back(type_offsets[t]);
  }
  // Past the last transition the footer's POSIX rule applies; the table of a current tzdata
  // build runs to 2037, beyond any termination date this code is given.
  return z;
}

int64_t TimeZone::OffsetAt(int64_t unix_seconds) const {
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), unix_seconds);
  if (it == transitions_.begin()) return initial_offset_;
  return offsets_[static_cast<size_t>(it - transitions_.begin()) - 1];
}

int64_t TimeZone::ToUtc(int64_t local_seconds) const {
  // Try the offset in force a day either side; the first that maps back to the same wall time
  // wins (overlap: the earlier instant; gap: neither does, take the earlier offset's instant).
  int64_t best = local_seconds - OffsetAt(local_seconds - 86400);
  for (int64_t probe : {local_seconds - 86400, local_seconds + 86400}) {
    int64_t off = OffsetAt(probe);
    int64_t utc = local_seconds - off;
    if (OffsetAt(utc) == off) return utc;
  }
  return best;
}

Result<VendorTime> ParseVendorTime(std::string_view text) {
  auto bad = [&] {
    std::string shown(text.substr(0, 64));
    for (auto& ch : shown)
      if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f) ch = '?';
    return Status::Invalid("not a date/time: \"" + shown + "\"");
  };
  int64_t y, mo, d;
  if (text.size() < 10 || !Digits(text, 0, 4, &y) || text[4] != '-' || !Digits(text, 5, 2, &mo) ||
      text[7] != '-' || !Digits(text, 8, 2, &d))
    return bad();
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1]) return bad();
  if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return bad();
  VendorTime t;
  int64_t secs = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400;
  int64_t ms = 0;
  size_t p = 10;
  if (p == text.size()) {
    t.date_only = true;
    t.local_ms = secs * 1000;
    return t;
  }
  if (text[p] != 'T' && text[p] != 't' && text[p] != ' ') return bad();
  ++p;
  int64_t h, mi, s = 0;
  if (!Digits(text, p, 2, &h) || p + 2 >= text.size() || text[p + 2] != ':' ||
      !Digits(text, p + 3, 2, &mi))
    return bad();
  p += 5;
  if (p < text.size() && text[p] == ':') {
    if (!Digits(text, p + 1, 2, &s)) return bad();
    p += 3;
    if (p < text.size() && text[p] == '.') {
      ++p;
      size_t start = p;
      int64_t scale = 100;
      while (p < text.size() && text[p] >= '0' && text[p] <= '9') {
        ms += (text[p] - '0') * scale;
        scale /= 10;
        ++p;
      }
      if (p == start) return bad();
    }
  }
  if (h > 23 || mi > 59 || s > 60) return bad();
  secs += h * 3600 + mi * 60 + std::min<int64_t>(s, 59);
  t.local_ms = secs * 1000 + ms;
  std::string_view zone = text.substr(p);
  if (zone.empty()) return t;
  if (zone == "Z" || zone == "z") {
    t.offset_seconds = 0;
    return t;
  }
  auto off = ParseOffset(zone);
  if (!off) return bad();
  t.offset_seconds = *off;
  return t;
}

int64_t ResolveVendorTime(const VendorTime& t, const TimeZone& zone) {
  if (t.offset_seconds) return t.local_ms - int64_t{*t.offset_seconds} * 1000;
  int64_t local_s = t.local_ms >= 0 ? t.local_ms / 1000 : (t.local_ms - 999) / 1000;
  int64_t frac = t.local_ms - local_s * 1000;
  return zone.ToUtc(local_s) * 1000 + frac;
}

std::string FormatRfc3339Ms(int64_t unix_ms) {
  int64_t secs = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  int64_t ms = unix_ms - secs * 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t rem = secs - days * 86400;
  // civil_from_days (Hinnant).
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), m, d, static_cast<long long>(rem / 3600),
                static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60),
                static_cast<long long>(ms));
  return buf;
}

}  // namespace tenantsync
