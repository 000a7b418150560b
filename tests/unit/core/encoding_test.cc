#include <gtest/gtest.h>

#include "m2msec/core/encoding.h"

namespace m2msec {
namespace {

std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

TEST(Hex, EncodesLowercase) {
  const std::vector<std::uint8_t> in = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(hex_encode(in), "0001abff");
  EXPECT_EQ(hex_encode({}), "");
}

TEST(Hex, DecodesEitherCase) {
  auto out = hex_decode("00ABcdEf");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, (std::vector<std::uint8_t>{0x00, 0xab, 0xcd, 0xef}));
  auto secret = hex_decode_secret("0aff");
  ASSERT_TRUE(secret);
  EXPECT_EQ(secret->size(), 2u);
  EXPECT_EQ(secret->data()[1], 0xff);
}

TEST(Hex, RejectsOddLength) {
  auto out = hex_decode("abc");
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code(), Errc::invalid_hex);
}

TEST(Hex, RejectsNonHexAndNamesOffset) {
  for (std::string_view bad : {"0g", "g0", " 00", "00 ", "0x00", "+0"}) {
    auto out = hex_decode(bad);
    ASSERT_FALSE(out) << bad;
    EXPECT_EQ(out.error().code(), Errc::invalid_hex) << bad;
  }
  EXPECT_NE(hex_decode("00zz").error().detail().find("offset 2"), std::string::npos);
}

TEST(Hex, SecretDecodeErrorDoesNotEchoInput) {
  auto out = hex_decode_secret("deadbeefXX");
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().message().find("deadbeef"), std::string::npos);
}

// RFC 4648 section 10 test vectors.
TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, enc] : cases) {
    EXPECT_EQ(base64_encode(bytes(plain)), enc);
    auto dec = base64_decode(enc);
    ASSERT_TRUE(dec) << enc;
    EXPECT_EQ(*dec, bytes(plain));
  }
}

TEST(Base64, StandardAlphabetWithPlusAndSlash) {
  const std::vector<std::uint8_t> in = {0xfb, 0xff, 0xbf};
  EXPECT_EQ(base64_encode(in), "+/+/");
  auto dec = base64_decode("+/+/");
  ASSERT_TRUE(dec);
  EXPECT_EQ(*dec, in);
}

TEST(Base64, RejectsNonCanonicalInput) {
  for (std::string_view bad : {
           "Zg",        // missing padding
           "Zg=",       // short padding
           "Z===",      // too much padding
           "Zh==",      // non-zero pad bits
           "Zm9=",      // non-zero pad bits (one '=')
           "Zm9v\n",    // whitespace
           "Zm 9v",     // inner space
           "=Zm9",      // padding first
           "Zm=v",      // padding in the middle
           "Zm9v====",  // a block of padding
           "-_-_",      // URL-safe alphabet
           "Zm9v!A==",  // bad character
       }) {
    auto dec = base64_decode(bad);
    ASSERT_FALSE(dec) << bad;
    EXPECT_EQ(dec.error().code(), Errc::invalid_base64) << bad;
  }
}

TEST(Base64, RoundTripsAllLengths) {
  std::vector<std::uint8_t> in;
  for (int n = 0; n < 70; ++n) {
    auto dec = base64_decode(base64_encode(in));
    ASSERT_TRUE(dec);
    EXPECT_EQ(*dec, in);
    in.push_back(static_cast<std::uint8_t>(n * 37 + 11));
  }
}

}  // namespace
}  // namespace m2msec
