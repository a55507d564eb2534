#include "daemon/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <sstream>

#include "adapters/auth0/auth0_client.h"
#include "common/clock.h"
#include "daemon/guard.h"
#include "daemon/quarantine.h"
#include "daemon/writer.h"
#include "storage/sqlite_store.h"

namespace tenantsync {

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& events =
      prometheus::BuildCounter().Name("tenantsync_events_total").Help("Webhook deliveries answered, by source and result").Register(*registry);
  prometheus::Family<prometheus::Counter>& mutations =
      prometheus::BuildCounter().Name("tenantsync_mutations_total").Help("Auth0 writes finished, by kind and result").Register(*registry);
  prometheus::Family<prometheus::Gauge>& pending =
      prometheus::BuildGauge().Name("tenantsync_mutations_pending").Help("Entities waiting to be reconciled into Auth0").Register(*registry);
  prometheus::Family<prometheus::Gauge>& oldest =
      prometheus::BuildGauge().Name("tenantsync_oldest_pending_seconds").Help("Age of the oldest event or mutation not yet done").Register(*registry);
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter().Name("tenantsync_auth0_requests_total").Help("Requests sent to Auth0, by endpoint and HTTP status (0: no answer)").Register(*registry);
  prometheus::Family<prometheus::Histogram>& request_seconds =
      prometheus::BuildHistogram().Name("tenantsync_auth0_request_seconds").Help("Auth0 request duration").Register(*registry);
  prometheus::Family<prometheus::Gauge>& remaining =
      prometheus::BuildGauge().Name("tenantsync_auth0_rate_limit_remaining").Help("x-ratelimit-remaining last reported by Auth0").Register(*registry);
  prometheus::Family<prometheus::Gauge>& last_success =
      prometheus::BuildGauge().Name("tenantsync_last_success_timestamp_seconds").Help("Unix time of the last successful Auth0 write").Register(*registry);
  prometheus::Family<prometheus::Histogram>& lag =
      prometheus::BuildHistogram().Name("tenantsync_sync_lag_seconds").Help("From an event's receipt to its last mutation done in Auth0").Register(*registry);
  prometheus::Family<prometheus::Gauge>& paused =
      prometheus::BuildGauge().Name("tenantsync_paused").Help("1 while an operator has paused the writer").Register(*registry);
  prometheus::Family<prometheus::Gauge>& guard_tripped =
      prometheus::BuildGauge().Name("tenantsync_guard_tripped").Help("1 while the destructive-change guard holds destructive work").Register(*registry);
  prometheus::Family<prometheus::Gauge>& drift =
      prometheus::BuildGauge().Name("tenantsync_drift_differences").Help("Differences between Auth0 and tenantsync's last writes found by the last drift run").Register(*registry);
  prometheus::Family<prometheus::Gauge>& quarantined =
      prometheus::BuildGauge().Name("tenantsync_quarantined").Help("1 while most Auth0 requests fail and the writer only probes").Register(*registry);
  prometheus::Histogram& request_hist = request_seconds.Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  prometheus::Histogram& lag_hist = lag.Add({}, prometheus::Histogram::BucketBoundaries{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600});
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::EventReceived(const std::string& source, const std::string& result) {
  impl_->events.Add({{"source", source}, {"result", result}}).Increment();
}

void Metrics::MutationFinished(const std::string& kind, const std::string& result, double lag_seconds) {
  impl_->mutations.Add({{"kind", kind}, {"result", result}}).Increment();
  if (result == "done" && lag_seconds > 0) impl_->lag_hist.Observe(lag_seconds);
}

void Metrics::OnRequest(std::string_view endpoint_template, int status, double seconds) {
  impl_->requests.Add({{"endpoint", std::string(endpoint_template)}, {"code", std::to_string(status)}}).Increment();
  impl_->request_hist.Observe(seconds);
}

void Metrics::SetDriftDifferences(int64_t n) { impl_->drift.Add({}).Set(static_cast<double>(n)); }

std::string Metrics::Render(SqliteStore* store, Writer* writer, Auth0Client* auth0, Guard* guard, Quarantine* quarantine) {
  if (quarantine) impl_->quarantined.Add({}).Set(quarantine->active() ? 1 : 0);
  if (guard) impl_->guard_tripped.Add({}).Set(guard->tripped() ? 1 : 0);
  if (store) {
    if (auto dirty = store->CountDirty(); dirty.ok()) impl_->pending.Add({}).Set(static_cast<double>(*dirty));
    if (auto oldest = store->OldestPendingMs(); oldest.ok()) {
      double age = oldest->has_value() ? static_cast<double>(SystemClock().NowUnixMillis() - **oldest) / 1000.0 : 0.0;
      impl_->oldest.Add({}).Set(age);
    }
  }
  if (writer) {
    impl_->last_success.Add({}).Set(static_cast<double>(writer->last_success_ms()) / 1000.0);
    impl_->paused.Add({}).Set(writer->paused() ? 1 : 0);
  }
  if (auth0) impl_->remaining.Add({}).Set(static_cast<double>(auth0->RateLimitView().remaining));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, impl_->registry->Collect());
  return out.str();
}

}  // namespace tenantsync
