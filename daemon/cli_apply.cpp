#include "daemon/cli_apply.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "daemon/config.h"
#include "daemon/declared/cost.h"
#include "daemon/declared/declared.h"
#include "daemon/declared/live_fields.h"
#include "daemon/declared/state_json.h"
#include "daemon/operators/progress.h"

namespace tenantsync {
namespace {

using Json = nlohmann::json;

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "tenantsync: %s\n", message.c_str());
  return code;
}

// Scheduled work due within this long counts as still to do for --wait.
constexpr int64_t kSoonMs = 60000;

// Shows the progress of a burst on stdout while a command waits (daemon/operators/progress.h):
// a bar redrawn in place when stdout is a terminal, else a plain line every kPlainEveryMs (logs,
// CI). Rates are taken over at least kSampleMs so 300 ms polls do not make them noise.
class ProgressDisplay {
 public:
  static constexpr int64_t kSampleMs = 2000;
  static constexpr int64_t kPlainEveryMs = 5000;

  ProgressDisplay() : tty_(isatty(STDOUT_FILENO) == 1) {}
  ~ProgressDisplay() { Finish(); }

  // `status`: a GET /v1/status answer; one without a progress object (an older daemon) shows
  // nothing. `last`: the final call, always printed.
  void Show(const Json& status, bool last = false) {
    const int64_t now = MonoMs();
    if (!last && sampled_ms_ >= 0 && now - sampled_ms_ < kSampleMs) return;
    auto snap = ProgressSnapshotFromStatus(status, now);
    if (!snap) return;
    const ProgressFigures f = tracker_.Update(*snap);
    sampled_ms_ = now;
    if (tty_) {
      std::fputs(RenderProgressBar(f, Width()).c_str(), stdout);
      bar_shown_ = true;
    } else if (last || printed_ms_ < 0 || now - printed_ms_ >= kPlainEveryMs) {
      std::fputs(RenderProgressLine(f).c_str(), stdout);
      printed_ms_ = now;
    }
    std::fflush(stdout);
  }
  // Ends the bar's line so what follows starts on its own.
  void Finish() {
    if (bar_shown_) std::fputs("\n", stdout);
    bar_shown_ = false;
    std::fflush(stdout);
  }

 private:
  static int64_t MonoMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               SystemClock().Monotonic().time_since_epoch())
        .count();
  }
  static int Width() {
    winsize ws{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 80;
  }

  bool tty_;
  bool bar_shown_ = false;
  ProgressTracker tracker_;
  int64_t sampled_ms_ = -1, printed_ms_ = -1;
};

struct WaitTarget {
  std::string source;
  std::set<std::string> event_ids;
  std::set<std::string> entities;  // writer keys: "org:X", "members:X", "user:X"
  int64_t applied_at_ms = 0;
};

// Polls until the source has no pending event and the writer has nothing due (or scheduled
// within kSoonMs), then reports the failures that concern this apply.
int Wait(const CliOptions& cli, const WaitTarget& t, int timeout_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  int code = 0, quiet = 0;
  Json status;
  std::string busy_reason;
  ProgressDisplay display;
  while (true) {
    auto s = CliAdminCall(cli, "GET", "/v1/status", &code);
    if (!s) return code;
    status = *s;
    display.Show(status);
    auto pending = CliAdminCall(
        cli, "GET", "/v1/events?state=pending&limit=1&source=" + PercentEncode(t.source), &code);
    if (!pending) return code;
    const Json& guard = status.value("guard", Json::object());
    if (guard.value("tripped", false) &&
        guard.value("held", Json::object()).value("total", 0) > 0) {
      display.Finish();
      return Fail(1, "the destructive-change guard tripped and holds " +
                         std::to_string(guard["held"]["total"].get<int64_t>()) +
                         " change(s); see `tenantsync status`, then `tenantsync guard approve` or "
                         "`tenantsync guard reject`");
    }
    const int64_t to_reconcile = status.value("entities_to_reconcile", int64_t{0});
    const Json& scheduled_work = status.value("scheduled_work", Json::object());
    const int64_t scheduled = scheduled_work.value("total", int64_t{0});
    // Scheduled work due soon is part of this apply (the guard holds destructive steps for
    // guard_settle_ms); work due later (a leaver's deletion after delete_after_days) is not
    // waited for. `next` lists the earliest first.
    bool due_soon = false;
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    for (const auto& n : scheduled_work.value("next", Json::array())) {
      due_soon = due_soon || n.value("due_at_ms", int64_t{0}) <= now_ms + kSoonMs;
    }
    const bool events_pending = !(*pending)["events"].empty();
    const bool busy = events_pending || to_reconcile - scheduled > 0 || due_soon;
    busy_reason = events_pending ? "events of source \"" + t.source + "\" not applied yet"
                  : due_soon
                      ? "work scheduled within a minute"
                      : std::to_string(to_reconcile - scheduled) + " entities still to reconcile";
    // Twice in a row: a worker that just finished may still be marking follow-up work.
    quiet = busy ? 0 : quiet + 1;
    if (quiet >= 2) {
      display.Show(status, true);
      display.Finish();
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      display.Finish();
      return Fail(4, "not converged within " + std::to_string(timeout_seconds) + " s (" +
                         busy_reason + "); `tenantsync status` shows the progress");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }

  std::vector<std::string> failures;
  for (const char* state : {"failed", "rejected"}) {
    auto list = CliAdminCall(
        cli, "GET",
        std::string("/v1/events?limit=1000&state=") + state + "&source=" + PercentEncode(t.source),
        &code);
    if (!list) return code;
    for (const auto& e : (*list)["events"]) {
      const std::string id = e.value("event_id", "");
      if (t.event_ids.count(id)) {
        failures.push_back("event " + id + " (" + e.value("type", "?") + ") " + state + ": " +
                           (e["error"].is_string() ? e["error"].get<std::string>() : "-"));
      }
    }
  }
  for (const char* state : {"dead", "failed"}) {
    auto list =
        CliAdminCall(cli, "GET", std::string("/v1/mutations?limit=1000&state=") + state, &code);
    if (!list) return code;
    for (const auto& m : (*list)["mutations"]) {
      if (m.value("created_at_ms", int64_t{0}) < t.applied_at_ms) continue;
      const std::string entity = m.value("entity", "");
      if (!t.entities.count(entity)) continue;
      failures.push_back("mutation " + std::to_string(m.value("id", int64_t{0})) + " " +
                         m.value("kind", "?") + " of " + entity + " " + state + ": " +
                         (m["error"].is_string() ? m["error"].get<std::string>() : "-"));
    }
  }
  if (!failures.empty()) {
    for (const auto& f : failures) std::fprintf(stderr, "  %s\n", f.c_str());
    return Fail(1, std::to_string(failures.size()) +
                       " failure(s) while reconciling this apply (listed above); `tenantsync "
                       "mutations --state dead` and `tenantsync events --state failed` show more");
  }
  std::printf("Converged: the writer applied every event of this apply.\n");
  return 0;
}

// The [policy] and [auth0] settings the cost of a plan depends on; the defaults when the
// configuration cannot be read here (the daemon's own reading is what counts).
declared::CostPolicy CostPolicyOf(const CliOptions& cli) {
  declared::CostPolicy p;
  auto cfg = LoadConfig(cli.config_path);
  if (!cfg.ok()) return p;
  auto has = [](const std::vector<std::string>& list, const char* v) {
    return std::find(list.begin(), list.end(), v) != list.end();
  };
  const PolicyOptions& policy = cfg->policy;
  p.invite_password_reset = has(policy.on_create, "send_password_reset");
  p.invite_verification = has(policy.on_create, "send_verification_email");
  p.block_on_leave = has(policy.on_leave, "block");
  p.remove_memberships_on_leave = has(policy.on_leave, "remove_memberships");
  p.revoke_sessions_on_leave = has(policy.on_leave, "revoke_sessions");
  p.delete_after_days = policy.delete_after_days;
  p.member_batch_size = cfg->auth0.member_batch_size;
  p.import_threshold = cfg->auth0.import_threshold;
  return p;
}

// Warnings about fields a live source set after the source's last apply (SPEC §10.8); "" when
// there is none; a daemon that cannot say prints its error and the plan goes on.
std::string LiveWarnings(const CliOptions& cli, const std::string& source,
                         const declared::DeclaredState& files, const declared::Plan& plan) {
  int code = 0;
  auto j = CliAdminCall(cli, "GET", "/v1/sources/" + PercentEncode(source) + "/live-fields", &code);
  if (!j || !j->contains("fields")) return "";
  auto fields = declared::LiveFieldsFromJson((*j)["fields"]);
  if (!fields.ok()) return "";
  return declared::RenderLiveWarnings(*fields, files, plan, source);
}

bool Confirm(const std::string& question) {
  std::printf("%s", question.c_str());
  std::fflush(stdout);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "yes";
}

}  // namespace

int CliApply(const CliOptions& cli, const ApplyOptions& options) {
  if (options.paths.empty()) return Fail(2, "apply needs at least one FILE or DIR");
  if (options.timeout_seconds <= 0)
    return Fail(2, "--timeout must be a positive number of seconds");
  std::vector<declared::Problem> problems, warnings;
  auto declared = declared::ParseDeclared(options.paths, &problems, &warnings);
  // What a Deploy CLI file holds that tenantsync does not manage (docs/DECLARED.md).
  for (const auto& w : warnings) std::fprintf(stderr, "warning: %s\n", w.ToString().c_str());
  if (!declared.ok()) {
    for (const auto& p : problems) std::fprintf(stderr, "%s\n", p.ToString().c_str());
    if (problems.empty()) std::fprintf(stderr, "%s\n", declared.status().message().c_str());
    return Fail(2, std::to_string(std::max<size_t>(problems.size(), 1)) +
                       " problem(s) in the declared files; nothing was applied");
  }

  int code = 0;
  auto source = ChooseDeclaredSource(cli, options.source, &code);
  if (!source) return code;
  auto current_json =
      CliAdminCall(cli, "GET", "/v1/sources/" + PercentEncode(*source) + "/declared", &code);
  if (!current_json) return code;
  if (!(*current_json)["revision"].is_number_integer())
    return Fail(1, "the daemon answered a declared state without a revision");
  const int64_t revision = (*current_json)["revision"].get<int64_t>();
  auto current = declared::StateFromJson((*current_json)["state"]);
  if (!current.ok())
    return Fail(1, "the daemon's declared state is unreadable: " + current.status().message());

  declared::DiffOptions diff_options;
  diff_options.prune = options.prune;
  diff_options.base_revision = std::to_string(revision);
  const declared::Plan plan = declared::DiffDeclared(*declared, *current, diff_options);
  std::printf("%s", declared::RenderPlan(plan).c_str());
  if (!plan.events.empty()) {
    const declared::PlanCost cost =
        declared::EstimatePlanCost(*declared, *current, plan, CostPolicyOf(cli));
    std::printf("%s", declared::RenderCost(cost).c_str());
  }
  if (const std::string live = LiveWarnings(cli, *source, *declared, plan); !live.empty())
    std::printf("%s", live.c_str());
  if (plan.events.empty()) {
    std::printf("No changes.\n");
    return 0;
  }
  std::printf("%zu event(s) for source \"%s\" (revision %lld).\n", plan.events.size(),
              source->c_str(), static_cast<long long>(revision));
  if (options.plan_only) return 0;

  if (!options.yes) {
    if (!isatty(STDIN_FILENO)) {
      return Fail(2,
                  "standard input is not a terminal, so the plan cannot be confirmed; pass "
                  "--yes to apply without asking (CI), or --plan to only print it");
    }
    if (!Confirm("Apply these changes to source \"" + *source + "\"? Only 'yes' applies: ")) {
      std::printf("Apply cancelled.\n");
      return 1;
    }
  }

  Json events = Json::array();
  WaitTarget target;
  target.source = *source;
  for (const auto& e : plan.events) {
    events.push_back({{"event_id", e.event_id}, {"type", EventTypeName(e.type)}, {"data", e.data}});
    target.event_ids.insert(e.event_id);
    if (IsOrganizationEvent(e.type)) {
      target.entities.insert("org:" + e.external_id);
      target.entities.insert("members:" + e.external_id);
    } else {
      target.entities.insert("user:" + e.external_id);
      for (const auto& m : e.data.value("organizations", Json::array()))
        target.entities.insert("members:" + m.value("external_id", ""));
    }
  }
  const Json state =
      declared::StateToJson(declared::StateAfterApply(*declared, *current, options.prune));
  const Json body = {{"base_revision", revision}, {"events", events}, {"state", state}};
  auto applied =
      CliAdminCall(cli, "POST", "/v1/sources/" + PercentEncode(*source) + "/apply", &code,
                   body.dump(-1, ' ', false, Json::error_handler_t::replace), 300);
  if (!applied) return code;
  const size_t duplicates = (*applied)["duplicates"].size();
  std::printf("Applied: %zu event(s) stored for source \"%s\"%s; revision %lld.\n",
              (*applied)["event_ids"].size() - duplicates, source->c_str(),
              duplicates ? (" (" + std::to_string(duplicates) + " already there)").c_str() : "",
              static_cast<long long>((*applied).value("revision", int64_t{0})));
  if (!options.wait) return 0;
  target.applied_at_ms = (*applied).value("applied_at_ms", int64_t{0});
  return Wait(cli, target, options.timeout_seconds);
}

int CliWait(const CliOptions& cli, int timeout_seconds) {
  if (timeout_seconds <= 0) return Fail(2, "--timeout must be a positive number of seconds");
  Clock& clock = SystemClock();
  const auto deadline = clock.Monotonic() + std::chrono::seconds(timeout_seconds);
  // Failures are those that appear while waiting: dead letters and failed events already there
  // are an earlier burst's (`tenantsync status` shows them).
  auto failures = [](const Json& s) {
    const Json& mu = s.value("mutations", Json::object());
    const Json& ev = s.value("events", Json::object());
    return mu.value("dead", int64_t{0}) + mu.value("failed", int64_t{0}) +
           ev.value("failed", int64_t{0}) + ev.value("rejected", int64_t{0});
  };
  int code = 0, quiet = 0;
  std::optional<int64_t> failures_at_start;
  ProgressDisplay display;
  while (true) {
    auto s = CliAdminCall(cli, "GET", "/v1/status", &code);
    if (!s) {
      display.Finish();
      return code;  // CliAdminCall printed why: 1 an error answer, 2 configuration, 3 unreachable
    }
    if (!s->contains("progress")) {
      return Fail(1, "the daemon's status has no progress figures (upgrade the daemon)");
    }
    if (!failures_at_start) failures_at_start = failures(*s);
    display.Show(*s);
    const Json& guard = s->value("guard", Json::object());
    if (guard.value("tripped", false) &&
        guard.value("held", Json::object()).value("total", 0) > 0) {
      display.Finish();
      return Fail(1,
                  "the destructive-change guard tripped and holds destructive work; see "
                  "`tenantsync status`, then `tenantsync guard approve` or `reject`");
    }
    const bool busy = (*s)["progress"].value("pending_total", int64_t{0}) > 0;
    // Twice in a row: a worker that just finished may still be marking follow-up work.
    quiet = busy ? 0 : quiet + 1;
    if (quiet >= 2) {
      display.Show(*s, true);
      display.Finish();
      const int64_t new_failures = failures(*s) - *failures_at_start;
      if (new_failures > 0) {
        return Fail(1, std::to_string(new_failures) +
                           " failure(s) while waiting; `tenantsync mutations --state dead` and "
                           "`tenantsync events --state failed` list them");
      }
      std::printf("Converged: nothing left to do now or within a minute.\n");
      return 0;
    }
    if (clock.Monotonic() >= deadline) {
      display.Show(*s, true);
      display.Finish();
      return Fail(2, "not converged within " + std::to_string(timeout_seconds) +
                         " s; `tenantsync status` shows what is left");
    }
    clock.SleepFor(std::chrono::milliseconds(300));
  }
}

}  // namespace tenantsync
