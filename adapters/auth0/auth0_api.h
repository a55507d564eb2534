// Auth0Api: the writer's narrow, typed view of Auth0 (Management API plus the two
// Authentication API emails). Every call the step executor makes goes through this interface;
// Auth0Client implements it over HTTP and tests/support/fake_tenant.h implements it in memory.
//
// Typed results: an answer is checked into these structs where it is received. A 2xx answer
// that lacks what the call promises (not JSON, not an object, no id, a field of the wrong type)
// is a kInvalid Status whose message names the endpoint and what was wrong; it is never an
// exception. Kinds are those of auth0_client.h: kRetryable, kRateLimited, kConflict, kNotFound,
// kPermanent, kInvalid.
//
// Thread safety: implementations must allow calls from many threads at once.
// Idempotency: as documented per call; creates are not idempotent (kConflict when the object
// exists), the emails send again each time they succeed.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tenantsync {

// A user as Auth0 holds it, limited to what tenantsync reads.
struct Auth0User {
  std::string user_id;
  // The profile fields tenantsync owns that the answer carries (email, email_verified, name,
  // given_name, family_name, nickname, picture); a field Auth0 left out is absent here.
  nlohmann::json profile = nlohmann::json::object();
  nlohmann::json app_metadata = nlohmann::json::object();   // {} when absent
  nlohmann::json user_metadata = nlohmann::json::object();  // {} when absent
  bool blocked = false;
  std::vector<std::string> connections;  // identities[].connection
};

// An organization as Auth0 holds it.
struct Auth0Organization {
  std::string id;
  std::string name;
  nlohmann::json display_name = nullptr;               // null when absent
  nlohmann::json branding = nullptr;                   // null when absent
  nlohmann::json metadata = nlohmann::json::object();  // {} when absent
};

// The application whose callbacks tenantsync manages.
struct Auth0Application {
  std::string client_id;
  std::vector<std::string> callbacks;
};

// A job of the Management API (GET /api/v2/jobs/{id}), limited to what the import path reads.
enum class Auth0JobStatus { kPending, kProcessing, kCompleted, kFailed, kExpired };
struct Auth0Job {
  std::string id;
  Auth0JobStatus status = Auth0JobStatus::kPending;
  std::string type;         // "users_import", ...
  std::string external_id;  // "" when absent
  // Users import summary counts once completed (0 when absent).
  int64_t total = 0, inserted = 0, updated = 0, failed = 0;
};

// One user a users import job could not import (GET /api/v2/jobs/{id}/errors): the record as it
// was in the file and Auth0's first error for it.
struct Auth0ImportError {
  nlohmann::json user = nlohmann::json::object();
  std::string code;     // e.g. "DUPLICATED_USER", "INVALID_FORMAT"
  std::string message;  // Auth0's message
};

struct UsersImportOptions {
  bool upsert = false;
  std::string external_id;  // "" = not sent
  bool send_completion_email = false;
};

class Auth0Api {
 public:
  virtual ~Auth0Api() = default;

  // ---- Users ------------------------------------------------------------------------------
  // POST /api/v2/users. kConflict when a user with that email exists in the connection.
  virtual Result<Auth0User> CreateUser(const nlohmann::json& user) = 0;
  // GET /api/v2/users/{id}: immediately consistent. kNotFound when absent.
  virtual Result<Auth0User> GetUser(std::string_view user_id) = 0;
  // PATCH /api/v2/users/{id}: metadata merged at the first level (null deletes a key).
  virtual Result<Auth0User> PatchUser(std::string_view user_id, const nlohmann::json& patch) = 0;
  // DELETE /api/v2/users/{id}: idempotent.
  virtual Status DeleteUser(std::string_view user_id) = 0;
  // GET /api/v2/users-by-email: immediately consistent; possibly empty.
  virtual Result<std::vector<Auth0User>> GetUsersByEmail(std::string_view email) = 0;
  // DELETE /api/v2/users/{id}/sessions and /refresh-tokens: idempotent.
  virtual Status RevokeSessions(std::string_view user_id) = 0;
  virtual Status RevokeRefreshTokens(std::string_view user_id) = 0;

  // ---- Organizations -----------------------------------------------------------------------
  // POST /api/v2/organizations (may carry enabled_connections). kConflict when the name is taken.
  virtual Result<Auth0Organization> CreateOrganization(const nlohmann::json& organization) = 0;
  virtual Result<Auth0Organization> GetOrganization(std::string_view org_id) = 0;
  virtual Result<Auth0Organization> GetOrganizationByName(std::string_view name) = 0;
  // PATCH /api/v2/organizations/{id}: metadata replaced whole.
  virtual Result<Auth0Organization> PatchOrganization(std::string_view org_id,
                                                      const nlohmann::json& patch) = 0;
  virtual Status DeleteOrganization(std::string_view org_id) = 0;
  // Members, in batches of at most 10 per request; idempotent.
  virtual Status AddMembers(std::string_view org_id, const std::vector<std::string>& user_ids) = 0;
  virtual Status RemoveMembers(std::string_view org_id,
                               const std::vector<std::string>& user_ids) = 0;
  // Member roles by role id; idempotent. kNotFound when the user is not a member.
  virtual Status AddMemberRoles(std::string_view org_id, std::string_view user_id,
                                const std::vector<std::string>& role_ids) = 0;
  virtual Status RemoveMemberRoles(std::string_view org_id, std::string_view user_id,
                                   const std::vector<std::string>& role_ids) = 0;
  // Enabled connections. Add: kConflict when already enabled.
  virtual Status AddOrganizationConnection(std::string_view org_id, std::string_view connection_id,
                                           bool assign_membership_on_login,
                                           bool show_as_button) = 0;
  virtual Status PatchOrganizationConnection(std::string_view org_id,
                                             std::string_view connection_id,
                                             bool assign_membership_on_login,
                                             bool show_as_button) = 0;
  virtual Status RemoveOrganizationConnection(std::string_view org_id,
                                              std::string_view connection_id) = 0;

  // ---- Roles, connections, the application ---------------------------------------------------
  // Id of the role / connection with exactly this name; kNotFound (naming it) when none.
  virtual Result<std::string> FindRoleId(std::string_view name) = 0;
  virtual Result<std::string> FindConnectionId(std::string_view name) = 0;
  // PATCH /api/v2/connections/{id}/clients [{"client_id", "status": true}]: a delta.
  virtual Status EnableConnectionClient(std::string_view connection_id,
                                        std::string_view client_id) = 0;
  virtual Result<Auth0Application> GetApplication(std::string_view client_id) = 0;
  // PATCH /api/v2/clients/{id} {"callbacks"}: Auth0 replaces the whole list.
  virtual Status PatchApplicationCallbacks(std::string_view client_id,
                                           const std::vector<std::string>& callbacks) = 0;

  // ---- Users import jobs ---------------------------------------------------------------------
  // POST /api/v2/jobs/users-imports (multipart: users file, connection_id, upsert, external_id,
  // send_completion_email). `users_json` is the file: a JSON array of import records (at most
  // 500 KB, Auth0's limit). Not idempotent: every successful call starts a job. The default
  // implementation answers kPermanent (an API without bulk imports; callers create one by one).
  virtual Result<Auth0Job> CreateUsersImportJob(std::string_view connection_id,
                                                const std::string& users_json,
                                                const UsersImportOptions& options) {
    (void)connection_id, (void)users_json, (void)options;
    return Status::Permanent("users-imports jobs are not available through this API");
  }
  // GET /api/v2/jobs/{id}. kNotFound for an unknown (or expired) job.
  virtual Result<Auth0Job> GetJob(std::string_view job_id) {
    (void)job_id;
    return Status::Permanent("jobs are not available through this API");
  }
  // GET /api/v2/jobs/{id}/errors: empty when the job has no failed users (Auth0 answers 204).
  virtual Result<std::vector<Auth0ImportError>> GetJobErrors(std::string_view job_id) {
    (void)job_id;
    return Status::Permanent("jobs are not available through this API");
  }

  // ---- Emails --------------------------------------------------------------------------------
  // POST /dbconnections/change_password: Auth0 emails the user a change-password link.
  virtual Status SendChangePasswordEmail(std::string_view email) = 0;
  // POST /api/v2/jobs/verification-email.
  virtual Status SendVerificationEmail(std::string_view user_id) = 0;

  // The process is stopping: waits are cut short (kRetryable "shutting down").
  virtual void Shutdown() {}

  // While true, the calling thread's requests are access removals (a leaver's block, session
  // revocation, membership removal, a delete): they take rate-limit tokens ahead of every other
  // request, so they never queue behind a backlog. Per thread; no effect in fakes.
  virtual void SetThreadUrgent(bool urgent) { (void)urgent; }
};

}  // namespace tenantsync
