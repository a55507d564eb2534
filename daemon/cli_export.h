// `tenantsync export [--source NAME] [--format yaml|json|deploy-cli] [--output FILE]` (issue 15
// item 5, docs/DECLARED.md "tenantsync export", SPEC §10.8 in docs/SPEC-10-DECLARED.md).
//
// Writes the managed state of a declared source — the state its last apply declared (kept
// entities included, users who left not), joined with the Auth0 ids tenantsync knows as the
// read-only `auth0_id` key — in the file format `apply` reads, so `export` then `apply --plan`
// shows "No changes.". `--format deploy-cli` writes the organizations in the Auth0 Deploy CLI's
// tenant.yaml layout instead (what that layout cannot hold is listed on stderr as warnings).
// Standard output unless `--output FILE`, which is written to a temporary file in the same
// directory and renamed over FILE.
//
// Exit codes: 0 written; 1 the daemon answered an error or an unreadable state, or FILE could
// not be written; 2 usage or configuration; 3 daemon unreachable.
#pragma once

#include <string>

#include "daemon/cli.h"

namespace tenantsync {

struct ExportOptions {
  std::string source;  // empty: the one declared source, if there is exactly one
  std::string format;  // "yaml", "json", "deploy-cli"; empty: json when --output ends in .json
  std::string output;  // empty: standard output
};

int CliExport(const CliOptions& cli, const ExportOptions& options);

}  // namespace tenantsync
