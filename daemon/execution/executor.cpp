#include "daemon/execution/executor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/crypto.h"
#include "common/random.h"
#include "daemon/desired_state.h"
#include "daemon/guard.h"
#include "daemon/planning/imports.h"
#include "daemon/planning/json_fields.h"

namespace tenantsync {

using Json = nlohmann::json;

struct StepExecutor::Pass {
  DirtyItem item;
  ExecMode mode = ExecMode::kSend;
  ExecutorPolicy policy;
  std::vector<PlannedStep>* planned = nullptr;
  std::vector<Step> given_up;  // failed permanently or held: not repeated in this pass
  bool dead = false;
  int64_t now_ms = 0;
  int64_t settle_ms = 0;  // the guard's settle time; 0 in dry runs and without a guard
};

namespace {

bool Retryable(const Status& s) {
  return s.kind() == StatusKind::kRetryable || s.kind() == StatusKind::kRateLimited;
}

// A password nobody ever sees: the user sets their own through the emailed link.
std::string RandomPassword() { return "Ts1!" + crypto::Base64Encode(SecureRandom::Bytes(30)); }

// Known state of a user as Auth0 answered it (after adopting it or re-reading it).
Json KnownFromAuth0(const Auth0User& u) {
  Json k = u.profile.is_object() ? u.profile : Json::object();
  k["app_metadata"] = u.app_metadata.is_object() ? u.app_metadata : Json::object();
  k["user_metadata"] = u.user_metadata.is_object() ? u.user_metadata : Json::object();
  k["blocked"] = u.blocked;
  return k;
}

void SetOrgKnownFromAuth0(Json& known, const Auth0Organization& o) {
  known["name"] = o.name;
  for (auto [field, value] :
       {std::pair{"display_name", &o.display_name}, std::pair{"branding", &o.branding}}) {
    if (value->is_null()) {
      known.erase(field);
    } else {
      known[field] = *value;
    }
  }
  known["metadata"] = o.metadata.is_object() ? o.metadata : Json::object();
}

// Stores what the executor learned of Auth0 (known, auth0_id) onto the entity as it is now:
// desired state is the scheduler's to write, and it may have changed since the entity was read.
Status PutKnown(StateTxn& txn, const EntityRow& row, int64_t now_ms) {
  auto fresh = txn.GetEntity(row.kind, row.external_id);
  if (!fresh.ok()) return fresh.status();
  fresh->known = row.known;
  fresh->auth0_id = row.auth0_id;
  return txn.PutEntity(*fresh, now_ms);
}

// A create that stays idempotent across crashes: only a create that may already have reached
// Auth0 (an earlier attempt interrupted or failed) looks first; otherwise Auth0's 409 says the
// object exists and costs one request instead of two. `find_existing` answers kNotFound when
// there is nothing to adopt.
Status CreateOrAdopt(bool attempted, const std::function<Status()>& find_existing,
                     const std::function<Status()>& create) {
  if (attempted) {
    Status found = find_existing();
    if (found.kind() != StatusKind::kNotFound) return found;
  }
  Status created = create();
  if (created.kind() != StatusKind::kConflict) return created;
  Status found = find_existing();
  return found.kind() == StatusKind::kNotFound ? created : found;
}

Status MissingConnection(const Status& s, const std::string& name) {
  if (s.kind() != StatusKind::kNotFound) return s;
  return Status::Permanent("connection \"" + name +
                           "\" does not exist in Auth0 (tenantsync never creates connections)");
}

}  // namespace

void StepExecutor::RecordWaiting(EntityRow& row, const std::string& waiting) {
  const Json& recorded = Field(row.known, "waiting");
  if (recorded.is_string() ? recorded.get<std::string>() == waiting : waiting.empty()) return;
  EntityRow copy = row;
  if (waiting.empty()) {
    copy.known.erase("waiting");
  } else {
    copy.known["waiting"] = waiting;
  }
  if (InTxn([&](StateTxn& txn) { return PutKnown(txn, copy, clock_.NowUnixMillis()); }).ok()) {
    row.known = copy.known;
  }
}

StepExecutor::StepExecutor(SqliteStore& store, Auth0Api& api, Clock& clock, ExecutorOptions options,
                           ExecutorObserver observer)
    : store_(store), api_(api), clock_(clock), options_(options), observer_(std::move(observer)) {}

Status StepExecutor::InTxn(const std::function<Status(StateTxn&)>& fn) {
  auto txn = store_.BeginState();
  if (!txn.ok()) return txn.status();
  if (auto st = fn(**txn); !st.ok()) return st;
  return (*txn)->Commit();
}

Status StepExecutor::InRead(const std::function<Status(StateTxn&)>& fn) {
  auto txn = store_.BeginRead();
  if (!txn.ok()) return txn.status();
  return fn(**txn);
}

bool StepExecutor::LatestWriteUnfinished(const std::string& entity, StepKind kind) {
  SqliteStore::MutationFilter f;
  f.entity = entity;
  f.limit = 200;
  auto rows = store_.ListMutations(f);
  if (!rows.ok()) return false;
  for (auto& m : *rows) {  // newest first
    if (m.kind != StepKindName(kind)) continue;
    return m.state == MutationState::kFailed || m.state == MutationState::kInFlight ||
           m.state == MutationState::kPending;
  }
  return false;
}

StepExecutor::RunResult StepExecutor::Run(const DirtyItem& item, ExecMode mode,
                                          const ExecutorPolicy& policy,
                                          std::vector<PlannedStep>* planned) {
  Pass pass;
  pass.item = item;
  pass.mode = mode;
  pass.policy = policy;
  pass.planned = planned;
  pass.now_ms = clock_.NowUnixMillis();
  pass.settle_ms = guard_ != nullptr && mode == ExecMode::kSend ? guard_->settle_ms() : 0;
  const std::string& e = item.entity;
  auto after = [&](std::string_view prefix) -> std::optional<std::string> {
    if (e.rfind(prefix, 0) != 0) return std::nullopt;
    return e.substr(prefix.size());
  };
  if (auto ext = after("org:")) return RunOrganization(pass, *ext);
  if (auto ext = after("user:")) return RunUser(pass, *ext);
  if (auto ext = after("members:")) return RunMembers(pass, *ext);
  if (auto name = after("connection:")) return RunConnection(pass, *name);
  if (auto conn = after("imports:")) return RunImports(pass, *conn);
  if (auto id = after("command:")) {
    char* end = nullptr;
    const long long n = std::strtoll(id->c_str(), &end, 10);
    if (!id->empty() && end != nullptr && *end == '\0') return RunCommand(pass, n);
  }
  if (e == kCallbacksKey) return RunCallbacks(pass);
  spdlog::error("writer: unknown entity key {}", e);
  return {Outcome::kDead, std::nullopt};
}

StepExecutor::RunResult StepExecutor::Loop(Pass& pass, const std::function<Plan()>& plan_fn,
                                           const std::function<Status(const Step&)>& execute) {
  RunResult result;
  // The steps of `plan` this pass has not given up on: what the entity still has to send.
  auto steps_left = [&](const Plan& plan) {
    return static_cast<int64_t>(
        std::count_if(plan.steps.begin(), plan.steps.end(), [&](const Step& s) {
          return std::find(pass.given_up.begin(), pass.given_up.end(), s) == pass.given_up.end();
        }));
  };
  for (int n = 0;; ++n) {
    Plan plan = plan_fn();
    if (pass.mode == ExecMode::kPlan) {
      if (pass.planned == nullptr) return result;
      if (!plan.waiting.empty()) {
        pass.planned->push_back(PlannedStep{
            pass.item.entity, "wait", {{"reason", plan.waiting}}, nullptr, Json::array(), false});
      }
      for (auto& s : plan.steps) {
        pass.planned->push_back(PlannedStep{s.entity, StepKindName(s.kind), s.request, s.before,
                                            s.events, s.destructive});
      }
      return result;
    }
    const Step* next = nullptr;
    std::optional<int64_t> settles_at;
    for (auto& s : plan.steps) {
      if (std::find(pass.given_up.begin(), pass.given_up.end(), s) != pass.given_up.end()) continue;
      // A destructive step waits the guard's settle time after its latest event, so a burst
      // trickling in is judged whole (Guard::Anticipate) before any of it is sent. Other steps of
      // the entity go on meanwhile (a leaver not created yet is created blocked at once).
      if (s.destructive && pass.settle_ms > 0 &&
          s.last_received_ms + pass.settle_ms > pass.now_ms) {
        const int64_t at = s.last_received_ms + pass.settle_ms;
        settles_at = settles_at ? std::min(*settles_at, at) : at;
        continue;
      }
      next = &s;
      break;
    }
    if (next == nullptr) {
      result.revisit_at_ms = plan.revisit_at_ms;
      if (settles_at) {
        result.revisit_at_ms =
            result.revisit_at_ms ? std::min(*result.revisit_at_ms, *settles_at) : *settles_at;
      }
      result.outcome = pass.dead ? Outcome::kDead : Outcome::kDone;
      return result;
    }
    if (n >= options_.max_steps_per_turn) {
      result.outcome = Outcome::kMore;
      result.steps_left = steps_left(plan);
      return result;
    }
    const Step step = *next;
    // An access removal takes rate-limit tokens ahead of every other request.
    if (step.access_removal) api_.SetThreadUrgent(true);
    Status st = execute(step);
    if (step.access_removal) api_.SetThreadUrgent(false);
    if (st.ok()) {
      // Other work gives its worker up as soon as an access removal is waiting for one.
      if (pass.item.priority < kAccessRemovalPriority && options_.urgent_waiting &&
          options_.urgent_waiting()) {
        result.outcome = Outcome::kMore;
        // The plan still counts the step just done.
        result.steps_left = std::max<int64_t>(0, steps_left(plan) - 1);
        return result;
      }
      continue;
    }
    if (Retryable(st)) {
      result.outcome = Outcome::kRetry;
      return result;
    }
    pass.given_up.push_back(step);
    pass.dead = true;
  }
}

Status StepExecutor::DeadLetter(Pass& pass, const Step& step, const std::string& error) {
  if (pass.mode != ExecMode::kSend) return Status::Ok();
  SqliteStore::MutationFilter f;
  f.entity = step.entity;
  f.limit = 50;
  if (auto rows = store_.ListMutations(f); rows.ok()) {
    for (auto& m : *rows) {
      if (m.kind == StepKindName(step.kind) && m.request == step.request) {
        if (m.state == MutationState::kDead) return Status::Ok();  // already reported
        break;
      }
    }
  }
  MutationRow row;
  row.entity = step.entity;
  row.kind = StepKindName(step.kind);
  row.request = step.request;
  row.events = step.events;
  row.state = MutationState::kDead;
  row.attempts = 1;
  row.last_error = error;
  row.created_at_ms = clock_.NowUnixMillis();
  Status st = InTxn([&](StateTxn& txn) { return txn.InsertMutation(row).status(); });
  if (!st.ok()) return st;
  spdlog::error("mutation entity={} kind={} result=dead error={}", row.entity, row.kind, error);
  if (observer_.on_mutation) observer_.on_mutation(row, MutationState::kDead, 0);
  return Status::Ok();
}

Status StepExecutor::Mutate(Pass& pass, const Step& step, const std::function<Status()>& call,
                            const std::function<Status(StateTxn&)>& effect) {
  const std::string kind = StepKindName(step.kind);
  // The same request already dead-lettered (and not retried by an operator since): a re-plan
  // of the entity would send it again and add another dead row per pass.
  {
    SqliteStore::MutationFilter f;
    f.entity = step.entity;
    f.limit = 50;
    auto rows = store_.ListMutations(f);
    if (rows.ok()) {
      for (auto& m : *rows) {  // newest first
        if (m.kind != kind || m.request != step.request) continue;
        if (m.state == MutationState::kDead) {
          return Status::Permanent("already dead-lettered as mutation " + std::to_string(m.id) +
                                   ": " + m.last_error);
        }
        break;
      }
    }
  }
  const bool dry_run = pass.mode == ExecMode::kDryRun;
  if (step.destructive && guard_ != nullptr && !dry_run) {
    // Asked before anything is recorded or sent: a held step leaves no mutation row, only the
    // guard's held entry, and is planned again when an operator approves.
    auto decision = guard_->Check(step.entity, kind, step.request, step.events);
    if (!decision.ok()) return Status::Retryable("guard: " + decision.status().message());
    if (*decision == Guard::Decision::kHold) {
      spdlog::warn("mutation entity={} kind={} held by the destructive-change guard", step.entity,
                   kind);
      return Status::Conflict("held by the destructive-change guard");
    }
  }
  const int64_t start = clock_.NowUnixMillis();
  MutationRow row;
  row.entity = step.entity;
  row.kind = kind;
  row.request = step.request;
  row.events = step.events;
  row.destructive = step.destructive;
  row.state = dry_run ? MutationState::kPending : MutationState::kInFlight;
  row.attempts = pass.item.attempts + 1;
  row.created_at_ms = start;
  if (step.first_received_ms > 0) row.first_received_at_ms = step.first_received_ms;
  if (dry_run) row.last_error = "dry run: planned, not sent";
  int64_t id = 0;
  Status recorded = InTxn([&](StateTxn& txn) {
    auto r = txn.InsertMutation(row);
    if (!r.ok()) return r.status();
    id = *r;
    return Status::Ok();
  });
  if (!recorded.ok()) return Status::Retryable("recording mutation: " + recorded.message());
  row.id = id;
  if (dry_run) return Status::Permanent("dry run");

  Status result = call();
  const int64_t end = clock_.NowUnixMillis();
  MutationState state = MutationState::kDone;
  std::string error;
  if (!result.ok()) {
    error = result.ToString();
    bool retryable = Retryable(result);
    if (retryable && row.attempts >= options_.max_attempts) {
      error = "gave up after " + std::to_string(row.attempts) + " attempts: " + error;
      result = Status::Permanent(error);
      retryable = false;
    }
    state = retryable ? MutationState::kFailed : MutationState::kDead;
  }
  Status saved = InTxn([&](StateTxn& txn) {
    if (auto s = txn.UpdateMutation(id, state, error, row.attempts, end); !s.ok()) return s;
    if (state == MutationState::kDone && effect) return effect(txn);
    return Status::Ok();
  });
  if (!saved.ok()) {
    // The write happened but its outcome is not recorded: re-plan from Auth0 later.
    spdlog::error("mutation id={} entity={} kind={}: outcome not recorded: {}", id, step.entity,
                  kind, saved.message());
    return Status::Retryable(saved.message());
  }
  if (state == MutationState::kDone) last_success_ms_ = end;
  const double lag =
      step.first_received_ms > 0 ? static_cast<double>(end - step.first_received_ms) / 1000.0 : 0.0;
  if (state == MutationState::kDead) {
    spdlog::error("mutation id={} entity={} kind={} result=dead error={}", id, step.entity, kind,
                  error);
  } else if (state == MutationState::kFailed) {
    spdlog::warn("mutation id={} entity={} kind={} result=failed attempt={} error={}", id,
                 step.entity, kind, row.attempts, error);
  } else {
    spdlog::info("mutation id={} entity={} kind={} result=done ms={}", id, step.entity, kind,
                 end - start);
  }
  if (observer_.on_mutation) observer_.on_mutation(row, state, lag);
  return result;
}

// ---- Organizations ---------------------------------------------------------------------------

StepExecutor::RunResult StepExecutor::RunOrganization(Pass& pass, const std::string& ext) {
  auto read = store_.ReadEntity(EntityKind::kOrganization, ext);
  if (!read.ok()) return {Outcome::kRetry, std::nullopt};
  EntityRow org = std::move(read).value();
  if (!org.exists) return {};
  const std::string key = OrgKey(ext);
  const bool writes = pass.mode != ExecMode::kPlan;

  // After a patch with an unknown outcome, known cannot be trusted: read what Auth0 holds.
  if (org.auth0_id && LatestWriteUnfinished(key, StepKind::kPatchOrganization)) {
    auto fresh = api_.GetOrganization(*org.auth0_id);
    if (!fresh.ok()) {
      return {Retryable(fresh.status()) ? Outcome::kRetry : Outcome::kDead, std::nullopt};
    }
    SetOrgKnownFromAuth0(org.known, *fresh);
  }
  const bool attempted = Truthy(Field(org.known, "create_attempted")) ||
                         LatestWriteUnfinished(key, StepKind::kCreateOrganization);
  auto plan = [&] {
    Plan p = PlanOrganization(org);
    if (writes) RecordWaiting(org, p.waiting);
    return p;
  };

  auto execute = [&](const Step& step) -> Status {
    const int64_t now = clock_.NowUnixMillis();
    switch (step.kind) {
      case StepKind::kDeleteOrganization:
        return Mutate(
            pass, step,
            [&] {
              Status s = api_.DeleteOrganization(*org.auth0_id);
              return s.kind() == StatusKind::kNotFound ? Status::Ok() : s;  // already gone
            },
            [&](StateTxn& txn) {
              // Forget the Auth0 id and the memberships Auth0 dropped with it: a later upsert
              // revives the organization by creating a new one.
              org.known = {{"deleted", true}};
              org.auth0_id.reset();
              auto members = txn.KnownMembers(ext);
              if (!members.ok()) return members.status();
              for (auto& m : *members) {
                if (auto s = txn.SetKnownMember(ext, m.user_external_id, std::nullopt); !s.ok())
                  return s;
              }
              if (auto s = PutKnown(txn, org, now); !s.ok()) return s;
              return txn.MarkDirty(kCallbacksKey);
            });
      case StepKind::kCreateOrganization: {
        const std::string name = Field(step.request, "name").get<std::string>();
        Json body = step.request;
        body.erase("connections");
        Json enabled = Json::array(), sent = Json::object();
        for (auto& c : Field(step.request, "connections")) {
          const std::string cname = Field(c, "name").get<std::string>();
          auto cid = api_.FindConnectionId(cname);
          if (!cid.ok()) {
            if (Retryable(cid.status())) return cid.status();
            continue;  // the connection step names it when it dead-letters
          }
          Json flags = c;
          flags.erase("name");
          Json entry = flags;
          entry["connection_id"] = *cid;
          enabled.push_back(entry);
          sent[cname] = flags;
        }
        if (!enabled.empty()) body["enabled_connections"] = enabled;
        std::string id, how = "created";
        // Found rather than created by this call (adopted, or ours from an earlier attempt that
        // may have sent other fields): known is what Auth0 answered.
        std::optional<Auth0Organization> found;
        bool connections_sent = false;
        auto find_existing = [&]() -> Status {
          auto existing = api_.GetOrganizationByName(name);
          if (!existing.ok()) return existing.status();
          id = existing->id;
          found = *existing;
          if (attempted) return Status::Ok();  // ours, from an earlier attempt
          if (!pass.policy.adopt_existing) {
            return Status::Permanent("organization \"" + name +
                                     "\" already exists in Auth0 and adopt_existing is false");
          }
          how = "adopted";
          return Status::Ok();
        };
        Status st = Mutate(
            pass, step,
            [&] {
              return CreateOrAdopt(attempted, find_existing, [&]() -> Status {
                auto created = api_.CreateOrganization(body);
                if (!created.ok()) return created.status();
                id = created->id;
                connections_sent = !enabled.empty();
                return Status::Ok();
              });
            },
            [&](StateTxn& txn) {
              org.auth0_id = id;
              if (found) {
                // Known is what Auth0 holds, so the next plan sends what differs.
                org.known = Json::object();
                SetOrgKnownFromAuth0(org.known, *found);
              } else {
                org.known = step.request;
                org.known.erase("connections");
                if (!org.known.contains("metadata")) org.known["metadata"] = Json::object();
                if (connections_sent) org.known["connections"] = sent;
              }
              if (auto s = PutKnown(txn, org, now); !s.ok()) return s;
              if (auto s = txn.AddRegistry(EntityKind::kOrganization, id, ext, how, now); !s.ok())
                return s;
              if (connections_sent) {
                for (auto& [cname, flags] : sent.items()) {
                  if (auto s = txn.MarkDirty(ConnectionKey(cname)); !s.ok()) return s;
                }
              }
              if (auto s = txn.MarkDirty(MembersKey(ext)); !s.ok()) return s;
              return txn.MarkDirty(kCallbacksKey);
            });
        if (!st.ok() && pass.mode == ExecMode::kSend) {
          // Remember the attempt: a retry after a crash adopts what the attempt created.
          InTxn([&](StateTxn& txn) {
            auto fresh = txn.GetEntity(EntityKind::kOrganization, ext);
            if (!fresh.ok()) return fresh.status();
            fresh->known["create_attempted"] = true;
            return txn.PutEntity(*fresh, clock_.NowUnixMillis());
          });
        }
        return st;
      }
      case StepKind::kPatchOrganization:
        return Mutate(
            pass, step,
            [&] { return api_.PatchOrganization(*org.auth0_id, step.request).status(); },
            [&](StateTxn& txn) {
              for (auto& [k, v] : step.request.items()) org.known[k] = v;
              return PutKnown(txn, org, now);
            });
      case StepKind::kEnableOrganizationConnection:
      case StepKind::kPatchOrganizationConnection: {
        const std::string cname = Field(step.request, "connection").get<std::string>();
        const bool assign = Truthy(Field(step.request, "assign_membership_on_login"));
        const bool button = Truthy(Field(step.request, "show_as_button"));
        const bool exists = step.kind == StepKind::kPatchOrganizationConnection;
        return Mutate(
            pass, step,
            [&]() -> Status {
              auto conn = api_.FindConnectionId(cname);
              if (!conn.ok()) return MissingConnection(conn.status(), cname);
              if (exists)
                return api_.PatchOrganizationConnection(*org.auth0_id, *conn, assign, button);
              Status added = api_.AddOrganizationConnection(*org.auth0_id, *conn, assign, button);
              if (added.kind() != StatusKind::kConflict) return added;
              return api_.PatchOrganizationConnection(*org.auth0_id, *conn, assign, button);
            },
            [&](StateTxn& txn) {
              if (!Field(org.known, "connections").is_object())
                org.known["connections"] = Json::object();
              org.known["connections"][cname] = {{"assign_membership_on_login", assign},
                                                 {"show_as_button", button}};
              if (auto s = PutKnown(txn, org, now); !s.ok()) return s;
              return txn.MarkDirty(ConnectionKey(cname));
            });
      }
      case StepKind::kDisableOrganizationConnection: {
        const std::string cname = Field(step.request, "connection").get<std::string>();
        return Mutate(
            pass, step,
            [&]() -> Status {
              auto conn = api_.FindConnectionId(cname);
              if (!conn.ok())
                return conn.status().kind() == StatusKind::kNotFound ? Status::Ok() : conn.status();
              Status s = api_.RemoveOrganizationConnection(*org.auth0_id, *conn);
              return s.kind() == StatusKind::kNotFound ? Status::Ok() : s;
            },
            [&](StateTxn& txn) {
              org.known["connections"].erase(cname);
              return PutKnown(txn, org, now);
            });
      }
      default:
        return Status::Invalid(std::string("not an organization step: ") + StepKindName(step.kind));
    }
  };
  return Loop(pass, plan, execute);
}

// ---- Users -----------------------------------------------------------------------------------

StepExecutor::RunResult StepExecutor::RunUser(Pass& pass, const std::string& ext) {
  auto read = store_.ReadEntity(EntityKind::kUser, ext);
  if (!read.ok()) return {Outcome::kRetry, std::nullopt};
  EntityRow user = std::move(read).value();
  if (!user.exists) return {};
  const std::string key = UserKey(ext);
  const bool writes = pass.mode != ExecMode::kPlan;

  // A patch whose outcome is unknown (interrupted by a crash, or failed retryably) may or may not
  // have reached Auth0: read the user (immediately consistent) before planning.
  if (user.auth0_id && LatestWriteUnfinished(key, StepKind::kPatchUser)) {
    auto fresh = api_.GetUser(*user.auth0_id);
    if (!fresh.ok()) {
      return {Retryable(fresh.status()) ? Outcome::kRetry : Outcome::kDead, std::nullopt};
    }
    Json k = KnownFromAuth0(*fresh);
    for (auto keep : {"sessions_revoked_for", "sessions_revoked"}) {
      if (user.known.contains(keep)) k[keep] = user.known[keep];
    }
    user.known = k;
  }
  const bool attempted = Truthy(Field(user.known, "create_attempted")) ||
                         LatestWriteUnfinished(key, StepKind::kCreateUser);
  const int64_t now_ms = clock_.NowUnixMillis();
  if (auto deferred = DeferToImport(pass, user, attempted)) return *deferred;

  auto plan = [&] {
    Plan p = PlanUser(user, pass.policy.plan, now_ms);
    if (writes) RecordWaiting(user, p.waiting);
    return p;
  };

  auto execute = [&](const Step& step) -> Status {
    const int64_t now = clock_.NowUnixMillis();
    switch (step.kind) {
      case StepKind::kDeleteUser: {
        const bool purge = Field(step.request, "reason") == "delete_after_days";
        return Mutate(
            pass, step, [&] { return api_.DeleteUser(*user.auth0_id); },
            [&](StateTxn& txn) {
              // A later upsert revives a deleted user by creating it again (SPEC §5); a purged
              // leaver is re-created only if it returns.
              user.known = {{"deleted", true}};
              if (purge) user.known["purged"] = true;
              user.auth0_id.reset();
              if (auto s = PutKnown(txn, user, now); !s.ok()) return s;
              return txn.ForgetKnownMemberships(ext);
            });
      }
      case StepKind::kCreateUser: {
        const std::string email = Field(step.request, "email").get<std::string>();
        const std::string& connection = pass.policy.plan.connection;
        const bool blocked = Truthy(Field(step.request, "blocked"));
        std::string id, how = "created";
        // Found rather than created by this call (adopted, or ours from an earlier attempt that
        // may have sent other fields): known is what Auth0 answered.
        std::optional<Auth0User> found;
        auto find_existing = [&]() -> Status {
          auto existing = api_.GetUsersByEmail(email);
          if (!existing.ok()) return existing.status();
          for (auto& u : *existing) {
            if (std::find(u.connections.begin(), u.connections.end(), connection) ==
                u.connections.end())
              continue;
            id = u.user_id;
            found = u;
            if (attempted) return Status::Ok();  // ours, from an earlier attempt
            if (!pass.policy.adopt_existing) {
              return Status::Permanent("a user with email " + email + " already exists in " +
                                       connection + " and adopt_existing is false");
            }
            how = "adopted";
            return Status::Ok();
          }
          return Status::NotFound("no user with email " + email + " in " + connection);
        };
        Status st = Mutate(
            pass, step,
            [&] {
              return CreateOrAdopt(attempted, find_existing, [&]() -> Status {
                Json body = step.request;
                body["password"] = RandomPassword();
                auto created = api_.CreateUser(body);
                if (!created.ok()) return created.status();
                id = created->user_id;
                return Status::Ok();
              });
            },
            [&](StateTxn& txn) {
              user.auth0_id = id;
              if (found) {
                user.known = KnownFromAuth0(*found);  // the next plan sends what differs
              } else {
                Json k = Json::object();
                const Json view = View(user.desired);
                for (auto f : kUserProfileFields) {
                  if (view.contains(f)) k[f] = view[f];
                }
                k["app_metadata"] = Field(step.request, "app_metadata").is_object()
                                        ? step.request["app_metadata"]
                                        : Json::object();
                k["user_metadata"] = Field(step.request, "user_metadata").is_object()
                                         ? step.request["user_metadata"]
                                         : Json::object();
                k["blocked"] = blocked;
                // Created after leaving: it never had a session, so there is nothing to revoke.
                const Json& departure = Field(Field(user.desired, "left"), "ev");
                if (Truthy(Field(view, "left")) && departure.is_string()) {
                  k["sessions_revoked_for"] = departure;
                }
                user.known = k;
              }
              if (auto s = PutKnown(txn, user, now); !s.ok()) return s;
              if (auto s = txn.AddRegistry(EntityKind::kUser, id, ext, how, now); !s.ok()) return s;
              auto orgs = txn.UserMemberships(ext);
              if (!orgs.ok()) return orgs.status();
              for (auto& m : *orgs) {
                if (auto s = txn.MarkDirty(MembersKey(m.org_external_id)); !s.ok()) return s;
              }
              // Invitations only for users tenantsync created who may sign in: never for one
              // created blocked (a leaver, or blocked before creation).
              if (how == "created" && !blocked) {
                for (auto kind : pass.policy.on_create) {
                  CommandRow cmd;
                  cmd.kind = kind;
                  cmd.user_external_id = ext;
                  cmd.event = "on_create/" + id;
                  cmd.created_at_ms = now;
                  auto cid = txn.InsertCommand(cmd);
                  if (!cid.ok()) return cid.status();
                  if (*cid) {
                    if (auto s = txn.MarkDirty(CommandKey(**cid)); !s.ok()) return s;
                  }
                }
              }
              // Commands that waited for this user to exist can run now.
              auto waiting = txn.PendingCommands(ext);
              if (!waiting.ok()) return waiting.status();
              for (auto cid : *waiting) {
                if (auto s = txn.MarkDirty(CommandKey(cid)); !s.ok()) return s;
              }
              return Status::Ok();
            });
        if (!st.ok() && pass.mode == ExecMode::kSend) {
          InTxn([&](StateTxn& txn) {
            auto fresh = txn.GetEntity(EntityKind::kUser, ext);
            if (!fresh.ok()) return fresh.status();
            fresh->known["create_attempted"] = true;
            return txn.PutEntity(*fresh, clock_.NowUnixMillis());
          });
        }
        return st;
      }
      case StepKind::kPatchUser:
        return Mutate(
            pass, step, [&] { return api_.PatchUser(*user.auth0_id, step.request).status(); },
            [&](StateTxn& txn) {
              for (auto& [k, v] : step.request.items()) {
                if (k == "app_metadata" || k == "user_metadata") {
                  if (!Field(user.known, k.c_str()).is_object()) user.known[k] = Json::object();
                  for (auto& [mk, mv] : v.items()) {
                    if (mv.is_null()) {
                      user.known[k].erase(mk);
                    } else {
                      user.known[k][mk] = mv;
                    }
                  }
                } else {
                  user.known[k] = v;
                }
              }
              return PutKnown(txn, user, now);
            });
      case StepKind::kRevokeSessions: {
        const Json departure = Field(Field(user.desired, "left"), "ev");
        return Mutate(
            pass, step,
            [&]() -> Status {
              if (auto s = api_.RevokeSessions(*user.auth0_id); !s.ok()) return s;
              return api_.RevokeRefreshTokens(*user.auth0_id);
            },
            [&](StateTxn& txn) {
              user.known["sessions_revoked_for"] = departure.is_string() ? departure : Json("");
              user.known.erase("sessions_revoked");
              return PutKnown(txn, user, now);
            });
      }
      default:
        return Status::Invalid(std::string("not a user step: ") + StepKindName(step.kind));
    }
  };
  return Loop(pass, plan, execute);
}

// ---- Memberships -----------------------------------------------------------------------------

StepExecutor::RunResult StepExecutor::RunMembers(Pass& pass, const std::string& org_ext) {
  const bool remove_leavers = pass.policy.plan.remove_memberships_on_leave;
  MembersInput in;
  in.org_external_id = org_ext;
  in.member_batch_size = pass.policy.plan.member_batch_size;
  in.now_ms = pass.now_ms;
  std::map<std::string, std::string> ext_of;  // Auth0 user id -> external id
  Status read = InRead([&](StateTxn& txn) {
    auto o = txn.GetEntity(EntityKind::kOrganization, org_ext);
    if (!o.ok()) return o.status();
    in.org_auth0_id = o->auth0_id;
    in.org_deleted = !o->exists || Truthy(Field(View(o->desired), "deleted"));
    auto d = txn.DesiredMembers(org_ext);
    if (!d.ok()) return d.status();
    auto k = txn.KnownMembers(org_ext);
    if (!k.ok()) return k.status();
    for (auto& m : *k) in.known[m.user_external_id] = m.roles;
    for (auto& m : *d) {
      auto u = txn.GetEntity(EntityKind::kUser, m.user_external_id);
      if (!u.ok()) return u.status();
      if (!u->exists) continue;
      if (!u->auth0_id) {
        // Created later; its creation marks us again. One being created now (marked, no failed
        // attempt) holds new members back to fill whole batches (MembersInput::creating).
        if (!Truthy(Field(View(u->desired), "deleted"))) {
          auto attempts = txn.DirtyAttempts(UserKey(m.user_external_id));
          if (!attempts.ok()) return attempts.status();
          if (*attempts && **attempts == 0) ++in.creating;
        }
        continue;
      }
      const Json view = View(u->desired);
      if (Truthy(Field(view, "deleted"))) continue;
      in.auth0_ids[m.user_external_id] = *u->auth0_id;
      if (Truthy(Field(view, "left"))) {
        in.leavers[m.user_external_id] = EventsBehind(u->desired, {"left"}, nullptr,
                                                      &in.leavers_received_ms[m.user_external_id]);
        if (remove_leavers) continue;
      }
      in.desired[m.user_external_id] = m.roles;
    }
    for (auto& [u, roles] : in.known) {
      if (in.auth0_ids.count(u)) continue;
      auto row = txn.GetEntity(EntityKind::kUser, u);
      if (!row.ok()) return row.status();
      if (row->auth0_id) in.auth0_ids[u] = *row->auth0_id;
    }
    return Status::Ok();
  });
  if (!read.ok()) return {Outcome::kRetry, std::nullopt};
  for (auto& [u, id] : in.auth0_ids) ext_of[id] = u;
  const std::string key = MembersKey(org_ext);

  // Writes with an unknown outcome (interrupted, or failed retryably): known_memberships cannot
  // be trusted for those members, so the idempotent write that yields the desired state is sent
  // again (see MembersInput).
  {
    SqliteStore::MutationFilter f;
    f.entity = key;
    f.limit = 200;
    auto rows = store_.ListMutations(f);
    if (!rows.ok()) return {Outcome::kRetry, std::nullopt};
    std::set<std::string> settled, roles_settled;
    for (auto& m : *rows) {  // newest first: the latest write per member decides
      if (m.state == MutationState::kDead || m.state == MutationState::kDiscarded) continue;
      if (m.kind == "add_member_roles" || m.kind == "remove_member_roles") {
        const Json& uid = Field(m.request, "user_id");
        if (!uid.is_string() || !roles_settled.insert(uid.get<std::string>()).second) continue;
        auto e = ext_of.find(uid.get<std::string>());
        if (m.state == MutationState::kFailed && e != ext_of.end()) {
          in.uncertain_roles[e->second] = {m.kind == "add_member_roles", Field(m.request, "roles")};
        }
        continue;
      }
      if (m.kind != "add_members" && m.kind != "remove_members") continue;
      for (auto& id : Field(m.request, "members")) {
        if (!id.is_string() || !settled.insert(id.get<std::string>()).second) continue;
        auto e = ext_of.find(id.get<std::string>());
        if (m.state == MutationState::kFailed && e != ext_of.end()) in.uncertain.insert(e->second);
      }
    }
  }
  const std::string org_id = in.org_auth0_id.value_or("");  // PlanMembers waits without one

  // The organization or a member's user may be deleted by another worker meanwhile: Auth0's 404
  // is then a plan overtaken by events, not a permanent error: retry, and the re-plan sees it.
  auto gone = [&](Status s, const Json& user_ids) -> Status {
    if (s.kind() != StatusKind::kNotFound) return s;
    auto fresh = store_.ReadEntity(EntityKind::kOrganization, org_ext);
    bool deleted = fresh.ok() && (Truthy(Field(View(fresh->desired), "deleted")) ||
                                  fresh->auth0_id != in.org_auth0_id);
    for (auto& id : user_ids) {
      auto e = ext_of.find(id.get<std::string>());
      if (e == ext_of.end()) continue;
      auto fu = store_.ReadEntity(EntityKind::kUser, e->second);
      deleted = deleted || (fu.ok() && (Truthy(Field(View(fu->desired), "deleted")) ||
                                        fu->auth0_id != id.get<std::string>()));
    }
    return deleted ? Status::Retryable("deleted meanwhile; re-planned: " + s.message()) : s;
  };
  auto ids_of = [](const Json& members) {
    std::vector<std::string> out;
    for (auto& id : members) out.push_back(id.get<std::string>());
    return out;
  };

  auto execute = [&](const Step& step) -> Status {
    switch (step.kind) {
      case StepKind::kAddMembers:
      case StepKind::kRemoveMembers: {
        const bool adding = step.kind == StepKind::kAddMembers;
        const Json& members = step.request["members"];
        return Mutate(
            pass, step,
            [&] {
              auto ids = ids_of(members);
              return gone(adding ? api_.AddMembers(org_id, ids) : api_.RemoveMembers(org_id, ids),
                          members);
            },
            [&](StateTxn& txn) {
              for (auto& id : members) {
                const std::string& u = ext_of.at(id.get<std::string>());
                in.uncertain.erase(u);
                if (adding) {
                  in.known[u] = Json::array();  // re-adding drops nothing, but roles are re-sent
                } else {
                  in.known.erase(u);
                }
                if (auto s = txn.SetKnownMember(
                        org_ext, u, adding ? std::optional<Json>(Json::array()) : std::nullopt);
                    !s.ok())
                  return s;
              }
              return Status::Ok();
            });
      }
      case StepKind::kAddMemberRoles:
      case StepKind::kRemoveMemberRoles: {
        const bool adding = step.kind == StepKind::kAddMemberRoles;
        const std::string user_id = step.request["user_id"].get<std::string>();
        const std::string& u = ext_of.at(user_id);
        // Roles are resolved by name; one that does not exist fails alone (SPEC §5: the rest of
        // the entity still converges) and is reported by name.
        std::vector<std::string> ids;
        Json resolved = Json::array(), missing = Json::array();
        for (auto& r : step.request["roles"]) {
          auto id = api_.FindRoleId(r.get<std::string>());
          if (id.ok()) {
            ids.push_back(*id);
            resolved.push_back(r);
          } else if (id.status().kind() == StatusKind::kNotFound) {
            missing.push_back(r);
          } else {
            return id.status();
          }
        }
        auto apply = [&](StateTxn& txn, const Json& names) {
          std::set<std::string> now;
          for (auto& r : in.known[u]) now.insert(r.get<std::string>());
          for (auto& r : names) {
            if (adding) {
              now.insert(r.get<std::string>());
            } else {
              now.erase(r.get<std::string>());
            }
          }
          in.known[u] = Json(std::vector<std::string>(now.begin(), now.end()));
          in.uncertain_roles.erase(u);
          return txn.SetKnownMember(org_ext, u, in.known[u]);
        };
        if (!missing.empty() && !adding) {
          // A role tenantsync assigned that no longer exists is no longer assigned either.
          if (auto s = InTxn([&](StateTxn& txn) { return apply(txn, missing); }); !s.ok()) return s;
          if (resolved.empty()) return Status::Ok();
        }
        if (!missing.empty() && adding) {
          Step failed = step;
          failed.request["roles"] = missing;
          std::string names;
          for (auto& r : missing)
            names += (names.empty() ? "\"" : ", \"") + r.get<std::string>() + "\"";
          Status st = DeadLetter(
              pass, failed,
              "role " + names + " does not exist in Auth0 (tenantsync never creates roles)");
          if (!st.ok()) return Status::Retryable(st.message());
          pass.given_up.push_back(failed);
          pass.dead = true;
          if (resolved.empty()) return Status::Ok();
        }
        Step send = step;
        send.request["roles"] = resolved;
        return Mutate(
            pass, send,
            [&] {
              return gone(adding ? api_.AddMemberRoles(org_id, user_id, ids)
                                 : api_.RemoveMemberRoles(org_id, user_id, ids),
                          Json::array({user_id}));
            },
            [&](StateTxn& txn) { return apply(txn, resolved); });
      }
      default:
        return Status::Invalid(std::string("not a membership step: ") + StepKindName(step.kind));
    }
  };
  return Loop(
      pass, [&] { return PlanMembers(in); }, execute);
}

// ---- Application callbacks (a list Auth0 replaces whole) ---------------------------------------

StepExecutor::RunResult StepExecutor::RunCallbacks(Pass& pass) {
  CallbacksInput in;
  in.application_client_id = pass.policy.plan.application_client_id;
  Status read = InRead([&](StateTxn& txn) {
    auto orgs = txn.AllEntities(EntityKind::kOrganization);
    if (!orgs.ok()) return orgs.status();
    for (auto& o : *orgs) {
      const Json view = View(o.desired);
      if (Truthy(Field(view, "deleted"))) continue;
      for (auto& url : Field(view, "callback_urls")) {
        if (url.is_string()) in.desired.insert(url.get<std::string>());
      }
    }
    return Status::Ok();
  });
  if (!read.ok()) return {Outcome::kRetry, std::nullopt};
  if (auto managed = store_.GetSetting("callbacks_managed"); managed.ok() && managed->has_value()) {
    for (auto& u : Json::parse(**managed, nullptr, false)) {
      if (u.is_string()) in.managed.insert(u.get<std::string>());
    }
  }
  // One read, then one write carrying every pending addition and removal.
  auto app = api_.GetApplication(in.application_client_id);
  if (!app.ok()) return {Retryable(app.status()) ? Outcome::kRetry : Outcome::kDead, std::nullopt};
  in.current = app->callbacks;
  const Json desired(std::vector<std::string>(in.desired.begin(), in.desired.end()));
  auto save_managed = [&](StateTxn& txn) {
    return txn.PutSetting("callbacks_managed", desired.dump());
  };
  auto plan = [&] {
    Plan p = PlanCallbacks(in);
    if (p.steps.empty() && pass.mode != ExecMode::kPlan && in.managed != in.desired) {
      if (InTxn(save_managed).ok()) in.managed = in.desired;
    }
    return p;
  };
  return Loop(pass, plan, [&](const Step& step) {
    std::vector<std::string> next;
    for (auto& u : step.request["callbacks"]) next.push_back(u.get<std::string>());
    return Mutate(
        pass, step, [&] { return api_.PatchApplicationCallbacks(in.application_client_id, next); },
        [&](StateTxn& txn) {
          in.current = next;
          in.managed = in.desired;
          return save_managed(txn);
        });
  });
}

// ---- The application enabled on a connection ----------------------------------------------------

StepExecutor::RunResult StepExecutor::RunConnection(Pass& pass, const std::string& name) {
  const std::string setting = "connection_enabled:" + name;
  auto done = store_.GetSetting(setting);
  bool enabled = done.ok() && done->has_value();
  const std::string& app = pass.policy.plan.application_client_id;
  return Loop(
      pass, [&] { return PlanConnectionClient(name, enabled, app); },
      [&](const Step& step) {
        return Mutate(
            pass, step,
            [&]() -> Status {
              auto id = api_.FindConnectionId(name);
              if (!id.ok()) return MissingConnection(id.status(), name);
              // The delta endpoint: concurrent changes to other clients of the connection are not
              // lost.
              return api_.EnableConnectionClient(*id, app);
            },
            [&](StateTxn& txn) {
              enabled = true;
              return txn.PutSetting(setting, "true");
            });
      });
}

// ---- One-shot commands -------------------------------------------------------------------------

StepExecutor::RunResult StepExecutor::RunCommand(Pass& pass, int64_t id) {
  std::optional<CommandRow> cmd;
  EntityRow user;
  Status read = InRead([&](StateTxn& txn) {
    auto c = txn.GetCommand(id);
    if (!c.ok()) return c.status();
    cmd = *c;
    if (!cmd) return Status::Ok();
    auto u = txn.GetEntity(EntityKind::kUser, cmd->user_external_id);
    if (!u.ok()) return u.status();
    user = *u;
    return Status::Ok();
  });
  if (!read.ok()) return {Outcome::kRetry, std::nullopt};
  if (!cmd) return {};
  const bool writes = pass.mode == ExecMode::kSend || pass.mode == ExecMode::kDryRun;
  auto finish = [&](CommandState state, const std::string& error) {
    if (!writes) return;
    InTxn([&](StateTxn& txn) {
      return txn.UpdateCommand(id, state, error, cmd->attempts + 1, clock_.NowUnixMillis());
    });
  };
  using Action = CommandDecision::Action;
  CommandDecision d = PlanCommand(*cmd, user);
  switch (d.action) {
    case Action::kNothing:
      return {};
    case Action::kWait:
      if (pass.mode == ExecMode::kPlan && pass.planned) {
        pass.planned->push_back(PlannedStep{CommandKey(id),
                                            "wait",
                                            {{"reason", d.reason}},
                                            nullptr,
                                            Json::array({cmd->event}),
                                            false});
      }
      return {};  // the user's creation marks pending commands again
    case Action::kSkip:
      if (writes)
        spdlog::info("command id={} kind={} skipped: {}", id, CommandKindName(cmd->kind), d.reason);
      finish(CommandState::kSkipped, d.reason);
      return {};
    case Action::kDead:
      finish(CommandState::kDead, d.reason);
      return {Outcome::kDead, std::nullopt};
    case Action::kSend:
      break;
  }
  const Step step = *d.step;
  if (pass.mode == ExecMode::kPlan) {
    if (pass.planned) {
      pass.planned->push_back(PlannedStep{step.entity, StepKindName(step.kind), step.request,
                                          nullptr, step.events, false});
    }
    return {};
  }
  const std::string email = Field(View(user.desired), "email").is_string()
                                ? View(user.desired)["email"].get<std::string>()
                                : "";
  const bool reset = step.kind == StepKind::kSendPasswordResetEmail;
  // in_flight is committed before sending: after a crash between sending and recording, the
  // command goes back to pending and runs at most once more.
  if (pass.mode == ExecMode::kSend) {
    InTxn([&](StateTxn& txn) {
      return txn.UpdateCommand(id, CommandState::kInFlight, "", cmd->attempts,
                               clock_.NowUnixMillis());
    });
  }
  Status st = Mutate(
      pass, step,
      [&] {
        return reset ? api_.SendChangePasswordEmail(email)
                     : api_.SendVerificationEmail(*user.auth0_id);
      },
      [&](StateTxn& txn) {
        return txn.UpdateCommand(id, CommandState::kDone, "", cmd->attempts + 1,
                                 clock_.NowUnixMillis());
      });
  if (st.ok()) return {};
  if (Retryable(st)) {
    finish(CommandState::kPending, st.ToString());
    return {Outcome::kRetry, std::nullopt};
  }
  if (pass.mode == ExecMode::kSend) finish(CommandState::kDead, st.ToString());
  return {Outcome::kDead, std::nullopt};
}

// ---- Users import jobs -------------------------------------------------------------------------

std::string ImportsKey(const std::string& connection) { return "imports:" + connection; }

namespace {

constexpr int kImportJobsAtOnce = 2;          // Auth0 runs few import jobs per tenant at once
constexpr int64_t kRefusedWindowMs = 600000;  // after Auth0 refused or failed a job
// A user waiting for an import (in a running job or for the next file) is marked by the
// imports entity when its job ends or the import path is off; this revisit is only a backstop.
// Beyond a minute, so progress counts these users apart ("awaiting_import").
constexpr int64_t kAwaitBackstopMs = 900000;
constexpr int64_t kSettleMs = 1000;   // a growing burst is looked at again after this
constexpr size_t kAwaitChunk = 2000;  // marks deferred per transaction (short write locks)
const std::vector<std::string> kOpenImportStates = {"prepared", "sent"};

// Known state of a user created by an import, from the record sent (what a single create of the
// same request would have recorded).
Json KnownFromImportRecord(const Json& record) {
  Json k = Json::object();
  for (auto f : kUserProfileFields) {
    if (record.contains(f)) k[f] = record[f];
  }
  k["app_metadata"] =
      Field(record, "app_metadata").is_object() ? record["app_metadata"] : Json::object();
  k["user_metadata"] =
      Field(record, "user_metadata").is_object() ? record["user_metadata"] : Json::object();
  k["blocked"] = false;
  return k;
}

}  // namespace

int64_t StepExecutor::ImportPollDelayMs(int polls) {
  return std::min<int64_t>(30000, int64_t{500} << std::min(polls, 6));
}

std::optional<StepExecutor::RunResult> StepExecutor::DeferToImport(Pass& pass,
                                                                   const EntityRow& user,
                                                                   bool attempted) {
  if (pass.mode != ExecMode::kSend || options_.import_threshold <= 0 || user.auth0_id ||
      attempted || Truthy(Field(user.known, "import_duplicate"))) {
    return std::nullopt;
  }
  const int64_t now = clock_.NowUnixMillis();
  if (!ImportRecord(user, pass.policy.plan, now)) return std::nullopt;
  // Auth0 refused this user's record; its dead letter says why. A new event changes the desired
  // state and lets it try again (one by one).
  const Json& failed = Field(user.known, "import_failed");
  if (failed.is_object()) {
    if (Field(failed, "desired") == View(user.desired)) return RunResult{Outcome::kDead, {}};
    return std::nullopt;
  }
  std::optional<int64_t> open;
  if (!InTxn([&](StateTxn& txn) {
         auto o = txn.OpenImportOf(user.external_id);
         if (!o.ok()) return o.status();
         open = *o;
         return Status::Ok();
       }).ok()) {
    return RunResult{Outcome::kRetry, {}};
  }
  if (open)
    return RunResult{Outcome::kDone, now + kAwaitBackstopMs, true};  // its job's end marks it
  const std::string& conn = pass.policy.plan.connection;
  // Every pending create is a marked entity: with fewer marks than the threshold no import can
  // be due, and the user is created at once (a lone hire never waits for the import path).
  // Counted only up to the threshold: every deferred user asks, and a backfill's queue is long.
  if (auto marked = store_.CountDirtyUpTo(options_.import_threshold);
      marked.ok() && *marked < options_.import_threshold) {
    return std::nullopt;
  }
  bool mark = false;
  {
    std::lock_guard<std::mutex> lock(import_mu_);
    if (now < single_until_ms_[conn] || single_users_[conn].count(user.external_id)) {
      return std::nullopt;
    }
    int64_t& marked = import_marked_ms_[conn];
    if (now - marked >= 1000) {
      marked = now;
      mark = true;
    }
  }
  if (mark && !InTxn([&](StateTxn& txn) {
                 return txn.MarkDirty(ImportsKey(conn), 0, false, kBulkCreatePriority);
               }).ok()) {
    return RunResult{Outcome::kRetry, {}};
  }
  return RunResult{Outcome::kDone, now + kAwaitBackstopMs, true};
}

void StepExecutor::GoSingle(const std::string& conn, int64_t for_ms) {
  {
    std::lock_guard<std::mutex> lock(import_mu_);
    single_until_ms_[conn] = std::max(single_until_ms_[conn], clock_.NowUnixMillis() + for_ms);
  }
  // Users of other connections are woken too: they look once and wait again (one step each).
  int64_t woken = 0;
  Status st = InTxn([&](StateTxn& txn) {
    auto n = txn.WakeAwaitingImport(clock_.NowUnixMillis());
    if (!n.ok()) return n.status();
    woken = *n;
    return Status::Ok();
  });
  if (!st.ok()) {
    spdlog::warn("users imports of {}: waiting users not released: {} (they look again later)",
                 conn, st.message());
  } else if (woken > 0) {
    spdlog::info("users imports of {} off for {} s: {} waiting user(s) are created one by one",
                 conn, for_ms / 1000, woken);
  }
}

StepExecutor::RunResult StepExecutor::RunImports(Pass& pass, const std::string& conn) {
  if (pass.mode != ExecMode::kSend || options_.import_threshold <= 0) return {};
  RunResult r = ImportTurn(pass, conn);
  // The imports entity is given up: nobody would mark the users waiting for it.
  if (r.outcome == Outcome::kDead) GoSingle(conn, kRefusedWindowMs);
  return r;
}

StepExecutor::RunResult StepExecutor::ImportTurn(Pass& pass, const std::string& conn) {
  const int64_t start = clock_.NowUnixMillis();
  auto go_single = [&](int64_t for_ms) { GoSingle(conn, for_ms); };
  auto retry = [](const Status& s) {
    return RunResult{Retryable(s) ? Outcome::kRetry : Outcome::kDead, std::nullopt};
  };

  // A user the job created (or an earlier attempt did): the effect of a single create — its id,
  // its known state, the registry, its memberships and on_create invitations.
  auto created = [&](StateTxn& txn, const std::string& ext, const std::string& id,
                     const Json& known) -> Status {
    const int64_t now = clock_.NowUnixMillis();
    auto u = txn.GetEntity(EntityKind::kUser, ext);
    if (!u.ok()) return u.status();
    if (!u->exists || u->auth0_id) return Status::Ok();
    u->auth0_id = id;
    u->known = known;
    if (auto s = txn.PutEntity(*u, now); !s.ok()) return s;
    if (auto s = txn.AddRegistry(EntityKind::kUser, id, ext, "created", now); !s.ok()) return s;
    auto orgs = txn.UserMemberships(ext);
    if (!orgs.ok()) return orgs.status();
    for (auto& m : *orgs) {
      if (auto s = txn.MarkDirty(MembersKey(m.org_external_id)); !s.ok()) return s;
    }
    for (auto kind : pass.policy.on_create) {
      CommandRow cmd;
      cmd.kind = kind;
      cmd.user_external_id = ext;
      cmd.event = "on_create/" + id;
      cmd.created_at_ms = now;
      auto cid = txn.InsertCommand(cmd);
      if (!cid.ok()) return cid.status();
      if (*cid) {
        if (auto s = txn.MarkDirty(CommandKey(**cid)); !s.ok()) return s;
      }
    }
    auto waiting = txn.PendingCommands(ext);
    if (!waiting.ok()) return waiting.status();
    for (auto cid : *waiting) {
      if (auto s = txn.MarkDirty(CommandKey(cid)); !s.ok()) return s;
    }
    // Planned again: anything that changed since the file was written is patched.
    return txn.MarkDirty(UserKey(ext));
  };
  auto mark_users = [&](StateTxn& txn, const std::vector<StateTxn::ImportJobRow::User>& users) {
    for (auto& u : users) {
      if (auto s = txn.MarkDirty(UserKey(u.external_id)); !s.ok()) return s;
    }
    return Status::Ok();
  };
  // Looks the row's users up by their deterministic ids: those found were created by the job.
  auto adopt_found = [&](StateTxn::ImportJobRow& row) -> Status {
    for (auto& u : row.users) {
      auto found = api_.GetUser("auth0|" + u.import_user_id);
      if (found.status().kind() == StatusKind::kNotFound) continue;
      if (!found.ok()) return found.status();
      Status st = InTxn([&](StateTxn& txn) {
        return created(txn, u.external_id, found->user_id, KnownFromAuth0(*found));
      });
      if (!st.ok()) return st;
    }
    return Status::Ok();
  };
  auto close = [&](StateTxn::ImportJobRow& row, const std::string& state,
                   const std::string& error) {
    row.state = state;
    row.error = error;
    return InTxn([&](StateTxn& txn) {
      if (auto s = txn.UpdateImportJob(row, clock_.NowUnixMillis()); !s.ok()) return s;
      return mark_users(txn, row.users);
    });
  };

  // 1. Open jobs first.
  std::vector<StateTxn::ImportJobRow> open;
  if (Status st = InTxn([&](StateTxn& txn) {
        auto rows = txn.ImportJobs(conn, kOpenImportStates, true);
        if (!rows.ok()) return rows.status();
        open = std::move(rows).value();
        return Status::Ok();
      });
      !st.ok()) {
    return {Outcome::kRetry, std::nullopt};
  }
  std::optional<int64_t> next_poll;
  for (auto& row : open) {
    if (row.state == "prepared" || !row.job_id) {
      // The POST may or may not have reached Auth0 (the process stopped, or its answer was
      // lost): never send the file again blindly; whoever exists under its id was created.
      if (Status st = adopt_found(row); !st.ok()) return retry(st);
      if (Status st = close(row, "abandoned", "recovered: the job's outcome was not recorded");
          !st.ok())
        return {Outcome::kRetry, std::nullopt};
      spdlog::warn("users import {}: outcome unknown after a restart; {} user(s) looked up by id",
                   row.id, row.users.size());
      continue;
    }
    auto job = api_.GetJob(*row.job_id);
    if (job.status().kind() == StatusKind::kNotFound) {
      if (Status st = adopt_found(row); !st.ok()) return retry(st);
      if (!close(row, "abandoned", "job " + *row.job_id + " no longer exists in Auth0").ok())
        return {Outcome::kRetry, std::nullopt};
      continue;
    }
    if (!job.ok()) return retry(job.status());
    if (job->status == Auth0JobStatus::kPending || job->status == Auth0JobStatus::kProcessing) {
      ++row.polls;
      InTxn([&](StateTxn& txn) { return txn.UpdateImportJob(row, clock_.NowUnixMillis()); });
      const int64_t at = clock_.NowUnixMillis() + ImportPollDelayMs(row.polls);
      next_poll = next_poll ? std::min(*next_poll, at) : at;
      continue;
    }
    row.summary = {{"total", job->total},
                   {"inserted", job->inserted},
                   {"updated", job->updated},
                   {"failed", job->failed}};
    if (job->status != Auth0JobStatus::kCompleted) {
      // A failed (or expired) job imported nothing: its users are created one by one.
      go_single(kRefusedWindowMs);
      if (Status st = adopt_found(row); !st.ok()) return retry(st);
      if (!close(row, "failed",
                 "Auth0 reported the users import job " + *row.job_id +
                     (job->status == Auth0JobStatus::kFailed ? " failed" : " expired"))
               .ok())
        return {Outcome::kRetry, std::nullopt};
      spdlog::warn("users import {} (job {}): not completed; its users are created one by one",
                   row.id, *row.job_id);
      continue;
    }
    auto errors = api_.GetJobErrors(*row.job_id);
    if (!errors.ok()) return retry(errors.status());
    std::map<std::string, const Auth0ImportError*> error_of;  // import user_id (or email) -> error
    for (auto& e : *errors) {
      const Json& uid = Field(e.user, "user_id");
      const Json& email = Field(e.user, "email");
      if (uid.is_string()) error_of[uid.get<std::string>()] = &e;
      if (email.is_string()) error_of["email:" + email.get<std::string>()] = &e;
    }
    int made = 0, dead = 0, duplicates = 0;
    // Users the job created are recorded in a few transactions after the loop, not one each: a
    // job holds up to thousands of users and each transaction is a commit (an fsync).
    struct Made {
      const std::string* external_id;
      std::string id;
      Json known;
    };
    std::vector<Made> made_users;
    for (auto& u : row.users) {
      const Auth0ImportError* err = nullptr;
      if (auto it = error_of.find(u.import_user_id); it != error_of.end()) err = it->second;
      const Json& email = Field(u.record, "email");
      if (err == nullptr && email.is_string()) {
        if (auto it = error_of.find("email:" + email.get<std::string>()); it != error_of.end())
          err = it->second;
      }
      Status st;
      if (err == nullptr) {
        made_users.push_back(
            {&u.external_id, "auth0|" + u.import_user_id, KnownFromImportRecord(u.record)});
        ++made;
      } else if (err->code == "DUPLICATED_USER") {
        // Ours from an earlier file (same id), or someone else's user with this email: the
        // one-by-one path matches it by email under adopt_existing, never duplicates it.
        auto mine = api_.GetUser("auth0|" + u.import_user_id);
        if (mine.ok()) {
          st = InTxn([&](StateTxn& txn) {
            return created(txn, u.external_id, mine->user_id, KnownFromAuth0(*mine));
          });
          ++made;
        } else if (mine.status().kind() == StatusKind::kNotFound) {
          st = InTxn([&](StateTxn& txn) {
            auto e = txn.GetEntity(EntityKind::kUser, u.external_id);
            if (!e.ok()) return e.status();
            if (!e->exists) return Status::Ok();
            e->known["import_duplicate"] = true;
            if (auto s = txn.PutEntity(*e, clock_.NowUnixMillis()); !s.ok()) return s;
            return txn.MarkDirty(UserKey(u.external_id));
          });
          ++duplicates;
        } else {
          return retry(mine.status());
        }
      } else {
        Step step;
        step.kind = StepKind::kCreateUser;
        step.entity = UserKey(u.external_id);
        step.request = u.record;
        step.request["import_job"] = *row.job_id;
        const std::string message =
            "users import job " + *row.job_id + ": " + err->code + ": " + err->message;
        st = DeadLetter(pass, step, message);
        if (st.ok()) {
          st = InTxn([&](StateTxn& txn) {
            auto e = txn.GetEntity(EntityKind::kUser, u.external_id);
            if (!e.ok()) return e.status();
            if (!e->exists) return Status::Ok();
            e->known["import_failed"] = {{"message", message}, {"desired", View(e->desired)}};
            return txn.PutEntity(*e, clock_.NowUnixMillis());
          });
        }
        ++dead;
      }
      if (!st.ok()) return {Outcome::kRetry, std::nullopt};
    }
    constexpr size_t kMadeChunk = 500;
    for (size_t i = 0; i < made_users.size(); i += kMadeChunk) {
      // Idempotent per user: a crash between chunks re-reads the job and skips those recorded.
      Status st = InTxn([&](StateTxn& txn) {
        for (size_t j = i; j < std::min(made_users.size(), i + kMadeChunk); ++j) {
          const Made& m = made_users[j];
          if (auto s = created(txn, *m.external_id, m.id, m.known); !s.ok()) return s;
        }
        return Status::Ok();
      });
      if (!st.ok()) return {Outcome::kRetry, std::nullopt};
    }
    if (!close(row, "completed", "").ok()) return {Outcome::kRetry, std::nullopt};
    last_success_ms_ = clock_.NowUnixMillis();
    spdlog::info(
        "users import {} (job {}): {} created, {} failed (dead-lettered), {} already existed",
        row.id, *row.job_id, made, dead, duplicates);
  }
  int running = 0;
  std::set<std::string> in_jobs;  // users of jobs still running: not in a second file
  for (auto& row : open) {
    if (row.state != "sent") continue;
    ++running;
    for (auto& u : row.users) in_jobs.insert(u.external_id);
  }
  if (running >= kImportJobsAtOnce) return {Outcome::kDone, next_poll};

  // 2. New files from the users pending creation now, unless Auth0 just refused or failed a job
  // (its users are being created one by one meanwhile).
  {
    std::lock_guard<std::mutex> lock(import_mu_);
    if (clock_.NowUnixMillis() < single_until_ms_[conn]) return {Outcome::kDone, next_poll};
  }
  // The connection's id before the walk below: no file can be sent without it, and the walk reads
  // and parses every user pending creation (all of them on day one). While Auth0 does not answer,
  // this turn is retried with backoff, and each retry walked them all for nothing.
  auto conn_id = api_.FindConnectionId(conn);
  // Refused: kDead, and RunImports turns the import path off.
  if (!conn_id.ok()) return retry(conn_id.status());
  ImportPolicy ip;
  ip.threshold = options_.import_threshold;
  // Only the files that can start now are built (plus one, so "more than one file" reads as it
  // would from every candidate). The users come sorted by external id and PlanImports fills files
  // in that order, so these are the first files of the whole plan; the rest are counted, not
  // kept: a backfill of 100,000 people never has all its records in memory at once.
  const size_t keep_bytes =
      static_cast<size_t>(kImportJobsAtOnce - running + 1) * ip.max_file_bytes;
  std::vector<std::pair<std::string, Json>> candidates;
  // Every user this entity will create (in a file now or a later one), and those in running
  // jobs: their marks wait for it instead of being looked at one by one.
  std::vector<std::string> owned;
  size_t seen = 0, kept_bytes = 0;
  int64_t read = 0;
  std::set<std::string> single_before;
  {
    std::lock_guard<std::mutex> lock(import_mu_);
    single_before = single_users_[conn];
  }
  // A read snapshot: at 100,000 users the walk takes a while, and ingress must not wait for it.
  if (Status st =
          [&] {
            auto txn = store_.BeginRead();
            if (!txn.ok()) return txn.status();
            return (*txn)->ForEachUncreated(EntityKind::kUser, [&](EntityRow&& u) {
              ++read;
              if (in_jobs.count(u.external_id)) {
                owned.push_back(u.external_id);
                return Status::Ok();
              }
              if (Truthy(Field(u.known, "create_attempted")) ||
                  Truthy(Field(u.known, "import_duplicate")) ||
                  Field(u.known, "import_failed").is_object()) {
                return Status::Ok();
              }
              if (auto record = ImportRecord(u, pass.policy.plan, start)) {
                ++seen;
                if (!single_before.count(u.external_id)) owned.push_back(u.external_id);
                // Below the threshold every candidate is kept: they may all go one by one.
                if (kept_bytes <= keep_bytes ||
                    candidates.size() < static_cast<size_t>(ip.threshold)) {
                  kept_bytes += record->dump().size() + 1;
                  candidates.emplace_back(u.external_id, std::move(*record));
                }
              }
              return Status::Ok();
            });
          }();
      !st.ok()) {
    return {Outcome::kRetry, std::nullopt};
  }
  if (observer_.on_import_planned) observer_.on_import_planned(read);
  ImportPlan plan = PlanImports(std::move(candidates), ip, seen);
  // Users the plan sends one by one (too few for a job, or a record too large for any file):
  // remembered so DeferToImport lets them through, and marked so they go now.
  auto go_one_by_one = [&](bool replace) {
    {
      std::lock_guard<std::mutex> lock(import_mu_);
      std::set<std::string>& single = single_users_[conn];
      if (replace) single.clear();
      single.insert(plan.single.begin(), plan.single.end());
    }
    InTxn([&](StateTxn& txn) {
      for (auto& ext : plan.single) {
        if (auto s = txn.MarkDirty(UserKey(ext)); !s.ok()) return s;
      }
      return Status::Ok();
    });
  };
  if (!plan.files.empty()) {
    // The import path is on: the users wait for their files (the hires still to be looked at
    // are spared one step each), except those too large for any file, which go one by one.
    std::set<std::string> single(plan.single.begin(), plan.single.end());
    const int64_t backstop = clock_.NowUnixMillis() + kAwaitBackstopMs;
    for (size_t i = 0; i < owned.size(); i += kAwaitChunk) {
      std::vector<std::string> chunk;
      for (size_t j = i; j < std::min(owned.size(), i + kAwaitChunk); ++j) {
        if (!single.count(owned[j])) chunk.push_back(UserKey(owned[j]));
      }
      if (!InTxn([&](StateTxn& txn) { return txn.AwaitImport(chunk, backstop); }).ok())
        return {Outcome::kRetry, std::nullopt};
    }
    if (!plan.single.empty()) go_one_by_one(/*replace=*/false);
  }
  owned = {};
  // A burst still arriving (more candidates than at the last look, and no full file yet) is
  // given a second to land whole: fewer, fuller files, and a trickle is not mistaken for a few.
  bool growing = false;
  {
    std::lock_guard<std::mutex> lock(import_mu_);
    size_t& last = import_seen_[conn];
    growing = seen > last && plan.files.size() <= 1;
    last = growing ? seen : 0;
  }
  if (growing && seen > 0) {
    const int64_t again = clock_.NowUnixMillis() + kSettleMs;
    return {Outcome::kDone, next_poll ? std::min(*next_poll, again) : again};
  }
  if (plan.files.empty()) {
    go_one_by_one(/*replace=*/true);  // too few for a job
    return {Outcome::kDone, next_poll};
  }
  int sent = 0;
  for (auto& file : plan.files) {
    if (running + sent >= kImportJobsAtOnce) break;
    StateTxn::ImportJobRow row;
    row.connection = conn;
    row.state = "prepared";
    row.created_at_ms = clock_.NowUnixMillis();
    for (size_t i = 0; i < file.users.size(); ++i) {
      row.users.push_back({file.users[i], ImportUserId(file.users[i]), file.records[i]});
    }
    // Persisted before the POST: a crash from here on is recovered by id (step 1).
    if (Status st = InTxn([&](StateTxn& txn) {
          auto id = txn.InsertImportJob(row);
          if (!id.ok()) return id.status();
          row.id = *id;
          return Status::Ok();
        });
        !st.ok()) {
      return {Outcome::kRetry, std::nullopt};
    }
    UsersImportOptions options;
    options.upsert = false;  // existing users are matched by the one-by-one path, never updated
    options.external_id = "tenantsync-import-" + std::to_string(row.id);
    auto job = api_.CreateUsersImportJob(*conn_id, file.json, options);
    if (!job.ok()) {
      const StatusKind kind = job.status().kind();
      if (kind == StatusKind::kRetryable) {
        // Unknown outcome: the row stays "prepared" and is recovered by id next time.
        spdlog::warn("users import {}: {}", row.id, job.status().message());
        return {Outcome::kRetry, std::nullopt};
      }
      // Refused (429 beyond the waits, or a 4xx): nothing was started.
      if (kind != StatusKind::kRateLimited) go_single(kRefusedWindowMs);
      spdlog::warn("users import {}: not started: {}", row.id, job.status().message());
      if (!close(row, "abandoned", job.status().ToString()).ok())
        return {Outcome::kRetry, std::nullopt};
      if (kind == StatusKind::kRateLimited) return {Outcome::kRetry, std::nullopt};
      break;
    }
    row.state = "sent";
    row.job_id = job->id;
    if (!InTxn([&](StateTxn& txn) {
           return txn.UpdateImportJob(row, clock_.NowUnixMillis());
         }).ok()) {
      return {Outcome::kRetry, std::nullopt};
    }
    spdlog::info("users import {}: job {} started with {} user(s) ({} bytes)", row.id, job->id,
                 file.users.size(), file.json.size());
    ++sent;
  }
  if (sent == 0) return {Outcome::kDone, next_poll};
  const int64_t poll = clock_.NowUnixMillis() + ImportPollDelayMs(0);
  return {Outcome::kDone, next_poll ? std::min(*next_poll, poll) : poll};
}

}  // namespace tenantsync
