// The writer with its real threads against a paced in-memory tenant: access removals go ahead
// of a backlog of other work (SPEC §6, issue 12). Takes real time (about two seconds).
#include <gtest/gtest.h>

#include <thread>

#include "daemon/writer.h"
#include "tests/support/rfc3339.h"
#include "tests/support/writer_harness.h"

namespace tenantsync {
namespace {

using Json = nlohmann::json;
using testing::FakeTenant;
using testing::OrgByName;
using testing::UserByEmail;
using testing::WriterHarness;

// An Auth0Api that paces every Management API request to `per_second` across all threads, like
// a tight rate limit (the change-password email is the Authentication API: not paced).
class PacedApi final : public Auth0Api {
 public:
  PacedApi(FakeTenant& t, int per_second)
      : t_(t), gap_(std::chrono::microseconds(1000000 / per_second)) {}

  Result<Auth0User> CreateUser(const Json& u) override { return Pace(), t_.CreateUser(u); }
  Result<Auth0User> GetUser(std::string_view id) override { return Pace(), t_.GetUser(id); }
  Result<Auth0User> PatchUser(std::string_view id, const Json& p) override {
    return Pace(), t_.PatchUser(id, p);
  }
  Status DeleteUser(std::string_view id) override { return Pace(), t_.DeleteUser(id); }
  Result<std::vector<Auth0User>> GetUsersByEmail(std::string_view e) override {
    return Pace(), t_.GetUsersByEmail(e);
  }
  Status RevokeSessions(std::string_view id) override { return Pace(), t_.RevokeSessions(id); }
  Status RevokeRefreshTokens(std::string_view id) override {
    return Pace(), t_.RevokeRefreshTokens(id);
  }
  Result<Auth0Organization> CreateOrganization(const Json& o) override {
    return Pace(), t_.CreateOrganization(o);
  }
  Result<Auth0Organization> GetOrganization(std::string_view id) override {
    return Pace(), t_.GetOrganization(id);
  }
  Result<Auth0Organization> GetOrganizationByName(std::string_view n) override {
    return Pace(), t_.GetOrganizationByName(n);
  }
  Result<Auth0Organization> PatchOrganization(std::string_view id, const Json& p) override {
    return Pace(), t_.PatchOrganization(id, p);
  }
  Status DeleteOrganization(std::string_view id) override {
    return Pace(), t_.DeleteOrganization(id);
  }
  Status AddMembers(std::string_view o, const std::vector<std::string>& u) override {
    return Pace(), t_.AddMembers(o, u);
  }
  Status RemoveMembers(std::string_view o, const std::vector<std::string>& u) override {
    return Pace(), t_.RemoveMembers(o, u);
  }
  Status AddMemberRoles(std::string_view o, std::string_view u,
                        const std::vector<std::string>& r) override {
    return Pace(), t_.AddMemberRoles(o, u, r);
  }
  Status RemoveMemberRoles(std::string_view o, std::string_view u,
                           const std::vector<std::string>& r) override {
    return Pace(), t_.RemoveMemberRoles(o, u, r);
  }
  Status AddOrganizationConnection(std::string_view o, std::string_view c, bool a,
                                   bool b) override {
    return Pace(), t_.AddOrganizationConnection(o, c, a, b);
  }
  Status PatchOrganizationConnection(std::string_view o, std::string_view c, bool a,
                                     bool b) override {
    return Pace(), t_.PatchOrganizationConnection(o, c, a, b);
  }
  Status RemoveOrganizationConnection(std::string_view o, std::string_view c) override {
    return Pace(), t_.RemoveOrganizationConnection(o, c);
  }
  Result<std::string> FindRoleId(std::string_view n) override { return Pace(), t_.FindRoleId(n); }
  Result<std::string> FindConnectionId(std::string_view n) override {
    return Pace(), t_.FindConnectionId(n);
  }
  Status EnableConnectionClient(std::string_view c, std::string_view a) override {
    return Pace(), t_.EnableConnectionClient(c, a);
  }
  Result<Auth0Application> GetApplication(std::string_view a) override {
    return Pace(), t_.GetApplication(a);
  }
  Status PatchApplicationCallbacks(std::string_view a, const std::vector<std::string>& c) override {
    return Pace(), t_.PatchApplicationCallbacks(a, c);
  }
  Status SendChangePasswordEmail(std::string_view e) override {
    return t_.SendChangePasswordEmail(e);
  }
  Status SendVerificationEmail(std::string_view id) override {
    return Pace(), t_.SendVerificationEmail(id);
  }

 private:
  void Pace() {
    std::chrono::steady_clock::time_point slot;
    {
      std::lock_guard<std::mutex> lock(mu_);
      slot = std::max(std::chrono::steady_clock::now(), next_);
      next_ = slot + gap_;
    }
    std::this_thread::sleep_until(slot);
  }
  FakeTenant& t_;
  const std::chrono::microseconds gap_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point next_{};
};

TEST(WriterTest, ALeaverIsBlockedAheadOfABacklogOfHires) {
  constexpr int kSettleMs = 300;
  constexpr int kHires = 300;
  WriterHarness h;  // its store and tenant; this writer runs its threads on the real clock
  PacedApi api(h.tenant, 100);
  Guard guard(*h.store, SystemClock(), GuardOptions{50, 0.05, 600, kSettleMs});
  WriterOptions o;
  o.workers = 4;
  o.application_client_id = WriterHarness::kApp;
  o.policy.on_create.clear();
  Writer writer(*h.store, &api, SystemClock(), h.random, o);
  writer.SetGuard(&guard);
  auto store = [&](const std::string& id, const std::string& type, const Json& data) {
    EventRecord e;
    e.source = "hr";
    e.event_id = id;
    e.type = type;
    e.received_at_ms = SystemClock().NowUnixMillis();
    e.body = Json({{"type", type},
                   {"timestamp", testing::Rfc3339Ms(SystemClock().NowUnixMillis())},
                   {"data", data}})
                 .dump();
    ASSERT_TRUE(h.store->InsertEvents({e}).ok());
    writer.Wake();
  };
  writer.Start();
  store("leaver-joined", "user.upserted",
        {{"external_id", "leaver"}, {"email", "leaver@example.com"}});
  for (int i = 0; i < 200 && !UserByEmail(h.tenant, "leaver@example.com"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(UserByEmail(h.tenant, "leaver@example.com").has_value());

  std::vector<EventRecord> hires;
  for (int i = 0; i < kHires; ++i) {
    EventRecord e;
    e.source = "hr";
    e.event_id = "hire-" + std::to_string(i);
    e.type = "user.upserted";
    e.received_at_ms = SystemClock().NowUnixMillis();
    e.body = Json({{"type", "user.upserted"},
                   {"timestamp", testing::Rfc3339Ms(SystemClock().NowUnixMillis())},
                   {"data",
                    {{"external_id", "h" + std::to_string(i)},
                     {"email", "h" + std::to_string(i) + "@example.com"}}}})
                 .dump();
    hires.push_back(e);
  }
  ASSERT_TRUE(h.store->InsertEvents(hires).ok());
  writer.Wake();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the backlog is being worked on
  const auto left_at = std::chrono::steady_clock::now();
  store("leaver-left", "user.left", {{"external_id", "leaver"}});
  bool blocked = false;
  while (!blocked && std::chrono::steady_clock::now() - left_at < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    blocked = UserByEmail(h.tenant, "leaver@example.com")->blocked;
  }
  const auto lag = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - left_at);
  const size_t created_then = h.tenant.Users().size() - 1;
  writer.Stop();
  ASSERT_TRUE(blocked);
  EXPECT_LT(lag.count(), kSettleMs + 1000) << "the leaver waited behind the hires";
  EXPECT_LT(created_then, static_cast<size_t>(kHires))
      << "the backlog was gone before the leaver: the test proves nothing";
  std::printf("leaver blocked %lld ms after its event, with %zu of %d hires created\n",
              static_cast<long long>(lag.count()), created_then, kHires);
}

}  // namespace
}  // namespace tenantsync
