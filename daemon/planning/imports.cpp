#include "daemon/planning/imports.h"

#include <algorithm>

#include "common/crypto.h"
#include "daemon/planning/json_fields.h"

namespace tenantsync {

using Json = nlohmann::json;

std::string ImportUserId(const std::string& external_id) {
  return "ts" + crypto::HexEncode(crypto::Sha256(external_id)).substr(0, 32);
}

std::string Auth0ImportedId(const std::string& external_id) {
  return "auth0|" + ImportUserId(external_id);
}

std::optional<Json> ImportRecord(const EntityRow& user, const PlanPolicy& policy, int64_t now_ms) {
  // The import replaces exactly the create PlanUser would send next, nothing else: the same
  // fields, so the known state recorded after the job equals that of a single create.
  Plan plan = PlanUser(user, policy, now_ms);
  if (plan.steps.size() != 1 || plan.steps[0].kind != StepKind::kCreateUser) return std::nullopt;
  const Json& request = plan.steps[0].request;
  if (Truthy(Field(request, "blocked"))) return std::nullopt;  // leavers and blocked: one by one
  Json record = Json::object();
  record["user_id"] = ImportUserId(user.external_id);
  for (auto f : kUserProfileFields) {
    if (request.contains(f)) record[f] = request[f];
  }
  for (auto md : {"app_metadata", "user_metadata"}) {
    if (request.contains(md)) record[md] = request[md];
  }
  if (!Field(record, "email").is_string()) return std::nullopt;
  return record;
}

ImportPlan PlanImports(std::vector<std::pair<std::string, Json>> candidates,
                       const ImportPolicy& policy, size_t counted) {
  ImportPlan plan;
  std::sort(candidates.begin(), candidates.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  counted = std::max(counted, candidates.size());
  if (policy.threshold <= 0 || counted < static_cast<size_t>(policy.threshold)) {
    for (auto& [ext, record] : candidates) plan.single.push_back(ext);
    return plan;
  }
  ImportFile file;
  auto flush = [&] {
    if (file.users.empty()) return;
    file.json += "]";
    plan.files.push_back(std::move(file));
    file = ImportFile{};
  };
  for (auto& [ext, record] : candidates) {
    const std::string text = record.dump(-1, ' ', false, Json::error_handler_t::replace);
    if (text.size() + 2 > policy.max_file_bytes) {  // "[" + record + "]"
      plan.single.push_back(ext);
      continue;
    }
    // The file so far, a comma, the record and the closing bracket must fit.
    if (!file.users.empty() && file.json.size() + 1 + text.size() + 1 > policy.max_file_bytes) {
      flush();
    }
    file.json += file.users.empty() ? "[" : ",";
    file.json += text;
    file.users.push_back(ext);
    file.records.push_back(std::move(record));
  }
  flush();
  return plan;
}

}  // namespace tenantsync
