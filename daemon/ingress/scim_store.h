// ScimTables: the SCIM service's own rows (migrations/0008_scim.sql) — resources as answered, with
// the SCIM id tenantsync assigned and the entity external id their events name, and group
// members by SCIM id.
//
// Use only inside SqliteStore::WriteWithEvents (writes, together with the inbox events of the
// same request) or SqliteStore::ReadWith (reads) on the connection they hand over: every method
// throws SQLite::Exception, which those two turn into a Status. Not thread-safe; one instance per
// transaction. Every query is scoped to one source.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "adapters/scim/scim.h"

namespace SQLite {
class Database;
}

namespace tenantsync {

struct ScimRow {
  scim::ResourceKind kind = scim::ResourceKind::kUser;
  std::string id;
  std::string entity_id;
  std::optional<std::string> external_id;
  std::string name_key;
  nlohmann::json resource;  // normalised, without id and meta
  int64_t version = 0;
  int64_t created_ms = 0;
  int64_t modified_ms = 0;
  int64_t last_event_ms = 0;
  bool deleted = false;
};

class ScimTables {
 public:
  ScimTables(SQLite::Database& db, std::string source) : db_(db), source_(std::move(source)) {}

  // A live resource by SCIM id (with `deleted`: tombstones too).
  std::optional<ScimRow> Get(scim::ResourceKind kind, const std::string& id, bool deleted = false);
  std::optional<ScimRow> FindByName(scim::ResourceKind kind, const std::string& name_key);
  std::optional<ScimRow> FindByExternalId(scim::ResourceKind kind, const std::string& external_id);
  // The newest tombstone of `entity_id` (a user deleted earlier), if any.
  std::optional<ScimRow> FindDeletedEntity(scim::ResourceKind kind, const std::string& entity_id);
  // The live resources of `kind` in the order they were created.
  std::vector<ScimRow> List(scim::ResourceKind kind);
  // Inserts or replaces the row (source, kind, id).
  void Put(const ScimRow& row);
  // SCIM ids of the live groups `user_id` is a member of.
  std::vector<std::string> GroupsOf(const std::string& user_id);
  // Replaces the member list of a group.
  void SetMembers(const std::string& group_id, const std::vector<std::string>& user_ids);

 private:
  std::optional<ScimRow> One(const std::string& where, const std::vector<std::string>& binds);
  SQLite::Database& db_;
  const std::string source_;
};

}  // namespace tenantsync
