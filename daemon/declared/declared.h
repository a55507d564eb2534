// Declared state (issue 15): organizations and users declared in files kept in a repository.
//
// Three pure pieces that `tenantsync apply` / `tenantsync export` will call (the commands are not
// wired yet; see docs/DECLARED.md):
//   ParseDeclared  files → DeclaredState, validated like ingress validates the equivalent events
//   DiffDeclared   (declared, current) → Plan: entity/field changes and the SPEC §5 events that
//                  turn `current` into `declared`, with content-derived event ids
//   RenderPlan     Plan → text in the manner of `terraform plan`
//
// File format (YAML or JSON, same structure; docs/DECLARED.md has the full description):
//   organizations: [{external_id, name, display_name, metadata, branding, connections,
//                    callback_urls}]
//   users: [{external_id, email, name, given_name, family_name, app_metadata, user_metadata,
//            blocked, organizations: [{external_id, roles}]}]
// A file declares the COMPLETE state of each entity it lists: a field left out means "none"
// (null, empty map, empty list, not blocked), not "unchanged".
//
// Nothing here throws; nothing here touches storage, the network or the clock.
#pragma once

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/events/event.h"
#include "common/status.h"

namespace tenantsync::declared {

// Where an entity was declared; line is 1-based, 0 when unknown (e.g. a state read from storage).
// Never part of comparisons.
struct SourceLocation {
  std::string file;
  int line = 0;
};

struct BrandingColors {
  std::string primary;          // "#rgb" or "#rrggbb"
  std::string page_background;  // same
  bool operator==(const BrandingColors&) const = default;
};

struct Branding {
  std::optional<std::string> logo_url;
  std::optional<BrandingColors> colors;
  bool operator==(const Branding&) const = default;
};

struct OrgConnection {
  std::string name;  // Auth0 connection name
  // nullopt: not declared (Auth0's default applies).
  std::optional<bool> assign_membership_on_login;
  std::optional<bool> show_as_button;
  bool operator==(const OrgConnection&) const = default;
};

struct Organization {
  std::string external_id;
  std::string name;  // Auth0 organization name, ^[a-z0-9_-]{1,50}$
  std::optional<std::string> display_name;
  std::map<std::string, std::string> metadata;  // ≤ 25 keys, string values
  Branding branding;
  std::vector<OrgConnection> connections;  // canonical: sorted by name
  std::vector<std::string> callback_urls;  // canonical: sorted, no duplicates
  SourceLocation where;
};

struct Membership {
  std::string org_external_id;
  std::vector<std::string> roles;  // canonical: sorted, no duplicates
  bool operator==(const Membership&) const = default;
};

struct User {
  std::string external_id;
  std::optional<std::string> email;  // required in a file; optional in a current state
  std::optional<std::string> name;
  std::optional<std::string> given_name;
  std::optional<std::string> family_name;
  std::map<std::string, nlohmann::json> app_metadata;   // first-level keys; values not null
  std::map<std::string, nlohmann::json> user_metadata;  // same
  bool blocked = false;
  std::vector<Membership> organizations;  // canonical: sorted by org_external_id
  // Current state only (never set by the parser): the user left (user.left) and has not
  // returned. A declared user that has left is brought back with user.returned.
  bool left = false;
  SourceLocation where;
};

// The declared (or current) state of one source. Canonical order: by external_id.
struct DeclaredState {
  std::vector<Organization> organizations;
  std::vector<User> users;
};

// Field-wise equality of the entity contents (ignores `where`).
bool SameContent(const Organization& a, const Organization& b);
// The JSON form of branding in events and stored state: {"logo_url", "colors": {"primary",
// "page_background"}}, absent parts null.
nlohmann::json BrandingColorsJson(const std::optional<BrandingColors>& colors);
nlohmann::json BrandingJson(const Branding& branding);
bool SameContent(const User& a, const User& b);

// Sorts entities by external_id and the set-valued lists (connections, callback URLs,
// memberships, roles) into their canonical order, dropping duplicate callback URLs and roles.
// ParseDeclared returns canonical states; DiffDeclared canonicalises copies of its inputs.
void Canonicalize(DeclaredState& state);

// One validation problem. ToString(): "FILE:LINE: FIELD: MESSAGE" (":LINE" left out when the
// line is unknown, "FIELD: " when the problem concerns a whole file), e.g.
// "orgs.yaml:12: organizations[3].name: must match ^[a-z0-9_-]{1,50}$".
struct Problem {
  std::string file;
  int line = 0;
  std::string field;  // path inside the file: organizations[3].metadata.tier, users[0]
  std::string message;
  std::string ToString() const;
};

enum class FileFormat { kYaml, kJson };

// Reads and validates declared files. Each path is a file (.yaml, .yml or .json, by extension)
// or a directory, whose regular files ending in .yaml/.yml/.json (names not starting with '.')
// are read in byte-wise name order, not recursively; everything is merged in the order given.
// Validation is the ingress validation of the equivalent organization.upserted / user.upserted
// events (ParseEvent), plus what a complete declaration needs: external_id, an organization's
// name and a user's email are required; `blocked` is true or false; an external_id (and an
// organization name) declared twice, in one file or across files, is an error at its second
// place naming the first; unknown keys and duplicate mapping keys are refused.
// Every problem of every file is collected; on any problem the result is kInvalid whose message
// is every Problem::ToString(), one per line, and `problems` (when given) receives them too.
// Success: a canonical DeclaredState (entities with `where` set).
// A read-only `auth0_id` string on an organization or user (written by `tenantsync export`) is
// accepted and ignored. A file in the Auth0 Deploy CLI layout (deploy_cli.h) is read too; what it
// holds that tenantsync does not manage is ignored and listed in `warnings` (when given).
Result<DeclaredState> ParseDeclared(const std::vector<std::string>& paths,
                                    std::vector<Problem>* problems = nullptr,
                                    std::vector<Problem>* warnings = nullptr);

// The same for text already in memory; `file_name` only labels messages and `where`.
Result<DeclaredState> ParseDeclaredText(std::string_view text, std::string_view file_name,
                                        FileFormat format, std::vector<Problem>* problems = nullptr,
                                        std::vector<Problem>* warnings = nullptr);

// ---- the differ ----

enum class EntityKind { kOrganization, kUser };

enum class ChangeKind {
  kCreate,  // "+": declared, not in the current state
  kChange,  // "~": in both, with different content
  kRemove,  // "-": in the current state, no longer declared, and `prune` was given
  kKept,    // in the current state, no longer declared, no `prune`: listed, left alone
};

enum class FieldOp { kAdd, kChange, kRemove };

struct FieldChange {
  FieldOp op;
  // "display_name", "metadata.tier", "branding.logo_url", "connections[google-oauth2]",
  // "callback_urls", "organizations[acme]", "organizations[acme].roles", "blocked", "left".
  std::string field;
  nlohmann::json old_value;  // null for kAdd
  nlohmann::json new_value;  // null for kRemove
  // A removal Auth0 cannot apply: an organization's display_name, or its whole branding (neither
  // is nullable in the Management API). Desired state records it; Auth0 keeps the old value and
  // RenderPlan says so (docs/DECLARED.md "Known limits").
  bool stays_in_auth0 = false;
};

struct EntityChange {
  EntityKind entity;
  ChangeKind kind;
  std::string external_id;
  std::vector<FieldChange> fields;  // kCreate: every declared field (kAdd); kChange: the diff
  SourceLocation where;             // declared location, when there is one
};

// An event of SPEC §5 that the apply will store in the source's inbox. The envelope timestamp is
// the apply time and is the caller's: it is not part of the id.
struct PlannedEvent {
  EventType type;
  std::string event_id;  // "decl_" + 64 hex digits, see DiffOptions::base_revision
  std::string external_id;
  nlohmann::json data;  // valid `data` for `type` (ParseEvent accepts it)
};

struct DiffOptions {
  // Removal candidates become kRemove with events (organization.deleted, user.left); without it
  // they are kKept and cause no event.
  bool prune = false;
  // Opaque name of the state `current` was read from (e.g. the last stored event of the source).
  // Event id = "decl_" + hex SHA-256 of ("tenantsync-declared-v1", base_revision, type, data),
  // so the same file diffed against the same state always yields the same ids (two concurrent
  // applies of one file deduplicate in the inbox), while going back to an earlier version after
  // other changes (a different base) yields new ids that are not mistaken for duplicates.
  std::string base_revision;
};

struct Plan {
  // Organizations, then users; within each, the declared ones by external_id, then the ones no
  // longer declared (kRemove / kKept) by external_id. Unchanged entities are only counted.
  std::vector<EntityChange> changes;
  std::vector<PlannedEvent> events;  // in the order they must be stored (see DiffDeclared)
  size_t to_create = 0;
  size_t to_change = 0;
  size_t to_remove = 0;
  size_t kept = 0;            // no longer declared, kept (only without prune)
  size_t unchanged = 0;       // declared and current with the same content
  size_t stays_in_auth0 = 0;  // fields with FieldChange::stays_in_auth0
  bool empty() const { return events.empty() && kept == 0; }
};

// The plan that turns `current` (the desired state this source holds now) into `declared`.
// Events, in order: organization.upserted (creates and changes; a create carries every field,
// with null/[]/{} for what is not declared; a change carries only the changed fields, metadata
// keys to remove as null), user.returned (a declared user who had left), user.upserted (same
// rule; `organizations` is always the complete list when it changed), user.blocked /
// user.unblocked, then with prune: user.left, organization.deleted. A user who left and is no
// longer declared is neither a candidate nor counted. Pure and deterministic.
Plan DiffDeclared(const DeclaredState& declared, const DeclaredState& current,
                  const DiffOptions& options = {});

// Text like `terraform plan`:
//   + organization acme            (declared at orgs.yaml:3)
//       + name: "acme"
//   ~ user u-17
//       ~ name: "Ann" → "Anne"
//       - app_metadata.legacy: true
//   - organization old-co          (no longer declared: will be deleted)
//   = user u-3: no longer declared, kept (prune removes it)
//
//   Plan: 1 to create, 1 to change, 1 to remove, 12 unchanged (1 no longer declared, kept).
// The summary line is always there (the parenthesis only when something is kept or stays in
// Auth0); values are JSON; `+ field` is a value added, `~ field: old → new` a change,
// `- field: old` a removal, followed by a `! Auth0 keeps it: …` line when Auth0 cannot remove it.
std::string RenderPlan(const Plan& plan);

}  // namespace tenantsync::declared
