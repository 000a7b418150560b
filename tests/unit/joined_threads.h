// joined_threads.h: threads a test starts from a server's callback (a late
// reply, a slow lookup), joined before the server goes.
//
// A callback such as a Reply or a lookup's "done" keeps its session alive,
// and a session's timers and sockets belong to the server's io_context: a
// detached thread that drops the last reference after the server is gone
// frees them into a destroyed io_context (AddressSanitizer reports the
// heap-use-after-free). Declare a JoinedThreads before the server, or call
// join() before stopping it.
#pragma once

#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace m2msec::testing {

class JoinedThreads {
 public:
  JoinedThreads() = default;
  JoinedThreads(const JoinedThreads&) = delete;
  JoinedThreads& operator=(const JoinedThreads&) = delete;
  ~JoinedThreads() { join(); }

  template <class F>
  void start(F&& f) {
    std::lock_guard lock(mu_);
    threads_.emplace_back(std::forward<F>(f));
  }

  // join waits for every thread started so far (and those they start).
  void join() {
    for (;;) {
      std::vector<std::thread> batch;
      {
        std::lock_guard lock(mu_);
        batch.swap(threads_);
      }
      if (batch.empty()) return;
      for (auto& t : batch) t.join();
    }
  }

 private:
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

}  // namespace m2msec::testing
