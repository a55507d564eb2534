// Retention: which old history the daemon compacts, and when (issue 17; the decision table is in
// docs/OPERATIONS.md, "Retention"; the keys in docs/CONFIGURATION.md, [storage]).
//
// What is compacted, in bounded batches (one write transaction of at most `batch_rows` rows
// each, so ingress and the writer wait at most one batch for the write lock):
//   kEventBodies   applied / rejected events last updated before the body cutoff lose their body
//                  (''), stamped compacted_at_ms; the row (source, event_id, type, state, times,
//                  error, note) stays, so dedup stays permanent.
//   kVendorBodies  mapped vendor notifications, same cutoff: body (the fetched record) dropped.
//   kMutations     done / superseded / discarded mutations older than the history cutoff:
//                  deleted. failed / dead / pending / in_flight: never.
//   kCommands      done / skipped one-shot commands older than the history cutoff: deleted.
//   kImportUsers   the per-user records (PII as sent) of users-import jobs that finished
//                  (completed / failed / abandoned) before the history cutoff: deleted; the job
//                  row with its summary stays.
// Everything else is bounded by the tenant's size or pruned where it is written (see the table).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

namespace tenantsync {

struct RetentionOptions {
  // Days an applied/rejected event (and a mapped vendor notification) keeps its body; 0 = forever.
  int event_body_retention_days = 30;
  // Days done/superseded/discarded mutations, done/skipped commands and finished import records
  // are kept; 0 = forever.
  int mutation_retention_days = 90;
  // How often the daemon runs a compaction pass; 0 = never (nothing is compacted).
  int compaction_interval_seconds = 3600;
  // Rows per transaction.
  int compaction_batch_rows = 1000;
};

enum class CompactionKind { kEventBodies, kVendorBodies, kMutations, kCommands, kImportUsers };
inline constexpr std::array<CompactionKind, 5> kCompactionKinds = {
    CompactionKind::kEventBodies, CompactionKind::kVendorBodies, CompactionKind::kMutations,
    CompactionKind::kCommands, CompactionKind::kImportUsers};
// Metric label / status key: "event_bodies", "vendor_bodies", "mutations", "commands",
// "import_users".
const char* CompactionKindName(CompactionKind kind);

// The cutoff of each kind at `now_ms` (rows last updated strictly before it are compacted), or
// nullopt when its retention is 0 (kept forever). Pure.
std::optional<int64_t> CompactionCutoff(const RetentionOptions& options, CompactionKind kind,
                                        int64_t now_ms);

// Rows compacted per kind (one pass, or since start-up).
struct CompactionCounts {
  std::array<int64_t, kCompactionKinds.size()> rows{};
  int64_t& operator[](CompactionKind k) { return rows[static_cast<size_t>(k)]; }
  int64_t operator[](CompactionKind k) const { return rows[static_cast<size_t>(k)]; }
  int64_t Total() const {
    int64_t t = 0;
    for (auto n : rows) t += n;
    return t;
  }
};

}  // namespace tenantsync
