// m2msec/core/expiring_cache.h: a small bounded map whose entries expire.
//
// Used where a server keeps what it just learnt for a moment: the MAF's
// and the MEF's records of the client a handshake resolved (so the
// session's requests need not read the store again), and the negative
// caches of refused key identifiers (link/single_flight.h).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

namespace m2msec {

// ExpiringCache<Key, Value> holds values for a fixed time to live. It is
// bounded: when full, the oldest entry goes first. Thread-safe. Times are
// passed in so that tests need no clock. Values are copied out, so hold
// secrets as std::shared_ptr<const T>.
template <typename Key, typename Value, typename Clock = std::chrono::steady_clock>
class ExpiringCache {
 public:
  using TimePoint = typename Clock::time_point;

  // |capacity| of 0 disables the cache.
  ExpiringCache(std::size_t capacity, std::chrono::milliseconds ttl) : capacity_(capacity), ttl_(ttl) {}

  // put stores |value| for |key| at |now|, replacing an older value.
  void put(const Key& key, Value value, TimePoint now = Clock::now()) {
    if (capacity_ == 0) return;
    std::lock_guard lock(mu_);
    prune(now);
    // order_ may also hold stale records of keys put again or erased:
    // bound it too.
    while ((entries_.size() >= capacity_ || order_.size() >= 2 * capacity_) && !order_.empty()) evict_oldest();
    const TimePoint expires = now + ttl_;
    entries_.insert_or_assign(key, Entry{std::move(value), expires});
    order_.emplace_back(key, expires);
  }

  // find returns the value held for |key| if it has not expired at |now|.
  std::optional<Value> find(const Key& key, TimePoint now = Clock::now()) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.expires <= now) return std::nullopt;
    return it->second.value;
  }

  // take returns the value held for |key| if it has not expired at |now|
  // and forgets it, in one step: of two concurrent takers, one gets it.
  std::optional<Value> take(const Key& key, TimePoint now = Clock::now()) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    std::optional<Value> out;
    if (it->second.expires > now) out = std::move(it->second.value);
    entries_.erase(it);
    return out;
  }

  // erase forgets |key|.
  void erase(const Key& key) {
    std::lock_guard lock(mu_);
    entries_.erase(key);
  }

  // erase_if forgets every key whose value satisfies |pred|.
  template <typename Pred>
  void erase_if(Pred pred) {
    std::lock_guard lock(mu_);
    std::erase_if(entries_, [&](const auto& kv) { return pred(kv.second.value); });
  }

  // size counts the entries held, expired ones not yet pruned included.
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return entries_.size();
  }

 private:
  struct Entry {
    Value value;
    TimePoint expires;
  };

  // prune drops the entries that have expired at |now|. Every entry
  // lives ttl_, so insertion order is expiry order.
  void prune(TimePoint now) {
    while (!order_.empty() && order_.front().second <= now) evict_oldest();
  }

  // evict_oldest drops the oldest record, unless the key was put again
  // since (then only the stale record in order_ goes).
  void evict_oldest() {
    auto [key, expires] = std::move(order_.front());
    order_.pop_front();
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.expires == expires) entries_.erase(it);
  }

  const std::size_t capacity_;
  const std::chrono::milliseconds ttl_;
  mutable std::mutex mu_;
  std::map<Key, Entry> entries_;
  std::deque<std::pair<Key, TimePoint>> order_;
};

}  // namespace m2msec
