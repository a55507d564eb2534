// Reconciliation benchmark (issue 5): how close does tenantsync's single writer get to the
// fastest any writer could converge a burst of HR events into a rate-limited Auth0 tenant?
//
// 1. Generates a deterministic workload (--seed): organizations (one connection and one callback
//    URL each), users with one or two memberships and roles, leavers and password resets.
// 2. Starts auth0-sim (--rate 40 --burst 50 --latency-ms 100), creates the roles the workload
//    uses, starts `tenantsync serve` against it, posts every event signed over several
//    keep-alive connections as fast as they go, then polls /v1/status until converged (bounded).
// 3. Counts Auth0 requests from the simulator's /__sim/stats (Management API and the
//    Authentication API's /dbconnections; /oauth/token and /__sim/* excluded), 429s, the
//    daemon's peak memory (VmHWM), and checks the simulator's final state against the desired
//    state of the workload ("lost updates").
// 4. Counts from the workload the requests no writer can avoid (docs/BENCHMARKS.md explains the
//    counting) and prints the lower-bound time = (rate-limited requests - burst) / rate, and the
//    ratio time / lower bound.
// 5. At the same time (or after, with --sequential), replays the naive approach against a fresh
//    simulator with the same limits: one request per change, in arrival order, by N parallel
//    workers, read-modify-write of the application's callbacks included; prints its requests,
//    time, 429s and lost updates beside ours.
// 6. Leaver lag (issue 12): for each user.left, from its 202 to the user blocked in the simulator
//    (polls /__sim/state; the block moment is the simulator's updated_at in ms when no later change
//    hides it). Printed for the main run and for a second scenario run after it
//    (--leaver-behind-hires N, default 400; 0 skips it): seed a few users, then deliver N new
//    hires and right behind them user.left for the seeded users, on a 16 requests/s simulator;
//    3 rounds of 5 leavers, each with a fresh simulator and daemon.
//
// Usage: bench-reconcile [--full] [--seed 1] [--max-in-flight 8] [--naive-workers 8]
//                        [--sequential] [--no-naive] [--auth0-toml 'k = v'] [--build-dir DIR]
//                        [--leaver-poll-ms 200] [--leaver-behind-hires 400] [--leavers-behind 5]
//                        [--leaver-rounds 3] [--leaver-rate 16] [--leaver-burst 50]
//                        [--leaver-timeout 300] [--leaver-scenario-only]
// A benchmark, not a test: not run by ctest; exit status 1 only when ours did not converge, lost
// updates, invited a leaver, or left a leaver unblocked.
// Loopback only; every port chosen at run time (port 0); every loop bounded in count and time.

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "adapters/signature/signature.h"
#include "tests/bench/bench_support.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/subprocess.h"

namespace {

using namespace tenantsync;
using namespace tenantsync::testing;
using namespace tenantsync::bench;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kConnection = kSimConnection;
constexpr const char* kClientId = kSimClientId;
constexpr double kTargetRatio = 1.15;       // issue 5
constexpr double kKeepFiguresRatio = 1.05;  // issue 12: "stays at <= 1.05 x its lower bound"

// ---- Workload -----------------------------------------------------------------------------------

struct Membership {
  int org = 0;
  std::vector<std::string> roles;
};

struct User {
  std::string ext, email, name, given, family, team;
  std::vector<Membership> orgs;
  bool leaver = false;
  int resets = 0;
};

struct Org {
  std::string ext, name, display, url;
};

struct Event {
  std::string id, type;
  Json data;
  std::string timestamp;
  std::string Body() const { return EventBody(type, data, timestamp); }
};

struct Workload {
  std::vector<Org> orgs;
  std::vector<User> users;
  std::vector<Event> events;  // arrival order
  int leavers = 0, resets = 0;
};

Workload MakeWorkload(int n_orgs, int n_users, int n_leavers, int n_resets, uint64_t seed) {
  Workload w;
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  const int64_t base = 1795600800;  // 2026-11-25T08:00:00Z: event times, one second apart
  int64_t tick = 0;
  for (int i = 0; i < n_orgs; ++i) {
    Org o;
    o.ext = "org-" + std::to_string(i);
    o.name = "bench-org-" + std::to_string(i);
    o.display = "Bench Org " + std::to_string(i);
    o.url = "https://org-" + std::to_string(i) + ".example.com/callback";
    w.orgs.push_back(o);
    Event e{"evt-org-" + std::to_string(i),
            "organization.upserted",
            {{"external_id", o.ext},
             {"name", o.name},
             {"display_name", o.display},
             {"metadata", {{"region", i % 2 ? "eu" : "us"}}},
             {"connections",
              Json::array({{{"name", kConnection}, {"assign_membership_on_login", false}}})},
             {"callback_urls", Json::array({o.url})}},
            Rfc3339(base + tick++)};
    w.events.push_back(std::move(e));
  }
  for (int j = 0; j < n_users; ++j) {
    User u;
    u.ext = "emp-" + std::to_string(j);
    u.email = "emp-" + std::to_string(j) + "@example.com";
    u.given = "Given" + std::to_string(j);
    u.family = "Family" + std::to_string(j);
    u.name = u.given + " " + u.family;
    u.team = "team-" + std::to_string(j % 7);
    const int n_memberships = (n_orgs >= 2 && pick(2) == 1) ? 2 : 1;
    std::set<int> chosen;
    while (static_cast<int>(chosen.size()) < n_memberships) chosen.insert(pick(n_orgs));
    for (int org : chosen) {
      Membership m{org, {"member"}};
      if (pick(3) == 0) m.roles.push_back(pick(4) == 0 ? "admin" : "manager");
      u.orgs.push_back(m);
    }
    Json orgs = Json::array();
    for (auto& m : u.orgs)
      orgs.push_back({{"external_id", w.orgs[static_cast<size_t>(m.org)].ext}, {"roles", m.roles}});
    w.users.push_back(u);
    w.events.push_back(Event{"evt-user-" + std::to_string(j),
                             "user.upserted",
                             {{"external_id", u.ext},
                              {"email", u.email},
                              {"name", u.name},
                              {"given_name", u.given},
                              {"family_name", u.family},
                              {"user_metadata", {{"team", u.team}}},
                              {"organizations", orgs}},
                             Rfc3339(base + tick++)});
  }
  // Leavers and resets: distinct users, delivered after every upsert, shuffled together.
  std::vector<int> ids(static_cast<size_t>(n_users));
  for (int j = 0; j < n_users; ++j) ids[static_cast<size_t>(j)] = j;
  std::shuffle(ids.begin(), ids.end(), rng);
  n_leavers = std::min(n_leavers, n_users);
  n_resets = std::min(n_resets, n_users - n_leavers);
  std::vector<Event> tail;
  for (int k = 0; k < n_leavers; ++k) {
    User& u = w.users[static_cast<size_t>(ids[static_cast<size_t>(k)])];
    u.leaver = true;
    tail.push_back(Event{"evt-left-" + u.ext, "user.left", {{"external_id", u.ext}}, ""});
  }
  for (int k = 0; k < n_resets; ++k) {
    User& u = w.users[static_cast<size_t>(ids[static_cast<size_t>(n_leavers + k)])];
    u.resets = 1;
    tail.push_back(
        Event{"evt-reset-" + u.ext, "user.password_reset_requested", {{"external_id", u.ext}}, ""});
  }
  std::shuffle(tail.begin(), tail.end(), rng);
  for (auto& e : tail) {
    e.timestamp = Rfc3339(base + tick++);
    w.events.push_back(std::move(e));
  }
  w.leavers = n_leavers;
  w.resets = n_resets;
  return w;
}

// ---- Lower bound --------------------------------------------------------------------------------

struct BoundItem {
  std::string what;
  int64_t count;
  bool rate_limited;  // Management API (spends the tenant's rate-limit tokens)
};

struct LowerBound {
  std::vector<BoundItem> items;
  int64_t Limited() const {
    int64_t n = 0;
    for (auto& i : items) n += i.rate_limited ? i.count : 0;
    return n;
  }
  int64_t Unlimited() const {
    int64_t n = 0;
    for (auto& i : items) n += i.rate_limited ? 0 : i.count;
    return n;
  }
  double Seconds(double rate, int burst) const {
    return std::max<double>(0.0, static_cast<double>(Limited() - burst)) / rate;
  }
};

// `departures`: false = the strict bound from the final desired state (a leaver is created
// blocked and never made a member); true = as if every leaver had been synced before leaving
// (block, remove memberships, revoke sessions and refresh tokens).
LowerBound CountLowerBound(const Workload& w, bool departures) {
  LowerBound lb;
  std::set<std::string> roles_used;
  std::vector<int64_t> members(w.orgs.size(), 0), leaving(w.orgs.size(), 0);
  int64_t role_calls = 0, leaver_memberships = 0;
  for (auto& u : w.users) {
    for (auto& m : u.orgs) {
      if (u.leaver) ++leaver_memberships, ++leaving[static_cast<size_t>(m.org)];
      if (u.leaver && !departures) continue;
      ++members[static_cast<size_t>(m.org)];
      if (!m.roles.empty()) ++role_calls;
      for (auto& r : m.roles) roles_used.insert(r);
    }
  }
  int64_t member_calls = 0, removal_calls = 0;
  for (size_t o = 0; o < w.orgs.size(); ++o) {
    member_calls += CeilDiv(members[o], 10);
    removal_calls += CeilDiv(leaving[o], 10);
  }
  const int64_t orgs = static_cast<int64_t>(w.orgs.size()),
                users = static_cast<int64_t>(w.users.size());
  const int64_t connections = orgs > 0 ? 1 : 0;  // every organization uses the same one
  lb.items.push_back(
      {"GET /connections?name= (connection id, once per distinct connection)", connections, true});
  lb.items.push_back(
      {"GET /roles (role ids, 100 per page)",
       roles_used.empty() ? 0 : CeilDiv(static_cast<int64_t>(roles_used.size()), 100), true});
  lb.items.push_back({"POST /organizations (with enabled_connections in the body)", orgs, true});
  lb.items.push_back(
      {"PATCH /connections/{id}/clients (per distinct connection)", connections, true});
  lb.items.push_back({"GET + PATCH /clients/{id} (all callbacks in one read + one write)",
                      orgs > 0 ? 2 : 0, true});
  lb.items.push_back(
      {departures ? "POST /users" : "POST /users (leavers created blocked)", users, true});
  lb.items.push_back(
      {"POST /organizations/{id}/members (ceil(members/10) per organization)", member_calls, true});
  lb.items.push_back(
      {"POST /organizations/{id}/members/{uid}/roles (per membership)", role_calls, true});
  if (departures) {
    lb.items.push_back({"PATCH /users/{id} blocked (per leaver)", w.leavers, true});
    lb.items.push_back({"DELETE /organizations/{id}/members (ceil(leavers/10) per organization)",
                        removal_calls, true});
    lb.items.push_back(
        {"DELETE /users/{id}/sessions + /refresh-tokens (per leaver)", 2LL * w.leavers, true});
  }
  // Never for a user created blocked (issue 12: a leaver is never invited); in the departures
  // bound every leaver was created before leaving, so invited then.
  lb.items.push_back(
      {departures ? "POST /dbconnections/change_password (on_create, per created user; not "
                    "rate-limited)"
                  : "POST /dbconnections/change_password (on_create, per created user but the "
                    "leavers, created blocked; not rate-limited)",
       departures ? users : users - w.leavers, false});
  lb.items.push_back(
      {"POST /dbconnections/change_password (per reset event; not rate-limited)", w.resets, false});
  (void)leaver_memberships;
  return lb;
}

// ---- Simulator ----------------------------------------------------------------------------------

using Sim = Auth0Sim;
using SimCounts = SimRequestCounts;

Sim StartSim(int rate, int burst, int latency_ms, uint64_t seed) {
  return StartAuth0Sim(rate, burst, latency_ms, seed);
}

bool PrepareSim(const Sim& sim, int rate, int burst) {
  return PrepareAuth0Sim(sim, rate, burst, "bench-reconcile");
}

SimCounts Counts(const Json& stats) { return CountSimRequests(stats); }

// ---- Final state vs. desired state ("lost updates") ---------------------------------------------

struct StateCheck {
  std::map<std::string, int64_t> lost;  // category -> count of desired facts not in Auth0
  int64_t extra_emails = 0;             // more change-password e-mails than asked for
  int64_t leavers_invited = 0;          // leavers who got an on_create e-mail (issue 12, item 1)
  int64_t Lost() const {
    int64_t n = 0;
    for (auto& [k, v] : lost) n += v;
    return n;
  }
  std::string Describe() const {
    std::string s;
    for (auto& [k, v] : lost) {
      if (v > 0) s += (s.empty() ? "" : ", ") + k + "=" + std::to_string(v);
    }
    return s.empty() ? "none" : s;
  }
};

StateCheck CheckState(const Json& state, const Workload& w, const std::string& app_client_id) {
  StateCheck c;
  for (auto k : {"users missing", "users duplicated", "profile wrong", "blocked wrong",
                 "organizations missing", "org connection missing", "memberships missing",
                 "leaver still member", "member roles wrong", "callbacks missing",
                 "connection client missing", "emails missing"}) {
    c.lost[k] = 0;
  }
  std::map<std::string, std::vector<const Json*>> users_by_email;
  std::map<std::string, std::string> email_by_id;
  for (auto& u : state["users"]) {
    std::string email = u.value("email", "");
    std::transform(email.begin(), email.end(), email.begin(), ::tolower);
    users_by_email[email].push_back(&u);
    email_by_id[u.value("user_id", "")] = email;
  }
  std::map<std::string, const Json*> orgs_by_name;
  for (auto& o : state["organizations"]) orgs_by_name[o.value("name", "")] = &o;
  // org name -> email -> roles
  std::map<std::string, std::map<std::string, std::set<std::string>>> members;
  for (auto& [name, o] : orgs_by_name) {
    auto& m = members[name];
    for (auto& mem : (*o)["members"]) {
      std::set<std::string> roles;
      for (auto& r : mem["roles"]) roles.insert(r.get<std::string>());
      m[email_by_id[mem.value("user_id", "")]] = roles;
    }
  }
  std::map<std::string, int64_t> emails;
  for (auto& e : state["emails"]) {
    if (e.value("type", "") != "change_password") continue;
    std::string to = e.value("to", "");
    std::transform(to.begin(), to.end(), to.begin(), ::tolower);
    ++emails[to];
  }
  for (auto& org : w.orgs) {
    auto it = orgs_by_name.find(org.name);
    if (it == orgs_by_name.end()) {
      ++c.lost["organizations missing"];
      continue;
    }
    bool has = false;
    for (auto& ec : (*it->second)["enabled_connections"])
      has = has || ec.value("name", "") == kConnection;
    if (!has) ++c.lost["org connection missing"];
  }
  for (auto& u : w.users) {
    auto it = users_by_email.find(u.email);
    if (it == users_by_email.end()) {
      ++c.lost["users missing"];
    } else {
      if (it->second.size() > 1) ++c.lost["users duplicated"];
      const Json& a = *it->second.front();
      if (a.value("name", "") != u.name || a.value("given_name", "") != u.given ||
          a.value("family_name", "") != u.family || !a.contains("user_metadata") ||
          a["user_metadata"].value("team", "") != u.team) {
        ++c.lost["profile wrong"];
      }
      if (a.value("blocked", false) != u.leaver) ++c.lost["blocked wrong"];
    }
    for (auto& m : u.orgs) {
      const std::string& oname = w.orgs[static_cast<size_t>(m.org)].name;
      auto& om = members[oname];
      auto mit = om.find(u.email);
      if (u.leaver) {
        if (mit != om.end()) ++c.lost["leaver still member"];
        continue;
      }
      if (mit == om.end()) {
        ++c.lost["memberships missing"];
      } else if (mit->second != std::set<std::string>(m.roles.begin(), m.roles.end())) {
        ++c.lost["member roles wrong"];
      }
    }
    // One change-password e-mail from the on_create policy -- but none for a leaver: it is
    // created blocked and must never be invited (issue 12) -- and one per reset event (leavers
    // and resets are distinct users).
    const int64_t want = (u.leaver ? 0 : 1) + u.resets,
                  got = emails.count(u.email) ? emails[u.email] : 0;
    if (got < want) c.lost["emails missing"] += want - got;
    if (got > want) (u.leaver ? c.leavers_invited : c.extra_emails) += got - want;
  }
  std::set<std::string> callbacks;
  for (auto& cl : state["clients"]) {
    if (cl.value("client_id", "") != app_client_id) continue;
    for (auto& cb : cl["callbacks"]) callbacks.insert(cb.get<std::string>());
  }
  for (auto& org : w.orgs) {
    if (!callbacks.count(org.url)) ++c.lost["callbacks missing"];
  }
  for (auto& con : state["connections"]) {
    if (con.value("name", "") != kConnection) continue;
    bool has = false;
    for (auto& id : con["enabled_clients"]) has = has || id == app_client_id;
    if (!has) ++c.lost["connection client missing"];
  }
  return c;
}

// ---- Leaver lag
// ----------------------------------------------------------------------------------
//
// For each user.left: from the moment its 202 came back to the sender to the moment the user is
// blocked in the simulator. A thread polls /__sim/state (a control endpoint: not rate-limited, not
// in the statistics) every `poll_ms`. When a poll first sees a leaver blocked, the block moment is
// the user's `updated_at` (written by the simulator, wall clock, ms) when that is not later than
// the poll -- exact, unless another change to the same user followed within that poll interval --
// else the time of the poll (resolution: poll_ms). Simulator and benchmark read the same clock
// (same host, CLOCK_REALTIME). Membership removal is seen at poll resolution only.

struct LeaverSample {
  std::string email;
  int64_t accepted_ms = -1;           // the 202 of its user.left came back (wall clock)
  int64_t created_ms = -1;            // the user's created_at in the simulator
  int64_t blocked_ms = -1;            // blocked in the simulator
  int64_t first_seen_ms = -1;         // first poll that saw the user at all
  bool exact = false;                 // blocked_ms is the simulator's updated_at, not a poll time
  bool created_blocked = false;       // at first sight blocked, with updated_at = created_at
  bool seen_unblocked_after = false;  // a poll begun after acceptance saw it present, unblocked
  bool was_member = false;            // some poll saw it a member of an organization
  int64_t removed_ms = -1;            // first poll after acceptance that saw it in no organization
  bool Existed() const { return created_ms >= 0 && accepted_ms >= 0 && created_ms < accepted_ms; }
  bool Done() const {
    return accepted_ms >= 0 && blocked_ms >= 0 && (!was_member || removed_ms >= 0);
  }
};

class LeaverWatch {
 public:
  LeaverWatch(int sim_port, const std::vector<std::string>& emails, int poll_ms, double timeout_s)
      : http_("127.0.0.1", sim_port, 30), poll_ms_(std::max(1, poll_ms)), timeout_s_(timeout_s) {
    for (auto& e : emails) by_email_[e].email = e;
  }
  ~LeaverWatch() { Stop(); }

  // One poll, on the caller's thread (only while the polling thread is not running).
  void PollOnce() {
    const int64_t start = WallMs();
    auto r = http_.Get("/__sim/state");
    const int64_t end = WallMs();
    if (r.status != 200) return;
    Json state = Json::parse(r.body, nullptr, false);
    if (state.is_discarded() || !state.is_object()) return;
    std::set<std::string> members;
    for (auto& o : state["organizations"]) {
      for (auto& m : o["members"]) members.insert(m.value("user_id", ""));
    }
    std::lock_guard<std::mutex> lock(mu_);
    ++polls_;
    poll_total_ms_ += end - start;
    for (auto& u : state["users"]) {
      std::string email = u.value("email", "");
      std::transform(email.begin(), email.end(), email.begin(), ::tolower);
      auto it = by_email_.find(email);
      if (it == by_email_.end()) continue;
      LeaverSample& s = it->second;
      const bool blocked = u.value("blocked", false),
                 member = members.count(u.value("user_id", ""));
      const int64_t created = ParseRfc3339Ms(u.value("created_at", ""));
      const int64_t updated = ParseRfc3339Ms(u.value("updated_at", ""));
      if (s.first_seen_ms < 0) {
        s.first_seen_ms = end;
        s.created_blocked = blocked && created >= 0 && created == updated;
      }
      s.created_ms = created;
      if (member) s.was_member = true;
      if (!blocked && s.accepted_ms >= 0 && start >= s.accepted_ms) s.seen_unblocked_after = true;
      if (blocked && s.blocked_ms < 0) {
        s.exact = updated > 0 && updated <= end;
        s.blocked_ms = s.exact ? updated : end;
      }
      if (s.was_member && !member && s.removed_ms < 0 && s.accepted_ms >= 0 &&
          start >= s.accepted_ms)
        s.removed_ms = end;
    }
  }

  void Start() {
    thread_ = std::thread([this] { Loop(); });
  }
  void Accepted(const std::string& email, int64_t wall_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_email_.find(email);
    if (it != by_email_.end() && it->second.accepted_ms < 0) it->second.accepted_ms = wall_ms;
  }
  // Waits (bounded) until every leaver is blocked and out of its organizations, or the polling
  // stopped; true when all are done.
  bool WaitDone(double timeout_s) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)),
                 [&] { return AllDoneLocked() || finished_; });
    return AllDoneLocked();
  }
  // Stops the polling thread; then one last poll unless every leaver is done already.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    bool done;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done = AllDoneLocked();
    }
    if (!done && !final_poll_) {
      final_poll_ = true;
      PollOnce();
    }
  }
  std::vector<LeaverSample> Samples() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<LeaverSample> v;
    for (auto& [e, s] : by_email_) v.push_back(s);
    return v;
  }
  int poll_ms() const { return poll_ms_; }
  int64_t polls() {
    std::lock_guard<std::mutex> lock(mu_);
    return polls_;
  }
  double MeanPollMs() {
    std::lock_guard<std::mutex> lock(mu_);
    return polls_ > 0 ? static_cast<double>(poll_total_ms_) / static_cast<double>(polls_) : 0;
  }

 private:
  bool AllDoneLocked() const {
    for (auto& [e, s] : by_email_) {
      if (!s.Done()) return false;
    }
    return true;
  }
  void Loop() {
    const auto t0 = Clock::now();
    const int64_t max_polls = static_cast<int64_t>(timeout_s_ * 1000 / poll_ms_) + 10;
    for (int64_t i = 0; i < max_polls && Since(t0) < timeout_s_; ++i) {
      PollOnce();
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_ || AllDoneLocked()) break;
      cv_.notify_all();
      cv_.wait_for(lock, std::chrono::milliseconds(poll_ms_), [&] { return stop_; });
      if (stop_) break;
    }
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
    cv_.notify_all();
  }

  TestHttpClient http_;  // used by one thread at a time (the poller, or the caller after Stop)
  const int poll_ms_;
  const double timeout_s_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, finished_ = false, final_poll_ = false;
  std::map<std::string, LeaverSample> by_email_;
  int64_t polls_ = 0, poll_total_ms_ = 0;
  std::thread thread_;
};

struct LagFigures {
  std::vector<LeaverSample> samples;
  int poll_ms = 0;
  int64_t polls = 0;
  double mean_poll_ms = 0;
  bool measured = false;
};

LagFigures Collect(LeaverWatch& watch) {
  LagFigures f;
  f.samples = watch.Samples();
  f.poll_ms = watch.poll_ms();
  f.polls = watch.polls();
  f.mean_poll_ms = watch.MeanPollMs();
  f.measured = true;
  return f;
}

std::string LagLine(const std::vector<double>& v) {
  if (v.empty()) return "-";
  char buf[128];
  std::snprintf(buf, sizeof(buf), "p50 %.2f s, p99 %.2f s, max %.2f s", Percentile(v, 50),
                Percentile(v, 99), *std::max_element(v.begin(), v.end()));
  return buf;
}

// Prints the leaver lag; returns its maximum in seconds (-1: some leaver was never blocked).
double PrintLeaverLag(const std::string& who, const LagFigures& f) {
  std::vector<double> all, existed, created, removed;
  int64_t not_blocked = 0, exact = 0, created_blocked = 0, created_then_blocked = 0,
          seen_unblocked = 0, never_seen = 0;
  for (auto& s : f.samples) {
    if (s.accepted_ms < 0) continue;
    if (s.blocked_ms < 0) {
      ++not_blocked;
      if (s.first_seen_ms < 0) ++never_seen;
      continue;
    }
    const double lag = static_cast<double>(s.blocked_ms - s.accepted_ms) / 1000.0;
    all.push_back(lag);
    exact += s.exact ? 1 : 0;
    if (s.Existed()) {
      existed.push_back(lag);
      if (s.was_member && s.removed_ms >= 0)
        removed.push_back(static_cast<double>(s.removed_ms - s.accepted_ms) / 1000.0);
    } else {
      created.push_back(lag);
      (s.created_blocked ? created_blocked : created_then_blocked) += 1;
      seen_unblocked += s.seen_unblocked_after ? 1 : 0;
    }
  }
  std::printf("%s: leaver lag (202 of user.left -> user blocked in auth0-sim), %zu leavers: %s\n",
              who.c_str(), all.size() + static_cast<size_t>(not_blocked), LagLine(all).c_str());
  std::printf("  existed in Auth0 when the leave was accepted: %zu: %s\n", existed.size(),
              LagLine(existed).c_str());
  if (!removed.empty())
    std::printf("    removed from every organization (poll resolution): %s\n",
                LagLine(removed).c_str());
  std::printf(
      "  created after the leave was accepted: %zu: %s (created blocked %lld; created, "
      "then blocked %lld; seen unblocked by a poll %lld)\n",
      created.size(), LagLine(created).c_str(), static_cast<long long>(created_blocked),
      static_cast<long long>(created_then_blocked), static_cast<long long>(seen_unblocked));
  if (not_blocked > 0)
    std::printf("  NOT blocked when measuring stopped: %lld (%lld not in Auth0 at all)\n",
                static_cast<long long>(not_blocked), static_cast<long long>(never_seen));
  std::printf(
      "  timing: block moment = the sim's updated_at (ms) for %lld, the first poll that saw "
      "it for %lld; /__sim/state polled every %d ms (%lld polls, %.0f ms each on average)\n",
      static_cast<long long>(exact), static_cast<long long>(all.size()) - exact, f.poll_ms,
      static_cast<long long>(f.polls), f.mean_poll_ms);
  if (not_blocked > 0) return -1;
  return all.empty() ? 0 : *std::max_element(all.begin(), all.end());
}

// ---- Ours: tenantsync -------------------------------------------------------------------------

struct RunFigures {
  std::string who;
  bool converged = false;
  double seconds = 0;       // first event sent -> converged (ours) / all requests done (naive)
  double send_seconds = 0;  // ours: time to deliver every event (202s)
  int64_t sent = 0, send_errors = 0;
  SimCounts counts;
  int64_t limited_after_burst = 0;  // 429s once the first 2*burst requests were made
  int64_t peak_rss_kb = 0;
  double daemon_cpu_s = 0;  // ours: CPU the daemon used from start to convergence
  StateCheck check;
  std::map<std::string, int64_t> mutation_kinds;  // ours: kind/state -> count
  std::map<std::string, int64_t> tail_kinds;      // ours: kind -> finished in the last 15 s
  int64_t skipped = 0;  // naive: changes dropped because an id was not known yet
  int64_t failed = 0;   // naive: requests that failed for good (non-2xx after retries)
  LagFigures lag;       // ours: leaver lag (when measured)
  std::string note;
};

// Posts `events`, signed, over `connections` keep-alive connections; each event goes to one
// connection in arrival order (a shared cursor). Retries a delivery up to 5 times on no answer
// or 429/503 (the daemon's back-pressure). `on_accepted(i, wall_ms)` (optional) is called when the
// 2xx for events[i] came back, with the wall-clock time in Unix milliseconds.
void SendAll(const std::vector<Event>& events, int port, const SignatureOptions& signing,
             int connections, int64_t* sent, int64_t* errors,
             const std::function<void(size_t, int64_t)>& on_accepted = {}) {
  std::vector<SignedEvent> signed_events;
  signed_events.reserve(events.size());
  for (auto& e : events) signed_events.push_back({e.id, e.Body()});
  const SendFigures f =
      SendSigned(signed_events, port, "hr", signing, connections, "bench-reconcile", on_accepted);
  *sent = f.sent;
  *errors = f.errors;
}

TestDaemonOptions DaemonOptions(const Sim& sim, int max_in_flight, const std::string& auth0_toml) {
  TestDaemonOptions options;
  options.auth0_base_url = "http://127.0.0.1:" + std::to_string(sim.port);
  options.auth0_client_id = kClientId;
  options.auth0_client_secret = kSimClientSecret;
  options.application_client_id = kClientId;
  // Appended after [auth0]: plain keys land there. The guard is opened wide: the workload's
  // leavers are intended, and an operator approval would measure the operator, not the writer.
  // guard_settle_ms keeps its default (2000).
  options.extra_toml = "max_in_flight = " + std::to_string(max_in_flight) + "\n" + auth0_toml +
                       "\n\n[policy]\n" +
                       "guard_max_destructive = 1000000\nguard_max_fraction = 1.0\n";
  return options;
}

std::vector<std::string> LeaverEmails(const Workload& w) {
  std::vector<std::string> emails;
  for (auto& u : w.users) {
    if (u.leaver) emails.push_back(u.email);
  }
  return emails;
}

RunFigures RunOurs(const Workload& w, const Sim& sim, int burst, int max_in_flight,
                   const std::string& auth0_toml, int senders, double timeout_s, int poll_ms) {
  RunFigures f;
  f.who = "tenantsync";
  TestDaemon daemon(DaemonOptions(sim, max_in_flight, auth0_toml));
  if (!daemon.Start()) {
    f.note = "the daemon did not start:\n" + daemon.Output();
    return f;
  }
  TestHttpClient simc("127.0.0.1", sim.port, 10);
  std::map<std::string, std::string> email_by_ext;
  for (auto& u : w.users) email_by_ext[u.ext] = u.email;
  std::unique_ptr<LeaverWatch> watch;
  if (poll_ms > 0 && w.leavers > 0) {
    watch = std::make_unique<LeaverWatch>(sim.port, LeaverEmails(w), poll_ms, timeout_s);
    watch->Start();
  }
  const auto t0 = Clock::now();
  SendAll(w.events, daemon.ingress_port(), daemon.Signing("hr"), senders, &f.sent, &f.send_errors,
          [&](size_t i, int64_t ms) {
            const Event& e = w.events[i];
            if (watch && e.type == "user.left")
              watch->Accepted(email_by_ext[e.data.value("external_id", "")], ms);
          });
  f.send_seconds = Since(t0);
  std::printf(
      "  tenantsync: %lld events delivered in %.2f s (%lld failed); waiting for convergence...\n",
      static_cast<long long>(f.sent), f.send_seconds, static_cast<long long>(f.send_errors));
  std::fflush(stdout);

  std::optional<int64_t> limited_at_burst;
  int stable = 0;
  double last_print = 0, cpu_at_print = ProcessCpuSeconds(daemon.process()->pid());
  int64_t mgmt_at_print = 0, mgmt_now = 0;
  Json status;
  while (Since(t0) < timeout_s) {
    auto stats = simc.Get("/__sim/stats");
    if (stats.status == 200) {
      SimCounts c = Counts(stats.Json());
      mgmt_now = c.management;
      if (!limited_at_burst && c.management >= 2LL * burst) limited_at_burst = c.rate_limited;
    }
    auto r = daemon.AdminGet("/v1/status");
    status = r.status == 200 ? r.Json() : Json();
    // Converged: nothing pending, nothing to reconcile, nothing in flight -- seen twice in a row
    // (an entity between "cleared" and "marked again" by a finished dependency must not fool us).
    if (Converged(status)) {
      if (++stable >= 2) break;
    } else {
      stable = 0;
      if (Since(t0) - last_print >= 10) {
        const double now = Since(t0), cpu = ProcessCpuSeconds(daemon.process()->pid());
        const Json rl = status.value("rate_limit", Json::object());
        std::printf(
            "  ... %3.0f s: entities to reconcile %5lld, mutations done %5lld; last %2.0f s: %5.1f "
            "Auth0 req/s, "
            "daemon CPU %3.0f%%; limiter refill %.1f/s tokens %.1f\n",
            now, static_cast<long long>(status.value("entities_to_reconcile", int64_t{-1})),
            static_cast<long long>(status["mutations"].value("done", int64_t{-1})),
            now - last_print, static_cast<double>(mgmt_now - mgmt_at_print) / (now - last_print),
            100.0 * (cpu - cpu_at_print) / (now - last_print), rl.value("refill_per_second", 0.0),
            rl.value("tokens", 0.0));
        std::fflush(stdout);
        last_print = now;
        cpu_at_print = cpu;
        mgmt_at_print = mgmt_now;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // The first of the two converged polls, within one poll interval (~0.1 s + request time).
  f.seconds = Since(t0);
  const int64_t converged_ms =
      static_cast<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count());
  f.converged = stable >= 2;
  if (!f.converged)
    f.note = "did not converge within " + std::to_string(static_cast<int>(timeout_s)) +
             " s; last status: " + status.dump();
  f.peak_rss_kb = VmHwmKb(daemon.process()->pid());
  f.daemon_cpu_s = ProcessCpuSeconds(daemon.process()->pid());
  if (watch) {
    watch->Stop();
    f.lag = Collect(*watch);
  }

  auto stats = simc.Get("/__sim/stats");
  f.counts = Counts(stats.Json());
  f.limited_after_burst = f.counts.rate_limited - limited_at_burst.value_or(f.counts.rate_limited);
  f.check = CheckState(simc.Get("/__sim/state").Json(), w, kClientId);

  // Mutations by kind and state (bounded: at most 200 pages of 1000).
  int64_t before = 0;
  for (int page = 0; page < 200; ++page) {
    auto r = daemon.AdminGet("/v1/mutations?limit=1000" +
                             (before > 0 ? "&before=" + std::to_string(before) : std::string()));
    if (r.status != 200) break;
    Json j = r.Json();
    for (auto& m : j["mutations"]) {
      ++f.mutation_kinds[m.value("kind", "?") + "/" + m.value("state", "?")];
      // Where the last seconds went: mutations finished in the final 15 s before convergence.
      if (m.value("updated_at_ms", int64_t{0}) >= converged_ms - 15000)
        ++f.tail_kinds[m.value("kind", "?")];
    }
    if (!j["next_before"].is_number()) break;
    before = j["next_before"].get<int64_t>();
  }
  if (daemon.Stop(SIGTERM) != 0)
    f.note +=
        (f.note.empty() ? "" : "; ") + std::string("the daemon did not exit cleanly on SIGTERM");
  std::filesystem::remove_all(daemon.dir());
  return f;
}

// ---- Naive: one request per change, in arrival order ------------------------------------------

class NaiveClient {
 public:
  NaiveClient(int port, std::string token)
      : http_("127.0.0.1", port, 15), token_(std::move(token)) {}
  // Sends one request; a 429 is waited out (until x-ratelimit-reset, as SDKs do) and retried,
  // as are no-answer and 5xx (bounded). Returns the last answer.
  TestResponse Call(const std::string& method, const std::string& path, const Json* body,
                    int64_t* limited) {
    TestResponse r;
    for (int attempt = 0; attempt < 30; ++attempt) {
      HeaderList headers = {{"Authorization", "Bearer " + token_}};
      // TestHttpClient sets no Content-Type on a DELETE; the member-removal body is JSON.
      if (body && method == "DELETE") headers.emplace_back("Content-Type", "application/json");
      r = http_.Send(method, path, body ? body->dump() : "", headers);
      if (r.status == 429) {
        ++*limited;
        int64_t reset = std::strtoll(r.Header("x-ratelimit-reset").c_str(), nullptr, 10);
        int64_t wait_ms =
            reset > 0 ? (reset - static_cast<int64_t>(std::time(nullptr))) * 1000 : 1000;
        std::this_thread::sleep_for(
            std::chrono::milliseconds(std::clamp<int64_t>(wait_ms, 50, 2000)));
        continue;
      }
      if (r.status == 0 || r.status >= 500) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      break;
    }
    return r;
  }

 private:
  TestHttpClient http_;
  std::string token_;
};

RunFigures RunNaive(const Workload& w, const Sim& sim, int workers, double timeout_s) {
  RunFigures f;
  f.who = "naive";
  TestHttpClient simc("127.0.0.1", sim.port, 10);
  const std::string token = SimToken(simc);
  if (token.empty()) {
    f.note = "no token from the simulator";
    return f;
  }
  std::atomic<int64_t> limited{0}, skipped{0}, failed{0};
  const auto t0 = Clock::now();
  std::string connection_id;
  std::map<std::string, std::string> role_ids;
  {
    NaiveClient c(sim.port, token);
    int64_t l = 0;
    auto r = c.Call("GET", std::string("/api/v2/connections?name=") + kConnection, nullptr, &l);
    for (auto& con : r.Json()) connection_id = con.value("id", "");
    auto roles = c.Call("GET", "/api/v2/roles?per_page=100", nullptr, &l);
    for (auto& role : roles.Json()) role_ids[role.value("name", "")] = role.value("id", "");
    limited += l;
  }
  std::mutex ids_mu;
  std::map<std::string, std::string> org_ids, user_ids;  // external id -> Auth0 id
  std::map<std::string, const User*> users_by_ext;
  for (auto& u : w.users) users_by_ext[u.ext] = &u;
  auto lookup = [&](std::map<std::string, std::string>& m, const std::string& ext) -> std::string {
    std::lock_guard<std::mutex> lock(ids_mu);
    auto it = m.find(ext);
    return it == m.end() ? "" : it->second;
  };
  std::mutex fail_mu;
  std::map<std::string, int64_t> failures;  // "STATUS body" -> count (first 120 characters)
  auto ok = [&](const TestResponse& r) {
    if (r.status >= 200 && r.status < 300) return true;
    ++failed;
    std::lock_guard<std::mutex> lock(fail_mu);
    ++failures[std::to_string(r.status) + " " + r.body.substr(0, 120)];
    return false;
  };
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < workers; ++t) {
    threads.emplace_back([&] {
      NaiveClient c(sim.port, token);
      int64_t l = 0;
      for (size_t i = next.fetch_add(1); i < w.events.size() && Since(t0) < timeout_s;
           i = next.fetch_add(1)) {
        const Event& e = w.events[i];
        const std::string ext = e.data.value("external_id", "");
        if (e.type == "organization.upserted") {
          Json body = {{"name", e.data["name"]},
                       {"display_name", e.data["display_name"]},
                       {"metadata", e.data["metadata"]}};
          auto r = c.Call("POST", "/api/v2/organizations", &body, &l);
          if (!ok(r)) continue;
          const std::string id = r.Json().value("id", "");
          {
            std::lock_guard<std::mutex> lock(ids_mu);
            org_ids[ext] = id;
          }
          Json ec = {{"connection_id", connection_id}, {"assign_membership_on_login", false}};
          ok(c.Call("POST", "/api/v2/organizations/" + id + "/enabled_connections", &ec, &l));
          Json cc = Json::array({{{"client_id", kClientId}, {"status", true}}});
          ok(c.Call("PATCH", "/api/v2/connections/" + connection_id + "/clients", &cc, &l));
          // Read-modify-write of the application's callbacks (Auth0 replaces the list whole).
          auto cl = c.Call("GET", std::string("/api/v2/clients/") + kClientId, nullptr, &l);
          if (!ok(cl)) continue;
          Json callbacks = cl.Json().value("callbacks", Json::array());
          for (auto& url : e.data["callback_urls"]) callbacks.push_back(url);
          Json patch = {{"callbacks", callbacks}};
          ok(c.Call("PATCH", std::string("/api/v2/clients/") + kClientId, &patch, &l));
        } else if (e.type == "user.upserted") {
          Json body = {{"email", e.data["email"]},
                       {"name", e.data["name"]},
                       {"given_name", e.data["given_name"]},
                       {"family_name", e.data["family_name"]},
                       {"user_metadata", e.data["user_metadata"]},
                       {"connection", kConnection},
                       {"password", "Nv1!" + std::to_string(i) + "aBcDeFgH"},
                       {"verify_email", false}};
          auto r = c.Call("POST", "/api/v2/users", &body, &l);
          if (!ok(r)) continue;
          const std::string uid = r.Json().value("user_id", "");
          {
            std::lock_guard<std::mutex> lock(ids_mu);
            user_ids[ext] = uid;
          }
          for (auto& m : e.data["organizations"]) {
            const std::string org = lookup(org_ids, m.value("external_id", ""));
            if (org.empty()) {  // its organization is still being created by another worker
              ++skipped;
              continue;
            }
            Json add = {{"members", Json::array({uid})}};
            if (!ok(c.Call("POST", "/api/v2/organizations/" + org + "/members", &add, &l)))
              continue;
            Json roles = {{"roles", Json::array()}};
            for (auto& name : m["roles"])
              roles["roles"].push_back(role_ids[name.get<std::string>()]);
            ok(c.Call("POST", "/api/v2/organizations/" + org + "/members/" + uid + "/roles", &roles,
                      &l));
          }
          Json reset = {
              {"client_id", kClientId}, {"email", e.data["email"]}, {"connection", kConnection}};
          ok(c.Call("POST", "/dbconnections/change_password", &reset, &l));  // the on_create e-mail
        } else if (e.type == "user.left") {
          const std::string uid = lookup(user_ids, ext);
          if (uid.empty()) {  // its creation is still in another worker's hands
            ++skipped;
            continue;
          }
          Json block = {{"blocked", true}};
          ok(c.Call("PATCH", "/api/v2/users/" + uid, &block, &l));
          for (auto& m : users_by_ext[ext]->orgs) {
            const std::string org = lookup(org_ids, w.orgs[static_cast<size_t>(m.org)].ext);
            if (org.empty()) continue;
            Json rm = {{"members", Json::array({uid})}};
            ok(c.Call("DELETE", "/api/v2/organizations/" + org + "/members", &rm, &l));
          }
          ok(c.Call("DELETE", "/api/v2/users/" + uid + "/sessions", nullptr, &l));
          ok(c.Call("DELETE", "/api/v2/users/" + uid + "/refresh-tokens", nullptr, &l));
        } else if (e.type == "user.password_reset_requested") {
          const User* u = users_by_ext[ext];
          Json reset = {{"client_id", kClientId}, {"email", u->email}, {"connection", kConnection}};
          ok(c.Call("POST", "/dbconnections/change_password", &reset, &l));
        }
      }
      limited += l;
    });
  }
  for (auto& t : threads) t.join();
  f.seconds = Since(t0);
  f.converged = next.load() >= w.events.size() && f.seconds < timeout_s;
  if (!f.converged) f.note = "stopped after " + std::to_string(static_cast<int>(timeout_s)) + " s";
  f.sent = static_cast<int64_t>(w.events.size());
  f.skipped = skipped.load();
  f.failed = failed.load();
  for (auto& [what, n] : failures)
    f.note += (f.note.empty() ? "failed: " : "; ") + std::to_string(n) + "x " + what;
  f.counts = Counts(simc.Get("/__sim/stats").Json());
  // The naive client has no notion of the "first burst": every 429 counts.
  f.limited_after_burst = -1;
  f.check = CheckState(simc.Get("/__sim/state").Json(), w, kClientId);
  return f;
}

// ---- Leaver behind hires (issue 12, "access removals first") ---------------------------------
//
// Seeds `leavers` users (and the organizations) through tenantsync and waits until converged;
// then delivers `hires` new users at once and, right behind them, a user.left for each seeded
// user, and measures how long each leaver stays unblocked while the writer has the hires'
// backlog in front of it. Measuring stops once every leaver is blocked and out of its
// organizations (or at the timeout); the hires are not waited for.

struct ScenarioOptions {
  int hires = 400, leavers = 5, rounds = 3, orgs = 10, rate = 16, burst = 50, latency_ms = 100;
  int max_in_flight = 8, senders = 8, poll_ms = 100;
  std::string auth0_toml;
  double timeout_s = 300;
  uint64_t seed = 1;
};

// Polls /v1/status every 100 ms until converged twice in a row; false at the timeout.
bool WaitConverged(TestDaemon& daemon, double timeout_s) {
  const auto t0 = Clock::now();
  for (int stable = 0, i = 0; Since(t0) < timeout_s && i < 100000; ++i) {
    auto r = daemon.AdminGet("/v1/status");
    if (r.status == 200 && Converged(r.Json())) {
      if (++stable >= 2) return true;
    } else {
      stable = 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// Where each leaver's time went, from the daemon's own records (its wall clock, ms, the same clock
// as ours): the event received and applied, the block step recorded (the writer decided to send
// it) and finished. Relative to the 202 the benchmark saw. Bounded: 5 pages of 1000 mutations.
void PrintLeaverTimeline(TestDaemon& daemon, const std::vector<Event>& leaves,
                         const std::map<std::string, std::string>& email_by_ext,
                         const std::vector<LeaverSample>& samples) {
  std::map<std::string, std::vector<Json>> by_entity;
  int64_t before = 0;
  for (int page = 0; page < 5; ++page) {
    auto r = daemon.AdminGet("/v1/mutations?limit=1000" +
                             (before > 0 ? "&before=" + std::to_string(before) : std::string()));
    if (r.status != 200) break;
    Json j = r.Json();
    for (auto& m : j["mutations"]) by_entity[m.value("entity", "")].push_back(m);
    if (!j["next_before"].is_number()) break;
    before = j["next_before"].get<int64_t>();
  }
  auto rel = [](int64_t t, int64_t t0) {
    char buf[32];
    if (t <= 0 || t0 < 0) return std::string("?");
    std::snprintf(buf, sizeof(buf), "%+.2f s", static_cast<double>(t - t0) / 1000.0);
    return std::string(buf);
  };
  for (auto& e : leaves) {
    const std::string ext = e.data.value("external_id", "");
    const std::string email = email_by_ext.at(ext);
    int64_t accepted = -1, blocked = -1;
    for (auto& s : samples) {
      if (s.email == email) accepted = s.accepted_ms, blocked = s.blocked_ms;
    }
    auto ev = daemon.AdminGet("/v1/events/" + e.id);
    Json ej = ev.status == 200 ? ev.Json() : Json::object();
    std::string line = "    " + ext + ": received " +
                       rel(ej.value("received_at_ms", int64_t{0}), accepted) + ", " +
                       ej.value("state", std::string("?")) + " " +
                       rel(ej.value("updated_at_ms", int64_t{0}), accepted);
    std::vector<Json>& ms = by_entity["user:" + ext];
    std::sort(ms.begin(), ms.end(),
              [](const Json& a, const Json& b) { return a.value("id", 0) < b.value("id", 0); });
    for (auto& m : ms) {
      const Json& req = m["request"];
      const bool block = req.is_object() && req.contains("blocked") && req["blocked"] == true;
      const std::string kind = m.value("kind", "?");
      if (!block && kind.find("revoke") == std::string::npos &&
          kind.find("session") == std::string::npos)
        continue;
      line += "; " + std::string(block ? "block" : kind) + " recorded " +
              rel(m.value("created_at_ms", int64_t{0}), accepted) + ", " +
              m.value("state", std::string("?")) + " " +
              rel(m.value("updated_at_ms", int64_t{0}), accepted) + " (" +
              std::to_string(m.value("attempts", 0)) + " attempt(s))";
    }
    line += "; blocked in the sim " + rel(blocked, accepted);
    std::printf("%s\n", line.c_str());
  }
}

// One round: a fresh simulator and daemon. Appends the leavers' samples to *out; false on a
// set-up failure.
bool LeaverBehindHiresRound(const ScenarioOptions& o, int round, LagFigures* out) {
  Workload w =
      MakeWorkload(o.orgs, o.leavers + o.hires, 0, 0, o.seed + static_cast<uint64_t>(round));
  const size_t n_orgs = w.orgs.size(), n_seed = n_orgs + static_cast<size_t>(o.leavers);
  const std::vector<Event> seed_events(w.events.begin(),
                                       w.events.begin() + static_cast<long>(n_seed));
  const std::vector<Event> hires(w.events.begin() + static_cast<long>(n_seed), w.events.end());
  std::vector<Event> leaves;
  std::vector<std::string> emails;
  std::map<std::string, std::string> email_by_ext;
  const int64_t base = 1795600800 + static_cast<int64_t>(w.events.size());
  for (int k = 0; k < o.leavers; ++k) {
    const User& u = w.users[static_cast<size_t>(k)];
    emails.push_back(u.email);
    email_by_ext[u.ext] = u.email;
    leaves.push_back(
        Event{"evt-left-" + u.ext, "user.left", {{"external_id", u.ext}}, Rfc3339(base + k)});
  }
  // The hires' work no writer can avoid: a create per user, ceil(new members / 10) member calls
  // per organization, a role call per membership.
  std::vector<int64_t> new_members(n_orgs, 0);
  int64_t hire_work = static_cast<int64_t>(o.hires);
  for (size_t j = static_cast<size_t>(o.leavers); j < w.users.size(); ++j) {
    for (auto& m : w.users[j].orgs) ++new_members[static_cast<size_t>(m.org)], ++hire_work;
  }
  for (auto n : new_members) hire_work += CeilDiv(n, 10);

  Sim sim = StartSim(o.rate, o.burst, o.latency_ms, o.seed + static_cast<uint64_t>(round));
  if (sim.port <= 0 || !PrepareSim(sim, o.rate, o.burst)) {
    std::fprintf(stderr, "bench-reconcile: auth0-sim did not start\n");
    return false;
  }
  TestDaemon daemon(DaemonOptions(sim, o.max_in_flight, o.auth0_toml));
  if (!daemon.Start()) {
    std::fprintf(stderr, "bench-reconcile: the daemon did not start:\n%s\n",
                 daemon.Output().c_str());
    return false;
  }
  int64_t sent = 0, errors = 0;
  SendAll(seed_events, daemon.ingress_port(), daemon.Signing("hr"), o.senders, &sent, &errors);
  if (errors > 0 || !WaitConverged(daemon, 120)) {
    std::fprintf(stderr, "bench-reconcile: seeding did not converge\n");
    return false;
  }
  LeaverWatch watch(sim.port, emails, o.poll_ms, o.timeout_s);
  watch.PollOnce();
  for (auto& s : watch.Samples()) {
    if (s.first_seen_ms < 0 || !s.was_member) {
      std::fprintf(stderr, "bench-reconcile: seeded user %s is not in the simulator as a member\n",
                   s.email.c_str());
      return false;
    }
  }
  // A full bucket and zeroed statistics, as for the main run.
  TestHttpClient simc("127.0.0.1", sim.port, 10);
  simc.Post("/__sim/config",
            Json{{"rate", {{"global", {{"rate", o.rate}, {"burst", o.burst}}}}}}.dump());
  simc.Post("/__sim/stats/reset", "{}");
  watch.Start();
  const auto t0 = Clock::now();
  int64_t hires_sent = 0, leaves_sent = 0;
  SendAll(hires, daemon.ingress_port(), daemon.Signing("hr"), o.senders, &hires_sent, &errors);
  const double hires_s = Since(t0);
  SendAll(leaves, daemon.ingress_port(), daemon.Signing("hr"), std::min(o.senders, o.leavers),
          &leaves_sent, &errors, [&](size_t i, int64_t ms) {
            watch.Accepted(email_by_ext[leaves[i].data.value("external_id", "")], ms);
          });
  const double leaves_s = Since(t0);
  const int64_t done_at_leave = Counts(simc.Get("/__sim/stats").Json()).management;
  const bool all_done = watch.WaitDone(o.timeout_s);
  const double measured_s = Since(t0);
  const SimCounts at_end = Counts(simc.Get("/__sim/stats").Json());
  auto st = daemon.AdminGet("/v1/status");
  const Json status = st.status == 200 ? st.Json() : Json::object();
  watch.Stop();
  LagFigures lag = Collect(watch);
  std::vector<double> lags;
  for (auto& s : lag.samples) {
    if (s.accepted_ms >= 0 && s.blocked_ms >= 0)
      lags.push_back(static_cast<double>(s.blocked_ms - s.accepted_ms) / 1000.0);
  }
  std::printf(
      "  round %d: %lld hires delivered in %.2f s, %lld leaves accepted %.2f s after the first "
      "hire; "
      "stopped at %.1f s%s; Management requests made: %lld when the leaves were accepted, %lld "
      "at the end (429s: %lld); entities still to reconcile then: %lld; leaver lag %s\n",
      round + 1, static_cast<long long>(hires_sent), hires_s, static_cast<long long>(leaves_sent),
      leaves_s, measured_s,
      all_done ? " (every leaver blocked and out of its organizations)" : " (timeout)",
      static_cast<long long>(done_at_leave), static_cast<long long>(at_end.management),
      static_cast<long long>(at_end.rate_limited),
      static_cast<long long>(status.value("entities_to_reconcile", int64_t{-1})),
      LagLine(lags).c_str());
  if (round == 0) {
    std::printf("    the hires need >= %lld rate-limited requests: %.0f s of work at %d/s\n",
                static_cast<long long>(hire_work), static_cast<double>(hire_work) / o.rate, o.rate);
  }
  PrintLeaverTimeline(daemon, leaves, email_by_ext, lag.samples);
  std::fflush(stdout);
  if (daemon.Stop(SIGTERM) != 0)
    std::printf("    note: the daemon did not exit cleanly on SIGTERM\n");
  std::filesystem::remove_all(daemon.dir());
  out->samples.insert(out->samples.end(), lag.samples.begin(), lag.samples.end());
  out->poll_ms = lag.poll_ms;
  out->mean_poll_ms = (out->mean_poll_ms * static_cast<double>(out->polls) +
                       lag.mean_poll_ms * static_cast<double>(lag.polls)) /
                      static_cast<double>(std::max<int64_t>(1, out->polls + lag.polls));
  out->polls += lag.polls;
  out->measured = true;
  return true;
}

// Returns the largest leaver lag over every round in seconds; -1 when a leaver was not blocked,
// -2 on a set-up failure.
double RunLeaverBehindHires(const ScenarioOptions& o) {
  std::printf(
      "\nleaver behind hires, %d round(s): each seeds %d organizations and %d users, then delivers "
      "%d new hires and, right behind them, %d user.left of the seeded users\n"
      "  auth0-sim --rate %d --burst %d --latency-ms %d; tenantsync max_in_flight=%d, "
      "guard_settle_ms default (2000)\n"
      "  per leaver (daemon records, relative to the 202): event received, applied; block step "
      "recorded, finished; session revocation; blocked in the sim\n",
      o.rounds, o.orgs, o.leavers, o.hires, o.leavers, o.rate, o.burst, o.latency_ms,
      o.max_in_flight);
  std::fflush(stdout);
  LagFigures all;
  for (int round = 0; round < o.rounds; ++round) {
    if (!LeaverBehindHiresRound(o, round, &all)) return -2;
  }
  const double max_lag = PrintLeaverLag("leaver behind hires", all);
  std::printf(
      "  target (issue 12): every leaver blocked within guard_settle_ms + 1 s = 3.0 s: %s\n",
      max_lag >= 0 && max_lag <= 3.0 ? "met" : "NOT met");
  std::fflush(stdout);
  return max_lag;
}

// ---- Output -------------------------------------------------------------------------------------

void PrintBound(const char* title, const LowerBound& lb, double rate, int burst) {
  std::printf("%s\n", title);
  for (auto& i : lb.items) {
    std::printf("  %7lld  %s\n", static_cast<long long>(i.count), i.what.c_str());
  }
  std::printf(
      "  = %lld rate-limited + %lld not rate-limited; time (%lld - %d burst) / %.0f/s = %.1f s\n",
      static_cast<long long>(lb.Limited()), static_cast<long long>(lb.Unlimited()),
      static_cast<long long>(lb.Limited()), burst, rate, lb.Seconds(rate, burst));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "tenantsync reconciliation benchmark (issue 5): converge a burst of HR events under a rate "
      "limit"};
  bool full = false, sequential = false, no_naive = false;
  uint64_t seed = 1;
  int max_in_flight = 8, naive_workers = 8, senders = 8, rate = 40, burst = 50, latency_ms = 100;
  int orgs = -1, users = -1, leavers = -1, resets = -1;
  double timeout_s = 0;
  std::string build_dir_flag, auth0_toml;
  ScenarioOptions scenario;
  bool scenario_only = false;
  int poll_ms = -1;
  app.add_flag("--full", full,
               "200 organizations, 5,000 users, 250 leavers, 100 resets (a long run)");
  app.add_option("--seed", seed, "Workload and simulator seed");
  app.add_option("--max-in-flight", max_in_flight, "tenantsync [auth0] max_in_flight")
      ->check(CLI::Range(1, 64));
  app.add_option("--naive-workers", naive_workers, "Parallel workers of the naive replay")
      ->check(CLI::Range(1, 64));
  app.add_option("--senders", senders, "Keep-alive connections delivering the events")
      ->check(CLI::Range(1, 64));
  app.add_option("--orgs", orgs, "Override: organizations")->check(CLI::Range(1, 1000));
  app.add_option("--users", users, "Override: users")->check(CLI::Range(1, 20000));
  app.add_option("--leavers", leavers, "Override: leavers")->check(CLI::Range(0, 20000));
  app.add_option("--resets", resets, "Override: password resets")->check(CLI::Range(0, 20000));
  app.add_option("--timeout", timeout_s,
                 "Give up converging after this many seconds (default 300, --full 3600)")
      ->check(CLI::Range(1.0, 7200.0));
  app.add_flag("--sequential", sequential,
               "Run the naive replay after ours instead of at the same time");
  app.add_flag("--no-naive", no_naive, "Skip the naive replay");
  app.add_option("--auth0-toml", auth0_toml, "Extra lines for tenantsync's [auth0] section");
  app.add_option("--build-dir", build_dir_flag, "Directory holding tenantsync and auth0-sim");
  app.add_option(
         "--leaver-poll-ms", poll_ms,
         "Main run: poll /__sim/state this often for the leaver lag (default 200, --full 1000; "
         "0: do not measure)")
      ->check(CLI::Range(0, 10000));
  app.add_option(
         "--leaver-behind-hires", scenario.hires,
         "After the main run: seed users, then N new hires and right behind them leavers of "
         "seeded users, at --leaver-rate; prints their leaver lag (default 400; 0: skip)")
      ->check(CLI::Range(0, 20000));
  app.add_option("--leavers-behind", scenario.leavers,
                 "Leavers per round of that scenario (default 5)")
      ->check(CLI::Range(1, 100));
  app.add_option("--leaver-rounds", scenario.rounds,
                 "Rounds of that scenario (fresh simulator and daemon each; default 3)")
      ->check(CLI::Range(1, 100));
  app.add_option("--leaver-rate", scenario.rate, "Simulator rate for that scenario (default 16/s)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--leaver-burst", scenario.burst, "Simulator burst for that scenario (default 50)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--leaver-timeout", scenario.timeout_s,
                 "Give up on that scenario's leavers after this many seconds (default 300)")
      ->check(CLI::Range(1.0, 3600.0));
  app.add_flag("--leaver-scenario-only", scenario_only,
               "Run only the leaver-behind-hires scenario");
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  if (orgs < 0) orgs = full ? 200 : 50;
  if (users < 0) users = full ? 5000 : 1000;
  if (leavers < 0) leavers = full ? 250 : 50;
  if (resets < 0) resets = full ? 100 : 20;
  if (timeout_s <= 0) timeout_s = full ? 3600 : 300;
  if (poll_ms < 0) poll_ms = full ? 1000 : 200;
  scenario.max_in_flight = max_in_flight;
  scenario.senders = senders;
  scenario.latency_ms = latency_ms;
  scenario.auth0_toml = auth0_toml;
  scenario.seed = seed;

  const std::string build_dir = FindBuildDir(build_dir_flag);
  for (auto bin : {"tenantsync", "auth0-sim"}) {
    if (!std::filesystem::exists(build_dir + "/" + bin)) {
      std::fprintf(stderr, "bench-reconcile: no %s binary in %s (use --build-dir)\n", bin,
                   build_dir.c_str());
      return 2;
    }
  }
  setenv("TENANTSYNC_BUILD_DIR", build_dir.c_str(), 1);  // read by BuildPath()

  std::printf("bench-reconcile: build=%s seed=%llu hardware threads=%u\n", build_dir.c_str(),
              static_cast<unsigned long long>(seed), std::thread::hardware_concurrency());
  if (scenario_only) {
    if (scenario.hires <= 0) scenario.hires = 400;
    return RunLeaverBehindHires(scenario) >= 0 ? 0 : 1;
  }
  const Workload w = MakeWorkload(orgs, users, leavers, resets, seed);
  int64_t memberships = 0;
  for (auto& u : w.users) memberships += static_cast<int64_t>(u.orgs.size());
  std::printf("  auth0-sim --rate %d --burst %d --latency-ms %d; tenantsync max_in_flight=%d%s%s\n",
              rate, burst, latency_ms, max_in_flight,
              auth0_toml.empty() ? "" : ", [auth0] extra: ", auth0_toml.c_str());
  std::printf(
      "  workload: %zu organizations (1 connection, 1 callback URL each), %zu users, %lld "
      "memberships, "
      "%d leavers, %d resets = %zu events over %d connections\n\n",
      w.orgs.size(), w.users.size(), static_cast<long long>(memberships), w.leavers, w.resets,
      w.events.size(), senders);

  const LowerBound strict = CountLowerBound(w, false), departures = CountLowerBound(w, true);
  PrintBound(
      "lower bound (strict: from the final desired state; leavers created blocked, never members):",
      strict, rate, burst);
  PrintBound(
      "lower bound (departures: leavers synced first, then blocked, removed, sessions revoked):",
      departures, rate, burst);
  std::printf("\n");
  std::fflush(stdout);

  Sim ours_sim = StartSim(rate, burst, latency_ms, seed);
  Sim naive_sim;
  if (!no_naive) naive_sim = StartSim(rate, burst, latency_ms, seed);
  if (ours_sim.port <= 0 || (!no_naive && naive_sim.port <= 0)) {
    std::fprintf(stderr, "bench-reconcile: auth0-sim did not start\n");
    return 2;
  }
  if (!PrepareSim(ours_sim, rate, burst) || (!no_naive && !PrepareSim(naive_sim, rate, burst)))
    return 2;

  RunFigures naive;
  std::thread naive_thread;
  auto run_naive = [&] { naive = RunNaive(w, naive_sim, naive_workers, timeout_s); };
  if (!no_naive && !sequential) naive_thread = std::thread(run_naive);
  RunFigures ours =
      RunOurs(w, ours_sim, burst, max_in_flight, auth0_toml, senders, timeout_s, poll_ms);
  if (naive_thread.joinable()) naive_thread.join();
  if (!no_naive && sequential) run_naive();

  const double lb_strict = strict.Seconds(rate, burst), lb_dep = departures.Seconds(rate, burst);
  const int64_t n_events = static_cast<int64_t>(w.events.size());
  std::printf("\n%-11s %9s %9s %9s %9s %9s %7s %11s %9s %8s\n", "", "converged", "seconds",
              "mgmt req", "auth req", "req/event", "429s", "429s>burst", "lost upd", "peak MB");
  for (const RunFigures* f : {&ours, &naive}) {
    if (f->who.empty()) continue;
    std::printf("%-11s %9s %9.1f %9lld %9lld %9.2f %7lld %11s %9lld %8s\n", f->who.c_str(),
                f->converged ? "yes" : "NO", f->seconds,
                static_cast<long long>(f->counts.management),
                static_cast<long long>(f->counts.authentication),
                static_cast<double>(f->counts.Total()) / static_cast<double>(n_events),
                static_cast<long long>(f->counts.rate_limited),
                f->limited_after_burst >= 0 ? std::to_string(f->limited_after_burst).c_str() : "-",
                static_cast<long long>(f->check.Lost()),
                f->peak_rss_kb > 0 ? std::to_string(f->peak_rss_kb / 1024).c_str() : "-");
  }
  std::printf(
      "%-11s %9s %9.1f %9lld %9lld %9.2f %7s %11s %9s %8s\n", "lower bound", "", lb_strict,
      static_cast<long long>(strict.Limited()), static_cast<long long>(strict.Unlimited()),
      static_cast<double>(strict.Limited() + strict.Unlimited()) / static_cast<double>(n_events),
      "0", "0", "0", "");
  std::printf("\n");
  for (const RunFigures* f : {&ours, &naive}) {
    if (f->who.empty()) continue;
    std::printf("%s: lost updates: %s; extra change-password e-mails: %lld; leavers invited: %lld",
                f->who.c_str(), f->check.Describe().c_str(),
                static_cast<long long>(f->check.extra_emails),
                static_cast<long long>(f->check.leavers_invited));
    if (f->who == "naive") {
      std::printf("; changes dropped (id not known yet): %lld; requests failed for good: %lld",
                  static_cast<long long>(f->skipped), static_cast<long long>(f->failed));
    }
    std::printf("\n");
    if (!f->note.empty()) std::printf("  note: %s\n", f->note.c_str());
  }
  std::printf("\ntenantsync requests by endpoint (all statuses):\n");
  for (auto& [k, n] : ours.counts.by_endpoint)
    std::printf("  %6lld  %s\n", static_cast<long long>(n), k.c_str());
  std::printf("tenantsync mutations by kind/state:\n");
  for (auto& [k, n] : ours.mutation_kinds)
    std::printf("  %6lld  %s\n", static_cast<long long>(n), k.c_str());
  std::printf("tenantsync mutations finished in the last 15 s before convergence:\n");
  for (auto& [k, n] : ours.tail_kinds)
    std::printf("  %6lld  %s\n", static_cast<long long>(n), k.c_str());
  if (!naive.who.empty()) {
    std::printf("naive requests by endpoint:\n");
    for (auto& [k, n] : naive.counts.by_endpoint)
      std::printf("  %6lld  %s\n", static_cast<long long>(n), k.c_str());
  }
  std::printf(
      "\ntenantsync: delivery took %.2f s; time to converge %.1f s; %.1f Auth0 Management "
      "requests/s on average; "
      "daemon CPU %.1f s; peak RSS (VmHWM) %.1f MB\n",
      ours.send_seconds, ours.seconds,
      static_cast<double>(ours.counts.management) / std::max(0.001, ours.seconds),
      ours.daemon_cpu_s, static_cast<double>(ours.peak_rss_kb) / 1024.0);
  const double ratio = lb_strict > 0 ? ours.seconds / lb_strict : 0,
               ratio_dep = lb_dep > 0 ? ours.seconds / lb_dep : 0;
  std::printf("ratio time / lower bound = %.2f (strict, %.1f s); %.2f (departures, %.1f s)\n",
              ratio, lb_strict, ratio_dep, lb_dep);
  std::printf("requests / lower-bound requests (rate-limited) = %.2f (strict); %.2f (departures)\n",
              static_cast<double>(ours.counts.management) /
                  static_cast<double>(std::max<int64_t>(1, strict.Limited())),
              static_cast<double>(ours.counts.management) /
                  static_cast<double>(std::max<int64_t>(1, departures.Limited())));
  std::printf(
      "targets: ratio <= %.2f: %s (<= %.2f: %s); no 429 after the first burst: %s (%lld); zero "
      "lost updates: %s (%lld); no leaver invited: %s (%lld)\n",
      kTargetRatio, ours.converged && ratio <= kTargetRatio ? "met" : "NOT met", kKeepFiguresRatio,
      ours.converged && ratio <= kKeepFiguresRatio ? "met" : "NOT met",
      ours.limited_after_burst == 0 ? "met" : "NOT met",
      static_cast<long long>(ours.limited_after_burst),
      ours.converged && ours.check.Lost() == 0 ? "met" : "NOT met",
      static_cast<long long>(ours.check.Lost()),
      ours.check.leavers_invited == 0 ? "met" : "NOT met",
      static_cast<long long>(ours.check.leavers_invited));
  if (!naive.who.empty()) {
    std::printf(
        "naive: %.1f s, %lld requests (%lld Management API), %lld 429s, %lld lost updates\n",
        naive.seconds, static_cast<long long>(naive.counts.Total()),
        static_cast<long long>(naive.counts.management),
        static_cast<long long>(naive.counts.rate_limited),
        static_cast<long long>(naive.check.Lost()));
  }
  if (ours.lag.measured) PrintLeaverLag("tenantsync", ours.lag);
  std::fflush(stdout);
  // Stop the simulators of the main run before the scenario (they would only take memory).
  ours_sim.proc.reset();
  naive_sim.proc.reset();
  double scenario_lag = 0;
  if (scenario.hires > 0) scenario_lag = RunLeaverBehindHires(scenario);
  return ours.converged && ours.check.Lost() == 0 && ours.check.leavers_invited == 0 &&
                 scenario_lag >= 0
             ? 0
             : 1;
}
