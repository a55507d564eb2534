// Auth0 log event type codes and their names, as listed in "Log Event Type Codes"
// (https://auth0.com/docs/deploy-monitor/logs/log-event-type-codes). Header only: used by the CLI
// to name the events of `tenantsync user ID --logs` and by auth0-sim to describe the events it
// records. Only the codes tenantsync or the simulator can meet are listed; others are shown by
// code.
#pragma once

#include <string_view>

namespace tenantsync::auth0 {

struct LogTypeInfo {
  std::string_view code;
  std::string_view name;
};

inline constexpr LogTypeInfo kLogTypes[] = {
    {"s", "Success Login"},
    {"f", "Failed Login"},
    {"fu", "Failed Login (invalid email/username)"},
    {"fp", "Failed Login (wrong password)"},
    {"w", "Warnings During Login"},
    {"slo", "Success Logout"},
    {"ss", "Success Signup"},
    {"fs", "Failed Signup"},
    {"sapi", "Success API Operation"},
    {"fapi", "Failed API Operation"},
    {"mgmt_api_read", "Management API Read Operation"},
    {"scpr", "Success Change Password Request"},
    {"fcpr", "Failed Change Password Request"},
    {"scp", "Success Change Password"},
    {"fcp", "Failed Change Password"},
    {"svr", "Success Verification Email Request"},
    {"fvr", "Failed Verification Email Request"},
    {"sv", "Success Verification Email"},
    {"fv", "Failed Verification Email"},
    {"sce", "Success Change Email"},
    {"fce", "Failed Change Email"},
    {"du", "Deleted User"},
    {"fdu", "Failed User Deletion"},
    {"fn", "Failed Sending Notification"},
    {"limit_wc", "Blocked Account"},
    {"limit_mu", "Blocked IP Address"},
    {"seccft", "Success Exchange"},
    {"feccft", "Failed Exchange"},
    {"api_limit", "Rate Limit on the Authentication or Management APIs"},
};

// The name of a log event type code ("s" -> "Success Login"); "" for a code not listed.
inline constexpr std::string_view LogTypeName(std::string_view code) {
  for (const auto& t : kLogTypes) {
    if (t.code == code) return t.name;
  }
  return {};
}

}  // namespace tenantsync::auth0
