// Vendor dates and time zones: the loose ISO 8601 forms vendors write, TZif zones (expected
// instants computed independently with Python's zoneinfo), DST gaps, and formatting.
#include "adapters/vendors/vendor_time.h"

#include <gtest/gtest.h>

namespace tenantsync {
namespace {

TEST(VendorTime, ParsesTheFormsVendorsWrite) {
  struct Case {
    const char* text;
    int64_t utc_ms;  // resolved in UTC when the text has no zone
    bool date_only;
  };
  const std::vector<Case> cases = {
      {"2026-01-31T18:42:00+0000", 1769884920000, false},    // BambooHR
      {"2025-01-08T13:06:26.915906", 1736341586915, false},  // HiBob, no zone
      {"2026-03-01T08:00:00Z", 1772352000000, false},
      {"2026-03-01T10:00:00+02:00", 1772352000000, false},
      {"2026-03-01T03:00:00-05", 1772352000000, false},
      {"2026-03-01 08:00", 1772352000000, false},
      {"2026-03-01", 1772323200000, true},
  };
  for (const auto& c : cases) {
    auto t = ParseVendorTime(c.text);
    ASSERT_TRUE(t.ok()) << c.text << ": " << t.status().message();
    EXPECT_EQ(ResolveVendorTime(*t, TimeZone::Utc()), c.utc_ms) << c.text;
    EXPECT_EQ(t->date_only, c.date_only) << c.text;
  }
}

TEST(VendorTime, RefusesWhatIsNotADate) {
  for (const char* text : {"", "2026-13-01", "2026-02-30", "2025-02-29", "2026-01-01T25:00",
                           "2026-01-01T10:00+2", "yesterday", "2026-01-01Tx", "0000-00-00"}) {
    auto t = ParseVendorTime(text);
    ASSERT_FALSE(t.ok()) << text;
    EXPECT_EQ(t.status().message().rfind("not a date/time", 0), 0u) << text;
  }
  EXPECT_TRUE(ParseVendorTime("2024-02-29").ok());
}

TEST(VendorTime, IanaZonesFromTzif) {
  auto berlin = TimeZone::Load("Europe/Berlin");
  ASSERT_TRUE(berlin.ok()) << berlin.status().message();
  // Midnight local on 2026-12-31 and 2027-01-01 (python3 zoneinfo: 1798671600, 1798758000).
  auto d = ParseVendorTime("2026-12-31");
  EXPECT_EQ(ResolveVendorTime(*d, *berlin), 1798671600000);
  auto ny = TimeZone::Load("America/New_York");
  ASSERT_TRUE(ny.ok());
  EXPECT_EQ(ResolveVendorTime(*ParseVendorTime("2026-07-01"), *ny), 1782878400000);  // EDT
  EXPECT_EQ(ny->OffsetAt(1782878400), -4 * 3600);
  EXPECT_EQ(ny->OffsetAt(1767225600), -5 * 3600);  // January: EST
  // 02:30 on the spring-forward night does not exist in Berlin: the earlier offset is used.
  EXPECT_EQ(ResolveVendorTime(*ParseVendorTime("2026-03-29T02:30"), *berlin), 1774747800000);
  // A zone written in the text wins over the zone given.
  EXPECT_EQ(ResolveVendorTime(*ParseVendorTime("2026-12-31T00:00:00Z"), *berlin), 1798675200000);
}

TEST(VendorTime, FixedOffsetsAndUnknownZones) {
  auto plus2 = TimeZone::Load("+02:00");
  ASSERT_TRUE(plus2.ok());
  EXPECT_EQ(ResolveVendorTime(*ParseVendorTime("2026-03-01T10:00"), *plus2), 1772352000000);
  for (const char* bad : {"Europe/Berln", "../etc/passwd", "/etc/passwd", "Mars/Olympus", ""}) {
    auto z = TimeZone::Load(bad);
    ASSERT_FALSE(z.ok()) << bad;
    EXPECT_NE(z.status().message().find("unknown time zone"), std::string::npos) << bad;
  }
}

TEST(VendorTime, FormatsRfc3339InUtc) {
  EXPECT_EQ(FormatRfc3339Ms(1772352000123), "2026-03-01T08:00:00.123Z");
  EXPECT_EQ(FormatRfc3339Ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(951782400000), "2000-02-29T00:00:00.000Z");
}

}  // namespace
}  // namespace tenantsync
