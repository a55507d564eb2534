// The operator CLI (SPEC §7): commands that talk to a running daemon's admin API, and `send`,
// which signs and posts an event exactly as a real sender would.
//
// Every command returns a process exit code: 0 success; 1 the daemon answered with an error (its
// message is printed on one line); 2 bad usage or configuration; 3 the daemon could not be
// reached. Output is a readable table by default and the daemon's JSON with --json.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/clock.h"
#include "storage/state_store.h"

namespace tenantsync {

struct CliOptions {
  std::string config_path;
  std::string admin;       // overrides [admin].listen
  std::string token_file;  // overrides [admin].token_file
  bool json = false;
};

struct SendOptions {
  std::string source;
  std::string type;
  std::string data = "{}";
  std::string id;         // default: a fresh random id
  std::string timestamp;  // default: now (RFC 3339, UTC, milliseconds)
  std::string url;        // default: http://<[ingress].listen>
};

// `clock` stamps the event's default timestamp and the signature's time.
int CliSend(const CliOptions& cli, const SendOptions& send, const Clock& clock);
int CliStatus(const CliOptions& cli);
// `tenantsync wait`: polls GET /v1/status until no work is left now or within a minute (twice
// in a row), showing progress (a live bar on a terminal, a plain line every few seconds
// otherwise). Exit codes: 0 converged; 1 failures appeared while waiting (dead letters, failed or
// rejected events), the guard holds work, or the daemon answered an error; 2 timeout or bad
// usage; 3 daemon unreachable. Implemented in cli_apply.cpp beside `apply --wait`.
int CliWait(const CliOptions& cli, int timeout_seconds);
int CliEvents(const CliOptions& cli, const std::string& state, const std::string& source,
              int limit);
int CliEvent(const CliOptions& cli, const std::string& id, const std::string& source);
int CliReplay(const CliOptions& cli, const std::string& id, const std::string& source);
// GET /v1/vendor-notifications as a table, newest first; state: "" or pending | mapped | failed.
int CliVendorNotifications(const CliOptions& cli, const std::string& state,
                           const std::string& source, int limit);
// POST /v1/vendor-notifications/{source}/{event_id}/replay: a failed notification is taken again
// (the stored record is mapped without a fetch; without one it is fetched again).
int CliVendorReplay(const CliOptions& cli, const std::string& source, const std::string& event_id);
// kind: "user" or "org". logs: also fetch the user's recent Auth0 log events.
int CliEntity(const CliOptions& cli, EntityKind kind, const std::string& external_id, bool logs);
int CliMutations(const CliOptions& cli, const std::string& state, int limit);
// action: "retry" or "discard".
int CliMutationAction(const CliOptions& cli, const std::string& id, const std::string& action);
int CliPlan(const CliOptions& cli);
// Runs a drift comparison now (POST /v1/drift/run); mode "report", "correct" or "" (configured).
int CliDrift(const CliOptions& cli, const std::string& mode);
// action: "approve" or "reject"; `by` (reject only; nullopt: the daemon's default) names who
// rejects, recorded with the rejected events.
int CliGuard(const CliOptions& cli, const std::string& action,
             const std::optional<std::string>& by);
// path: "/v1/pause", "/v1/resume", ... (a POST without body whose answer is printed).
int CliPost(const CliOptions& cli, const std::string& path);

// One admin API call with the address and token `cli` resolves (flags, else the config): the
// answer's JSON, or nullopt after printing a one-line error with *code set (1 the daemon answered
// an error, 2 configuration, 3 unreachable). Used by the commands in other files (cli_apply.cpp).
// Percent-encodes `s` for one URL path segment or query value (RFC 3986 unreserved bytes kept).
std::string PercentEncode(const std::string& s);

// The declared source a command acts on (apply, export): `given` when not empty, else the only
// source with scheme = "declared" (GET /v1/sources). nullopt after a one-line error on stderr,
// with *code set: 2 when there is none or several, else CliAdminCall's code.
std::optional<std::string> ChooseDeclaredSource(const CliOptions& cli, const std::string& given,
                                                int* code);

std::optional<nlohmann::json> CliAdminCall(const CliOptions& cli, const std::string& method,
                                           const std::string& path, int* code,
                                           const std::string& body = "", int timeout_seconds = 30);

}  // namespace tenantsync
