// Issue 5: delivery order does not matter (in order, shuffled, with duplicates: same tenant), and
// concurrent changes to one list (the application's callbacks) are folded into few writes.
#include <gtest/gtest.h>

#include <atomic>
#include <random>

#include "tests/integration/reconcile_support.h"

namespace tenantsync::testing::reconcile {
namespace {

// A stream where later events change, merge into and delete what earlier ones set. Every event
// has its own timestamp (the order at the source). One-shot commands are left out: a command
// for a user not yet known is reported dead by design, so their outcome depends on arrival.
// Later upserts are partial (no organization name, no user email): when one overtakes the first,
// full upsert, its fields are kept and the entity waits for the name / email before it is created.
std::vector<Ev> Stream() {
  std::vector<Ev> s;
  int t = 0;
  auto add = [&](std::string type, Json data) {
    s.push_back({"ev-" + std::to_string(s.size()), std::move(type), std::move(data), Ts(++t)});
  };
  for (int o = 0; o < 3; ++o) {
    std::string n = "org" + std::to_string(o);
    add("organization.upserted", {{"external_id", n},
                                  {"name", n},
                                  {"display_name", "Org " + std::to_string(o)},
                                  {"metadata", {{"k", "v0"}, {"drop", "x"}}},
                                  {"callback_urls", {"https://" + n + ".example.com/cb"}}});
  }
  for (int u = 0; u < 8; ++u) {
    std::string e = "e" + std::to_string(u);
    add("user.upserted",
        {{"external_id", e},
         {"email", "user" + std::to_string(u) + "@example.com"},
         {"name", "User " + std::to_string(u)},
         {"app_metadata", {{"a", 1}, {"b", 2}}},
         {"organizations",
          {{{"external_id", "org" + std::to_string(u % 3)}, {"roles", {"member"}}}}}});
  }
  add("organization.upserted",
      {{"external_id", "org1"},
       {"metadata", {{"drop", nullptr}, {"k", "v1"}}},
       {"connections", {{{"name", kConnection}, {"show_as_button", false}}}}});
  add("user.upserted", {{"external_id", "e1"},
                        {"name", "User One"},
                        {"app_metadata", {{"b", nullptr}, {"c", "3"}}},
                        {"organizations",
                         {{{"external_id", "org0"}, {"roles", {"admin", "member"}}},
                          {{"external_id", "org2"}, {"roles", Json::array()}}}}});
  add("user.blocked", {{"external_id", "e2"}});
  add("user.left", {{"external_id", "e3"}});
  add("user.deleted", {{"external_id", "e4"}});
  add("user.left", {{"external_id", "e5"}});
  add("user.returned", {{"external_id", "e5"}});
  add("organization.deleted", {{"external_id", "org2"}});
  add("user.upserted",
      {{"external_id", "e6"}, {"user_metadata", {{"pref", "x"}}}, {"nickname", "six"}});
  add("user.blocked", {{"external_id", "e7"}});
  add("user.unblocked", {{"external_id", "e7"}});
  add("organization.upserted", {{"external_id", "org0"}, {"display_name", "Org Zero"}});
  return s;
}

// Runs `deliveries` against a fresh sim + tenantsync; returns the normalised tenant.
Json RunStream(const std::vector<Ev>& deliveries, Json* emails_out) {
  Sim sim;
  EXPECT_TRUE(sim.ok());
  if (!sim.ok()) return {};
  sim.CreateRole("admin");
  sim.CreateRole("member");
  TestDaemon d(DaemonFor(sim));
  EXPECT_TRUE(d.Start()) << d.Output();
  // The whole stream is stored before any of it is applied, so each run plans from the same
  // desired state whatever the delivery timing (which e-mails go out depends on it).
  EXPECT_EQ(d.AdminPost("/v1/pause").status, 200);
  for (auto& ev : deliveries) Send(d, ev);
  EXPECT_EQ(d.AdminPost("/v1/resume").status, 200);
  WaitConverged(d);
  EXPECT_EQ(Status(d)["mutations"]["dead"], 0) << Mutations(d, "&state=dead").dump();
  Json state = sim.State();
  if (emails_out) *emails_out = Emails(state);
  return Normalize(state);
}

TEST(ReconcileOrder, InOrderShuffledAndDuplicatedConverge) {
  const auto stream = Stream();
  std::mt19937 rng(20261125);
  std::vector<Ev> shuffled = stream;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  std::vector<Ev> duplicated;
  for (auto& ev : stream) {
    int copies = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < copies; ++i) duplicated.push_back(ev);
  }
  std::shuffle(duplicated.begin(), duplicated.end(), rng);

  Json emails_in_order, emails_shuffled, emails_duplicated;
  Json in_order = RunStream(stream, &emails_in_order);
  Json shuffled_state = RunStream(shuffled, &emails_shuffled);
  Json duplicated_state = RunStream(duplicated, &emails_duplicated);

  // The expected tenant, spelled out for the in-order run.
  ASSERT_TRUE(in_order.is_object());
  EXPECT_EQ(in_order["duplicate_emails"], Json::array());
  EXPECT_EQ(in_order["organizations"].size(), 2u) << in_order.dump(1);
  EXPECT_EQ(in_order["organizations"]["org0"]["display_name"], "Org Zero");
  EXPECT_EQ(in_order["organizations"]["org1"]["metadata"], (Json{{"k", "v1"}}));
  EXPECT_EQ(in_order["organizations"]["org0"]["members"],
            (Json{{"user0@example.com", {"member"}},
                  {"user1@example.com", {"admin", "member"}},
                  {"user6@example.com", {"member"}}}));
  // e3 left (removed); e4 deleted; e7 stays.
  EXPECT_EQ(in_order["organizations"]["org1"]["members"],
            (Json{{"user7@example.com", {"member"}}}));
  EXPECT_EQ(
      in_order["organizations"]["org1"]["connections"],
      (Json{{kConnection, {{"assign_membership_on_login", false}, {"show_as_button", false}}}}));
  EXPECT_EQ(in_order["callbacks"],
            (Json{"https://org0.example.com/cb", "https://org1.example.com/cb"}));
  EXPECT_EQ(in_order["users"].size(), 7u);
  EXPECT_EQ(in_order["users"]["user1@example.com"]["app_metadata"], (Json{{"a", 1}, {"c", "3"}}));
  EXPECT_EQ(in_order["users"]["user2@example.com"]["blocked"], true);
  EXPECT_EQ(in_order["users"]["user3@example.com"]["blocked"], true);
  EXPECT_EQ(in_order["users"]["user5@example.com"]["blocked"], false);
  EXPECT_EQ(in_order["users"]["user7@example.com"]["blocked"], false);
  EXPECT_EQ(in_order["users"]["user1@example.com"]["name"], "User One");
  EXPECT_EQ(in_order["users"]["user6@example.com"]["nickname"], "six");

  EXPECT_EQ(shuffled_state, in_order) << "shuffled:\n"
                                      << shuffled_state.dump(1) << "\nin order:\n"
                                      << in_order.dump(1);
  EXPECT_EQ(duplicated_state, in_order) << "duplicated:\n" << duplicated_state.dump(1);
  // One on_create change-password e-mail per surviving user who may sign in, whatever the
  // order; a blocked or departed user (user2, user3) is never invited (issue 12).
  for (auto& [email, u] : in_order["users"].items()) {
    const Json expected = u["blocked"] == true ? Json(nullptr) : Json(1);
    EXPECT_EQ(emails_in_order["change_password"][email], expected) << email;
    EXPECT_EQ(emails_shuffled["change_password"][email], expected) << email;
    EXPECT_EQ(emails_duplicated["change_password"][email], expected) << email;
  }
}

TEST(ReconcileOrder, FiftyOrganizationsShareOneApplicationFewWrites) {
  Sim sim({"--latency-ms", "2"});
  ASSERT_TRUE(sim.ok());
  TestDaemon d(DaemonFor(sim));
  ASSERT_TRUE(d.Start()) << d.Output();
  // Fifty senders at once (one client each, as fifty deliveries from the HR system would).
  std::vector<std::thread> senders;
  std::atomic<int> accepted{0};
  for (int i = 0; i < 50; ++i) {
    senders.emplace_back([&, i] {
      std::string n = "tenant-" + std::to_string(i);
      Ev ev{"org-" + std::to_string(i),
            "organization.upserted",
            {{"external_id", n},
             {"name", n},
             {"display_name", "Tenant " + std::to_string(i)},
             {"callback_urls", {"https://" + n + ".example.com/callback"}}},
            Ts(i)};
      // PostEvent keeps one admin/ingress client per daemon; a sender of its own per thread.
      TestHttpClient c("127.0.0.1", d.ingress_port());
      HeaderList headers;
      for (auto& h : SignDelivery(d.Signing("hr"), ev.id, std::time(nullptr), ev.Body()))
        headers.push_back(h);
      auto r = c.Post("/webhooks/hr", ev.Body(), headers);
      if (r.status >= 200 && r.status < 300) ++accepted;
    });
  }
  for (auto& s : senders) s.join();
  ASSERT_EQ(accepted.load(), 50);
  WaitConverged(d);
  Json t = Normalize(sim.State());
  EXPECT_EQ(t["organizations"].size(), 50u);
  std::vector<std::string> want;
  for (int i = 0; i < 50; ++i)
    want.push_back("https://tenant-" + std::to_string(i) + ".example.com/callback");
  std::sort(want.begin(), want.end());
  EXPECT_EQ(t["callbacks"], Json(want));
  int64_t patches = sim.Requests("PATCH /api/v2/clients/{id}");
  RecordProperty("client_patches", static_cast<int>(patches));
  EXPECT_GE(patches, 1);
  EXPECT_LE(patches, 10) << "all pending changes to one list go in one read + one write";
}

}  // namespace
}  // namespace tenantsync::testing::reconcile
