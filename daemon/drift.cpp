#include "daemon/drift.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "adapters/auth0/auth0_client.h"
#include "daemon/desired_state.h"
#include "storage/sqlite_store.h"

namespace tenantsync {

using Json = nlohmann::json;

namespace {

constexpr const char* kUserFields[] = {"email", "name", "given_name", "family_name", "nickname", "picture"};
constexpr const char* kOrgFields[] = {"display_name", "branding"};

const Json& Field(const Json& obj, const std::string& key) {
  static const Json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

bool Truthy(const Json& v) { return v.is_boolean() && v.get<bool>(); }

int64_t Pages(size_t n) { return std::max<int64_t>(1, (static_cast<int64_t>(n) + 99) / 100); }

// What the comparison read, per entity, to correct from.
struct OrgSnap {
  EntityRow row;
  std::vector<MembershipRow> members;
};

}  // namespace

Drift::Drift(SqliteStore& store, Auth0Client& client, Clock& clock, std::string application_client_id,
             std::function<void(const Json&, bool)> on_report)
    : store_(store), client_(client), clock_(clock), application_client_id_(std::move(application_client_id)),
      on_report_(std::move(on_report)) {}

Json Drift::Last() {
  auto s = store_.GetSetting("drift_last");
  if (!s.ok() || !s->has_value()) return nullptr;
  Json j = Json::parse(**s, nullptr, false);
  return j.is_discarded() ? Json(nullptr) : j;
}

Result<Json> Drift::Run(bool correct) {
  std::lock_guard<std::mutex> run_lock(run_mu_);
  const int64_t started = clock_.NowUnixMillis();

  // ---- Snapshot of what tenantsync believes Auth0 holds (one short transaction) ---------------
  std::vector<OrgSnap> orgs;
  std::vector<EntityRow> users;
  std::map<std::string, std::string> user_auth0;  // user external id -> Auth0 id (managed)
  std::vector<std::string> managed_callbacks;
  {
    auto txn = store_.BeginState();
    if (!txn.ok()) return txn.status();
    auto o = (*txn)->AllEntities("org");
    if (!o.ok()) return o.status();
    for (auto& row : *o) {
      if (!row.auth0_id || Truthy(Field(row.known, "deleted"))) continue;
      auto m = (*txn)->KnownMembers(row.external_id);
      if (!m.ok()) return m.status();
      orgs.push_back({row, *m});
    }
    auto u = (*txn)->AllEntities("user");
    if (!u.ok()) return u.status();
    for (auto& row : *u) {
      if (!row.auth0_id || Truthy(Field(row.known, "deleted"))) continue;
      user_auth0[row.external_id] = *row.auth0_id;
      users.push_back(row);
    }
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
  int64_t requests = 0;
  auto diff = [&](const std::string& entity, const std::string& field, const Json& auth0, const Json& expected) {
    differences.push_back({{"entity", entity}, {"field", field}, {"auth0", auth0}, {"expected", expected}});
  };

  // Corrections, applied in one transaction at the end (correct mode only).
  std::map<std::string, Json> org_known;                      // external id -> corrected known
  std::set<std::string> org_gone, user_gone;                  // managed id missing in Auth0
  std::map<std::string, Json> user_known;                     // external id -> corrected known
  // org external id -> (user external id -> roles to keep, null = drop the membership)
  std::map<std::string, std::map<std::string, Json>> member_fix;
  std::vector<std::string> callbacks_missing;

  // ---- Organizations ---------------------------------------------------------------------------
  if (!orgs.empty()) {
    auto listed = client_.ListOrganizations();
    if (!listed.ok()) return listed.status();
    requests += Pages(listed->size());
    std::map<std::string, const Json*> by_id;
    for (auto& o : *listed) {
      if (o.contains("id") && o["id"].is_string()) by_id[o["id"].get<std::string>()] = &o;
    }
    for (auto& snap : orgs) {
      const EntityRow& org = snap.row;
      const std::string key = OrgKey(org.external_id);
      auto it = by_id.find(*org.auth0_id);
      if (it == by_id.end()) {
        diff(key, "exists", false, true);
        org_gone.insert(org.external_id);
        continue;
      }
      const Json& have = *it->second;
      Json fixed = org.known;
      bool changed = false;
      for (auto f : kOrgFields) {
        if (!org.known.contains(f)) continue;
        const Json& a = Field(have, f);
        if (a != org.known[f]) {
          diff(key, f, a, org.known[f]);
          if (a.is_null()) fixed.erase(f);
          else fixed[f] = a;
          changed = true;
        }
      }
      {
        const Json expected = org.known.contains("metadata") ? org.known["metadata"] : Json::object();
        const Json a = have.contains("metadata") && have["metadata"].is_object() ? have["metadata"] : Json::object();
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
        requests += Pages(conns->size());
        std::map<std::string, Json> have_conns;
        for (auto& c : *conns) {
          const Json& name = Field(Field(c, "connection"), "name");
          if (!name.is_string()) continue;
          have_conns[name.get<std::string>()] = {
              {"assign_membership_on_login", Truthy(Field(c, "assign_membership_on_login"))},
              {"show_as_button", c.contains("show_as_button") ? Truthy(c["show_as_button"]) : true}};
        }
        for (auto& [name, flags] : known_conns.items()) {
          auto h = have_conns.find(name);
          Json a = h == have_conns.end() ? Json(nullptr) : h->second;
          if (a != flags) {
            diff(key, "connections." + name, a, flags);
            if (a.is_null()) fixed["connections"].erase(name);
            else fixed["connections"][name] = a;
            changed = true;
          }
        }
      }
      if (changed) org_known[org.external_id] = fixed;

      // Members and the roles tenantsync assigned.
      if (snap.members.empty()) continue;
      auto members = client_.ListMembers(*org.auth0_id);
      if (!members.ok()) return members.status();
      requests += Pages(members->size());
      std::set<std::string> listed_ids;
      for (auto& m : *members) {
        if (m.contains("user_id") && m["user_id"].is_string()) listed_ids.insert(m["user_id"].get<std::string>());
      }
      const std::string mkey = MembersKey(org.external_id);
      for (auto& m : snap.members) {
        auto ua = user_auth0.find(m.user_external_id);
        if (ua == user_auth0.end()) continue;  // the user is not managed (any more): not compared
        if (!listed_ids.count(ua->second)) {
          diff(mkey, "member:" + m.user_external_id, false, true);
          member_fix[org.external_id][m.user_external_id] = nullptr;
          continue;
        }
        if (!m.roles.is_array() || m.roles.empty()) continue;
        auto roles = client_.ListMemberRoles(*org.auth0_id, ua->second);
        if (!roles.ok()) return roles.status();
        requests += Pages(roles->size());
        std::set<std::string> have_roles;
        for (auto& r : *roles) {
          if (r.contains("name") && r["name"].is_string()) have_roles.insert(r["name"].get<std::string>());
        }
        std::vector<std::string> keep, missing;
        for (auto& r : m.roles) {
          if (!r.is_string()) continue;
          (have_roles.count(r.get<std::string>()) ? keep : missing).push_back(r.get<std::string>());
        }
        if (!missing.empty()) {
          diff(mkey, "roles:" + m.user_external_id, Json(keep), m.roles);
          member_fix[org.external_id][m.user_external_id] = Json(keep);
        }
      }
    }
  }

  // ---- The application's callbacks --------------------------------------------------------------
  if (!managed_callbacks.empty() && !application_client_id_.empty()) {
    auto client = client_.GetClient(application_client_id_);
    if (!client.ok()) return client.status();
    requests += 1;
    std::set<std::string> present;
    for (auto& u : Field(*client, "callbacks")) {
      if (u.is_string()) present.insert(u.get<std::string>());
    }
    for (auto& url : managed_callbacks) {
      if (!present.count(url)) {
        diff(kCallbacksKey, "callbacks", nullptr, url);
        callbacks_missing.push_back(url);
      }
    }
  }

  // ---- Users ----------------------------------------------------------------------------------
  if (users.size() >= kMaxUserReads) {
    notes.push_back("users not compared: " + std::to_string(users.size()) + " managed users (per-user reads are limited to fewer than " +
                    std::to_string(kMaxUserReads) + " in this version)");
  } else {
    for (auto& user : users) {
      const std::string key = UserKey(user.external_id);
      auto got = client_.GetUser(*user.auth0_id);
      requests += 1;
      if (!got.ok()) {
        if (got.status().kind() == StatusKind::kNotFound) {
          diff(key, "exists", false, true);
          user_gone.insert(user.external_id);
          continue;
        }
        return got.status();
      }
      const Json& have = *got;
      Json fixed = user.known;
      bool changed = false;
      for (auto f : kUserFields) {
        if (!user.known.contains(f)) continue;
        const Json& a = Field(have, f);
        if (a != user.known[f]) {
          diff(key, f, a, user.known[f]);
          if (a.is_null()) fixed.erase(f);
          else fixed[f] = a;
          changed = true;
        }
      }
      if (user.known.contains("blocked")) {
        bool a = Truthy(Field(have, "blocked"));
        if (Json(a) != user.known["blocked"]) {
          diff(key, "blocked", a, user.known["blocked"]);
          fixed["blocked"] = a;
          changed = true;
        }
      }
      for (auto md : {"app_metadata", "user_metadata"}) {
        const Json& known_md = Field(user.known, md);
        if (!known_md.is_object()) continue;
        const Json& have_md = Field(have, md);
        for (auto& [k, v] : known_md.items()) {
          const Json& a = Field(have_md, k);
          if (a != v) {
            diff(key, std::string(md) + "." + k, a, v);
            if (a.is_null()) fixed[md].erase(k);
            else fixed[md][k] = a;
            changed = true;
          }
        }
      }
      if (changed) user_known[user.external_id] = fixed;
    }
  }

  // ---- Corrections ----------------------------------------------------------------------------
  const int64_t now = clock_.NowUnixMillis();
  int64_t corrected = 0;
  Json report = {{"ran_at_ms", started},
                 {"mode", correct ? "correct" : "report"},
                 {"differences", differences},
                 {"requests", requests},
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
        if (after.is_null()) fresh_known.erase(k);
        else fresh_known[k] = after;
        any = true;
      }
      return any;
    };
    for (auto& snap : orgs) {
      const std::string& ext = snap.row.external_id;
      auto fresh = t.GetEntity("org", ext);
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
      auto fresh = t.GetEntity("user", ext);
      if (!fresh.ok()) return fresh.status();
      if (!fresh->exists || fresh->auth0_id != user.auth0_id) continue;
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
        bool any = merge(fixed_known, user.known, it->second);
        // Metadata is compared per key: merge the metadata objects key by key as well.
        for (auto md : {"app_metadata", "user_metadata"}) {
          const Json& snap_md = Field(user.known, md);
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
        if (!u.is_string() || std::find(callbacks_missing.begin(), callbacks_missing.end(), u.get<std::string>()) == callbacks_missing.end()) {
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
  spdlog::info("drift: mode={} differences={} corrected_entities={} requests={} ms={}", correct ? "correct" : "report",
               differences.size(), corrected, requests, now - started);
  if (on_report_) on_report_(report, corrected > 0);
  return report;
}

}  // namespace tenantsync
