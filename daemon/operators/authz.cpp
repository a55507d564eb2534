#include "daemon/operators/authz.h"

#include <algorithm>

namespace tenantsync {
namespace {

bool IsRead(AdminAction a) {
  switch (a) {
    case AdminAction::kReadiness:
    case AdminAction::kMetrics:
    case AdminAction::kStatus:
    case AdminAction::kPlan:
    case AdminAction::kReadSources:
    case AdminAction::kListEvents:
    case AdminAction::kReadEvent:
    case AdminAction::kListMutations:
    case AdminAction::kListOrganizations:
    case AdminAction::kListUsers:
    case AdminAction::kReadOrganization:
    case AdminAction::kReadUser:
    case AdminAction::kListVendorNotifications:
      return true;
    default:
      return false;
  }
}

// What an operator may change on top of reading: the day-to-day handling of stuck work.
bool IsOperatorAction(AdminAction a) {
  switch (a) {
    case AdminAction::kReplay:
    case AdminAction::kRetry:
    case AdminAction::kDiscard:
    case AdminAction::kPause:
    case AdminAction::kResume:
    case AdminAction::kSubmitEvent:
    case AdminAction::kReplayVendorNotification:
      return true;
    default:
      return false;
  }
}

Decision OrgAdmin(AdminAction a, TargetScope target) {
  switch (a) {
    case AdminAction::kListEvents:
    case AdminAction::kListMutations:
    case AdminAction::kListOrganizations:
    case AdminAction::kListUsers:
      return Decision::kAllowFiltered;
    // Entities (and events about them) outside the scope do not exist for an org-admin: the
    // answer must not tell "exists elsewhere" from "does not exist".
    case AdminAction::kReadOrganization:
    case AdminAction::kReadUser:
    case AdminAction::kReadEvent:
    case AdminAction::kReplay:
      return target == TargetScope::kOutOfScope ? Decision::kNotFound : Decision::kAllow;
    // Mutation ids are a public sequence: acting on another entity's mutation is refused as such.
    case AdminAction::kRetry:
    case AdminAction::kDiscard:
      return target == TargetScope::kInScope ? Decision::kAllow : Decision::kForbidden;
    case AdminAction::kSubmitEvent:
      return Decision::kAllow;  // the event itself is judged by SubmitDecision
    default:
      return Decision::kForbidden;  // tenant-wide
  }
}

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kOperator:
      return "operator";
    case Role::kViewer:
      return "viewer";
    case Role::kOrgAdmin:
      return "org-admin";
  }
  return "viewer";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kAdmin, Role::kOperator, Role::kViewer, Role::kOrgAdmin}) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

const char* AdminActionPhrase(AdminAction action) {
  switch (action) {
    case AdminAction::kReadiness:
      return "read the readiness check";
    case AdminAction::kMetrics:
      return "read the metrics";
    case AdminAction::kStatus:
      return "read the status";
    case AdminAction::kPlan:
      return "read the plan";
    case AdminAction::kReadSources:
      return "read the sources";
    case AdminAction::kListEvents:
      return "list events";
    case AdminAction::kReadEvent:
      return "read an event";
    case AdminAction::kListMutations:
      return "list mutations";
    case AdminAction::kListOrganizations:
      return "list organizations";
    case AdminAction::kListUsers:
      return "list users";
    case AdminAction::kReadOrganization:
      return "read an organization";
    case AdminAction::kReadUser:
      return "read a user";
    case AdminAction::kReplay:
      return "replay events";
    case AdminAction::kRetry:
      return "retry this mutation";
    case AdminAction::kDiscard:
      return "discard this mutation";
    case AdminAction::kPause:
      return "pause the writer";
    case AdminAction::kResume:
      return "resume the writer";
    case AdminAction::kSubmitEvent:
      return "submit events";
    case AdminAction::kGuardApprove:
      return "approve the guard";
    case AdminAction::kGuardReject:
      return "reject the guard";
    case AdminAction::kDriftRun:
      return "run drift detection";
    case AdminAction::kDeclaredApply:
      return "apply a declared source";
    case AdminAction::kListVendorNotifications:
      return "list vendor notifications";
    case AdminAction::kReplayVendorNotification:
      return "replay vendor notifications";
  }
  return "do this";
}

Decision Authorize(const Principal& who, AdminAction action, TargetScope target) {
  switch (who.role) {
    case Role::kAdmin:
      return Decision::kAllow;
    case Role::kOperator:
      return IsRead(action) || IsOperatorAction(action) ? Decision::kAllow : Decision::kForbidden;
    case Role::kViewer:
      return IsRead(action) ? Decision::kAllow : Decision::kForbidden;
    case Role::kOrgAdmin:
      return OrgAdmin(action, target);
  }
  return Decision::kForbidden;
}

std::string ForbiddenMessage(Role role, AdminAction action) {
  return std::string("forbidden: ") + RoleName(role) + " may not " + AdminActionPhrase(action);
}

bool OrganizationInScope(const Principal& who, const std::string& org) {
  return who.role != Role::kOrgAdmin || Contains(who.organizations, org);
}

bool UserInScope(const Principal& who, const std::vector<std::string>& user_organizations) {
  if (who.role != Role::kOrgAdmin) return true;
  return std::any_of(user_organizations.begin(), user_organizations.end(),
                     [&](const std::string& o) { return Contains(who.organizations, o); });
}

Status SubmitDecision(const Principal& who, EventType type, const std::string& external_id,
                      const std::optional<std::vector<std::string>>& event_organizations,
                      bool user_exists, const std::vector<std::string>& current_organizations) {
  if (who.role == Role::kAdmin || who.role == Role::kOperator) return Status::Ok();
  if (who.role != Role::kOrgAdmin)
    return Status::Permanent(ForbiddenMessage(who.role, AdminAction::kSubmitEvent));
  if (type == EventType::kOrganizationDeleted)
    return Status::Permanent("forbidden: org-admin may not delete organizations");
  if (type == EventType::kOrganizationUpserted) {
    if (OrganizationInScope(who, external_id)) return Status::Ok();
    return Status::Permanent("forbidden: organization \"" + external_id +
                             "\" is not one of your organizations");
  }
  // A user event. Organizations outside the scope are never named: they are not the caller's
  // to know about.
  if (event_organizations) {
    for (const auto& o : *event_organizations) {
      if (!OrganizationInScope(who, o))
        return Status::Permanent("forbidden: organization \"" + o +
                                 "\" is not one of your organizations");
    }
  }
  if (user_exists) {
    for (const auto& o : current_organizations) {
      if (!OrganizationInScope(who, o))
        return Status::Permanent("forbidden: user \"" + external_id +
                                 "\" is also a member of organizations that are not yours");
    }
  }
  const std::vector<std::string>& after =
      event_organizations ? *event_organizations
                          : (user_exists ? current_organizations : std::vector<std::string>{});
  // An existing user with no memberships is in nobody's scope; a user that does not exist yet can
  // only be created (user.upserted) into the caller's organizations.
  if (user_exists ? current_organizations.empty() : type != EventType::kUserUpserted)
    return Status::Permanent("forbidden: user \"" + external_id +
                             "\" is not a member of your organizations");
  if (after.empty())
    return Status::Permanent("forbidden: user \"" + external_id +
                             "\" must stay a member of at least one of your organizations "
                             "(set data.organizations)");
  return Status::Ok();
}

}  // namespace tenantsync
