// link::Link against a real TlsServer on loopback serving oneM2M over HTTP
// (proto::serve_http), with the test PKI of tests/interop/make_certs.sh:
// the server is maf.example.com and requires a client certificate; the
// link presents cse1.sp.example.com. Handshakes are counted at the server
// (on_session), so "reuse" means what the server saw.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <thread>

#include "../tls/tls_harness.h"
#include "m2msec/link/link.h"
#include "m2msec/proto/http_server.h"

namespace m2msec::link {
namespace {

using namespace std::chrono_literals;
using tls::test::cert;
using tls::test::trust;

// Mode is how the test server answers.
enum class Mode {
  answer,        // 2000 with {"to": <target>} and the request's X-M2M-RI
  hold,          // keep the request unanswered until release_held()
  wrong_rqi,     // 2000 with another X-M2M-RI
  drop_second,   // answer the first request of a session; close on the second
};

class HttpPeer {
 public:
  explicit HttpPeer(std::uint16_t port = 0)
      : server_(tls::test::start_maf_server([this](std::shared_ptr<tls::Session> s) { on_session(std::move(s)); },
                                            2, port)) {}

  ~HttpPeer() { stop(); }

  void stop() {
    release_held();
    server_->stop();
  }

  std::uint16_t port() const { return server_->port(); }
  Peer peer() const { return Peer{"127.0.0.1", port(), tls::test::kMaf}; }
  void set_mode(Mode m) { mode_ = m; }
  std::size_t handshakes() const { return handshakes_; }
  std::size_t requests() const { return requests_; }

  // close_all closes every session the server has (as its idle timeout would).
  void close_all() {
    std::lock_guard lock(mu_);
    for (auto& w : sessions_) {
      if (auto s = w.lock()) s->close();
    }
  }

  bool wait_held(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return held_.size() >= n; });
  }

  void release_held() {
    std::vector<std::pair<proto::Request, proto::Reply>> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
    }
    for (auto& [req, reply] : held) reply(proto::ok_response(req, proto::Rsc::ok, {{"to", req.to}}));
  }

 private:
  void on_session(std::shared_ptr<tls::Session> s) {
    ++handshakes_;
    {
      std::lock_guard lock(mu_);
      sessions_.push_back(s);
    }
    auto served = std::make_shared<int>(0);
    std::weak_ptr<tls::Session> weak = s;
    proto::serve_http(s, [this, served, weak](const proto::Request& req, proto::Reply reply) {
      ++requests_;
      switch (mode_.load()) {
        case Mode::hold: {
          std::lock_guard lock(mu_);
          held_.emplace_back(req, std::move(reply));
          cv_.notify_all();
          return;
        }
        case Mode::wrong_rqi:
          return reply(proto::Response{proto::Rsc::ok, req.rqi + "-other", nullptr});
        case Mode::drop_second:
          if (++*served > 1) {
            if (auto session = weak.lock()) session->close();
            return;  // the dropped Reply's 5000 finds the session closed
          }
          return reply(proto::ok_response(req, proto::Rsc::ok, {{"to", req.to}}));
        default:
          return reply(proto::ok_response(req, proto::Rsc::ok, {{"to", req.to}}));
      }
    });
  }

  std::atomic<Mode> mode_{Mode::answer};
  std::atomic<std::size_t> handshakes_{0};
  std::atomic<std::size_t> requests_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::weak_ptr<tls::Session>> sessions_;
  std::vector<std::pair<proto::Request, proto::Reply>> held_;
  std::unique_ptr<tls::TlsServer> server_;  // last: started after the members it uses
};

LinkOptions options() {
  LinkOptions o;
  o.certificate = cert("cse");
  o.trust = trust();
  o.pool_size = 2;
  o.timeout = 5s;
  return o;
}

std::unique_ptr<Link> make_link(LinkOptions o = options()) {
  auto l = Link::create(std::move(o));
  EXPECT_TRUE(l.has_value()) << l.error().message();
  return l ? std::move(*l) : nullptr;
}

proto::Request get(const std::string& to, proto::Operation op = proto::Operation::retrieve) {
  proto::Request r;
  r.op = op;
  r.to = to;
  r.from = "/in-cse";
  return r;
}

// free_port returns a loopback TCP port with nothing listening on it.
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  socklen_t len = sizeof sin;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  ::close(fd);
  return ntohs(sin.sin_port);
}

TEST(Link, RefusesBadOptions) {
  LinkOptions o = options();
  o.trust = nullptr;
  EXPECT_EQ(Link::create(o).error().code(), Errc::invalid_argument);
  o = options();
  o.pool_size = 0;
  EXPECT_EQ(Link::create(o).error().code(), Errc::invalid_argument);
  o = options();
  o.timeout = 0ms;
  EXPECT_EQ(Link::create(o).error().code(), Errc::invalid_argument);
}

TEST(Link, ManyCallsShareOneHandshake) {
  HttpPeer server;
  auto link = make_link();
  for (int i = 0; i < 10; ++i) {
    auto rsp = link->call(server.peer(), get("/maf/keys/" + std::to_string(i)));
    ASSERT_TRUE(rsp) << rsp.error().message();
    EXPECT_EQ(rsp->rsc, proto::Rsc::ok);
    EXPECT_EQ(rsp->content["to"], "/maf/keys/" + std::to_string(i));
  }
  EXPECT_EQ(server.handshakes(), 1u);
  EXPECT_EQ(link->stats().handshakes, 1u);
  EXPECT_EQ(link->stats().reused, 9u);
}

// "Connection" is hop-by-hop: a request that asked its own hop to close
// (a relayed one) does not end the link's pooled connection.
TEST(Link, ARequestThatAskedToCloseKeepsThePooledConnection) {
  HttpPeer server;
  auto link = make_link();
  for (int i = 0; i < 3; ++i) {
    proto::Request r = get("/maf/keys/" + std::to_string(i));
    r.close = true;
    auto rsp = link->call(server.peer(), std::move(r));
    ASSERT_TRUE(rsp) << rsp.error().message();
    EXPECT_EQ(rsp->rsc, proto::Rsc::ok);
  }
  EXPECT_EQ(server.handshakes(), 1u);
  EXPECT_EQ(link->stats().reused, 2u);
  EXPECT_EQ(link->stats().retries, 0u);
}

TEST(Link, ConcurrentCallsStayWithinThePool) {
  HttpPeer server;
  auto link = make_link();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        if (auto rsp = link->call(server.peer(), get("/maf")); rsp && rsp->rsc == proto::Rsc::ok) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 60);
  EXPECT_LE(server.handshakes(), 2u);  // pool_size
}

TEST(Link, ReconnectsAfterTheServerClosedTheConnection) {
  HttpPeer server;
  auto link = make_link();
  ASSERT_TRUE(link->call(server.peer(), get("/maf")));
  server.close_all();
  auto rsp = link->call(server.peer(), get("/maf"));
  ASSERT_TRUE(rsp) << rsp.error().message();
  EXPECT_EQ(rsp->rsc, proto::Rsc::ok);
  EXPECT_EQ(server.handshakes(), 2u);
}

// The server closes a pooled connection just as a request goes out (no
// response byte): a RETRIEVE is sent once more on a fresh connection, a
// CREATE is not (it may have been executed).
TEST(Link, RetriesAnIdempotentRequestOnceOnAFreshConnection) {
  HttpPeer server;
  server.set_mode(Mode::drop_second);
  auto link = make_link();
  ASSERT_TRUE(link->call(server.peer(), get("/maf")));
  auto rsp = link->call(server.peer(), get("/maf"));
  ASSERT_TRUE(rsp) << rsp.error().message();
  EXPECT_EQ(link->stats().retries, 1u);
  EXPECT_EQ(server.handshakes(), 2u);

  auto created = link->call(server.peer(), get("/maf", proto::Operation::create));
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code(), Errc::connection_closed);
  EXPECT_EQ(link->stats().retries, 1u);

  // A CREATE the caller marks repeatable (MAF Key Push) is retried.
  ASSERT_TRUE(link->call(server.peer(), get("/maf")));
  auto pushed = link->call(server.peer(), get("/maf", proto::Operation::create), 5000ms, /*repeatable=*/true);
  ASSERT_TRUE(pushed) << pushed.error().message();
  EXPECT_EQ(link->stats().retries, 2u);
}

TEST(Link, OneDeadlineForASilentServer) {
  HttpPeer server;
  server.set_mode(Mode::hold);
  auto link = make_link();
  auto rsp = link->call(server.peer(), get("/maf"), 300ms);
  ASSERT_FALSE(rsp);
  EXPECT_EQ(rsp.error().code(), Errc::timeout);
  EXPECT_EQ(link->stats().broken, 1u);  // a late answer must not meet the next request
}

TEST(Link, OneDeadlineForAPeerThatNeverHandshakes) {
  // A listening socket nobody accepts from: TCP connects, TLS never starts.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  socklen_t len = sizeof sin;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  auto link = make_link();
  auto rsp = link->call(Peer{"127.0.0.1", ntohs(sin.sin_port), tls::test::kMaf}, get("/maf"), 300ms);
  ::close(fd);
  ASSERT_FALSE(rsp);
  EXPECT_EQ(rsp.error().code(), Errc::timeout);
}

TEST(Link, BreaksTheConnectionOnAMismatchedRequestId) {
  HttpPeer server;
  server.set_mode(Mode::wrong_rqi);
  auto link = make_link();
  auto rsp = link->call(server.peer(), get("/maf"));
  ASSERT_FALSE(rsp);
  EXPECT_EQ(rsp.error().code(), Errc::malformed_message);
  EXPECT_EQ(link->stats().broken, 1u);
  server.set_mode(Mode::answer);
  ASSERT_TRUE(link->call(server.peer(), get("/maf")));
  EXPECT_EQ(server.handshakes(), 2u);
}

TEST(Link, BoundsCallsInFlightPerPeer) {
  HttpPeer server;
  server.set_mode(Mode::hold);
  LinkOptions o = options();
  o.max_in_flight = 1;
  auto link = make_link(o);
  auto first = std::async(std::launch::async, [&] { return link->call(server.peer(), get("/maf")); });
  ASSERT_TRUE(server.wait_held(1));
  auto second = link->call(server.peer(), get("/maf"));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Errc::connect_failed);
  EXPECT_EQ(link->stats().busy_rejects, 1u);
  server.release_held();
  auto done = first.get();
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_EQ(done->rsc, proto::Rsc::ok);
}

TEST(Link, BreakerOpensWhileThePeerIsDownAndRecovers) {
  const std::uint16_t port = free_port();
  LinkOptions o = options();
  o.breaker_failures = 2;
  o.breaker_open = 100ms;
  auto link = make_link(o);
  const Peer down{"127.0.0.1", port, tls::test::kMaf};
  for (int i = 0; i < 2; ++i) {
    auto rsp = link->call(down, get("/maf"));
    ASSERT_FALSE(rsp);
    EXPECT_EQ(rsp.error().code(), Errc::connect_failed);
  }
  EXPECT_EQ(link->stats().breaker_rejects, 0u);
  auto fast = link->call(down, get("/maf"));
  ASSERT_FALSE(fast);
  EXPECT_EQ(fast.error().code(), Errc::connect_failed);
  EXPECT_EQ(link->stats().breaker_rejects, 1u);
  EXPECT_EQ(link->stats().handshakes, 0u);

  HttpPeer server(port);  // the peer comes back on the same port
  Result<proto::Response> rsp = fail(Errc::connect_failed);
  for (int i = 0; i < 200 && !rsp; ++i) {
    std::this_thread::sleep_for(25ms);
    rsp = link->call(down, get("/maf"));
  }
  ASSERT_TRUE(rsp) << rsp.error().message();
  EXPECT_EQ(rsp->rsc, proto::Rsc::ok);
  ASSERT_TRUE(link->call(down, get("/maf")));  // closed again: no fail-fast
}

TEST(Link, RefusesAPeerWithoutTheExpectedName) {
  HttpPeer server;
  auto link = make_link();
  // The server's certificate names maf.example.com; the SNI picks no other.
  auto rsp = link->call(Peer{"127.0.0.1", server.port(), "mef.example.com"}, get("/maf"));
  ASSERT_FALSE(rsp);
  EXPECT_EQ(server.requests(), 0u);
}

}  // namespace
}  // namespace m2msec::link
