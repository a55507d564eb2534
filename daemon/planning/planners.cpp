#include "daemon/planning/planners.h"

#include <algorithm>

#include "daemon/desired_state.h"
#include "daemon/planning/json_fields.h"

namespace tenantsync {

using Json = nlohmann::json;

namespace {

constexpr std::pair<StepKind, const char*> kStepNames[] = {
    {StepKind::kCreateOrganization, "create_organization"},
    {StepKind::kPatchOrganization, "patch_organization"},
    {StepKind::kDeleteOrganization, "delete_organization"},
    {StepKind::kEnableOrganizationConnection, "enable_organization_connection"},
    {StepKind::kPatchOrganizationConnection, "patch_organization_connection"},
    {StepKind::kDisableOrganizationConnection, "disable_organization_connection"},
    {StepKind::kCreateUser, "create_user"},
    {StepKind::kPatchUser, "patch_user"},
    {StepKind::kRevokeSessions, "revoke_sessions"},
    {StepKind::kDeleteUser, "delete_user"},
    {StepKind::kAddMembers, "add_members"},
    {StepKind::kRemoveMembers, "remove_members"},
    {StepKind::kAddMemberRoles, "add_member_roles"},
    {StepKind::kRemoveMemberRoles, "remove_member_roles"},
    {StepKind::kPatchCallbacks, "patch_client_callbacks"},
    {StepKind::kEnableConnectionClient, "enable_connection_client"},
    {StepKind::kSendPasswordResetEmail, "send_password_reset_email"},
    {StepKind::kSendVerificationEmail, "send_verification_email"},
};

std::string Str(const Json& v) { return v.is_string() ? v.get<std::string>() : std::string(); }

constexpr int64_t kDayMs = 86400000;

Step MakeStep(StepKind kind, const std::string& entity, Json request, const Json& desired,
              const std::vector<std::string>& fields) {
  Step s;
  s.kind = kind;
  s.entity = entity;
  s.request = std::move(request);
  s.events = EventsBehind(desired, fields, &s.first_received_ms, &s.last_received_ms);
  return s;
}

Json BeforeOf(const Json& patch, const Json& known) {
  Json before = Json::object();
  for (auto& [k, v] : patch.items()) before[k] = known.contains(k) ? known[k] : Json(nullptr);
  return before;
}

// The first-level merge patch for user metadata under Auth0's rules, touching only the keys
// events set (a value) or removed (null): keys tenantsync never mentioned stay as Auth0 has them,
// which matters for adopted users and after a re-read.
Json UserMetadataPatch(const Json& desired_raw, const std::string& prefix, const Json& known) {
  Json patch = Json::object();
  const std::string p = prefix + ".";
  for (auto& [field, slot] : desired_raw.items()) {
    if (field.rfind(p, 0) != 0) continue;
    const std::string key = field.substr(p.size());
    const Json& v = Field(slot, "v");
    const bool has = known.is_object() && known.contains(key);
    if (v.is_null()) {
      if (has) patch[key] = nullptr;
    } else if (!has || known[key] != v) {
      patch[key] = v;
    }
  }
  return patch;
}

// The organization metadata to hold: what Auth0 has, with the keys events set or removed
// applied (Auth0 replaces metadata whole on PATCH, so it is always sent complete).
Json OrgMetadataTarget(const Json& desired_raw, const Json& known_metadata) {
  Json target = known_metadata.is_object() ? known_metadata : Json::object();
  for (auto& [field, slot] : desired_raw.items()) {
    if (field.rfind("metadata.", 0) != 0) continue;
    const std::string key = field.substr(9);
    const Json& v = Field(slot, "v");
    if (v.is_null()) {
      target.erase(key);
    } else {
      target[key] = v;
    }
  }
  return target;
}

// Branding as Auth0 takes it: a part set to null (an event's `{"logo_url": null, "colors":
// null}`, as a declared file without branding sends) is left out, since Auth0 refuses null
// there ("Expected type string but found type null"); nothing left is no branding at all.
Json BrandingRequest(const Json& branding) {
  if (!branding.is_object()) return branding;
  Json out = Json::object();
  for (auto& [k, v] : branding.items()) {
    if (!v.is_null()) out[k] = v;
  }
  return out.empty() ? Json(nullptr) : out;
}

// The enabled-connection flags tenantsync sets for one listed connection (Auth0's defaults when
// the event leaves them out: no automatic membership, shown as a button).
Json ConnectionFlags(const Json& c) {
  auto flag = [&](const char* k, bool fallback) {
    const Json& v = Field(c, k);
    return v.is_boolean() ? v.get<bool>() : fallback;
  };
  return {{"assign_membership_on_login", flag("assign_membership_on_login", false)},
          {"show_as_button", flag("show_as_button", true)}};
}

std::set<std::string> RoleSet(const Json& roles) {
  std::set<std::string> out;
  if (roles.is_array()) {
    for (auto& r : roles) {
      if (r.is_string()) out.insert(r.get<std::string>());
    }
  }
  return out;
}

}  // namespace

const char* StepKindName(StepKind kind) {
  for (auto& [k, name] : kStepNames) {
    if (k == kind) return name;
  }
  return "unknown";
}

std::optional<StepKind> ParseStepKind(std::string_view name) {
  for (auto& [k, n] : kStepNames) {
    if (name == n) return k;
  }
  return std::nullopt;
}

// ---- Organizations ---------------------------------------------------------------------------

Plan PlanOrganization(const EntityRow& org) {
  Plan plan;
  if (!org.exists) return plan;
  const Json view = View(org.desired);
  const Json& known = org.known;
  const std::string key = OrgKey(org.external_id);

  if (Truthy(Field(view, "deleted"))) {
    if (!org.auth0_id || Truthy(Field(known, "deleted"))) return plan;
    Step s = MakeStep(StepKind::kDeleteOrganization, key, {{"organization_id", *org.auth0_id}},
                      org.desired, {"deleted"});
    s.destructive = s.access_removal = true;
    plan.steps.push_back(std::move(s));
    return plan;
  }

  Json fields = Json::object();
  for (auto f : {"name", "display_name", "branding"}) {
    const Json v =
        std::string_view(f) == "branding" ? BrandingRequest(Field(view, f)) : Field(view, f);
    if (!v.is_null()) fields[f] = v;
  }
  if (!org.auth0_id) {
    if (!Field(fields, "name").is_string()) {
      plan.waiting = "waiting for an event with its name before it is created";
      return plan;
    }
    Json request = fields;
    Json metadata = OrgMetadataTarget(org.desired, Json::object());
    if (!metadata.empty()) request["metadata"] = metadata;
    Json connections = Json::array();
    for (auto& c : Field(view, "connections")) {
      if (!Field(c, "name").is_string()) continue;
      Json entry = ConnectionFlags(c);
      entry["name"] = c["name"];
      connections.push_back(entry);
    }
    if (!connections.empty()) request["connections"] = connections;
    plan.steps.push_back(MakeStep(StepKind::kCreateOrganization, key, request, org.desired, {}));
    return plan;
  }

  Json patch = Json::object();
  std::vector<std::string> changed;
  for (auto& [k, v] : fields.items()) {
    if (!known.contains(k) || known[k] != v) {
      patch[k] = v;
      changed.push_back(k);
    }
  }
  const Json known_metadata =
      Field(known, "metadata").is_object() ? known["metadata"] : Json::object();
  Json metadata = OrgMetadataTarget(org.desired, known_metadata);
  if (metadata != known_metadata) {
    patch["metadata"] = metadata;
    changed.push_back("metadata");
  }
  if (!patch.empty()) {
    Step s = MakeStep(StepKind::kPatchOrganization, key, patch, org.desired, changed);
    s.before = BeforeOf(patch, known);
    plan.steps.push_back(std::move(s));
  }

  // Enabled connections: listed ones enabled with their flags; ones tenantsync enabled earlier
  // and no longer listed are disabled.
  std::map<std::string, Json> want;
  for (auto& c : Field(view, "connections")) {
    if (Field(c, "name").is_string()) want[c["name"].get<std::string>()] = ConnectionFlags(c);
  }
  const Json& have = Field(known, "connections");
  for (auto& [name, flags] : want) {
    const Json& current = Field(have, name.c_str());
    if (current == flags) continue;
    Json request = flags;
    request["connection"] = name;
    plan.steps.push_back(MakeStep(current.is_null() ? StepKind::kEnableOrganizationConnection
                                                    : StepKind::kPatchOrganizationConnection,
                                  key, request, org.desired, {"connections"}));
  }
  if (have.is_object()) {
    for (auto& [name, flags] : have.items()) {
      if (want.count(name)) continue;
      plan.steps.push_back(MakeStep(StepKind::kDisableOrganizationConnection, key,
                                    {{"connection", name}}, org.desired, {"connections"}));
    }
  }
  return plan;
}

// ---- Users -----------------------------------------------------------------------------------

std::optional<int64_t> DepartureMs(const EntityRow& user) {
  const Json& left = Field(user.desired, "left");
  if (!Truthy(Field(View(user.desired), "left"))) return std::nullopt;
  const Json& at = Field(Field(user.desired, "left_at"), "v");
  if (at.is_number_integer()) return at.get<int64_t>();
  const Json& ts = Field(left, "ts");
  return ts.is_number_integer() ? ts.get<int64_t>() : 0;
}

Plan PlanUser(const EntityRow& user, const PlanPolicy& policy, int64_t now_ms) {
  Plan plan;
  if (!user.exists) return plan;
  const Json view = View(user.desired);
  const Json& known = user.known;
  const std::string key = UserKey(user.external_id);

  if (Truthy(Field(view, "deleted"))) {
    if (!user.auth0_id || Truthy(Field(known, "deleted"))) return plan;
    Step s = MakeStep(StepKind::kDeleteUser, key, {{"user_id", *user.auth0_id}}, user.desired,
                      {"deleted"});
    s.destructive = s.access_removal = true;
    plan.steps.push_back(std::move(s));
    return plan;
  }

  const bool left = Truthy(Field(view, "left"));
  const bool blocked = Truthy(Field(view, "blocked")) || (left && policy.block_on_leave);
  std::optional<int64_t> purge_at;
  if (left && policy.delete_after_days > 0) {
    if (auto departed = DepartureMs(user)) purge_at = *departed + policy.delete_after_days * kDayMs;
  }
  if (left && Truthy(Field(known, "purged")))
    return plan;  // deleted after leaving; a return re-creates

  Json fields = Json::object();
  for (auto f : kUserProfileFields) {
    if (view.contains(f)) fields[f] = view[f];
  }

  if (!user.auth0_id) {
    if (!Field(fields, "email").is_string()) {
      plan.waiting = "waiting for an event with its email before it is created";
      return plan;
    }
    if (purge_at && now_ms >= *purge_at) return plan;  // left long enough ago to be deleted
    Json request = Json::object();
    for (auto& [k, v] : fields.items()) {
      if (!v.is_null()) request[k] = v;
    }
    request["connection"] = policy.connection;
    // Invite flow: no signup verification email from the create itself; the on_create policy
    // decides which emails the user gets.
    request["verify_email"] = false;
    for (auto md : {"app_metadata", "user_metadata"}) {
      const Json& v = Field(view, md);
      if (v.is_object() && !v.empty()) request[md] = v;
    }
    if (blocked) request["blocked"] = true;
    plan.steps.push_back(MakeStep(StepKind::kCreateUser, key, request, user.desired, {}));
    return plan;
  }

  // Access first: a block is its own step, so it runs ahead of other work and the guard holds
  // only the block, never a routine profile change that arrived with it.
  const bool known_blocked = Truthy(Field(known, "blocked"));
  if (blocked && !known_blocked) {
    Step s =
        MakeStep(StepKind::kPatchUser, key, {{"blocked", true}}, user.desired, {"blocked", "left"});
    s.before = {{"blocked", known.contains("blocked") ? known["blocked"] : Json(nullptr)}};
    s.destructive = s.access_removal = true;
    plan.steps.push_back(std::move(s));
  }
  const Json& left_slot = Field(user.desired, "left");
  const std::string departure = Str(Field(left_slot, "ev"));
  const bool revoked =
      Str(Field(known, "sessions_revoked_for")) == departure ||
      (!known.contains("sessions_revoked_for") && Truthy(Field(known, "sessions_revoked")));
  if (left && policy.revoke_sessions_on_leave && !revoked) {
    Step s = MakeStep(StepKind::kRevokeSessions, key, {{"user_id", *user.auth0_id}}, user.desired,
                      {"left"});
    s.destructive = s.access_removal = true;
    plan.steps.push_back(std::move(s));
  }
  if (purge_at) {
    if (now_ms >= *purge_at) {
      Step s = MakeStep(StepKind::kDeleteUser, key,
                        {{"user_id", *user.auth0_id}, {"reason", "delete_after_days"}},
                        user.desired, {"left"});
      s.destructive = s.access_removal = true;
      plan.steps.push_back(std::move(s));
      return plan;  // nothing else is worth sending to a user about to be deleted
    }
    plan.revisit_at_ms = *purge_at;
  }

  Json patch = Json::object();
  std::vector<std::string> changed;
  for (auto& [k, v] : fields.items()) {
    if (!known.contains(k) || known[k] != v) {
      patch[k] = v;
      changed.push_back(k);
    }
  }
  for (auto md : {"app_metadata", "user_metadata"}) {
    Json p = UserMetadataPatch(user.desired, md, Field(known, md));
    if (!p.empty()) {
      patch[md] = p;
      changed.push_back(md);
    }
  }
  if (!blocked && known_blocked) {
    patch["blocked"] = false;
    changed.push_back("blocked");
    changed.push_back("left");
  }
  if (!patch.empty()) {
    Step s = MakeStep(StepKind::kPatchUser, key, patch, user.desired, changed);
    s.before = BeforeOf(patch, known);
    plan.steps.push_back(std::move(s));
  }
  return plan;
}

// ---- Memberships -----------------------------------------------------------------------------

Plan PlanMembers(const MembersInput& in) {
  Plan plan;
  if (in.org_deleted) return plan;
  if (!in.org_auth0_id) {
    if (!in.desired.empty()) plan.waiting = "waiting for the organization to be created";
    return plan;
  }
  const std::string& org_id = *in.org_auth0_id;
  const std::string key = MembersKey(in.org_external_id);
  auto id_of = [&](const std::string& u) -> const std::string* {
    auto it = in.auth0_ids.find(u);
    return it == in.auth0_ids.end() ? nullptr : &it->second;
  };

  std::vector<std::string> add, remove_leavers, remove_others, fresh;
  for (auto& [u, roles] : in.desired) {
    if (!id_of(u)) continue;
    if (in.uncertain.count(u)) {
      add.push_back(u);  // a re-send settles an unknown outcome: never held back
    } else if (!in.known.count(u)) {
      fresh.push_back(u);
    }
  }
  // A partly filled batch now and another per user created later would cost a request each;
  // holding the remainder until the creations under way finish sends full batches instead.
  const size_t batch = static_cast<size_t>(std::max(1, in.member_batch_size));
  size_t send = fresh.size();
  if (in.creating > 0) send -= send % batch;
  if (send < fresh.size()) plan.revisit_at_ms = in.now_ms + kMemberBatchHoldMs;
  add.insert(add.end(), fresh.begin(), fresh.begin() + static_cast<std::ptrdiff_t>(send));
  std::sort(add.begin(), add.end());
  for (auto& [u, roles] : in.known) {
    if (in.desired.count(u) || !id_of(u)) continue;
    (in.leavers.count(u) ? remove_leavers : remove_others).push_back(u);
  }
  for (auto& u : in.uncertain) {
    // Not wanted and not known as a member, but an unrecorded add may have made it one.
    if (in.desired.count(u) || in.known.count(u) || !id_of(u)) continue;
    (in.leavers.count(u) ? remove_leavers : remove_others).push_back(u);
  }
  auto ids = [&](const std::vector<std::string>& users) {
    Json out = Json::array();
    for (auto& u : users) out.push_back(*id_of(u));
    return out;
  };
  if (!remove_leavers.empty()) {
    Step s;
    s.kind = StepKind::kRemoveMembers;
    s.entity = key;
    s.request = {{"organization_id", org_id}, {"members", ids(remove_leavers)}};
    std::set<std::string> events;
    for (auto& u : remove_leavers) {
      for (auto& e : in.leavers.at(u)) {
        if (e.is_string()) events.insert(e.get<std::string>());
      }
      if (auto rt = in.leavers_received_ms.find(u); rt != in.leavers_received_ms.end()) {
        s.last_received_ms = std::max(s.last_received_ms, rt->second);
      }
    }
    s.events = Json(std::vector<std::string>(events.begin(), events.end()));
    s.destructive = s.access_removal = true;
    plan.steps.push_back(std::move(s));
  }
  if (!add.empty()) {
    Step s;
    s.kind = StepKind::kAddMembers;
    s.entity = key;
    s.request = {{"organization_id", org_id}, {"members", ids(add)}};
    plan.steps.push_back(std::move(s));
  }
  if (!remove_others.empty()) {
    Step s;
    s.kind = StepKind::kRemoveMembers;
    s.entity = key;
    s.request = {{"organization_id", org_id}, {"members", ids(remove_others)}};
    plan.steps.push_back(std::move(s));
  }

  // Roles: per member known to be in Auth0, the difference between the listed roles and those
  // tenantsync assigned. A role write with an unknown outcome counts each role it touched as in
  // the state opposite to the wanted one, so the (idempotent) write that settles it is sent.
  for (auto& [u, roles] : in.desired) {
    auto k = in.known.find(u);
    if (k == in.known.end() || in.uncertain.count(u) || !id_of(u)) continue;
    std::set<std::string> want = RoleSet(roles), have = RoleSet(k->second);
    if (auto it = in.uncertain_roles.find(u); it != in.uncertain_roles.end()) {
      for (auto& r : RoleSet(it->second.second)) {
        if (want.count(r)) {
          have.erase(r);
        } else {
          have.insert(r);
        }
      }
    }
    std::vector<std::string> to_add, to_remove;
    for (auto& r : want) {
      if (!have.count(r)) to_add.push_back(r);
    }
    for (auto& r : have) {
      if (!want.count(r)) to_remove.push_back(r);
    }
    for (auto [names, kind] : {std::pair{&to_add, StepKind::kAddMemberRoles},
                               std::pair{&to_remove, StepKind::kRemoveMemberRoles}}) {
      if (names->empty()) continue;
      Step s;
      s.kind = kind;
      s.entity = key;
      s.request = {{"organization_id", org_id}, {"user_id", *id_of(u)}, {"roles", *names}};
      plan.steps.push_back(std::move(s));
    }
  }
  return plan;
}

// ---- Callbacks -------------------------------------------------------------------------------

Plan PlanCallbacks(const CallbacksInput& in) {
  Plan plan;
  std::vector<std::string> next;
  std::set<std::string> seen;
  bool removing = false;
  for (auto& u : in.current) {
    if (in.managed.count(u) && !in.desired.count(u)) {
      removing = true;  // tenantsync added it and no organization wants it any more
      continue;
    }
    if (seen.insert(u).second) next.push_back(u);
  }
  for (auto& u : in.desired) {
    if (seen.insert(u).second) next.push_back(u);
  }
  if (next == in.current) return plan;
  Step s;
  s.kind = StepKind::kPatchCallbacks;
  s.entity = kCallbacksKey;
  s.request = {{"client_id", in.application_client_id}, {"callbacks", next}};
  s.destructive = removing;
  plan.steps.push_back(std::move(s));
  return plan;
}

Plan PlanConnectionClient(const std::string& connection, bool already_enabled,
                          const std::string& application_client_id) {
  Plan plan;
  if (already_enabled) return plan;
  Step s;
  s.kind = StepKind::kEnableConnectionClient;
  s.entity = ConnectionKey(connection);
  s.request = {{"connection", connection}, {"client_id", application_client_id}};
  plan.steps.push_back(std::move(s));
  return plan;
}

// ---- Commands --------------------------------------------------------------------------------

CommandDecision PlanCommand(const CommandRow& command, const EntityRow& user) {
  using Action = CommandDecision::Action;
  CommandDecision d;
  if (command.state != CommandState::kPending && command.state != CommandState::kInFlight) return d;
  const Json view = View(user.desired);
  if (!user.exists || Truthy(Field(view, "deleted"))) {
    d.action = Action::kDead;
    d.reason = "user " + command.user_external_id + " is not known to tenantsync (or deleted)";
    return d;
  }
  // Decided now, not when the command was queued: a user who left or was blocked meanwhile
  // must never receive an invitation, a reset link or a verification email.
  if (Truthy(Field(view, "left"))) {
    d.action = Action::kSkip;
    d.reason = "not sent: user " + command.user_external_id + " has left";
    return d;
  }
  if (Truthy(Field(view, "blocked"))) {
    d.action = Action::kSkip;
    d.reason = "not sent: user " + command.user_external_id + " is blocked";
    return d;
  }
  if (!user.auth0_id) {
    d.action = Action::kWait;
    d.reason = "waiting for the user to be created";
    return d;
  }
  const bool reset = command.kind == CommandKind::kPasswordReset;
  if (reset && !Field(view, "email").is_string()) {
    d.action = Action::kDead;
    d.reason =
        "user " + command.user_external_id + " has no email to send a change-password link to";
    return d;
  }
  Step s;
  s.kind = reset ? StepKind::kSendPasswordResetEmail : StepKind::kSendVerificationEmail;
  s.entity = CommandKey(command.id);
  s.request = {{"user_id", *user.auth0_id}, {"event", command.event}};
  s.events = Json::array({command.event});
  d.action = Action::kSend;
  d.step = std::move(s);
  return d;
}

}  // namespace tenantsync
