// Fuzzes ParseJson and ParseEvent: no crash, no exception, only kInvalid failures with one-line
// messages, and accepted events that stay accepted after a serialise/parse round trip; and
// ParseCompactJson: what it accepts, nlohmann reads the same.
#include <string>
#include <string_view>

#include "adapters/events/event.h"
#include "common/json_text.h"
#include "tests/fuzz/fuzz_targets.h"

namespace tenantsync::fuzz {
namespace {

using nlohmann::json;

constexpr const char* kPasswordPrefix = "password is not accepted";

void CheckFailure(const Status& s) {
  TS_FUZZ_CHECK(s.kind() == StatusKind::kInvalid);
  TS_FUZZ_CHECK(!s.message().empty());
  // Messages go to logs and HTTP answers: sender text must be escaped, never raw line breaks.
  TS_FUZZ_CHECK(s.message().find('\n') == std::string::npos);
  TS_FUZZ_CHECK(s.message().find('\r') == std::string::npos);
  TS_FUZZ_CHECK(s.message().rfind("event could not be validated", 0) != 0);  // no escaped exception
  // ... and they go into JSON answers, which need valid UTF-8.
  TS_FUZZ_CHECK(!FindInvalidUtf8(s.message()).has_value());
}

void CheckEvent(const json& body) {
  auto r = ParseEvent(body);
  if (!r.ok()) {
    CheckFailure(r.status());
    return;
  }
  const ParsedEvent& ev = *r;
  const json& data = body.at("data");
  TS_FUZZ_CHECK(!data.contains("password") && !body.contains("password"));
  TS_FUZZ_CHECK(ParseEventType(EventTypeName(ev.type)) == ev.type);
  TS_FUZZ_CHECK(body.at("type") == EventTypeName(ev.type));
  TS_FUZZ_CHECK(ev.data == data);
  TS_FUZZ_CHECK(ev.external_id == data.at("external_id").get<std::string>());
  TS_FUZZ_CHECK(!ev.external_id.empty());
  // The same event through text again: still valid, same values (ingress stores the raw body and
  // the reconciler parses it again later).
  auto text = body.dump();
  auto again_json = ParseJson(text);
  TS_FUZZ_CHECK(again_json.ok());
  auto again = ParseEvent(*again_json);
  TS_FUZZ_CHECK(again.ok());
  TS_FUZZ_CHECK(again->type == ev.type && again->timestamp_ms == ev.timestamp_ms &&
                again->effective_at_ms == ev.effective_at_ms &&
                again->external_id == ev.external_id);
}

}  // namespace

int FuzzEvent(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // The input as an event id: usable exactly when it is 1 to 255 bytes of UTF-8 without control
  // characters; a refusal never carries the id's bytes.
  Status id = ValidateEventId(text);
  if (id.ok()) {
    TS_FUZZ_CHECK(!text.empty() && text.size() <= 255 && !FindInvalidUtf8(text).has_value());
  } else {
    CheckFailure(id);
  }
  // The compact reader (ParseJson's first try, and the store's): whatever it accepts, nlohmann
  // reads alike, values and types.
  if (auto compact = ParseCompactJson(text)) {
    const json reference = json::parse(text.begin(), text.end(), nullptr, false);
    TS_FUZZ_CHECK(!reference.is_discarded());
    TS_FUZZ_CHECK(*compact == reference && compact->dump() == reference.dump());
  }
  auto parsed = ParseJson(text);
  if (!parsed.ok()) {
    CheckFailure(parsed.status());
    const std::string& m = parsed.status().message();
    TS_FUZZ_CHECK(m.rfind("body is not valid JSON", 0) == 0 ||
                  m.rfind("body is not valid UTF-8", 0) == 0);
    TS_FUZZ_CHECK((m.rfind("body is not valid UTF-8", 0) == 0) ==
                  FindInvalidUtf8(text).has_value());
    return 0;
  }
  TS_FUZZ_CHECK(!FindInvalidUtf8(text).has_value());
  const json& j = *parsed;
  CheckEvent(j);
  if (j.is_object()) {
    // The input as the data of every type reaches the per-field rules far more often than
    // waiting for the fuzzer to invent a whole envelope.
    for (const char* type : {"organization.upserted", "organization.deleted", "user.upserted",
                             "user.left", "user.blocked", "user.password_reset_requested"}) {
      json body = {{"type", type}, {"timestamp", "2026-11-25T10:00:00Z"}, {"data", j}};
      CheckEvent(body);
      if (j.contains("password")) {
        auto r = ParseEvent(body);
        TS_FUZZ_CHECK(!r.ok() && r.status().message().rfind(kPasswordPrefix, 0) == 0);
      }
    }
  }
  return 0;
}

}  // namespace tenantsync::fuzz
