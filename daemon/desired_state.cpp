#include "daemon/desired_state.h"

#include <algorithm>
#include <set>

namespace tenantsync {

std::string OrgKey(const std::string& id) { return "org:" + id; }
std::string UserKey(const std::string& id) { return "user:" + id; }
std::string MembersKey(const std::string& id) { return "members:" + id; }
std::string ConnectionKey(const std::string& name) { return "connection:" + name; }
std::string CommandKey(int64_t id) { return "command:" + std::to_string(id); }

namespace {

// A slot holding exactly what SetField writes ({"ev","rt","ts","v"}: no "rejected" mark, nothing
// else), which an update may overwrite member by member.
bool IsPlainSlot(const nlohmann::json& slot) {
  const auto& members = *slot.get_ptr<const nlohmann::json::object_t*>();
  if (members.size() != 4) return false;
  auto m = members.begin();
  return m->first == "ev" && (++m)->first == "rt" && (++m)->first == "ts" && (++m)->first == "v";
}

}  // namespace

bool SetField(nlohmann::json& desired, const std::string& field, const nlohmann::json& value,
              const FieldStamp& stamp) {
  auto it = desired.find(field);
  if (it != desired.end() && it->is_object()) {
    int64_t old_ts = it->value("ts", int64_t{0});
    if (old_ts > stamp.ts_ms) return false;
    if (old_ts == stamp.ts_ms) {
      auto ev = it->find("ev");
      // Compared in place: no copy of the stored key (this runs for every field of every event).
      if (ev == it->end() ? stamp.event.empty() : ev->get_ref<const std::string&>() >= stamp.event)
        return false;
    }
  }
  if (it != desired.end() && it->is_object() && IsPlainSlot(*it)) {
    // Overwritten in place (an update of a field already set): the slot's four members and the
    // event key's buffer are reused instead of freeing one object and allocating the next.
    auto& members = *it->get_ptr<nlohmann::json::object_t*>();
    auto m = members.begin();  // the map's order: "ev", "rt", "ts", "v"
    auto* ev = m->second.get_ptr<std::string*>();
    if (ev != nullptr) {
      ev->assign(stamp.event);
    } else {
      m->second = stamp.event;
    }
    (++m)->second = stamp.received_ms;
    (++m)->second = stamp.ts_ms;
    (++m)->second = value;
    return true;
  }
  // Built member by member: an initializer list would copy every value once more.
  nlohmann::json slot(nlohmann::json::value_t::object);
  auto& members = *slot.get_ptr<nlohmann::json::object_t*>();
  members.emplace("v", value);
  members.emplace("ts", stamp.ts_ms);
  members.emplace("ev", stamp.event);
  members.emplace("rt", stamp.received_ms);
  if (it != desired.end()) {
    *it = std::move(slot);
  } else {
    desired[field] = std::move(slot);
  }
  return true;
}

nlohmann::json View(const nlohmann::json& desired) {
  nlohmann::json out = nlohmann::json::object();
  for (auto& [field, slot] : desired.items()) {
    if (!slot.is_object() || slot.contains("rejected")) continue;  // undone at the guard
    const auto& v = slot["v"];
    auto dot = field.find('.');
    if (dot != std::string::npos) {
      std::string parent = field.substr(0, dot), key = field.substr(dot + 1);
      if (!out.contains(parent)) out[parent] = nlohmann::json::object();
      if (!v.is_null()) out[parent][key] = v;
    } else {
      out[field] = v;
    }
  }
  return out;
}

nlohmann::json EventsBehind(const nlohmann::json& desired, const std::vector<std::string>& fields,
                            int64_t* first_received_ms, int64_t* last_received_ms) {
  std::set<std::string> events;
  int64_t first = 0, last = 0;
  for (auto& [field, slot] : desired.items()) {
    bool wanted = fields.empty();
    for (auto& f : fields) wanted = wanted || field == f || field.rfind(f + ".", 0) == 0;
    if (!wanted) continue;
    events.insert(slot.value("ev", std::string()));
    int64_t rt = slot.value("rt", int64_t{0});
    if (rt > 0 && (first == 0 || rt < first)) first = rt;
    last = std::max(last, rt);
  }
  if (first_received_ms) *first_received_ms = first;
  if (last_received_ms) *last_received_ms = last;
  nlohmann::json out = nlohmann::json::array();
  for (auto& e : events) {
    if (!e.empty()) out.push_back(e);
  }
  return out;
}

namespace {

// Normalised role set: sorted, without duplicates, so comparisons ignore order.
nlohmann::json NormalRoles(const nlohmann::json& roles) {
  std::set<std::string> s;
  if (roles.is_array()) {
    for (auto& r : roles) {
      if (r.is_string()) s.insert(r.get<std::string>());
    }
  }
  return nlohmann::json(std::vector<std::string>(s.begin(), s.end()));
}

}  // namespace

Status ApplyEvent(StateTxn& txn, const EventRecord& record, const ParsedEvent& event,
                  int64_t now_ms, std::vector<std::string>* dirty) {
  const FieldStamp stamp{event.timestamp_ms, record.source + "/" + record.event_id,
                         record.received_at_ms};
  const bool is_org = IsOrganizationEvent(event.type);
  auto row =
      txn.GetDesired(is_org ? EntityKind::kOrganization : EntityKind::kUser, event.external_id);
  if (!row.ok()) return row.status();
  DesiredRow entity = std::move(row).value();
  const nlohmann::json& data = event.data;
  bool memberships_changed = false;

  auto set = [&](const std::string& field, const nlohmann::json& value) {
    return SetField(entity.desired, field, value, stamp);
  };
  auto set_metadata = [&](const std::string& prefix) {
    auto it = data.find(prefix);
    if (it == data.end() || !it->is_object()) return;
    for (auto& [k, v] : it->items()) set(prefix + "." + k, v);
  };
  auto copy = [&](std::initializer_list<const char*> fields) {
    for (auto f : fields) {
      if (data.contains(f)) set(f, data[f]);
    }
  };

  switch (event.type) {
    case EventType::kOrganizationUpserted:
      // Without a name yet (a partial update overtook the first full one) the fields are kept and
      // the organization waits: the writer creates it once an event brings the name.
      set("deleted", false);
      copy({"name", "display_name", "branding", "connections", "callback_urls"});
      set_metadata("metadata");
      break;
    case EventType::kOrganizationDeleted:
      set("deleted", true);
      break;
    case EventType::kUserUpserted:
      // Likewise a user without an email yet is kept and created once an event brings one.
      set("deleted", false);
      copy({"email", "email_verified", "name", "given_name", "family_name", "nickname", "picture"});
      set_metadata("app_metadata");
      set_metadata("user_metadata");
      if (data.contains("organizations")) {
        nlohmann::json orgs = nlohmann::json::array();
        if (data["organizations"].is_array()) {
          for (auto& m : data["organizations"]) {
            orgs.push_back({{"external_id", m.value("external_id", std::string())},
                            {"roles", NormalRoles(m.contains("roles") ? m["roles"]
                                                                      : nlohmann::json::array())}});
          }
        }
        memberships_changed = set("organizations", orgs);
      }
      break;
    case EventType::kUserLeft:
      // The departure counts from its effective time (delete_after_days), else its timestamp.
      set("left", true);
      set("left_at", event.effective_at_ms.value_or(event.timestamp_ms));
      break;
    case EventType::kUserReturned:
      set("left", false);
      break;
    case EventType::kUserBlocked:
      set("blocked", true);
      break;
    case EventType::kUserUnblocked:
      set("blocked", false);
      break;
    case EventType::kUserDeleted:
      set("deleted", true);
      break;
    case EventType::kUserPasswordResetRequested:
    case EventType::kUserVerificationEmailRequested: {
      CommandRow cmd;
      cmd.kind = event.type == EventType::kUserPasswordResetRequested
                     ? CommandKind::kPasswordReset
                     : CommandKind::kVerificationEmail;
      cmd.user_external_id = event.external_id;
      cmd.event = stamp.event;
      cmd.created_at_ms = now_ms;
      auto id = txn.InsertCommand(cmd);
      if (!id.ok()) return id.status();
      if (*id) dirty->push_back(CommandKey(**id));
      break;
    }
  }

  if (!entity.exists && (event.type == EventType::kUserPasswordResetRequested ||
                         event.type == EventType::kUserVerificationEmailRequested)) {
    return Status::Ok();  // a command for a user we do not know: the command itself reports it
  }
  if (auto st = txn.PutDesired(entity, now_ms); !st.ok()) return st;
  dirty->push_back(is_org ? OrgKey(event.external_id) : UserKey(event.external_id));

  if (memberships_changed) {
    std::vector<MembershipRow> rows;
    for (auto& m : entity.desired["organizations"]["v"]) {
      rows.push_back({m["external_id"].get<std::string>(), event.external_id, m["roles"]});
    }
    auto touched = txn.SetUserMemberships(event.external_id, rows);
    if (!touched.ok()) return touched.status();
    for (auto& org : *touched) dirty->push_back(MembersKey(org));
  }
  // Leaving, returning or deletion changes which memberships should exist in Auth0. The user's
  // memberships are read only when some may be missing from `dirty`: when this event set them,
  // `touched` named every one; and a user stored by this very event has no others, because the
  // one writer of memberships (SetUserMemberships, above) runs in the transaction that stores
  // the user (a day-one import of new users skips the read: issue 13, CPU per event).
  if (!is_org && entity.exists && !memberships_changed &&
      (event.type == EventType::kUserLeft || event.type == EventType::kUserReturned ||
       event.type == EventType::kUserDeleted || event.type == EventType::kUserUpserted)) {
    auto current = txn.UserMemberships(event.external_id);
    if (!current.ok()) return current.status();
    for (auto& m : *current) dirty->push_back(MembersKey(m.org_external_id));
  }
  if (is_org) {
    dirty->push_back(MembersKey(event.external_id));
    dirty->push_back(kCallbacksKey);
  }
  return Status::Ok();
}

bool IsDestructiveEvent(EventType t) {
  return t == EventType::kUserLeft || t == EventType::kUserDeleted ||
         t == EventType::kUserBlocked || t == EventType::kOrganizationDeleted;
}

Status RejectDestructiveIntent(StateTxn& txn, const EventRecord& record, const ParsedEvent& event,
                               const nlohmann::json& rejection, std::vector<std::string>* dirty) {
  if (!IsDestructiveEvent(event.type)) return Status::Ok();
  const bool is_org = IsOrganizationEvent(event.type);
  auto row =
      txn.GetDesired(is_org ? EntityKind::kOrganization : EntityKind::kUser, event.external_id);
  if (!row.ok()) return row.status();
  if (!row->exists) return Status::Ok();
  const std::string key = record.source + "/" + record.event_id;
  bool changed = false;
  for (auto field : {"left", "left_at", "blocked", "deleted"}) {
    auto it = row->desired.find(field);
    if (it == row->desired.end() || !it->is_object() || it->value("ev", std::string()) != key)
      continue;
    (*it)["rejected"] = rejection;
    changed = true;
  }
  if (!changed) return Status::Ok();  // a newer event owns those fields now
  if (auto st = txn.PutDesired(*row, rejection.value("at_ms", int64_t{0})); !st.ok()) return st;
  dirty->push_back(is_org ? OrgKey(event.external_id) : UserKey(event.external_id));
  if (is_org) {
    dirty->push_back(MembersKey(event.external_id));
    dirty->push_back(kCallbacksKey);
  } else {
    auto current = txn.UserMemberships(event.external_id);
    if (!current.ok()) return current.status();
    for (auto& m : *current) dirty->push_back(MembersKey(m.org_external_id));
  }
  return Status::Ok();
}

}  // namespace tenantsync
