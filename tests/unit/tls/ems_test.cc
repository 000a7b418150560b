// RFC 7627 extended master secret: required by default on both sides.
//
// RFC 7627 5.4: a session without it "MUST NOT export any key material
// based on the new master secret for any subsequent application-level
// authentication. In particular, it MUST disable [RFC5705]", and every
// m2msec key (Ke, Kc, ...) is exporter output. The peers here are bare
// OpenSSL ends with SSL_OP_NO_EXTENDED_MASTER_SECRET, standing in for
// legacy stacks; tests/integration covers openssl s_client and gnutls-cli.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>
#include <future>
#include <thread>

#include "tls_harness.h"

namespace m2msec::tls::test {
namespace {

unsigned int raw_psk_client_cb(SSL*, const char*, char* identity, unsigned int max_identity_len, unsigned char* psk,
                               unsigned int max_psk_len) {
  const SecretBytes k = key(1);
  if (max_identity_len < 5 || max_psk_len < k.size()) return 0;
  std::memcpy(identity, "dev1", 5);
  std::memcpy(psk, k.data(), k.size());
  return static_cast<unsigned int>(k.size());
}

unsigned int raw_psk_server_cb(SSL*, const char*, unsigned char* psk, unsigned int max_psk_len) {
  const SecretBytes k = key(1);
  if (max_psk_len < k.size()) return 0;
  std::memcpy(psk, k.data(), k.size());
  return static_cast<unsigned int>(k.size());
}

void set_receive_timeout(int fd) {
  timeval tv{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

struct RawOutcome {
  bool handshake_ok = false;
  bool extms = false;
};

// raw_psk_client runs a blocking OpenSSL PSK client ("dev1", key(1))
// against |port|, with the extended master secret on or off.
RawOutcome raw_psk_client(Transport t, std::uint16_t port, bool ems) {
  const bool tls = t == Transport::tls;
  const int fd = tls ? raw_tcp_connect(port) : raw_udp_connect(port);
  set_receive_timeout(fd);
  UniquePtr<SSL_CTX> ctx(SSL_CTX_new(tls ? TLS_client_method() : DTLS_client_method()));
  const int version = tls ? TLS1_2_VERSION : DTLS1_2_VERSION;
  SSL_CTX_set_min_proto_version(ctx.get(), version);
  SSL_CTX_set_max_proto_version(ctx.get(), version);
  SSL_CTX_set_cipher_list(ctx.get(), tls ? "PSK-AES128-CBC-SHA256" : "PSK-AES128-CCM8");
  SSL_CTX_set_psk_client_callback(ctx.get(), raw_psk_client_cb);
  if (!ems) SSL_CTX_set_options(ctx.get(), SSL_OP_NO_EXTENDED_MASTER_SECRET);
  UniquePtr<SSL> ssl(SSL_new(ctx.get()));
  if (tls) {
    SSL_set_fd(ssl.get(), fd);
  } else {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len);
    BIO* bio = BIO_new_dgram(fd, BIO_NOCLOSE);
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &peer);
    SSL_set_bio(ssl.get(), bio, bio);
    SSL_set_options(ssl.get(), SSL_OP_NO_QUERY_MTU);
    DTLS_set_link_mtu(ssl.get(), 1200);
  }
  SSL_set_tlsext_host_name(ssl.get(), kMef);
  RawOutcome out;
  out.handshake_ok = SSL_connect(ssl.get()) == 1;
  out.extms = out.handshake_ok && SSL_get_extms_support(ssl.get()) == 1;
  if (out.handshake_ok) SSL_shutdown(ssl.get());
  ERR_clear_error();
  ssl.reset();
  raw_close(fd);
  return out;
}

// RawServer accepts one TLS 1.2 PSK connection with a bare OpenSSL server
// (extended master secret on or off) on another thread.
class RawServer {
 public:
  explicit RawServer(bool ems) {
    listen_fd_ = raw_tcp_listen(port_);
    done_ = std::async(std::launch::async, [this, ems] { return serve_one(ems); });
  }
  ~RawServer() { ::close(listen_fd_); }

  std::uint16_t port() const { return port_; }
  // finished returns whether the server's handshake completed.
  bool finished() { return done_.get(); }

 private:
  bool serve_one(bool ems) {
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return false;
    set_receive_timeout(fd);
    UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()));
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(ctx.get(), "PSK-AES128-CBC-SHA256");
    SSL_CTX_set_psk_server_callback(ctx.get(), raw_psk_server_cb);
    if (!ems) SSL_CTX_set_options(ctx.get(), SSL_OP_NO_EXTENDED_MASTER_SECRET);
    UniquePtr<SSL> ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd);
    const bool ok = SSL_accept(ssl.get()) == 1;
    if (ok) {
      char buf[64];
      while (SSL_read(ssl.get(), buf, sizeof buf) > 0) {
      }
    }
    ERR_clear_error();
    ssl.reset();
    ::close(fd);
    return ok;
  }

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::future<bool> done_;
};

Result<TlsClient> our_psk_client(std::uint16_t port, bool require_ems) {
  ClientOptions o;
  o.port = port;
  o.sni = kMef;
  o.psk = ClientPsk{"dev1", key(1)};
  o.require_extended_master_secret = require_ems;
  o.timeout = 3s;
  return TlsClient::connect(std::move(o));
}

std::string transport_test_name(const ::testing::TestParamInfo<Transport>& p) {
  return std::string(transport_name(p.param));
}

class TlsEms : public ::testing::TestWithParam<Transport> {};

// RFC 7627 5.2: "If the server receives a ClientHello without the
// extension, it SHOULD abort the handshake if it does not wish to
// interoperate with legacy clients."
TEST_P(TlsEms, ServerRefusesClientWithout) {
  const Transport t = GetParam();
  Harness h(psk_server_options(t, {{"dev1", 1}}));
  const RawOutcome legacy = raw_psk_client(t, h.port(), false);
  EXPECT_FALSE(legacy.handshake_ok);
  ASSERT_TRUE(h.wait_errors(1));
  EXPECT_EQ(h.errors()[0].code(), Errc::tls_handshake_failed);
  EXPECT_NE(h.errors()[0].message().find("extended master secret"), std::string::npos) << h.errors()[0].message();
  const RawOutcome modern = raw_psk_client(t, h.port(), true);
  EXPECT_TRUE(modern.handshake_ok);
  EXPECT_TRUE(modern.extms);
  expect_serving(h, t, 1);
}

TEST_P(TlsEms, ServerMayAdmitLegacyClients) {
  const Transport t = GetParam();
  ServerOptions o = psk_server_options(t, {{"dev1", 1}});
  o.require_extended_master_secret = false;
  Harness h(std::move(o));
  const RawOutcome legacy = raw_psk_client(t, h.port(), false);
  EXPECT_TRUE(legacy.handshake_ok);
  EXPECT_FALSE(legacy.extms);
  ASSERT_TRUE(h.wait_sessions(1));
  EXPECT_TRUE(h.errors().empty());
}

INSTANTIATE_TEST_SUITE_P(Transports, TlsEms, ::testing::Values(Transport::tls, Transport::dtls),
                         transport_test_name);

// RFC 7627 5.2: "If a client receives a ServerHello without the extension,
// it SHOULD abort the handshake if it does not wish to interoperate with
// legacy servers."
TEST(TlsEmsClient, RefusesServerWithout) {
  RawServer legacy(false);
  auto c = our_psk_client(legacy.port(), true);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code(), Errc::tls_handshake_failed);
  EXPECT_NE(c.error().message().find("extended master secret"), std::string::npos) << c.error().message();
  legacy.finished();
}

TEST(TlsEmsClient, MayAdmitLegacyServer) {
  RawServer legacy(false);
  auto c = our_psk_client(legacy.port(), false);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_FALSE(c->extms());
  c->close();
  EXPECT_TRUE(legacy.finished());
}

TEST(TlsEmsClient, SharedContextCarriesTheRequirement) {
  ClientOptions co;
  co.psk = ClientPsk{"dev1", key(1)};
  co.require_extended_master_secret = true;
  auto ctx = ClientContext::create(co);
  ASSERT_TRUE(ctx.has_value());
  RawServer legacy(false);
  ClientOptions o;
  o.port = legacy.port();
  o.sni = kMef;
  o.psk = ClientPsk{"dev1", key(1)};
  o.require_extended_master_secret = false;  // ignored: the context decides
  o.context = *ctx;
  o.timeout = 3s;
  auto c = TlsClient::connect(std::move(o));
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message().find("extended master secret"), std::string::npos) << c.error().message();
  legacy.finished();
}

TEST(TlsEmsClient, ModernServerAccepted) {
  RawServer modern(true);
  auto c = our_psk_client(modern.port(), true);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_TRUE(c->extms());
  c->close();
  EXPECT_TRUE(modern.finished());
}

}  // namespace
}  // namespace m2msec::tls::test
