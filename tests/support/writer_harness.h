// WriterHarness: the real Writer over a temp-dir SQLite store, the in-memory FakeTenant, a
// FakeClock and a seeded Random — no threads, no sleeps. Events are stored in the inbox exactly
// as ingress stores them; Drain() runs scheduler turns (Writer::RunOnce) until nothing is due,
// advancing the fake clock over retry backoffs and the guard's settle time.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/random.h"
#include "daemon/guard.h"
#include "daemon/writer.h"
#include "storage/sqlite_store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_tenant.h"

namespace tenantsync::testing {

// The fake tenant's user with this email / organization with this name, if any.
std::optional<FakeTenant::User> UserByEmail(const FakeTenant& tenant, const std::string& email);
std::optional<FakeTenant::Organization> OrgByName(const FakeTenant& tenant,
                                                  const std::string& name);

class WriterHarness {
 public:
  static constexpr char kApp[] = "app-client";

  WriterHarness();

  // A writer with this policy (and, when `guard_options` is given, a guard in front of every
  // destructive step). Replaces the previous one.
  Writer& Start(PolicyOptions policy = PolicyOptions(),
                std::optional<GuardOptions> guard_options = std::nullopt, bool dry_run = false);

  // Stores an event from source "hr" with the next event id; `timestamp_ms` defaults to now.
  // Returns its event id.
  std::string Send(const std::string& type, const nlohmann::json& data,
                   std::optional<int64_t> timestamp_ms = std::nullopt);
  // Stores a raw record (any id, any body) as ingress would.
  void Store(EventRecord record);

  // Runs scheduler turns until nothing is due within `horizon_ms` of fake time (backoffs and
  // settle delays are waited out by advancing the clock). Fails the test if it does not settle.
  void Drain(int64_t horizon_ms = 600000);

  // Reconciliation state of one entity, as stored.
  EntityRow Entity(EntityKind kind, const std::string& external_id);
  std::vector<MutationRow> Mutations(const std::string& entity = "");
  EventRecord Event(const std::string& event_id);
  // A copy of every table's rows, to prove an operation wrote nothing.
  std::string DumpDatabase();

  FakeTenant tenant;
  FakeClock clock;
  SeededRandom random{42};
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<Guard> guard;
  std::unique_ptr<Writer> writer;

 private:
  std::string path_;
  int next_event_ = 1;
};

}  // namespace tenantsync::testing
