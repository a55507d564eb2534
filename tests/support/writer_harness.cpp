#include "tests/support/writer_harness.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <ctime>

#include "adapters/events/event.h"
#include "tests/support/rfc3339.h"
#include "tests/support/subprocess.h"

namespace tenantsync::testing {

std::optional<FakeTenant::User> UserByEmail(const FakeTenant& tenant, const std::string& email) {
  for (auto& u : tenant.Users()) {
    if (u.profile.value("email", "") == email) return u;
  }
  return std::nullopt;
}

std::optional<FakeTenant::Organization> OrgByName(const FakeTenant& tenant,
                                                  const std::string& name) {
  for (auto& o : tenant.Organizations()) {
    if (o.name == name) return o;
  }
  return std::nullopt;
}

WriterHarness::WriterHarness() {
  path_ = MakeTempDir("writer-harness") + "/t.db";
  StorageOptions o;
  o.path = path_;
  o.clock = &clock;
  store = std::move(SqliteStore::Open(o).value());
  tenant.AddApplication(kApp);
}

Writer& WriterHarness::Start(PolicyOptions policy, std::optional<GuardOptions> guard_options,
                             bool dry_run) {
  writer.reset();
  guard.reset();
  WriterOptions w;
  w.policy = policy;
  w.application_client_id = kApp;
  w.batch_delay_ms = 0;
  w.dry_run = dry_run;
  writer = std::make_unique<Writer>(*store, &tenant, clock, random, w);
  if (guard_options) {
    guard = std::make_unique<Guard>(*store, clock, *guard_options);
    writer->SetGuard(guard.get());
  }
  return *writer;
}

std::string WriterHarness::Send(const std::string& type, const nlohmann::json& data,
                                std::optional<int64_t> timestamp_ms) {
  const std::string id = "ev-" + std::to_string(next_event_++);
  nlohmann::json body = {{"type", type},
                         {"timestamp", Rfc3339Ms(timestamp_ms.value_or(clock.NowUnixMillis()))},
                         {"data", data}};
  EventRecord e;
  e.source = "hr";
  e.event_id = id;
  e.type = type;
  e.received_at_ms = clock.NowUnixMillis();
  e.body = body.dump();
  if (data.contains("effective_at")) {
    auto parsed = ParseEvent(body);
    if (parsed.ok()) e.effective_at_ms = parsed->effective_at_ms;
  }
  Store(e);
  return id;
}

void WriterHarness::Store(EventRecord record) {
  auto stored = store->InsertEvents({record});
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
}

void WriterHarness::Drain(int64_t horizon_ms) {
  ASSERT_NE(writer, nullptr);
  for (int turn = 0; turn < 2000; ++turn) {
    auto ran = writer->RunOnce();
    ASSERT_TRUE(ran.ok()) << ran.status().ToString();
    if (*ran > 0) continue;
    auto next = store->NextDirtyAt();
    ASSERT_TRUE(next.ok());
    const int64_t now = clock.NowUnixMillis();
    if (!next->has_value() || **next > now + horizon_ms) return;
    clock.Advance(std::chrono::milliseconds(std::max<int64_t>(1, **next - now)));
  }
  FAIL() << "the writer did not settle within 2000 turns";
}

EntityRow WriterHarness::Entity(EntityKind kind, const std::string& external_id) {
  auto row = store->ReadEntity(kind, external_id);
  EXPECT_TRUE(row.ok());
  return row.ok() ? *row : EntityRow{};
}

std::vector<MutationRow> WriterHarness::Mutations(const std::string& entity) {
  SqliteStore::MutationFilter f;
  if (!entity.empty()) f.entity = entity;
  f.limit = 10000;
  auto rows = store->ListMutations(f);
  EXPECT_TRUE(rows.ok());
  return rows.ok() ? *rows : std::vector<MutationRow>{};
}

EventRecord WriterHarness::Event(const std::string& event_id) {
  EventFilter f;
  f.source = "hr";
  f.event_id = event_id;
  auto rows = store->ListEvents(f);
  EXPECT_TRUE(rows.ok() && rows->size() == 1);
  return rows.ok() && !rows->empty() ? rows->front() : EventRecord{};
}

std::string WriterHarness::DumpDatabase() {
  SQLite::Database db(path_, SQLite::OPEN_READONLY);
  std::string out;
  SQLite::Statement tables(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  while (tables.executeStep()) {
    const std::string name = tables.getColumn(0).getString();
    out += "## " + name + "\n";
    SQLite::Statement rows(db, "SELECT * FROM \"" + name + "\" ORDER BY rowid");
    while (rows.executeStep()) {
      for (int i = 0; i < rows.getColumnCount(); ++i) {
        out += rows.getColumn(i).isNull() ? "NULL" : rows.getColumn(i).getString();
        out += '|';
      }
      out += '\n';
    }
  }
  return out;
}

}  // namespace tenantsync::testing
