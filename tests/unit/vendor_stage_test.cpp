// daemon/ingress/vendor_stage: the connector stage's decisions over a temp-dir SqliteStore, a
// FakeClock and a scripted VendorApi — what is stored at intake (one row per notification,
// duplicates, payloads with values mapped at once), what a fetch outcome does to the row and the
// inbox (mapped / retried at a later time / mapped as a deletion / failed and replayable), and
// that a replay maps the stored record without fetching.
#include "daemon/ingress/vendor_stage.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>

#include "adapters/events/event.h"
#include "tests/support/fake_clock.h"
#include "tests/support/subprocess.h"

namespace tenantsync {
namespace {

using nlohmann::json;
using testing::MakeTempDir;

// Answers FetchRecord from a script; counts calls.
class ScriptedApi {
 public:
  std::deque<Result<json>> answers;
  std::vector<std::string> asked;
  Result<json> Fetch(ObjectKind, const std::string& id) {
    asked.push_back(id);
    if (answers.empty()) return Status::Retryable("script exhausted");
    auto r = std::move(answers.front());
    answers.pop_front();
    return r;
  }
};

class ProxyApi final : public VendorApi {
 public:
  explicit ProxyApi(ScriptedApi& s) : s_(s) {}
  Result<json> FetchRecord(ObjectKind kind, const std::string& id) override {
    return s_.Fetch(kind, id);
  }

 private:
  ScriptedApi& s_;
};

std::string EventBased(const std::string& type, const std::string& id) {
  return json{{"type", type},
              {"timestamp", "2026-11-25T09:59:00+0000"},
              {"data", {{"companyId", "1"}, {"employeeId", id}, {"changedFields", {"firstName"}}}}}
      .dump();
}

json Employee(const std::string& id, const std::string& email, const std::string& status = "Active",
              const std::string& termination = "") {
  json r = {{"id", id},        {"workEmail", email}, {"firstName", "Ada"},
            {"lastName", "L"}, {"status", status},   {"hireDate", "2020-01-01"}};
  if (!termination.empty()) r["terminationDate"] = termination;
  return r;
}

class VendorStageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("vendor-stage");
    StorageOptions o;
    o.path = dir_ + "/t.db";
    o.clock = &clock_;
    auto opened = SqliteStore::Open(o);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    store_ = std::move(opened).value();
    src_.name = "bamboo";
    src_.vendor = Vendor::kBambooHr;
    src_.vendor_api.vendor = Vendor::kBambooHr;
    src_.vendor_api.credential = "api-key";
    SetSources();
    stage_ = std::make_unique<VendorStage>(
        *store_, clock_, [this] { return sources_; },
        [this](const SourceConfig&) -> Result<std::unique_ptr<VendorApi>> {
          ++apis_made_;
          return std::unique_ptr<VendorApi>(std::make_unique<ProxyApi>(api_));
        },
        [this] {
          std::lock_guard<std::mutex> lock(wake_mu_);
          ++writer_wakes_;
          wake_cv_.notify_all();
        });
  }
  void SetSources() {
    sources_ = std::make_shared<std::vector<SourceConfig>>(std::vector<SourceConfig>{src_});
  }

  std::vector<VendorNotification> Decode(const std::string& body) {
    auto n = DecodeNotifications(Vendor::kBambooHr, "application/json", body);
    EXPECT_TRUE(n.ok()) << n.status().message();
    return n.ok() ? *n : std::vector<VendorNotification>{};
  }
  std::vector<InsertOutcome> Intake(const std::string& body) {
    auto out = stage_->Store(src_, Decode(body));
    EXPECT_TRUE(out.ok()) << out.status().message();
    return out.ok() ? *out : std::vector<InsertOutcome>{};
  }
  VendorRow Row(const std::string& id) {
    auto rows = stage_->List(std::nullopt, 100);
    EXPECT_TRUE(rows.ok());
    for (auto& r : *rows) {
      if (r.event_id == id) return r;
    }
    ADD_FAILURE() << "no row " << id;
    return {};
  }
  std::vector<EventRecord> Inbox() {
    EventFilter f;
    f.limit = 1000;
    auto events = store_->ListEvents(f);
    EXPECT_TRUE(events.ok());
    return events.ok() ? *events : std::vector<EventRecord>{};
  }
  int Run() {
    auto n = stage_->RunOnce();
    EXPECT_TRUE(n.ok()) << n.status().message();
    return n.ok() ? *n : -1;
  }

  std::string dir_;
  FakeClock clock_;
  std::unique_ptr<SqliteStore> store_;
  SourceConfig src_;
  std::shared_ptr<std::vector<SourceConfig>> sources_;
  ScriptedApi api_;
  int apis_made_ = 0, writer_wakes_ = 0;  // writer_wakes_ guarded by wake_mu_
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  std::unique_ptr<VendorStage> stage_;
};

TEST_F(VendorStageTest, IntakeStoresOnePendingRowPerNotificationAndDuplicates) {
  const std::string body = EventBased("employee.created", "42");
  auto first = Intake(body);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0], InsertOutcome::kInserted);
  const std::string id = Decode(body)[0].event_id;
  VendorRow row = Row(id);
  EXPECT_EQ(row.state, VendorRowState::kPending);
  auto stored = ParseStoredVendorEvent(json::parse(row.body));
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->record.is_null());
  EXPECT_EQ(stored->notification.object_id, "42");
  EXPECT_TRUE(Inbox().empty()) << "nothing reaches the writer before the record is fetched";
  auto again = Intake(body);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0], InsertOutcome::kDuplicate);
  EXPECT_EQ(stage_->List(std::nullopt, 100)->size(), 1u);
}

TEST_F(VendorStageTest, FetchedRecordIsStoredAndMappedIntoInboxEventsInOneStep) {
  const std::string body = EventBased("employee.created", "42");
  Intake(body);
  const std::string id = Decode(body)[0].event_id;
  api_.answers.push_back(Employee("42", " Ada@Example.com "));
  EXPECT_EQ(Run(), 1);
  EXPECT_EQ(api_.asked, std::vector<std::string>{"42"});
  VendorRow row = Row(id);
  EXPECT_EQ(row.state, VendorRowState::kMapped);
  EXPECT_EQ(row.events, 1);
  auto stored = ParseStoredVendorEvent(json::parse(row.body));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->record["workEmail"], " Ada@Example.com ");
  EXPECT_EQ(stored->fetched_at_ms, clock_.NowUnixMillis());
  auto inbox = Inbox();
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].source, "bamboo");
  EXPECT_EQ(inbox[0].event_id, id);
  EXPECT_EQ(inbox[0].state, EventState::kPending);
  EXPECT_EQ(inbox[0].type, "user.upserted");
  EXPECT_EQ(json::parse(inbox[0].body)["data"]["email"], "ada@example.com");
  EXPECT_GE(writer_wakes_, 1);
  EXPECT_EQ(Run(), 0) << "a mapped row is not taken again";
}

TEST_F(VendorStageTest, TemporaryFailuresWaitWithBackoffAndRetryAfter) {
  const std::string body = EventBased("employee.updated", "7");
  Intake(body);
  const std::string id = Decode(body)[0].event_id;
  api_.answers.push_back(Status::Retryable("bamboohr person 7: vendor error (HTTP 503)"));
  EXPECT_EQ(Run(), 1);
  VendorRow row = Row(id);
  EXPECT_EQ(row.state, VendorRowState::kPending);
  EXPECT_EQ(row.attempts, 1);
  EXPECT_EQ(row.next_at_ms, clock_.NowUnixMillis() + 5000);
  EXPECT_EQ(row.error, "bamboohr person 7: vendor error (HTTP 503)");
  EXPECT_TRUE(Inbox().empty());

  EXPECT_EQ(Run(), 0) << "not due yet";
  EXPECT_EQ(api_.asked.size(), 1u);
  clock_.Advance(std::chrono::seconds(5));
  api_.answers.push_back(Status::RateLimited(clock_.Now() + std::chrono::seconds(60), "429"));
  EXPECT_EQ(Run(), 1);
  row = Row(id);
  EXPECT_EQ(row.attempts, 2);
  EXPECT_EQ(row.next_at_ms, clock_.NowUnixMillis() + 60000) << "Retry-After beats the backoff";

  clock_.Advance(std::chrono::seconds(59));
  EXPECT_EQ(Run(), 0);
  clock_.Advance(std::chrono::seconds(1));
  api_.answers.push_back(Employee("7", "seven@example.com"));
  EXPECT_EQ(Run(), 1);
  EXPECT_EQ(Row(id).state, VendorRowState::kMapped);
  EXPECT_EQ(Row(id).error, "");
  ASSERT_EQ(Inbox().size(), 1u);
}

TEST_F(VendorStageTest, BackoffDoublesAndIsCapped) {
  VendorStageOptions o;
  Result<Mapping> m = ParseMapping(Vendor::kBambooHr, json::object());
  ASSERT_TRUE(m.ok());
  StoredVendor s{Decode(EventBased("employee.updated", "1"))[0], json(), std::nullopt};
  const int64_t now = 1000;
  for (auto [attempts, wait] : std::vector<std::pair<int, int64_t>>{
           {0, 5000}, {1, 10000}, {2, 20000}, {6, 320000}, {7, 600000}, {30, 600000}}) {
    ScriptedApi script;
    script.answers.push_back(Status::Retryable("down"));
    ProxyApi api(script);
    auto d = DecideVendorNotification("b", *m, s, &api, attempts, now, o);
    EXPECT_EQ(d.kind, VendorDecision::Kind::kRetry);
    EXPECT_EQ(d.next_at_ms, now + wait) << "attempts " << attempts;
  }
}

TEST_F(VendorStageTest, NotFoundAtTheVendorIsMappedAsADeletion) {
  const std::string body = EventBased("employee.updated", "9");
  Intake(body);
  const std::string id = Decode(body)[0].event_id;
  api_.answers.push_back(Status::NotFound("bamboohr person 9: not found (HTTP 404)"));
  EXPECT_EQ(Run(), 1);
  EXPECT_EQ(Row(id).state, VendorRowState::kMapped);
  auto inbox = Inbox();
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].type, "user.left");
  EXPECT_EQ(json::parse(inbox[0].body)["data"]["external_id"], "9");
}

TEST_F(VendorStageTest, PermanentFailureIsFailedAndReplayFetchesAgain) {
  const std::string body = EventBased("employee.updated", "5");
  Intake(body);
  const std::string id = Decode(body)[0].event_id;
  api_.answers.push_back(Status::Permanent("bamboohr person 5: credentials refused (HTTP 401)"));
  EXPECT_EQ(Run(), 1);
  VendorRow row = Row(id);
  EXPECT_EQ(row.state, VendorRowState::kFailed);
  EXPECT_EQ(row.error, "bamboohr person 5: credentials refused (HTTP 401)");
  EXPECT_EQ(Run(), 0) << "a failed row waits for a replay";

  EXPECT_EQ(stage_->Replay("bamboo", "nope").kind(), StatusKind::kNotFound);
  ASSERT_TRUE(stage_->Replay("bamboo", id).ok());
  EXPECT_EQ(Row(id).state, VendorRowState::kPending);
  api_.answers.push_back(Employee("5", "five@example.com"));
  EXPECT_EQ(Run(), 1);
  EXPECT_EQ(Row(id).state, VendorRowState::kMapped);
  EXPECT_EQ(api_.asked.size(), 2u);
  EXPECT_EQ(stage_->Replay("bamboo", id).kind(), StatusKind::kConflict) << "only failed ones";
  ASSERT_EQ(Inbox().size(), 1u);
}

TEST_F(VendorStageTest, ReplayMapsTheStoredRecordWithoutFetching) {
  // The mapping cannot find the external id in the fetched record: failed, record kept.
  src_.vendor_mapping = {{"user", {{"external_id", "employeeNumber"}, {"email", "workEmail"}}}};
  SetSources();
  const std::string body = EventBased("employee.updated", "8");
  Intake(body);
  const std::string id = Decode(body)[0].event_id;
  api_.answers.push_back(Employee("8", "eight@example.com"));
  EXPECT_EQ(Run(), 1);
  VendorRow row = Row(id);
  EXPECT_EQ(row.state, VendorRowState::kFailed);
  EXPECT_NE(row.error.find("user.external_id"), std::string::npos) << row.error;
  EXPECT_EQ(ParseStoredVendorEvent(json::parse(row.body))->record["workEmail"],
            "eight@example.com");

  // The operator fixes the mapping and replays: the stored record is mapped, nothing fetched.
  src_.vendor_mapping = {{"user", {{"external_id", "id"}, {"email", "workEmail"}}}};
  SetSources();
  ASSERT_TRUE(stage_->Replay("bamboo", id).ok());
  EXPECT_EQ(Run(), 1);
  EXPECT_EQ(api_.asked.size(), 1u);
  EXPECT_EQ(Row(id).state, VendorRowState::kMapped);
  auto inbox = Inbox();
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(json::parse(inbox[0].body)["data"]["email"], "eight@example.com");
}

// What an operator sees (GET /v1/vendor-notifications, /v1/status): newest first, filtered by
// source and state, paged by seq, and the pending/failed counts.
TEST_F(VendorStageTest, OperatorQueriesListNewestFirstFilterPageAndCount) {
  std::vector<std::string> ids;
  for (const char* person : {"1", "2", "3"}) {
    const std::string body = EventBased("employee.updated", person);
    Intake(body);
    ids.push_back(Decode(body)[0].event_id);
    clock_.Advance(std::chrono::seconds(1));
  }
  SourceConfig other = src_;
  other.name = "bamboo-eu";
  const std::string other_body = EventBased("employee.updated", "9");
  ASSERT_TRUE(stage_->Store(other, Decode(other_body)).ok());
  const std::string other_id = Decode(other_body)[0].event_id;

  auto counts = CountVendorNotifications(*store_);
  ASSERT_TRUE(counts.ok()) << counts.status().message();
  EXPECT_EQ(counts->pending, 4);
  EXPECT_EQ(counts->failed, 0);

  // Oldest first through the stage: person 1 fetched, 2 refused (failed), 3 retried later;
  // bamboo-eu is not configured: failed.
  api_.answers.push_back(Employee("1", "one@example.com"));
  api_.answers.push_back(Status::Permanent("bamboohr person 2: credentials refused (HTTP 401)"));
  api_.answers.push_back(Status::Retryable("HTTP 503"));
  EXPECT_EQ(Run(), 4);
  counts = CountVendorNotifications(*store_);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->pending, 1);
  EXPECT_EQ(counts->failed, 2);

  VendorNotificationQuery all;
  auto rows = ListVendorNotifications(*store_, all);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_EQ((*rows)[0].event_id, other_id) << "newest first";
  EXPECT_EQ((*rows)[1].event_id, ids[2]);
  EXPECT_EQ((*rows)[3].event_id, ids[0]);
  for (size_t i = 1; i < rows->size(); ++i) EXPECT_GT((*rows)[i - 1].seq, (*rows)[i].seq);

  VendorNotificationQuery failed;
  failed.state = VendorRowState::kFailed;
  rows = ListVendorNotifications(*store_, failed);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].source, "bamboo-eu");
  EXPECT_EQ((*rows)[1].event_id, ids[1]);
  EXPECT_EQ((*rows)[1].error, "bamboohr person 2: credentials refused (HTTP 401)");

  failed.source = "bamboo";
  rows = ListVendorNotifications(*store_, failed);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].event_id, ids[1]);

  // Pages of two: the second continues before the last seq of the first, and nothing repeats.
  VendorNotificationQuery page;
  page.limit = 2;
  auto first = ListVendorNotifications(*store_, page);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  page.before_seq = first->back().seq;
  auto second = ListVendorNotifications(*store_, page);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 2u);
  EXPECT_EQ((*second)[0].event_id, ids[1]);
  EXPECT_EQ((*second)[1].event_id, ids[0]);

  auto one = ReadVendorNotification(*store_, "bamboo", ids[2]);
  ASSERT_TRUE(one.ok());
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->state, VendorRowState::kPending);
  EXPECT_EQ((*one)->error, "HTTP 503");
  auto none = ReadVendorNotification(*store_, "bamboo-eu", ids[2]);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  // A replay moves a failed row back to pending: the counts follow.
  ASSERT_TRUE(stage_->Replay("bamboo", ids[1]).ok());
  counts = CountVendorNotifications(*store_);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->pending, 2);
  EXPECT_EQ(counts->failed, 1);
  const Status mapped = stage_->Replay("bamboo", ids[0]);
  EXPECT_EQ(mapped.kind(), StatusKind::kConflict);
  EXPECT_NE(mapped.message().find("/v1/events/"), std::string::npos) << mapped.message();
}

TEST(VendorRowStateNames, RoundTrip) {
  for (auto s : {VendorRowState::kPending, VendorRowState::kMapped, VendorRowState::kFailed})
    EXPECT_EQ(ParseVendorRowState(VendorRowStateName(s)), s);
  EXPECT_FALSE(ParseVendorRowState("done").has_value());
  EXPECT_FALSE(ParseVendorRowState("").has_value());
}

TEST_F(VendorStageTest, FutureTerminationBecomesAScheduledLeave) {
  const std::string body = EventBased("employee.updated", "3");
  Intake(body);
  const std::string id = Decode(body)[0].event_id;
  // Termination on 2026-12-31 (UTC default mapping, end of day): a notice period.
  api_.answers.push_back(Employee("3", "three@example.com", "Active", "2026-12-31"));
  EXPECT_EQ(Run(), 1);
  auto inbox = Inbox();
  ASSERT_EQ(inbox.size(), 2u);
  EXPECT_EQ(inbox[0].type, "user.upserted");
  EXPECT_EQ(inbox[1].event_id, id + "/user.left");
  EXPECT_EQ(inbox[1].type, "user.left");
  ASSERT_TRUE(inbox[1].effective_at_ms.has_value());
  EXPECT_GT(*inbox[1].effective_at_ms, clock_.NowUnixMillis());
}

TEST_F(VendorStageTest, PayloadsCarryingValuesAreMappedAtIntake) {
  const std::string body = R"({"employees":[
    {"id":"1","action":"Created","timestamp":"2026-11-25T09:00:00+0000","changedFields":["Work Email"],
     "fields":{"First Name":"Ada","Work Email":"ada@example.com"}},
    {"id":"2","action":"Deleted","timestamp":"2026-11-25T09:01:00+0000","changedFields":[],"fields":{}}]})";
  auto out = Intake(body);
  ASSERT_EQ(out.size(), 2u);
  auto inbox = Inbox();
  ASSERT_EQ(inbox.size(), 2u);
  EXPECT_EQ(inbox[0].type, "user.upserted");
  EXPECT_EQ(json::parse(inbox[0].body)["data"]["email"], "ada@example.com");
  EXPECT_EQ(inbox[1].type, "user.left");
  for (auto& n : Decode(body)) EXPECT_EQ(Row(n.event_id).state, VendorRowState::kMapped);
  EXPECT_TRUE(api_.asked.empty());
  EXPECT_EQ(Run(), 0);
  // A redelivery of the batch stores nothing new.
  auto again = Intake(body);
  EXPECT_EQ(again,
            (std::vector<InsertOutcome>{InsertOutcome::kDuplicate, InsertOutcome::kDuplicate}));
  EXPECT_EQ(Inbox().size(), 2u);
}

TEST_F(VendorStageTest, WithoutCredentialsADatalessNotificationFails) {
  src_.vendor_api.credential.clear();
  SetSources();
  const std::string body = EventBased("employee.updated", "4");
  Intake(body);
  EXPECT_EQ(Run(), 1);
  VendorRow row = Row(Decode(body)[0].event_id);
  EXPECT_EQ(row.state, VendorRowState::kFailed);
  EXPECT_NE(row.error.find("no credentials_file"), std::string::npos) << row.error;
  EXPECT_EQ(apis_made_, 0);
}

TEST_F(VendorStageTest, ASourceRemovedFromTheConfigFailsItsPendingRows) {
  const std::string body = EventBased("employee.updated", "6");
  Intake(body);
  sources_ = std::make_shared<std::vector<SourceConfig>>();
  EXPECT_EQ(Run(), 1);
  VendorRow row = Row(Decode(body)[0].event_id);
  EXPECT_EQ(row.state, VendorRowState::kFailed);
  EXPECT_NE(row.error.find("no longer a configured vendor source"), std::string::npos);
}

TEST_F(VendorStageTest, ThreadedIntakeAnswersAfterCommitAndTheStageMapsOnItsOwn) {
  stage_->Start();
  const std::string body = EventBased("employee.created", "11");
  api_.answers.push_back(Employee("11", "eleven@example.com"));
  std::promise<Result<std::vector<InsertOutcome>>> answered;
  stage_->Intake(src_, Decode(body),
                 [&](Result<std::vector<InsertOutcome>> r) { answered.set_value(std::move(r)); });
  auto r = answered.get_future().get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0], InsertOutcome::kInserted);
  // The intake woke the stage: the event reaches the inbox without a pass being driven here, and
  // the stage wakes the writer once it is there.
  {
    std::unique_lock<std::mutex> lock(wake_mu_);
    EXPECT_TRUE(
        wake_cv_.wait_for(lock, std::chrono::seconds(10), [&] { return writer_wakes_ > 0; }));
  }
  stage_->Stop();
  ASSERT_EQ(Inbox().size(), 1u);
  // After Stop a delivery is refused, never silently dropped.
  std::optional<Status> refused;
  stage_->Intake(src_, Decode(EventBased("employee.created", "12")),
                 [&](Result<std::vector<InsertOutcome>> r2) { refused = r2.status(); });
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->kind(), StatusKind::kRetryable);
}

}  // namespace
}  // namespace tenantsync
