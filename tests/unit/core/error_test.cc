#include <gtest/gtest.h>

#include <set>

#include "m2msec/core/error.h"

namespace m2msec {
namespace {

// Every enumerator from 1 up has a distinct name and message; the first
// value past the end reports "unknown". Each value's negative test lives
// beside the code that produces it (see the other *_test.cc files).
TEST(Error, EveryCodeHasNameAndMessage) {
  std::set<std::string_view> names, messages;
  int count = 0;
  for (int v = 1; v < 1000; ++v) {
    const auto code = static_cast<Errc>(v);
    if (error_name(code) == "unknown") break;
    ++count;
    EXPECT_FALSE(error_message(code).empty());
    EXPECT_NE(error_message(code), "unknown error");
    EXPECT_TRUE(names.insert(error_name(code)).second) << error_name(code);
    EXPECT_TRUE(messages.insert(error_message(code)).second) << error_message(code);
  }
  EXPECT_GE(count, 9);
  EXPECT_EQ(error_message(static_cast<Errc>(count + 1)), "unknown error");
}

TEST(Error, MessageAddsDetail) {
  EXPECT_EQ(Error(Errc::io_error).message(), "I/O error");
  EXPECT_EQ(Error(Errc::io_error, "f.txt").message(), "I/O error: f.txt");
  Result<int> r = fail(Errc::invalid_argument, "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::invalid_argument);
}

}  // namespace
}  // namespace m2msec
