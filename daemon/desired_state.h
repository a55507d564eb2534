// Desired state: how events fold into what tenantsync wants Auth0 to hold (SPEC §5 rules).
//
// Every field of an entity keeps the value, the event timestamp and the event that last set it
// ({"v","ts","ev","rt"} under desired[field]); an event older than the stored one (ties broken by
// the event key "source/event_id") never overwrites it, so out-of-order and duplicate delivery
// converge to the same state. Metadata keys are fields of their own ("metadata.KEY",
// "app_metadata.KEY", "user_metadata.KEY"); null is stored (it removes the key) so that an older
// set cannot resurrect it. Deletion is the field "deleted"; a later upsert sets it back to false.
//
// Pure functions over JSON plus one that writes through a StateTxn; no I/O of their own.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "adapters/events/event.h"
#include "storage/state_store.h"

namespace tenantsync {

struct FieldStamp {
  int64_t ts_ms;        // event timestamp (when it happened at the source)
  std::string event;    // "source/event_id"
  int64_t received_ms;  // when tenantsync received it (for sync lag)
};

// Sets desired[field] unless the stored stamp is newer. Returns true when it changed the field.
bool SetField(nlohmann::json& desired, const std::string& field, const nlohmann::json& value,
              const FieldStamp& stamp);

// The materialised desired object: {"name": ..., "metadata": {...}, "deleted": false, ...} with
// null-valued metadata keys dropped. Fields never set, and fields whose destructive value was
// rejected at the guard, are absent.
nlohmann::json View(const nlohmann::json& desired);

// The distinct events behind the given fields (all fields when `fields` is empty), and the
// earliest and latest receipt times among them.
nlohmann::json EventsBehind(const nlohmann::json& desired, const std::vector<std::string>& fields,
                            int64_t* first_received_ms, int64_t* last_received_ms = nullptr);

// Applies one validated event. Appends the entity keys that must be reconciled to `dirty`.
// Errors: kInvalid when the event cannot apply (e.g. a user's first upsert without email): the
// event is marked failed with that message; any other kind is a storage error (retry the batch).
Status ApplyEvent(StateTxn& txn, const EventRecord& record, const ParsedEvent& event,
                  int64_t now_ms, std::vector<std::string>* dirty);

// Event types whose effect is destructive (block, delete, a leaver's removal): they pass the
// guard and their entities are reconciled ahead of other work.
bool IsDestructiveEvent(EventType t);

// Undoes the destructive intent of an applied event whose steps an operator rejected at the
// guard: the fields it set ("left", "blocked", "deleted") are marked {"rejected": rejection}
// and drop out of View(), as if the event had not set them. A newer event for the entity sets
// them again (and passes the guard again); an older one cannot. Fields a newer event already
// owns are left alone. Appends the entity keys to reconcile to `dirty`.
Status RejectDestructiveIntent(StateTxn& txn, const EventRecord& record, const ParsedEvent& event,
                               const nlohmann::json& rejection, std::vector<std::string>* dirty);

// Entity keys used by the reconciler's work queue.
std::string OrgKey(const std::string& external_id);
std::string UserKey(const std::string& external_id);
std::string MembersKey(const std::string& org_external_id);
std::string ConnectionKey(const std::string& name);
std::string CommandKey(int64_t id);
inline constexpr const char* kCallbacksKey = "callbacks";

}  // namespace tenantsync
