// Tenant: the in-memory Auth0 tenant behind auth0-sim, with no HTTP in it.
//
// Handle() takes one Management API (or Authentication API dbconnections) request that has
// already been authenticated, rate limited and routed (MatchRoute), and answers it the way real
// Auth0 does: same status codes, same JSON shapes, same validation and error bodies. The HTTP
// layer (server.cpp) owns tokens, rate limits, faults and statistics.
//
// Consistency model (as in Auth0): GET /users/{id}, /users-by-email and every write are
// immediately consistent; user search (GET /users) and organization member lists lag behind
// writes by index_lag_ms.
//
// Thread safety: every public method may be called from any thread; one mutex guards the whole
// tenant (requests are short, and a single lock keeps read-modify-write semantics exact).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "tests/auth0-sim/logs.h"

namespace tenantsync::sim {

using Json = nlohmann::json;

// A routed request. `path` is URL-decoded; `query` holds decoded parameters.
struct ApiRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;
  std::string body;
  std::string content_type;
  // multipart/form-data fields (users-imports), name -> content.
  std::map<std::string, std::string> form;
  // Client id of the caller's access token ("" for unauthenticated endpoints).
  std::string caller_client_id;
  // The caller's address, for the `ip` of the log events the request produces.
  std::string ip;
};

struct ApiResponse {
  int status = 200;
  std::string body;  // empty for 204
  std::string content_type = "application/json; charset=utf-8";
};

// The route a request matched: its template (stats key), rate-limit group and whether it needs a
// Management API token.
struct RouteMatch {
  std::string route;  // e.g. "PATCH /api/v2/clients/{id}"
  std::string group;  // rate-limit group: users_read, users_write, organizations_read,
                      // organizations_write, default; "auth" for Authentication API endpoints
  int handler = 0;
  std::vector<std::string> params;
  bool management = true;  // /api/v2/...: needs a token, carries rate-limit headers
};

// nullopt when no route matches (the caller answers 404).
std::optional<RouteMatch> MatchRoute(std::string_view method, std::string_view path);

// Auth0-shaped error body: {"statusCode","error","message"[,"errorCode"]}.
ApiResponse MakeError(int status, std::string_view message, std::string_view error_code = "");
const char* HttpReason(int status);

struct TenantOptions {
  std::string domain = "tenant.auth0.local";
  std::string client_id;  // the machine-to-machine client (all scopes)
  std::string client_secret;
  uint64_t seed = 1;
  int64_t index_lag_ms = 1000;
};

class Tenant {
 public:
  // `clock` must outlive the tenant.
  Tenant(TenantOptions options, Clock& clock);

  ApiResponse Handle(const RouteMatch& route, const ApiRequest& request);

  // Secret of a client, for /oauth/token; nullopt for an unknown client.
  std::optional<std::string> ClientSecret(const std::string& client_id) const;

  // Back to a fresh tenant (same seed, so the same ids are generated again).
  void Reset();
  // The whole tenant for /__sim/state (see docs/AUTH0-SIM.md for the shape).
  Json State() const;
  // Bulk preload for benchmarks and preconditions; answers counts and created ids. Throws
  // std::invalid_argument on a malformed request.
  Json Seed(const Json& request);

  void SetIndexLagMs(int64_t ms);
  int64_t IndexLagMs() const;

  // POST /__sim/login: a login attempt of a user, recorded as Auth0 logs it (s, f, fu, fp; a
  // blocked user's attempt is f "user is blocked"). Answers {"type","log_id",...}. Throws
  // std::invalid_argument on a malformed request. See docs/AUTH0-SIM.md, "Logs".
  Json Login(const Json& request);

  // Users exports (POST /jobs/users-exports) stay "pending" for this long after creation, then
  // report "completed" with a `location`. Applies to jobs created afterwards. Default 0.
  void SetExportDelayMs(int64_t ms);
  int64_t ExportDelayMs() const;
  // Absolute base of export file URLs, e.g. "http://127.0.0.1:8080" (no trailing slash); the job's
  // `location` is BASE + "/__sim/exports/" + file name. Survives Reset().
  void SetExportBaseUrl(std::string url);
  // The gzip bytes of a completed export job's file ("<job_id>.json.gz" or "<job_id>.csv.gz"),
  // fixed at job creation; nullptr for an unknown file or a job still pending.
  std::shared_ptr<const std::string> ExportFile(std::string_view file_name) const;

  // Users imports (POST /jobs/users-imports) answer "pending" for the first half of this delay,
  // "processing" for the second, and are imported when it has passed (default 0: at the next
  // request). Applies to jobs created afterwards.
  void SetImportDelayMs(int64_t ms);
  int64_t ImportDelayMs() const;
  // Import jobs that may be pending or processing at once; one more is answered 429. Default 2.
  void SetImportMaxConcurrent(int n);
  // POST /__sim/imports: {"fail_next": N} makes the next N import jobs end "failed" (nothing
  // imported); {"stall_next": N} keeps the next N "pending" until {"release": true}. Answers
  // the counters and the jobs stalled now. Throws std::invalid_argument on a malformed request.
  Json ImportFaults(const Json& request);

 private:
  struct User {
    Json doc;
    std::string connection;
    std::string email_lower;
    bool password_set = false;
    uint64_t seq = 0;
  };
  struct IndexVersion {
    int64_t visible_at_ms;
    std::optional<Json> doc;  // nullopt: deleted
  };
  struct Member {
    uint64_t seq = 0;
    int64_t visible_from_ms = 0;
  };
  struct Tombstone {
    uint64_t seq = 0;
    int64_t hidden_from_ms = 0;
  };
  // A connection of an organization, shared by the enabled_connections and connections endpoint
  // families. enabled_connections lists only the enabled ones.
  struct OrgConnection {
    std::string connection_id;
    bool assign_membership_on_login = false;
    bool show_as_button = true;
    std::optional<bool> is_signup_enabled;
    bool is_enabled = true;
    std::optional<std::string> organization_access_level;     // reported as "none" when unset
    std::optional<std::string> organization_connection_name;  // reported only when set
  };
  struct Org {
    Json doc;  // id, name, display_name?, branding?, metadata?
    uint64_t seq = 0;
    std::map<std::string, Member> members;
    std::map<std::string, Tombstone> removed;                   // still listed until hidden_from_ms
    std::map<std::string, std::set<std::string>> member_roles;  // user -> role ids
    std::vector<OrgConnection> connections;
  };
  struct Connection {
    Json doc;  // without enabled_clients
    std::set<std::string> enabled_clients;
    uint64_t seq = 0;
  };
  struct Client {
    Json doc;
    std::string secret;
    uint64_t seq = 0;
  };
  struct Job {
    Json doc;
    Json status_doc;
    Json errors = Json::array();
    int64_t ready_at_ms = 0;  // GET /jobs/{id} answers `doc` (pending) until then
    // Users exports: the file's name under /__sim/exports/ and its gzip bytes (never modified).
    std::string file_name;
    std::shared_ptr<const std::string> file;
    // Users imports: the records, where they go, and when they run (processing from
    // processing_at_ms, imported at ready_at_ms unless stalled).
    bool import_pending = false;
    bool import_fail = false;
    bool import_stalled = false;
    Json import_users;
    std::string import_connection_id;
    bool upsert = false;
    int64_t processing_at_ms = 0;
  };

  // Everything below is guarded by mu_.
  void InitLocked();
  std::string NowIso() const;
  int64_t NowMs() const;
  std::string RandomString(std::string_view alphabet, size_t n);
  std::string NewId(std::string_view prefix, size_t n);
  std::string NewUserHex();

  Json UserView(const User& u) const;
  void IndexUser(const std::string& id, std::optional<Json> doc, bool immediate);
  const Connection* FindConnectionByName(const std::string& name) const;
  Json ConnectionView(const Connection& c, bool with_enabled_clients) const;
  Json OrgConnectionView(const OrgConnection& oc) const;
  // The /organizations/{id}/connections shape: every field, with defaults.
  Json OrgAllConnectionView(const OrgConnection& oc) const;
  bool IsMemberVisible(const Org& org, const std::string& user_id, int64_t now) const;
  std::string AddUserLocked(const Json& body, const Connection& conn, bool gravatar_secure,
                            bool password_set);
  void RecordEmail(std::string_view type, const std::string& to, const std::string& user_id);

  ApiResponse Dispatch(const RouteMatch& route, const ApiRequest& req);
  // Users
  ApiResponse CreateUser(const ApiRequest& req, const Json& body);
  ApiResponse GetUser(const std::string& id, const ApiRequest& req);
  ApiResponse PatchUser(const std::string& id, const Json& body);
  ApiResponse DeleteUser(const std::string& id);
  ApiResponse SearchUsers(const ApiRequest& req);
  ApiResponse UsersByEmail(const ApiRequest& req);
  ApiResponse UserOrganizations(const std::string& id, const ApiRequest& req);
  ApiResponse UserLogs(const std::string& id, const ApiRequest& req);
  ApiResponse SearchLogs(const ApiRequest& req);
  ApiResponse GetLog(const std::string& id);
  // After a request: its sapi event (a successful write) and the emails it sent (svr, scpr).
  void RecordActivityLocked(const RouteMatch& route, const ApiRequest& req, const ApiResponse& r,
                            size_t emails_before);
  Json LogClient(const std::string& client_id) const;  // {"client_id","client_name"}
  ApiResponse RefreshTokens(const std::string& id, const ApiRequest& req);
  ApiResponse ChangePasswordEmail(const Json& body);
  // Organizations
  ApiResponse CreateOrg(const Json& body);
  ApiResponse ListOrgs(const ApiRequest& req);
  ApiResponse PatchOrg(const std::string& id, const Json& body);
  ApiResponse ListMembers(const std::string& org_id, const ApiRequest& req);
  ApiResponse ChangeMembers(const std::string& org_id, const Json& body, bool add);
  ApiResponse ChangeMemberRoles(const std::string& org_id, const std::string& user_id,
                                const Json& body, bool add);
  ApiResponse ListMemberRoles(const std::string& org_id, const std::string& user_id,
                              const ApiRequest& req);
  ApiResponse AddOrgConnection(const std::string& org_id, const Json& body);
  ApiResponse PatchOrgConnection(const std::string& org_id, const std::string& con_id,
                                 const Json& body);
  std::optional<ApiResponse> ValidateOrgConnection(const Json& item, bool require_id);
  // /organizations/{id}/connections (docs/AUTH0-SIM.md, "Organization connections").
  ApiResponse ListOrgAllConnections(const std::string& org_id, const ApiRequest& req);
  ApiResponse AddOrgAllConnection(const std::string& org_id, const Json& body);
  ApiResponse PatchOrgAllConnection(const std::string& org_id, const std::string& con_id,
                                    const Json& body);
  std::optional<ApiResponse> ValidateOrgAllConnection(const Json& body, bool create);
  // Roles, connections, clients
  ApiResponse CreateRole(const Json& body);
  ApiResponse ListRoles(const ApiRequest& req);
  ApiResponse PatchRole(const std::string& id, const Json& body);
  ApiResponse CreateConnection(const Json& body);
  ApiResponse ListConnections(const ApiRequest& req);
  ApiResponse PatchConnection(const std::string& id, const Json& body);
  ApiResponse PatchConnectionClients(const std::string& id, const Json& body);
  ApiResponse ConnectionClients(const std::string& id, const ApiRequest& req);
  ApiResponse CreateClient(const Json& body);
  ApiResponse PatchClient(const std::string& id, const Json& body);
  ApiResponse ListClients(const ApiRequest& req);
  ApiResponse ClientConnections(const std::string& id, const ApiRequest& req);
  // Tickets and jobs
  ApiResponse Ticket(const Json& body, bool password_change);
  ApiResponse VerificationEmailJob(const Json& body);
  ApiResponse ImportJob(const ApiRequest& req);
  // Runs every import job whose time has come (called at the start of each request).
  void RunDueImportsLocked();
  void RunImportLocked(const std::string& job_id, Job& job);
  ApiResponse ExportJob(const Json& body);

  TenantOptions options_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::unique_ptr<SeededRandom> rng_;                              // guarded by mu_
  uint64_t next_seq_ = 1;                                          // guarded by mu_
  int64_t index_lag_ms_;                                           // guarded by mu_
  int64_t export_delay_ms_ = 0;                                    // guarded by mu_
  int64_t import_delay_ms_ = 0;                                    // guarded by mu_
  int import_max_concurrent_ = 2;                                  // guarded by mu_
  int import_fail_next_ = 0;                                       // guarded by mu_
  int import_stall_next_ = 0;                                      // guarded by mu_
  std::string export_base_url_;                                    // guarded by mu_
  std::map<std::string, User> users_;                              // guarded by mu_
  std::unordered_map<std::string, std::string> user_by_key_;       // conn\nemail -> id; mu_
  std::map<std::string, std::vector<IndexVersion>> search_index_;  // guarded by mu_
  std::map<std::string, Org> orgs_;                                // guarded by mu_
  std::unordered_map<std::string, std::string> org_by_name_;       // guarded by mu_
  std::map<std::string, Json> roles_;                              // guarded by mu_
  std::map<std::string, Connection> connections_;                  // guarded by mu_
  std::map<std::string, Client> clients_;                          // guarded by mu_
  std::map<std::string, Job> jobs_;                                // guarded by mu_
  std::map<std::string, std::vector<Json>> refresh_tokens_;        // user id -> tokens; mu_
  std::vector<Json> emails_;                                       // guarded by mu_
  LogStore logs_;                                                  // guarded by mu_
};

}  // namespace tenantsync::sim
