// tune_allocator_for_serving: freed memory stays with the process instead
// of going back to the kernel after every burst (service/runtime.h).
#include <malloc.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "m2msec/service/runtime.h"

namespace m2msec::service {
namespace {

TEST(Allocator, FreedMemoryStaysWithTheProcess) {
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer's allocator replaces glibc's and refuses mallopt.
  EXPECT_FALSE(tune_allocator_for_serving());
#elif defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer's allocator replaces glibc's (whose mallopt it lets through): nothing to observe";
#else
  ASSERT_TRUE(tune_allocator_for_serving());
  // 2 MiB is above glibc's default mmap threshold (128 KiB): untuned, the
  // block would be mapped on its own and unmapped at free. Tuned (mmap
  // threshold 4 MiB), it comes from the heap, and the free leaves it at
  // the heap's top, kept (trim threshold 32 MiB) for the next allocation.
  constexpr std::size_t kBlock = std::size_t{2} << 20;
  void* p = std::malloc(kBlock);
  ASSERT_NE(p, nullptr);
  std::memset(p, 0x5a, kBlock);
  asm volatile("" : : "r"(p) : "memory");  // the compiler may not drop the pair
  std::free(p);
  // Untuned, keepcost stays near the heap's first 132 KiB.
  EXPECT_GE(mallinfo2().keepcost, kBlock);
#endif
}

}  // namespace
}  // namespace m2msec::service
