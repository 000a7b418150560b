// WorkerPool's exception barrier: a job that throws is dropped, the pool
// keeps running jobs, and what the job held (a Reply) is released.
#include <gtest/gtest.h>

#include <future>
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

}  // namespace
}  // namespace m2msec::service
