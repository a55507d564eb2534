#include "storage/group_commit.h"

#include <spdlog/spdlog.h>

#include <future>

#include "common/thread_name.h"

namespace tenantsync {

bool ShouldStartCommit(size_t queued, int holds, bool released, size_t max_batch) {
  return queued > 0 && (holds == 0 || released || queued >= max_batch);
}

GroupCommitter::GroupCommitter(Store& store, GroupCommitOptions options)
    : store_(store), options_(options), thread_([this] { Run(); }) {}

GroupCommitter::~GroupCommitter() { Stop(); }

void GroupCommitter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t GroupCommitter::commits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return commits_;
}

Result<InsertOutcome> GroupCommitter::Insert(EventRecord record) {
  std::promise<Result<InsertOutcome>> promise;
  auto answer = promise.get_future();
  InsertAsync(std::move(record),
              [&promise](Result<InsertOutcome> r) { promise.set_value(std::move(r)); });
  return answer.get();
}

void GroupCommitter::InsertAsync(EventRecord record, Callback done) {
  bool wake = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queue) {
      const bool stopping = stopping_;
      lock.unlock();
      done(Status::Retryable(stopping ? "shutting down" : "too many events waiting for storage"));
      return;
    }
    queue_.push_back(Pending{std::move(record), std::move(done)});
    // While a commit is in progress the committer takes the queue when it is done: only an idle
    // committer needs the (futex) wake-up, and a held one gets it from Release().
    wake = idle_ && ShouldStartCommit(queue_.size(), holds_, released_, options_.max_batch);
  }
  if (wake) cv_.notify_one();
}

void GroupCommitter::Hold() {
  std::lock_guard<std::mutex> lock(mu_);
  ++holds_;
}

void GroupCommitter::Release() {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (holds_ > 0) --holds_;
    if (!queue_.empty()) {
      // The producer may hold again at once (the loop's next pass); what it queued so far
      // must not wait for that pass too.
      released_ = true;
      wake = idle_;
    }
  }
  if (wake) cv_.notify_one();
}

void GroupCommitter::Run() {
  SetCurrentThreadName("ts-commit");
  std::vector<Pending> batch;
  std::vector<EventRecord> records;
  while (true) {
    batch.clear();
    records.clear();
    {
      std::unique_lock<std::mutex> lock(mu_);
      idle_ = true;
      cv_.wait(lock, [&] {
        return stopping_ || ShouldStartCommit(queue_.size(), holds_, released_, options_.max_batch);
      });
      idle_ = false;
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      // What a release let go and a full batch left behind goes with the next commit.
      if (queue_.empty()) released_ = false;
    }
    // The records move into the transaction's input and back: no copy of the bodies.
    records.reserve(batch.size());
    for (auto& p : batch) records.push_back(std::move(p.record));
    auto result = store_.InsertEvents(records);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++commits_;
    }
    if (result.ok() && options_.on_commit) options_.on_commit(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      try {
        if (result.ok()) {
          batch[i].done((*result)[i]);
        } else {
          batch[i].done(result.status());
        }
      } catch (const std::exception& e) {
        spdlog::error("group commit: a completion callback threw: {}", e.what());
      } catch (...) {
        spdlog::error("group commit: a completion callback threw");
      }
    }
  }
}

}  // namespace tenantsync
