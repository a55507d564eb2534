// MigrationNotice (daemon/migration_notice.h): what systemd hears while the daemon migrates, and
// MigrationProgress: what `tenantsync migrate` prints meanwhile.
#include "daemon/migration_notice.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/fake_clock.h"

namespace tenantsync {
namespace {

using namespace std::chrono_literals;

struct Heard {
  FakeClock clock;
  std::vector<std::string> messages;
  MigrationNotice notice{clock, [this](const std::string& m) { messages.push_back(m); },
                         MigrationNoticeOptions{10s, 60s}};
};

TEST(MigrationNotice, TheFirstMigrationIsAnnouncedAtOnceWithTheExtensionAndItsName) {
  Heard h;
  h.notice.observer().starting("0016_checks_compared_in_place");
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0],
            "EXTEND_TIMEOUT_USEC=60000000\n"
            "STATUS=migrating the database: 0016_checks_compared_in_place (running 0 s)");
}

TEST(MigrationNotice, ALongMigrationIsReannouncedEveryIntervalAndNotMoreOften) {
  Heard h;
  h.notice.observer().starting("0016_checks_compared_in_place");
  // Progress calls come every few milliseconds; the messages once per interval.
  for (int ms = 0; ms < 35000; ms += 5) {
    h.clock.Advance(5ms);
    h.notice.observer().working();
  }
  ASSERT_EQ(h.messages.size(), 4u);  // at 0, 10, 20 and 30 s
  EXPECT_EQ(h.messages[3],
            "EXTEND_TIMEOUT_USEC=60000000\n"
            "STATUS=migrating the database: 0016_checks_compared_in_place (running 30 s)");
}

TEST(MigrationNotice, MigrationsOfAFreshDatabaseShareOneMessage) {
  Heard h;
  for (int v = 1; v <= 16; ++v) {
    h.notice.observer().starting("00" + std::to_string(10 + v) + "_x");
    h.clock.Advance(2ms);
    h.notice.observer().working();
  }
  EXPECT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.notice.sent(), 1);
}

TEST(MigrationNotice, ANewMigrationAfterTheIntervalIsAnnouncedByNameWithItsOwnRunningTime) {
  Heard h;
  h.notice.observer().starting("0015_applied_counted_once");
  h.clock.Advance(12s);
  h.notice.observer().starting("0016_checks_compared_in_place");
  ASSERT_EQ(h.messages.size(), 2u);
  EXPECT_NE(h.messages[1].find("0016_checks_compared_in_place (running 0 s)"), std::string::npos)
      << h.messages[1];
}

TEST(MigrationNotice, AMigrationThatStopsProgressingStopsExtending) {
  Heard h;
  h.notice.observer().starting("0016_checks_compared_in_place");
  // No progress calls (SQLite waiting on a lock): time passes, nothing is sent.
  h.clock.Advance(5min);
  EXPECT_EQ(h.messages.size(), 1u);
}

// MigrationProgress: what `tenantsync migrate` prints. Every migration is named as it starts
// (a fresh database prints them all), a long one gets a line per interval while it progresses,
// and one that makes no progress prints nothing more.
TEST(MigrationProgress, EachMigrationIsNamedAsItStartsAndALongOneReportsItsRunningTime) {
  FakeClock clock;
  std::vector<std::string> lines;
  MigrationProgress progress(
      clock, [&](const std::string& l) { lines.push_back(l); }, 10s);
  progress.observer().starting("0001_inbox");
  progress.observer().working();
  progress.observer().starting("0002_desired_state");
  EXPECT_EQ(lines,
            (std::vector<std::string>{"applying 0001_inbox", "applying 0002_desired_state"}));
  lines.clear();
  progress.observer().starting("0016_checks_compared_in_place");
  for (int ms = 0; ms < 25000; ms += 5) {
    clock.Advance(5ms);
    progress.observer().working();
  }
  EXPECT_EQ(lines, (std::vector<std::string>{"applying 0016_checks_compared_in_place",
                                             "  0016_checks_compared_in_place: running 10 s",
                                             "  0016_checks_compared_in_place: running 20 s"}));
  lines.clear();
  clock.Advance(60s);  // waiting on a lock: no progress, no line
  EXPECT_TRUE(lines.empty());
  progress.observer().starting("0017_managed_users_counted");
  clock.Advance(9s);
  progress.observer().working();
  EXPECT_EQ(lines, (std::vector<std::string>{"applying 0017_managed_users_counted"}))
      << "the interval restarts with each migration";
}

}  // namespace
}  // namespace tenantsync
