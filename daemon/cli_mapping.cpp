#include "daemon/cli_mapping.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

#include "adapters/events/event.h"
#include "adapters/mapping/mapping.h"
#include "adapters/vendors/vendor_api.h"
#include "adapters/vendors/vendors.h"
#include "common/random.h"
#include "daemon/config.h"

namespace tenantsync {

namespace {

using json = nlohmann::json;

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Invalid("cannot read " + path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

json Render(const std::vector<MappedEvent>& events) {
  json out = json::array();
  for (const auto& e : events) {
    json shown = e.body;
    shown["id_suffix"] = e.id_suffix;
    out.push_back(std::move(shown));
  }
  return out;
}

int Usage(const std::string& message) {
  std::cerr << "tenantsync mapping test: " << message << "\n";
  return 2;
}

}  // namespace

int CliMappingTest(const std::string& config_path, const MappingTestOptions& o, Clock& clock) {
  auto cfg = LoadConfig(config_path);
  if (!cfg.ok()) return Usage(cfg.status().message());
  const SourceConfig* src = cfg->FindSource(o.source);
  if (!src) return Usage("unknown source \"" + o.source + "\"");
  if (!src->vendor)
    return Usage("source \"" + o.source +
                 "\" is not a vendor connector (scheme bamboohr, hibob, personio or hubspot)");
  auto mapping = ParseMapping(*src->vendor, src->vendor_mapping);
  if (!mapping.ok()) return Usage(mapping.status().message());
  auto payload = ReadFile(o.payload_file);
  if (!payload.ok()) return Usage(payload.status().message());
  json record;
  if (!o.record_file.empty()) {
    auto text = ReadFile(o.record_file);
    if (!text.ok()) return Usage(text.status().message());
    auto parsed = ParseJson(*text);
    if (!parsed.ok() || !parsed->is_object())
      return Usage(o.record_file + ": must hold the record as a JSON object");
    record = std::move(*parsed);
  }
  std::unique_ptr<VendorApi> api;
  SecureRandom random;  // backoff jitter only
  if (o.fetch) {
    if (src->vendor_api.credential.empty())
      return Usage("--fetch needs credentials_file in source \"" + o.source + "\"");
    auto made = NewHttpVendorApi(src->vendor_api, clock, random);
    if (!made.ok()) return Usage(made.status().message());
    api = std::move(*made);
  }

  json out = {{"source", src->name}, {"vendor", VendorName(*src->vendor)}};
  if (o.stored) {
    if (o.fetch || !o.record_file.empty())
      return Usage("--stored maps the record kept with the event: no --fetch or --record");
    auto parsed = ParseJson(*payload);
    if (!parsed.ok()) return Usage(o.payload_file + ": " + parsed.status().message());
    auto stored = ParseStoredVendorEvent(*parsed);
    if (!stored.ok()) return Usage(o.payload_file + ": " + stored.status().message());
    if (stored->notification.vendor != *src->vendor)
      return Usage(o.payload_file + ": the stored notification is from " +
                   VendorName(stored->notification.vendor) + ", the source is " +
                   VendorName(*src->vendor));
    json item = {{"notification", NotificationToJson(stored->notification)},
                 {"record", stored->record},
                 {"fetched", false}};
    auto events =
        MapNotification(*mapping, stored->notification, stored->record, clock.NowUnixMillis());
    bool ok = events.ok();
    if (ok) {
      item["events"] = Render(*events);
    } else {
      item["error"] = events.status().message();
    }
    out["notifications"] = json::array({std::move(item)});
    std::cout << out.dump(2) << "\n";
    return ok ? 0 : 1;
  }
  auto notifications = DecodeNotifications(
      *src->vendor, o.content_type.empty() ? "application/json" : o.content_type, *payload);
  if (!notifications.ok()) {
    out["error"] = "payload: " + notifications.status().message();
    std::cout << out.dump(2) << "\n";
    return 1;
  }
  bool all_ok = true;
  json list = json::array();
  for (const auto& n : *notifications) {
    json item = {{"notification", NotificationToJson(n)}, {"fetched", false}};
    json rec = record;
    const bool wants = n.needs_fetch && n.action != NotificationAction::kDeleted;
    if (wants && rec.is_null() && api) {
      auto fetched = api->FetchRecord(n.object, n.object_id);
      if (!fetched.ok()) {
        item["record"] = nullptr;
        item["error"] = "fetch: " + fetched.status().message();
        all_ok = false;
        list.push_back(std::move(item));
        continue;
      }
      rec = std::move(*fetched);
      item["fetched"] = true;
    }
    item["record"] = rec;
    auto events = MapNotification(*mapping, n, rec, clock.NowUnixMillis());
    if (!events.ok()) {
      std::string msg = events.status().message();
      if (msg.rfind("record not fetched", 0) == 0) msg += " (use --fetch or --record FILE)";
      item["error"] = msg;
      all_ok = false;
    } else {
      item["events"] = Render(*events);
    }
    list.push_back(std::move(item));
  }
  out["notifications"] = std::move(list);
  std::cout << out.dump(2) << "\n";
  return all_ok ? 0 : 1;
}

}  // namespace tenantsync
