// vendor-sim core: one simulator that plays BambooHR, HiBob, Personio and HubSpot for tests and
// the demo (issue 18 item 3; docs/CONNECTORS.md "Simulator"). No HTTP here (server.cpp is the
// only httplib user), so everything below is unit-tested in-process.
//
// It serves the API each connector fetches from (adapters/vendors/vendor_api.h):
//   bamboohr  GET  /api/gateway.php/{company}/v1/employees/{id}      Basic base64(KEY:x)
//   hibob     POST /v1/people/{id}                                   Basic base64(USER:TOKEN)
//   personio  POST /v2/auth/token (client_credentials) → bearer;  GET /v2/persons/{id}
//   hubspot   GET  /crm/v3/objects/contacts/{id}, /crm/v3/objects/companies/{id}   Bearer TOKEN
// and builds the vendor's signed webhook deliveries (SignVendorDelivery from adapters/vendors, so
// a test of the sim's signing against the verifiers checks both; the verifier vectors themselves
// come from the vendors' documentation, not from here).
//
// Control (JSON bodies, answered JSON):
//   POST /__sim/config   {"vendor", "webhook_secret", "api_credential", "public_url"?,
//                         "token_header"?}
//   POST /__sim/records  {"vendor", "object": "person"|"company", "id", "record": {...}}
//                        ("record": null deletes it)
//   POST /__sim/fail     {"count", "status" (500, 429, ...), "retry_after"?}: the next `count`
//                        API requests are answered with that status
//   POST /__sim/send     {"vendor", "event", "ids": [...], "url", "bad_signature"?, "form"?,
//                         "effective_date"?, "property"?: {"name","value"}, "replay"?}
//                        signs and posts a delivery to url (loopback only); "replay": true resends
//                        the vendor's last correctly signed delivery byte for byte. Answers
//                        {"status", "body"} of the receiver.
//   GET  /__sim/requests the API requests served so far: [{"vendor","method","path","status"}]
//
// Thread safety: every method may be called from any thread (one mutex).
#pragma once

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "adapters/vendors/vendors.h"
#include "common/clock.h"
#include "common/status.h"

namespace tenantsync::vsim {

struct SimRequest {
  std::string method;
  std::string path;                            // decoded path, no query
  std::map<std::string, std::string> params;   // decoded query parameters
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

struct SimResponse {
  int status = 200;
  std::map<std::string, std::string> headers;
  std::string body;  // JSON
};

struct VendorConfig {
  std::string webhook_secret;  // signs deliveries (Personio: the static token)
  std::string api_credential;  // what the API accepts (see the header comment for its form)
  std::string public_url;      // hubspot: the URL HubSpot "calls" and signs
  std::string token_header = "Authorization";  // personio
};

struct SendCommand {
  Vendor vendor = Vendor::kBambooHr;
  std::string event;             // the vendor's event name: "employee.updated", "contact.creation"
  std::vector<std::string> ids;  // the people or companies the delivery names
  bool bad_signature = false;    // sign with a wrong secret
  bool form = false;             // bamboohr event-based: form-encoded instead of JSON
  std::optional<std::string> effective_date;                       // hibob table entries
  std::optional<std::pair<std::string, nlohmann::json>> property;  // hubspot propertyChange
};

struct Delivery {
  Vendor vendor = Vendor::kBambooHr;
  std::string query;  // appended to the target URL after '?', "" for none
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

class VendorSim {
 public:
  explicit VendorSim(Clock& clock);

  void Configure(Vendor v, VendorConfig c);
  void PutRecord(Vendor v, ObjectKind k, const std::string& id, nlohmann::json record);
  void DeleteRecord(Vendor v, ObjectKind k, const std::string& id);
  // The next `count` API requests get `status` (with Retry-After when retry_after > 0).
  void FailNext(int count, int status, int retry_after);

  // Serves one vendor API request (any path not under /__sim/).
  SimResponse HandleApi(const SimRequest& req);
  // Builds a delivery for `cmd`, or the vendor's last one for a replay. kInvalid when the vendor
  // is not configured or an event needs ids it was not given.
  Result<Delivery> BuildDelivery(const SendCommand& cmd);
  std::optional<Delivery> LastDelivery(Vendor v) const;
  void RememberDelivery(const Delivery& d);
  nlohmann::json RequestLog() const;

  // Parses a control body for /__sim/config, /__sim/records, /__sim/fail, and applies it.
  // kInvalid naming the key.
  Status Control(const std::string& path, const nlohmann::json& body);
  // Parses a /__sim/send body (the url is returned separately).
  static Result<std::pair<SendCommand, std::string>> ParseSend(const nlohmann::json& body,
                                                               bool* replay);

 private:
  SimResponse Record(Vendor v, ObjectKind k, const std::string& id);
  bool Authorized(Vendor v, const SimRequest& req) const;
  SimResponse Log(Vendor v, const SimRequest& req, SimResponse r);

  Clock& clock_;
  mutable std::mutex mu_;
  std::map<Vendor, VendorConfig> config_;                                          // guarded by mu_
  std::map<std::tuple<Vendor, ObjectKind, std::string>, nlohmann::json> records_;  // guarded
  int fail_count_ = 0, fail_status_ = 0, fail_retry_after_ = 0;                    // guarded by mu_
  std::map<std::string, int64_t> personio_tokens_;  // token → expiry ms, guarded by mu_
  int64_t next_token_ = 1, next_event_id_ = 1;      // guarded by mu_
  std::map<Vendor, Delivery> last_;                 // guarded by mu_
  nlohmann::json log_ = nlohmann::json::array();    // guarded by mu_
};

}  // namespace tenantsync::vsim
