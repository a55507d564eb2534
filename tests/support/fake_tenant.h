// FakeTenant: an Auth0 tenant in memory behind the Auth0Api interface, for unit tests of the
// writer's planners and step executor (no HTTP, no threads of its own, no clock).
//
// It models what tenantsync relies on, as Auth0 (and tests/auth0-sim) behave:
// - Users live in a connection (the default "Username-Password-Authentication" exists from the
//   start); CreateUser needs email and password, refuses unknown fields and wrong types (400 ->
//   kPermanent), and answers 409 -> kConflict for an email already in that connection (compared
//   case-insensitively). Ids are "auth0|<24 hex>". Auth0's defaults are filled in: name = email,
//   nickname = the email's local part, picture, email_verified = false; a verification email is
//   sent unless verify_email is false or the email is verified.
// - PatchUser merges app_metadata / user_metadata at the first level (a null value deletes the
//   key); root fields are replaced; a new email must be unique (409) and resets email_verified.
// - Organizations: names unique (409), `^[a-z0-9_-]{1,50}$`; PATCH replaces metadata, branding and
//   display_name whole (null removes them); connections enabled at creation through
//   `enabled_connections` [{connection_id, assign_membership_on_login (false),
//   show_as_button (true)}] or one by one (already enabled -> 409).
// - Members: add/remove idempotent (an unknown user -> 404); removing a member drops its roles.
//   Member roles by role id: kNotFound when the user is not a member or the role is unknown.
// - Roles and connections are created only by the test (AddRole, AddConnection): tenantsync
//   never creates them. FindRoleId / FindConnectionId match names exactly (no lookup cache, unlike
//   Auth0Client: every lookup is a request here).
// - The application (AddApplication) has callbacks replaced whole by PATCH; connection clients
//   are enabled by delta.
// - Emails are recorded, never sent: change-password (whether or not the user exists, as Auth0
//   answers alike) and verification.
// Errors carry the kinds, HTTP statuses, Auth0 error codes and message format of Auth0Client
// ("<endpoint template>: HTTP 404 inexistent_user: The user does not exist.").
//
// Every call is recorded in Requests(): endpoint template (adapters/auth0/endpoints.h), the path
// with ids (not percent-encoded), the body Auth0Client would send (null for none) and the result.
// One entry per call, although Auth0Client sends members 10 per request.
//
// Fault injection, per endpoint template, consumed in order by the next calls to it:
//   FailNext(endpoint, status)        the call returns `status` without any effect;
//   FailAfterApply(endpoint, status)  the effect is applied, `status` is returned (a lost answer);
//   MalformedNext(endpoint)           the effect is applied and the call returns the kInvalid a
//                                     malformed 2xx answer gives ("<endpoint>: answer is not
//                                     valid JSON").
// After Shutdown() every call returns kRetryable "shutting down" without effect or record.
//
// Thread safety: every method may be called from any thread; one mutex guards the tenant.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/auth0/auth0_api.h"
#include "adapters/auth0/endpoints.h"
#include "common/status.h"

namespace tenantsync::testing {

class FakeTenant final : public Auth0Api {
 public:
  static constexpr char kDefaultConnection[] = "Username-Password-Authentication";

  struct User {
    std::string user_id;  // "" in PutUser: one is generated
    std::string connection = kDefaultConnection;
    // email, email_verified, name, given_name, family_name, nickname, picture (as Auth0 holds them)
    nlohmann::json profile = nlohmann::json::object();
    nlohmann::json app_metadata = nlohmann::json::object();
    nlohmann::json user_metadata = nlohmann::json::object();
    bool blocked = false;
    bool password_set = false;
    int sessions_revoked = 0;        // DELETE .../sessions calls that reached this user
    int refresh_tokens_revoked = 0;  // DELETE .../refresh-tokens calls
  };
  struct EnabledConnection {
    std::string connection_id;
    bool assign_membership_on_login = false;
    bool show_as_button = true;
    bool operator==(const EnabledConnection&) const = default;
  };
  struct Organization {
    std::string id;  // "" in PutOrganization: one is generated
    std::string name;
    nlohmann::json display_name = nullptr;  // null when absent
    nlohmann::json branding = nullptr;      // null when absent
    nlohmann::json metadata = nlohmann::json::object();
    std::vector<EnabledConnection> connections;  // in the order they were enabled
  };
  enum class EmailKind { kChangePassword, kVerification };
  struct Email {
    EmailKind kind;
    std::string email;    // the address (change-password: as asked for)
    std::string user_id;  // the user it concerns; "" for a change-password request for nobody
  };
  struct Request {
    std::string endpoint;  // template, e.g. "PATCH /api/v2/users/{id}"
    std::string path;      // with ids and query, unencoded: "/api/v2/users/auth0|00...1"
    nlohmann::json body;   // what Auth0Client would send; null for none
    Status result;         // what the call returned
    std::string method() const { return endpoint.substr(0, endpoint.find(' ')); }
    bool write() const { return method() != "GET"; }
  };

  // `connection`: where CreateUser puts users without a "connection" and where the
  // change-password email looks them up (Auth0Options::connection); created if needed.
  explicit FakeTenant(std::string connection = kDefaultConnection);

  // ---- Set-up (not recorded as requests) ------------------------------------------------------
  // Each returns the object's id; an existing name returns the existing id.
  std::string AddRole(const std::string& name);
  std::string AddConnection(const std::string& name);
  void AddApplication(const std::string& client_id, std::vector<std::string> callbacks = {});
  // Inserts or replaces a user / organization as is (an object to adopt, a drifted one).
  std::string PutUser(User user);
  std::string PutOrganization(Organization organization);
  // Makes the user a member with these roles (by name; unknown names are added as roles).
  // kNotFound when the organization or the user does not exist.
  Status PutMember(const std::string& org_id, const std::string& user_id,
                   const std::vector<std::string>& role_names = {});

  // ---- Fault injection ------------------------------------------------------------------------
  void FailNext(const std::string& endpoint, Status status);
  void FailAfterApply(const std::string& endpoint, Status status);
  void MalformedNext(const std::string& endpoint);
  size_t PendingFaults() const;

  // ---- Inspection -----------------------------------------------------------------------------
  std::vector<User> Users() const;  // in creation order
  std::optional<User> FindUser(const std::string& user_id) const;
  std::vector<Organization> Organizations() const;  // in creation order
  std::optional<Organization> FindOrganization(const std::string& org_id) const;
  std::set<std::string> Members(const std::string& org_id) const;
  // Role names of the member's roles in the organization.
  std::set<std::string> MemberRoles(const std::string& org_id, const std::string& user_id) const;
  std::string RoleId(const std::string& name) const;        // "" when none
  std::string ConnectionId(const std::string& name) const;  // "" when none
  std::set<std::string> ConnectionClients(const std::string& connection_name) const;
  std::vector<std::string> Callbacks(const std::string& client_id) const;
  std::vector<Email> Emails() const;
  std::vector<Request> Requests() const;
  std::vector<Request> Writes() const;  // requests whose method is not GET
  size_t CountRequests(const std::string& endpoint) const;
  void ClearRequests();

  // ---- Auth0Api ------------------------------------------------------------------------------
  Result<Auth0User> CreateUser(const nlohmann::json& user) override;
  Result<Auth0User> GetUser(std::string_view user_id) override;
  Result<Auth0User> PatchUser(std::string_view user_id, const nlohmann::json& patch) override;
  Status DeleteUser(std::string_view user_id) override;
  Result<std::vector<Auth0User>> GetUsersByEmail(std::string_view email) override;
  Status RevokeSessions(std::string_view user_id) override;
  Status RevokeRefreshTokens(std::string_view user_id) override;
  Result<Auth0Organization> CreateOrganization(const nlohmann::json& organization) override;
  Result<Auth0Organization> GetOrganization(std::string_view org_id) override;
  Result<Auth0Organization> GetOrganizationByName(std::string_view name) override;
  Result<Auth0Organization> PatchOrganization(std::string_view org_id,
                                              const nlohmann::json& patch) override;
  Status DeleteOrganization(std::string_view org_id) override;
  Status AddMembers(std::string_view org_id, const std::vector<std::string>& user_ids) override;
  Status RemoveMembers(std::string_view org_id, const std::vector<std::string>& user_ids) override;
  Status AddMemberRoles(std::string_view org_id, std::string_view user_id,
                        const std::vector<std::string>& role_ids) override;
  Status RemoveMemberRoles(std::string_view org_id, std::string_view user_id,
                           const std::vector<std::string>& role_ids) override;
  Status AddOrganizationConnection(std::string_view org_id, std::string_view connection_id,
                                   bool assign_membership_on_login, bool show_as_button) override;
  Status PatchOrganizationConnection(std::string_view org_id, std::string_view connection_id,
                                     bool assign_membership_on_login, bool show_as_button) override;
  Status RemoveOrganizationConnection(std::string_view org_id,
                                      std::string_view connection_id) override;
  Result<std::string> FindRoleId(std::string_view name) override;
  Result<std::string> FindConnectionId(std::string_view name) override;
  Status EnableConnectionClient(std::string_view connection_id,
                                std::string_view client_id) override;
  Result<Auth0Application> GetApplication(std::string_view client_id) override;
  Status PatchApplicationCallbacks(std::string_view client_id,
                                   const std::vector<std::string>& callbacks) override;
  Status SendChangePasswordEmail(std::string_view email) override;
  Status SendVerificationEmail(std::string_view user_id) override;
  // Users imports: a job stays "pending" for ImportPendingPolls() GetJob calls, then runs: each
  // record is created with id "auth0|" + its user_id, or fails (INVALID_FORMAT for a missing or
  // malformed email, DUPLICATED_USER for an email already in the connection or a taken id);
  // upsert is not modelled (always false here). GetJobErrors answers the failures ([] for none).
  Result<Auth0Job> CreateUsersImportJob(std::string_view connection_id,
                                        const std::string& users_json,
                                        const UsersImportOptions& options) override;
  Result<Auth0Job> GetJob(std::string_view job_id) override;
  Result<std::vector<Auth0ImportError>> GetJobErrors(std::string_view job_id) override;
  void SetImportPendingPolls(int polls);
  // Makes the next import job end "failed" without importing anything.
  void FailNextImportJob();
  // Import jobs refuse the record with this email: (code, message) in GetJobErrors.
  void RejectImportOf(const std::string& email, std::string code, std::string message);

  void Shutdown() override;

 private:
  struct ImportJob {
    Auth0Job job;
    std::string connection;  // name
    nlohmann::json records = nlohmann::json::array();
    std::vector<Auth0ImportError> errors;
    int polls_left = 0;
    bool fail = false;
  };
  void RunImportLocked(ImportJob& job);
  enum class FaultKind { kBefore, kAfter, kMalformed };
  struct Fault {
    FaultKind kind;
    Status status;
  };
  struct StoredUser {
    User user;
    uint64_t seq = 0;
  };
  struct StoredOrg {
    Organization org;
    uint64_t seq = 0;
    std::map<std::string, std::set<std::string>> members;  // user id -> role ids
  };
  struct Connection {
    std::string id;
    std::string name;
    std::set<std::string> clients;  // enabled client ids
  };
  // One call in progress (mu_ held): takes the endpoint's next fault, records the request.
  class Call;

  // Add or remove member roles (both endpoints behave alike but for the change).
  Status ChangeMemberRoles(const char* endpoint, std::string_view org_id, std::string_view user_id,
                           const std::vector<std::string>& role_ids, bool adding);
  std::string NextId(const char* prefix, size_t hex_digits);  // mu_ held
  Auth0User ViewLocked(const StoredUser& u) const;
  Auth0Organization ViewLocked(const StoredOrg& o) const;
  const Connection* ConnectionByNameLocked(const std::string& name) const;
  StoredUser* UserByEmailLocked(const std::string& connection, const std::string& email);
  StoredOrg* OrgLocked(std::string_view org_id);

  const std::string connection_;

  mutable std::mutex mu_;
  // All below guarded by mu_.
  bool shut_down_ = false;
  uint64_t next_seq_ = 1;
  uint64_t next_id_ = 1;
  std::map<std::string, StoredUser> users_;                       // by id
  std::map<std::string, StoredOrg> orgs_;                         // by id
  std::map<std::string, std::string> roles_;                      // id -> name
  std::map<std::string, Connection> connections_;                 // by id
  std::map<std::string, std::vector<std::string>> applications_;  // client id -> callbacks
  std::map<std::string, std::deque<Fault>> faults_;               // by endpoint template
  std::vector<Email> emails_;
  std::vector<Request> requests_;
  std::map<std::string, ImportJob> import_jobs_;  // by job id
  int import_pending_polls_ = 0;
  bool fail_next_import_ = false;
  std::map<std::string, std::pair<std::string, std::string>> import_rejects_;  // by email
};

}  // namespace tenantsync::testing
