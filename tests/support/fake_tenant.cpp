#include "tests/support/fake_tenant.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace tenantsync::testing {
namespace {

using Json = nlohmann::json;
namespace ep = endpoints;

// Auth0's error as Auth0Client reports it: kind from the HTTP status, Auth0's errorCode, and the
// message "<endpoint>: HTTP <status> <errorCode>: <Auth0 message>".
Status Auth0Error(std::string_view endpoint, int http, const std::string& code,
                  const std::string& message) {
  std::string text = std::string(endpoint) + ": HTTP " + std::to_string(http) +
                     (code.empty() ? "" : " " + code) + ": " + message;
  Status s = http == 404   ? Status::NotFound(std::move(text))
             : http == 409 ? Status::Conflict(std::move(text))
                           : Status::Permanent(std::move(text));
  s.WithHttp(http, code);
  return s;
}

Status InvalidBody(std::string_view endpoint, const std::string& what) {
  return Auth0Error(endpoint, 400, "invalid_body", "Payload validation error: " + what);
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

constexpr const char* kProfileStrings[] = {"email",       "name",     "given_name",
                                           "family_name", "nickname", "picture"};

// Checks a user body: only `allowed` keys; strings, booleans and objects where Auth0 wants them.
Status CheckUserBody(std::string_view endpoint, const Json& body,
                     const std::set<std::string>& allowed) {
  if (!body.is_object()) return InvalidBody(endpoint, "'Expected type object'.");
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (!allowed.count(it.key())) {
      return InvalidBody(endpoint, "'Additional properties not allowed: " + it.key() + "'.");
    }
  }
  auto expect = [&](const char* key, bool (Json::*is)() const noexcept,
                    const char* type) -> Status {
    auto it = body.find(key);
    if (it == body.end() || ((*it).*is)()) return Status::Ok();
    return InvalidBody(endpoint, std::string("'Expected type ") + type + " but found type " +
                                     it->type_name() + "' on property " + key + ".");
  };
  for (const char* k : kProfileStrings) {
    if (Status s = expect(k, &Json::is_string, "string"); !s.ok()) return s;
  }
  for (const char* k : {"connection", "password"}) {
    if (Status s = expect(k, &Json::is_string, "string"); !s.ok()) return s;
  }
  for (const char* k : {"email_verified", "blocked", "verify_email"}) {
    if (Status s = expect(k, &Json::is_boolean, "boolean"); !s.ok()) return s;
  }
  for (const char* k : {"app_metadata", "user_metadata"}) {
    if (Status s = expect(k, &Json::is_object, "object"); !s.ok()) return s;
  }
  if (body.contains("email") &&
      body["email"].get_ref<const std::string&>().find('@') == std::string::npos) {
    return InvalidBody(endpoint, "'Object didn't pass validation for format email: " +
                                     body["email"].get<std::string>() + "' on property email.");
  }
  return Status::Ok();
}

// First-level merge: a key with a value sets it, a key with null removes it.
void MergeMetadata(Json& target, const Json& patch) {
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.value().is_null()) {
      target.erase(it.key());
    } else {
      target[it.key()] = it.value();
    }
  }
}

bool GoodOrgName(const std::string& name) {
  if (name.empty() || name.size() > 50) return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '-' || c == '_';
  });
}

// Checks an organization body (create or patch).
Status CheckOrgBody(std::string_view endpoint, const Json& body, bool create) {
  if (!body.is_object()) return InvalidBody(endpoint, "'Expected type object'.");
  std::set<std::string> allowed = {"name", "display_name", "branding", "metadata"};
  if (create) allowed.insert("enabled_connections");
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (!allowed.count(it.key())) {
      return InvalidBody(endpoint, "'Additional properties not allowed: " + it.key() + "'.");
    }
  }
  if (create && !body.contains("name")) {
    return InvalidBody(endpoint, "'Missing required property: name'.");
  }
  if (body.contains("name")) {
    if (!body["name"].is_string() || !GoodOrgName(body["name"].get<std::string>())) {
      return InvalidBody(endpoint,
                         "'String does not match pattern ^[a-z0-9_-]{1,50}$' on property name.");
    }
  }
  if (body.contains("display_name") && !body["display_name"].is_null() &&
      !body["display_name"].is_string()) {
    return InvalidBody(endpoint, "'Expected type string' on property display_name.");
  }
  if (body.contains("branding") && !body["branding"].is_null() && !body["branding"].is_object()) {
    return InvalidBody(endpoint, "'Expected type object' on property branding.");
  }
  if (body.contains("metadata") && !body["metadata"].is_null()) {
    const Json& m = body["metadata"];
    if (!m.is_object())
      return InvalidBody(endpoint, "'Expected type object' on property metadata.");
    if (m.size() > 25) return InvalidBody(endpoint, "'Too many properties defined' on metadata.");
    for (auto it = m.begin(); it != m.end(); ++it) {
      if (!it.value().is_string() && !it.value().is_null()) {
        return InvalidBody(endpoint,
                           "'Expected type string' on property metadata." + it.key() + ".");
      }
    }
  }
  return Status::Ok();
}

std::string Path(std::string_view prefix, std::string_view id, std::string_view suffix = "") {
  return std::string(prefix) + std::string(id) + std::string(suffix);
}

}  // namespace

// ---- One call --------------------------------------------------------------------------------

class FakeTenant::Call {
 public:
  Call(FakeTenant& tenant, const char* endpoint, std::string path, Json body = nullptr)
      : tenant_(tenant), endpoint_(endpoint), path_(std::move(path)), body_(std::move(body)) {
    auto it = tenant_.faults_.find(endpoint_);
    if (it != tenant_.faults_.end() && !it->second.empty()) {
      fault_ = std::move(it->second.front());
      it->second.pop_front();
    }
  }

  // FailNext: the status to answer before any effect.
  std::optional<Status> Refused() {
    if (!fault_ || fault_->kind != FaultKind::kBefore) return std::nullopt;
    Record(fault_->status);
    return fault_->status;
  }

  // Records the call; answers `result` unless a fault after the effect replaces it.
  Status Finish(Status result) {
    if (auto injected = After()) result = *injected;
    Record(result);
    return result;
  }
  template <typename T>
  Result<T> Finish(Result<T> result) {
    if (auto injected = After()) {
      Record(*injected);
      return *injected;
    }
    Record(result.ok() ? Status::Ok() : result.status());
    return result;
  }

  const char* endpoint() const { return endpoint_; }

 private:
  std::optional<Status> After() const {
    if (!fault_) return std::nullopt;
    if (fault_->kind == FaultKind::kAfter) return fault_->status;
    if (fault_->kind == FaultKind::kMalformed) {
      return Status::Invalid(std::string(endpoint_) + ": answer is not valid JSON");
    }
    return std::nullopt;
  }
  void Record(const Status& result) {
    tenant_.requests_.push_back(Request{endpoint_, path_, body_, result});
  }

  FakeTenant& tenant_;
  const char* endpoint_;
  std::string path_;
  Json body_;
  std::optional<Fault> fault_;
};

namespace {
// What a call answers once the tenant was shut down: no effect, no record.
Status NotSent(std::string_view endpoint) {
  return Status::Retryable("shutting down: " + std::string(endpoint) + " not sent");
}
}  // namespace

// ---- Set-up ----------------------------------------------------------------------------------

FakeTenant::FakeTenant(std::string connection) : connection_(std::move(connection)) {
  AddConnection(kDefaultConnection);
  AddConnection(connection_);
}

std::string FakeTenant::NextId(const char* prefix, size_t hex_digits) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%0*llx", static_cast<int>(hex_digits),
                static_cast<unsigned long long>(next_id_++));
  return std::string(prefix) + buf;
}

std::string FakeTenant::AddRole(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, n] : roles_) {
    if (n == name) return id;
  }
  std::string id = NextId("rol_", 16);
  roles_[id] = name;
  return id;
}

std::string FakeTenant::AddConnection(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (const Connection* c = ConnectionByNameLocked(name)) return c->id;
  std::string id = NextId("con_", 16);
  connections_[id] = Connection{id, name, {}};
  return id;
}

void FakeTenant::AddApplication(const std::string& client_id, std::vector<std::string> callbacks) {
  std::lock_guard<std::mutex> lock(mu_);
  applications_[client_id] = std::move(callbacks);
}

std::string FakeTenant::PutUser(User user) {
  std::lock_guard<std::mutex> lock(mu_);
  if (user.user_id.empty()) user.user_id = NextId("auth0|", 24);
  if (!ConnectionByNameLocked(user.connection)) {
    std::string id = NextId("con_", 16);
    connections_[id] = Connection{id, user.connection, {}};
  }
  auto it = users_.find(user.user_id);
  uint64_t seq = it != users_.end() ? it->second.seq : next_seq_++;
  std::string id = user.user_id;
  users_[id] = StoredUser{std::move(user), seq};
  return id;
}

std::string FakeTenant::PutOrganization(Organization organization) {
  std::lock_guard<std::mutex> lock(mu_);
  if (organization.id.empty()) organization.id = NextId("org_", 16);
  std::string id = organization.id;
  auto it = orgs_.find(id);
  if (it != orgs_.end()) {
    it->second.org = std::move(organization);
  } else {
    orgs_[id] = StoredOrg{std::move(organization), next_seq_++, {}};
  }
  return id;
}

Status FakeTenant::PutMember(const std::string& org_id, const std::string& user_id,
                             const std::vector<std::string>& role_names) {
  std::vector<std::string> role_ids;
  for (const auto& name : role_names) role_ids.push_back(AddRole(name));
  std::lock_guard<std::mutex> lock(mu_);
  auto org = orgs_.find(org_id);
  if (org == orgs_.end()) return Status::NotFound("PutMember: no organization " + org_id);
  if (!users_.count(user_id)) return Status::NotFound("PutMember: no user " + user_id);
  org->second.members[user_id].insert(role_ids.begin(), role_ids.end());
  return Status::Ok();
}

// ---- Faults ----------------------------------------------------------------------------------

void FakeTenant::FailNext(const std::string& endpoint, Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_[endpoint].push_back(Fault{FaultKind::kBefore, std::move(status)});
}

void FakeTenant::FailAfterApply(const std::string& endpoint, Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_[endpoint].push_back(Fault{FaultKind::kAfter, std::move(status)});
}

void FakeTenant::MalformedNext(const std::string& endpoint) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_[endpoint].push_back(Fault{FaultKind::kMalformed, Status::Ok()});
}

size_t FakeTenant::PendingFaults() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [endpoint, queue] : faults_) n += queue.size();
  return n;
}

// ---- Inspection ------------------------------------------------------------------------------

std::vector<FakeTenant::User> FakeTenant::Users() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<const StoredUser*> ordered;
  for (const auto& [id, u] : users_) ordered.push_back(&u);
  std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) { return a->seq < b->seq; });
  std::vector<User> out;
  for (const StoredUser* u : ordered) out.push_back(u->user);
  return out;
}

std::optional<FakeTenant::User> FakeTenant::FindUser(const std::string& user_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = users_.find(user_id);
  if (it == users_.end()) return std::nullopt;
  return it->second.user;
}

std::vector<FakeTenant::Organization> FakeTenant::Organizations() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<const StoredOrg*> ordered;
  for (const auto& [id, o] : orgs_) ordered.push_back(&o);
  std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) { return a->seq < b->seq; });
  std::vector<Organization> out;
  for (const StoredOrg* o : ordered) out.push_back(o->org);
  return out;
}

std::optional<FakeTenant::Organization> FakeTenant::FindOrganization(
    const std::string& org_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = orgs_.find(org_id);
  if (it == orgs_.end()) return std::nullopt;
  return it->second.org;
}

std::set<std::string> FakeTenant::Members(const std::string& org_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> out;
  auto it = orgs_.find(org_id);
  if (it == orgs_.end()) return out;
  for (const auto& [user_id, roles] : it->second.members) out.insert(user_id);
  return out;
}

std::set<std::string> FakeTenant::MemberRoles(const std::string& org_id,
                                              const std::string& user_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> out;
  auto it = orgs_.find(org_id);
  if (it == orgs_.end()) return out;
  auto m = it->second.members.find(user_id);
  if (m == it->second.members.end()) return out;
  for (const auto& role_id : m->second) {
    auto r = roles_.find(role_id);
    if (r != roles_.end()) out.insert(r->second);
  }
  return out;
}

std::string FakeTenant::RoleId(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, n] : roles_) {
    if (n == name) return id;
  }
  return "";
}

std::string FakeTenant::ConnectionId(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Connection* c = ConnectionByNameLocked(name);
  return c == nullptr ? "" : c->id;
}

std::set<std::string> FakeTenant::ConnectionClients(const std::string& connection_name) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Connection* c = ConnectionByNameLocked(connection_name);
  return c == nullptr ? std::set<std::string>() : c->clients;
}

std::vector<std::string> FakeTenant::Callbacks(const std::string& client_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = applications_.find(client_id);
  return it == applications_.end() ? std::vector<std::string>() : it->second;
}

std::vector<FakeTenant::Email> FakeTenant::Emails() const {
  std::lock_guard<std::mutex> lock(mu_);
  return emails_;
}

std::vector<FakeTenant::Request> FakeTenant::Requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::vector<FakeTenant::Request> FakeTenant::Writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Request> out;
  for (const auto& r : requests_) {
    if (r.write()) out.push_back(r);
  }
  return out;
}

size_t FakeTenant::CountRequests(const std::string& endpoint) const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<size_t>(
      std::count_if(requests_.begin(), requests_.end(),
                    [&](const Request& r) { return r.endpoint == endpoint; }));
}

void FakeTenant::ClearRequests() {
  std::lock_guard<std::mutex> lock(mu_);
  requests_.clear();
}

// ---- Helpers (mu_ held) ------------------------------------------------------------------------

Auth0User FakeTenant::ViewLocked(const StoredUser& s) const {
  Auth0User u;
  u.user_id = s.user.user_id;
  u.profile = s.user.profile;
  u.app_metadata = s.user.app_metadata;
  u.user_metadata = s.user.user_metadata;
  u.blocked = s.user.blocked;
  u.connections = {s.user.connection};
  return u;
}

Auth0Organization FakeTenant::ViewLocked(const StoredOrg& s) const {
  Auth0Organization o;
  o.id = s.org.id;
  o.name = s.org.name;
  o.display_name = s.org.display_name;
  o.branding = s.org.branding;
  o.metadata = s.org.metadata;
  return o;
}

const FakeTenant::Connection* FakeTenant::ConnectionByNameLocked(const std::string& name) const {
  for (const auto& [id, c] : connections_) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

FakeTenant::StoredUser* FakeTenant::UserByEmailLocked(const std::string& connection,
                                                      const std::string& email) {
  const std::string lower = Lower(email);
  for (auto& [id, u] : users_) {
    const Json& e = u.user.profile.contains("email") ? u.user.profile["email"] : Json();
    if (u.user.connection == connection && e.is_string() && Lower(e.get<std::string>()) == lower) {
      return &u;
    }
  }
  return nullptr;
}

FakeTenant::StoredOrg* FakeTenant::OrgLocked(std::string_view org_id) {
  auto it = orgs_.find(std::string(org_id));
  return it == orgs_.end() ? nullptr : &it->second;
}

// ---- Users -----------------------------------------------------------------------------------

namespace {
Status UserNotFound(std::string_view endpoint) {
  return Auth0Error(endpoint, 404, "inexistent_user", "The user does not exist.");
}
Status OrgNotFound(std::string_view endpoint) {
  return Auth0Error(endpoint, 404, "", "No organization found by that id or name");
}
}  // namespace

Result<Auth0User> FakeTenant::CreateUser(const Json& user) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kCreateUser);
  Json body = user;
  if (body.is_object() && !body.contains("connection")) body["connection"] = connection_;
  Call call(*this, ep::kCreateUser, "/api/v2/users", body);
  if (auto refused = call.Refused()) return *refused;
  auto apply = [&]() -> Result<Auth0User> {
    Status s = CheckUserBody(
        ep::kCreateUser, body,
        {"email", "email_verified", "name", "given_name", "family_name", "nickname", "picture",
         "blocked", "app_metadata", "user_metadata", "connection", "password", "verify_email"});
    if (!s.ok()) return s;
    const std::string connection = body["connection"];
    if (!ConnectionByNameLocked(connection)) {
      return Auth0Error(ep::kCreateUser, 400, "inexistent_connection",
                        "The connection does not exist.");
    }
    for (const char* required : {"email", "password"}) {
      if (!body.contains(required)) {
        return InvalidBody(ep::kCreateUser,
                           std::string("'Missing required property: ") + required + "'.");
      }
    }
    const std::string email = body["email"];
    if (UserByEmailLocked(connection, email) != nullptr) {
      return Auth0Error(ep::kCreateUser, 409, "auth0_idp_error", "The user already exists.");
    }
    StoredUser stored;
    User& u = stored.user;
    u.user_id = NextId("auth0|", 24);
    u.connection = connection;
    u.password_set = true;
    for (const char* k : kProfileStrings) {
      if (body.contains(k)) u.profile[k] = body[k];
    }
    u.profile["email_verified"] = body.value("email_verified", false);
    // Auth0's defaults for what was not given.
    if (!u.profile.contains("name")) u.profile["name"] = email;
    if (!u.profile.contains("nickname")) u.profile["nickname"] = email.substr(0, email.find('@'));
    if (!u.profile.contains("picture")) {
      u.profile["picture"] = "https://s.gravatar.com/avatar/" + Lower(email) + "?s=480";
    }
    if (body.contains("app_metadata")) MergeMetadata(u.app_metadata, body["app_metadata"]);
    if (body.contains("user_metadata")) MergeMetadata(u.user_metadata, body["user_metadata"]);
    u.blocked = body.value("blocked", false);
    stored.seq = next_seq_++;
    if (body.value("verify_email", true) && !u.profile["email_verified"].get<bool>()) {
      emails_.push_back(Email{EmailKind::kVerification, email, u.user_id});
    }
    const std::string id = u.user_id;
    users_[id] = std::move(stored);
    return ViewLocked(users_[id]);
  };
  return call.Finish(apply());
}

Result<Auth0User> FakeTenant::GetUser(std::string_view user_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kGetUser);
  Call call(*this, ep::kGetUser, Path("/api/v2/users/", user_id));
  if (auto refused = call.Refused()) return *refused;
  auto it = users_.find(std::string(user_id));
  if (it == users_.end()) return call.Finish(Result<Auth0User>(UserNotFound(ep::kGetUser)));
  return call.Finish(Result<Auth0User>(ViewLocked(it->second)));
}

Result<Auth0User> FakeTenant::PatchUser(std::string_view user_id, const Json& patch) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kPatchUser);
  Call call(*this, ep::kPatchUser, Path("/api/v2/users/", user_id), patch);
  if (auto refused = call.Refused()) return *refused;
  auto apply = [&]() -> Result<Auth0User> {
    Status s = CheckUserBody(
        ep::kPatchUser, patch,
        {"blocked", "email_verified", "email", "name", "given_name", "family_name", "nickname",
         "picture", "user_metadata", "app_metadata", "verify_email", "password", "connection"});
    if (!s.ok()) return s;
    auto it = users_.find(std::string(user_id));
    if (it == users_.end()) return UserNotFound(ep::kPatchUser);
    User& u = it->second.user;
    if (patch.contains("email")) {
      StoredUser* other = UserByEmailLocked(u.connection, patch["email"].get<std::string>());
      if (other != nullptr && other->user.user_id != u.user_id) {
        return Auth0Error(ep::kPatchUser, 409, "auth0_idp_error",
                          "The specified new email already exists");
      }
    }
    for (const char* k : kProfileStrings) {
      if (patch.contains(k)) u.profile[k] = patch[k];
    }
    if (patch.contains("email") && !patch.contains("email_verified")) {
      u.profile["email_verified"] = false;
    }
    if (patch.contains("email_verified")) u.profile["email_verified"] = patch["email_verified"];
    if (patch.contains("blocked")) u.blocked = patch["blocked"].get<bool>();
    if (patch.contains("app_metadata")) MergeMetadata(u.app_metadata, patch["app_metadata"]);
    if (patch.contains("user_metadata")) MergeMetadata(u.user_metadata, patch["user_metadata"]);
    if (patch.contains("password")) u.password_set = true;
    if (patch.contains("email") && patch.value("verify_email", false)) {
      emails_.push_back(
          Email{EmailKind::kVerification, patch["email"].get<std::string>(), u.user_id});
    }
    return ViewLocked(it->second);
  };
  return call.Finish(apply());
}

Status FakeTenant::DeleteUser(std::string_view user_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kDeleteUser);
  Call call(*this, ep::kDeleteUser, Path("/api/v2/users/", user_id));
  if (auto refused = call.Refused()) return *refused;
  // Idempotent: Auth0 answers 204 for an absent user too. Memberships go with the user.
  users_.erase(std::string(user_id));
  for (auto& [id, org] : orgs_) org.members.erase(std::string(user_id));
  return call.Finish(Status::Ok());
}

Result<std::vector<Auth0User>> FakeTenant::GetUsersByEmail(std::string_view email) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kUsersByEmail);
  Call call(*this, ep::kUsersByEmail, "/api/v2/users-by-email?email=" + std::string(email));
  if (auto refused = call.Refused()) return *refused;
  const std::string lower = Lower(std::string(email));
  std::vector<const StoredUser*> found;
  for (const auto& [id, u] : users_) {
    const Json& e = u.user.profile.contains("email") ? u.user.profile["email"] : Json();
    if (e.is_string() && Lower(e.get<std::string>()) == lower) found.push_back(&u);
  }
  std::sort(found.begin(), found.end(), [](auto* a, auto* b) { return a->seq < b->seq; });
  std::vector<Auth0User> out;
  for (const StoredUser* u : found) out.push_back(ViewLocked(*u));
  return call.Finish(Result<std::vector<Auth0User>>(std::move(out)));
}

Status FakeTenant::RevokeSessions(std::string_view user_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kRevokeSessions);
  Call call(*this, ep::kRevokeSessions, Path("/api/v2/users/", user_id, "/sessions"));
  if (auto refused = call.Refused()) return *refused;
  if (auto it = users_.find(std::string(user_id)); it != users_.end()) {
    ++it->second.user.sessions_revoked;
  }
  return call.Finish(Status::Ok());
}

Status FakeTenant::RevokeRefreshTokens(std::string_view user_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kRevokeRefreshTokens);
  Call call(*this, ep::kRevokeRefreshTokens, Path("/api/v2/users/", user_id, "/refresh-tokens"));
  if (auto refused = call.Refused()) return *refused;
  if (auto it = users_.find(std::string(user_id)); it != users_.end()) {
    ++it->second.user.refresh_tokens_revoked;
  }
  return call.Finish(Status::Ok());
}

// ---- Organizations ---------------------------------------------------------------------------

Result<Auth0Organization> FakeTenant::CreateOrganization(const Json& organization) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kCreateOrganization);
  Call call(*this, ep::kCreateOrganization, "/api/v2/organizations", organization);
  if (auto refused = call.Refused()) return *refused;
  auto apply = [&]() -> Result<Auth0Organization> {
    if (Status s = CheckOrgBody(ep::kCreateOrganization, organization, true); !s.ok()) return s;
    std::vector<EnabledConnection> connections;
    if (organization.contains("enabled_connections")) {
      const Json& list = organization["enabled_connections"];
      if (!list.is_array()) {
        return InvalidBody(ep::kCreateOrganization,
                           "'Expected type array' on property enabled_connections.");
      }
      if (list.size() > 10) {
        return Auth0Error(ep::kCreateOrganization, 400, "invalid_body",
                          "An organization cannot have more than 10 enabled connections.");
      }
      for (const Json& item : list) {
        if (!item.is_object() || !item.contains("connection_id") ||
            !item["connection_id"].is_string()) {
          return InvalidBody(ep::kCreateOrganization,
                             "'Missing required property: connection_id' on enabled_connections.");
        }
        for (auto it = item.begin(); it != item.end(); ++it) {
          if (it.key() != "connection_id" && it.key() != "assign_membership_on_login" &&
              it.key() != "show_as_button") {
            return InvalidBody(ep::kCreateOrganization,
                               "'Additional properties not allowed: " + it.key() + "'.");
          }
          if (it.key() != "connection_id" && !it.value().is_boolean()) {
            return InvalidBody(ep::kCreateOrganization,
                               "'Expected type boolean' on property " + it.key() + ".");
          }
        }
        EnabledConnection c;
        c.connection_id = item["connection_id"];
        if (!connections_.count(c.connection_id)) {
          return Auth0Error(ep::kCreateOrganization, 404, "", "No connection found by that id");
        }
        for (const auto& other : connections) {
          if (other.connection_id == c.connection_id) {
            return InvalidBody(ep::kCreateOrganization,
                               "'Duplicate connection_id' on enabled_connections.");
          }
        }
        c.assign_membership_on_login = item.value("assign_membership_on_login", false);
        c.show_as_button = item.value("show_as_button", true);
        connections.push_back(c);
      }
    }
    const std::string name = organization["name"];
    for (const auto& [id, o] : orgs_) {
      if (o.org.name == name) {
        return Auth0Error(ep::kCreateOrganization, 409, "organization_conflict",
                          "An organization with this name already exists.");
      }
    }
    StoredOrg stored;
    Organization& o = stored.org;
    o.id = NextId("org_", 16);
    o.name = name;
    if (organization.contains("display_name")) o.display_name = organization["display_name"];
    if (organization.contains("branding")) o.branding = organization["branding"];
    if (organization.contains("metadata") && !organization["metadata"].is_null()) {
      o.metadata = organization["metadata"];
    }
    o.connections = std::move(connections);
    stored.seq = next_seq_++;
    const std::string id = o.id;
    orgs_[id] = std::move(stored);
    return ViewLocked(orgs_[id]);
  };
  return call.Finish(apply());
}

Result<Auth0Organization> FakeTenant::GetOrganization(std::string_view org_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kGetOrganization);
  Call call(*this, ep::kGetOrganization, Path("/api/v2/organizations/", org_id));
  if (auto refused = call.Refused()) return *refused;
  StoredOrg* o = OrgLocked(org_id);
  if (o == nullptr) {
    return call.Finish(Result<Auth0Organization>(OrgNotFound(ep::kGetOrganization)));
  }
  return call.Finish(Result<Auth0Organization>(ViewLocked(*o)));
}

Result<Auth0Organization> FakeTenant::GetOrganizationByName(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kGetOrganizationByName);
  Call call(*this, ep::kGetOrganizationByName, Path("/api/v2/organizations/name/", name));
  if (auto refused = call.Refused()) return *refused;
  for (const auto& [id, o] : orgs_) {
    if (o.org.name == name) return call.Finish(Result<Auth0Organization>(ViewLocked(o)));
  }
  return call.Finish(Result<Auth0Organization>(OrgNotFound(ep::kGetOrganizationByName)));
}

Result<Auth0Organization> FakeTenant::PatchOrganization(std::string_view org_id,
                                                        const Json& patch) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kPatchOrganization);
  Call call(*this, ep::kPatchOrganization, Path("/api/v2/organizations/", org_id), patch);
  if (auto refused = call.Refused()) return *refused;
  auto apply = [&]() -> Result<Auth0Organization> {
    if (Status s = CheckOrgBody(ep::kPatchOrganization, patch, false); !s.ok()) return s;
    StoredOrg* stored = OrgLocked(org_id);
    if (stored == nullptr) return OrgNotFound(ep::kPatchOrganization);
    Organization& o = stored->org;
    if (patch.contains("name")) {
      const std::string name = patch["name"];
      for (const auto& [id, other] : orgs_) {
        if (id != o.id && other.org.name == name) {
          return Auth0Error(ep::kPatchOrganization, 409, "organization_conflict",
                            "An organization with this name already exists.");
        }
      }
      o.name = name;
    }
    // Replaced whole (metadata too, unlike user metadata); null removes.
    if (patch.contains("display_name")) o.display_name = patch["display_name"];
    if (patch.contains("branding")) o.branding = patch["branding"];
    if (patch.contains("metadata")) {
      o.metadata = patch["metadata"].is_null() ? Json::object() : patch["metadata"];
    }
    return ViewLocked(*stored);
  };
  return call.Finish(apply());
}

Status FakeTenant::DeleteOrganization(std::string_view org_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kDeleteOrganization);
  Call call(*this, ep::kDeleteOrganization, Path("/api/v2/organizations/", org_id));
  if (auto refused = call.Refused()) return *refused;
  if (orgs_.erase(std::string(org_id)) == 0) {
    return call.Finish(OrgNotFound(ep::kDeleteOrganization));
  }
  return call.Finish(Status::Ok());
}

Status FakeTenant::AddMembers(std::string_view org_id, const std::vector<std::string>& user_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kAddMembers);
  Call call(*this, ep::kAddMembers, Path("/api/v2/organizations/", org_id, "/members"),
            Json{{"members", user_ids}});
  if (auto refused = call.Refused()) return *refused;
  StoredOrg* o = OrgLocked(org_id);
  if (o == nullptr) return call.Finish(OrgNotFound(ep::kAddMembers));
  for (const auto& id : user_ids) {
    if (!users_.count(id)) return call.Finish(UserNotFound(ep::kAddMembers));
  }
  for (const auto& id : user_ids) o->members[id];  // idempotent: existing roles stay
  return call.Finish(Status::Ok());
}

Status FakeTenant::RemoveMembers(std::string_view org_id,
                                 const std::vector<std::string>& user_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kRemoveMembers);
  Call call(*this, ep::kRemoveMembers, Path("/api/v2/organizations/", org_id, "/members"),
            Json{{"members", user_ids}});
  if (auto refused = call.Refused()) return *refused;
  StoredOrg* o = OrgLocked(org_id);
  if (o == nullptr) return call.Finish(OrgNotFound(ep::kRemoveMembers));
  // Idempotent; a member's organization roles go with the membership.
  for (const auto& id : user_ids) o->members.erase(id);
  return call.Finish(Status::Ok());
}

namespace {
// Shared by AddMemberRoles / RemoveMemberRoles: 404s for what does not exist.
Status CheckMemberRoles(std::string_view endpoint, bool org_exists, bool user_exists,
                        bool is_member, bool roles_exist) {
  if (!org_exists) return OrgNotFound(endpoint);
  if (!user_exists) return UserNotFound(endpoint);
  if (!is_member) {
    return Auth0Error(endpoint, 404, "", "The user is not a member of the organization.");
  }
  if (!roles_exist) return Auth0Error(endpoint, 404, "inexistent_role", "The role does not exist.");
  return Status::Ok();
}
}  // namespace

Status FakeTenant::AddMemberRoles(std::string_view org_id, std::string_view user_id,
                                  const std::vector<std::string>& role_ids) {
  return ChangeMemberRoles(ep::kAddMemberRoles, org_id, user_id, role_ids, true);
}

Status FakeTenant::RemoveMemberRoles(std::string_view org_id, std::string_view user_id,
                                     const std::vector<std::string>& role_ids) {
  return ChangeMemberRoles(ep::kRemoveMemberRoles, org_id, user_id, role_ids, false);
}

Status FakeTenant::ChangeMemberRoles(const char* endpoint, std::string_view org_id,
                                     std::string_view user_id,
                                     const std::vector<std::string>& role_ids, bool adding) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(endpoint);
  Call call(*this, endpoint,
            Path("/api/v2/organizations/", org_id, "/members/" + std::string(user_id) + "/roles"),
            Json{{"roles", role_ids}});
  if (auto refused = call.Refused()) return *refused;
  StoredOrg* o = OrgLocked(org_id);
  std::set<std::string>* member_roles = nullptr;  // the member's role ids
  if (o != nullptr) {
    auto m = o->members.find(std::string(user_id));
    if (m != o->members.end()) member_roles = &m->second;
  }
  const bool roles_exist = std::all_of(role_ids.begin(), role_ids.end(),
                                       [&](const std::string& r) { return roles_.count(r) > 0; });
  Status s = CheckMemberRoles(endpoint, o != nullptr, users_.count(std::string(user_id)) > 0,
                              member_roles != nullptr, roles_exist);
  if (!s.ok()) return call.Finish(s);
  for (const auto& r : role_ids) {
    if (adding) {
      member_roles->insert(r);
    } else {
      member_roles->erase(r);
    }
  }
  return call.Finish(Status::Ok());
}

Status FakeTenant::AddOrganizationConnection(std::string_view org_id,
                                             std::string_view connection_id,
                                             bool assign_membership_on_login, bool show_as_button) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kAddOrganizationConnection);
  Call call(*this, ep::kAddOrganizationConnection,
            Path("/api/v2/organizations/", org_id, "/enabled_connections"),
            Json{{"connection_id", connection_id},
                 {"assign_membership_on_login", assign_membership_on_login},
                 {"show_as_button", show_as_button}});
  if (auto refused = call.Refused()) return *refused;
  StoredOrg* o = OrgLocked(org_id);
  if (o == nullptr) return call.Finish(OrgNotFound(ep::kAddOrganizationConnection));
  if (!connections_.count(std::string(connection_id))) {
    return call.Finish(
        Auth0Error(ep::kAddOrganizationConnection, 404, "", "No connection found by that id"));
  }
  for (const auto& c : o->org.connections) {
    if (c.connection_id == connection_id) {
      return call.Finish(Auth0Error(ep::kAddOrganizationConnection, 409,
                                    "organization_connection_conflict",
                                    "The connection is already enabled for this organization."));
    }
  }
  if (o->org.connections.size() >= 10) {
    return call.Finish(Auth0Error(ep::kAddOrganizationConnection, 400, "invalid_body",
                                  "An organization cannot have more than 10 enabled connections."));
  }
  o->org.connections.push_back(
      EnabledConnection{std::string(connection_id), assign_membership_on_login, show_as_button});
  return call.Finish(Status::Ok());
}

Status FakeTenant::PatchOrganizationConnection(std::string_view org_id,
                                               std::string_view connection_id,
                                               bool assign_membership_on_login,
                                               bool show_as_button) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kPatchOrganizationConnection);
  Call call(
      *this, ep::kPatchOrganizationConnection,
      Path("/api/v2/organizations/", org_id, "/enabled_connections/" + std::string(connection_id)),
      Json{{"assign_membership_on_login", assign_membership_on_login},
           {"show_as_button", show_as_button}});
  if (auto refused = call.Refused()) return *refused;
  StoredOrg* o = OrgLocked(org_id);
  if (o == nullptr) return call.Finish(OrgNotFound(ep::kPatchOrganizationConnection));
  for (auto& c : o->org.connections) {
    if (c.connection_id != connection_id) continue;
    c.assign_membership_on_login = assign_membership_on_login;
    c.show_as_button = show_as_button;
    return call.Finish(Status::Ok());
  }
  return call.Finish(
      Auth0Error(ep::kPatchOrganizationConnection, 404, "", "No connection found by that id"));
}

Status FakeTenant::RemoveOrganizationConnection(std::string_view org_id,
                                                std::string_view connection_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kRemoveOrganizationConnection);
  Call call(
      *this, ep::kRemoveOrganizationConnection,
      Path("/api/v2/organizations/", org_id, "/enabled_connections/" + std::string(connection_id)));
  if (auto refused = call.Refused()) return *refused;
  StoredOrg* o = OrgLocked(org_id);
  if (o == nullptr) return call.Finish(OrgNotFound(ep::kRemoveOrganizationConnection));
  auto& list = o->org.connections;
  auto it = std::find_if(list.begin(), list.end(), [&](const EnabledConnection& c) {
    return c.connection_id == connection_id;
  });
  if (it == list.end()) {
    return call.Finish(
        Auth0Error(ep::kRemoveOrganizationConnection, 404, "", "No connection found by that id"));
  }
  list.erase(it);
  return call.Finish(Status::Ok());
}

// ---- Roles, connections, the application -----------------------------------------------------

Result<std::string> FakeTenant::FindRoleId(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kListRoles);
  Call call(*this, ep::kListRoles, "/api/v2/roles?name_filter=" + std::string(name));
  if (auto refused = call.Refused()) return *refused;
  for (const auto& [id, n] : roles_) {
    if (n == name) return call.Finish(Result<std::string>(id));
  }
  return call.Finish(Result<std::string>(
      Status::NotFound("role '" + std::string(name) + "' does not exist in Auth0")));
}

Result<std::string> FakeTenant::FindConnectionId(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kListConnections);
  Call call(*this, ep::kListConnections, "/api/v2/connections?name=" + std::string(name));
  if (auto refused = call.Refused()) return *refused;
  if (const Connection* c = ConnectionByNameLocked(std::string(name))) {
    return call.Finish(Result<std::string>(c->id));
  }
  return call.Finish(Result<std::string>(
      Status::NotFound("connection '" + std::string(name) + "' does not exist in Auth0")));
}

Status FakeTenant::EnableConnectionClient(std::string_view connection_id,
                                          std::string_view client_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kPatchConnectionClients);
  Call call(*this, ep::kPatchConnectionClients,
            Path("/api/v2/connections/", connection_id, "/clients"),
            Json::array({Json{{"client_id", client_id}, {"status", true}}}));
  if (auto refused = call.Refused()) return *refused;
  auto c = connections_.find(std::string(connection_id));
  if (c == connections_.end()) {
    return call.Finish(Auth0Error(ep::kPatchConnectionClients, 404, "inexistent_connection",
                                  "The connection does not exist"));
  }
  if (!applications_.count(std::string(client_id))) {
    return call.Finish(Auth0Error(ep::kPatchConnectionClients, 404, "inexistent_client",
                                  "The client does not exist"));
  }
  c->second.clients.insert(std::string(client_id));
  return call.Finish(Status::Ok());
}

Result<Auth0Application> FakeTenant::GetApplication(std::string_view client_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kGetClient);
  Call call(*this, ep::kGetClient, Path("/api/v2/clients/", client_id));
  if (auto refused = call.Refused()) return *refused;
  auto it = applications_.find(std::string(client_id));
  if (it == applications_.end()) {
    return call.Finish(Result<Auth0Application>(
        Auth0Error(ep::kGetClient, 404, "inexistent_client", "The client does not exist")));
  }
  return call.Finish(Result<Auth0Application>(Auth0Application{it->first, it->second}));
}

Status FakeTenant::PatchApplicationCallbacks(std::string_view client_id,
                                             const std::vector<std::string>& callbacks) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kPatchClient);
  Call call(*this, ep::kPatchClient, Path("/api/v2/clients/", client_id),
            Json{{"callbacks", callbacks}});
  if (auto refused = call.Refused()) return *refused;
  auto it = applications_.find(std::string(client_id));
  if (it == applications_.end()) {
    return call.Finish(
        Auth0Error(ep::kPatchClient, 404, "inexistent_client", "The client does not exist"));
  }
  it->second = callbacks;  // replaced whole
  return call.Finish(Status::Ok());
}

// ---- Emails ----------------------------------------------------------------------------------

Status FakeTenant::SendChangePasswordEmail(std::string_view email) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kChangePasswordEmail);
  Call call(*this, ep::kChangePasswordEmail, "/dbconnections/change_password",
            Json{{"email", email}, {"connection", connection_}});
  if (auto refused = call.Refused()) return *refused;
  // The same answer whether or not the user exists (no account enumeration), as Auth0 does.
  StoredUser* u = UserByEmailLocked(connection_, std::string(email));
  emails_.push_back(
      Email{EmailKind::kChangePassword, std::string(email), u == nullptr ? "" : u->user.user_id});
  return call.Finish(Status::Ok());
}

Status FakeTenant::SendVerificationEmail(std::string_view user_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kVerificationEmail);
  Call call(*this, ep::kVerificationEmail, "/api/v2/jobs/verification-email",
            Json{{"user_id", user_id}});
  if (auto refused = call.Refused()) return *refused;
  auto it = users_.find(std::string(user_id));
  if (it == users_.end()) return call.Finish(UserNotFound(ep::kVerificationEmail));
  const Json& email =
      it->second.user.profile.contains("email") ? it->second.user.profile["email"] : Json("");
  emails_.push_back(Email{EmailKind::kVerification,
                          email.is_string() ? email.get<std::string>() : "", it->first});
  return call.Finish(Status::Ok());
}

// ---- Users imports -----------------------------------------------------------------------------

Result<Auth0Job> FakeTenant::CreateUsersImportJob(std::string_view connection_id,
                                                  const std::string& users_json,
                                                  const UsersImportOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kCreateUsersImport);
  Json records = Json::parse(users_json, nullptr, /*allow_exceptions=*/false);
  Call call(*this, ep::kCreateUsersImport, "/api/v2/jobs/users-imports",
            Json{{"connection_id", std::string(connection_id)},
                 {"upsert", options.upsert},
                 {"external_id", options.external_id},
                 {"users", records.is_array() ? records.size() : 0}});
  if (auto refused = call.Refused()) return *refused;
  auto apply = [&]() -> Result<Auth0Job> {
    auto conn = connections_.find(std::string(connection_id));
    if (conn == connections_.end()) {
      return Auth0Error(ep::kCreateUsersImport, 400, "inexistent_connection",
                        "The connection does not exist.");
    }
    if (!records.is_array()) {
      return Auth0Error(ep::kCreateUsersImport, 400, "invalid_body",
                        "Users file must be an array of user objects in JSON format.");
    }
    ImportJob j;
    j.job.id = NextId("job_", 16);
    j.job.type = "users_import";
    j.job.external_id = options.external_id;
    j.connection = conn->second.name;
    j.records = std::move(records);
    j.polls_left = import_pending_polls_;
    j.fail = fail_next_import_;
    fail_next_import_ = false;
    Auth0Job answer = j.job;
    import_jobs_[j.job.id] = std::move(j);
    return answer;
  };
  return call.Finish(apply());
}

void FakeTenant::RunImportLocked(ImportJob& j) {
  j.job.total = static_cast<int64_t>(j.records.size());
  if (j.fail) {
    j.job.status = Auth0JobStatus::kFailed;
    return;
  }
  for (const Json& r : j.records) {
    auto fail = [&](const char* code, const std::string& message) {
      j.errors.push_back(Auth0ImportError{r, code, message});
      ++j.job.failed;
    };
    const Json email = r.is_object() ? r.value("email", Json()) : Json();
    if (!email.is_string() || email.get<std::string>().find('@') == std::string::npos) {
      fail("INVALID_FORMAT",
           "Error in email property - Object didn't pass validation for format "
           "email: " +
               (email.is_string() ? email.get<std::string>() : ""));
      continue;
    }
    const std::string e = email.get<std::string>();
    if (auto reject = import_rejects_.find(e); reject != import_rejects_.end()) {
      fail(reject->second.first.c_str(), reject->second.second);
      continue;
    }
    const std::string id = "auth0|" + r.value("user_id", NextId("", 24));
    if (UserByEmailLocked(j.connection, e) != nullptr || users_.count(id)) {
      fail("DUPLICATED_USER", "The user already exist and upsert parameter is false");
      continue;
    }
    StoredUser stored;
    User& u = stored.user;
    u.user_id = id;
    u.connection = j.connection;
    for (const char* k : kProfileStrings) {
      if (r.contains(k)) u.profile[k] = r[k];
    }
    u.profile["email_verified"] = r.value("email_verified", false);
    if (!u.profile.contains("name")) u.profile["name"] = e;
    if (!u.profile.contains("nickname")) u.profile["nickname"] = e.substr(0, e.find('@'));
    if (!u.profile.contains("picture")) {
      u.profile["picture"] = "https://s.gravatar.com/avatar/" + Lower(e) + "?s=480";
    }
    if (r.contains("app_metadata")) MergeMetadata(u.app_metadata, r["app_metadata"]);
    if (r.contains("user_metadata")) MergeMetadata(u.user_metadata, r["user_metadata"]);
    u.blocked = r.value("blocked", false);
    stored.seq = next_seq_++;
    users_[id] = std::move(stored);
    ++j.job.inserted;
  }
  j.job.status = Auth0JobStatus::kCompleted;
}

Result<Auth0Job> FakeTenant::GetJob(std::string_view job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kGetJob);
  Call call(*this, ep::kGetJob, "/api/v2/jobs/" + std::string(job_id));
  if (auto refused = call.Refused()) return *refused;
  auto apply = [&]() -> Result<Auth0Job> {
    auto it = import_jobs_.find(std::string(job_id));
    if (it == import_jobs_.end()) {
      return Auth0Error(ep::kGetJob, 404, "inexistent_job", "The job does not exist.");
    }
    ImportJob& j = it->second;
    if (j.job.status == Auth0JobStatus::kPending) {
      if (j.polls_left > 0) {
        --j.polls_left;
      } else {
        RunImportLocked(j);
      }
    }
    return j.job;
  };
  return call.Finish(apply());
}

Result<std::vector<Auth0ImportError>> FakeTenant::GetJobErrors(std::string_view job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return NotSent(ep::kGetJobErrors);
  Call call(*this, ep::kGetJobErrors, "/api/v2/jobs/" + std::string(job_id) + "/errors");
  if (auto refused = call.Refused()) return *refused;
  auto apply = [&]() -> Result<std::vector<Auth0ImportError>> {
    auto it = import_jobs_.find(std::string(job_id));
    if (it == import_jobs_.end()) {
      return Auth0Error(ep::kGetJobErrors, 404, "inexistent_job", "The job does not exist.");
    }
    return it->second.errors;
  };
  return call.Finish(apply());
}

void FakeTenant::SetImportPendingPolls(int polls) {
  std::lock_guard<std::mutex> lock(mu_);
  import_pending_polls_ = polls;
}

void FakeTenant::RejectImportOf(const std::string& email, std::string code, std::string message) {
  std::lock_guard<std::mutex> lock(mu_);
  import_rejects_[email] = {std::move(code), std::move(message)};
}

void FakeTenant::FailNextImportJob() {
  std::lock_guard<std::mutex> lock(mu_);
  fail_next_import_ = true;
}

void FakeTenant::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shut_down_ = true;
}

}  // namespace tenantsync::testing
