// Issue 5: end to end for every event type. Real `tenantsync serve` + real auth0-sim over HTTP;
// after each phase the simulator's tenant (`GET /__sim/state`) is checked field by field.
#include <gtest/gtest.h>

#include "tests/integration/reconcile_support.h"

namespace tenantsync::testing::reconcile {
namespace {

const Json* FindBy(const Json& list, const char* key, const std::string& value) {
  for (auto& x : list) {
    if (x.value(key, std::string()) == value) return &x;
  }
  return nullptr;
}

TEST(ReconcileEvents, EveryEventTypeEndToEnd) {
  Sim sim;
  ASSERT_TRUE(sim.ok());
  sim.CreateRole("admin");
  sim.CreateRole("member");
  TestDaemon d(DaemonFor(sim));
  ASSERT_TRUE(d.Start()) << d.Output();

  // ---- Phase 1: organizations and users created ------------------------------------------------
  const Json acme_branding = {{"logo_url", "https://acme.example.com/logo.png"},
                              {"colors", {{"primary", "#112233"}, {"page_background", "#445566"}}}};
  std::vector<Ev> phase1 = {
      {"o1",
       "organization.upserted",
       {{"external_id", "acme"},
        {"name", "acme"},
        {"display_name", "Acme Corp"},
        {"metadata", {{"tier", "gold"}, {"region", "eu"}}},
        {"branding", acme_branding},
        {"connections",
         {{{"name", kConnection},
           {"assign_membership_on_login", true},
           {"show_as_button", false}}}},
        {"callback_urls", {"https://acme.example.com/callback"}}},
       Ts(1)},
      {"o2",
       "organization.upserted",
       {{"external_id", "globex"},
        {"name", "globex"},
        {"display_name", "Globex"},
        {"callback_urls", {"https://globex.example.com/callback"}}},
       Ts(2)},
      {"u1",
       "user.upserted",
       {{"external_id", "e1"},
        {"email", "ada@acme.example.com"},
        {"email_verified", true},
        {"name", "Ada Lovelace"},
        {"given_name", "Ada"},
        {"family_name", "Lovelace"},
        {"nickname", "ada"},
        {"picture", "https://acme.example.com/ada.png"},
        {"app_metadata", {{"plan", "pro"}, {"team", "engines"}}},
        {"user_metadata", {{"theme", "dark"}, {"lang", "en"}}},
        {"organizations",
         {{{"external_id", "acme"}, {"roles", {"admin", "member"}}},
          {{"external_id", "globex"}, {"roles", Json::array()}}}}},
       Ts(3)},
      {"u2",
       "user.upserted",
       {{"external_id", "e2"},
        {"email", "grace@acme.example.com"},
        {"name", "Grace Hopper"},
        {"organizations", {{{"external_id", "acme"}, {"roles", {"member"}}}}}},
       Ts(4)},
      {"u3",
       "user.upserted",
       {{"external_id", "e3"},
        {"email", "alan@acme.example.com"},
        {"name", "Alan Turing"},
        {"organizations", {{{"external_id", "acme"}, {"roles", {"member"}}}}}},
       Ts(5)},
      {"u4",
       "user.upserted",
       {{"external_id", "e4"},
        {"email", "linus@globex.example.com"},
        {"name", "Linus"},
        {"organizations",
         {{{"external_id", "globex"}, {"roles", {"member"}}},
          {{"external_id", "acme"}, {"roles", Json::array()}}}}},
       Ts(6)},
      {"u5",
       "user.upserted",
       {{"external_id", "e5"}, {"email", "barbara@acme.example.com"}, {"name", "Barbara"}},
       Ts(7)},
  };
  for (auto& ev : phase1) ASSERT_TRUE(Send(d, ev));
  WaitConverged(d);

  Json state = sim.State();
  Json t = Normalize(state);
  EXPECT_EQ(t["duplicate_emails"], Json::array());
  ASSERT_TRUE(t["organizations"].contains("acme")) << Mutations(d).dump(1) << d.Output();
  ASSERT_TRUE(t["organizations"].contains("globex")) << state.dump();
  Json acme = t["organizations"]["acme"];
  EXPECT_EQ(acme["display_name"], "Acme Corp");
  EXPECT_EQ(acme["metadata"], (Json{{"tier", "gold"}, {"region", "eu"}}));
  EXPECT_EQ(acme["branding"], acme_branding);
  EXPECT_EQ(
      acme["connections"],
      (Json{{kConnection, {{"assign_membership_on_login", true}, {"show_as_button", false}}}}));
  EXPECT_EQ(acme["members"], (Json{{"ada@acme.example.com", {"admin", "member"}},
                                   {"grace@acme.example.com", {"member"}},
                                   {"alan@acme.example.com", {"member"}},
                                   {"linus@globex.example.com", Json::array()}}));
  EXPECT_EQ(t["organizations"]["globex"]["display_name"], "Globex");
  EXPECT_EQ(
      t["organizations"]["globex"]["members"],
      (Json{{"ada@acme.example.com", Json::array()}, {"linus@globex.example.com", {"member"}}}));
  EXPECT_EQ(t["callbacks"],
            (Json{"https://acme.example.com/callback", "https://globex.example.com/callback"}));
  EXPECT_EQ(t["connection_clients"][kConnection], true);

  ASSERT_TRUE(t["users"].contains("ada@acme.example.com"));
  Json ada = t["users"]["ada@acme.example.com"];
  EXPECT_EQ(ada["email_verified"], true);
  EXPECT_EQ(ada["name"], "Ada Lovelace");
  EXPECT_EQ(ada["given_name"], "Ada");
  EXPECT_EQ(ada["family_name"], "Lovelace");
  EXPECT_EQ(ada["nickname"], "ada");
  EXPECT_EQ(ada["picture"], "https://acme.example.com/ada.png");
  EXPECT_EQ(ada["app_metadata"], (Json{{"plan", "pro"}, {"team", "engines"}}));
  EXPECT_EQ(ada["user_metadata"], (Json{{"theme", "dark"}, {"lang", "en"}}));
  EXPECT_EQ(ada["blocked"], false);
  EXPECT_EQ(t["users"].size(), 5u) << t["users"].dump();
  for (auto& u : state["users"]) {
    EXPECT_EQ(u["password_set"], true) << "created with a random password: " << u["email"];
    EXPECT_EQ(u["identities"][0]["connection"], kConnection);
  }
  // on_create = ["send_password_reset"]: one change-password e-mail per created user, no
  // signup verification e-mail (verify_email false).
  auto emails = Emails(state);
  for (auto e : {"ada@acme.example.com", "grace@acme.example.com", "alan@acme.example.com",
                 "linus@globex.example.com", "barbara@acme.example.com"}) {
    EXPECT_EQ(emails["change_password"][e], 1) << e;
  }
  EXPECT_TRUE(emails["verification"].empty());
  EXPECT_EQ(Status(d)["mutations"]["dead"], 0) << Mutations(d, "&state=dead").dump();

  // ---- Phase 2: updates, merges with null, blocking, leaving, deleting, commands, scheduling ---
  std::vector<Ev> phase2 = {
      {"o1b",
       "organization.upserted",
       {{"external_id", "acme"},
        {"display_name", "Acme Corporation"},
        {"metadata", {{"region", nullptr}, {"size", "large"}}}},
       Ts(10)},
      {"u1b",
       "user.upserted",
       {{"external_id", "e1"},
        {"name", "Ada King"},
        {"app_metadata", {{"team", nullptr}, {"level", 3}}},
        {"user_metadata", {{"lang", nullptr}}},
        {"organizations", {{{"external_id", "acme"}, {"roles", {"member"}}}}}},
       Ts(11)},
      {"u2b", "user.blocked", {{"external_id", "e2"}, {"reason", "security review"}}, Ts(12)},
      {"u3b", "user.deleted", {{"external_id", "e3"}}, Ts(13)},
      {"u4b", "user.left", {{"external_id", "e4"}}, Ts(14)},
      {"u5b", "user.password_reset_requested", {{"external_id", "e5"}}, Ts(15)},
      {"u5c", "user.verification_email_requested", {{"external_id", "e5"}}, Ts(16)},
      {"u6",
       "user.upserted",
       {{"external_id", "e6"},
        {"email", "future@acme.example.com"},
        {"name", "Future Hire"},
        {"effective_at", FromNow(3600)}},
       Ts(17)},
      {"o2b", "organization.deleted", {{"external_id", "globex"}}, Ts(18)},
  };
  for (auto& ev : phase2) ASSERT_TRUE(Send(d, ev));
  Json st = WaitConverged(d, std::chrono::seconds(30), /*scheduled=*/1);
  EXPECT_EQ(st["events"]["pending"], 1) << "the future hire stays scheduled";

  state = sim.State();
  t = Normalize(state);
  EXPECT_EQ(t["duplicate_emails"], Json::array());
  acme = t["organizations"]["acme"];
  EXPECT_EQ(acme["display_name"], "Acme Corporation");
  EXPECT_EQ(acme["metadata"], (Json{{"tier", "gold"}, {"size", "large"}}))
      << "merged; null removes region";
  EXPECT_EQ(acme["branding"], acme_branding) << "absent fields are unchanged";
  EXPECT_FALSE(t["organizations"].contains("globex")) << "organization.deleted";
  EXPECT_EQ(t["callbacks"], (Json{"https://acme.example.com/callback"}))
      << "the deleted organization's URL removed";
  // e1 keeps only acme/member; e3 deleted; e4 left (membership removed); e2 blocked stays a member.
  EXPECT_EQ(acme["members"],
            (Json{{"ada@acme.example.com", {"member"}}, {"grace@acme.example.com", {"member"}}}));
  ada = t["users"]["ada@acme.example.com"];
  EXPECT_EQ(ada["name"], "Ada King");
  EXPECT_EQ(ada["given_name"], "Ada") << "absent fields are unchanged";
  EXPECT_EQ(ada["app_metadata"], (Json{{"plan", "pro"}, {"level", 3}}));
  EXPECT_EQ(ada["user_metadata"], (Json{{"theme", "dark"}}));
  EXPECT_EQ(t["users"]["grace@acme.example.com"]["blocked"], true);
  EXPECT_FALSE(t["users"].contains("alan@acme.example.com")) << "user.deleted";
  ASSERT_TRUE(t["users"].contains("linus@globex.example.com"));
  EXPECT_EQ(t["users"]["linus@globex.example.com"]["blocked"], true) << "on_leave block";
  EXPECT_FALSE(t["users"].contains("future@acme.example.com")) << "effective_at in the future";
  emails = Emails(state);
  EXPECT_EQ(emails["change_password"]["barbara@acme.example.com"], 2)
      << "on_create + user.password_reset_requested";
  EXPECT_EQ(emails["verification"]["barbara@acme.example.com"], 1);
  EXPECT_EQ(emails["change_password"]["ada@acme.example.com"], 1);
  auto e6 = d.AdminGet("/v1/users/e6");
  EXPECT_EQ(e6.status, 404) << "not applied before effective_at: " << e6.body;
  // The leaver's sessions were revoked as one recorded mutation.
  bool revoked = false;
  for (auto& m : Mutations(d, "&entity=user:e4"))
    revoked = revoked || (m["kind"] == "revoke_sessions" && m["state"] == "done");
  EXPECT_TRUE(revoked) << Mutations(d, "&entity=user:e4").dump();

  // ---- Phase 3: unblock, return, revive a deleted user, a duplicate command delivery
  // --------------
  std::vector<Ev> phase3 = {
      {"u2c", "user.unblocked", {{"external_id", "e2"}, {"reason", "cleared"}}, Ts(20)},
      {"u4c", "user.returned", {{"external_id", "e4"}}, Ts(21)},
      {"u3c", "user.upserted", {{"external_id", "e3"}, {"name", "Alan M. Turing"}}, Ts(22)},
      {"u5b",
       "user.password_reset_requested",
       {{"external_id", "e5"}},
       Ts(15)},  // redelivery: once per event
  };
  for (auto& ev : phase3) ASSERT_TRUE(Send(d, ev));
  WaitConverged(d, std::chrono::seconds(30), /*scheduled=*/1);
  state = sim.State();
  t = Normalize(state);
  EXPECT_EQ(t["duplicate_emails"], Json::array());
  EXPECT_EQ(t["users"]["grace@acme.example.com"]["blocked"], false);
  EXPECT_EQ(t["users"]["linus@globex.example.com"]["blocked"], false);
  // Returned: memberships restored from desired state (globex is deleted, so acme only).
  EXPECT_EQ(t["organizations"]["acme"]["members"],
            (Json{{"ada@acme.example.com", {"member"}},
                  {"grace@acme.example.com", {"member"}},
                  {"linus@globex.example.com", Json::array()},
                  {"alan@acme.example.com", {"member"}}}));
  ASSERT_TRUE(t["users"].contains("alan@acme.example.com"))
      << "a later upsert revives a deleted user";
  EXPECT_EQ(t["users"]["alan@acme.example.com"]["name"], "Alan M. Turing");
  EXPECT_EQ(t["users"]["alan@acme.example.com"]["blocked"], false);
  EXPECT_EQ(Emails(state)["change_password"]["barbara@acme.example.com"], 2)
      << "a redelivered command runs once";
  EXPECT_EQ(Status(d)["mutations"]["dead"], 0) << Mutations(d, "&state=dead").dump();
  const Json* future = FindBy(state["users"], "email", "future@acme.example.com");
  EXPECT_EQ(future, nullptr);
}

}  // namespace
}  // namespace tenantsync::testing::reconcile
