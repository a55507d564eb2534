#include "daemon/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "adapters/auth0/auth0_client.h"
#include "daemon/guard.h"
#include "daemon/quarantine.h"
#include "daemon/writer.h"
#include "storage/sqlite_store.h"

namespace tenantsync {

namespace {

// Every family with its name, help and type, so that /metrics shows each one from start-up:
// label-less gauges with their zero value, labelled families (no samples yet) as HELP and TYPE.
struct Declared {
  std::string name, help;
  prometheus::MetricType type;
};

}  // namespace

struct Metrics::Impl {
  explicit Impl(Clock& c) : clock(c) {}
  Clock& clock;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::vector<Declared> declared;

  prometheus::Family<prometheus::Counter>& Counter(const std::string& name,
                                                   const std::string& help) {
    declared.push_back({name, help, prometheus::MetricType::Counter});
    return prometheus::BuildCounter().Name(name).Help(help).Register(*registry);
  }
  prometheus::Family<prometheus::Gauge>& Gauge(const std::string& name, const std::string& help) {
    declared.push_back({name, help, prometheus::MetricType::Gauge});
    auto& family = prometheus::BuildGauge().Name(name).Help(help).Register(*registry);
    family.Add({});  // present (0) from start-up
    return family;
  }
  prometheus::Family<prometheus::Histogram>& Histogram(const std::string& name,
                                                       const std::string& help) {
    declared.push_back({name, help, prometheus::MetricType::Histogram});
    return prometheus::BuildHistogram().Name(name).Help(help).Register(*registry);
  }

  prometheus::Family<prometheus::Counter>& events =
      Counter("tenantsync_events_total", "Webhook deliveries answered, by source and result");
  // Each (source, result)'s counter, found in `events` once and then incremented directly:
  // Family::Add builds a label map and hashes it, ~2.8k instructions on every delivery (issue 13).
  // Sources are the configured ones and "(unknown)", results a closed set: it stays small.
  std::mutex events_mu;
  std::unordered_map<std::string, prometheus::Counter*> events_by_labels;  // guarded by events_mu
  prometheus::Family<prometheus::Counter>& refused = Counter(
      "tenantsync_http_refused_total",
      "Connections or requests a listener refused or cut off (caps, deadlines, busy workers)");
  prometheus::Family<prometheus::Counter>& mutations =
      Counter("tenantsync_mutations_total", "Auth0 writes finished, by kind and result");
  prometheus::Family<prometheus::Gauge>& pending =
      Gauge("tenantsync_mutations_pending",
            "Entities marked to be reconciled into Auth0 (scheduled work included)");
  prometheus::Family<prometheus::Gauge>& oldest =
      Gauge("tenantsync_oldest_pending_seconds",
            "Age of the oldest work really waiting: a due event not applied, or a pending, "
            "in-flight or failed mutation");
  prometheus::Family<prometheus::Counter>& requests =
      Counter("tenantsync_auth0_requests_total",
              "Requests sent to Auth0, by endpoint and HTTP status (0: no answer)");
  // The same requests summed over the labels, for the progress rate (no family walk per status).
  std::atomic<int64_t> requests_total{0};
  // Mutations finished "done" since start (tenantsync_mutations_total{result="done"} summed).
  std::atomic<int64_t> mutations_done{0};
  prometheus::Family<prometheus::Histogram>& request_seconds =
      Histogram("tenantsync_auth0_request_seconds", "Auth0 request duration");
  prometheus::Family<prometheus::Gauge>& remaining = Gauge(
      "tenantsync_auth0_rate_limit_remaining", "x-ratelimit-remaining last reported by Auth0");
  prometheus::Family<prometheus::Gauge>& last_success = Gauge(
      "tenantsync_last_success_timestamp_seconds", "Unix time of the last successful Auth0 write");
  prometheus::Family<prometheus::Histogram>& lag = Histogram(
      "tenantsync_sync_lag_seconds", "From an event's receipt to its last mutation done in Auth0");
  prometheus::Family<prometheus::Gauge>& paused =
      Gauge("tenantsync_paused", "1 while an operator has paused the writer");
  prometheus::Family<prometheus::Gauge>& guard_tripped = Gauge(
      "tenantsync_guard_tripped", "1 while the destructive-change guard holds destructive work");
  prometheus::Family<prometheus::Gauge>& drift =
      Gauge("tenantsync_drift_differences",
            "Differences between Auth0 and tenantsync's last writes found by the last drift run");
  // The progress figures of GET /v1/status "progress" (what `tenantsync wait` watches).
  prometheus::Family<prometheus::Gauge>& progress_pending =
      Gauge("tenantsync_progress_pending",
            "Work still to do now or within a minute: entities_due, entities_within_a_minute, "
            "import_users (waiting for a users-import job, beyond the minute), events (due, "
            "not applied)");
  prometheus::Family<prometheus::Gauge>& progress_done_minute = Gauge(
      "tenantsync_progress_mutations_done_last_minute", "Auth0 writes done in the last minute");
  prometheus::Family<prometheus::Counter>& compacted =
      Counter("tenantsync_compacted_rows_total",
              "Rows compacted by the retention, by kind (event_bodies and vendor_bodies: bodies "
              "dropped, rows kept; mutations, commands, import_users: rows deleted)");
  prometheus::Counter& inbox_commits =
      Counter("tenantsync_inbox_commits_total",
              "Group commits of the inbox (one transaction and one fsync each)")
          .Add({});
  prometheus::Counter& inbox_commit_events =
      Counter("tenantsync_inbox_commit_events_total",
              "Deliveries stored by the inbox's group commits (events per commit = the ratio of "
              "the two rates)")
          .Add({});
  prometheus::Counter& import_planning_users_read =
      Counter("tenantsync_import_planning_users_read_total",
              "User rows read to plan users-import files (each walk reads every user pending "
              "creation)")
          .Add({});
  prometheus::Family<prometheus::Gauge>& quarantined = Gauge(
      "tenantsync_quarantined", "1 while most Auth0 requests fail and the writer only probes");
  prometheus::Histogram& request_hist = request_seconds.Add(
      {},
      prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  prometheus::Histogram& lag_hist = lag.Add(
      {}, prometheus::Histogram::BucketBoundaries{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600});
};

Metrics::Metrics(Clock& clock) : impl_(std::make_unique<Impl>(clock)) {}
Metrics::~Metrics() = default;

void Metrics::Compacted(const char* kind, int64_t rows) {
  impl_->compacted.Add({{"kind", kind}}).Increment(static_cast<double>(rows));
}

void Metrics::EventReceived(const std::string& source, const std::string& result) {
  std::string key;
  key.reserve(source.size() + 1 + result.size());
  key.append(source).push_back('\0');  // no source name holds a NUL
  key.append(result);
  prometheus::Counter* counter = nullptr;
  {
    std::lock_guard<std::mutex> lock(impl_->events_mu);
    auto it = impl_->events_by_labels.find(key);
    if (it == impl_->events_by_labels.end()) {
      it =
          impl_->events_by_labels
              .emplace(std::move(key), &impl_->events.Add({{"source", source}, {"result", result}}))
              .first;
    }
    counter = it->second;
  }
  counter->Increment();
}

void Metrics::MutationFinished(const std::string& kind, const std::string& result,
                               double lag_seconds) {
  impl_->mutations.Add({{"kind", kind}, {"result", result}}).Increment();
  if (result == "done") impl_->mutations_done.fetch_add(1, std::memory_order_relaxed);
  if (result == "done" && lag_seconds > 0) impl_->lag_hist.Observe(lag_seconds);
}

void Metrics::OnRequest(std::string_view endpoint_template, int status, double seconds) {
  impl_->requests_total.fetch_add(1, std::memory_order_relaxed);
  impl_->requests
      .Add({{"endpoint", std::string(endpoint_template)}, {"code", std::to_string(status)}})
      .Increment();
  impl_->request_hist.Observe(seconds);
}

int64_t Metrics::Auth0RequestsTotal() const {
  return impl_->requests_total.load(std::memory_order_relaxed);
}

int64_t Metrics::MutationsDoneTotal() const {
  return impl_->mutations_done.load(std::memory_order_relaxed);
}

void Metrics::ListenerRefused(const char* listener, const char* reason) {
  impl_->refused.Add({{"listener", listener}, {"reason", reason}}).Increment();
}

void Metrics::InboxCommitted(size_t events) {
  impl_->inbox_commits.Increment();
  impl_->inbox_commit_events.Increment(static_cast<double>(events));
}

void Metrics::ImportPlanned(int64_t users_read) {
  impl_->import_planning_users_read.Increment(static_cast<double>(users_read));
}

void Metrics::SetDriftDifferences(int64_t n) { impl_->drift.Add({}).Set(static_cast<double>(n)); }

std::string Metrics::Render(SqliteStore* store, Writer* writer, Auth0Client* auth0, Guard* guard,
                            Quarantine* quarantine) {
  if (quarantine) impl_->quarantined.Add({}).Set(quarantine->active() ? 1 : 0);
  if (guard) impl_->guard_tripped.Add({}).Set(guard->tripped() ? 1 : 0);
  if (store) {
    const int64_t now = impl_->clock.NowUnixMillis();
    if (auto d = store->CountDirtyDue(now, now + 60000); d.ok()) {
      impl_->pending.Add({}).Set(static_cast<double>(d->total));
      impl_->progress_pending.Add({{"what", "entities_due"}}).Set(static_cast<double>(d->due));
      impl_->progress_pending.Add({{"what", "entities_within_a_minute"}})
          .Set(static_cast<double>(d->soon));
      impl_->progress_pending.Add({{"what", "import_users"}})
          .Set(static_cast<double>(d->awaiting_import));
    }
    if (auto ev = store->CountEventsAt(now); ev.ok()) {
      auto get = [&](const char* k) { return ev->count(k) ? ev->at(k) : int64_t{0}; };
      impl_->progress_pending.Add({{"what", "events"}})
          .Set(static_cast<double>(std::max<int64_t>(0, get("pending") - get("scheduled"))));
    }
    if (auto n = store->CountMutationsDoneSince(now - 60000); n.ok())
      impl_->progress_done_minute.Add({}).Set(static_cast<double>(*n));
    if (auto oldest = store->OldestPendingMs(now); oldest.ok()) {
      double age = oldest->has_value() ? static_cast<double>(now - **oldest) / 1000.0 : 0.0;
      impl_->oldest.Add({}).Set(age);
    }
  }
  if (writer) {
    impl_->last_success.Add({}).Set(static_cast<double>(writer->last_success_ms()) / 1000.0);
    impl_->paused.Add({}).Set(writer->paused() ? 1 : 0);
  }
  if (auth0) impl_->remaining.Add({}).Set(static_cast<double>(auth0->RateLimitView().remaining));
  std::vector<prometheus::MetricFamily> families = impl_->registry->Collect();
  for (const auto& d : impl_->declared) {
    const bool present =
        std::any_of(families.begin(), families.end(),
                    [&](const prometheus::MetricFamily& f) { return f.name == d.name; });
    if (!present) families.push_back(prometheus::MetricFamily{d.name, d.help, d.type, {}});
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace tenantsync
