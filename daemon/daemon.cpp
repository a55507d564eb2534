#include "daemon/daemon.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <future>
#include <string>
#include <vector>

#include "adapters/auth0/auth0_client.h"
#include "common/clock.h"
#include "common/memory.h"
#include "common/random.h"
#include "daemon/admin.h"
#include "daemon/config.h"
#include "daemon/declared_api.h"
#include "daemon/drift.h"
#include "daemon/guard.h"
#include "daemon/http_server.h"
#include "daemon/ingress.h"
#include "daemon/ingress/scim_service.h"
#include "daemon/ingress/vendor_stage.h"
#include "daemon/metrics.h"
#include "daemon/migration_notice.h"
#include "daemon/retention.h"
#include "daemon/writer.h"
#include "storage/group_commit.h"
#include "storage/sqlite_store.h"

namespace tenantsync {
namespace {

HttpServerOptions IngressServerOptions(const IngressOptions& in) {
  HttpServerOptions o;
  o.listen = in.listen;
  o.tls_cert_file = in.tls_cert_file;
  o.tls_key_file = in.tls_key_file;
  o.max_body_bytes = in.max_body_bytes;
  o.worker_threads = in.worker_threads;
  o.max_queued_connections = in.max_queued_connections;
  o.read_timeout_seconds = in.read_timeout_seconds;
  o.write_timeout_seconds = in.write_timeout_seconds;
  o.keep_alive_seconds = in.keep_alive_seconds;
  o.retry_after_seconds = in.retry_after_seconds;
  o.max_connections = in.max_connections;
  o.max_connections_per_peer = in.max_connections_per_peer;
  o.head_timeout_seconds = in.request_head_timeout_seconds;
  o.body_timeout_seconds = in.request_body_timeout_seconds;
  o.max_head_bytes = in.max_head_bytes;
  o.thread_name = "ts-in";
  // Webhooks are verified on the event loop's thread and answered after their group commit;
  // SCIM (synchronous writes) runs on the workers.
  o.inline_path_prefix = "/webhooks/";
  return o;
}

HttpServerOptions AdminServerOptions(const AdminOptions& a) {
  HttpServerOptions o;
  o.listen = a.listen;
  o.tls_cert_file = a.tls_cert_file;
  o.tls_key_file = a.tls_key_file;
  o.max_body_bytes = kMaxApplyBodyBytes;  // only an apply may be that large (AdminBodyPrecheck)
  o.worker_threads = 4;
  o.max_queued_connections = 16;
  o.max_connections = a.max_connections;
  o.max_connections_per_peer = 0;  // loopback or a unix socket: every client is one peer
  o.head_timeout_seconds = a.request_head_timeout_seconds;
  o.priority_paths = {"/healthz", "/readyz"};
  o.thread_name = "ts-admin";
  return o;
}

// [auth0] keys a SIGHUP cannot apply (the client is built once at start-up); only the client
// secret is reloaded.
std::vector<std::string> RestartOnlyAuth0Changes(const Auth0Options& running,
                                                 const Auth0Options& next) {
  std::vector<std::string> keys;
  auto check = [&](bool changed, const char* key) {
    if (changed) keys.emplace_back(key);
  };
  check(running.domain != next.domain, "domain");
  check(running.base_url != next.base_url, "base_url");
  check(running.client_id != next.client_id, "client_id");
  check(running.connection != next.connection, "connection");
  check(running.application_client_id != next.application_client_id, "application_client_id");
  check(running.max_in_flight != next.max_in_flight, "max_in_flight");
  check(running.rate_limit_fraction != next.rate_limit_fraction, "rate_limit_fraction");
  check(running.member_batch_size != next.member_batch_size, "member_batch_size");
  check(running.connect_timeout != next.connect_timeout, "connect_timeout_ms");
  check(running.read_timeout != next.read_timeout, "read_timeout_ms");
  check(running.max_retries != next.max_retries, "max_retries");
  return keys;
}

void Notify(const std::string& state) {
  // A no-op when NOTIFY_SOCKET is unset (not started by systemd).
  sd_notify(0, state.c_str());
}

}  // namespace

int RunMigrate(const std::string& config_path) {
  auto cfg = LoadConfig(config_path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", cfg.status().message().c_str());
    return 2;
  }
  // Each migration named as it starts, a long one's running time every 10 s: not a silent
  // terminal for the minutes a large database can take.
  Clock& clock = SystemClock();
  MigrationProgress progress(clock, [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  });
  StorageOptions storage = cfg->storage;
  storage.migration_observer = &progress.observer();
  auto report = SqliteStore::Migrate(storage);
  if (!report.ok()) {
    std::fprintf(stderr, "tenantsync migrate: %s\n", report.status().message().c_str());
    return 1;
  }
  if (report->applied.empty()) {
    std::printf("%s: schema already at version %d; nothing to do\n", cfg->storage.path.c_str(),
                report->to_version);
  }
  if (!report->applied.empty()) {
    std::printf("%s: schema version %d -> %d\n", cfg->storage.path.c_str(), report->from_version,
                report->to_version);
  }
  return 0;
}

int RunBackup(const std::string& config_path, const std::string& to) {
  auto cfg = LoadConfig(config_path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", cfg.status().message().c_str());
    return 2;
  }
  if (FILE* f = std::fopen(to.c_str(), "r")) {
    std::fclose(f);
    std::fprintf(stderr, "tenantsync backup: %s already exists; choose a new file\n", to.c_str());
    return 2;
  }
  // migrate=false: a backup must never change the schema of the live database.
  auto store = SqliteStore::Open(cfg->storage, /*migrate=*/false);
  if (!store.ok()) {
    std::fprintf(stderr, "tenantsync backup: %s\n", store.status().message().c_str());
    return 1;
  }
  if (auto st = (*store)->Backup(to); !st.ok()) {
    std::fprintf(stderr, "tenantsync backup: %s\n", st.message().c_str());
    return 1;
  }
  std::printf("backup of %s written to %s\n", cfg->storage.path.c_str(), to.c_str());
  return 0;
}

int RunServe(const ServeFlags& flags) {
  // Signals are taken synchronously by the main loop: block them before any thread starts so
  // every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Before any thread starts (common/memory.h): with one arena per busy thread (up to 16 on two
  // cores), memory freed by the workers between two trims kept bench-backfill --full at 150.8 MB;
  // a few arenas are shared by all (two made the ingest threads wait on each other's).
  LimitAllocatorArenas(kAllocatorArenas);

  auto cfg = LoadConfig(flags.config_path);
  if (!cfg.ok()) {
    spdlog::error("configuration refused:\n{}", cfg.status().message());
    return 2;
  }
  Config config = std::move(cfg).value();
  Clock& clock = SystemClock();  // the one clock of the daemon, handed to every component
  config.storage.clock = &clock;

  // Migrations run before READY=1; systemd hears that they progress, so a long one on a large
  // database is not killed by the start-up timeout and restarted from scratch for ever.
  MigrationNotice migrating(clock, Notify);
  MigrationObserver observer = migrating.observer();
  observer.starting = [&migrating](const std::string& label) {
    spdlog::info("storage: applying migration {}", label);
    migrating.Starting(label);
  };
  config.storage.migration_observer = &observer;
  auto opened = SqliteStore::Open(config.storage, /*migrate=*/true);
  config.storage.migration_observer = nullptr;
  if (!opened.ok()) {
    spdlog::error("storage: {}", opened.status().message());
    return 1;
  }
  std::unique_ptr<SqliteStore> store = std::move(opened).value();
  spdlog::info("storage open at {}", config.storage.path);

  SecureRandom random;
  Metrics metrics(clock);
  Quarantine quarantine(clock, config.quarantine, &metrics);  // sees every Auth0 answer first
  std::unique_ptr<Auth0Client> auth0;
  {
    // Also in a dry run: reads (callbacks, lookups after an unknown outcome) still go to Auth0;
    // only writes are recorded instead of sent (Writer, options.dry_run).
    auto created = Auth0Client::Create(config.auth0, clock, random, &quarantine);
    if (!created.ok()) {
      spdlog::error("auth0: {}", created.status().message());
      return 2;
    }
    auth0 = std::move(created).value();
  }
  if (flags.dry_run)
    spdlog::warn("dry run: Auth0 writes are planned and recorded as pending mutations, never sent");
  WriterOptions wopts;
  wopts.workers = config.auth0.max_in_flight;
  wopts.policy = config.policy;
  wopts.connection = config.auth0.connection;
  wopts.application_client_id = config.auth0.application_client_id;
  wopts.member_batch_size = config.auth0.member_batch_size;
  wopts.import_threshold = config.auth0.import_threshold;
  wopts.dry_run = flags.dry_run;
  Guard guard(*store, clock,
              GuardOptions{config.policy.guard_max_destructive, config.policy.guard_max_fraction,
                           config.policy.guard_window_seconds, config.policy.guard_settle_ms});
  WriterObserver wobs;
  wobs.on_mutation = [&](const MutationRow& row, MutationState outcome, double lag) {
    metrics.MutationFinished(row.kind, MutationStateName(outcome), lag);
  };
  wobs.on_import_planned = [&](int64_t users_read) { metrics.ImportPlanned(users_read); };
  // The ingress's parse of each accepted event goes to the writer with it (issue 13); declared
  // before both, so it outlives the committer's callbacks and the writer.
  ParsedEventCache parsed_events;
  Writer writer(*store, auth0.get(), clock, random, wopts, wobs);
  // Drift detection (SPEC §6): reads Auth0 for managed objects; corrections go through the writer.
  DriftOptions dopts;
  dopts.application_client_id = config.auth0.application_client_id;
  dopts.connection = config.auth0.connection;
  dopts.user_export_threshold = static_cast<size_t>(config.policy.drift_user_export_threshold);
  dopts.member_list_lag = std::chrono::seconds(config.policy.drift_member_list_lag_seconds);
  Drift drift(*store, *auth0, clock, dopts, [&](const nlohmann::json& report, bool marked) {
    metrics.SetDriftDifferences(static_cast<int64_t>(report["differences"].size()));
    if (marked) writer.Wake();
  });
  if (auto last = drift.Last(); last.is_object()) {
    metrics.SetDriftDifferences(
        static_cast<int64_t>(last.value("differences", nlohmann::json::array()).size()));
  }
  // The configured mode, updated on SIGHUP (read by the admin API's threads).
  std::mutex drift_mode_mu;
  std::string drift_mode = config.policy.drift_mode;
  int drift_interval_seconds = config.policy.drift_interval_seconds;

  GroupCommitOptions commit_options;
  commit_options.on_commit = [&metrics](size_t events) { metrics.InboxCommitted(events); };
  GroupCommitter committer(*store, commit_options);
  Ingress ingress(config.sources, committer, clock, config.ingress.retry_after_seconds);
  ingress.SetLogEventsPerSecond(config.ingress.log_events_per_second);
  ingress.SetObserver(
      [&](const std::string& source, const std::string&, const std::string& result, int) {
        // A path under /webhooks/ that names no configured source must not mint new label values.
        metrics.EventReceived(
            result == "unknown_source" || result == "not_found" ? "(unknown)" : source, result);
        if (result == "accepted") writer.Wake();
      });
  // SCIM 2.0 under /scim/v2/ on the same listener (issue 18, docs/SCIM.md).
  ScimService::Options scim_options;
  scim_options.bulk.max_payload_bytes = config.ingress.max_body_bytes;
  scim_options.retry_after_seconds = config.ingress.retry_after_seconds;
  scim_options.tls = !config.ingress.tls_cert_file.empty();
  ScimService scim(
      *store, clock, random, [&ingress] { return ingress.Sources(); }, [&writer] { writer.Wake(); },
      scim_options);
  ingress.SetScim(&scim);
  // Vendor connectors (issue 18, docs/CONNECTORS.md): notifications stored before the answer,
  // records fetched and mapped into inbox events by the stage's own thread.
  VendorStage vendors(
      *store, clock, [&ingress] { return ingress.Sources(); },
      [&clock, &random](const SourceConfig& s) {
        return NewHttpVendorApi(s.vendor_api, clock, random);
      },
      [&writer] { writer.Wake(); });
  ingress.SetVendorStage(&vendors);
  ingress.SetParsedEvents(&parsed_events);
  writer.SetParsedEvents(&parsed_events);
  HttpServerOptions ingress_options = IngressServerOptions(config.ingress);
  ingress_options.on_refused = [&metrics](const char* reason) {
    metrics.ListenerRefused("ingress", reason);
  };
  HttpServer ingress_server(ingress_options);
  // Answered when the group commit holding the event is durable; no thread waits for it.
  ingress_server.SetAsyncHandler(
      [&](ServerRequest r, HttpServer::Responder respond) {
        ingress.HandleAsync(std::move(r), std::move(respond));
      },
      [&](const ServerRequest& r) { return ingress.Precheck(r); });
  // The events of one pass of the ingress loop share a commit (GroupCommitter::Hold).
  ingress_server.SetPassHooks({[&] { committer.Hold(); }, [&] { committer.Release(); }});
  if (auto st = ingress_server.Bind(); !st.ok()) {
    spdlog::error("ingress: {}", st.message());
    return 1;
  }

  AdminHooks hooks;
  hooks.auth0_token_valid = [&] { return auth0 && auth0->HasValidToken(); };
  hooks.pipeline_stalled = [&] { return writer.Stalled(); };
  hooks.writer = &writer;
  hooks.auth0 = auth0.get();
  hooks.guard = &guard;
  hooks.auth0_requests_total = [&metrics] { return metrics.Auth0RequestsTotal(); };
  hooks.mutations_done_total = [&metrics] { return metrics.MutationsDoneTotal(); };
  hooks.metrics = [&] {
    return metrics.Render(store.get(), &writer, auth0.get(), &guard, &quarantine);
  };
  // Retention (docs/OPERATIONS.md "Retention"): a pass every compaction_interval_seconds, off
  // the main loop; 20 ms between batches leaves the write lock to ingress and the writer.
  Compactor compactor(*store, clock, config.storage.retention, std::chrono::milliseconds(20),
                      [&metrics](CompactionKind kind, int64_t rows) {
                        metrics.Compacted(CompactionKindName(kind), rows);
                      });
  hooks.extra_status = [&](nlohmann::json& body) {
    body["quarantine"] = quarantine.StatusJson();
    body["retention"] = compactor.StatusJson();
  };
  hooks.drift_run = [&](const std::string& mode) {
    std::string m = mode;
    if (m.empty()) {
      std::lock_guard<std::mutex> lock(drift_mode_mu);
      m = drift_mode;
    }
    return drift.Run(m == "correct");
  };
  hooks.drift_last = [&] { return drift.Last(); };
  hooks.sources = [&ingress] { return *ingress.Sources(); };
  hooks.vendor_replay = [&vendors](const std::string& source, const std::string& event_id) {
    return vendors.Replay(source, event_id);
  };
  hooks.random = &random;  // ids of events submitted through POST /v1/events
  hooks.tls = !config.admin.tls_cert_file.empty();
  AdminApi admin(config.admin.AllTokens(), *store, clock, hooks);
  HttpServerOptions admin_options = AdminServerOptions(config.admin);
  admin_options.on_refused = [&metrics](const char* reason) {
    metrics.ListenerRefused("admin", reason);
  };
  HttpServer admin_server(admin_options);
  admin_server.SetHandler([&](const ServerRequest& r) { return admin.Handle(r); },
                          [](const ServerRequest& r) { return AdminBodyPrecheck(r); });
  if (auto st = admin_server.Bind(); !st.ok()) {
    spdlog::error("admin: {}", st.message());
    return 1;
  }

  writer.SetGuard(&guard);
  writer.SetQuarantine(&quarantine);
  writer.Start();
  vendors.Start();
  ingress_server.Start();
  admin_server.Start();
  spdlog::info("ingress listening on {}", ingress_server.BoundAddress());
  spdlog::info("admin listening on {}", admin_server.BoundAddress());
  Notify("READY=1\nSTATUS=accepting webhooks");

  uint64_t watchdog_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  struct timespec tick = {1, 0};
  if (watchdog && watchdog_usec / 2 < 1000000) {
    tick.tv_sec = 0;
    tick.tv_nsec = static_cast<long>(watchdog_usec / 2 * 1000);
  }

  std::future<void> token_task;
  std::future<void> drift_task;
  std::future<void> compaction_task;
  auto last_drift = clock.Monotonic();
  auto last_trim = clock.Monotonic();
  while (true) {
    int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig == SIGHUP) {
      struct timespec now {};
      clock_gettime(CLOCK_MONOTONIC, &now);
      Notify("RELOADING=1\nMONOTONIC_USEC=" +
             std::to_string(static_cast<uint64_t>(now.tv_sec) * 1000000 +
                            static_cast<uint64_t>(now.tv_nsec) / 1000));
      auto next = LoadConfig(flags.config_path);
      if (!next.ok()) {
        spdlog::error("reload refused, keeping the running configuration:\n{}",
                      next.status().message());
      } else {
        ingress.ReplaceSources(next->sources);
        admin.ReplaceTokens(next->admin.AllTokens());
        writer.SetPolicy(next->policy);
        {
          std::lock_guard<std::mutex> lock(drift_mode_mu);
          drift_mode = next->policy.drift_mode;
        }
        drift_interval_seconds = next->policy.drift_interval_seconds;
        guard.SetOptions(
            GuardOptions{next->policy.guard_max_destructive, next->policy.guard_max_fraction,
                         next->policy.guard_window_seconds, next->policy.guard_settle_ms});
        // A rotated Auth0 client secret: the client drops its token and the next token request
        // uses the new secret. (An unreadable secret file refuses the whole reload above, so the
        // running secret stays.)
        if (next->auth0.client_secret != config.auth0.client_secret) {
          auth0->SetClientSecret(next->auth0.client_secret);
          config.auth0.client_secret = next->auth0.client_secret;
          spdlog::info("auth0: client secret reloaded; the next token request uses it");
        }
        if (auto keys = RestartOnlyAuth0Changes(config.auth0, next->auth0); !keys.empty()) {
          std::string list;
          for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
          spdlog::warn(
              "reload: [auth0] {} changed; only client_secret_file is reloaded, the rest takes "
              "effect on restart",
              list);
        }
        spdlog::info("configuration reloaded: {} source(s)", next->sources.size());
      }
      Notify("READY=1");
      continue;
    }
    // Periodic tick: the one place timers live.
    if (auth0 && !auth0->HasValidToken() &&
        (!token_task.valid() ||
         token_task.wait_for(std::chrono::seconds(0)) == std::future_status::ready)) {
      // Fetched off the main loop (it may wait on the network); /readyz turns true once it lands.
      token_task = std::async(std::launch::async, [&auth0] {
        if (auto st = auth0->EnsureToken(); !st.ok()) spdlog::warn("auth0 token: {}", st.message());
      });
    }
    if (drift_interval_seconds > 0 &&
        clock.Monotonic() - last_drift >= std::chrono::seconds(drift_interval_seconds) &&
        (!drift_task.valid() ||
         drift_task.wait_for(std::chrono::seconds(0)) == std::future_status::ready)) {
      // Off the main loop (it reads the whole managed tenant); one run at a time.
      last_drift = clock.Monotonic();
      bool correct = false;
      {
        std::lock_guard<std::mutex> lock(drift_mode_mu);
        correct = drift_mode == "correct";
      }
      drift_task = std::async(std::launch::async, [&drift, correct] {
        if (auto r = drift.Run(correct); !r.ok()) spdlog::warn("drift: {}", r.status().ToString());
      });
    }
    if (compactor.Due() &&
        (!compaction_task.valid() ||
         compaction_task.wait_for(std::chrono::seconds(0)) == std::future_status::ready)) {
      compaction_task = std::async(std::launch::async, [&compactor] {
        if (auto r = compactor.RunPass(); !r.ok())
          spdlog::warn("retention: {}", r.status().ToString());
      });
    }
    if (clock.Monotonic() - last_trim >= std::chrono::seconds(10)) {
      // What workers freed stays resident in their malloc arenas (common/memory.h): at 100,000
      // users that was 200 MB held for 37 MB in use. Trimmed only when 16 MB or more is free.
      last_trim = clock.Monotonic();
      ReleaseFreeMemory(size_t{16} << 20);
    }
    auto counts = store->CountEventsAt(clock.NowUnixMillis());
    if (counts.ok()) {
      int64_t pending = counts->count("pending") ? counts->at("pending") : 0;
      int64_t scheduled = counts->count("scheduled") ? counts->at("scheduled") : 0;
      auto dirty = store->CountDirty();
      int64_t last = writer.last_success_ms();
      Notify("STATUS=" + std::string(writer.paused() ? "paused; " : "") + std::to_string(pending) +
             " event(s) pending" +
             (scheduled > 0 ? " (" + std::to_string(scheduled) + " of them scheduled)" : "") +
             ", " + std::to_string(dirty.ok() ? *dirty : -1) + " entity(ies) to reconcile" +
             (last > 0 ? ", last Auth0 write " +
                             std::to_string((clock.NowUnixMillis() - last) / 1000) + " s ago"
                       : ""));
      // Ping only while the writer's scheduler loop is turning: a wedged writer stops the pings so
      // systemd restarts the service (storage answering is checked just above).
      const auto stalled = std::chrono::duration_cast<std::chrono::microseconds>(
          clock.Monotonic() - writer.last_loop());
      const auto allowed =
          std::chrono::microseconds(std::max<uint64_t>(watchdog_usec / 2, 5000000));
      if (watchdog && stalled < allowed) {
        Notify("WATCHDOG=1");
      } else if (watchdog) {
        spdlog::error("watchdog: the writer loop has not turned for {} ms; not pinging systemd",
                      stalled.count() / 1000);
      }
    }
  }

  spdlog::info("stopping: draining in-flight requests");
  Notify("STOPPING=1");
  compactor.Stop();  // a running compaction pass ends after its current batch
  ingress.SetDraining(true);
  scim.SetDraining(true);
  // Senders on keep-alive connections get their answers (new webhooks: 503 + Retry-After, with
  // Connection: close) before the listener goes away.
  ingress_server.Drain(std::chrono::seconds(config.ingress.keep_alive_seconds + 1));
  admin_server.Stop();
  committer.Stop();
  vendors.Stop();  // answers the deliveries still queued for storage, then joins
  writer.Stop();   // also cuts short Auth0 retries, so a pending token fetch returns promptly
  if (token_task.valid()) token_task.wait();
  if (drift_task.valid()) drift_task.wait();  // Auth0 calls were cut short by the client's Shutdown
  if (compaction_task.valid()) compaction_task.wait();
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace tenantsync
