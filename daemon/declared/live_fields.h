// Both ways at once (issue 15 item 6, SPEC §10.8): the fields of entities a declared source
// declares that a live (non-declared) source set more recently than that source's last apply.
//
// The desired state keeps, per field of an entity, the value, the event time and the event that
// set it (daemon/desired_state.h: desired[field] = {"v", "ts", "ev", "rt"}); per-field
// last-writer-wins decides between sources, the declared source's events carrying the apply time.
// `tenantsync apply --plan` reads these fields from the daemon (GET /v1/sources/{name}/live-fields)
// and warns about them: Auth0 holds the live value, which the plan does not show as a difference
// unless the file changes that field, in which case the apply overwrites it.
//
// Pure functions; nothing here touches storage, the network or the clock.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "daemon/declared/declared.h"

namespace tenantsync::declared {

struct LiveField {
  EntityKind entity = EntityKind::kUser;
  std::string external_id;
  // The field as the plan names it: "name", "metadata.tier", "app_metadata.plan", "branding",
  // "connections", "callback_urls", "organizations", "blocked", "left".
  std::string field;
  nlohmann::json value;  // the value the live source set (null: cleared)
  std::string source;    // the live source
  std::string event_id;
  int64_t ts_ms = 0;  // the live event's time
};

// The fields of one entity's stored desired JSON that an event of another source than `source`
// set at a time later than `since_ms` (the declared source's last apply). Fields outside the
// declared vocabulary (email_verified, nickname, picture, left_at, deleted) are left out, and so
// are fields undone at the guard. In field name order.
std::vector<LiveField> FieldsSetByOthers(EntityKind entity, const std::string& external_id,
                                         const nlohmann::json& desired, const std::string& source,
                                         int64_t since_ms);

nlohmann::json LiveFieldsToJson(const std::vector<LiveField>& fields);
Result<std::vector<LiveField>> LiveFieldsFromJson(const nlohmann::json& j);

// The warnings `apply --plan` prints, for the live fields of entities the files declare or the
// plan touches ("" when there is none):
//   Warning: 1 field(s) were set by a live source after source "repo" was last applied; per-field
//   last-writer-wins (SPEC §10.8), Auth0 holds the live value until an apply changes the field:
//     ! user u-1 name: "Ann Live" (set by hr at 2026-11-30T10:00:00.000Z; the files declare
//       "Ann"; this plan keeps the live value)
std::string RenderLiveWarnings(const std::vector<LiveField>& fields, const DeclaredState& declared,
                               const Plan& plan, const std::string& source);

}  // namespace tenantsync::declared
