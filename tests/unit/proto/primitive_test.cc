#include <gtest/gtest.h>

#include "m2msec/proto/primitive.h"

namespace m2msec::proto {
namespace {

// Reference: python3 -c "import calendar;print(calendar.timegm((2026,11,22,8,43,0)))"
TEST(Time, FormatsAndParsesOneM2MBasicForm) {
  EXPECT_EQ(format_time(1795336980), "20261122T084300");
  EXPECT_EQ(*parse_time("20261122T084300"), 1795336980);
  EXPECT_EQ(*parse_time("19700101T000000"), 0);
}

TEST(Time, RejectsOtherForms) {
  for (const char* bad : {"", "2026-11-22T08:43:00", "20261122T0843", "20261122 084300", "20261322T000000",
                          "20261100T000000", "20261122T250000", "2026112xT084300", "20261122T084300Z",
                          "02261122T100000", "19691231T235959"}) {  // before 1970: found by fuzz/messages.cc
    auto t = parse_time(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().code(), Errc::invalid_argument);
  }
}

TEST(Percent, RoundTripsKeyIds) {
  const std::string id = "AAECAwQFBgcICQoLDA0+/w==@mef.example.com";
  const std::string enc = percent_encode(id);
  EXPECT_EQ(enc, "AAECAwQFBgcICQoLDA0%2B%2Fw%3D%3D%40mef.example.com");
  EXPECT_EQ(*percent_decode(enc), id);
}

TEST(Percent, RejectsBadEscapes) {
  for (const char* bad : {"%", "%4", "%zz", "a%-1", "%G0"}) {
    auto d = percent_decode(bad);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.error().code(), Errc::invalid_argument);
  }
}

TEST(Rsc, MapsToHttpStatus) {
  EXPECT_EQ(http_status(Rsc::created), 201);
  EXPECT_EQ(http_status(Rsc::ok), 200);
  EXPECT_EQ(http_status(Rsc::not_found), 404);
  EXPECT_EQ(http_status(Rsc::originator_has_no_privilege), 403);
  EXPECT_EQ(http_status(Rsc::conflict), 409);
  EXPECT_EQ(http_status(Rsc::target_not_reachable), 404);
  EXPECT_EQ(http_status(Rsc::internal_server_error), 500);
  EXPECT_TRUE(is_success(Rsc::deleted));
  EXPECT_FALSE(is_success(Rsc::bad_request));
}

}  // namespace
}  // namespace m2msec::proto
