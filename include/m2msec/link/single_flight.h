// m2msec/link/single_flight.h: concurrent lookups of one key share one
// fetch, and refusals are remembered briefly (a negative cache).
//
// A handshake that names an unknown key identifier makes the acceptor ask
// another server. Without these, a hundred devices presenting the same new
// KcID at once cause a hundred fetches, and a peer repeating a forged KcID
// makes the acceptor dial the MAF for each attempt.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/core/expiring_cache.h"

namespace m2msec::link {

// SingleFlight<Key, Value> joins concurrent fetches of the same key.
// Thread-safe. Typical use:
//
//   if (flights.join(key, [done](const Result<V>& r) { ... })) {
//     pool.post([&] { flights.finish(key, fetch(key)); });
//   }
template <typename Key, typename Value>
class SingleFlight {
 public:
  // Waiter receives the shared result; it runs on the thread that calls
  // finish(), outside any lock, and must copy what it keeps.
  using Waiter = std::function<void(const Result<Value>&)>;

  // join registers |waiter| for |key|. It returns true if no fetch of |key|
  // was running: the caller then leads, runs the fetch and must call
  // finish(key, ...) exactly once. It returns false if a fetch is already
  // running; |waiter| is then called when that fetch finishes.
  bool join(const Key& key, Waiter waiter) {
    std::lock_guard lock(mu_);
    auto [it, inserted] = flights_.try_emplace(key);
    it->second.push_back(std::move(waiter));
    return inserted;
  }

  // finish hands |result| to every waiter of |key| (the leader's first)
  // and forgets the key, so that a later join leads a new fetch.
  void finish(const Key& key, const Result<Value>& result) {
    std::vector<Waiter> waiters;
    {
      std::lock_guard lock(mu_);
      auto it = flights_.find(key);
      if (it == flights_.end()) return;
      waiters = std::move(it->second);
      flights_.erase(it);
    }
    for (Waiter& w : waiters) w(result);
  }

  // pending returns the number of keys being fetched.
  std::size_t pending() const {
    std::lock_guard lock(mu_);
    return flights_.size();
  }

 private:
  mutable std::mutex mu_;
  std::map<Key, std::vector<Waiter>> flights_;
};

// NegativeCache<Key> remembers, for a short time, that a key was refused
// (the issuer answered "unknown", "expired", "not yours"). Only answers
// from the issuer belong here; a transport failure says nothing about the
// key and must not be cached as a refusal.
template <typename Key, typename Clock = std::chrono::steady_clock>
class NegativeCache {
 public:
  using TimePoint = typename Clock::time_point;

  // |capacity| of 0 disables the cache.
  NegativeCache(std::size_t capacity, std::chrono::milliseconds ttl) : cache_(capacity, ttl) {}

  // add records that |key| was refused with |why| at |now|.
  void add(const Key& key, Error why, TimePoint now = Clock::now()) { cache_.put(key, std::move(why), now); }

  // find returns the refusal recorded for |key| if it has not expired at
  // |now|.
  std::optional<Error> find(const Key& key, TimePoint now = Clock::now()) const { return cache_.find(key, now); }

  // erase forgets |key| (it became known).
  void erase(const Key& key) { cache_.erase(key); }

  // size counts the entries held, expired ones not yet pruned included.
  std::size_t size() const { return cache_.size(); }

 private:
  ExpiringCache<Key, Error, Clock> cache_;
};

}  // namespace m2msec::link
