// PlainHttpServer and plain_http_call over real loopback sockets: the
// gateway hop of docs/cse.md. Every refusal the listener gives, and that
// nothing a peer sends stops it.
#include "m2msec/service/plain_http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "../joined_threads.h"

namespace m2msec::service {
namespace {

// RawClient is a plain TCP connection for sending bytes no client would.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(const std::string& s) { ASSERT_EQ(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size())); }
  // read_all reads until the peer closes (or 10 s pass).
  std::string read_all() {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) closed_by_peer_ = true;
      if (n <= 0) return out;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  // closed_by_peer: read_all ended because the server closed, not by the
  // 10 s receive timeout.
  bool closed_by_peer() const { return closed_by_peer_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_by_peer_ = false;
};

proto::Request retrieve(std::string from) {
  proto::Request r;
  r.op = proto::Operation::retrieve;
  r.to = "/cb";
  r.from = std::move(from);
  r.rqi = "rq-7";
  return r;
}

class PlainHttpTest : public ::testing::Test {
 protected:
  void start(ServiceHandler h, PlainHttpOptions o = {}) {
    auto s = PlainHttpServer::start("127.0.0.1:0", "test", std::move(h), o);
    ASSERT_TRUE(s) << s.error().message();
    server_ = std::move(*s);
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(server_->port()); }

  std::unique_ptr<PlainHttpServer> server_;
};

// An echo: the originator and the peer's address as the handler saw them.
ServiceHandler echo() {
  return [](const AuthRef& ctx, const proto::Request& req, proto::Reply reply) {
    reply(proto::ok_response(req, proto::Rsc::ok,
                             {{"from", req.from}, {"kind", ctx->peer.kind == tls::PeerIdentity::Kind::none},
                              {"address", ctx->peer.address}, {"listener", ctx->listener}}));
  };
}

TEST_F(PlainHttpTest, ServesRequestsAndNamesThePeer) {
  start(echo());
  auto rsp = plain_http_call(endpoint(), "in-cse", retrieve("Cae1"), std::chrono::seconds(5));
  ASSERT_TRUE(rsp) << rsp.error().message();
  EXPECT_EQ(rsp->rsc, proto::Rsc::ok);
  EXPECT_EQ(rsp->rqi, "rq-7");
  EXPECT_EQ(rsp->content["from"], "Cae1");
  EXPECT_EQ(rsp->content["kind"], true);  // nothing on this hop is authenticated
  EXPECT_EQ(rsp->content["address"], "127.0.0.1");
  EXPECT_EQ(rsp->content["listener"], "test/http");
}

// plain_http_call uses one connection per call, so its request says
// "Connection: close", whatever the request it relays asked of its hop.
TEST_F(PlainHttpTest, ACallAsksTheServerToCloseAfterItsAnswer) {
  start([](const AuthRef&, const proto::Request& req, proto::Reply reply) {
    reply(proto::ok_response(req, proto::Rsc::ok, {{"close", req.close}}));
  });
  proto::Request r = retrieve("Cae1");
  r.close = false;
  auto rsp = plain_http_call(endpoint(), "in-cse", r, std::chrono::seconds(5));
  ASSERT_TRUE(rsp) << rsp.error().message();
  EXPECT_EQ(rsp->content["close"], true);
}

TEST_F(PlainHttpTest, AnswersLaterFromAnotherThreadAndOnlyOnce) {
  testing::JoinedThreads repliers;  // joined before the fixture's server goes
  start([&repliers](const AuthRef&, const proto::Request& req, proto::Reply reply) {
    repliers.start([req, reply] {
      reply(proto::ok_response(req, proto::Rsc::created, nullptr));
      reply(proto::ok_response(req, proto::Rsc::ok, nullptr));  // ignored
    });
  });
  for (int i = 0; i < 3; ++i) {
    auto rsp = plain_http_call(endpoint(), "in-cse", retrieve("Cae1"), std::chrono::seconds(5));
    ASSERT_TRUE(rsp) << rsp.error().message();
    EXPECT_EQ(rsp->rsc, proto::Rsc::created);
  }
}

TEST_F(PlainHttpTest, AHandlerThatThrowsIsAnswered5000) {
  start([](const AuthRef&, const proto::Request&, proto::Reply) { throw std::runtime_error("boom"); });
  auto rsp = plain_http_call(endpoint(), "in-cse", retrieve("Cae1"), std::chrono::seconds(5));
  ASSERT_TRUE(rsp) << rsp.error().message();
  EXPECT_EQ(rsp->rsc, proto::Rsc::internal_server_error);
  EXPECT_EQ(rsp->rqi, "rq-7");
}

TEST_F(PlainHttpTest, MalformedAndOversizedRequestsAre400AndClosed) {
  PlainHttpOptions o;
  o.limits.max_body = 64;
  start(echo(), o);
  {
    RawClient c(server_->port());
    ASSERT_TRUE(c.connected());
    c.send("BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(c.read_all().starts_with("HTTP/1.1 400")) << "unknown method";
  }
  {
    RawClient c(server_->port());
    c.send("GET /cb HTTP/1.1\r\nHost: x\r\nX-M2M-Origin: C1\r\nX-M2M-RVI: 4\r\n\r\n");
    EXPECT_TRUE(c.read_all().starts_with("HTTP/1.1 400")) << "no X-M2M-RI";
  }
  {
    RawClient c(server_->port());
    c.send("POST /cb HTTP/1.1\r\nHost: x\r\nX-M2M-Origin: C1\r\nX-M2M-RI: 1\r\nX-M2M-RVI: 4\r\n"
           "Content-Type: application/json;ty=3\r\nContent-Length: 100\r\n\r\n" + std::string(100, ' '));
    EXPECT_TRUE(c.read_all().starts_with("HTTP/1.1 400")) << "body over the limit";
  }
  {
    RawClient c(server_->port());
    c.send(std::string(20000, 'A'));
    EXPECT_TRUE(c.read_all().starts_with("HTTP/1.1 400")) << "garbage";
  }
  // Still serving.
  auto rsp = plain_http_call(endpoint(), "in-cse", retrieve("Cae1"), std::chrono::seconds(5));
  ASSERT_TRUE(rsp) << rsp.error().message();
  EXPECT_EQ(rsp->rsc, proto::Rsc::ok);
}

// RFC 9112 9.6: answered with "Connection: close", then closed at once
// (well before the idle timeout); a request pipelined behind it is not served.
TEST_F(PlainHttpTest, ClosesAfterAnsweringARequestThatAsksToClose) {
  PlainHttpOptions o;
  o.idle_timeout = std::chrono::seconds(60);
  start(echo(), o);
  RawClient c(server_->port());
  ASSERT_TRUE(c.connected());
  c.send("GET /cb HTTP/1.1\r\nHost: x\r\nX-M2M-Origin: C1\r\nX-M2M-RI: 1\r\nX-M2M-RVI: 4\r\n"
         "Connection: close\r\n\r\n"
         "GET /cb HTTP/1.1\r\nHost: x\r\nX-M2M-Origin: C2\r\nX-M2M-RI: 2\r\nX-M2M-RVI: 4\r\n\r\n");
  const std::string out = c.read_all();
  EXPECT_TRUE(c.closed_by_peer()) << "the server did not close: " << out;
  EXPECT_TRUE(out.starts_with("HTTP/1.1 200")) << out;
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("C2"), std::string::npos) << "the request after the close was served: " << out;
}

TEST_F(PlainHttpTest, ConnectionsOverTheBoundAreClosedAtOnce) {
  PlainHttpOptions o;
  o.max_connections = 1;
  start(echo(), o);
  RawClient first(server_->port());
  ASSERT_TRUE(first.connected());
  // Make sure the first is accepted before the second arrives.
  first.send("GET /cb HTTP/1.1\r\nHost: x\r\nX-M2M-Origin: C1\r\nX-M2M-RI: 1\r\nX-M2M-RVI: 4\r\n\r\n");
  RawClient second(server_->port());
  EXPECT_EQ(second.read_all(), "");  // closed without an answer
}

TEST_F(PlainHttpTest, AnIdleConnectionIsClosed) {
  PlainHttpOptions o;
  o.idle_timeout = std::chrono::milliseconds(200);
  start(echo(), o);
  RawClient c(server_->port());
  ASSERT_TRUE(c.connected());
  c.send("GET /cb HTTP/1.1\r\nHost: x\r\n");  // never finished
  EXPECT_EQ(c.read_all(), "");
}

TEST(PlainHttpCall, FailsClearlyWhenNobodyListensOrAnswers) {
  // A port nobody listens on: bind one, close it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string closed = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  ::close(fd);
  auto r = plain_http_call(closed, "x", retrieve("C1"), std::chrono::seconds(5));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::connect_failed);

  // A listener that accepts and never answers.
  int l = ::socket(AF_INET, SOCK_STREAM, 0);
  a.sin_port = 0;
  ASSERT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(l, 4), 0);
  ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  r = plain_http_call("127.0.0.1:" + std::to_string(ntohs(a.sin_port)), "x", retrieve("C1"),
                      std::chrono::milliseconds(300));
  ::close(l);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::timeout);

  EXPECT_EQ(plain_http_call("no-port", "x", retrieve("C1"), std::chrono::seconds(1)).error().code(),
            Errc::invalid_argument);
}

TEST(PlainHttpServerStart, RefusesANameOrABusyPort) {
  auto bad = PlainHttpServer::start("localhost:0", "t", [](const AuthRef&, const proto::Request&, proto::Reply) {});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::invalid_argument);
  auto first = PlainHttpServer::start("127.0.0.1:0", "t", [](const AuthRef&, const proto::Request&, proto::Reply) {});
  ASSERT_TRUE(first);
  auto busy = PlainHttpServer::start("127.0.0.1:" + std::to_string((*first)->port()), "t",
                                     [](const AuthRef&, const proto::Request&, proto::Reply) {});
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code(), Errc::io_error);
}

}  // namespace
}  // namespace m2msec::service
