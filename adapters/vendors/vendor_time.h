// Dates and times as HR vendors write them, and time zones (issue 18; docs/CONNECTORS.md).
//
// Vendors are loose with ISO 8601: BambooHR writes "2026-01-31T18:42:00+0000" (offset without a
// colon), HiBob "2025-01-08T13:06:26.915906" (no zone at all), termination dates are plain
// "2026-12-31". ParseVendorTime accepts all of these; what a time without a zone means is the
// caller's choice (a TimeZone).
//
// TimeZone reads a compiled IANA zone (TZif, RFC 8536) from the system's zoneinfo directory once;
// after that it is immutable and thread-safe. GCC 12's <chrono> has no time-zone database, hence
// this small reader.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tenantsync {

class TimeZone {
 public:
  // "UTC", a fixed offset ("+02:00", "-0530"), or an IANA name ("Europe/Berlin") read from
  // `zoneinfo_dir`/NAME. kInvalid naming the zone when it is unknown or the file is not TZif.
  static Result<TimeZone> Load(std::string_view name,
                               const std::string& zoneinfo_dir = "/usr/share/zoneinfo");
  static TimeZone Utc();

  const std::string& name() const { return name_; }
  // UTC offset in seconds in force at `unix_seconds`.
  int64_t OffsetAt(int64_t unix_seconds) const;
  // The instant of local wall time `local_seconds` (seconds since 1970-01-01T00:00 local). In a
  // gap (spring forward) the earlier offset is used; in an overlap the first occurrence.
  int64_t ToUtc(int64_t local_seconds) const;

 private:
  std::string name_;
  std::vector<int64_t> transitions_;  // UTC seconds, ascending
  std::vector<int32_t> offsets_;      // offset after transitions_[i]
  int32_t initial_offset_ = 0;        // before the first transition (and fixed zones)
};

struct VendorTime {
  int64_t local_ms = 0;  // as written, ignoring any zone (ms since the epoch, wall clock)
  std::optional<int32_t> offset_seconds;  // the zone written, if any ("Z" is 0)
  bool date_only = false;                 // "YYYY-MM-DD"
};

// "YYYY-MM-DD", optionally followed by "T" or " " and "hh:mm[:ss[.fraction]]", optionally by "Z",
// "±hh:mm", "±hhmm" or "±hh". kInvalid ("not a date/time: ...") otherwise. Never throws.
Result<VendorTime> ParseVendorTime(std::string_view text);

// The instant `t` names: its own zone when written, else `zone`'s wall clock. Unix ms.
int64_t ResolveVendorTime(const VendorTime& t, const TimeZone& zone);

// RFC 3339 in UTC with milliseconds: "2026-11-25T10:00:00.000Z".
std::string FormatRfc3339Ms(int64_t unix_ms);

// Days since 1970-01-01 of a civil date (proleptic Gregorian), and back.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

}  // namespace tenantsync
