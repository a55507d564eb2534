// tenantsync: one binary for the daemon (`serve`) and the operator commands.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/log.h"
#include "daemon/cli.h"
#include "daemon/cli_apply.h"
#include "daemon/cli_export.h"
#include "daemon/cli_mapping.h"
#include "daemon/daemon.h"

int main(int argc, char** argv) {
  CLI::App app{
      "tenantsync keeps an Auth0 tenant in step with your systems of record.\n"
      "Signed webhooks in, one careful writer out."};
  app.require_subcommand(1);
  app.fallthrough();  // global options (--log-format) may follow the subcommand
  app.footer(
      "Examples:\n"
      "  tenantsync serve --config /etc/tenantsync/tenantsync.toml\n"
      "  tenantsync migrate --config ./tenantsync.toml\n"
      "Run `tenantsync COMMAND --help` for a command's options.");

  std::string config_path = "/etc/tenantsync/tenantsync.toml";
  std::string log_format = "text", log_level = "info";
  app.add_option("--log-format", log_format, "Log line format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));

  tenantsync::ServeFlags serve_flags;
  auto* serve = app.add_subcommand("serve", "Run the daemon: webhook ingress, writer, admin API");
  serve->add_option("--config,-c", config_path, "Configuration file")->capture_default_str();
  serve->add_flag("--dry-run", serve_flags.dry_run,
                  "Run the whole pipeline but record planned Auth0 writes instead of sending them");
  serve->footer("Example:\n  tenantsync serve --config /etc/tenantsync/tenantsync.toml");

  auto* migrate = app.add_subcommand("migrate", "Apply pending database migrations and exit");
  migrate->add_option("--config,-c", config_path, "Configuration file")->capture_default_str();
  migrate->footer("Example:\n  tenantsync migrate --config /etc/tenantsync/tenantsync.toml");

  std::string backup_to;
  auto* backup =
      app.add_subcommand("backup", "Write a consistent copy of the database while the daemon runs");
  backup->add_option("--config,-c", config_path, "Configuration file")->capture_default_str();
  backup->add_option("--to", backup_to, "Destination file (must not exist)")->required();
  backup->footer("Example:\n  tenantsync backup --to /var/backups/tenantsync-$(date +%F).db");

  // `mapping test` (issue 18; daemon/cli_mapping.h): what a vendor payload becomes, offline.
  tenantsync::MappingTestOptions mapping_test;
  auto* mapping_cmd = app.add_subcommand("mapping", "Vendor connector mappings");
  mapping_cmd->require_subcommand(1);
  auto* mapping_test_cmd =
      mapping_cmd->add_subcommand("test", "Show the events a vendor payload becomes");
  mapping_test_cmd->add_option("--config,-c", config_path, "Configuration file")
      ->capture_default_str();
  mapping_test_cmd->add_option("--source", mapping_test.source, "Vendor source name")->required();
  mapping_test_cmd->add_option("--payload", mapping_test.payload_file, "The body as posted")
      ->required();
  mapping_test_cmd->add_option("--record", mapping_test.record_file,
                               "A JSON file holding the vendor's record (instead of fetching)");
  mapping_test_cmd->add_option("--content-type", mapping_test.content_type,
                               "The payload's Content-Type (default application/json)");
  mapping_test_cmd->add_flag("--fetch", mapping_test.fetch,
                             "Fetch the record from the vendor's API (credentials_file)");
  mapping_test_cmd->add_flag("--stored", mapping_test.stored,
                             "The payload is a stored vendor event: map its record, never fetch");
  mapping_test_cmd->footer(
      "Example:\n  tenantsync mapping test --source bamboo --payload delivery.json "
      "--record employee.json");

  // Operator commands: they talk to a running daemon's admin API.
  tenantsync::CliOptions cli;
  auto operator_command = [&](const std::string& name, const std::string& help) {
    auto* cmd = app.add_subcommand(name, help);
    cmd->add_option("--config,-c", config_path, "Configuration file (admin address and token)")
        ->capture_default_str();
    cmd->add_option("--admin", cli.admin,
                    "Admin API address (HOST:PORT or unix:/path); overrides the config");
    cmd->add_option("--token-file", cli.token_file,
                    "File holding the admin token; overrides the config");
    cmd->add_flag("--json", cli.json, "Print the daemon's JSON instead of a table");
    return cmd;
  };

  tenantsync::SendOptions send;
  auto* send_cmd = operator_command(
      "send", "Sign an event with a source's scheme and post it, like a real sender");
  send_cmd->add_option("--source", send.source, "Source name from the config")->required();
  send_cmd->add_option("--type", send.type, "Event type, e.g. user.upserted")->required();
  send_cmd->add_option("--data", send.data, "The event's data as a JSON object")
      ->capture_default_str();
  send_cmd->add_option("--id", send.id, "Event id (default: a fresh random id)");
  send_cmd->add_option("--timestamp", send.timestamp,
                       "RFC 3339 time of the change (default: now, UTC with milliseconds)");
  send_cmd->add_option("--url", send.url, "Ingress address (default: [ingress].listen)");
  send_cmd->footer(
      "Example:\n  tenantsync send --source hr --type user.upserted \\\n"
      "    --data '{\"external_id\":\"emp-1\",\"email\":\"ada@example.com\"}'");

  auto* status_cmd =
      operator_command("status", "Show sync health: events and mutations by state, lag, guard");
  status_cmd->footer("Example:\n  tenantsync status --json");

  int wait_timeout = 3600;
  auto* wait_cmd = operator_command(
      "wait", "Wait until a burst has converged, showing progress (a bar on a terminal)");
  wait_cmd->remove_option(wait_cmd->get_option("--json"));  // progress is text for people
  wait_cmd->add_option("--timeout", wait_timeout, "Give up after SECONDS (exit 2)")
      ->capture_default_str();
  wait_cmd->footer(
      "Exit codes: 0 converged, 1 failures appeared while waiting (dead letters, failed events) "
      "or the guard holds work, 2 timeout, 3 daemon unreachable.\n"
      "Example:\n  tenantsync wait --timeout 7200 | tee backfill.log");

  std::string ev_state, ev_source;
  int ev_limit = 50;
  auto* events_cmd = operator_command("events", "List received events");
  events_cmd
      ->add_option("--state", ev_state,
                   "pending (not applied yet: due or scheduled), due (pending and due now), "
                   "scheduled (pending, effective_at still ahead), applied, rejected or failed")
      ->check(CLI::IsMember({"pending", "due", "scheduled", "applied", "rejected", "failed"}));
  events_cmd->add_option("--source", ev_source, "Only this source");
  events_cmd->add_option("--limit", ev_limit, "At most this many (1-1000)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  events_cmd->footer(
      "Example:\n  tenantsync events --state rejected\n  tenantsync events --state scheduled");

  std::string event_id;
  auto* event_cmd = operator_command("event", "Show one event, its body and what happened to it");
  event_cmd->add_option("ID", event_id, "The sender's event id")->required();
  event_cmd->add_option("--source", ev_source, "Source, when two sources used the same id");
  event_cmd->footer("Example:\n  tenantsync event msg_2Yh3 --source hr");

  auto* replay_cmd =
      operator_command("replay", "Re-apply a rejected or failed event (after fixing its cause)");
  replay_cmd->add_option("ID", event_id, "The sender's event id")->required();
  replay_cmd->add_option("--source", ev_source, "Source, when two sources used the same id");
  replay_cmd->footer("Example:\n  tenantsync replay msg_2Yh3");

  std::string vn_state, vn_source, vn_event_id;
  int vn_limit = 50;
  auto* vn_cmd = operator_command("vendor-notifications",
                                  "List vendor (HR/CRM) notifications: pending, mapped or failed");
  vn_cmd->add_option("--state", vn_state, "pending, mapped or failed")
      ->check(CLI::IsMember({"pending", "mapped", "failed"}));
  vn_cmd->add_option("--source", vn_source, "Only this vendor source");
  vn_cmd->add_option("--limit", vn_limit, "At most this many, newest first (1-1000)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  vn_cmd->require_subcommand(0, 1);
  auto* vn_replay_cmd = vn_cmd->add_subcommand(
      "replay", "Take a failed vendor notification again (after fixing its cause)");
  vn_replay_cmd->add_option("SOURCE", vn_source, "The vendor source")->required();
  vn_replay_cmd->add_option("EVENT_ID", vn_event_id, "The notification's event id")->required();
  vn_cmd->footer(
      "Examples:\n  tenantsync vendor-notifications --state failed\n"
      "  tenantsync vendor-notifications replay bamboo EVENT_ID   # EVENT_ID as listed");

  std::string external_id;
  bool with_logs = false;
  auto* user_cmd = operator_command(
      "user", "What happened to this person: desired state, Auth0 id, events, mutations");
  user_cmd->add_option("EXTERNAL_ID", external_id, "The user's external_id at the source")
      ->required();
  user_cmd->add_flag("--logs", with_logs,
                     "Also show the user's 20 latest Auth0 log events (date, event, description, "
                     "ip, application); with --json, Auth0's events as received, in auth0_logs");
  user_cmd->footer(
      "Example:\n  tenantsync user emp-1042 --logs\n  tenantsync user emp-1042 --logs --json");
  auto* org_cmd =
      operator_command("org", "An organization: desired state, Auth0 id, events, mutations");
  org_cmd->add_option("EXTERNAL_ID", external_id, "The organization's external_id at the source")
      ->required();
  org_cmd->footer("Example:\n  tenantsync org acme");

  std::string mu_state;
  int mu_limit = 50;
  auto* mutations_cmd = operator_command("mutations", "List Auth0 writes (newest first)");
  mutations_cmd
      ->add_option("--state", mu_state,
                   "pending, in_flight, done, failed, dead, discarded or superseded")
      ->check(CLI::IsMember(
          {"pending", "in_flight", "done", "failed", "dead", "discarded", "superseded"}));
  mutations_cmd->add_option("--limit", mu_limit, "At most this many (1-1000)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  mutations_cmd->footer("Example:\n  tenantsync mutations --state dead");
  std::string mutation_id;
  auto* retry_cmd =
      operator_command("retry", "Retry a dead or failed mutation (re-plans its entity)");
  retry_cmd->add_option("ID", mutation_id, "Mutation id")->required()->check(CLI::PositiveNumber);
  retry_cmd->footer("Example:\n  tenantsync mutations --state dead\n  tenantsync retry 1042");
  auto* discard_cmd = operator_command("discard", "Discard a dead or failed mutation");
  discard_cmd->add_option("ID", mutation_id, "Mutation id")->required()->check(CLI::PositiveNumber);
  discard_cmd->footer("Example:\n  tenantsync discard 1042");
  auto* pause_cmd = operator_command(
      "pause", "Pause the writer: events are still accepted and stored, nothing is sent");
  pause_cmd->footer("Example:\n  tenantsync pause && tenantsync status");
  auto* resume_cmd = operator_command("resume", "Resume the writer");
  resume_cmd->footer("Example:\n  tenantsync resume");

  std::string guard_action;
  auto* guard_cmd =
      operator_command("guard", "Approve or reject destructive work held by the tripped guard");
  guard_cmd
      ->add_option("ACTION", guard_action,
                   "approve (held work proceeds) or reject (held work is discarded)")
      ->required()
      ->check(CLI::IsMember({"approve", "reject"}));
  std::string guard_by;
  auto* guard_by_opt = guard_cmd->add_option(
      "--by", guard_by,
      "reject only: who rejects, recorded with the rejected events (default: $USER)");
  guard_cmd->footer(
      "Example:\n  tenantsync status        # guard.held shows what is held\n  tenantsync guard "
      "approve\n  tenantsync guard reject --by alice");

  auto* plan_cmd =
      operator_command("plan", "Show what the writer would send to Auth0 now, without sending it");
  plan_cmd->footer(
      "Example:\n  tenantsync pause && tenantsync plan   # inspect, then: tenantsync resume");

  std::string drift_mode;
  auto* drift_cmd = operator_command(
      "drift", "Compare Auth0 with what tenantsync last wrote, now; report or correct");
  drift_cmd
      ->add_option("--mode", drift_mode,
                   "report (change nothing) or correct (default: [policy].drift_mode)")
      ->check(CLI::IsMember({"report", "correct"}));
  drift_cmd->footer("Example:\n  tenantsync drift --mode report");

  tenantsync::ApplyOptions apply;
  auto* apply_cmd = operator_command(
      "apply", "Plan and apply organizations and users declared in files (a declared source)");
  // The plan is text for people (RenderPlan); apply has no JSON form, so no --json to offer.
  apply_cmd->remove_option(apply_cmd->get_option("--json"));
  apply_cmd->add_option("FILE_OR_DIR", apply.paths, ".yaml, .yml or .json files, or directories")
      ->required();
  apply_cmd->add_option("--source", apply.source,
                        "Declared source (default: the only one with scheme = \"declared\")");
  apply_cmd->add_flag("--plan", apply.plan_only, "Only print the plan; change nothing");
  apply_cmd->add_flag("--prune", apply.prune,
                      "Remove what is no longer declared (organizations deleted, users left)");
  apply_cmd->add_flag("--yes", apply.yes, "Apply without asking for confirmation (CI)");
  apply_cmd->add_flag("--wait", apply.wait,
                      "Wait until the writer has applied the changes; non-zero on failure");
  apply_cmd->add_option("--timeout", apply.timeout_seconds, "--wait gives up after SECONDS")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  apply_cmd->footer(
      "Examples:\n  tenantsync apply declared/ --plan\n"
      "  tenantsync apply declared/ --yes --wait --timeout 300");

  tenantsync::ExportOptions export_opts;
  auto* export_cmd = operator_command(
      "export", "Write a declared source's state (with Auth0 ids) as a file apply reads");
  export_cmd->remove_option(export_cmd->get_option("--json"));
  export_cmd->add_option("--source", export_opts.source,
                         "Declared source (default: the only one with scheme = \"declared\")");
  export_cmd
      ->add_option("--format", export_opts.format,
                   "yaml, json or deploy-cli (default: json for an --output ending in .json, "
                   "else yaml)")
      ->check(CLI::IsMember({"yaml", "json", "deploy-cli"}));
  export_cmd->add_option("--output", export_opts.output,
                         "Write to FILE (through a temporary file and a rename), not stdout");
  export_cmd->footer(
      "Examples:\n  tenantsync export --output declared/all.yaml\n"
      "  tenantsync export --format deploy-cli > tenant.yaml");

  // Usage errors exit 2 like every other usage or configuration error (CLI11's own codes, 100
  // and up, are not part of the documented exit codes); --help exits 0.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  cli.config_path = config_path;

  tenantsync::LogOptions log;
  log.format = log_format == "json" ? tenantsync::LogFormat::kJson : tenantsync::LogFormat::kText;
  log.level = log_level;
  log.journald = tenantsync::StderrIsJournal();
  tenantsync::InitLogging(log);

  if (*serve) {
    serve_flags.config_path = config_path;
    return tenantsync::RunServe(serve_flags);
  }
  if (*migrate) return tenantsync::RunMigrate(config_path);
  if (*backup) return tenantsync::RunBackup(config_path, backup_to);
  if (*mapping_test_cmd)
    return tenantsync::CliMappingTest(config_path, mapping_test, tenantsync::SystemClock());
  if (*send_cmd) return tenantsync::CliSend(cli, send, tenantsync::SystemClock());
  if (*status_cmd) return tenantsync::CliStatus(cli);
  if (*wait_cmd) return tenantsync::CliWait(cli, wait_timeout);
  if (*events_cmd) return tenantsync::CliEvents(cli, ev_state, ev_source, ev_limit);
  if (*event_cmd) return tenantsync::CliEvent(cli, event_id, ev_source);
  if (*replay_cmd) return tenantsync::CliReplay(cli, event_id, ev_source);
  if (*vn_replay_cmd) return tenantsync::CliVendorReplay(cli, vn_source, vn_event_id);
  if (*vn_cmd) return tenantsync::CliVendorNotifications(cli, vn_state, vn_source, vn_limit);
  if (*user_cmd)
    return tenantsync::CliEntity(cli, tenantsync::EntityKind::kUser, external_id, with_logs);
  if (*org_cmd)
    return tenantsync::CliEntity(cli, tenantsync::EntityKind::kOrganization, external_id, false);
  if (*mutations_cmd) return tenantsync::CliMutations(cli, mu_state, mu_limit);
  if (*retry_cmd) return tenantsync::CliMutationAction(cli, mutation_id, "retry");
  if (*discard_cmd) return tenantsync::CliMutationAction(cli, mutation_id, "discard");
  if (*pause_cmd) return tenantsync::CliPost(cli, "/v1/pause");
  if (*guard_cmd) {
    if (guard_action != "reject") {
      if (guard_by_opt->count() > 0) {
        std::fprintf(stderr, "tenantsync: --by applies to guard reject only\n");
        return 2;
      }
      return tenantsync::CliGuard(cli, guard_action, std::nullopt);
    }
    // Who rejects: --by, else the login name; without either the daemon records "admin API".
    std::optional<std::string> by;
    if (guard_by_opt->count() > 0) {
      by = guard_by;
    } else if (const char* user = std::getenv("USER"); user != nullptr && *user != '\0') {
      by = user;
    }
    return tenantsync::CliGuard(cli, guard_action, by);
  }
  if (*plan_cmd) return tenantsync::CliPlan(cli);
  if (*drift_cmd) return tenantsync::CliDrift(cli, drift_mode);
  if (*apply_cmd) return tenantsync::CliApply(cli, apply);
  if (*export_cmd) return tenantsync::CliExport(cli, export_opts);
  if (*resume_cmd) return tenantsync::CliPost(cli, "/v1/resume");
  return 1;
}
