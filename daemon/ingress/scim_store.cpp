#include "daemon/ingress/scim_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

namespace tenantsync {
namespace {

constexpr const char* kColumns =
    "kind, id, entity_id, external_id, name_key, resource, version, created_ms, modified_ms, "
    "last_event_ms, deleted";

ScimRow ReadRow(SQLite::Statement& q) {
  ScimRow r;
  r.kind = q.getColumn(0).getString() == "Group" ? scim::ResourceKind::kGroup
                                                 : scim::ResourceKind::kUser;
  r.id = q.getColumn(1).getString();
  r.entity_id = q.getColumn(2).getString();
  if (!q.getColumn(3).isNull()) r.external_id = q.getColumn(3).getString();
  r.name_key = q.getColumn(4).getString();
  // Written by Put from a json value, so it parses; a damaged row reads as an empty object
  // rather than throwing past the store.
  r.resource = nlohmann::json::parse(q.getColumn(5).getString(), nullptr, false);
  if (r.resource.is_discarded()) r.resource = nlohmann::json::object();
  r.version = q.getColumn(6).getInt64();
  r.created_ms = q.getColumn(7).getInt64();
  r.modified_ms = q.getColumn(8).getInt64();
  r.last_event_ms = q.getColumn(9).getInt64();
  r.deleted = q.getColumn(10).getInt() != 0;
  return r;
}

}  // namespace

std::optional<ScimRow> ScimTables::One(const std::string& where,
                                       const std::vector<std::string>& binds) {
  SQLite::Statement q(db_, std::string("SELECT ") + kColumns +
                               " FROM scim_resources WHERE source = ? AND " + where);
  q.bind(1, source_);
  for (size_t i = 0; i < binds.size(); ++i) q.bind(static_cast<int>(i + 2), binds[i]);
  if (!q.executeStep()) return std::nullopt;
  return ReadRow(q);
}

std::optional<ScimRow> ScimTables::Get(scim::ResourceKind kind, const std::string& id,
                                       bool deleted) {
  return One(deleted ? "kind = ? AND id = ?" : "kind = ? AND id = ? AND deleted = 0",
             {scim::ResourceTypeName(kind), id});
}

std::optional<ScimRow> ScimTables::FindByName(scim::ResourceKind kind,
                                              const std::string& name_key) {
  return One("kind = ? AND name_key = ? AND deleted = 0", {scim::ResourceTypeName(kind), name_key});
}

std::optional<ScimRow> ScimTables::FindByExternalId(scim::ResourceKind kind,
                                                    const std::string& external_id) {
  return One("kind = ? AND external_id = ? AND deleted = 0",
             {scim::ResourceTypeName(kind), external_id});
}

std::optional<ScimRow> ScimTables::FindDeletedEntity(scim::ResourceKind kind,
                                                     const std::string& entity_id) {
  return One("kind = ? AND entity_id = ? AND deleted = 1 ORDER BY modified_ms DESC LIMIT 1",
             {scim::ResourceTypeName(kind), entity_id});
}

std::vector<ScimRow> ScimTables::List(scim::ResourceKind kind) {
  SQLite::Statement q(db_, std::string("SELECT ") + kColumns +
                               " FROM scim_resources WHERE source = ? AND kind = ? AND deleted = 0 "
                               "ORDER BY created_ms, rowid");
  q.bind(1, source_);
  q.bind(2, scim::ResourceTypeName(kind));
  std::vector<ScimRow> out;
  while (q.executeStep()) out.push_back(ReadRow(q));
  return out;
}

void ScimTables::Put(const ScimRow& row) {
  SQLite::Statement q(
      db_,
      "INSERT INTO scim_resources (source, kind, id, entity_id, external_id, name_key, resource, "
      "version, created_ms, modified_ms, last_event_ms, deleted) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
      "ON CONFLICT (source, kind, id) DO UPDATE SET entity_id = excluded.entity_id, "
      "external_id = excluded.external_id, name_key = excluded.name_key, "
      "resource = excluded.resource, version = excluded.version, "
      "modified_ms = excluded.modified_ms, last_event_ms = excluded.last_event_ms, "
      "deleted = excluded.deleted");
  q.bind(1, source_);
  q.bind(2, scim::ResourceTypeName(row.kind));
  q.bind(3, row.id);
  q.bind(4, row.entity_id);
  if (row.external_id) q.bind(5, *row.external_id);
  q.bind(6, row.name_key);
  q.bind(7, row.resource.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  q.bind(8, static_cast<int64_t>(row.version));
  q.bind(9, static_cast<int64_t>(row.created_ms));
  q.bind(10, static_cast<int64_t>(row.modified_ms));
  q.bind(11, static_cast<int64_t>(row.last_event_ms));
  q.bind(12, row.deleted ? 1 : 0);
  q.exec();
}

std::vector<std::string> ScimTables::GroupsOf(const std::string& user_id) {
  SQLite::Statement q(db_,
                      "SELECT m.group_id FROM scim_members m JOIN scim_resources r ON "
                      "r.source = m.source AND r.kind = 'Group' AND r.id = m.group_id "
                      "WHERE m.source = ? AND m.user_id = ? AND r.deleted = 0 ORDER BY m.group_id");
  q.bind(1, source_);
  q.bind(2, user_id);
  std::vector<std::string> out;
  while (q.executeStep()) out.push_back(q.getColumn(0).getString());
  return out;
}

void ScimTables::SetMembers(const std::string& group_id, const std::vector<std::string>& user_ids) {
  SQLite::Statement del(db_, "DELETE FROM scim_members WHERE source = ? AND group_id = ?");
  del.bind(1, source_);
  del.bind(2, group_id);
  del.exec();
  SQLite::Statement ins(
      db_, "INSERT OR IGNORE INTO scim_members (source, group_id, user_id) VALUES (?,?,?)");
  for (const auto& u : user_ids) {
    ins.reset();
    ins.bind(1, source_);
    ins.bind(2, group_id);
    ins.bind(3, u);
    ins.exec();
  }
}

}  // namespace tenantsync
