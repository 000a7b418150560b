// m2msec/service/session_reaper.h: closes sessions when the key they were
// authenticated with expires, or is revoked.
//
// Seed 000: a connection key expires with its connection and lives no
// longer than the root key; TS-0003 8.2.2.3: once Kc has expired, Entity
// B fails the handshake. A session already open when its key expires is
// closed too, so no request is served on an expired key.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "m2msec/service/auth_context.h"
#include "m2msec/tls/session.h"

namespace m2msec::service {

class SessionReaper {
 public:
  // The reaper's thread starts with the first watch().
  SessionReaper() = default;
  // The destructor stops the thread; sessions still watched stay open.
  ~SessionReaper();
  SessionReaper(const SessionReaper&) = delete;
  SessionReaper& operator=(const SessionReaper&) = delete;

  // watch closes |session| at |expires_at| (Unix seconds), or at once if
  // that has passed. Holds only a weak reference: a session that ends
  // earlier is forgotten at its expiry or at the next sweep.
  void watch(std::weak_ptr<tls::Session> session, std::int64_t expires_at);

  // track remembers a serving session with what its handshake
  // established, until untrack(token) (call it when the session ends), so
  // that close_matching can find it.
  std::uint64_t track(std::weak_ptr<tls::Session> session, AuthRef ctx);
  void untrack(std::uint64_t token);
  // close_matching closes every tracked session whose context |match|
  // accepts (a revoked key, a revoked client) and returns how many. |match|
  // runs under the reaper's lock: it must be quick and must not call back.
  std::size_t close_matching(const std::function<bool(const AuthContext&)>& match);
  // tracked counts the sessions tracked.
  std::size_t tracked() const;

  // watched counts the entries held (sessions that ended early included
  // until swept).
  std::size_t watched() const;
  // closed counts the sessions closed on expiry.
  std::uint64_t closed() const;

 private:
  struct Entry {
    std::int64_t expires_at;
    std::weak_ptr<tls::Session> session;
    bool operator>(const Entry& o) const { return expires_at > o.expires_at; }
  };
  void loop();
  void sweep();  // drops entries whose session is gone; mu_ held

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_;
  std::size_t sweep_at_ = 1024;
  std::uint64_t closed_ = 0;
  struct Tracked {
    std::weak_ptr<tls::Session> session;
    AuthRef ctx;
  };
  std::unordered_map<std::uint64_t, Tracked> tracked_;
  std::uint64_t next_token_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace m2msec::service
