// `tenantsync apply FILE|DIR... [--source NAME] [--plan] [--prune] [--yes] [--wait]
// [--timeout SECONDS]` (issue 15, docs/DECLARED.md, SPEC §10 in docs/SPEC-10-DECLARED.md).
//
// Reads and validates the declared files (ParseDeclared), reads the source's last applied state
// and revision from the daemon (GET /v1/sources/{name}/declared), plans (DiffDeclared against
// that revision) and prints the plan (RenderPlan), its cost in Auth0 requests (EstimatePlanCost,
// with the configuration's [policy]) and warnings about fields a live source set after the last
// apply (GET /v1/sources/{name}/live-fields, RenderLiveWarnings). With --plan nothing else happens.
// Otherwise, unless the plan has no events ("No changes.", nothing is sent), it asks for
// confirmation on a terminal (--yes skips it; without a terminal --yes is required) and posts the
// events and the new state (POST /v1/sources/{name}/apply), which the daemon stores in one
// transaction only if the revision is still the planned one. --wait then polls the daemon until the
// events are applied and the writer has nothing left to do, and reports what failed.
//
// Exit codes: 0 done (or converged with --wait); 1 the daemon refused (e.g. 409: another apply
// landed first), confirmation declined, or --wait saw a failure (failed events, dead or failed
// mutations of the touched entities, the guard holding destructive work); 2 usage, configuration
// or validation problems (every `file:line: field: message` printed); 3 daemon unreachable;
// 4 --wait timed out.
#pragma once

#include <string>
#include <vector>

#include "daemon/cli.h"

namespace tenantsync {

struct ApplyOptions {
  std::vector<std::string> paths;
  std::string source;  // empty: the one declared source, if there is exactly one
  bool plan_only = false;
  bool prune = false;
  bool yes = false;
  bool wait = false;
  int timeout_seconds = 600;
};

int CliApply(const CliOptions& cli, const ApplyOptions& options);

}  // namespace tenantsync
