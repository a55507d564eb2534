// The cost of a declared plan in Auth0 requests (issue 15): what the writer's planners
// (daemon/planning/planners.cpp) and its step executor will send to the Management API and the
// Authentication API to carry out the plan, counted per change from the plan and the two states
// it was computed from. Pure: no storage, no network, no clock.
//
// The count assumes Auth0 holds what the source's current state says (the writer's known state
// matches it) and that nothing else changes the same entities meanwhile. Where the writer's
// behaviour depends on what only the daemon or Auth0 knows, the figure is an estimate and the
// item says so (docs/DECLARED.md "The cost of a plan"):
//   - a user created whose email already exists in the connection is adopted (a 409, then
//     GET /users-by-email): one request more per adopted user, not counted;
//   - memberships are counted as ceil(n / member_batch_size) requests per organization, the
//     fewest the writer can send; it sends more batches when users are created while it is
//     already adding members of the same organization;
//   - role and connection ids are looked up once per name the daemon has not looked up yet
//     (Auth0Client caches them): counted for names this source's current state does not use, so
//     a restarted daemon may send a few more; the application is enabled on a connection once
//     ever per connection: counted for connections this source did not use before;
//   - the application's callbacks are read once and written once per apply that changes an
//     organization (every organization event makes the writer re-read the list); a second read
//     happens when the writer reads the list before and after an organization is created.
//   - users created by import jobs: the files are counted from records like the writer's (the
//     same fields, no password), and each job as polled once; a job still running when first
//     polled costs one GET more per poll, and the writer imports only the creates pending when it
//     looks, so a burst folded in several batches may give more, smaller jobs;
//   - the deletion of a pruned user delete_after_days later (`later`) is not part of the apply.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/declared/declared.h"

namespace tenantsync::declared {

// The [policy] and [auth0] settings the count depends on (defaults: the configuration's).
struct CostPolicy {
  bool invite_password_reset = true;  // on_create has "send_password_reset" (Authentication API)
  bool invite_verification = false;   // on_create has "send_verification_email"
  bool block_on_leave = true;         // on_leave has "block"
  bool remove_memberships_on_leave = true;  // on_leave has "remove_memberships"
  bool revoke_sessions_on_leave = true;     // on_leave has "revoke_sessions"
  int delete_after_days = 0;
  int member_batch_size = 10;  // [auth0].member_batch_size (1..10)
  // [auth0].import_threshold: at least this many users created (not blocked) go to Auth0 as
  // users-imports jobs (daemon/planning/imports.h), counted as 1 POST + 1 GET of the job + 1 GET
  // of its errors per file; 0: one POST /users each.
  int import_threshold = 50;
};

// One kind of request and how many of it the plan costs.
struct CostItem {
  std::string request;  // "POST /api/v2/organizations/{id}/members"
  std::string why;      // "membership additions, 10 per request"
  int64_t count = 0;
  bool management = true;  // false: Authentication API (/dbconnections/...), not rate-limited
  bool at_most = false;    // a lookup or one-time enable: 0 when the daemon did it already
};

struct PlanCost {
  std::vector<CostItem> items;  // fixed order, only items with count > 0
  int64_t management = 0;       // Management API requests (the tenant's rate limit)
  int64_t authentication = 0;   // Authentication API requests
  int64_t later = 0;            // scheduled after the apply (pruned users deleted later)
  int64_t Total() const { return management + authentication; }
  // The same counts for the Deploy CLI way: one request per object and per membership (an
  // organization create or update, a user create or update, a membership, a removal).
  int64_t naive = 0;
};

// `declared` and `current` are the inputs `plan` was computed from (DiffDeclared); both are
// canonicalised copies internally. Items, in order: organizations (create, update, delete,
// enabled connections), the application's callbacks, users (create, update, block, sessions,
// invitations), memberships, member roles, then lookups and connection enables.
PlanCost EstimatePlanCost(const DeclaredState& declared, const DeclaredState& current,
                          const Plan& plan, const CostPolicy& policy = {});

// Text printed after the plan:
//   Auth0 requests: 57 Management API + 20 Authentication API (estimate; docs/DECLARED.md):
//       20  POST /api/v2/users  (users created)
//       ...
// or "Auth0 requests: none." for a plan without events.
std::string RenderCost(const PlanCost& cost);

}  // namespace tenantsync::declared
