// printable(): peer bytes made safe for logs, error texts and JSON.
#include "m2msec/core/printable.h"

#include <gtest/gtest.h>

#include <string>

namespace m2msec {
namespace {

TEST(Printable, KeepsPrintableAscii) { EXPECT_EQ(printable("dev-1@mef.example.com"), "dev-1@mef.example.com"); }

// Issue 9: "an unauthenticated peer can inject newlines and ANSI escapes
// into the log through its PSK identity".
TEST(Printable, EscapesControlAndEscapeBytes) {
  EXPECT_EQ(printable("a\nb"), "a\\x0ab");
  EXPECT_EQ(printable("\x1b[31mred"), "\\x1b[31mred");
  EXPECT_EQ(printable(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(printable("back\\slash"), "back\\x5cslash");
  EXPECT_EQ(printable("\x7f"), "\\x7f");
}

// The raw 0xFF byte of issue 9 made the JSON encoder throw.
TEST(Printable, EscapesNonAscii) {
  EXPECT_EQ(printable("\xff"), "\\xff");
  EXPECT_EQ(printable("\xc3\xa9"), "\\xc3\\xa9");
}

TEST(Printable, CutsLongInput) {
  const std::string s(300, 'a');
  EXPECT_EQ(printable(s, 10), std::string(10, 'a') + "...(+290 bytes)");
  EXPECT_EQ(printable(s).size(), kPrintableLimit + std::string("...(+172 bytes)").size());
  EXPECT_EQ(printable(""), "");
}

TEST(Printable, OutputIsAlwaysPrintableAscii) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  const std::string out = printable(all, all.size());
  for (char c : out) {
    EXPECT_GE(static_cast<unsigned char>(c), 0x20);
    EXPECT_LE(static_cast<unsigned char>(c), 0x7e);
  }
}

}  // namespace
}  // namespace m2msec
