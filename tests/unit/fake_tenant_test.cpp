// FakeTenant: the in-memory Auth0 tenant behind Auth0Api models the semantics tenantsync relies
// on (tests/support/fake_tenant.h), records requests and injects faults.
#include "tests/support/fake_tenant.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <regex>
#include <thread>

namespace tenantsync {
namespace {

using testing::FakeTenant;
using ::testing::HasSubstr;
using Json = nlohmann::json;
namespace ep = endpoints;

constexpr char kApp[] = "app-client";

Json NewUser(const std::string& email, Json extra = Json::object()) {
  Json body = {{"email", email}, {"password", "Random-Passw0rd!"}, {"verify_email", false}};
  body.update(extra);
  return body;
}

std::string MustCreateUser(FakeTenant& t, const std::string& email, Json extra = Json::object()) {
  auto u = t.CreateUser(NewUser(email, std::move(extra)));
  EXPECT_TRUE(u.ok()) << u.status().ToString();
  return u.ok() ? u->user_id : "";
}

std::string MustCreateOrg(FakeTenant& t, const std::string& name, Json extra = Json::object()) {
  Json body = {{"name", name}};
  body.update(extra);
  auto o = t.CreateOrganization(body);
  EXPECT_TRUE(o.ok()) << o.status().ToString();
  return o.ok() ? o->id : "";
}

// ---- Users -----------------------------------------------------------------------------------

TEST(FakeTenantTest, CreatedUserHasAuth0IdDefaultsAndConnection) {
  FakeTenant t;
  auto u = t.CreateUser(NewUser("Ann@Example.com", {{"given_name", "Ann"}}));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_TRUE(std::regex_match(u->user_id, std::regex("auth0\\|[0-9a-f]{24}"))) << u->user_id;
  EXPECT_EQ(u->profile["email"], "Ann@Example.com");
  EXPECT_EQ(u->profile["given_name"], "Ann");
  // Auth0's defaults for what was not given.
  EXPECT_EQ(u->profile["name"], "Ann@Example.com");
  EXPECT_EQ(u->profile["nickname"], "Ann");
  EXPECT_EQ(u->profile["email_verified"], false);
  EXPECT_TRUE(u->profile.contains("picture"));
  EXPECT_EQ(u->connections, std::vector<std::string>{FakeTenant::kDefaultConnection});
  EXPECT_FALSE(u->blocked);
  auto stored = t.FindUser(u->user_id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(stored->password_set);
  EXPECT_EQ(t.Users().size(), 1u);
}

TEST(FakeTenantTest, CreateSendsAVerificationEmailUnlessToldNotTo) {
  struct Case {
    Json extra;
    bool email_sent;
  };
  const Case cases[] = {
      {Json{{"verify_email", true}}, true},
      {Json{{"verify_email", false}}, false},
      {Json{{"verify_email", true}, {"email_verified", true}}, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.extra.dump());
    FakeTenant t;
    Json body = {{"email", "a@example.com"}, {"password", "x"}};
    body.update(c.extra);
    auto u = t.CreateUser(body);
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    auto emails = t.Emails();
    ASSERT_EQ(emails.size(), c.email_sent ? 1u : 0u);
    if (c.email_sent) {
      EXPECT_EQ(emails[0].kind, FakeTenant::EmailKind::kVerification);
      EXPECT_EQ(emails[0].user_id, u->user_id);
    }
  }
  // Absent verify_email means "send" (Auth0's default).
  FakeTenant t;
  ASSERT_TRUE(t.CreateUser(Json{{"email", "b@example.com"}, {"password", "x"}}).ok());
  EXPECT_EQ(t.Emails().size(), 1u);
}

TEST(FakeTenantTest, CreateUserRefusals) {
  struct Case {
    const char* name;
    Json body;
    StatusKind kind;
    int http;
    const char* code;
  };
  const Case cases[] = {
      {"no email", Json{{"password", "x"}}, StatusKind::kPermanent, 400, "invalid_body"},
      {"no password", Json{{"email", "a@example.com"}}, StatusKind::kPermanent, 400,
       "invalid_body"},
      {"unknown field", NewUser("a@example.com", {{"username", "a"}}), StatusKind::kPermanent, 400,
       "invalid_body"},
      {"blocked not a boolean", NewUser("a@example.com", {{"blocked", "yes"}}),
       StatusKind::kPermanent, 400, "invalid_body"},
      {"app_metadata not an object", NewUser("a@example.com", {{"app_metadata", "x"}}),
       StatusKind::kPermanent, 400, "invalid_body"},
      {"name null", NewUser("a@example.com", {{"name", nullptr}}), StatusKind::kPermanent, 400,
       "invalid_body"},
      {"not an email", NewUser("not-an-email"), StatusKind::kPermanent, 400, "invalid_body"},
      {"unknown connection", NewUser("a@example.com", {{"connection", "nope"}}),
       StatusKind::kPermanent, 400, "inexistent_connection"},
      {"email taken (case-insensitive)", NewUser("TAKEN@example.com"), StatusKind::kConflict, 409,
       "auth0_idp_error"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    FakeTenant t;
    MustCreateUser(t, "taken@example.com");
    auto r = t.CreateUser(c.body);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), c.kind);
    EXPECT_EQ(r.status().http_status(), c.http);
    EXPECT_EQ(r.status().error_code(), c.code);
    EXPECT_THAT(r.status().message(), ::testing::StartsWith("POST /api/v2/users: HTTP "));
    EXPECT_EQ(t.Users().size(), 1u) << "nothing created";
  }
}

TEST(FakeTenantTest, EmailIsUniquePerConnectionOnly) {
  FakeTenant t;
  t.AddConnection("other-db");
  MustCreateUser(t, "a@example.com");
  auto other = t.CreateUser(NewUser("a@example.com", {{"connection", "other-db"}}));
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_EQ(other->connections, std::vector<std::string>{"other-db"});
  auto both = t.GetUsersByEmail("A@EXAMPLE.COM");
  ASSERT_TRUE(both.ok());
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ((*both)[1].user_id, other->user_id) << "in creation order";
  auto none = t.GetUsersByEmail("nobody@example.com");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(FakeTenantTest, PatchMergesUserMetadataAtTheFirstLevel) {
  struct Case {
    const char* name;
    Json before;
    Json patch;
    Json after;
  };
  const Case cases[] = {
      {"sets a key", Json{{"a", 1}}, Json{{"b", 2}}, Json{{"a", 1}, {"b", 2}}},
      {"null deletes a key", Json{{"a", 1}, {"b", 2}}, Json{{"a", nullptr}}, Json{{"b", 2}}},
      {"replaces a value", Json{{"a", 1}}, Json{{"a", "x"}}, Json{{"a", "x"}}},
      {"nested objects are replaced, not merged", Json{{"a", {{"x", 1}}}}, Json{{"a", {{"y", 2}}}},
       Json{{"a", {{"y", 2}}}}},
      {"an empty patch changes nothing", Json{{"a", 1}}, Json::object(), Json{{"a", 1}}},
      {"deleting an absent key is fine", Json::object(), Json{{"a", nullptr}}, Json::object()},
  };
  for (const char* field : {"app_metadata", "user_metadata"}) {
    for (const auto& c : cases) {
      SCOPED_TRACE(std::string(field) + ": " + c.name);
      FakeTenant t;
      std::string id = MustCreateUser(t, "a@example.com", {{field, c.before}});
      auto r = t.PatchUser(id, Json{{field, c.patch}});
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      const Json& got = std::string(field) == "app_metadata" ? r->app_metadata : r->user_metadata;
      EXPECT_EQ(got, c.after);
      auto stored = t.FindUser(id);
      EXPECT_EQ(std::string(field) == "app_metadata" ? stored->app_metadata : stored->user_metadata,
                c.after);
    }
  }
}

TEST(FakeTenantTest, PatchUserFieldsAndRefusals) {
  FakeTenant t;
  std::string id = MustCreateUser(t, "a@example.com", {{"email_verified", true}});
  MustCreateUser(t, "taken@example.com");

  auto blocked = t.PatchUser(id, Json{{"blocked", true}, {"name", "Ann"}});
  ASSERT_TRUE(blocked.ok());
  EXPECT_TRUE(blocked->blocked);
  EXPECT_EQ(blocked->profile["name"], "Ann");
  EXPECT_TRUE(t.FindUser(id)->blocked);
  auto unblocked = t.PatchUser(id, Json{{"blocked", false}});
  ASSERT_TRUE(unblocked.ok());
  EXPECT_FALSE(unblocked->blocked);

  // A new email is unverified unless said otherwise.
  auto moved = t.PatchUser(id, Json{{"email", "b@example.com"}});
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->profile["email_verified"], false);
  EXPECT_TRUE(t.GetUsersByEmail("a@example.com")->empty());

  struct Case {
    const char* name;
    std::string user;
    Json patch;
    StatusKind kind;
    int http;
  };
  const Case cases[] = {
      {"email taken", id, Json{{"email", "Taken@example.com"}}, StatusKind::kConflict, 409},
      {"unknown user", "auth0|nobody", Json{{"blocked", true}}, StatusKind::kNotFound, 404},
      {"unknown field", id, Json{{"logins_count", 3}}, StatusKind::kPermanent, 400},
      {"name null", id, Json{{"name", nullptr}}, StatusKind::kPermanent, 400},
      {"blocked not a boolean", id, Json{{"blocked", "yes"}}, StatusKind::kPermanent, 400},
      {"not an object", id, Json::array(), StatusKind::kPermanent, 400},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto before = t.FindUser(id);
    auto r = t.PatchUser(c.user, c.patch);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), c.kind);
    EXPECT_EQ(r.status().http_status(), c.http);
    EXPECT_EQ(t.FindUser(id)->profile, before->profile) << "nothing changed";
  }
  auto missing = t.GetUser("auth0|nobody");
  EXPECT_EQ(missing.status().kind(), StatusKind::kNotFound);
  EXPECT_EQ(missing.status().error_code(), "inexistent_user");
}

TEST(FakeTenantTest, DeleteUserIsIdempotentAndEndsMemberships) {
  FakeTenant t;
  std::string org = MustCreateOrg(t, "acme");
  std::string id = MustCreateUser(t, "a@example.com");
  ASSERT_TRUE(t.AddMembers(org, {id}).ok());
  ASSERT_TRUE(t.DeleteUser(id).ok());
  EXPECT_TRUE(t.DeleteUser(id).ok());
  EXPECT_FALSE(t.FindUser(id).has_value());
  EXPECT_TRUE(t.Members(org).empty());
  EXPECT_EQ(t.GetUser(id).status().kind(), StatusKind::kNotFound);
}

TEST(FakeTenantTest, SessionAndRefreshTokenRevocationsAreCounted) {
  FakeTenant t;
  std::string id = MustCreateUser(t, "a@example.com");
  ASSERT_TRUE(t.RevokeSessions(id).ok());
  ASSERT_TRUE(t.RevokeSessions(id).ok());
  ASSERT_TRUE(t.RevokeRefreshTokens(id).ok());
  EXPECT_TRUE(t.RevokeSessions("auth0|gone").ok()) << "idempotent for absent users";
  EXPECT_EQ(t.FindUser(id)->sessions_revoked, 2);
  EXPECT_EQ(t.FindUser(id)->refresh_tokens_revoked, 1);
}

// ---- Organizations ---------------------------------------------------------------------------

TEST(FakeTenantTest, OrganizationCreateWithEnabledConnections) {
  FakeTenant t;
  std::string db = t.ConnectionId(FakeTenant::kDefaultConnection);
  std::string sso = t.AddConnection("sso");
  ASSERT_FALSE(db.empty());
  auto o = t.CreateOrganization(Json{{"name", "acme"},
                                     {"display_name", "Acme"},
                                     {"branding", {{"logo_url", "https://l.example/a.png"}}},
                                     {"metadata", {{"tier", "gold"}}},
                                     {"enabled_connections",
                                      {{{"connection_id", db}},
                                       {{"connection_id", sso},
                                        {"assign_membership_on_login", true},
                                        {"show_as_button", false}}}}});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_TRUE(o->id.starts_with("org_"));
  EXPECT_EQ(o->name, "acme");
  EXPECT_EQ(o->display_name, "Acme");
  EXPECT_EQ(o->metadata, Json::parse(R"({"tier":"gold"})"));
  auto stored = t.FindOrganization(o->id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->connections,
            (std::vector<FakeTenant::EnabledConnection>{{db, false, true}, {sso, true, false}}));
  auto by_name = t.GetOrganizationByName("acme");
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ(by_name->id, o->id);
}

TEST(FakeTenantTest, OrganizationCreateRefusals) {
  struct Case {
    const char* name;
    Json body;
    StatusKind kind;
    int http;
  };
  const Case cases[] = {
      {"name taken", Json{{"name", "taken"}}, StatusKind::kConflict, 409},
      {"no name", Json{{"display_name", "X"}}, StatusKind::kPermanent, 400},
      {"bad name", Json{{"name", "Not Valid!"}}, StatusKind::kPermanent, 400},
      {"metadata value not a string", Json{{"name", "a"}, {"metadata", {{"k", 1}}}},
       StatusKind::kPermanent, 400},
      {"unknown field", Json{{"name", "a"}, {"logo", "x"}}, StatusKind::kPermanent, 400},
      {"unknown connection",
       Json{{"name", "a"}, {"enabled_connections", {{{"connection_id", "con_nope"}}}}},
       StatusKind::kNotFound, 404},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    FakeTenant t;
    MustCreateOrg(t, "taken");
    auto r = t.CreateOrganization(c.body);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), c.kind);
    EXPECT_EQ(r.status().http_status(), c.http);
    EXPECT_EQ(t.Organizations().size(), 1u);
  }
}

TEST(FakeTenantTest, OrganizationPatchReplacesMetadataWhole) {
  struct Case {
    const char* name;
    Json patch;
    Json metadata;
    Json display_name;
  };
  const Case cases[] = {
      {"metadata replaced, not merged", Json{{"metadata", {{"b", "2"}}}}, Json{{"b", "2"}}, "Acme"},
      {"metadata emptied", Json{{"metadata", Json::object()}}, Json::object(), "Acme"},
      {"metadata untouched when absent", Json{{"display_name", "New"}}, Json{{"a", "1"}}, "New"},
      {"display_name removed by null", Json{{"display_name", nullptr}}, Json{{"a", "1"}}, nullptr},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    FakeTenant t;
    std::string id =
        MustCreateOrg(t, "acme", {{"display_name", "Acme"}, {"metadata", {{"a", "1"}}}});
    auto r = t.PatchOrganization(id, c.patch);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->metadata, c.metadata);
    EXPECT_EQ(r->display_name, c.display_name);
    EXPECT_EQ(t.FindOrganization(id)->metadata, c.metadata);
  }
  FakeTenant t;
  std::string id = MustCreateOrg(t, "acme");
  MustCreateOrg(t, "other");
  EXPECT_EQ(t.PatchOrganization(id, Json{{"name", "other"}}).status().kind(),
            StatusKind::kConflict);
  auto renamed = t.PatchOrganization(id, Json{{"name", "acme-corp"}});
  ASSERT_TRUE(renamed.ok());
  EXPECT_EQ(renamed->name, "acme-corp");
  EXPECT_EQ(t.GetOrganizationByName("acme").status().kind(), StatusKind::kNotFound);
  EXPECT_EQ(t.PatchOrganization("org_nope", Json{{"display_name", "x"}}).status().kind(),
            StatusKind::kNotFound);
}

TEST(FakeTenantTest, DeleteOrganization) {
  FakeTenant t;
  std::string id = MustCreateOrg(t, "acme");
  ASSERT_TRUE(t.DeleteOrganization(id).ok());
  EXPECT_EQ(t.GetOrganization(id).status().kind(), StatusKind::kNotFound);
  EXPECT_EQ(t.DeleteOrganization(id).kind(), StatusKind::kNotFound);
  EXPECT_TRUE(t.Organizations().empty());
}

TEST(FakeTenantTest, OrganizationConnections) {
  FakeTenant t;
  std::string org = MustCreateOrg(t, "acme");
  std::string db = t.ConnectionId(FakeTenant::kDefaultConnection);
  ASSERT_TRUE(t.AddOrganizationConnection(org, db, true, false).ok());
  auto again = t.AddOrganizationConnection(org, db, true, false);
  EXPECT_EQ(again.kind(), StatusKind::kConflict);
  EXPECT_EQ(again.error_code(), "organization_connection_conflict");
  ASSERT_TRUE(t.PatchOrganizationConnection(org, db, false, true).ok());
  EXPECT_EQ(t.FindOrganization(org)->connections,
            (std::vector<FakeTenant::EnabledConnection>{{db, false, true}}));
  EXPECT_EQ(t.AddOrganizationConnection(org, "con_nope", false, true).kind(),
            StatusKind::kNotFound);
  ASSERT_TRUE(t.RemoveOrganizationConnection(org, db).ok());
  EXPECT_TRUE(t.FindOrganization(org)->connections.empty());
  EXPECT_EQ(t.PatchOrganizationConnection(org, db, false, true).kind(), StatusKind::kNotFound);
  EXPECT_EQ(t.RemoveOrganizationConnection(org, db).kind(), StatusKind::kNotFound);
}

// ---- Members and roles -----------------------------------------------------------------------

TEST(FakeTenantTest, MembersAreIdempotentAndRemovalDropsRoles) {
  FakeTenant t;
  std::string org = MustCreateOrg(t, "acme");
  std::string a = MustCreateUser(t, "a@example.com");
  std::string b = MustCreateUser(t, "b@example.com");
  std::string admin = t.AddRole("admin");
  ASSERT_TRUE(t.AddMembers(org, {a, b}).ok());
  ASSERT_TRUE(t.AddMemberRoles(org, a, {admin}).ok());
  ASSERT_TRUE(t.AddMembers(org, {a}).ok()) << "adding again is fine";
  EXPECT_EQ(t.MemberRoles(org, a), std::set<std::string>{"admin"}) << "and keeps the roles";
  EXPECT_EQ(t.Members(org), (std::set<std::string>{a, b}));

  ASSERT_TRUE(t.RemoveMembers(org, {a, "auth0|not-a-member"}).ok());
  ASSERT_TRUE(t.RemoveMembers(org, {a}).ok()) << "removing again is fine";
  EXPECT_EQ(t.Members(org), std::set<std::string>{b});
  ASSERT_TRUE(t.AddMembers(org, {a}).ok());
  EXPECT_TRUE(t.MemberRoles(org, a).empty()) << "roles went with the membership";

  EXPECT_EQ(t.AddMembers(org, {"auth0|nobody"}).kind(), StatusKind::kNotFound);
  EXPECT_EQ(t.Members(org), (std::set<std::string>{a, b})) << "all or nothing";
  EXPECT_EQ(t.AddMembers("org_nope", {a}).kind(), StatusKind::kNotFound);
}

TEST(FakeTenantTest, MemberRoles) {
  FakeTenant t;
  std::string org = MustCreateOrg(t, "acme");
  std::string member = MustCreateUser(t, "a@example.com");
  std::string outsider = MustCreateUser(t, "b@example.com");
  std::string admin = t.AddRole("admin");
  std::string viewer = t.AddRole("viewer");
  ASSERT_TRUE(t.AddMembers(org, {member}).ok());

  struct Case {
    const char* name;
    std::string org, user;
    std::vector<std::string> roles;
    StatusKind kind;
  };
  const Case cases[] = {
      {"a member", org, member, {admin, viewer}, StatusKind::kOk},
      {"not a member", org, outsider, {admin}, StatusKind::kNotFound},
      {"unknown user", org, "auth0|nobody", {admin}, StatusKind::kNotFound},
      {"unknown role", org, member, {"rol_nope"}, StatusKind::kNotFound},
      {"unknown organization", "org_nope", member, {admin}, StatusKind::kNotFound},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(t.AddMemberRoles(c.org, c.user, c.roles).kind(), c.kind);
  }
  EXPECT_EQ(t.MemberRoles(org, member), (std::set<std::string>{"admin", "viewer"}));
  EXPECT_TRUE(t.MemberRoles(org, outsider).empty());
  ASSERT_TRUE(t.RemoveMemberRoles(org, member, {viewer}).ok());
  ASSERT_TRUE(t.RemoveMemberRoles(org, member, {viewer}).ok()) << "idempotent";
  EXPECT_EQ(t.MemberRoles(org, member), std::set<std::string>{"admin"});
  EXPECT_EQ(t.RemoveMemberRoles(org, outsider, {admin}).kind(), StatusKind::kNotFound);
}

TEST(FakeTenantTest, RolesAndConnectionsAreFoundByExactName) {
  FakeTenant t;
  std::string admin = t.AddRole("admin");
  t.AddRole("admin-lite");
  EXPECT_EQ(t.AddRole("admin"), admin) << "set-up is idempotent";
  EXPECT_EQ(t.FindRoleId("admin").value(), admin);
  auto missing = t.FindRoleId("adm");
  EXPECT_EQ(missing.status().kind(), StatusKind::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("'adm'"));
  auto db = t.FindConnectionId(FakeTenant::kDefaultConnection);
  ASSERT_TRUE(db.ok()) << "the default connection exists from the start";
  EXPECT_TRUE(db->starts_with("con_"));
  EXPECT_EQ(t.FindConnectionId("sso").status().kind(), StatusKind::kNotFound);
  std::string sso = t.AddConnection("sso");
  EXPECT_EQ(t.FindConnectionId("sso").value(), sso);
}

// ---- The application, connection clients, emails -----------------------------------------------

TEST(FakeTenantTest, ApplicationCallbacksAreReplacedWhole) {
  FakeTenant t;
  t.AddApplication(kApp, {"https://a/cb", "https://admin/cb"});
  auto app = t.GetApplication(kApp);
  ASSERT_TRUE(app.ok());
  EXPECT_EQ(app->client_id, kApp);
  EXPECT_EQ(app->callbacks, (std::vector<std::string>{"https://a/cb", "https://admin/cb"}));
  ASSERT_TRUE(t.PatchApplicationCallbacks(kApp, {"https://b/cb"}).ok());
  EXPECT_EQ(t.Callbacks(kApp), std::vector<std::string>{"https://b/cb"});
  EXPECT_EQ(t.GetApplication("nope").status().kind(), StatusKind::kNotFound);
  EXPECT_EQ(t.PatchApplicationCallbacks("nope", {}).kind(), StatusKind::kNotFound);
}

TEST(FakeTenantTest, ConnectionClientsAreEnabledByDelta) {
  FakeTenant t;
  t.AddApplication(kApp);
  t.AddApplication("other-app");
  std::string sso = t.AddConnection("sso");
  ASSERT_TRUE(t.EnableConnectionClient(sso, "other-app").ok());
  ASSERT_TRUE(t.EnableConnectionClient(sso, kApp).ok());
  ASSERT_TRUE(t.EnableConnectionClient(sso, kApp).ok());
  EXPECT_EQ(t.ConnectionClients("sso"), (std::set<std::string>{kApp, "other-app"}));
  EXPECT_EQ(t.EnableConnectionClient("con_nope", kApp).kind(), StatusKind::kNotFound);
  EXPECT_EQ(t.EnableConnectionClient(sso, "unknown-app").kind(), StatusKind::kNotFound);
}

TEST(FakeTenantTest, EmailsAreRecorded) {
  FakeTenant t;
  std::string id = MustCreateUser(t, "a@example.com");
  ASSERT_TRUE(t.SendChangePasswordEmail("A@example.com").ok());
  ASSERT_TRUE(t.SendChangePasswordEmail("nobody@example.com").ok()) << "no account enumeration";
  ASSERT_TRUE(t.SendVerificationEmail(id).ok());
  EXPECT_EQ(t.SendVerificationEmail("auth0|nobody").kind(), StatusKind::kNotFound);
  auto emails = t.Emails();
  ASSERT_EQ(emails.size(), 3u);
  EXPECT_EQ(emails[0].kind, FakeTenant::EmailKind::kChangePassword);
  EXPECT_EQ(emails[0].email, "A@example.com");
  EXPECT_EQ(emails[0].user_id, id);
  EXPECT_EQ(emails[1].user_id, "");
  EXPECT_EQ(emails[2].kind, FakeTenant::EmailKind::kVerification);
  EXPECT_EQ(emails[2].email, "a@example.com");
  EXPECT_EQ(emails[2].user_id, id);
}

// ---- Request log -----------------------------------------------------------------------------

TEST(FakeTenantTest, EveryCallIsRecordedWithTemplatePathAndBody) {
  FakeTenant t;
  std::string id = MustCreateUser(t, "a@example.com");
  std::string org = MustCreateOrg(t, "acme");
  ASSERT_TRUE(t.GetUser(id).ok());
  ASSERT_TRUE(t.AddMembers(org, {id}).ok());
  EXPECT_EQ(t.PatchUser("auth0|nobody", Json{{"blocked", true}}).status().kind(),
            StatusKind::kNotFound);
  auto requests = t.Requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(requests[0].endpoint, ep::kCreateUser);
  EXPECT_EQ(requests[0].body["connection"], FakeTenant::kDefaultConnection)
      << "the body the client sends, with the connection filled in";
  EXPECT_EQ(requests[2].endpoint, ep::kGetUser);
  EXPECT_EQ(requests[2].path, "/api/v2/users/" + id);
  EXPECT_TRUE(requests[2].body.is_null());
  EXPECT_FALSE(requests[2].write());
  EXPECT_EQ(requests[3].endpoint, ep::kAddMembers);
  EXPECT_EQ(requests[3].method(), "POST");
  EXPECT_EQ(requests[3].body, Json::parse(R"({"members":[")" + id + R"("]})"));
  EXPECT_EQ(requests[4].result.kind(), StatusKind::kNotFound);
  EXPECT_EQ(t.Writes().size(), 4u);
  EXPECT_EQ(t.CountRequests(ep::kCreateUser), 1u);
  t.ClearRequests();
  EXPECT_TRUE(t.Requests().empty());
}

// ---- Faults ----------------------------------------------------------------------------------

TEST(FakeTenantTest, InjectedFaults) {
  struct Case {
    const char* name;
    std::function<void(FakeTenant&)> inject;
    bool applied;
    StatusKind kind;
    const char* message;
  };
  const Case cases[] = {
      {"FailNext: nothing happens",
       [](FakeTenant& t) { t.FailNext(ep::kCreateUser, Status::Retryable("503 injected")); }, false,
       StatusKind::kRetryable, "503 injected"},
      {"FailAfterApply: a lost answer",
       [](FakeTenant& t) { t.FailAfterApply(ep::kCreateUser, Status::Retryable("timed out")); },
       true, StatusKind::kRetryable, "timed out"},
      {"MalformedNext: applied, answered with an unreadable body",
       [](FakeTenant& t) { t.MalformedNext(ep::kCreateUser); }, true, StatusKind::kInvalid,
       "POST /api/v2/users: answer is not valid JSON"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    FakeTenant t;
    c.inject(t);
    ASSERT_TRUE(t.GetUsersByEmail("a@example.com").ok()) << "other endpoints are unaffected";
    EXPECT_EQ(t.PendingFaults(), 1u);
    auto r = t.CreateUser(NewUser("a@example.com"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), c.kind);
    EXPECT_EQ(r.status().message(), c.message);
    EXPECT_EQ(t.Users().size(), c.applied ? 1u : 0u);
    EXPECT_EQ(t.Requests().back().result.kind(), c.kind) << "the request is recorded";
    EXPECT_EQ(t.PendingFaults(), 0u);
    // The fault is used up: the next call behaves normally (a retried create meets the user).
    auto retry = t.CreateUser(NewUser("a@example.com"));
    EXPECT_EQ(retry.status().kind(), c.applied ? StatusKind::kConflict : StatusKind::kOk);
  }
}

TEST(FakeTenantTest, FaultsForOneEndpointAreUsedInOrder) {
  FakeTenant t;
  std::string id = MustCreateUser(t, "a@example.com");
  t.FailNext(ep::kPatchUser, Status::Retryable("first"));
  t.FailAfterApply(ep::kPatchUser, Status::Retryable("second"));
  EXPECT_EQ(t.PatchUser(id, Json{{"blocked", true}}).status().message(), "first");
  EXPECT_FALSE(t.FindUser(id)->blocked);
  EXPECT_EQ(t.PatchUser(id, Json{{"blocked", true}}).status().message(), "second");
  EXPECT_TRUE(t.FindUser(id)->blocked);
  EXPECT_TRUE(t.PatchUser(id, Json{{"blocked", false}}).ok());
  // Status-only calls take faults too.
  t.FailNext(ep::kRevokeSessions, Status::RateLimited({}, "429"));
  EXPECT_EQ(t.RevokeSessions(id).kind(), StatusKind::kRateLimited);
  EXPECT_EQ(t.FindUser(id)->sessions_revoked, 0);
}

// ---- Set-up, shutdown, threads ---------------------------------------------------------------

TEST(FakeTenantTest, PreExistingObjectsCanBeAdopted) {
  FakeTenant t;
  FakeTenant::User existing;
  existing.profile = {{"email", "old@example.com"}, {"name", "Old Name"}};
  existing.app_metadata = {{"legacy", true}};
  std::string uid = t.PutUser(existing);
  FakeTenant::Organization org;
  org.name = "acme";
  org.display_name = "Old Acme";
  std::string oid = t.PutOrganization(org);
  ASSERT_TRUE(t.PutMember(oid, uid, {"admin"}).ok());
  EXPECT_EQ(t.PutMember(oid, "auth0|nobody").kind(), StatusKind::kNotFound);

  EXPECT_EQ(t.CreateUser(NewUser("OLD@example.com")).status().kind(), StatusKind::kConflict);
  auto found = t.GetUsersByEmail("old@example.com");
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].user_id, uid);
  EXPECT_EQ((*found)[0].app_metadata, Json::parse(R"({"legacy":true})"));
  EXPECT_EQ(t.CreateOrganization(Json{{"name", "acme"}}).status().kind(), StatusKind::kConflict);
  EXPECT_EQ(t.GetOrganizationByName("acme")->display_name, "Old Acme");
  EXPECT_EQ(t.MemberRoles(oid, uid), std::set<std::string>{"admin"});
  EXPECT_EQ(t.Requests().size(), 4u) << "set-up is not recorded";
}

TEST(FakeTenantTest, AfterShutdownNothingIsSent) {
  FakeTenant t;
  t.Shutdown();
  auto r = t.CreateUser(NewUser("a@example.com"));
  EXPECT_EQ(r.status().kind(), StatusKind::kRetryable);
  EXPECT_THAT(r.status().message(), HasSubstr("shutting down"));
  EXPECT_EQ(t.RevokeSessions("auth0|1").kind(), StatusKind::kRetryable);
  EXPECT_TRUE(t.Users().empty());
  EXPECT_TRUE(t.Requests().empty());
}

TEST(FakeTenantTest, ConcurrentCallsAreSafe) {
  FakeTenant t;
  std::string org = MustCreateOrg(t, "acme");
  std::vector<std::thread> threads;
  std::atomic<int> created{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 50; ++j) {
        auto u = t.CreateUser(
            NewUser("u" + std::to_string(i) + "-" + std::to_string(j) + "@example.com"));
        if (!u.ok()) continue;
        ++created;
        (void)t.AddMembers(org, {u->user_id});
        (void)t.PatchUser(u->user_id, Json{{"app_metadata", {{"i", i}}}});
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(created.load(), 400);
  EXPECT_EQ(t.Users().size(), 400u);
  EXPECT_EQ(t.Members(org).size(), 400u);
  EXPECT_EQ(t.Requests().size(), 1u + 3 * 400u);
}

}  // namespace
}  // namespace tenantsync
