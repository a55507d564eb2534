#include "daemon/drift.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <vector>

#include "adapters/auth0/auth0_client.h"
#include "daemon/desired_state.h"
#include "storage/sqlite_store.h"

namespace tenantsync {

using Json = nlohmann::json;

namespace {

constexpr const char* kUserFields[] = {"email",       "name",     "given_name",
                                       "family_name", "nickname", "picture"};
constexpr const char* kOrgFields[] = {"display_name", "branding"};

const Json& Field(const Json& obj, const std::string& key) {
  static const Json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

bool Truthy(const Json& v) { return v.is_boolean() && v.get<bool>(); }

struct UserComparison {
  Json differences = Json::array();  // [field, auth0, expected]
  Json fixed;                        // `known` with Auth0's values where they differ
};

// Compares the fields tenantsync owns in `known` (what it last wrote) with an Auth0 user record.
// `fixed` is only built with `want_fixed` (the common no-difference case copies nothing).
UserComparison CompareUser(const Json& known, const Json& have, bool want_fixed) {
  UserComparison out;
  if (want_fixed) out.fixed = known;
  // Records a difference and, when wanted, Auth0's value at `path` in `fixed`.
  auto differ = [&](const std::string& field, const Json& a, const Json& expected,
                    const char* md = nullptr, const std::string& key = "") {
    out.differences.push_back(Json::array({field, a, expected}));
    if (!want_fixed) return;
    Json& parent = md != nullptr ? out.fixed[md] : out.fixed;
    const std::string& k = md != nullptr ? key : field;
    if (a.is_null())
      parent.erase(k);
    else
      parent[k] = a;
  };
  for (auto f : kUserFields) {
    if (!known.contains(f)) continue;
    const Json& a = Field(have, f);
    if (a != known[f]) differ(f, a, known[f]);
  }
  if (known.contains("blocked")) {
    Json a = Truthy(Field(have, "blocked"));
    if (a != known["blocked"]) differ("blocked", a, known["blocked"]);
  }
  for (auto md : {"app_metadata", "user_metadata"}) {
    const Json& known_md = Field(known, md);
    if (!known_md.is_object()) continue;
    const Json& have_md = Field(have, md);
    for (auto& [k, v] : known_md.items()) {
      const Json& a = Field(have_md, k);
      if (a != v) differ(std::string(md) + "." + k, a, v, md, k);
    }
  }
  return out;
}

// The fields of a typed Auth0 answer that the comparisons read, as a record like those the lists,
// searches and exports return (so one comparison serves both).
Json UserRecord(const Auth0User& u) {
  Json r = u.profile;
  r["user_id"] = u.user_id;
  r["blocked"] = u.blocked;
  r["app_metadata"] = u.app_metadata;
  r["user_metadata"] = u.user_metadata;
  return r;
}

Json OrganizationRecord(const Auth0Organization& o) {
  Json r = {{"id", o.id}, {"name", o.name}, {"metadata", o.metadata}};
  if (!o.display_name.is_null()) r["display_name"] = o.display_name;
  if (!o.branding.is_null()) r["branding"] = o.branding;
  return r;
}

// What the comparison read, per entity, to correct from.
struct OrgSnap {
  EntityRow row;
  std::vector<MembershipRow> members;
};

}  // namespace

Drift::Drift(SqliteStore& store, Auth0Client& client, Clock& clock, DriftOptions options,
             std::function<void(const Json&, bool)> on_report)
    : store_(store),
      client_(client),
      clock_(clock),
      options_(std::move(options)),
      on_report_(std::move(on_report)) {}

Json Drift::Last() {
  auto s = store_.GetSetting("drift_last");
  if (!s.ok() || !s->has_value()) return nullptr;
  Json j = Json::parse(**s, nullptr, false);
  return j.is_discarded() ? Json(nullptr) : j;
}

Result<Json> Drift::Run(bool correct) {
  std::lock_guard<std::mutex> run_lock(run_mu_);
  try {
    auto report = RunLocked(correct);
    // The pass built and freed a snapshot of every managed object: hand the pages back to the
    // system instead of keeping the peak resident until the next pass.
    malloc_trim(0);
    return report;
  } catch (const std::exception& e) {
    // Auth0's records are checked where they are read (the client's typed results and list
    // checks, Field() here); should a record of an unexpected shape still raise a
    // nlohmann::json error, the pass fails as a value and nothing was corrected.
    return Status::Invalid(std::string("drift: unexpected data from Auth0 or storage: ") +
                           e.what());
  }
}

Result<Json> Drift::RunLocked(bool correct) {
  const int64_t started = clock_.NowUnixMillis();
  // Every read below yields to the writer in the shared rate limiter.
  Auth0Client::BackgroundScope background;

  // ---- Snapshot of what tenantsync believes Auth0 holds (one read snapshot) -------------------
  // On a reader connection: at 100,000 users it takes about a second, which the writer and
  // status must not wait for.
  std::vector<OrgSnap> orgs;
  // Users as stored: the known state stays JSON text until a record is compared (parsed, it
  // took ~3 KB a user: 340 MB for the drift pass at 100,000 users, docs/BENCHMARKS.md).
  using UserSnap = StateTxn::ManagedRow;
  auto known_of = [](const UserSnap& u) {
    Json k = Json::parse(u.known_json, nullptr, false);
    return k.is_object() ? k : Json::object();
  };
  std::vector<UserSnap> users;
  std::vector<std::string> managed_callbacks;
  {
    auto txn = store_.BeginRead();
    if (!txn.ok()) return txn.status();
    auto o = (*txn)->ManagedEntities(EntityKind::kOrganization);
    if (!o.ok()) return o.status();
    for (auto& row : *o) {
      if (Truthy(Field(row.known, "deleted"))) continue;
      auto m = (*txn)->KnownMembers(row.external_id);
      if (!m.ok()) return m.status();
      orgs.push_back({std::move(row), std::move(m).value()});
    }
    Status st = (*txn)->ForEachManaged(EntityKind::kUser, [&](UserSnap&& row) {
      if (!Truthy(Field(known_of(row), "deleted"))) users.push_back(std::move(row));
      return Status::Ok();
    });
    if (!st.ok()) return st;
    users.shrink_to_fit();
    auto cb = (*txn)->GetSetting("callbacks_managed");
    if (!cb.ok()) return cb.status();
    if (cb->has_value()) {
      Json list = Json::parse(**cb, nullptr, false);
      if (list.is_array()) {
        for (auto& url : list) {
          if (url.is_string()) managed_callbacks.push_back(url.get<std::string>());
        }
      }
    }
    // Read-only: destroyed without Commit (rolls back, nothing written).
  }

  Json differences = Json::array();
  Json notes = Json::array();
  int64_t confirm_reads = 0;
  int64_t members_too_recent = 0;
  std::map<std::string, bool> recent_adds;  // members entity -> added to within the lag
  auto recently_added = [&](const std::string& members_key) {
    auto it = recent_adds.find(members_key);
    if (it != recent_adds.end()) return it->second;
    bool recent = false;
    SqliteStore::MutationFilter f;
    f.entity = members_key;
    f.limit = 50;
    if (auto rows = store_.ListMutations(f); rows.ok()) {
      for (auto& row : *rows) {  // newest first
        if (row.kind != "add_members") continue;
        recent = started - row.updated_at_ms < options_.member_list_lag.count();
        break;
      }
    }
    return recent_adds[members_key] = recent;
  };
  std::string users_read_by = "none";
  auto diff = [&](const std::string& entity, const std::string& field, const Json& auth0,
                  const Json& expected) {
    differences.push_back(
        {{"entity", entity}, {"field", field}, {"auth0", auth0}, {"expected", expected}});
  };

  // Corrections, applied in one transaction at the end (correct mode only).
  std::map<std::string, Json> org_known;      // external id -> corrected known
  std::set<std::string> org_gone, user_gone;  // managed id missing in Auth0
  std::map<std::string, Json> user_known;     // external id -> corrected known
  // org external id -> (user external id -> roles to keep, null = drop the membership)
  std::map<std::string, std::map<std::string, Json>> member_fix;
  std::vector<std::string> callbacks_missing;

  // ---- Organizations ---------------------------------------------------------------------------
  if (!orgs.empty()) {
    auto listed = client_.ListOrganizations();
    if (!listed.ok()) return listed.status();
    std::map<std::string, const Json*> by_id;
    for (auto& o : *listed) {
      if (o.contains("id") && o["id"].is_string()) by_id[o["id"].get<std::string>()] = &o;
    }
    for (auto& snap : orgs) {
      const EntityRow& org = snap.row;
      const std::string key = OrgKey(org.external_id);
      auto it = by_id.find(*org.auth0_id);
      Json fetched;
      if (it == by_id.end()) {
        // Absent from the list: only a 404 from the object itself says it is gone.
        auto got = client_.GetOrganization(*org.auth0_id);
        if (!got.ok()) {
          if (got.status().kind() != StatusKind::kNotFound) return got.status();
          diff(key, "exists", false, true);
          org_gone.insert(org.external_id);
          continue;
        }
        fetched = OrganizationRecord(*got);
      }
      const Json& have = it == by_id.end() ? fetched : *it->second;
      Json fixed = org.known;
      bool changed = false;
      for (auto f : kOrgFields) {
        if (!org.known.contains(f)) continue;
        const Json& a = Field(have, f);
        if (a != org.known[f]) {
          diff(key, f, a, org.known[f]);
          if (a.is_null())
            fixed.erase(f);
          else
            fixed[f] = a;
          changed = true;
        }
      }
      {
        const Json expected =
            org.known.contains("metadata") ? org.known["metadata"] : Json::object();
        const Json a = have.contains("metadata") && have["metadata"].is_object() ? have["metadata"]
                                                                                 : Json::object();
        if (a != expected) {
          diff(key, "metadata", a, expected);
          fixed["metadata"] = a;
          changed = true;
        }
      }
      // Enabled connections tenantsync enabled.
      const Json& known_conns = Field(org.known, "connections");
      if (known_conns.is_object() && !known_conns.empty()) {
        auto conns = client_.ListOrganizationConnections(*org.auth0_id);
        if (!conns.ok()) return conns.status();
        std::map<std::string, Json> have_conns;
        for (auto& c : *conns) {
          const Json& name = Field(Field(c, "connection"), "name");
          if (!name.is_string()) continue;
          have_conns[name.get<std::string>()] = {
              {"assign_membership_on_login", Truthy(Field(c, "assign_membership_on_login"))},
              {"show_as_button",
               c.contains("show_as_button") ? Truthy(c["show_as_button"]) : true}};
        }
        for (auto& [name, flags] : known_conns.items()) {
          auto h = have_conns.find(name);
          Json a = h == have_conns.end() ? Json(nullptr) : h->second;
          if (a != flags) {
            diff(key, "connections." + name, a, flags);
            if (a.is_null())
              fixed["connections"].erase(name);
            else
              fixed["connections"][name] = a;
            changed = true;
          }
        }
      }
      if (changed) org_known[org.external_id] = fixed;

      // Members and the roles tenantsync assigned.
      if (snap.members.empty()) continue;
      auto members = client_.ListMembersWithRoles(*org.auth0_id);
      if (!members.ok()) return members.status();
      std::map<std::string, std::set<std::string>> member_roles;  // Auth0 user id -> role names
      for (auto& m : *members) {
        if (!m.contains("user_id") || !m["user_id"].is_string()) continue;
        auto& roles = member_roles[m["user_id"].get<std::string>()];
        for (auto& r : Field(m, "roles")) {
          if (r.contains("name") && r["name"].is_string())
            roles.insert(r["name"].get<std::string>());
        }
      }
      const std::string mkey = MembersKey(org.external_id);
      for (auto& m : snap.members) {
        // `users` is in external id order (the snapshot's ORDER BY, byte order like std::string).
        auto ua = std::lower_bound(
            users.begin(), users.end(), m.user_external_id,
            [](const UserSnap& u, const std::string& ext) { return u.external_id < ext; });
        if (ua == users.end() || ua->external_id != m.user_external_id)
          continue;  // the user is not managed (any more): not compared
        auto have_member = member_roles.find(ua->auth0_id);
        if (have_member == member_roles.end()) {
          // Member lists lag behind writes and there is no consistent read of a membership:
          // members of an organization tenantsync added to moments ago are judged next pass.
          if (recently_added(mkey)) {
            ++members_too_recent;
            continue;
          }
          diff(mkey, "member:" + m.user_external_id, false, true);
          member_fix[org.external_id][m.user_external_id] = nullptr;
          continue;
        }
        if (!m.roles.is_array() || m.roles.empty()) continue;
        std::vector<std::string> keep, missing;
        for (auto& r : m.roles) {
          if (!r.is_string()) continue;
          (have_member->second.count(r.get<std::string>()) ? keep : missing)
              .push_back(r.get<std::string>());
        }
        if (!missing.empty()) {
          diff(mkey, "roles:" + m.user_external_id, Json(keep), m.roles);
          member_fix[org.external_id][m.user_external_id] = Json(keep);
        }
      }
    }
  }

  if (members_too_recent > 0) {
    notes.push_back(std::to_string(members_too_recent) +
                    " member(s) missing from the member lists of organizations tenantsync added "
                    "members to less than " +
                    std::to_string(options_.member_list_lag.count() / 1000) +
                    " s ago: not judged (the lists lag); the next pass compares them");
  }

  // The members of organizations without a fix are not needed again: freed before the users'
  // pass, which holds the most memory.
  for (auto& snap : orgs) {
    if (!member_fix.count(snap.row.external_id)) decltype(snap.members)().swap(snap.members);
  }

  // ---- The application's callbacks --------------------------------------------------------------
  if (!managed_callbacks.empty() && !options_.application_client_id.empty()) {
    auto app = client_.GetApplication(options_.application_client_id);
    if (!app.ok()) return app.status();
    const std::set<std::string> present(app->callbacks.begin(), app->callbacks.end());
    for (auto& url : managed_callbacks) {
      if (!present.count(url)) {
        diff(kCallbacksKey, "callbacks", nullptr, url);
        callbacks_missing.push_back(url);
      }
    }
  }

  // ---- Users ----------------------------------------------------------------------------------
  // Records are compared as they arrive and dropped, so memory stays at the snapshot's size.
  std::unordered_map<std::string, size_t> user_index;  // Auth0 id -> index in `users`
  user_index.reserve(users.size());
  for (size_t i = 0; i < users.size(); ++i) user_index.emplace(users[i].auth0_id, i);
  std::vector<bool> matched(users.size(), false);  // seen in a batched read with no difference
  auto visit = [&](Json&& u) {
    const Json& id = Field(u, "user_id");
    if (!id.is_string()) return;
    auto it = user_index.find(id.get_ref<const std::string&>());
    if (it == user_index.end()) return;  // not managed by tenantsync
    matched[it->second] =
        CompareUser(known_of(users[it->second]), u, /*want_fixed=*/false).differences.empty();
  };
  if (!users.empty()) {
    std::vector<std::string> fields = {"user_id", "blocked", "app_metadata", "user_metadata"};
    fields.insert(fields.end(), std::begin(kUserFields), std::end(kUserFields));
    if (users.size() > options_.user_export_threshold) {
      users_read_by = "export";
      UserExportOptions eo;
      auto conn = client_.FindConnectionId(options_.connection);
      if (!conn.ok()) return conn.status();
      eo.connection_id = *conn;
      eo.fields = fields;
      eo.poll_interval = options_.export_poll_interval;
      eo.timeout = options_.export_timeout;
      auto exported = client_.ExportUsers(eo, visit);
      if (!exported.ok()) return exported.status();
    } else {
      users_read_by = "search";
      std::string field_list;
      for (auto& f : fields) field_list += (field_list.empty() ? "" : ",") + f;
      const size_t batch = std::max<size_t>(1, options_.search_batch);
      for (size_t i = 0; i < users.size(); i += batch) {
        std::string q = "user_id:(";
        for (size_t j = i; j < std::min(users.size(), i + batch); ++j) {
          q += (j == i ? "\"" : " OR \"") + users[j].auth0_id + "\"";
        }
        q += ")";
        auto found = client_.SearchUsers(q, field_list);
        if (!found.ok()) return found.status();
        for (auto& u : found->users) visit(std::move(u));
      }
    }
  }
  for (size_t i = 0; i < users.size(); ++i) {
    if (matched[i]) continue;
    const UserSnap& user = users[i];
    const std::string key = UserKey(user.external_id);
    // Missing from, or different in, a lagging read: the immediately consistent read decides.
    ++confirm_reads;
    auto got = client_.GetUser(user.auth0_id);
    if (!got.ok()) {
      if (got.status().kind() != StatusKind::kNotFound) return got.status();
      diff(key, "exists", false, true);
      user_gone.insert(user.external_id);
      continue;
    }
    UserComparison cmp = CompareUser(known_of(user), UserRecord(*got), /*want_fixed=*/true);
    if (cmp.differences.empty()) continue;
    for (auto& d : cmp.differences) diff(key, d[0].get<std::string>(), d[1], d[2]);
    user_known[user.external_id] = std::move(cmp.fixed);
  }
  user_index.clear();

  // ---- Corrections ----------------------------------------------------------------------------
  const int64_t now = clock_.NowUnixMillis();
  int64_t corrected = 0;
  Json report = {{"ran_at_ms", started},
                 {"mode", correct ? "correct" : "report"},
                 {"differences", differences},
                 {"requests", background.requests()},
                 {"users_read_by", users_read_by},
                 {"confirm_reads", confirm_reads},
                 {"notes", notes},
                 {"duration_ms", now - started}};
  auto txn = store_.BeginState();
  if (!txn.ok()) return txn.status();
  StateTxn& t = **txn;
  if (correct && !differences.empty()) {
    std::set<std::string> dirty;
    // Writes `fixed` over the fields of `snap_known` that drift found different, unless the writer
    // changed that field since the snapshot (then its own write is the newer truth).
    auto merge = [](Json& fresh_known, const Json& snap_known, const Json& fixed) {
      bool any = false;
      std::set<std::string> keys;
      for (auto& [k, v] : snap_known.items()) keys.insert(k);
      for (auto& [k, v] : fixed.items()) keys.insert(k);
      for (auto& k : keys) {
        const Json& before = Field(snap_known, k);
        const Json& after = Field(fixed, k);
        if (before == after) continue;
        if (Field(fresh_known, k) != before) continue;  // the writer moved on meanwhile
        if (after.is_null())
          fresh_known.erase(k);
        else
          fresh_known[k] = after;
        any = true;
      }
      return any;
    };
    for (auto& snap : orgs) {
      const std::string& ext = snap.row.external_id;
      auto fresh = t.GetEntity(EntityKind::kOrganization, ext);
      if (!fresh.ok()) return fresh.status();
      if (!fresh->exists || fresh->auth0_id != snap.row.auth0_id) continue;  // changed meanwhile
      if (org_gone.count(ext)) {
        // The managed organization is gone from Auth0: forget its id and memberships; the writer
        // creates it again from desired state.
        fresh->auth0_id.reset();
        fresh->known = Json::object();
        if (auto s = t.PutEntity(*fresh, now); !s.ok()) return s;
        for (auto& m : snap.members) {
          if (auto s = t.SetKnownMember(ext, m.user_external_id, std::nullopt); !s.ok()) return s;
        }
        dirty.insert(OrgKey(ext));
        dirty.insert(MembersKey(ext));
        dirty.insert(kCallbacksKey);
        continue;
      }
      if (auto it = org_known.find(ext); it != org_known.end()) {
        if (merge(fresh->known, snap.row.known, it->second)) {
          if (auto s = t.PutEntity(*fresh, now); !s.ok()) return s;
        }
        dirty.insert(OrgKey(ext));
      }
    }
    for (auto& [org_ext, fixes] : member_fix) {
      auto current = t.KnownMembers(org_ext);
      if (!current.ok()) return current.status();
      std::map<std::string, Json> now_known;
      for (auto& m : *current) now_known[m.user_external_id] = m.roles;
      for (auto& snap : orgs) {
        if (snap.row.external_id != org_ext) continue;
        for (auto& m : snap.members) {
          auto fix = fixes.find(m.user_external_id);
          if (fix == fixes.end()) continue;
          auto cur = now_known.find(m.user_external_id);
          if (cur == now_known.end() || cur->second != m.roles) continue;  // the writer moved on
          std::optional<Json> roles;
          if (!fix->second.is_null()) roles = fix->second;
          if (auto s = t.SetKnownMember(org_ext, m.user_external_id, roles); !s.ok()) return s;
        }
      }
      dirty.insert(MembersKey(org_ext));
    }
    for (auto& user : users) {
      const std::string& ext = user.external_id;
      const bool gone = user_gone.count(ext) > 0;
      auto it = user_known.find(ext);
      if (!gone && it == user_known.end()) continue;
      auto fresh = t.GetEntity(EntityKind::kUser, ext);
      if (!fresh.ok()) return fresh.status();
      if (!fresh->exists || fresh->auth0_id != user.auth0_id) continue;
      const Json snap_known = known_of(user);
      if (gone) {
        // Deleted in Auth0 behind tenantsync's back: forget the id and its memberships; the writer
        // creates the user again and re-adds the memberships.
        fresh->auth0_id.reset();
        fresh->known = Json::object();
        if (auto s = t.PutEntity(*fresh, now); !s.ok()) return s;
        auto rows = t.UserMemberships(ext);
        if (!rows.ok()) return rows.status();
        if (auto s = t.ForgetKnownMemberships(ext); !s.ok()) return s;
        for (auto& m : *rows) dirty.insert(MembersKey(m.org_external_id));
      } else {
        Json fixed_known = fresh->known;
        bool any = merge(fixed_known, snap_known, it->second);
        // Metadata is compared per key: merge the metadata objects key by key as well.
        for (auto md : {"app_metadata", "user_metadata"}) {
          const Json& snap_md = Field(snap_known, md);
          const Json& fix_md = Field(it->second, md);
          if (!snap_md.is_object()) continue;
          Json cur_md = Field(fresh->known, md).is_object() ? fresh->known[md] : Json::object();
          if (merge(cur_md, snap_md, fix_md.is_object() ? fix_md : Json::object())) {
            fixed_known[md] = cur_md;
            any = true;
          }
        }
        if (any) {
          fresh->known = fixed_known;
          if (auto s = t.PutEntity(*fresh, now); !s.ok()) return s;
        }
      }
      dirty.insert(UserKey(ext));
    }
    if (!callbacks_missing.empty()) {
      auto cur = t.GetSetting("callbacks_managed");
      if (!cur.ok()) return cur.status();
      Json list = cur->has_value() ? Json::parse(**cur, nullptr, false) : Json::array();
      if (!list.is_array()) list = Json::array();
      Json kept = Json::array();
      for (auto& u : list) {
        if (!u.is_string() || std::find(callbacks_missing.begin(), callbacks_missing.end(),
                                        u.get<std::string>()) == callbacks_missing.end()) {
          kept.push_back(u);
        }
      }
      if (auto s = t.PutSetting("callbacks_managed", kept.dump()); !s.ok()) return s;
      dirty.insert(kCallbacksKey);
    }
    for (auto& e : dirty) {
      if (auto s = t.MarkDirty(e); !s.ok()) return s;
    }
    corrected = static_cast<int64_t>(dirty.size());
  }
  report["corrected"] = corrected;
  if (auto s = t.PutSetting("drift_last", report.dump()); !s.ok()) return s;
  if (auto s = t.Commit(); !s.ok()) return s;
  txn->reset();
  spdlog::info("drift: mode={} differences={} corrected_entities={} requests={} ms={}",
               correct ? "correct" : "report", differences.size(), corrected, background.requests(),
               now - started);
  if (on_report_) on_report_(report, corrected > 0);
  return report;
}

}  // namespace tenantsync
