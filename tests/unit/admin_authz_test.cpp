// Who may do what through the admin API (daemon/operators/authz.h): the role × endpoint × scope
// table, and what an org-admin may submit as an event.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "daemon/operators/authz.h"

namespace tenantsync {
namespace {

using A = AdminAction;
using D = Decision;
using T = TargetScope;

const Principal kAdmin{"root", Role::kAdmin, {}};
const Principal kOperator{"ops", Role::kOperator, {}};
const Principal kViewer{"watch", Role::kViewer, {}};
const Principal kAcme{"acme-admins", Role::kOrgAdmin, {"acme", "acme-eu"}};

const std::vector<A> kAll = {A::kReadiness,
                             A::kMetrics,
                             A::kStatus,
                             A::kPlan,
                             A::kReadSources,
                             A::kListEvents,
                             A::kReadEvent,
                             A::kListMutations,
                             A::kListOrganizations,
                             A::kListUsers,
                             A::kReadOrganization,
                             A::kReadUser,
                             A::kReplay,
                             A::kRetry,
                             A::kDiscard,
                             A::kPause,
                             A::kResume,
                             A::kSubmitEvent,
                             A::kGuardApprove,
                             A::kGuardReject,
                             A::kDriftRun,
                             A::kDeclaredApply,
                             A::kListVendorNotifications,
                             A::kReplayVendorNotification};

// The expected decision of each role for each action on an entity within scope (and, for lists
// and tenant-wide endpoints, with no entity). One row per action; columns admin, operator,
// viewer, org-admin.
struct Row {
  D admin, op, viewer, org_admin;
};
const std::map<A, Row> kTable = {
    {A::kReadiness, {D::kAllow, D::kAllow, D::kAllow, D::kForbidden}},
    {A::kMetrics, {D::kAllow, D::kAllow, D::kAllow, D::kForbidden}},
    {A::kStatus, {D::kAllow, D::kAllow, D::kAllow, D::kForbidden}},
    {A::kPlan, {D::kAllow, D::kAllow, D::kAllow, D::kForbidden}},
    {A::kReadSources, {D::kAllow, D::kAllow, D::kAllow, D::kForbidden}},
    {A::kListEvents, {D::kAllow, D::kAllow, D::kAllow, D::kAllowFiltered}},
    {A::kReadEvent, {D::kAllow, D::kAllow, D::kAllow, D::kAllow}},
    {A::kListMutations, {D::kAllow, D::kAllow, D::kAllow, D::kAllowFiltered}},
    {A::kListOrganizations, {D::kAllow, D::kAllow, D::kAllow, D::kAllowFiltered}},
    {A::kListUsers, {D::kAllow, D::kAllow, D::kAllow, D::kAllowFiltered}},
    {A::kReadOrganization, {D::kAllow, D::kAllow, D::kAllow, D::kAllow}},
    {A::kReadUser, {D::kAllow, D::kAllow, D::kAllow, D::kAllow}},
    {A::kReplay, {D::kAllow, D::kAllow, D::kForbidden, D::kAllow}},
    {A::kRetry, {D::kAllow, D::kAllow, D::kForbidden, D::kAllow}},
    {A::kDiscard, {D::kAllow, D::kAllow, D::kForbidden, D::kAllow}},
    {A::kPause, {D::kAllow, D::kAllow, D::kForbidden, D::kForbidden}},
    {A::kResume, {D::kAllow, D::kAllow, D::kForbidden, D::kForbidden}},
    {A::kSubmitEvent, {D::kAllow, D::kAllow, D::kForbidden, D::kAllow}},
    {A::kGuardApprove, {D::kAllow, D::kForbidden, D::kForbidden, D::kForbidden}},
    {A::kGuardReject, {D::kAllow, D::kForbidden, D::kForbidden, D::kForbidden}},
    {A::kDriftRun, {D::kAllow, D::kForbidden, D::kForbidden, D::kForbidden}},
    {A::kDeclaredApply, {D::kAllow, D::kForbidden, D::kForbidden, D::kForbidden}},
    // Vendor notifications are tenant-wide (a notification names a vendor's person, not yet an
    // entity of any organization): org-admins neither see nor replay them.
    {A::kListVendorNotifications, {D::kAllow, D::kAllow, D::kAllow, D::kForbidden}},
    {A::kReplayVendorNotification, {D::kAllow, D::kAllow, D::kForbidden, D::kForbidden}},
};

TEST(AdminAuthz, TableCoversEveryAction) { EXPECT_EQ(kTable.size(), kAll.size()); }

TEST(AdminAuthz, RoleByActionWithinScope) {
  for (A a : kAll) {
    const Row& want = kTable.at(a);
    EXPECT_EQ(Authorize(kAdmin, a, T::kInScope), want.admin) << AdminActionPhrase(a);
    EXPECT_EQ(Authorize(kOperator, a, T::kInScope), want.op) << AdminActionPhrase(a);
    EXPECT_EQ(Authorize(kViewer, a, T::kInScope), want.viewer) << AdminActionPhrase(a);
    EXPECT_EQ(Authorize(kAcme, a, T::kInScope), want.org_admin) << AdminActionPhrase(a);
  }
}

TEST(AdminAuthz, OnlyOrgAdminDependsOnScope) {
  for (A a : kAll) {
    for (const Principal* p : {&kAdmin, &kOperator, &kViewer}) {
      EXPECT_EQ(Authorize(*p, a, T::kOutOfScope), Authorize(*p, a, T::kInScope))
          << RoleName(p->role) << " " << AdminActionPhrase(a);
      EXPECT_EQ(Authorize(*p, a, T::kTenant), Authorize(*p, a, T::kInScope));
    }
  }
}

TEST(AdminAuthz, OrgAdminOutsideItsScope) {
  // Entities and events outside the scope look exactly like missing ones.
  for (A a : {A::kReadOrganization, A::kReadUser, A::kReadEvent, A::kReplay})
    EXPECT_EQ(Authorize(kAcme, a, T::kOutOfScope), D::kNotFound) << AdminActionPhrase(a);
  // Mutation ids are a public sequence: acting on another entity's is refused as such.
  for (A a : {A::kRetry, A::kDiscard}) {
    EXPECT_EQ(Authorize(kAcme, a, T::kOutOfScope), D::kForbidden);
    EXPECT_EQ(Authorize(kAcme, a, T::kTenant), D::kForbidden);
  }
  // Lists stay filtered and tenant-wide endpoints forbidden whatever the target.
  for (T t : {T::kTenant, T::kInScope, T::kOutOfScope}) {
    EXPECT_EQ(Authorize(kAcme, A::kListUsers, t), D::kAllowFiltered);
    EXPECT_EQ(Authorize(kAcme, A::kStatus, t), D::kForbidden);
    EXPECT_EQ(Authorize(kAcme, A::kPlan, t), D::kForbidden);
    EXPECT_EQ(Authorize(kAcme, A::kListVendorNotifications, t), D::kForbidden);
    EXPECT_EQ(Authorize(kAcme, A::kReplayVendorNotification, t), D::kForbidden);
  }
}

TEST(AdminAuthz, ForbiddenMessageNamesRoleAndAction) {
  EXPECT_EQ(ForbiddenMessage(Role::kViewer, A::kPause),
            "forbidden: viewer may not pause the writer");
  EXPECT_EQ(ForbiddenMessage(Role::kOrgAdmin, A::kStatus),
            "forbidden: org-admin may not read the status");
  EXPECT_EQ(ForbiddenMessage(Role::kOperator, A::kGuardApprove),
            "forbidden: operator may not approve the guard");
  EXPECT_EQ(ForbiddenMessage(Role::kViewer, A::kReplayVendorNotification),
            "forbidden: viewer may not replay vendor notifications");
}

TEST(AdminAuthz, RolesRoundTrip) {
  for (Role r : {Role::kAdmin, Role::kOperator, Role::kViewer, Role::kOrgAdmin})
    EXPECT_EQ(ParseRole(RoleName(r)), r);
  EXPECT_EQ(ParseRole("org_admin"), std::nullopt);
  EXPECT_EQ(ParseRole("Admin"), std::nullopt);
}

TEST(AdminAuthz, Scope) {
  EXPECT_TRUE(OrganizationInScope(kAcme, "acme"));
  EXPECT_FALSE(OrganizationInScope(kAcme, "globex"));
  EXPECT_TRUE(OrganizationInScope(kViewer, "globex"));
  EXPECT_TRUE(UserInScope(kAcme, {"globex", "acme-eu"}));
  EXPECT_FALSE(UserInScope(kAcme, {"globex"}));
  EXPECT_FALSE(UserInScope(kAcme, {}));
  EXPECT_TRUE(UserInScope(kOperator, {}));
}

using Orgs = std::optional<std::vector<std::string>>;

struct SubmitCase {
  const char* what;
  EventType type;
  std::string external_id;
  Orgs event_orgs;
  bool exists;
  std::vector<std::string> current;
  bool allowed;
  std::string mention;  // in the refusal
};

TEST(AdminAuthz, WhatAnOrgAdminMaySubmit) {
  const std::vector<SubmitCase> cases = {
      {"its organization",
       EventType::kOrganizationUpserted,
       "acme",
       std::nullopt,
       false,
       {},
       true,
       ""},
      {"another organization",
       EventType::kOrganizationUpserted,
       "globex",
       std::nullopt,
       false,
       {},
       false,
       "organization \"globex\" is not one of your organizations"},
      {"delete its own organization",
       EventType::kOrganizationDeleted,
       "acme",
       std::nullopt,
       false,
       {},
       false,
       "may not delete organizations"},
      {"new user into its organization",
       EventType::kUserUpserted,
       "u1",
       Orgs({"acme"}),
       false,
       {},
       true,
       ""},
      {"new user also into another",
       EventType::kUserUpserted,
       "u1",
       Orgs({"acme", "globex"}),
       false,
       {},
       false,
       "organization \"globex\" is not one of your organizations"},
      {"new user into no organization",
       EventType::kUserUpserted,
       "u1",
       std::nullopt,
       false,
       {},
       false,
       "must stay a member"},
      {"new user with an empty list",
       EventType::kUserUpserted,
       "u1",
       Orgs(std::vector<std::string>{}),
       false,
       {},
       false,
       "must stay a member"},
      {"existing member, profile only",
       EventType::kUserUpserted,
       "u2",
       std::nullopt,
       true,
       {"acme"},
       true,
       ""},
      {"existing member moved between its organizations",
       EventType::kUserUpserted,
       "u2",
       Orgs({"acme-eu"}),
       true,
       {"acme"},
       true,
       ""},
      {"existing member of another organization too",
       EventType::kUserUpserted,
       "u3",
       Orgs({"acme"}),
       true,
       {"acme", "globex"},
       false,
       "also a member of organizations"},
      {"block a member", EventType::kUserBlocked, "u2", std::nullopt, true, {"acme"}, true, ""},
      {"block another's member",
       EventType::kUserBlocked,
       "u4",
       std::nullopt,
       true,
       {"globex"},
       false,
       "also a member"},
      {"reset a member's password",
       EventType::kUserPasswordResetRequested,
       "u2",
       std::nullopt,
       true,
       {"acme-eu"},
       true,
       ""},
      {"grab a user without memberships",
       EventType::kUserUpserted,
       "u5",
       Orgs({"acme"}),
       true,
       {},
       false,
       "is not a member of your organizations"},
      {"block a user that does not exist",
       EventType::kUserBlocked,
       "u6",
       std::nullopt,
       false,
       {},
       false,
       "is not a member of your organizations"},
  };
  for (const auto& c : cases) {
    Status st = SubmitDecision(kAcme, c.type, c.external_id, c.event_orgs, c.exists, c.current);
    EXPECT_EQ(st.ok(), c.allowed) << c.what << ": " << st.message();
    if (!c.allowed) {
      EXPECT_EQ(st.message().rfind("forbidden: ", 0), 0u) << st.message();
      EXPECT_NE(st.message().find(c.mention), std::string::npos) << c.what << ": " << st.message();
      // Organizations of other customers found in stored state are never named.
      const bool sent_globex =
          c.external_id == "globex" ||
          (c.event_orgs &&
           std::find(c.event_orgs->begin(), c.event_orgs->end(), "globex") != c.event_orgs->end());
      if (!sent_globex) {
        EXPECT_EQ(st.message().find("globex"), std::string::npos) << st.message();
      }
    }
  }
}

TEST(AdminAuthz, OperatorsSubmitAnythingViewersNothing) {
  for (EventType t :
       {EventType::kOrganizationDeleted, EventType::kUserDeleted, EventType::kUserUpserted}) {
    EXPECT_TRUE(SubmitDecision(kOperator, t, "x", Orgs({"globex"}), true, {"globex"}).ok());
    EXPECT_TRUE(SubmitDecision(kAdmin, t, "x", std::nullopt, false, {}).ok());
    auto v = SubmitDecision(kViewer, t, "x", std::nullopt, false, {});
    EXPECT_FALSE(v.ok());
    EXPECT_EQ(v.message(), "forbidden: viewer may not submit events");
  }
}

}  // namespace
}  // namespace tenantsync
