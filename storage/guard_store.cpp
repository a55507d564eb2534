// StateTxn methods for the destructive-change guard (see daemon/guard.h).
#include <SQLiteCpp/SQLiteCpp.h>

#include "storage/sqlite_store.h"
#include "storage/state_store.h"
#include "storage/statement_cache.h"

namespace tenantsync {

Result<int64_t> StateTxn::CountGuardWindow(int64_t since_ms) {
  try {
    auto q = stmts_.Get("SELECT COUNT(*) FROM guard_window WHERE at_ms >= ?");
    q->bind(1, static_cast<int64_t>(since_ms));
    q->executeStep();
    return q->getColumn(0).getInt64();
  } catch (const std::exception& e) {
    return Fail(e, "guard window");
  }
}

Status StateTxn::AddGuardWindow(int64_t at_ms, const std::string& kind, int64_t prune_before_ms) {
  try {
    auto prune = stmts_.Get("DELETE FROM guard_window WHERE at_ms < ?");
    prune->bind(1, static_cast<int64_t>(prune_before_ms));
    prune->exec();
    auto q = stmts_.Get("INSERT INTO guard_window (at_ms, kind) VALUES (?, ?)");
    q->bind(1, static_cast<int64_t>(at_ms));
    q->bind(2, kind);
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "guard window");
  }
}

Status StateTxn::ClearGuardWindow() {
  try {
    stmts_.Get("DELETE FROM guard_window")->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "guard window");
  }
}

Result<bool> StateTxn::GuardApproved(const std::string& entity, int64_t since_ms) {
  try {
    auto prune = stmts_.Get("DELETE FROM guard_held WHERE approved = 1 AND held_at_ms < ?");
    prune->bind(1, static_cast<int64_t>(since_ms));
    prune->exec();
    auto q = stmts_.Get("SELECT 1 FROM guard_held WHERE entity = ? AND approved = 1 LIMIT 1");
    q->bind(1, entity);
    return q->executeStep();
  } catch (const std::exception& e) {
    return Fail(e, "guard approval");
  }
}

Status StateTxn::HoldGuard(const GuardHeld& held) {
  try {
    auto q = stmts_.Get(
        "INSERT INTO guard_held (entity, kind, request, events, held_at_ms, "
        "approved) VALUES (?,?,?,?,?,0) "
        "ON CONFLICT (entity, kind) DO UPDATE SET request = excluded.request, "
        "events = excluded.events, approved = 0");
    q->bind(1, held.entity);
    q->bind(2, held.kind);
    q->bind(3, held.request.dump());
    q->bind(4, held.events.dump());
    q->bind(5, static_cast<int64_t>(held.held_at_ms));
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "guard hold");
  }
}

Result<std::vector<StateTxn::GuardHeld>> StateTxn::ListGuardHeld(bool approved) {
  try {
    auto q = stmts_.Get(
        "SELECT entity, kind, request, events, held_at_ms FROM guard_held WHERE "
        "approved = ? ORDER BY held_at_ms, entity");
    q->bind(1, approved ? 1 : 0);
    std::vector<GuardHeld> out;
    while (q->executeStep()) {
      GuardHeld h;
      h.entity = q->getColumn(0).getString();
      h.kind = q->getColumn(1).getString();
      h.request = nlohmann::json::parse(q->getColumn(2).getString(), nullptr, false);
      h.events = nlohmann::json::parse(q->getColumn(3).getString(), nullptr, false);
      h.held_at_ms = q->getColumn(4).getInt64();
      h.approved = approved;
      out.push_back(std::move(h));
    }
    return out;
  } catch (const std::exception& e) {
    return Fail(e, "guard held");
  }
}

Status StateTxn::ApproveGuardHeld(int64_t now_ms) {
  try {
    // held_at_ms becomes the approval time: approvals expire one guard window later.
    auto q = stmts_.Get("UPDATE guard_held SET approved = 1, held_at_ms = ? WHERE approved = 0");
    q->bind(1, static_cast<int64_t>(now_ms));
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "guard approve");
  }
}

Status StateTxn::DeleteGuardHeld(bool approved) {
  try {
    auto q = stmts_.Get("DELETE FROM guard_held WHERE approved = ?");
    q->bind(1, approved ? 1 : 0);
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "guard reject");
  }
}

Result<int64_t> StateTxn::CountManagedUsers() {
  try {
    auto q =
        stmts_.Get("SELECT n FROM state_counts WHERE tbl = 'entities' AND state = 'managed_user'");
    const int64_t n = q->executeStep() ? q->getColumn(0).getInt64() : 0;
    q->reset();
    return n;
  } catch (const std::exception& e) {
    return Fail(e, "counting managed users");
  }
}

Result<std::optional<std::string>> StateTxn::GetSetting(const std::string& key) {
  try {
    auto q = stmts_.Get("SELECT value FROM settings WHERE key = ?");
    q->bind(1, key);
    if (!q->executeStep()) return std::optional<std::string>();
    return std::optional<std::string>(q->getColumn(0).getString());
  } catch (const std::exception& e) {
    return Fail(e, "setting " + key);
  }
}

}  // namespace tenantsync
