#include <gtest/gtest.h>

#include "m2msec/proto/http.h"
#include "m2msec/proto/http_client.h"

namespace m2msec::proto {
namespace {

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Request sample() {
  Request r;
  r.op = Operation::create;
  r.to = "/maf";
  r.from = "/dev-001";
  r.rqi = "r1";
  r.ty = 10002;
  r.content = {{"sec:mcr", {{"fqdn", "maf.example.com"}}}};
  return r;
}

TEST(Http, RequestRoundTripsByteByByte) {
  const std::string wire = encode_request(sample(), "maf.example.com");
  EXPECT_NE(wire.find("POST /maf HTTP/1.1"), std::string::npos);
  EXPECT_NE(wire.find("X-M2M-Origin: /dev-001"), std::string::npos);
  EXPECT_NE(wire.find("application/json;ty=10002"), std::string::npos);
  RequestReader reader;
  std::optional<Request> got;
  for (char c : wire) {  // worst-case fragmentation
    ASSERT_TRUE(reader.feed(bytes(std::string(1, c))));
    auto r = reader.next();
    ASSERT_TRUE(r) << r.error().message();
    if (*r) got = std::move(**r);
  }
  ASSERT_TRUE(got);
  EXPECT_EQ(got->op, Operation::create);
  EXPECT_EQ(got->ty, 10002);
  EXPECT_EQ(got->to, "/maf");
  EXPECT_EQ(got->from, "/dev-001");
  EXPECT_EQ(got->rqi, "r1");
  EXPECT_EQ(got->content, sample().content);
}

// Found by fuzz/http.cc: a create without a body keeps its ty.
TEST(Http, BodylessCreateKeepsItsResourceType) {
  Request r = sample();
  r.content = nullptr;
  RequestReader reader;
  const std::string wire = encode_request(r, "maf.example.com");
  ASSERT_TRUE(reader.feed(bytes(wire)));
  auto got = reader.next();
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->op, Operation::create);
  EXPECT_EQ((*got)->ty, 10002);
  EXPECT_TRUE((*got)->content.is_null());
}

// RFC 9112 9.6 and 9.3: "Connection: close", and HTTP/1.0 without
// keep-alive, ask the server to close after its answer.
TEST(Http, ConnectionCloseTravelsBothWays) {
  Request r = sample();
  r.close = true;
  const std::string wire = encode_request(r, "maf.example.com");
  EXPECT_NE(wire.find("Connection: close\r\n"), std::string::npos) << wire;
  EXPECT_EQ(encode_request(sample(), "maf.example.com").find("Connection:"), std::string::npos);
  auto read = [](const std::string& text) {
    RequestReader reader;
    EXPECT_TRUE(reader.feed(bytes(text)));
    auto got = reader.next();
    EXPECT_TRUE(got && *got);
    return got && *got ? std::optional<Request>(**got) : std::nullopt;
  };
  auto closing = read(wire);
  ASSERT_TRUE(closing);
  EXPECT_TRUE(closing->close);
  auto open = read(encode_request(sample(), "maf.example.com"));
  ASSERT_TRUE(open);
  EXPECT_FALSE(open->close);
  const std::string v10 = "GET /x HTTP/1.0\r\nX-M2M-Origin: o\r\nX-M2M-RI: 1\r\n\r\n";
  auto old = read(v10);
  ASSERT_TRUE(old);
  EXPECT_TRUE(old->close) << "HTTP/1.0 without keep-alive";
  auto kept = read("GET /x HTTP/1.0\r\nConnection: keep-alive\r\nX-M2M-Origin: o\r\nX-M2M-RI: 1\r\n\r\n");
  ASSERT_TRUE(kept);
  EXPECT_FALSE(kept->close);
  Response rsp{Rsc::ok, "r1", nullptr};
  EXPECT_NE(encode_response(rsp, true).find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(encode_response(rsp).find("Connection:"), std::string::npos);
}

TEST(Http, PipelinedRequestsAreSeparated) {
  Request get;
  get.op = Operation::retrieve;
  get.to = "/maf/keys/abc";
  get.from = "/in-cse";
  get.rqi = "r2";
  const std::string wire = encode_request(sample(), "h.example.com") + encode_request(get, "h.example.com");
  RequestReader reader;
  ASSERT_TRUE(reader.feed(bytes(wire)));
  auto a = reader.next();
  auto b = reader.next();
  auto c = reader.next();
  ASSERT_TRUE(a && *a && b && *b && c);
  EXPECT_EQ((*a)->op, Operation::create);
  EXPECT_EQ((*b)->op, Operation::retrieve);
  EXPECT_EQ((*b)->to, "/maf/keys/abc");
  EXPECT_FALSE(*c);
}

TEST(Http, ResponseRoundTrips) {
  Response rsp{Rsc::created, "r1", {{"sec:mcr", {{"ri", "x"}}}}};
  const std::string wire = encode_response(rsp);
  EXPECT_NE(wire.find("HTTP/1.1 201"), std::string::npos);
  EXPECT_NE(wire.find("X-M2M-RSC: 2001"), std::string::npos);
  ResponseReader reader;
  ASSERT_TRUE(reader.feed(bytes(wire)));
  auto got = reader.next();
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->rsc, Rsc::created);
  EXPECT_EQ((*got)->content, rsp.content);
}

TEST(Http, RejectsMalformedRequests) {
  const std::string cases[] = {
      "GARBAGE\r\n\r\n",
      "\x16\x03\x01\x00\x05hello",  // a TLS record, not HTTP
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",  // no X-M2M-RI
      "PATCH / HTTP/1.1\r\nX-M2M-RI: 1\r\n\r\n",
      "POST / HTTP/1.1\r\nX-M2M-RI: 1\r\nContent-Type: application/json;ty=x\r\nContent-Length: 2\r\n\r\n{}",
      "POST / HTTP/1.1\r\nX-M2M-RI: 1\r\nContent-Type: application/json;ty=2\r\nContent-Length: 3\r\n\r\n{x}",
      "POST / HTTP/1.1\r\nX-M2M-RI: 1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
  };
  for (const std::string& wire : cases) {
    RequestReader reader;
    ASSERT_TRUE(reader.feed(bytes(wire)));
    auto r = reader.next();
    ASSERT_FALSE(r) << wire;
    EXPECT_EQ(r.error().code(), Errc::malformed_message) << wire;
    // The stream stays failed.
    EXPECT_FALSE(reader.next());
  }
}

// The MEF's BSF reads TS 24.109's plain GET (no X-M2M-RI) only when the
// reader allows it; every other reader still refuses it.
TEST(Http, PlainRequestsOnlyWhenAllowed) {
  const std::string wire =
      "GET / HTTP/1.1\r\nHost: mef.example.com\r\nAuthorization: Digest username=\"u@x.org\"\r\n\r\n";
  HttpLimits allow;
  allow.allow_plain = true;
  RequestReader reader(allow);
  ASSERT_TRUE(reader.feed(bytes(wire)));
  auto r = reader.next();
  ASSERT_TRUE(r && *r) << (r ? "need more" : r.error().message());
  ASSERT_TRUE((*r)->plain);
  EXPECT_EQ((*r)->plain->method, "GET");
  EXPECT_EQ((*r)->plain->host, "mef.example.com");
  EXPECT_EQ((*r)->plain->authorization, "Digest username=\"u@x.org\"");
  EXPECT_EQ((*r)->to, "/");
  // A oneM2M request on the same reader is still a primitive.
  const std::string m2m = encode_request(sample(), "maf.example.com");
  ASSERT_TRUE(reader.feed(bytes(m2m)));
  auto p = reader.next();
  ASSERT_TRUE(p && *p);
  EXPECT_FALSE((*p)->plain);
  EXPECT_EQ((*p)->rqi, "r1");

  RequestReader strict;
  ASSERT_TRUE(strict.feed(bytes(wire)));
  EXPECT_FALSE(strict.next());
}

TEST(Http, PlainResponsesAreWrittenAsGiven) {
  auto plain = std::make_shared<PlainHttpResponse>();
  plain->status = 401;
  plain->headers = {{"WWW-Authenticate", "Digest realm=\"mef.example.com\""}};
  Response rsp;
  rsp.plain = plain;
  const std::string wire = encode_response(rsp);
  EXPECT_EQ(wire.rfind("HTTP/1.1 401 Unauthorized\r\n", 0), 0u) << wire;
  EXPECT_NE(wire.find("WWW-Authenticate: Digest realm=\"mef.example.com\"\r\n"), std::string::npos);
  EXPECT_EQ(wire.find("X-M2M-RSC"), std::string::npos);
}

TEST(Http, EnforcesLimits) {
  HttpLimits small;
  small.max_header = 256;
  small.max_body = 16;
  small.max_buffered = 1024;
  RequestReader reader(small);
  const std::string huge_header = "GET / HTTP/1.1\r\nX-M2M-RI: 1\r\nX-Pad: " + std::string(400, 'a') + "\r\n\r\n";
  ASSERT_TRUE(reader.feed(bytes(huge_header)));
  EXPECT_EQ(reader.next().error().code(), Errc::malformed_message);

  RequestReader body_reader(small);
  const std::string big_body =
      "POST / HTTP/1.1\r\nX-M2M-RI: 1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
  ASSERT_TRUE(body_reader.feed(bytes(big_body)));
  EXPECT_EQ(body_reader.next().error().code(), Errc::malformed_message);

  RequestReader flood(small);
  EXPECT_EQ(flood.feed(bytes(std::string(2000, 'G'))).error().code(), Errc::malformed_message);
}

TEST(Http, ExpectSuccessTurnsErrorsIntoRequestRefused) {
  Request req;
  req.rqi = "r9";
  EXPECT_TRUE(expect_success(ok_response(req, Rsc::created, nullptr)));
  auto st = expect_success(error_response(req, Rsc::originator_has_no_privilege, "not a target"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::request_refused);
  EXPECT_EQ(st.error().detail(), "RSC 4103: not a target");
}

TEST(Http, ResponseNeedsRsc) {
  ResponseReader reader;
  ASSERT_TRUE(reader.feed(bytes(std::string("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))));
  auto r = reader.next();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::malformed_message);
}

}  // namespace
}  // namespace m2msec::proto
