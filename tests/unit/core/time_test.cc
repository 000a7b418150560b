// utc_to_unix and format_utc: the calendar arithmetic behind oneM2M times (proto) and
// "m2msec audit --since". Expected values from python3:
//   calendar.timegm((2026, 11, 30, 10, 15, 0)) -> 1796033700
//   calendar.timegm((2000, 2, 29, 23, 59, 60)) -> 951868800 (a leap second rolls over)
#include <gtest/gtest.h>

#include "m2msec/core/endpoint.h"

namespace m2msec {
namespace {

TEST(UtcToUnix, KnownAnswers) {
  EXPECT_EQ(*utc_to_unix(1970, 1, 1, 0, 0, 0), 0);
  EXPECT_EQ(*utc_to_unix(2026, 11, 30, 10, 15, 0), 1796033700);
  EXPECT_EQ(*utc_to_unix(2000, 2, 29, 23, 59, 60), 951868800);
}

TEST(UtcToUnix, RefusesFieldsOutOfRange) {
  const int bad[][6] = {{1969, 12, 31, 23, 59, 59}, {2026, 0, 1, 0, 0, 0}, {2026, 13, 1, 0, 0, 0},
                        {2026, 1, 0, 0, 0, 0},      {2026, 1, 32, 0, 0, 0}, {2026, 1, 1, 24, 0, 0},
                        {2026, 1, 1, 0, 60, 0},     {2026, 1, 1, 0, 0, 61}, {2026, 1, 1, -1, 0, 0},
                        {10000, 1, 1, 0, 0, 0}};
  for (const auto& f : bad) {
    auto t = utc_to_unix(f[0], f[1], f[2], f[3], f[4], f[5]);
    ASSERT_FALSE(t) << f[0] << "-" << f[1] << "-" << f[2] << " " << f[3] << ":" << f[4] << ":" << f[5];
    EXPECT_EQ(t.error().code(), Errc::invalid_argument);
  }
}

// The forms every UTC text of m2msec is made with: RFC 3339 (audit trail,
// listings) and oneM2M's YYYYMMDDTHHMMSS (proto::format_time).
TEST(FormatUtc, KnownAnswers) {
  EXPECT_EQ(format_utc(1796033700), "2026-11-30T10:15:00Z");
  EXPECT_EQ(format_utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_utc(1796033700, "%Y%m%dT%H%M%S"), "20261130T101500");
}

}  // namespace
}  // namespace m2msec
