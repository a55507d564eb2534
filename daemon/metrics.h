// Metrics: tenantsync's Prometheus metrics (SPEC §7), kept with prometheus-cpp's core library
// and rendered in the text exposition format by the admin API's GET /metrics.
//
// Counters and histograms are updated by the components as things happen (ingress, writer,
// Auth0 client); gauges that describe stored state are refreshed from storage at scrape time.
// Thread safety: every method may be called from any thread. Labels never carry secrets.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "adapters/auth0/observer.h"
#include "common/clock.h"

namespace prometheus {
class Registry;
}

namespace tenantsync {

class SqliteStore;
class Writer;
class Auth0Client;
class Guard;
class Quarantine;

class Metrics final : public Auth0Observer {
 public:
  // `clock` (the daemon's) dates the gauges read at scrape time (oldest pending age, what is due).
  explicit Metrics(Clock& clock);
  ~Metrics() override;

  // tenantsync_events_total{source,result}: one per delivery answered by ingress.
  void EventReceived(const std::string& source, const std::string& result);
  // tenantsync_mutations_total{kind,result} and, for done mutations with known events,
  // tenantsync_sync_lag_seconds (event received -> its mutation done in Auth0).
  void MutationFinished(const std::string& kind, const std::string& result, double lag_seconds);
  // Auth0Observer: tenantsync_auth0_requests_total{endpoint,code} and
  // tenantsync_auth0_request_seconds.
  void OnRequest(std::string_view endpoint_template, int status, double seconds) override;
  // Every request reported to OnRequest since start (the sum of tenantsync_auth0_requests_total
  // over its labels): GET /v1/status progress.auth0_requests_total. Lock-free.
  int64_t Auth0RequestsTotal() const;
  // Mutations reported done to MutationFinished since start: GET /v1/status
  // progress.mutations_done_total. Unlike the stored count it never drops when the retention
  // deletes old done mutations. Lock-free.
  int64_t MutationsDoneTotal() const;
  // tenantsync_http_refused_total{listener,reason}: connections or requests a listener refused
  // or cut off under load (HttpServerOptions::on_refused).
  void ListenerRefused(const char* listener, const char* reason);
  // tenantsync_compacted_rows_total{kind}: rows the retention compacted (daemon/retention.h; kind
  // as CompactionKindName: event_bodies, vendor_bodies, mutations, commands, import_users).
  void Compacted(const char* kind, int64_t rows);
  // tenantsync_inbox_commits_total and tenantsync_inbox_commit_events_total: one group commit
  // of the inbox that stored `events` deliveries (GroupCommitOptions::on_commit). Lock-free.
  void InboxCommitted(size_t events);
  // tenantsync_import_planning_users_read_total: user rows read (and parsed) by one walk that
  // planned users-import files (ExecutorObserver::on_import_planned). Lock-free.
  void ImportPlanned(int64_t users_read);
  // tenantsync_drift_differences: differences found by the last drift run.
  void SetDriftDifferences(int64_t n);

  // Renders every metric; gauges are read from the given sources first (any may be null).
  std::string Render(SqliteStore* store, Writer* writer, Auth0Client* auth0, Guard* guard = nullptr,
                     Quarantine* quarantine = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tenantsync
