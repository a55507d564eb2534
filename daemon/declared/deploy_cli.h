// The Auth0 Deploy CLI's YAML layout for organizations (issue 15 item 5; docs/DECLARED.md
// "The Auth0 Deploy CLI layout"), read by `tenantsync apply` and written by
// `tenantsync export --format deploy-cli`.
//
// The Deploy CLI (github.com/auth0/auth0-deploy-cli) keeps a tenant in tenant.yaml, whose
// `organizations:` section is a list of {name, display_name, branding, metadata, connections:
// [{name | connection_id, assign_membership_on_login, show_as_button, ...}], client_grants,
// token_quota, discovery_domains} (src/tools/auth0/handlers/organizations.ts, its schema;
// src/context/yaml/handlers/organizations.ts, which dumps connections by name). It identifies an
// organization by its name and has no users.
//
// Reading: a document in that layout is converted into tenantsync's layout before the usual
// validation, so every rule and every file:line: field message stays the same. Pure; nothing
// here throws.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "daemon/declared/declared.h"

namespace tenantsync::declared {

// A document is in the Deploy CLI layout when it is a mapping without `users` whose
// `organizations` is a non-empty list of mappings none of which has an `external_id`.
bool IsDeployCliDocument(const nlohmann::json& root);

struct LayoutNote {
  std::string pointer;  // RFC 6901 pointer of the value concerned
  std::string message;
  bool error = false;  // false: a warning (something ignored), true: a problem
};

// Converts a Deploy CLI document in place into tenantsync's layout:
//   - every organization gets external_id = its name;
//   - keys tenantsync does not manage are dropped with a warning: other top-level sections
//     (tenant, clients, connections, ...), an organization's `id`, `client_grants`,
//     `token_quota`, `discovery_domains`, a connection's `connection_id` (when it also has a
//     name), `is_signup_enabled`, `organization_access_level`, `is_enabled`,
//     `organization_connection_name`;
//   - a connection with a `connection_id` and no `name` is an error: an Auth0 connection id
//     cannot be resolved without Auth0; the Deploy CLI's own export names connections;
//   - every other key is left for the validator (an unknown key is refused as usual).
// One warning at "/organizations" always says the file was read in this layout.
void ConvertDeployCli(nlohmann::json* root, std::vector<LayoutNote>* notes);

// `tenantsync export --format deploy-cli`: the organizations of `state` as a Deploy CLI
// tenant.yaml with only the `organizations:` section:
//   organizations: [{name, display_name?, branding?: {logo_url?, colors?}, metadata?,
//                    connections: [{name, assign_membership_on_login?, show_as_button?}]}]
// (`connections` always written: the Deploy CLI's update code expects the list). What the
// layout cannot hold is reported in `warnings` (one line each): users, callback URLs, and an
// organization whose external_id differs from its name (read back, it would be declared
// under its name).
Result<std::string> EmitDeployCli(const DeclaredState& state, std::vector<std::string>* warnings);

}  // namespace tenantsync::declared
