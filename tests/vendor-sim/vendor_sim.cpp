#include "tests/vendor-sim/vendor_sim.h"

#include <tuple>

#include "adapters/vendors/vendor_time.h"
#include "common/crypto.h"

namespace tenantsync::vsim {

namespace {

using json = nlohmann::json;

SimResponse Json(int status, json body) {
  SimResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

SimResponse Error(int status, const std::string& message) {
  return Json(status, {{"status", status}, {"message", message}});
}

std::string Header(const SimRequest& req, const std::string& name) {
  auto it = req.headers.find(name);
  return it == req.headers.end() ? "" : it->second;
}

bool StartsWith(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

std::string LastSegment(const std::string& path) { return path.substr(path.rfind('/') + 1); }

std::string FormEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// BambooHR's own timestamp format: "2026-01-31T18:42:00+0000".
std::string BambooTime(int64_t ms) {
  std::string t = FormatRfc3339Ms(ms);  // 2026-01-31T18:42:00.000Z
  return t.substr(0, 19) + "+0000";
}

// HiBob writes microseconds and no zone: "2025-01-08T13:06:26.915906".
std::string BobTime(int64_t ms) {
  std::string t = FormatRfc3339Ms(ms);
  return t.substr(0, 23) + "000";
}

}  // namespace

VendorSim::VendorSim(Clock& clock) : clock_(clock) {}

void VendorSim::Configure(Vendor v, VendorConfig c) {
  std::lock_guard<std::mutex> lock(mu_);
  config_[v] = std::move(c);
}

void VendorSim::PutRecord(Vendor v, ObjectKind k, const std::string& id, json record) {
  std::lock_guard<std::mutex> lock(mu_);
  records_[{v, k, id}] = std::move(record);
}

void VendorSim::DeleteRecord(Vendor v, ObjectKind k, const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  records_.erase({v, k, id});
}

void VendorSim::FailNext(int count, int status, int retry_after) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_count_ = count;
  fail_status_ = status;
  fail_retry_after_ = retry_after;
}

bool VendorSim::Authorized(Vendor v, const SimRequest& req) const {
  auto it = config_.find(v);
  if (it == config_.end()) return false;
  const std::string auth = Header(req, "authorization");
  const std::string& cred = it->second.api_credential;
  switch (v) {
    case Vendor::kBambooHr:
      return crypto::ConstantTimeEquals(auth, "Basic " + crypto::Base64Encode(cred + ":x"));
    case Vendor::kHiBob:
      return crypto::ConstantTimeEquals(auth, "Basic " + crypto::Base64Encode(cred));
    case Vendor::kHubSpot:
      return crypto::ConstantTimeEquals(auth, "Bearer " + cred);
    case Vendor::kPersonio: {
      if (!StartsWith(auth, "Bearer ")) return false;
      auto t = personio_tokens_.find(auth.substr(7));
      return t != personio_tokens_.end() && t->second > clock_.NowUnixMillis();
    }
  }
  return false;
}

SimResponse VendorSim::Log(Vendor v, const SimRequest& req, SimResponse r) {
  log_.push_back({{"vendor", VendorName(v)},
                  {"method", req.method},
                  {"path", req.path},
                  {"status", r.status}});
  return r;
}

SimResponse VendorSim::Record(Vendor v, ObjectKind k, const std::string& id) {
  auto it = records_.find({v, k, id});
  if (it == records_.end()) return Error(404, "not found");
  return Json(200, it->second);
}

SimResponse VendorSim::HandleApi(const SimRequest& req) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<Vendor> vendor;
  if (StartsWith(req.path, "/api/gateway.php/")) vendor = Vendor::kBambooHr;
  if (StartsWith(req.path, "/v1/people/")) vendor = Vendor::kHiBob;
  if (StartsWith(req.path, "/v2/")) vendor = Vendor::kPersonio;
  if (StartsWith(req.path, "/crm/v3/objects/")) vendor = Vendor::kHubSpot;
  if (!vendor) return Error(404, "no such endpoint");
  const Vendor v = *vendor;
  if (fail_count_ > 0) {
    --fail_count_;
    SimResponse r = Error(fail_status_, "injected failure");
    if (fail_retry_after_ > 0) r.headers["Retry-After"] = std::to_string(fail_retry_after_);
    return Log(v, req, r);
  }
  if (v == Vendor::kPersonio && req.path == "/v2/auth/token" && req.method == "POST") {
    // client_credentials: the form's client_id:client_secret must match the credential.
    auto form = ParseFormEncoded(req.body);
    auto it = config_.find(v);
    std::string given = form.value("client_id", "") + ":" + form.value("client_secret", "");
    if (it == config_.end() || form.value("grant_type", "") != "client_credentials" ||
        !crypto::ConstantTimeEquals(given, it->second.api_credential))
      return Log(v, req, Error(401, "invalid client credentials"));
    std::string token = "sim-personio-token-" + std::to_string(next_token_++);
    personio_tokens_[token] = clock_.NowUnixMillis() + 86400000;
    return Log(
        v, req,
        Json(200, {{"access_token", token}, {"token_type", "Bearer"}, {"expires_in", 86400}}));
  }
  if (!Authorized(v, req)) return Log(v, req, Error(401, "unauthorized"));
  const std::string id = LastSegment(req.path);
  switch (v) {
    case Vendor::kBambooHr:
      if (req.method != "GET" || req.path.find("/v1/employees/") == std::string::npos) break;
      return Log(v, req, Record(v, ObjectKind::kPerson, id));
    case Vendor::kHiBob:
      if (req.method != "POST") break;
      return Log(v, req, Record(v, ObjectKind::kPerson, id));
    case Vendor::kPersonio:
      if (req.method != "GET" || !StartsWith(req.path, "/v2/persons/")) break;
      return Log(v, req, Record(v, ObjectKind::kPerson, id));
    case Vendor::kHubSpot:
      if (req.method != "GET") break;
      if (StartsWith(req.path, "/crm/v3/objects/contacts/"))
        return Log(v, req, Record(v, ObjectKind::kPerson, id));
      if (StartsWith(req.path, "/crm/v3/objects/companies/"))
        return Log(v, req, Record(v, ObjectKind::kCompany, id));
      break;
  }
  return Log(v, req, Error(404, "no such endpoint"));
}

Result<Delivery> VendorSim::BuildDelivery(const SendCommand& cmd) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = config_.find(cmd.vendor);
  if (it == config_.end())
    return Status::Invalid(std::string(VendorName(cmd.vendor)) + " is not configured");
  if (cmd.ids.empty()) return Status::Invalid("ids: at least one id is required");
  const VendorConfig& cfg = it->second;
  const int64_t now = clock_.NowUnixMillis();
  Delivery d;
  d.vendor = cmd.vendor;
  d.content_type = "application/json";
  const std::string& id = cmd.ids.front();
  switch (cmd.vendor) {
    case Vendor::kBambooHr: {
      if (StartsWith(cmd.event, "employee_with_fields.")) {
        std::string action = cmd.event.substr(21);
        if (!action.empty()) action[0] = static_cast<char>(std::toupper(action[0]));
        json employees = json::array();
        for (const auto& i : cmd.ids) {
          auto rec = records_.find({cmd.vendor, ObjectKind::kPerson, i});
          json fields = rec == records_.end() ? json::object() : rec->second;
          fields.erase("id");
          employees.push_back({{"id", i},
                               {"action", action},
                               {"timestamp", BambooTime(now)},
                               {"changedFields", json::array()},
                               {"fields", fields}});
        }
        d.body = json{{"employees", employees}}.dump();
      } else if (cmd.form) {
        d.content_type = "application/x-www-form-urlencoded";
        d.body = "type=" + FormEncode(cmd.event) + "&timestamp=" + FormEncode(BambooTime(now)) +
                 "&data%5BcompanyId%5D=1&data%5BemployeeId%5D=" + FormEncode(id) +
                 "&data%5BchangedFields%5D%5B%5D=status";
      } else {
        d.body =
            json{{"type", cmd.event},
                 {"timestamp", BambooTime(now)},
                 {"data", {{"companyId", "1"}, {"employeeId", id}, {"changedFields", {"status"}}}}}
                .dump();
      }
      break;
    }
    case Vendor::kHiBob: {
      json data = {{"employeeId", id}};
      if (cmd.event == "employee.updated")
        data["fieldUpdates"] = {{{"fieldId", "internal.status"}}};
      if (StartsWith(cmd.event, "table.entry.")) data["tableId"] = "lifecycle";
      if (cmd.effective_date) data["effectiveDate"] = *cmd.effective_date;
      d.body = json{{"companyId", 636192},         {"type", cmd.event}, {"triggeredBy", "system"},
                    {"triggeredAt", BobTime(now)}, {"version", "v2"},   {"data", data}}
                   .dump();
      break;
    }
    case Vendor::kPersonio: {
      json payload = StartsWith(cmd.event, "person.")
                         ? json{{"id", id}}
                         : json{{"id", "emp-" + id}, {"person_id", id}};
      d.body = json{{"company_id", "1"},
                    {"event_name", cmd.event},
                    {"occurred_at", FormatRfc3339Ms(now)},
                    {"payload", payload},
                    {"meta", json::object()}}
                   .dump();
      break;
    }
    case Vendor::kHubSpot: {
      json events = json::array();
      for (const auto& i : cmd.ids) {
        json e = {{"eventId", next_event_id_++}, {"subscriptionId", 1},
                  {"portalId", 62515},           {"appId", 54321},
                  {"occurredAt", now},           {"subscriptionType", cmd.event},
                  {"attemptNumber", 0},          {"objectId", std::stoll(i)},
                  {"changeSource", "CRM"}};
        if (cmd.property) {
          e["propertyName"] = cmd.property->first;
          e["propertyValue"] = cmd.property->second;
        }
        events.push_back(e);
      }
      d.body = events.dump();
      break;
    }
  }
  VendorVerifyOptions o;
  o.vendor = cmd.vendor;
  o.secrets = {cmd.bad_signature ? "not-the-secret-" + cfg.webhook_secret : cfg.webhook_secret};
  o.public_url = cfg.public_url;
  o.token_header = cfg.token_header;
  d.headers = SignVendorDelivery(o, "POST", d.query, d.body, now);
  return d;
}

std::optional<Delivery> VendorSim::LastDelivery(Vendor v) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = last_.find(v);
  if (it == last_.end()) return std::nullopt;
  return it->second;
}

void VendorSim::RememberDelivery(const Delivery& d) {
  std::lock_guard<std::mutex> lock(mu_);
  last_[d.vendor] = d;
}

json VendorSim::RequestLog() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_;
}

namespace {

Result<Vendor> VendorOf(const json& body) {
  if (!body.is_object() || !body.contains("vendor") || !body["vendor"].is_string())
    return Status::Invalid("vendor: required (bamboohr, hibob, personio, hubspot)");
  auto v = ParseVendor(body["vendor"].get<std::string>());
  if (!v) return Status::Invalid("vendor: must be bamboohr, hibob, personio or hubspot");
  return *v;
}

std::string Str(const json& body, const char* key) {
  return body.contains(key) && body[key].is_string() ? body[key].get<std::string>() : "";
}

}  // namespace

Status VendorSim::Control(const std::string& path, const json& body) {
  if (path == "/__sim/fail") {
    if (!body.is_object() || !body.contains("count") || !body["count"].is_number_integer() ||
        !body.contains("status") || !body["status"].is_number_integer())
      return Status::Invalid("count and status: required integers");
    FailNext(body["count"].get<int>(), body["status"].get<int>(),
             body.contains("retry_after") && body["retry_after"].is_number_integer()
                 ? body["retry_after"].get<int>()
                 : 0);
    return Status::Ok();
  }
  auto v = VendorOf(body);
  if (!v.ok()) return v.status();
  if (path == "/__sim/config") {
    VendorConfig c;
    c.webhook_secret = Str(body, "webhook_secret");
    c.api_credential = Str(body, "api_credential");
    c.public_url = Str(body, "public_url");
    if (!Str(body, "token_header").empty()) c.token_header = Str(body, "token_header");
    if (c.webhook_secret.empty()) return Status::Invalid("webhook_secret: required");
    Configure(*v, std::move(c));
    return Status::Ok();
  }
  if (path == "/__sim/records") {
    std::string id = Str(body, "id");
    std::string object = Str(body, "object");
    if (id.empty()) return Status::Invalid("id: required");
    if (object != "person" && object != "company")
      return Status::Invalid("object: must be person or company");
    ObjectKind k = object == "person" ? ObjectKind::kPerson : ObjectKind::kCompany;
    if (!body.contains("record") || body["record"].is_null()) {
      DeleteRecord(*v, k, id);
    } else if (body["record"].is_object()) {
      PutRecord(*v, k, id, body["record"]);
    } else {
      return Status::Invalid("record: must be an object or null");
    }
    return Status::Ok();
  }
  return Status::NotFound("no such control endpoint");
}

Result<std::pair<SendCommand, std::string>> VendorSim::ParseSend(const json& body, bool* replay) {
  auto v = VendorOf(body);
  if (!v.ok()) return v.status();
  SendCommand c;
  c.vendor = *v;
  std::string url = Str(body, "url");
  if (url.empty()) return Status::Invalid("url: required");
  *replay = body.value("replay", false);
  if (*replay) return std::make_pair(c, url);
  c.event = Str(body, "event");
  if (c.event.empty()) return Status::Invalid("event: required");
  if (!body.contains("ids") || !body["ids"].is_array() || body["ids"].empty())
    return Status::Invalid("ids: a non-empty list of ids is required");
  for (const auto& i : body["ids"]) {
    if (i.is_string()) {
      c.ids.push_back(i.get<std::string>());
    } else if (i.is_number_integer()) {
      c.ids.push_back(std::to_string(i.get<int64_t>()));
    } else {
      return Status::Invalid("ids: each id must be a string or an integer");
    }
  }
  if (c.vendor == Vendor::kHubSpot) {
    for (const auto& i : c.ids) {
      if (i.empty() || i.size() > 18 ||
          !std::all_of(i.begin(), i.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
        return Status::Invalid("ids: HubSpot object ids are integers");
    }
  }
  c.bad_signature = body.value("bad_signature", false);
  c.form = body.value("form", false);
  if (!Str(body, "effective_date").empty()) c.effective_date = Str(body, "effective_date");
  if (body.contains("property") && body["property"].is_object())
    c.property =
        std::make_pair(Str(body["property"], "name"), body["property"].value("value", json()));
  return std::make_pair(c, url);
}

}  // namespace tenantsync::vsim
