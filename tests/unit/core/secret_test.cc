#include <gtest/gtest.h>

#include <type_traits>

#include "m2msec/core/secret.h"

namespace m2msec {
namespace {

static_assert(!std::is_copy_constructible_v<SecretBytes>);
static_assert(!std::is_copy_assignable_v<SecretBytes>);
static_assert(std::is_nothrow_move_constructible_v<SecretBytes>);
static_assert(!std::is_copy_constructible_v<SecretString>);

TEST(SecretBytes, MoveLeavesSourceEmpty) {
  const std::uint8_t raw[] = {1, 2, 3};
  SecretBytes a(raw);
  SecretBytes b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_EQ(b.size(), 3u);
  SecretBytes c;
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(c.data()[2], 3);
}

TEST(SecretBytes, CloneIsExplicitAndEqual) {
  const std::uint8_t raw[] = {9, 8, 7};
  SecretBytes a(raw);
  SecretBytes b = a.clone();
  EXPECT_TRUE(a == b);
  b.data()[0] = 0;
  EXPECT_FALSE(a == b);
}

TEST(ConstantTime, Compares) {
  const std::uint8_t x[] = {1, 2, 3}, y[] = {1, 2, 3}, z[] = {1, 2, 4};
  EXPECT_TRUE(ct_equal(x, y));
  EXPECT_FALSE(ct_equal(x, z));
  EXPECT_FALSE(ct_equal(std::span(x, 2), x));
  EXPECT_TRUE(ct_equal({}, {}));
}

TEST(SecureWipe, ZeroesMemory) {
  std::uint8_t buf[16];
  for (auto& b : buf) b = 0xaa;
  secure_wipe(buf, sizeof buf);
  for (auto b : buf) EXPECT_EQ(b, 0);
  secure_wipe(nullptr, 0);  // allowed
}

// RecordingRelease is a Base for WipingAllocator that, just before it
// frees a buffer, records whether every byte was already zero.
int g_released = 0;
int g_released_nonzero = 0;

template <typename T>
struct RecordingRelease {
  using value_type = T;
  RecordingRelease() = default;
  template <typename U>
  RecordingRelease(const RecordingRelease<U>&) {}
  T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
  void deallocate(T* p, std::size_t n) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n * sizeof(T); ++i) {
      if (bytes[i] != 0) {
        ++g_released_nonzero;
        break;
      }
    }
    ++g_released;
    std::allocator<T>{}.deallocate(p, n);
  }
};

// The allocator wipes before it frees: on destruction and on every
// reallocation as the vector grows.
TEST(WipingAllocator, WipesEveryBufferBeforeRelease) {
  g_released = g_released_nonzero = 0;
  {
    std::vector<std::uint8_t, WipingAllocator<std::uint8_t, RecordingRelease<std::uint8_t>>> v;
    for (int i = 0; i < 1000; ++i) v.push_back(0x5c);  // several reallocations
  }
  EXPECT_GE(g_released, 3);
  EXPECT_EQ(g_released_nonzero, 0);
}

// Control: without the wiping layer the same recorder sees live bytes, so
// the test above can fail.
TEST(WipingAllocator, RecorderSeesUnwipedBuffers) {
  g_released = g_released_nonzero = 0;
  {
    std::vector<std::uint8_t, RecordingRelease<std::uint8_t>> v(64, 0x5c);
  }
  EXPECT_EQ(g_released, 1);
  EXPECT_EQ(g_released_nonzero, 1);
}

TEST(SecretString, HoldsText) {
  SecretString s("ab");
  s.append("cd");
  EXPECT_EQ(s.view(), "abcd");
  SecretString t(std::move(s));
  EXPECT_EQ(t.view(), "abcd");
}

}  // namespace
}  // namespace m2msec
