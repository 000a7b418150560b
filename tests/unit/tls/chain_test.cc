// The chain each side sends with its certificate: the certificate file's
// intermediates, or those the context's store holds for it, and never the
// self-signed root (RFC 5246 7.4.2: the peer must hold it already). What
// was sent is read by a plain OpenSSL peer (SSL_get_peer_cert_chain), not
// by our code.
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <future>

#include "tls_harness.h"

namespace m2msec::tls::test {
namespace {

// common_names lists the CN of each certificate of |chain|, in order.
std::vector<std::string> common_names(STACK_OF(X509) * chain) {
  std::vector<std::string> out;
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(sk_X509_value(chain, i)), NID_commonName, cn, sizeof cn);
    out.emplace_back(cn);
  }
  return out;
}

// bounded makes a blocking read on |fd| give up after 10 s, so that a
// peer that never answers fails the test instead of hanging it.
void bounded(int fd) {
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

// plain_context: a plain OpenSSL TLS 1.2 context with the certificate
// suites that verifies its peer against <pki>/ca.pem (a server refuses a
// client that fails; a client goes on and records the result).
UniquePtr<SSL_CTX> plain_context(bool server) {
  UniquePtr<SSL_CTX> ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(ctx.get(), "ECDHE-ECDSA-AES128-SHA256");
  SSL_CTX_load_verify_locations(ctx.get(), pki_file("ca.pem").c_str(), nullptr);
  SSL_CTX_set_verify(ctx.get(), server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_NONE, nullptr);
  return ctx;
}

// Sent is what a server sent with its certificate, leaf first, by CN, and
// whether the client could validate it against <pki>/ca.pem.
struct Sent {
  std::vector<std::string> chain;  // empty if the handshake failed
  bool verified = false;
};

// sent_by_server handshakes with |port| as a plain OpenSSL client (no
// certificate of its own) and returns what the server sent.
Sent sent_by_server(std::uint16_t port) {
  auto ctx = plain_context(false);
  const int fd = raw_tcp_connect(port);
  bounded(fd);
  UniquePtr<SSL> ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd);
  SSL_set_tlsext_host_name(ssl.get(), kMef);
  Sent out;
  if (SSL_connect(ssl.get()) == 1) {
    out.chain = common_names(SSL_get_peer_cert_chain(ssl.get()));  // on a client: the leaf too
    out.verified = SSL_get_verify_result(ssl.get()) == X509_V_OK;
    SSL_shutdown(ssl.get());
  }
  ERR_clear_error();
  ssl.reset();
  raw_close(fd);
  return out;
}

// PlainServer accepts one TLS connection as a plain OpenSSL server (the
// test PKI's mef certificate, a client certificate required) and records
// what the client sent with its certificate.
class PlainServer {
 public:
  PlainServer() : ctx_(plain_context(true)) {
    SSL_CTX_use_certificate_file(ctx_.get(), pki_file("mef.pem").c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(ctx_.get(), pki_file("mef.key").c_str(), SSL_FILETYPE_PEM);
    lfd_ = raw_tcp_listen(port_);
    threads_.start([this] { result_.set_value(accept_one()); });
  }
  ~PlainServer() {
    ::shutdown(lfd_, SHUT_RDWR);  // ends an accept that nobody answered
    threads_.join();
    ::close(lfd_);
  }
  std::uint16_t port() const { return port_; }

  // chain waits for the connection and returns the certificates the
  // client sent after its own, by CN (on a server, SSL_get_peer_cert_chain
  // leaves the peer's certificate out); nullopt if there was no verified
  // client certificate.
  std::optional<std::vector<std::string>> chain() {
    auto f = result_.get_future();
    if (f.wait_for(10s) != std::future_status::ready) return std::nullopt;
    return f.get();
  }

 private:
  std::optional<std::vector<std::string>> accept_one() {
    const int fd = ::accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return std::nullopt;
    bounded(fd);
    UniquePtr<SSL> ssl(SSL_new(ctx_.get()));
    SSL_set_fd(ssl.get(), fd);
    std::optional<std::vector<std::string>> out;
    if (SSL_accept(ssl.get()) == 1 && SSL_get_verify_result(ssl.get()) == X509_V_OK) {
      out = common_names(SSL_get_peer_cert_chain(ssl.get()));
      SSL_shutdown(ssl.get());
    }
    ERR_clear_error();
    ssl.reset();
    ::close(fd);
    return out;
  }

  UniquePtr<SSL_CTX> ctx_;
  int lfd_ = -1;
  std::uint16_t port_ = 0;
  std::promise<std::optional<std::vector<std::string>>> result_;
  testing::JoinedThreads threads_;
};

// connect_presenting connects to |port| as m2msec's client presenting the
// test PKI's |certificate|, trusting |store|: on a context of its own or,
// if |per_connection|, on a shared context with the certificate given per
// connection.
Result<TlsClient> connect_presenting(std::uint16_t port, const std::string& certificate,
                                     const std::string& store, bool per_connection) {
  ClientOptions o;
  o.port = port;
  o.sni = kMef;
  o.certificate = cert(certificate);
  o.timeout = 5s;
  if (per_connection) {
    ClientOptions shared;
    shared.trust = trust(store);
    auto context = ClientContext::create(shared);
    if (!context) return std::unexpected(context.error());
    o.context = *context;
  } else {
    o.trust = trust(store);
  }
  return TlsClient::connect(std::move(o));
}

// mef_authority: the MEF's set-up, its certificate issued by a CA that
// is also in the store it checks its clients against.
ServerOptions mef_authority(const std::string& certificate, const std::string& client_trust) {
  ServerOptions o;
  ServerAuthority a;
  a.fqdn = kMef;
  a.certificate = cert(certificate);
  a.client_auth = ClientAuth::optional;
  a.client_trust = trust(client_trust);
  o.authorities.push_back(std::move(a));
  return o;
}

TEST(TlsChain, TheServerDoesNotSendTheRoot) {
  Harness h(mef_authority("mef", "ca"));
  const Sent sent = sent_by_server(h.port());
  EXPECT_EQ(sent.chain, std::vector<std::string>{"mef"});
  EXPECT_TRUE(sent.verified);
}

// A certificate file holding the leaf alone, whose intermediate is in the
// server's store: the intermediate is sent (the client trusts the root
// only), the root is not.
TEST(TlsChain, TheServerSendsTheIntermediateItsStoreHolds) {
  Harness h(mef_authority("mefint", "ca-inter"));
  const Sent sent = sent_by_server(h.port());
  EXPECT_EQ(sent.chain, (std::vector<std::string>{"mefint", "inter test CA"}));
  EXPECT_TRUE(sent.verified);
}

// Without the intermediate anywhere, only the leaf goes, and the client
// cannot validate it.
TEST(TlsChain, AnIntermediateNobodyHoldsIsNotInvented) {
  Harness h(mef_authority("mefint", "ca"));
  const Sent sent = sent_by_server(h.port());
  EXPECT_EQ(sent.chain, std::vector<std::string>{"mefint"});
  EXPECT_FALSE(sent.verified);
}

// A client whose certificate comes from the CA it trusts servers with
// sends its certificate alone, on a context of its own and on a shared
// context with the certificate given per connection.
TEST(TlsChain, TheClientDoesNotSendTheRoot) {
  for (const bool per_connection : {false, true}) {
    PlainServer server;
    auto c = connect_presenting(server.port(), "ae", "ca", per_connection);
    ASSERT_TRUE(c.has_value()) << c.error().message();
    auto sent = server.chain();
    ASSERT_TRUE(sent.has_value()) << "per_connection " << per_connection;
    EXPECT_TRUE(sent->empty()) << "per_connection " << per_connection << ": sent " << sent->size();
  }
}

// A chain whose intermediate is below OpenSSL's security level (an
// RSA-512 CA key, too small at every level but 0) would fail every
// handshake: the server is refused when it is built, and says why.
TEST(TlsChain, AServerWhoseChainIsBelowTheSecurityLevelIsRefusedAtStart) {
  ServerOptions o = mef_authority("mefweak", "ca-weakint");
  o.on_session = [](std::shared_ptr<Session>) {};
  auto s = TlsServer::create(std::move(o));
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), Errc::invalid_credentials);
  EXPECT_NE(s.error().message().find("authority mef.example.com: cannot send this certificate's chain"),
            std::string::npos)
      << s.error().message();
  EXPECT_NE(s.error().message().find("too small"), std::string::npos) << s.error().message();
}

// The same chain on the client side: refused before anything is sent, on
// a context of its own and on a shared one with the certificate given per
// connection (the plain server sees no client certificate).
TEST(TlsChain, AClientWhoseChainIsBelowTheSecurityLevelIsRefusedBeforeItSends) {
  for (const bool per_connection : {false, true}) {
    PlainServer server;
    auto c = connect_presenting(server.port(), "mefweak", "ca-weakint", per_connection);
    ASSERT_FALSE(c.has_value()) << "per_connection " << per_connection;
    EXPECT_EQ(c.error().code(), Errc::invalid_credentials) << c.error().message();
    EXPECT_NE(c.error().message().find("cannot send this certificate's chain"), std::string::npos)
        << "per_connection " << per_connection << ": " << c.error().message();
  }
}

}  // namespace
}  // namespace m2msec::tls::test
