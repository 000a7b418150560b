// set_thread_name and thread_run_seconds, against the kernel's own view
// of the threads (/proc/self/task/<tid>/comm and schedstat).
#include <gtest/gtest.h>

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>

#include "m2msec/core/thread.h"

namespace m2msec {
namespace {

std::string name_of_this_thread() {
  char buf[16] = {};
  pthread_getname_np(pthread_self(), buf, sizeof buf);
  return buf;
}

TEST(Thread, NamesTheCallingThreadKeepingFifteenCharacters) {
  std::thread([] {
    set_thread_name("maf-worker");
    EXPECT_EQ(name_of_this_thread(), "maf-worker");
    set_thread_name("a-very-long-thread-name");
    EXPECT_EQ(name_of_this_thread(), "a-very-long-thr");
  }).join();
}

// A thread that has run 100 ms of CPU (by its own clock, so whatever the
// machine's load) shows at least that under its name; a live thread that
// has barely run shows far less; an ended thread is gone.
TEST(Thread, RunTimeIsSummedByThreadName) {
  std::promise<void> named_busy, named_idle, done;
  std::shared_future<void> stop = done.get_future().share();
  std::thread busy([&] {
    set_thread_name("t-busy");
    auto own_cpu = [] {
      timespec ts{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
    };
    std::atomic<std::uint64_t> spins{0};
    while (own_cpu() < 0.1) spins.fetch_add(1, std::memory_order_relaxed);
    named_busy.set_value();
    stop.wait();
  });
  std::thread idle([&] {
    set_thread_name("t-idle");
    named_idle.set_value();
    stop.wait();
  });
  named_busy.get_future().wait();
  named_idle.get_future().wait();
  const auto by_name = thread_run_seconds();
  done.set_value();
  busy.join();
  idle.join();
  ASSERT_TRUE(by_name.contains("t-busy"));
  ASSERT_TRUE(by_name.contains("t-idle"));
  EXPECT_GE(by_name.at("t-busy"), 0.1) << "it ran 100 ms of CPU";
  EXPECT_GT(by_name.at("t-busy"), 10 * by_name.at("t-idle"));
  EXPECT_EQ(thread_run_seconds(static_cast<int>(::getpid())).count("t-busy"), 0u) << "ended threads are not counted";
}

}  // namespace
}  // namespace m2msec
