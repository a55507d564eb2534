#include "adapters/vendors/vendors.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>

#include "adapters/events/event.h"
#include "adapters/vendors/vendor_time.h"
#include "common/crypto.h"

namespace tenantsync {

namespace {

std::string HmacSha512(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha512(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> UsableSecrets(const std::vector<std::string>& secrets) {
  std::vector<std::string_view> out;
  for (const auto& s : secrets) {
    auto t = Trim(s);
    if (!t.empty()) out.push_back(t);
  }
  return out;
}

bool IsDecimal(std::string_view s) {
  return !s.empty() && s.size() <= 18 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<std::string> Header(const VendorRequest& req, std::string_view name) {
  if (!req.headers) return std::nullopt;
  auto v = req.headers(name);
  if (!v) return std::nullopt;
  auto t = Trim(*v);
  if (t.empty()) return std::nullopt;
  return std::string(t);
}

Status Fresh(std::string_view header, int64_t ts_ms, int64_t now_ms, int64_t tolerance_s) {
  int64_t skew = now_ms - ts_ms;
  if (skew > tolerance_s * 1000 || -skew > tolerance_s * 1000) {
    return Status::Invalid(std::string(header) + " outside the " + std::to_string(tolerance_s) +
                           " s tolerance (" + std::to_string(skew / 1000) + " s from now)");
  }
  return Status::Ok();
}

std::string SignedUri(const VendorVerifyOptions& o, std::string_view query) {
  std::string uri = o.public_url;
  if (!query.empty()) uri += "?" + std::string(query);
  return HubSpotDecodeUri(uri);
}

bool IsPing(std::string_view body) {
  auto b = Trim(body);
  if (b == "Ping test" || b == "\"Ping test\"") return true;
  auto j = nlohmann::json::parse(b, nullptr, false);
  return j.is_object() && j.size() == 1 && j.contains("text") && j["text"] == "Ping test";
}

}  // namespace

std::optional<Vendor> ParseVendor(std::string_view name) {
  if (name == "bamboohr") return Vendor::kBambooHr;
  if (name == "hibob") return Vendor::kHiBob;
  if (name == "personio") return Vendor::kPersonio;
  if (name == "hubspot") return Vendor::kHubSpot;
  return std::nullopt;
}

const char* VendorName(Vendor v) {
  switch (v) {
    case Vendor::kBambooHr:
      return "bamboohr";
    case Vendor::kHiBob:
      return "hibob";
    case Vendor::kPersonio:
      return "personio";
    case Vendor::kHubSpot:
      return "hubspot";
  }
  return "?";
}

const char* NotificationActionName(NotificationAction a) {
  switch (a) {
    case NotificationAction::kCreated:
      return "created";
    case NotificationAction::kUpdated:
      return "updated";
    case NotificationAction::kDeleted:
      return "deleted";
    case NotificationAction::kJoined:
      return "joined";
    case NotificationAction::kLeft:
      return "left";
    case NotificationAction::kActivated:
      return "activated";
    case NotificationAction::kInactivated:
      return "inactivated";
    case NotificationAction::kRestored:
      return "restored";
    case NotificationAction::kMerged:
      return "merged";
    case NotificationAction::kIgnored:
      return "ignored";
  }
  return "?";
}

Status ValidateVendorVerifyOptions(const VendorVerifyOptions& o) {
  auto secrets = UsableSecrets(o.secrets);
  if (secrets.empty()) return Status::Invalid("no secret: the secret file has no non-blank line");
  if (o.tolerance_seconds <= 0) return Status::Invalid("tolerance_seconds must be positive");
  if (o.vendor == Vendor::kPersonio) {
    if (Trim(o.token_header).empty()) return Status::Invalid("token_header must not be empty");
    for (size_t i = 0; i < o.secrets.size(); ++i) {
      auto t = Trim(o.secrets[i]);
      if (!t.empty() && t.size() < 16)
        return Status::Invalid("secret line " + std::to_string(i + 1) +
                               ": a Personio webhook token must be at least 16 characters");
    }
  }
  if (o.vendor == Vendor::kHubSpot) {
    if (o.public_url.rfind("https://", 0) != 0 && o.public_url.rfind("http://", 0) != 0)
      return Status::Invalid(
          "public_url must be the https:// URL registered with HubSpot (HubSpot signs it)");
  }
  return Status::Ok();
}

std::string HubSpotDecodeUri(std::string_view uri) {
  static const struct {
    const char* code;
    char ch;
  } kCodes[] = {{"3A", ':'},  {"2F", '/'}, {"3F", '?'}, {"40", '@'}, {"21", '!'}, {"24", '$'},
                {"27", '\''}, {"28", '('}, {"29", ')'}, {"2A", '*'}, {"2C", ','}, {"3B", ';'}};
  std::string out;
  out.reserve(uri.size());
  for (size_t i = 0; i < uri.size(); ++i) {
    if (uri[i] == '%' && i + 2 < uri.size()) {
      char a = static_cast<char>(std::toupper(static_cast<unsigned char>(uri[i + 1])));
      char b = static_cast<char>(std::toupper(static_cast<unsigned char>(uri[i + 2])));
      bool done = false;
      for (const auto& c : kCodes) {
        if (c.code[0] == a && c.code[1] == b) {
          out.push_back(c.ch);
          i += 2;
          done = true;
          break;
        }
      }
      if (done) continue;
    }
    out.push_back(uri[i]);
  }
  return out;
}

Result<VendorVerified> VerifyVendorDelivery(const VendorVerifyOptions& o, const VendorRequest& req,
                                            int64_t now_ms) {
  auto secrets = UsableSecrets(o.secrets);
  VendorVerified v;
  switch (o.vendor) {
    case Vendor::kBambooHr: {
      auto sig = Header(req, "X-BambooHR-Signature");
      if (!sig) return Status::Invalid("missing X-BambooHR-Signature header");
      auto ts = Header(req, "X-BambooHR-Timestamp");
      if (!ts) return Status::Invalid("missing X-BambooHR-Timestamp header");
      if (!IsDecimal(*ts))
        return Status::Invalid("X-BambooHR-Timestamp is not a decimal Unix time");
      int64_t ts_ms = std::stoll(*ts) * 1000;
      if (auto st = Fresh("X-BambooHR-Timestamp", ts_ms, now_ms, o.tolerance_seconds); !st.ok())
        return st;
      auto want = crypto::HexDecode(*sig);
      if (!want || want->size() != 32)
        return Status::Invalid("X-BambooHR-Signature is not a hex HMAC-SHA256");
      std::string signed_text = std::string(req.body) + *ts;
      for (auto s : secrets) {
        if (crypto::ConstantTimeEquals(crypto::HmacSha256(s, signed_text), *want)) {
          v.timestamp_ms = ts_ms;
          v.method = "hmac-sha256";
          return v;
        }
      }
      return Status::Invalid("no signature matched");
    }
    case Vendor::kHiBob: {
      auto sig = Header(req, "Bob-Signature");
      if (!sig) {
        // Bob's connection test; answered 2xx and never stored, so it needs no proof.
        if (IsPing(req.body)) {
          v.kind = DeliveryKind::kHandshake;
          v.method = "ping";
          return v;
        }
        return Status::Invalid("missing Bob-Signature header");
      }
      auto want = crypto::Base64Decode(*sig);
      if (!want || want->size() != 64)
        return Status::Invalid("Bob-Signature is not a Base64 HMAC-SHA512");
      for (auto s : secrets) {
        if (crypto::ConstantTimeEquals(HmacSha512(s, req.body), *want)) {
          v.method = "hmac-sha512";
          if (IsPing(req.body)) v.kind = DeliveryKind::kHandshake;
          return v;
        }
      }
      return Status::Invalid("no signature matched");
    }
    case Vendor::kPersonio: {
      if (!req.headers) return Status::Invalid("missing " + o.token_header + " header");
      auto raw = req.headers(o.token_header);
      if (!raw || raw->empty()) return Status::Invalid("missing " + o.token_header + " header");
      auto got = Trim(*raw);
      for (auto s : secrets) {
        if (crypto::ConstantTimeEquals(got, s)) {
          v.method = "token";
          return v;
        }
      }
      return Status::Invalid(o.token_header + " token does not match");
    }
    case Vendor::kHubSpot: {
      if (auto sig = Header(req, "X-HubSpot-Signature-v3")) {
        auto ts = Header(req, "X-HubSpot-Request-Timestamp");
        if (!ts) return Status::Invalid("missing X-HubSpot-Request-Timestamp header");
        if (!IsDecimal(*ts))
          return Status::Invalid("X-HubSpot-Request-Timestamp is not a decimal Unix time in ms");
        int64_t ts_ms = std::stoll(*ts);
        if (auto st = Fresh("X-HubSpot-Request-Timestamp", ts_ms, now_ms, o.tolerance_seconds);
            !st.ok())
          return st;
        auto want = crypto::Base64Decode(*sig);
        if (!want || want->size() != 32)
          return Status::Invalid("X-HubSpot-Signature-v3 is not a Base64 HMAC-SHA256");
        std::string text =
            std::string(req.method) + SignedUri(o, req.query) + std::string(req.body) + *ts;
        for (auto s : secrets) {
          if (crypto::ConstantTimeEquals(crypto::HmacSha256(s, text), *want)) {
            v.timestamp_ms = ts_ms;
            v.method = "v3";
            return v;
          }
        }
        return Status::Invalid("no signature matched (X-HubSpot-Signature-v3)");
      }
      if (!o.allow_v1) return Status::Invalid("missing X-HubSpot-Signature-v3 header");
      auto sig = Header(req, "X-HubSpot-Signature");
      if (!sig) return Status::Invalid("missing X-HubSpot-Signature-v3 header");
      auto version = Header(req, "X-HubSpot-Signature-Version").value_or("v1");
      if (version != "v1")
        return Status::Invalid(
            "X-HubSpot-Signature-Version other than v1 is not accepted without "
            "X-HubSpot-Signature-v3");
      auto want = crypto::HexDecode(*sig);
      if (!want || want->size() != 32)
        return Status::Invalid("X-HubSpot-Signature is not a hex SHA-256");
      for (auto s : secrets) {
        if (crypto::ConstantTimeEquals(crypto::Sha256(std::string(s) + std::string(req.body)),
                                       *want)) {
          v.method = "v1";
          return v;
        }
      }
      return Status::Invalid("no signature matched (X-HubSpot-Signature v1)");
    }
  }
  return Status::Invalid("unknown vendor");
}

std::vector<std::pair<std::string, std::string>> SignVendorDelivery(const VendorVerifyOptions& o,
                                                                    std::string_view method,
                                                                    std::string_view query,
                                                                    std::string_view body,
                                                                    int64_t now_ms) {
  auto secrets = UsableSecrets(o.secrets);
  if (secrets.empty()) return {};
  std::string secret(secrets.front());
  switch (o.vendor) {
    case Vendor::kBambooHr: {
      std::string ts = std::to_string(now_ms / 1000);
      return {{"X-BambooHR-Timestamp", ts},
              {"X-BambooHR-Signature",
               crypto::HexEncode(crypto::HmacSha256(secret, std::string(body) + ts))}};
    }
    case Vendor::kHiBob:
      return {{"Bob-Signature", crypto::Base64Encode(HmacSha512(secret, body))}};
    case Vendor::kPersonio:
      return {{o.token_header, secret}};
    case Vendor::kHubSpot: {
      std::string ts = std::to_string(now_ms);
      std::string text = std::string(method) + SignedUri(o, query) + std::string(body) + ts;
      return {
          {"X-HubSpot-Signature-Version", "v1"},
          {"X-HubSpot-Signature", crypto::HexEncode(crypto::Sha256(secret + std::string(body)))},
          {"X-HubSpot-Signature-v3", crypto::Base64Encode(crypto::HmacSha256(secret, text))},
          {"X-HubSpot-Request-Timestamp", ts}};
    }
  }
  return {};
}

// --- Decoding ----------------------------------------------------------------------------------

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string FormDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 &&
               HexDigit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string BodyHash(std::string_view body) { return crypto::HexEncode(crypto::Sha256(body)); }

// A string or integer field as text; nullopt when absent, null or another type.
std::optional<std::string> IdText(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return std::nullopt;
  const auto& v = j[key];
  if (v.is_string() && !v.get<std::string>().empty()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  return std::nullopt;
}

int64_t TimeMs(const nlohmann::json& j, const char* key, int64_t fallback) {
  if (!j.is_object() || !j.contains(key)) return fallback;
  const auto& v = j[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    auto t = ParseVendorTime(v.get<std::string>());
    if (t.ok()) return ResolveVendorTime(*t, TimeZone::Utc());
  }
  return fallback;
}

std::vector<std::string> StringList(const nlohmann::json& j) {
  std::vector<std::string> out;
  if (j.is_array()) {
    for (const auto& e : j)
      if (e.is_string()) out.push_back(e.get<std::string>());
  } else if (j.is_object()) {  // form-encoded lists may arrive as {"0": "...", "1": "..."}
    for (const auto& [k, e] : j.items())
      if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

Result<nlohmann::json> ParseBody(std::string_view body) { return ParseJson(body); }

Result<std::vector<VendorNotification>> DecodeBambooHr(std::string_view content_type,
                                                       std::string_view body) {
  nlohmann::json j;
  std::string ct(content_type);
  std::transform(ct.begin(), ct.end(), ct.begin(), ::tolower);
  if (ct.find("application/x-www-form-urlencoded") != std::string::npos) {
    j = ParseFormEncoded(body);
  } else {
    auto parsed = ParseBody(body);
    if (!parsed.ok()) return parsed.status();
    j = std::move(*parsed);
  }
  std::vector<VendorNotification> out;
  const std::string hash = BodyHash(body);
  if (j.is_object() && j.contains("employees")) {  // field-based (employee_with_fields.*)
    if (!j["employees"].is_array()) return Status::Invalid("employees: must be an array");
    const auto& arr = j["employees"];
    for (size_t i = 0; i < arr.size(); ++i) {
      const auto& e = arr[i];
      std::string at = "employees[" + std::to_string(i) + "]";
      auto id = IdText(e, "id");
      if (!id) return Status::Invalid(at + ".id: missing");
      VendorNotification n;
      n.vendor = Vendor::kBambooHr;
      n.event_id = arr.size() == 1 ? hash : hash + ":" + std::to_string(i);
      std::string action = e.value("action", "Updated");
      std::string lower = action;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      n.vendor_event = "employee_with_fields." + lower;
      n.action = lower == "created"   ? NotificationAction::kCreated
                 : lower == "deleted" ? NotificationAction::kDeleted
                                      : NotificationAction::kUpdated;
      n.object_id = *id;
      n.occurred_at_ms = TimeMs(e, "timestamp", 0);
      if (e.contains("changedFields")) n.changed_fields = StringList(e["changedFields"]);
      if (e.contains("fields") && e["fields"].is_object()) {
        n.inline_record = e["fields"];
        n.inline_record["id"] = *id;
      }
      n.needs_fetch = false;  // the post fields are the record
      out.push_back(std::move(n));
    }
    return out;
  }
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    return Status::Invalid("type: missing (expected an event-based or field-based payload)");
  std::string type = j["type"].get<std::string>();
  const auto& data = j.contains("data") ? j["data"] : nlohmann::json();
  auto id = IdText(data, "employeeId");
  if (!id) return Status::Invalid("data.employeeId: missing");
  VendorNotification n;
  n.vendor = Vendor::kBambooHr;
  n.event_id = hash;
  n.vendor_event = type;
  if (type == "employee.created") {
    n.action = NotificationAction::kCreated;
  } else if (type == "employee.updated") {
    n.action = NotificationAction::kUpdated;
  } else if (type == "employee.deleted") {
    n.action = NotificationAction::kDeleted;
  } else {
    n.action = NotificationAction::kIgnored;
  }
  n.object_id = *id;
  n.occurred_at_ms = TimeMs(j, "timestamp", 0);
  if (data.contains("changedFields")) n.changed_fields = StringList(data["changedFields"]);
  n.needs_fetch =
      n.action != NotificationAction::kDeleted && n.action != NotificationAction::kIgnored;
  out.push_back(std::move(n));
  return out;
}

Result<std::vector<VendorNotification>> DecodeHiBob(std::string_view body) {
  auto parsed = ParseBody(body);
  if (!parsed.ok()) return parsed.status();
  const auto& j = *parsed;
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    return Status::Invalid("type: missing");
  std::string type = j["type"].get<std::string>();
  const auto& data = j.contains("data") ? j["data"] : nlohmann::json();
  auto id = IdText(data, "employeeId");
  if (!id) return Status::Invalid("data.employeeId: missing");
  VendorNotification n;
  n.vendor = Vendor::kHiBob;
  n.event_id = BodyHash(body);
  n.vendor_event = type;
  n.object_id = *id;
  n.occurred_at_ms = TimeMs(j, "triggeredAt", 0);
  static const std::pair<const char*, NotificationAction> kTypes[] = {
      {"employee.created", NotificationAction::kCreated},
      {"employee.updated", NotificationAction::kUpdated},
      {"employee.deleted", NotificationAction::kDeleted},
      {"employee.joined", NotificationAction::kJoined},
      {"employee.left", NotificationAction::kLeft},
      {"employee.activated", NotificationAction::kActivated},
      {"employee.inactivated", NotificationAction::kInactivated},
  };
  n.action = NotificationAction::kIgnored;
  for (const auto& [name, action] : kTypes)
    if (type == name) n.action = action;
  if (type.rfind("table.entry.", 0) == 0) {
    // Lifecycle and work table entries change status and dates: refetch the person.
    std::string table = data.value("tableId", "");
    n.action = (table == "lifecycle" || table == "work" || table == "employment")
                   ? NotificationAction::kUpdated
                   : NotificationAction::kIgnored;
  }
  if (data.contains("effectiveDate") && data["effectiveDate"].is_string())
    n.effective_date = data["effectiveDate"].get<std::string>();
  if (data.contains("fieldUpdates")) {
    for (const auto& f : data["fieldUpdates"]) {
      if (f.is_string()) n.changed_fields.push_back(f.get<std::string>());
      if (f.is_object()) {
        if (auto fid = IdText(f, "fieldId")) n.changed_fields.push_back(*fid);
      }
    }
  }
  n.needs_fetch =
      n.action != NotificationAction::kDeleted && n.action != NotificationAction::kIgnored;
  return std::vector<VendorNotification>{std::move(n)};
}

Result<std::vector<VendorNotification>> DecodePersonio(std::string_view body) {
  auto parsed = ParseBody(body);
  if (!parsed.ok()) return parsed.status();
  const auto& j = *parsed;
  if (!j.is_object() || !j.contains("event_name") || !j["event_name"].is_string())
    return Status::Invalid("event_name: missing");
  std::string type = j["event_name"].get<std::string>();
  const auto& p = j.contains("payload") ? j["payload"] : nlohmann::json();
  VendorNotification n;
  n.vendor = Vendor::kPersonio;
  n.event_id = BodyHash(body);
  n.vendor_event = type;
  n.occurred_at_ms = TimeMs(j, "occurred_at", 0);
  std::optional<std::string> id;
  if (type.rfind("person.", 0) == 0) {
    id = IdText(p, "id");
    if (!id) id = IdText(p, "person_id");
  } else {
    // employment.*: the employment names its person (payload.person_id or payload.person.id).
    id = IdText(p, "person_id");
    if (!id && p.is_object() && p.contains("person")) id = IdText(p["person"], "id");
  }
  if (!id) return Status::Invalid("payload.person_id: missing");
  n.object_id = *id;
  static const std::pair<const char*, NotificationAction> kTypes[] = {
      {"person.created", NotificationAction::kCreated},
      {"person.updated", NotificationAction::kUpdated},
      {"person.deleted", NotificationAction::kDeleted},
      {"employment.created", NotificationAction::kUpdated},
      {"employment.updated", NotificationAction::kUpdated},
      {"employment.deleted", NotificationAction::kUpdated},
      {"employment.started", NotificationAction::kJoined},
      {"employment.terminated", NotificationAction::kLeft},
  };
  n.action = NotificationAction::kIgnored;
  for (const auto& [name, action] : kTypes)
    if (type == name) n.action = action;
  if (p.is_object() && p.contains("changed_attributes"))
    n.changed_fields = StringList(p["changed_attributes"]);
  n.needs_fetch =
      n.action != NotificationAction::kDeleted && n.action != NotificationAction::kIgnored;
  return std::vector<VendorNotification>{std::move(n)};
}

Result<std::vector<VendorNotification>> DecodeHubSpot(std::string_view body) {
  auto parsed = ParseBody(body);
  if (!parsed.ok()) return parsed.status();
  const auto& arr = *parsed;
  if (!arr.is_array()) return Status::Invalid("body: must be a JSON array of events");
  std::vector<VendorNotification> out;
  for (size_t i = 0; i < arr.size(); ++i) {
    const auto& e = arr[i];
    std::string at = "[" + std::to_string(i) + "]";
    if (!e.is_object()) return Status::Invalid(at + ": must be an object");
    auto event_id = IdText(e, "eventId");
    if (!event_id) return Status::Invalid(at + ".eventId: missing");
    if (!e.contains("subscriptionType") || !e["subscriptionType"].is_string())
      return Status::Invalid(at + ".subscriptionType: missing");
    auto object_id = IdText(e, "objectId");
    if (!object_id) return Status::Invalid(at + ".objectId: must be an integer");
    std::string type = e["subscriptionType"].get<std::string>();
    auto dot = type.find('.');
    std::string object = type.substr(0, dot);
    std::string what = dot == std::string::npos ? "" : type.substr(dot + 1);
    VendorNotification n;
    n.vendor = Vendor::kHubSpot;
    // eventId is unique per app; portal and app keep two apps' ids from colliding in one source.
    n.event_id = *event_id;
    if (auto portal = IdText(e, "portalId")) n.event_id = *portal + ":" + n.event_id;
    n.vendor_event = type;
    n.object_id = *object_id;
    n.occurred_at_ms = TimeMs(e, "occurredAt", 0);
    if (object == "contact") {
      n.object = ObjectKind::kPerson;
    } else if (object == "company") {
      n.object = ObjectKind::kCompany;
    } else {
      continue;  // deals, tickets, ...: nothing tenantsync maps
    }
    if (what == "creation") {
      n.action = NotificationAction::kCreated;
    } else if (what == "propertyChange" || what == "associationChange") {
      n.action = NotificationAction::kUpdated;
    } else if (what == "deletion" || what == "privacyDeletion") {
      n.action = NotificationAction::kDeleted;
    } else if (what == "restore") {
      n.action = NotificationAction::kRestored;
    } else if (what == "merge") {
      n.action = NotificationAction::kMerged;
    } else {
      n.action = NotificationAction::kIgnored;
    }
    if (what == "propertyChange" && e.contains("propertyName") && e["propertyName"].is_string()) {
      std::string prop = e["propertyName"].get<std::string>();
      n.changed_fields.push_back(prop);
      n.inline_record = nlohmann::json::object();
      n.inline_record[prop] = e.contains("propertyValue") ? e["propertyValue"] : nlohmann::json();
    }
    n.needs_fetch =
        n.action != NotificationAction::kDeleted && n.action != NotificationAction::kIgnored;
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace

nlohmann::json ParseFormEncoded(std::string_view body) {
  nlohmann::json root = nlohmann::json::object();
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t amp = body.find('&', pos);
    if (amp == std::string_view::npos) amp = body.size();
    std::string_view pair = body.substr(pos, amp - pos);
    pos = amp + 1;
    if (pair.empty()) {
      if (amp == body.size()) break;
      continue;
    }
    size_t eq = pair.find('=');
    std::string key = FormDecode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : FormDecode(pair.substr(eq + 1));
    // Split "a[b][]" into a, b, "".
    std::vector<std::string> parts;
    size_t br = key.find('[');
    parts.push_back(key.substr(0, br));
    while (br != std::string::npos) {
      size_t close = key.find(']', br);
      if (close == std::string::npos) {  // malformed: keep the rest literally in the last part
        parts.back() += key.substr(br);
        break;
      }
      parts.push_back(key.substr(br + 1, close - br - 1));
      br = key.find('[', close);
    }
    // Real payloads nest three levels (data[changedFields][0]); a deeper key is hostile or a
    // mistake and is dropped, so no input can build an arbitrarily deep document.
    if (parts.size() > 8) {
      if (amp == body.size()) break;
      continue;
    }
    nlohmann::json* node = &root;
    for (size_t i = 0; i < parts.size(); ++i) {
      const bool last = i + 1 == parts.size();
      const std::string& part = parts[i];
      if (part.empty() && i > 0) {  // "[]": append
        if (!node->is_array()) *node = nlohmann::json::array();
        if (last) {
          node->push_back(value);
        } else {
          node->push_back(nlohmann::json::object());
          node = &node->back();
        }
        continue;
      }
      if (!node->is_object()) *node = nlohmann::json::object();
      if (last) {
        (*node)[part] = value;
      } else {
        node = &(*node)[part];
      }
    }
    if (amp == body.size()) break;
  }
  return root;
}

Result<std::vector<VendorNotification>> DecodeNotifications(Vendor vendor,
                                                            std::string_view content_type,
                                                            std::string_view body) {
  try {
    switch (vendor) {
      case Vendor::kBambooHr:
        return DecodeBambooHr(content_type, body);
      case Vendor::kHiBob:
        return DecodeHiBob(body);
      case Vendor::kPersonio:
        return DecodePersonio(body);
      case Vendor::kHubSpot:
        return DecodeHubSpot(body);
    }
  } catch (const std::exception& e) {  // a nlohmann type error on a hostile payload
    return Status::Invalid(std::string("payload does not have the vendor's shape: ") + e.what());
  }
  return Status::Invalid("unknown vendor");
}

nlohmann::json NotificationToJson(const VendorNotification& n) {
  nlohmann::json j = {{"vendor", VendorName(n.vendor)},
                      {"event_id", n.event_id},
                      {"vendor_event", n.vendor_event},
                      {"action", NotificationActionName(n.action)},
                      {"object", n.object == ObjectKind::kPerson ? "person" : "company"},
                      {"object_id", n.object_id},
                      {"occurred_at_ms", n.occurred_at_ms},
                      {"changed_fields", n.changed_fields},
                      {"needs_fetch", n.needs_fetch}};
  if (n.effective_date) j["effective_date"] = *n.effective_date;
  if (!n.inline_record.is_null()) j["inline_record"] = n.inline_record;
  return j;
}

Result<VendorNotification> NotificationFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::Invalid("notification: must be an object");
  VendorNotification n;
  auto str = [&](const char* key) -> std::optional<std::string> {
    if (!j.contains(key) || !j[key].is_string()) return std::nullopt;
    return j[key].get<std::string>();
  };
  auto vendor = str("vendor");
  if (!vendor || !ParseVendor(*vendor))
    return Status::Invalid("notification.vendor: must be bamboohr, hibob, personio or hubspot");
  n.vendor = *ParseVendor(*vendor);
  auto action = str("action");
  bool found = false;
  for (int a = 0; a <= static_cast<int>(NotificationAction::kIgnored); ++a) {
    if (action && *action == NotificationActionName(static_cast<NotificationAction>(a))) {
      n.action = static_cast<NotificationAction>(a);
      found = true;
    }
  }
  if (!found) return Status::Invalid("notification.action: unknown");
  auto object = str("object");
  if (!object || (*object != "person" && *object != "company"))
    return Status::Invalid("notification.object: must be person or company");
  n.object = *object == "person" ? ObjectKind::kPerson : ObjectKind::kCompany;
  auto id = str("object_id");
  if (!id || id->empty()) return Status::Invalid("notification.object_id: missing");
  n.object_id = *id;
  n.event_id = str("event_id").value_or("");
  n.vendor_event = str("vendor_event").value_or("");
  if (j.contains("occurred_at_ms") && j["occurred_at_ms"].is_number_integer())
    n.occurred_at_ms = j["occurred_at_ms"].get<int64_t>();
  if (j.contains("changed_fields")) n.changed_fields = StringList(j["changed_fields"]);
  if (auto d = str("effective_date")) n.effective_date = *d;
  if (j.contains("inline_record")) n.inline_record = j["inline_record"];
  n.needs_fetch =
      !j.contains("needs_fetch") || !j["needs_fetch"].is_boolean() || j["needs_fetch"].get<bool>();
  return n;
}

}  // namespace tenantsync
