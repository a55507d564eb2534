#include "daemon/parsed_events.h"

#include <utility>

namespace tenantsync {

ParsedEventCache::ParsedEventCache(size_t capacity) : capacity_(capacity) {}

std::string ParsedEventCache::Key(const std::string& source, const std::string& event_id) {
  // Source names never hold a NUL, so the pair is unambiguous whatever the id holds.
  std::string key;
  key.reserve(source.size() + 1 + event_id.size());
  key += source;
  key += '\0';
  key += event_id;
  return key;
}

uint64_t ParsedEventCache::Offer(const std::string& source, const std::string& event_id,
                                 std::string body, ParsedEvent parsed) {
  std::string key = Key(source, event_id);
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.size() >= capacity_) return 0;
  const uint64_t token = next_token_++;
  auto [it, inserted] =
      entries_.try_emplace(std::move(key), Entry{token, std::move(body), std::move(parsed)});
  return inserted ? token : 0;
}

void ParsedEventCache::Drop(const std::string& source, const std::string& event_id,
                            uint64_t token) {
  if (token == 0) return;
  const std::string key = Key(source, event_id);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.token == token) entries_.erase(it);
}

std::optional<ParsedEvent> ParsedEventCache::Take(const std::string& source,
                                                  const std::string& event_id,
                                                  std::string_view body) {
  const std::string key = Key(source, event_id);
  // Extracted under the lock and freed after it: the ingress's offers do not wait for the frees.
  decltype(entries_)::node_type node;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      ++misses_;
      return std::nullopt;
    }
    node = entries_.extract(it);
    if (node.mapped().body != body) {
      ++misses_;
      return std::nullopt;
    }
    ++hits_;
  }
  return std::move(node.mapped().parsed);
}

size_t ParsedEventCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

uint64_t ParsedEventCache::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}

uint64_t ParsedEventCache::misses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return misses_;
}

}  // namespace tenantsync
