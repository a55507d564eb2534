#include "daemon/cli.h"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "adapters/auth0/log_types.h"
#include "adapters/events/event.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/random.h"
#include "daemon/cli_http.h"
#include "daemon/config.h"

namespace tenantsync {

std::string PercentEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

namespace {

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "tenantsync: %s\n", message.c_str());
  return code;
}

// Now as RFC 3339 UTC with milliseconds ("2026-11-25T10:00:00.123Z"): `timestamp` orders the
// changes, so two events sent within one second must not tie (a tie is broken by event id).
std::string RfcNow(const Clock& clock) {
  const int64_t ms = clock.NowUnixMillis();
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

std::string LocalAddress(const std::string& listen) {
  // A wildcard listen address is reached through loopback.
  std::string host;
  int port = 0;
  if (listen.rfind("unix:", 0) == 0 || !ParseHostPort(listen, &host, &port)) return listen;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

// The admin address and token: from flags, else from the configuration file.
struct AdminTarget {
  std::string address, token;
};

std::optional<AdminTarget> ResolveAdmin(const CliOptions& cli, int* code) {
  AdminTarget t;
  t.address = cli.admin;
  if (!cli.token_file.empty()) {
    auto lines = ReadSecretLines(cli.token_file, ".");
    if (!lines.ok()) {
      *code = Fail(2, lines.status().message());
      return std::nullopt;
    }
    t.token = lines->front();
  }
  if (t.address.empty() || t.token.empty()) {
    auto cfg = LoadConfig(cli.config_path);
    if (!cfg.ok()) {
      *code = Fail(2, cfg.status().message());
      return std::nullopt;
    }
    if (t.address.empty()) t.address = LocalAddress(cfg->admin.listen);
    if (t.token.empty()) t.token = cfg->admin.token;
  }
  return t;
}

// Calls the admin API; prints a one-line error and sets *code on failure.
// `timeout_seconds` bounds the wait for the answer (a drift pass answers when it is done).
std::optional<nlohmann::json> Admin(const CliOptions& cli, const std::string& method,
                                    const std::string& path, int* code,
                                    const std::string& body = "", int timeout_seconds = 30) {
  auto target = ResolveAdmin(cli, code);
  if (!target) return std::nullopt;
  CliHttp http(target->address, timeout_seconds);
  auto r = http.Send(method, path, body, {{"Authorization", "Bearer " + target->token}});
  if (r.status == 0) {
    *code = Fail(3, "cannot reach the admin API at " + target->address + ": " + r.error);
    return std::nullopt;
  }
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status >= 400) {
    std::string msg =
        j.is_object() && j.contains("error")
            ? (j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump())
            : r.body;
    for (char& c : msg) {
      if (c == '\n' || c == '\r') c = ' ';  // the reason stays on one line
    }
    *code = Fail(1, "admin API answered " + std::to_string(r.status) + ": " + msg);
    return std::nullopt;
  }
  if (j.is_discarded()) {
    *code = Fail(1, "admin API answered something that is not JSON");
    return std::nullopt;
  }
  *code = 0;
  return j;
}

std::string Str(const nlohmann::json& j) {
  if (j.is_null()) return "-";
  if (j.is_string()) return j.get<std::string>();
  return j.dump();
}

std::string FormatMs(const nlohmann::json& ms) {
  if (!ms.is_number()) return "-";
  std::time_t t = static_cast<std::time_t>(ms.get<int64_t>() / 1000);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace

int CliSend(const CliOptions& cli, const SendOptions& send, const Clock& clock) {
  auto cfg = LoadConfig(cli.config_path);
  if (!cfg.ok()) return Fail(2, cfg.status().message());
  const SourceConfig* src = cfg->FindSource(send.source);
  if (!src) return Fail(2, "no source named \"" + send.source + "\" in " + cli.config_path);
  auto data = nlohmann::json::parse(send.data, nullptr, false);
  if (data.is_discarded() || !data.is_object()) return Fail(2, "--data must be a JSON object");
  nlohmann::json body = {{"type", send.type},
                         {"timestamp", send.timestamp.empty() ? RfcNow(clock) : send.timestamp},
                         {"data", data}};
  // Check locally first so a typo is explained here, not only by a 422.
  if (auto parsed = ParseEvent(body); !parsed.ok())
    return Fail(2, "event not valid: " + parsed.status().message());
  std::string id = send.id.empty() ? "msg_" + crypto::HexEncode(SecureRandom::Bytes(12)) : send.id;
  std::string text = body.dump();
  std::vector<std::pair<std::string, std::string>> headers =
      SignDelivery(src->signature, id, clock.NowUnixSeconds(), text);
  std::string url = send.url.empty() ? LocalAddress(cfg->ingress.listen) : send.url;
  CliHttp http(url);
  auto r = http.Send("POST", "/webhooks/" + send.source, text, headers);
  if (r.status == 0) return Fail(3, "cannot reach ingress at " + url + ": " + r.error);
  if (cli.json) {
    std::printf("%s\n", r.body.c_str());
  } else {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    std::printf(
        "%d %s event_id=%s%s\n", r.status, j.is_object() ? Str(j["status"]).c_str() : "",
        id.c_str(),
        j.is_object() && !j["error"].is_null() ? (" error=" + Str(j["error"])).c_str() : "");
  }
  return r.status >= 200 && r.status < 300 ? 0 : 1;
}

namespace {

int64_t Count(const nlohmann::json& section, const char* key) {
  return section.is_object() && section.contains(key) && section[key].is_number_integer()
             ? section[key].get<int64_t>()
             : 0;
}

// One line per item of a list inside a status section (scheduled work, waiting entities).
std::string StatusItem(const nlohmann::json& item) {
  if (!item.is_object()) return Str(item);
  if (item.contains("due_at_ms"))
    return Str(item.value("entity", nlohmann::json())) + " due " + FormatMs(item["due_at_ms"]);
  if (item.contains("reason"))
    return Str(item.value("entity", nlohmann::json())) + ": " + Str(item["reason"]);
  return item.dump();
}

// What needs the operator, each with the command that shows the details.
void PrintStatusHints(const nlohmann::json& j) {
  std::vector<std::string> hints;
  const auto& mutations = j.value("mutations", nlohmann::json::object());
  const auto& events = j.value("events", nlohmann::json::object());
  if (int64_t n = Count(mutations, "dead"); n > 0) {
    hints.push_back(std::to_string(n) +
                    " dead mutation(s) need you: tenantsync mutations --state dead (fix the cause, "
                    "then tenantsync retry ID, or tenantsync discard ID)");
  }
  if (int64_t n = Count(events, "failed"); n > 0) {
    hints.push_back(std::to_string(n) +
                    " event(s) could not be applied: tenantsync events --state failed");
  }
  if (int64_t n = Count(j.value("vendor_notifications", nlohmann::json::object()), "failed");
      n > 0) {
    hints.push_back(
        std::to_string(n) +
        " vendor notification(s) failed: tenantsync vendor-notifications --state "
        "failed (fix the cause, then tenantsync vendor-notifications replay SOURCE ID)");
  }
  if (int64_t n = Count(j.value("waiting", nlohmann::json::object()), "total"); n > 0) {
    hints.push_back(std::to_string(n) +
                    " user(s)/organization(s) waiting for data (see waiting.examples): tenantsync "
                    "user ID or tenantsync org ID says what they wait for");
  }
  if (int64_t n = Count(events, "scheduled"); n > 0) {
    hints.push_back(std::to_string(n) +
                    " event(s) scheduled for later (effective_at): tenantsync events --state "
                    "scheduled");
  }
  if (j.contains("guard") && j["guard"].is_object() && j["guard"].value("tripped", false)) {
    hints.push_back(
        "the guard is tripped and holds destructive work (guard.held): tenantsync guard approve "
        "or tenantsync guard reject");
  }
  if (hints.empty()) return;
  std::printf("\n");
  for (const auto& h : hints) std::printf("%s\n", h.c_str());
}

}  // namespace

int CliStatus(const CliOptions& cli) {
  int code = 0;
  auto j = Admin(cli, "GET", "/v1/status", &code);
  if (!j) return code;
  if (cli.json) {
    std::printf("%s\n", j->dump(2).c_str());
    return 0;
  }
  std::printf("%-28s %s\n", "SECTION", "VALUE");
  for (auto& [section, value] : j->items()) {
    if (value.is_object()) {
      for (auto& [k, v] : value.items()) {
        const std::string name = section + "." + k;
        if (v.is_array() && !v.empty() && v[0].is_object() &&
            (v[0].contains("due_at_ms") || v[0].contains("reason"))) {
          for (auto& item : v) std::printf("%-28s %s\n", name.c_str(), StatusItem(item).c_str());
        } else {
          std::printf("%-28s %s\n", name.c_str(), Str(v).c_str());
        }
      }
    } else {
      std::printf("%-28s %s\n", section.c_str(), Str(value).c_str());
    }
  }
  PrintStatusHints(*j);
  return 0;
}

int CliEvents(const CliOptions& cli, const std::string& state, const std::string& source,
              int limit) {
  std::string path = "/v1/events?limit=" + std::to_string(limit);
  if (!state.empty()) path += "&state=" + PercentEncode(state);
  if (!source.empty()) path += "&source=" + PercentEncode(source);
  int code = 0;
  auto j = Admin(cli, "GET", path, &code);
  if (!j) return code;
  if (cli.json) {
    std::printf("%s\n", j->dump(2).c_str());
    return 0;
  }
  std::printf("%-8s %-10s %-36s %-34s %-9s %-20s %-20s %s\n", "SEQ", "SOURCE", "EVENT ID", "TYPE",
              "STATE", "RECEIVED", "DUE", "ERROR");
  for (auto& e : (*j)["events"]) {
    // A pending event whose effective_at is still ahead reads "scheduled" (its DUE time).
    const std::string shown = e.value("scheduled", false) ? "scheduled" : Str(e["state"]);
    std::printf("%-8s %-10s %-36s %-34s %-9s %-20s %-20s %s\n", Str(e["seq"]).c_str(),
                Str(e["source"]).c_str(), Str(e["event_id"]).c_str(), Str(e["type"]).c_str(),
                shown.c_str(), FormatMs(e["received_at_ms"]).c_str(),
                FormatMs(e.value("effective_at_ms", nlohmann::json())).c_str(),
                Str(e["error"]).c_str());
    // What happened to it later (superseded, rejected at the guard): under its row.
    if (e.value("note", nlohmann::json()).is_string())
      std::printf("%-8s note: %s\n", "", e["note"].get<std::string>().c_str());
  }
  return 0;
}

int CliEvent(const CliOptions& cli, const std::string& id, const std::string& source) {
  std::string path = "/v1/events/" + PercentEncode(id) +
                     (source.empty() ? "" : "?source=" + PercentEncode(source));
  int code = 0;
  auto j = Admin(cli, "GET", path, &code);
  if (!j) return code;
  if (cli.json) {
    std::printf("%s\n", j->dump(2).c_str());
    return 0;
  }
  for (auto key : {"event_id", "source", "type", "state", "error", "note"}) {
    std::string value = Str(j->value(key, nlohmann::json()));
    if (std::string(key) == "state" && j->value("scheduled", false))
      value += " (scheduled: applied when due)";
    std::printf("%-12s %s\n", key, value.c_str());
  }
  std::printf("%-12s %s\n%-12s %s\n%-12s %s\n", "occurred",
              FormatMs((*j)["occurred_at_ms"]).c_str(), "received",
              FormatMs((*j)["received_at_ms"]).c_str(), "due",
              FormatMs(j->value("effective_at_ms", nlohmann::json())).c_str());
  if (j->value("body_removed", nlohmann::json()).is_string())
    std::printf("body         (%s)\n", (*j)["body_removed"].get<std::string>().c_str());
  else
    std::printf("body\n%s\n", (*j)["body"].dump(2).c_str());
  return 0;
}

int CliReplay(const CliOptions& cli, const std::string& id, const std::string& source) {
  std::string path = "/v1/events/" + PercentEncode(id) + "/replay" +
                     (source.empty() ? "" : "?source=" + PercentEncode(source));
  int code = 0;
  auto j = Admin(cli, "POST", path, &code, "{}");
  if (!j) return code;
  if (cli.json)
    std::printf("%s\n", j->dump(2).c_str());
  else
    std::printf("event %s is %s again: it will be applied shortly\n", id.c_str(),
                Str((*j)["state"]).c_str());
  return 0;
}

int CliVendorNotifications(const CliOptions& cli, const std::string& state,
                           const std::string& source, int limit) {
  std::string path = "/v1/vendor-notifications?limit=" + std::to_string(limit);
  if (!state.empty()) path += "&state=" + PercentEncode(state);
  if (!source.empty()) path += "&source=" + PercentEncode(source);
  int code = 0;
  auto j = Admin(cli, "GET", path, &code);
  if (!j) return code;
  if (cli.json) {
    std::printf("%s\n", j->dump(2).c_str());
    return 0;
  }
  std::printf("%-10s %-36s %-8s %-8s %-6s %-20s %-20s %s\n", "SOURCE", "EVENT ID", "STATE",
              "ATTEMPTS", "EVENTS", "RECEIVED", "NEXT TRY", "ERROR");
  for (auto& n : (*j)["vendor_notifications"]) {
    std::printf("%-10s %-36s %-8s %-8s %-6s %-20s %-20s %s\n", Str(n["source"]).c_str(),
                Str(n["event_id"]).c_str(), Str(n["state"]).c_str(), Str(n["attempts"]).c_str(),
                Str(n["events"]).c_str(), FormatMs(n["received_at_ms"]).c_str(),
                FormatMs(n.value("next_at_ms", nlohmann::json())).c_str(), Str(n["error"]).c_str());
  }
  return 0;
}

int CliVendorReplay(const CliOptions& cli, const std::string& source, const std::string& event_id) {
  const std::string path = "/v1/vendor-notifications/" + PercentEncode(source) + "/" +
                           PercentEncode(event_id) + "/replay";
  int code = 0;
  auto j = Admin(cli, "POST", path, &code, "{}");
  if (!j) return code;
  if (cli.json)
    std::printf("%s\n", j->dump(2).c_str());
  else
    std::printf("vendor notification %s of %s is %s again: the connector takes it shortly\n",
                event_id.c_str(), source.c_str(), Str((*j)["state"]).c_str());
  return 0;
}

namespace {
// A value from Auth0 made safe for one table cell: control characters (a newline or an escape
// sequence in a log description) become '?'.
std::string Cell(const nlohmann::json& j) {
  std::string s = j.is_string() ? j.get<std::string>() : (j.is_null() ? "" : j.dump());
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return s.empty() ? "-" : s;
}

// `auth0_logs` of GET /v1/users/{id}?logs=true: the user's Auth0 log events, newest first, as
// Auth0 returned them (an array), null when there is nothing to ask for, or {"error": ...}.
void PrintAuth0Logs(const nlohmann::json& logs) {
  if (logs.is_object() && logs.contains("error")) {
    std::printf("\nauth0 logs: could not be read: %s\n", Cell(logs["error"]).c_str());
    return;
  }
  if (!logs.is_array()) {
    std::printf("\nauth0 logs: not read (the user has no Auth0 id yet, or --dry-run)\n");
    return;
  }
  std::printf("\nauth0 logs (newest first, %zu)\n", logs.size());
  if (logs.empty()) {
    std::printf("no log events for this user\n");
    return;
  }
  std::printf("%-24s %-44s %-40s %-15s %s\n", "DATE", "EVENT", "DESCRIPTION", "IP", "APPLICATION");
  for (const auto& e : logs) {
    if (!e.is_object()) continue;
    const std::string type = Cell(e.value("type", nlohmann::json()));
    std::string event = type;
    if (auto name = auth0::LogTypeName(type); !name.empty()) event += " " + std::string(name);
    std::string app = Cell(e.value("client_name", nlohmann::json()));
    if (app == "-") app = Cell(e.value("client_id", nlohmann::json()));
    std::printf("%-24s %-44s %-40s %-15s %s\n", Cell(e.value("date", nlohmann::json())).c_str(),
                event.c_str(), Cell(e.value("description", nlohmann::json())).c_str(),
                Cell(e.value("ip", nlohmann::json())).c_str(), app.c_str());
  }
}

void PrintMutationTable(const nlohmann::json& list) {
  std::printf("%-7s %-26s %-32s %-10s %-4s %-8s %s\n", "ID", "ENTITY", "KIND", "STATE", "DEST",
              "ATTEMPTS", "ERROR");
  for (auto& m : list) {
    std::printf("%-7s %-26s %-32s %-10s %-4s %-8s %s\n", Str(m["id"]).c_str(),
                Str(m["entity"]).c_str(), Str(m["kind"]).c_str(), Str(m["state"]).c_str(),
                m["destructive"].get<bool>() ? "yes" : "", Str(m["attempts"]).c_str(),
                Str(m["error"]).c_str());
  }
}
}  // namespace

int CliEntity(const CliOptions& cli, EntityKind kind, const std::string& external_id, bool logs) {
  std::string path =
      std::string(kind == EntityKind::kOrganization ? "/v1/organizations/" : "/v1/users/") +
      PercentEncode(external_id) + (logs ? "?logs=true" : "");
  int code = 0;
  auto j = Admin(cli, "GET", path, &code);
  if (!j) return code;
  if (cli.json) {
    std::printf("%s\n", j->dump(2).c_str());
    return 0;
  }
  std::printf("%-12s %s\n%-12s %s\n", "external_id", external_id.c_str(), "auth0_id",
              Str((*j)["auth0_id"]).c_str());
  // Why nothing happens for it yet: right under the ids, before anything else.
  if (j->value("waiting", nlohmann::json()).is_string())
    std::printf("%-12s %s\n", "WAITING", (*j)["waiting"].get<std::string>().c_str());
  std::printf("desired      %s\n", (*j)["desired"].dump().c_str());
  std::printf("auth0 (last known) %s\n", (*j)["last_known_auth0"].dump().c_str());
  std::printf("events       %s\n\nmutations (newest first)\n", (*j)["events"].dump().c_str());
  PrintMutationTable((*j)["mutations"]);
  const auto problems = j->value("membership_problems", nlohmann::json::array());
  if (!problems.empty()) {
    std::printf(
        "\nmembership problems (%zu): organization memberships or roles that could not be written; "
        "fix the cause (e.g. create the role in Auth0), then tenantsync retry ID\n",
        problems.size());
    PrintMutationTable(problems);
  }
  if (j->contains("commands") && !(*j)["commands"].empty()) {
    std::printf("\ncommands\n%-6s %-20s %-10s %s\n", "ID", "KIND", "STATE", "EVENT");
    for (auto& c : (*j)["commands"]) {
      std::printf("%-6s %-20s %-10s %s\n", Str(c["id"]).c_str(), Str(c["kind"]).c_str(),
                  Str(c["state"]).c_str(), Str(c["event"]).c_str());
    }
  }
  if (j->contains("auth0_logs")) PrintAuth0Logs((*j)["auth0_logs"]);
  return 0;
}

int CliMutations(const CliOptions& cli, const std::string& state, int limit) {
  std::string path = "/v1/mutations?limit=" + std::to_string(limit) +
                     (state.empty() ? "" : "&state=" + PercentEncode(state));
  int code = 0;
  auto j = Admin(cli, "GET", path, &code);
  if (!j) return code;
  if (cli.json)
    std::printf("%s\n", j->dump(2).c_str());
  else
    PrintMutationTable((*j)["mutations"]);
  return 0;
}

int CliMutationAction(const CliOptions& cli, const std::string& id, const std::string& action) {
  int code = 0;
  auto j = Admin(cli, "POST", "/v1/mutations/" + PercentEncode(id) + "/" + action, &code, "{}");
  if (!j) return code;
  if (cli.json)
    std::printf("%s\n", j->dump(2).c_str());
  else
    std::printf("mutation %s is now %s: %s\n", id.c_str(), Str((*j)["state"]).c_str(),
                Str((*j)["error"]).c_str());
  return 0;
}

int CliPlan(const CliOptions& cli) {
  int code = 0;
  auto j = Admin(cli, "GET", "/v1/plan", &code);
  if (!j) return code;
  if (cli.json) {
    std::printf("%s\n", j->dump(2).c_str());
    return 0;
  }
  const auto& plan = (*j)["plan"];
  if (plan.empty()) {
    std::printf("nothing to do: Auth0 matches the desired state as far as tenantsync knows\n");
    return 0;
  }
  std::printf("%-26s %-32s %-4s %-48s %s\n", "ENTITY", "KIND", "DEST", "CHANGES", "EVENTS");
  size_t waiting = 0;
  for (auto& st : plan) {
    std::string changes;
    if (st["kind"] == "wait") {
      // Not a write: an entity that cannot proceed yet, and why.
      ++waiting;
      changes = Str(st["request"].value("reason", nlohmann::json()));
    } else if (st["before"].is_object()) {
      for (auto& [k, after] : st["request"].items()) {
        changes += (changes.empty() ? "" : "; ") + k + ": " +
                   st["before"].value(k, nlohmann::json()).dump() + " -> " + after.dump();
      }
    } else {
      changes = st["request"].dump();
    }
    std::string events;
    for (auto& e : st["events"]) events += (events.empty() ? "" : ",") + e.get<std::string>();
    std::printf("%-26s %-32s %-4s %-48s %s\n", Str(st["entity"]).c_str(), Str(st["kind"]).c_str(),
                st["destructive"].get<bool>() ? "yes" : "", changes.c_str(), events.c_str());
  }
  std::printf("%zu write(s) planned", plan.size() - waiting);
  if (waiting > 0)
    std::printf("; %zu entity(ies) waiting (kind wait): nothing can be sent yet", waiting);
  std::printf("\n");
  if ((*j).value("truncated", false)) {
    std::printf(
        "only the first %lld of %lld entities to reconcile were planned (GET "
        "/v1/plan?limit=N plans more)\n",
        static_cast<long long>((*j).value("entities_planned", int64_t{0})),
        static_cast<long long>((*j).value("entities_waiting", int64_t{0})));
  }
  return 0;
}

int CliDrift(const CliOptions& cli, const std::string& mode) {
  int code = 0;
  // A pass over a large tenant at Auth0's rate takes minutes (about 2 for 10,000 users).
  auto j = Admin(cli, "POST", "/v1/drift/run" + (mode.empty() ? std::string() : "?mode=" + mode),
                 &code, "{}",
                 /*timeout_seconds=*/3600);
  if (!j) return code;
  if (cli.json) {
    std::printf("%s\n", j->dump(2).c_str());
    return 0;
  }
  const auto& diffs = (*j)["differences"];
  for (auto& n : (*j).value("notes", nlohmann::json::array()))
    std::printf("note: %s\n", Str(n).c_str());
  if (diffs.empty()) {
    std::printf("no drift: Auth0 holds what tenantsync last wrote (%s mode, %s request(s))\n",
                Str((*j)["mode"]).c_str(), Str((*j)["requests"]).c_str());
    return 0;
  }
  std::printf("%-28s %-28s %-36s %s\n", "ENTITY", "FIELD", "AUTH0", "EXPECTED");
  for (auto& d : diffs) {
    std::printf("%-28s %-28s %-36s %s\n", Str(d["entity"]).c_str(), Str(d["field"]).c_str(),
                d["auth0"].dump().c_str(), d["expected"].dump().c_str());
  }
  std::printf("%zu difference(s) in %s mode%s\n", diffs.size(), Str((*j)["mode"]).c_str(),
              (*j)["mode"] == "correct"
                  ? "; the writer repairs them through the normal mutation path"
                  : "; nothing changed");
  return 0;
}

int CliGuard(const CliOptions& cli, const std::string& action,
             const std::optional<std::string>& by) {
  const std::string body = by ? nlohmann::json({{"by", *by}}).dump() : "{}";
  int code = 0;
  auto j = Admin(cli, "POST", "/v1/guard/" + action, &code, body);
  if (!j) return code;
  std::printf("%s\n", cli.json ? j->dump(2).c_str() : j->dump().c_str());
  return 0;
}

int CliPost(const CliOptions& cli, const std::string& path) {
  int code = 0;
  auto j = Admin(cli, "POST", path, &code, "{}");
  if (!j) return code;
  std::printf("%s\n", cli.json ? j->dump(2).c_str() : j->dump().c_str());
  return 0;
}

std::optional<nlohmann::json> CliAdminCall(const CliOptions& cli, const std::string& method,
                                           const std::string& path, int* code,
                                           const std::string& body, int timeout_seconds) {
  return Admin(cli, method, path, code, body, timeout_seconds);
}

std::optional<std::string> ChooseDeclaredSource(const CliOptions& cli, const std::string& given,
                                                int* code) {
  if (!given.empty()) return given;
  auto j = CliAdminCall(cli, "GET", "/v1/sources", code);
  if (!j) return std::nullopt;
  std::vector<std::string> declared;
  for (const auto& s : (*j)["sources"]) {
    if (s.value("scheme", "") == "declared") declared.push_back(s.value("name", ""));
  }
  if (declared.size() == 1) return declared.front();
  if (declared.empty()) {
    *code = Fail(2,
                 "no source has scheme = \"declared\" in the daemon's configuration; add one "
                 "([[sources]] name = \"repo\" scheme = \"declared\") and reload");
  } else {
    std::string list;
    for (const auto& n : declared) list += (list.empty() ? "" : ", ") + n;
    *code = Fail(2, "several declared sources (" + list + "): name one with --source");
  }
  return std::nullopt;
}

}  // namespace tenantsync
