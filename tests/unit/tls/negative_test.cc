// Failures: each fails cleanly while the server keeps serving.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "tls_harness.h"

namespace m2msec::tls::test {
namespace {

bool has_error(const std::vector<Error>& errors, Errc code) {
  for (const Error& e : errors) {
    if (e.code() == code) return true;
  }
  return false;
}

TEST(TlsNegative, WrongKey) {
  Harness h(psk_server_options(Transport::tls, {{"dev1", 1}}));
  auto c = psk_client(Transport::tls, h.port(), "dev1", 9);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code(), Errc::tls_handshake_failed) << c.error().message();
  ASSERT_TRUE(h.wait_errors(1));
  EXPECT_EQ(h.errors()[0].code(), Errc::tls_handshake_failed);
  expect_serving(h, Transport::tls, 0);
}

TEST(TlsNegative, UnknownIdentity) {
  Harness h(psk_server_options(Transport::tls, {{"dev1", 1}}));
  auto c = psk_client(Transport::tls, h.port(), "nobody", 1);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code(), Errc::unknown_psk_identity) << c.error().message();
  ASSERT_TRUE(h.wait_errors(1));
  EXPECT_EQ(h.errors()[0].code(), Errc::unknown_psk_identity);
  expect_serving(h, Transport::tls, 0);
}

TEST(TlsNegative, LookupFailureIsReported) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  auto good = o.authorities[0].psk_lookup;
  o.authorities[0].psk_lookup = [good](const PskRequest& req, std::function<void(Result<SecretBytes>)> done) {
    if (req.identity == "broken") return done(fail(Errc::io_error, "database unavailable"));
    good(req, std::move(done));
  };
  Harness h(std::move(o));
  auto c = psk_client(Transport::tls, h.port(), "broken", 1);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code(), Errc::unknown_psk_identity);
  ASSERT_TRUE(h.wait_errors(1));
  EXPECT_EQ(h.errors()[0].code(), Errc::io_error);
  expect_serving(h, Transport::tls, 0);
}

TEST(TlsNegative, SuitesOutsideProfile) {
  Harness h(psk_server_options(Transport::tls, {{"dev1", 1}}));
  for (const char* suite : {"ECDHE-PSK-AES128-CBC-SHA256", "PSK-AES256-GCM-SHA384", "PSK-AES128-CBC-SHA"}) {
    ClientOptions c;
    c.port = h.port();
    c.sni = kMef;
    c.psk = ClientPsk{"dev1", key(1)};
    c.cipher_override = suite;
    auto r = TlsClient::connect(std::move(c));
    ASSERT_FALSE(r.has_value()) << suite;
    EXPECT_EQ(r.error().code(), Errc::tls_handshake_failed) << r.error().message();
  }
  ASSERT_TRUE(h.wait_errors(3));
  EXPECT_NE(h.errors()[0].message().find("no shared cipher"), std::string::npos) << h.errors()[0].message();
  expect_serving(h, Transport::tls, 0);
}

TEST(TlsNegative, GarbageBytes) {
  Harness h(psk_server_options(Transport::tls, {{"dev1", 1}}));
  const int fd = raw_tcp_connect(h.port());
  const char junk[] = "GET / HTTP/1.1\r\nHost: mef.example.com\r\n\r\n";
  ASSERT_GT(::send(fd, junk, sizeof junk - 1, 0), 0);
  char buf[64];
  ::recv(fd, buf, sizeof buf, 0);  // returns once the server closed (alert or EOF)
  raw_close(fd);
  ASSERT_TRUE(h.wait_errors(1));
  EXPECT_EQ(h.errors()[0].code(), Errc::tls_handshake_failed);
  expect_serving(h, Transport::tls, 0);
}

TEST(TlsNegative, TruncatedHandshakeThenSilence) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.handshake_timeout = 400ms;
  Harness h(std::move(o));
  const std::vector<std::uint8_t> hello = client_hello_bytes();
  ASSERT_GT(hello.size(), 20u);
  const int fd = raw_tcp_connect(h.port());
  ASSERT_GT(::send(fd, hello.data(), hello.size() / 2, 0), 0);
  expect_serving(h, Transport::tls, 0);  // while the half hello is pending
  ASSERT_TRUE(h.wait_errors(1, 3s));
  EXPECT_EQ(h.errors()[0].code(), Errc::timeout);
  raw_close(fd);
}

TEST(TlsNegative, TruncatedHandshakeThenClose) {
  Harness h(psk_server_options(Transport::tls, {{"dev1", 1}}));
  const std::vector<std::uint8_t> hello = client_hello_bytes();
  const int fd = raw_tcp_connect(h.port());
  ASSERT_GT(::send(fd, hello.data(), hello.size() / 2, 0), 0);
  std::this_thread::sleep_for(50ms);
  raw_close(fd);
  ASSERT_TRUE(h.wait_errors(1));
  const Errc code = h.errors()[0].code();
  EXPECT_TRUE(code == Errc::connection_closed || code == Errc::tls_handshake_failed) << h.errors()[0].message();
  expect_serving(h, Transport::tls, 0);
}

TEST(TlsNegative, SilentClientTimesOut) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.handshake_timeout = 300ms;
  Harness h(std::move(o));
  const int fd = raw_tcp_connect(h.port());
  ASSERT_TRUE(h.wait_errors(1, 3s));
  EXPECT_EQ(h.errors()[0].code(), Errc::timeout);
  char buf[8];
  EXPECT_EQ(::recv(fd, buf, sizeof buf, 0), 0);  // server closed it
  raw_close(fd);
  expect_serving(h, Transport::tls, 0);
}

TEST(TlsNegative, PausedLookupTimesOut) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.handshake_timeout = 300ms;
  auto good = o.authorities[0].psk_lookup;
  auto parked = std::make_shared<std::function<void(Result<SecretBytes>)>>();
  o.authorities[0].psk_lookup = [good, parked](const PskRequest& req, std::function<void(Result<SecretBytes>)> done) {
    if (req.identity == "never") {
      *parked = std::move(done);  // never answered (until after the timeout)
      return;
    }
    good(req, std::move(done));
  };
  Harness h(std::move(o));
  auto c = psk_client(Transport::tls, h.port(), "never", 1);
  ASSERT_FALSE(c.has_value());
  ASSERT_TRUE(h.wait_errors(1));
  EXPECT_EQ(h.errors()[0].code(), Errc::timeout);
  (*parked)(key(1));  // a late answer is dropped
  expect_serving(h, Transport::tls, 0);
}

// At the cap the newcomer gets in: the silent connection that made no
// progress is shed instead (slots_test.cc covers the ranking).
TEST(TlsNegative, HandshakeCapShedsSilentPeer) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.max_handshakes = 1;
  Harness h(std::move(o));
  const int fd = raw_tcp_connect(h.port());  // holds the only slot
  for (int i = 0; i < 100 && h.server().active_handshakes() < 1; ++i) std::this_thread::sleep_for(10ms);
  expect_serving(h, Transport::tls, 0);
  ASSERT_TRUE(h.wait_errors(1, 3s));
  EXPECT_TRUE(has_error(h.errors(), Errc::connection_closed));
  char buf[8];
  EXPECT_EQ(::recv(fd, buf, sizeof buf, 0), 0);  // the server closed it
  raw_close(fd);
}

TEST(TlsNegative, IdleTimeoutClosesSession) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.idle_timeout = 300ms;
  Harness h(std::move(o));
  auto c = psk_client(Transport::tls, h.port(), "dev1", 1);
  ASSERT_TRUE(c.has_value());
  // The server closes it at 300 ms; the client's own 3 s deadline would
  // fail the read with Errc::timeout instead.
  auto r = c->read(10, 3s);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Errc::connection_closed) << r.error().message();
  for (int i = 0; i < 100 && h.read_errors().empty(); ++i) std::this_thread::sleep_for(10ms);
  const auto errs = h.read_errors();
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].code(), Errc::timeout);
}

TEST(TlsNegative, ClientTimeoutAndConnectFailure) {
  // A TCP listener that never answers: the client times out.
  std::uint16_t port = 0;
  const int lfd = raw_tcp_listen(port);
  ASSERT_GE(lfd, 0);
  ClientOptions o;
  o.port = port;
  o.sni = kMef;
  o.psk = ClientPsk{"dev1", key(1)};
  o.timeout = 300ms;
  auto r = TlsClient::connect(std::move(o));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Errc::timeout);
  ::close(lfd);  // now nothing listens: connection refused
  auto refused = psk_client(Transport::tls, port, "dev1", 1);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), Errc::connect_failed);
}

}  // namespace
}  // namespace m2msec::tls::test
