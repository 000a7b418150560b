#include "m2msec/service/session_reaper.h"


#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "m2msec/core/endpoint.h"
#include "m2msec/core/printable.h"
#include "m2msec/core/thread.h"

namespace m2msec::service {

SessionReaper::~SessionReaper() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SessionReaper::watch(std::weak_ptr<tls::Session> session, std::int64_t expires_at) {
  if (expires_at <= now_unix()) {
    if (auto s = session.lock()) {
      s->close();
      std::lock_guard lock(mu_);
      ++closed_;
    }
    return;
  }
  bool earliest = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    if (heap_.size() >= sweep_at_) sweep();
    earliest = heap_.empty() || expires_at < heap_.top().expires_at;
    heap_.push(Entry{expires_at, std::move(session)});
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
  }
  // The reaper sleeps until the earliest deadline; only a new earliest one
  // needs to wake it (not every session: that is a thread wake-up per
  // handshake).
  if (earliest) cv_.notify_one();
}

std::uint64_t SessionReaper::track(std::weak_ptr<tls::Session> session, AuthRef ctx) {
  std::lock_guard lock(mu_);
  const std::uint64_t token = next_token_++;
  tracked_.emplace(token, Tracked{std::move(session), std::move(ctx)});
  return token;
}

void SessionReaper::untrack(std::uint64_t token) {
  std::lock_guard lock(mu_);
  tracked_.erase(token);
}

std::size_t SessionReaper::close_matching(const std::function<bool(const AuthContext&)>& match) {
  std::vector<std::shared_ptr<tls::Session>> doomed;
  {
    std::lock_guard lock(mu_);
    for (auto it = tracked_.begin(); it != tracked_.end();) {
      if (!match(*it->second.ctx)) {
        ++it;
        continue;
      }
      if (auto s = it->second.session.lock()) doomed.push_back(std::move(s));
      it = tracked_.erase(it);
    }
    closed_ += doomed.size();
  }
  // Closed outside the lock: a close may end the session's loop, whose end
  // handler calls untrack.
  for (auto& s : doomed) s->close();
  return doomed.size();
}

std::size_t SessionReaper::tracked() const {
  std::lock_guard lock(mu_);
  return tracked_.size();
}

std::size_t SessionReaper::watched() const {
  std::lock_guard lock(mu_);
  return heap_.size();
}

std::uint64_t SessionReaper::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

void SessionReaper::sweep() {
  std::vector<Entry> live;
  live.reserve(heap_.size());
  while (!heap_.empty()) {
    if (!heap_.top().session.expired()) live.push_back(heap_.top());
    heap_.pop();
  }
  for (Entry& e : live) heap_.push(std::move(e));
  // Sweep again once the live set has doubled (amortised O(1) per watch).
  sweep_at_ = std::max<std::size_t>(1024, 2 * heap_.size());
}

void SessionReaper::loop() {
  set_thread_name("m2m-reaper");
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (heap_.empty()) {
      cv_.wait(lock, [this] { return stopping_ || !heap_.empty(); });
      continue;
    }
    const std::int64_t next = heap_.top().expires_at;
    if (next > now_unix()) {
      cv_.wait_until(lock, std::chrono::system_clock::time_point(std::chrono::seconds(next)));
      continue;
    }
    Entry e = heap_.top();
    heap_.pop();
    lock.unlock();
    if (auto s = e.session.lock()) {
      spdlog::info("closed a session of '{}': its key expired", printable(s->peer().psk_identity, 128));
      s->close();
      lock.lock();
      ++closed_;
      continue;
    }
    lock.lock();
  }
}

}  // namespace m2msec::service
