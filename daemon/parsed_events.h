// ParsedEventCache: the ingress's parse of an event, handed to the writer so the body is not
// parsed twice (issue 13: CPU per event).
//
// The ingress parses and validates every delivery before storing it (ParseJson + ParseEvent);
// the writer used to parse the stored body again when it folded the event. The ingress now
// offers its parse here, keyed by (source, event_id), before the event is queued for its commit,
// and the writer takes it when it folds that event. The writer only uses an entry whose body is
// byte for byte the body it read from the inbox: the parse of the same bytes is the same
// ParsedEvent (ParseJson and ParseEvent are pure), so a hit folds exactly what a fresh parse
// would, and anything else (a duplicate delivery with another body, a replayed event, an event
// stored by another path, the cache full or emptied by a restart) falls back to parsing. A miss
// costs the parse the writer always did; nothing depends on a hit.
//
// Bounded: at most `capacity` entries (the bodies and parses of events not yet folded; with the
// default 2,048 a few MB at most); Offer refuses when full (while the writer is paused, or far
// behind, events are parsed again when folded).
//
// Thread safety: every method may be called from any thread (the event loop, the group
// committer's callbacks, the writer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "adapters/events/event.h"

namespace tenantsync {

class ParsedEventCache {
 public:
  static constexpr size_t kDefaultCapacity = 2048;
  explicit ParsedEventCache(size_t capacity = kDefaultCapacity);

  // Stores the parse of `body` for (source, event_id). Returns a token (never 0) that names this
  // entry for Drop, or 0 when nothing was stored: an entry for the key is already there (the
  // first offer stays), or the cache is full.
  uint64_t Offer(const std::string& source, const std::string& event_id, std::string body,
                 ParsedEvent parsed);
  // Removes the entry `token` made for (source, event_id) if it is still there: the insert it
  // was offered for stored nothing (a duplicate, or storage refused it). A later offer's entry
  // for the same key is left alone. Token 0: nothing.
  void Drop(const std::string& source, const std::string& event_id, uint64_t token);
  // The parse offered for (source, event_id), removed from the cache, when it was offered with
  // exactly `body`; otherwise nullopt (an entry with another body is removed too: it can only be
  // stale). Counts hits and misses.
  std::optional<ParsedEvent> Take(const std::string& source, const std::string& event_id,
                                  std::string_view body);

  size_t size() const;
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  struct Entry {
    uint64_t token;
    std::string body;
    ParsedEvent parsed;
  };
  static std::string Key(const std::string& source, const std::string& event_id);

  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
  uint64_t next_token_ = 1;                         // guarded by mu_
  uint64_t hits_ = 0, misses_ = 0;                  // guarded by mu_
};

}  // namespace tenantsync
