// Ingress (daemon/ingress.h) in-process: the bytes of its answers, and the parses it hands to the
// writer around the group commit (issue 13). Over HTTP, against the daemon, see
// tests/integration/ingress_test.cpp.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "adapters/signature/signature.h"
#include "daemon/ingress.h"
#include "daemon/parsed_events.h"
#include "storage/group_commit.h"
#include "storage/sqlite_store.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/fake_clock.h"
#include "tests/support/rfc3339.h"
#include "tests/support/subprocess.h"

namespace tenantsync {
namespace {

// A user.upserted body from source "hr".
std::string UserBody(const std::string& external_id, const std::string& email) {
  return testing::EventBody("user.upserted", {{"external_id", external_id}, {"email", email}});
}

// What every answer's body was before it was written without building an object: the dump of
// the object (SPEC §4's answers stay byte for byte).
std::string ObjectDump(const std::string& result, const std::string& event_id,
                       const std::string& error) {
  nlohmann::json body = {
      {"status", result},
      {"event_id", event_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(event_id)},
      {"error", error.empty() ? nlohmann::json(nullptr) : nlohmann::json(error)}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(IngressAnswerBody, IsTheObjectsDump) {
  EXPECT_EQ(IngressAnswerBody("accepted", "evt-1", ""),
            R"({"error":null,"event_id":"evt-1","status":"accepted"})");
  EXPECT_EQ(IngressAnswerBody("unauthorized", "", "no signature matched"),
            R"({"error":"no signature matched","event_id":null,"status":"unauthorized"})");
  const struct {
    std::string result, id, error;
  } cases[] = {
      {"duplicate", "a\"b\\c", ""},
      {"bad_request", "", "body is not valid UTF-8 (byte 0xe9 at offset 3)"},
      {"rejected", "\xc3\xa9v\xe2\x82\xac", "data.email: must be \"x\"\n"},
      {"accepted", "bad\xff\xfeutf8", "ctl\x01\x1f\x7f"},
      {"", "", ""},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(IngressAnswerBody(c.result, c.id, c.error), ObjectDump(c.result, c.id, c.error))
        << c.id;
  }
}

// Property: random byte strings (fixed seed), every byte value included; half of them printable
// ASCII and its edges (0x1f-0x80, quotes and backslashes among them), the text written without
// the serializer when nothing in it needs escaping.
TEST(IngressAnswerBody, MatchesTheObjectsDumpForRandomBytes) {
  std::mt19937 rng(13);
  auto text = [&] {
    std::string s(rng() % 12, '\0');
    const bool ascii = rng() % 2 == 0;
    for (auto& c : s) {
      const unsigned pick = rng() % 4;
      if (ascii) {
        c = static_cast<char>(pick == 0 ? 0x1f + rng() % 98 : 'a' + rng() % 26);
        continue;
      }
      c = static_cast<char>(pick == 0 ? rng() % 256 : pick == 1 ? rng() % 32 : 'a' + rng() % 26);
    }
    return s;
  };
  for (int i = 0; i < 5000; ++i) {
    const std::string result = text(), id = text(), error = text();
    ASSERT_EQ(IngressAnswerBody(result, id, error), ObjectDump(result, id, error)) << i;
  }
}

// What Ingress::HandleAsync offers to the writer (ParsedEventCache), and withdraws, around the
// group commit.
class IngressHandoff : public ::testing::Test {
 protected:
  void SetUp() override {
    StorageOptions o;
    o.path = testing::MakeTempDir("parsed-events") + "/t.db";
    auto opened = SqliteStore::Open(o);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    store_ = std::move(opened).value();
    committer_ = std::make_unique<GroupCommitter>(*store_);
    SourceConfig hr;
    hr.name = "hr";
    hr.signature.secrets = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};
    signing_ = hr.signature;
    ingress_ = std::make_unique<Ingress>(std::vector<SourceConfig>{hr}, *committer_, clock_, 5);
    ingress_->SetParsedEvents(&cache_);
  }
  void TearDown() override {
    if (committer_) committer_->Stop();
  }
  // Delivers `body` signed as "hr" with `id`; returns the answer's status.
  int Deliver(const std::string& id, const std::string& body) {
    ServerRequest req;
    req.method = "POST";
    req.path = "/webhooks/hr";
    req.body = body;
    req.headers = SignDelivery(signing_, id, clock_.NowUnixMillis() / 1000, body);
    req.headers.emplace_back("Content-Type", "application/json");
    std::promise<int> answered;
    ingress_->HandleAsync(std::move(req), [&](ServerResponse r) { answered.set_value(r.status); });
    return answered.get_future().get();
  }

  FakeClock clock_{Clock::WallTime(std::chrono::seconds(1795600800))};
  SignatureOptions signing_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<GroupCommitter> committer_;
  ParsedEventCache cache_;
  std::unique_ptr<Ingress> ingress_;
};

TEST_F(IngressHandoff, AnAcceptedEventLeavesItsParseAndADuplicateDoesNotReplaceIt) {
  const std::string b1 = UserBody("u1", "a@example.com"), b2 = UserBody("u1", "b@example.com");
  ASSERT_EQ(Deliver("e1", b1), 202);
  ASSERT_EQ(cache_.size(), 1u);
  ASSERT_EQ(Deliver("e1", b2), 200);  // duplicate: stored before, with the other body
  ASSERT_EQ(cache_.size(), 1u);
  EXPECT_FALSE(cache_.Take("hr", "e1", b2).has_value());
  ASSERT_EQ(Deliver("e1", b2), 200);
  EXPECT_EQ(cache_.size(), 0u) << "a duplicate's offer is withdrawn after its insert";
}

TEST_F(IngressHandoff, RejectedScheduledAndRefusedEventsLeaveNothing) {
  // 422: stored as rejected, never folded.
  ASSERT_EQ(Deliver("bad", testing::EventBody("user.upserted", {{"email", "x@example.com"}})), 422);
  // Due later: it would hold a slot until then.
  const std::string later = testing::EventBody(
      "user.left", {{"external_id", "u1"},
                    {"effective_at", testing::Rfc3339Ms(clock_.NowUnixMillis() + 3600000)}});
  ASSERT_EQ(Deliver("later", later), 202);
  EXPECT_EQ(cache_.size(), 0u);
  // Storage refuses: nothing stored, nothing left behind.
  committer_->Stop();
  ASSERT_EQ(Deliver("e2", UserBody("u2", "c@example.com")), 503);
  EXPECT_EQ(cache_.size(), 0u);
}

TEST_F(IngressHandoff, TheOfferedParseIsTheOneOfTheStoredBody) {
  const std::string b1 = UserBody("u1", "a@example.com");
  ASSERT_EQ(Deliver("e1", b1), 202);
  auto events = store_->DueEvents(clock_.NowUnixMillis(), 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  auto taken = cache_.Take("hr", "e1", events->front().body);
  ASSERT_TRUE(taken.has_value());
  const ParsedEvent fresh = ParseEvent(*ParseJson(events->front().body)).value();
  EXPECT_EQ(taken->type, fresh.type);
  EXPECT_EQ(taken->external_id, fresh.external_id);
  EXPECT_EQ(taken->timestamp_ms, fresh.timestamp_ms);
  EXPECT_EQ(taken->effective_at_ms, fresh.effective_at_ms);
  EXPECT_EQ(taken->data, fresh.data);
}

}  // namespace
}  // namespace tenantsync
