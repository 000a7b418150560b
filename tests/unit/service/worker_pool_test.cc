// WorkerPool's exception barrier: a job that throws is dropped, the pool
// keeps running jobs, and what the job held (a Reply) is released.
#include <gtest/gtest.h>

#include <pthread.h>

#include <future>
#include <string>
#include <memory>
#include <stdexcept>

#include "m2msec/service/runtime.h"

namespace m2msec::service {
namespace {

TEST(WorkerPool, AThrowingJobDoesNotStopThePool) {
  WorkerPool pool(1);
  auto held = std::make_shared<int>(7);
  std::weak_ptr<int> watch = held;
  pool.post([held = std::move(held)] { throw std::runtime_error("job failed"); });
  pool.post([] { throw 42; });
  std::promise<int> p;
  auto f = p.get_future();
  pool.post([&p] { p.set_value(1); });
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(f.get(), 1);
  EXPECT_TRUE(watch.expired()) << "the failed job's captures were released";
}

// Each pool names its threads (for top -H, perf and the demo's CPU by
// role), cut to the 15 characters Linux keeps; two pools keep their own.
TEST(WorkerPool, ThreadsCarryThePoolsName) {
  auto name_in = [](WorkerPool& pool) {
    std::promise<std::string> p;
    auto f = p.get_future();
    pool.post([&p] {
      char buf[16] = {};
      pthread_getname_np(pthread_self(), buf, sizeof buf);
      p.set_value(buf);
    });
    EXPECT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return f.get();
  };
  WorkerPool plain(1), maf(2, "maf-worker"), long_name(1, "a-very-long-pool-name");
  EXPECT_EQ(name_in(plain), "m2m-worker");
  EXPECT_EQ(name_in(maf), "maf-worker");
  EXPECT_EQ(name_in(maf), "maf-worker");
  EXPECT_EQ(name_in(long_name), "a-very-long-poo");
}

}  // namespace
}  // namespace m2msec::service
