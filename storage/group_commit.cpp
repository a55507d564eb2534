#include "storage/group_commit.h"

#include "common/thread_name.h"

namespace tenantsync {

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
  std::future<Result<InsertOutcome>> answer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Status::Retryable("shutting down");
    if (queue_.size() >= options_.max_queue)
      return Status::Retryable("too many events waiting for storage");
    queue_.push_back(Pending{std::move(record), {}});
    answer = queue_.back().done.get_future();
  }
  cv_.notify_one();
  return answer.get();
}

void GroupCommitter::Run() {
  SetCurrentThreadName("ts-commit");
  while (true) {
    std::vector<Pending> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<EventRecord> records;
    records.reserve(batch.size());
    for (auto& p : batch) records.push_back(p.record);
    auto result = store_.InsertEvents(records);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++commits_;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (result.ok()) {
        batch[i].done.set_value((*result)[i]);
      } else {
        batch[i].done.set_value(result.status());
      }
    }
  }
}

}  // namespace tenantsync
