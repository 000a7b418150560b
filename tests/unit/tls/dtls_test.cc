// DTLS 1.2 over UDP: cookies, per-peer sockets, retransmission, MTU.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <future>
#include <thread>
#include <vector>

#include <openssl/bio.h>

#include "internal.h"
#include "tls_harness.h"

namespace m2msec::tls::test {
namespace {

// bound_udp_socket returns a blocking UDP socket bound to a loopback port,
// its address in |sin|; -1 on failure.
int bound_udp_socket(sockaddr_in& sin) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sin = {};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

TEST(Dtls, PskHandshakeExportAndEcho) {
  Harness h(psk_server_options(Transport::dtls, {{"dev1", 1}}));
  expect_serving(h, Transport::dtls, 0);
  const auto rec = h.session(0);
  EXPECT_EQ(rec.peer.cipher, "PSK-AES128-CCM8");
  EXPECT_EQ(rec.peer.psk_identity, "dev1");
}

TEST(Dtls, ConcurrentPeersAreDemultiplexed) {
  Harness h(psk_server_options(Transport::dtls, {{"dev1", 1}, {"dev2", 2}, {"dev3", 3}}));
  std::vector<std::future<bool>> peers;
  for (std::uint8_t i = 1; i <= 3; ++i) {
    peers.push_back(std::async(std::launch::async, [&h, i] {
      auto c = psk_client(Transport::dtls, h.port(), "dev" + std::to_string(i), i);
      if (!c) return false;
      for (int k = 0; k < 5; ++k) {
        const ByteVector msg(100, static_cast<std::uint8_t>(i * 10 + k));
        if (!c->write_all(msg, 2s)) return false;
        auto back = c->read(2000, 2s);
        if (!back || *back != msg) return false;
      }
      return true;
    }));
  }
  for (auto& p : peers) EXPECT_TRUE(p.get());
  EXPECT_TRUE(h.wait_sessions(3));
}

TEST(Dtls, CertificateWithSmallMtuFragments) {
  ServerOptions o = psk_server_options(Transport::dtls, {{"dev1", 1}});
  o.authorities[0].certificate = cert("mef");
  o.mtu = 300;
  Harness h(std::move(o));
  ClientOptions c;
  c.transport = Transport::dtls;
  c.port = h.port();
  c.sni = kMef;
  c.trust = trust();
  c.mtu = 300;
  auto r = TlsClient::connect(std::move(c));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->peer().cipher, "ECDHE-ECDSA-AES128-CCM8");
  ASSERT_TRUE(h.wait_sessions(1));
  EXPECT_TRUE(*r->export_keying_material(kLabel, 48) == h.session(0).exported);
}

TEST(Dtls, WrongKeyUnknownIdentityGarbage) {
  Harness h(psk_server_options(Transport::dtls, {{"dev1", 1}}));
  auto wrong = psk_client(Transport::dtls, h.port(), "dev1", 5);
  ASSERT_FALSE(wrong.has_value());
  auto unknown = psk_client(Transport::dtls, h.port(), "nobody", 1);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code(), Errc::unknown_psk_identity) << unknown.error().message();
  const int fd = raw_udp_connect(h.port());
  const char junk[] = "\x16\xfe\xfd garbage that is not a ClientHello";
  ASSERT_GT(::send(fd, junk, sizeof junk, 0), 0);
  raw_close(fd);
  ASSERT_TRUE(h.wait_errors(2));
  expect_serving(h, Transport::dtls, 0);
}

// Over DTLS the server drops the wrong-key client's Finished without an
// alert, so the handshake ends by the flight timeout; the reason names the
// identity whose key was found, so that an operator can tell a key mismatch
// from a silent client.
TEST(Dtls, WrongKeyTimeoutSaysTheKeyWasFound) {
  ServerOptions o = psk_server_options(Transport::dtls, {{"dev1", 1}});
  o.flight_timeout = 300ms;
  Harness h(std::move(o));
  EXPECT_FALSE(psk_client(Transport::dtls, h.port(), "dev1", 5).has_value());
  ASSERT_TRUE(h.wait_errors(1));
  bool named = false;
  for (const Error& e : h.errors()) {
    named = named || (e.code() == Errc::timeout &&
                      e.message().find("after the PSK of identity 'dev1' was found") != std::string::npos);
  }
  EXPECT_TRUE(named) << h.errors().front().message();
}

TEST(Dtls, SuitesOutsideProfile) {
  Harness h(psk_server_options(Transport::dtls, {{"dev1", 1}}));
  ClientOptions c;
  c.transport = Transport::dtls;
  c.port = h.port();
  c.sni = kMef;
  c.psk = ClientPsk{"dev1", key(1)};
  c.cipher_override = "PSK-AES128-GCM-SHA256";
  c.timeout = 2s;
  auto r = TlsClient::connect(std::move(c));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Errc::tls_handshake_failed) << r.error().message();
  expect_serving(h, Transport::dtls, 0);
}

TEST(Dtls, ClientTimesOutAgainstSilentPeer) {
  sockaddr_in sin{};
  const int fd = bound_udp_socket(sin);
  ASSERT_GE(fd, 0);
  ClientOptions c;
  c.transport = Transport::dtls;
  c.port = ntohs(sin.sin_port);
  c.sni = kMef;
  c.psk = ClientPsk{"dev1", key(1)};
  c.timeout = 1500ms;  // spans a retransmission (initial timer 1 s)
  auto r = TlsClient::connect(std::move(c));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Errc::timeout);
  char buf[2048];
  int hellos = 0;
  while (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) ++hellos;
  EXPECT_GE(hellos, 2);  // the ClientHello was retransmitted
  ::close(fd);
}

// keep_receive_timeout keeps DTLS's retransmission deadline
// (BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT) from a datagram BIO and lets the BIO's
// other controls through. Told the deadline, OpenSSL's datagram BIO sets
// SO_RCVTIMEO to the time left for the length of each read (a getsockopt
// and two setsockopt calls); seen from another thread while a read waits,
// the socket's receive timeout must stay unset. (That the client still
// retransmits on its own timer: ClientTimesOutAgainstSilentPeer.)
TEST(Dtls, TheDatagramBioIsNotToldTheRetransmissionDeadline) {
  sockaddr_in sin{};
  const int fd = bound_udp_socket(sin);  // blocking: the read waits
  ASSERT_GE(fd, 0);
  BIO* bio = BIO_new_dgram(fd, BIO_NOCLOSE);
  ASSERT_NE(bio, nullptr);
  BIO_set_callback_ex(bio, &detail::keep_receive_timeout);
  EXPECT_EQ(BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_MTU, 1200, nullptr), 1200);  // others go through
  EXPECT_EQ(BIO_ctrl(bio, BIO_CTRL_DGRAM_GET_MTU, 0, nullptr), 1200);
  timeval deadline{};
  ::gettimeofday(&deadline, nullptr);
  deadline.tv_sec += 30;
  EXPECT_EQ(BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT, 0, &deadline), 0);  // refused
  auto read = std::async(std::launch::async, [bio] {
    char buf[64];
    return BIO_read(bio, buf, sizeof buf);
  });
  auto receive_timeout = [fd] {
    timeval tv{};
    socklen_t n = sizeof tv;
    ::getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &n);
    return tv.tv_sec * 1000000L + tv.tv_usec;
  };
  // Told the deadline, the BIO would set about 30 s as soon as the read
  // starts; look for a while, then let the read end.
  long seen = 0;
  for (int i = 0; i < 200 && seen == 0; ++i) {
    seen = receive_timeout();
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(seen, 0) << "SO_RCVTIMEO was set to " << seen << " us during the read";
  const int out = ::socket(AF_INET, SOCK_DGRAM, 0);
  ::sendto(out, "x", 1, 0, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  EXPECT_EQ(read.get(), 1);
  ::close(out);
  BIO_free(bio);
  ::close(fd);
}

}  // namespace
}  // namespace m2msec::tls::test
