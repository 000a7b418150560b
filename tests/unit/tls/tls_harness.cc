#include "tls_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

namespace m2msec::tls::test {

const std::string& pki() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/m2msec-tls-pki-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    if (d == nullptr) std::abort();
    std::string out = d;
    const std::string cmd = std::string(M2MSEC_TLS_MAKE_CERTS) + " " + out + "/pki > /dev/null";
    if (std::system(cmd.c_str()) != 0) std::abort();
    static const std::string to_remove = out;
    std::atexit([] { std::filesystem::remove_all(to_remove); });
    return out + "/pki";
  }();
  return dir;
}

std::string pki_file(const std::string& name) { return pki() + "/" + name; }

SecretBytes key(std::uint8_t seed, std::size_t size) {
  SecretBytes k(size);
  for (std::size_t i = 0; i < size; ++i) k.data()[i] = static_cast<std::uint8_t>(seed * 31 + i);
  return k;
}

std::shared_ptr<const CertificateKey> cert(const std::string& name, bool enforce_profile) {
  auto c = load_certificate_key(pki_file(name + ".pem"), pki_file(name + ".key"), enforce_profile);
  EXPECT_TRUE(c.has_value()) << (c ? "" : c.error().message());
  return c ? *c : nullptr;
}

std::shared_ptr<const TrustAnchors> trust(const std::string& name) {
  auto t = load_trust_anchors(pki_file(name + ".pem"));
  EXPECT_TRUE(t.has_value());
  return t ? *t : nullptr;
}

testing::JoinedThreads& lookup_threads() {
  static testing::JoinedThreads threads;
  return threads;
}

PskLookup table_lookup(std::map<std::string, std::uint8_t> table, std::chrono::milliseconds delay) {
  auto shared = std::make_shared<std::map<std::string, std::uint8_t>>(std::move(table));
  return [shared, delay](const PskRequest& req, std::function<void(Result<SecretBytes>)> done) {
    lookup_threads().start([shared, delay, id = req.identity, done = std::move(done)] {
      std::this_thread::sleep_for(delay);
      auto it = shared->find(id);
      if (it == shared->end()) return done(fail(Errc::unknown_psk_identity, id));
      done(key(it->second));
    });
  };
}

Harness::Harness(ServerOptions options) {
  options.on_session = [this](std::shared_ptr<Session> s) {
    auto ex = s->export_keying_material(kLabel, 48);
    {
      std::lock_guard lock(mu_);
      sessions_.push_back({s->peer(), ex ? std::move(*ex) : SecretBytes()});
    }
    cv_.notify_all();
    echo(std::move(s));
  };
  options.on_handshake_error = [this](const Error& e) {
    {
      std::lock_guard lock(mu_);
      errors_.push_back(e);
    }
    cv_.notify_all();
  };
  if (options.threads == 0) options.threads = 2;
  auto s = TlsServer::create(std::move(options));
  if (!s) {
    ADD_FAILURE() << s.error().message();
    std::abort();
  }
  server_ = std::move(*s);
  server_->start();
}

Harness::~Harness() {
  lookup_threads().join();  // their "done" callbacks hold sessions of this server
  server_->stop();
}

void Harness::echo(std::shared_ptr<Session> s) {
  s->async_read([this, s](Result<ByteVector> data) {
    if (!data) {
      {
        std::lock_guard lock(mu_);
        read_errors_.push_back(data.error());
      }
      cv_.notify_all();
      return;
    }
    s->async_write(std::move(*data), [this, s](Status st) {
      if (st) echo(s);
    });
  });
}

bool Harness::wait_sessions(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return sessions_.size() >= n; });
}

bool Harness::wait_errors(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return errors_.size() >= n; });
}

Harness::Recorded Harness::session(std::size_t i) {
  std::lock_guard lock(mu_);
  return {sessions_.at(i).peer, sessions_.at(i).exported.clone()};
}

std::vector<Error> Harness::errors() {
  std::lock_guard lock(mu_);
  return errors_;
}

std::vector<Error> Harness::read_errors() {
  std::lock_guard lock(mu_);
  return read_errors_;
}

ServerOptions psk_server_options(Transport t, std::map<std::string, std::uint8_t> table, const char* fqdn) {
  ServerOptions o;
  o.transport = t;
  ServerAuthority a;
  a.fqdn = fqdn;
  a.psk_lookup = table_lookup(std::move(table));
  o.authorities.push_back(std::move(a));
  o.handshake_timeout = 2s;
  return o;
}

Result<TlsClient> psk_client(Transport t, std::uint16_t port, const std::string& id, std::uint8_t seed,
                             const std::string& sni) {
  ClientOptions o;
  o.transport = t;
  o.port = port;
  o.sni = sni;
  o.psk = ClientPsk{id, key(seed)};
  o.timeout = 3s;
  return TlsClient::connect(std::move(o));
}

void expect_echo(TlsClient& c) {
  const ByteVector msg = {'p', 'i', 'n', 'g'};
  ASSERT_TRUE(c.write_all(msg, 2s));
  auto back = c.read(100, 2s);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(*back, msg);
}

void expect_serving(Harness& h, Transport t, std::size_t sessions_before) {
  auto c = psk_client(t, h.port(), "dev1", 1);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  ASSERT_TRUE(h.wait_sessions(sessions_before + 1));
  auto ours = c->export_keying_material(kLabel, 48);
  ASSERT_TRUE(ours.has_value());
  EXPECT_TRUE(*ours == h.session(sessions_before).exported);
  expect_echo(*c);
}

namespace {
int raw_connect(std::uint16_t port, int type) {
  const int fd = ::socket(AF_INET, type, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) ADD_FAILURE() << "raw connect";
  return fd;
}
}  // namespace

int raw_tcp_connect(std::uint16_t port) { return raw_connect(port, SOCK_STREAM); }

int raw_tcp_listen(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 || ::listen(fd, 4) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
    ADD_FAILURE() << "raw listen: " << std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return -1;
  }
  port = ntohs(sin.sin_port);
  return fd;
}
int raw_udp_connect(std::uint16_t port) { return raw_connect(port, SOCK_DGRAM); }
void raw_close(int fd) { ::close(fd); }

std::vector<std::uint8_t> client_hello_bytes() {
  UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(ctx.get(), "ECDHE-ECDSA-AES128-SHA256");
  UniquePtr<SSL> ssl(SSL_new(ctx.get()));
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), rbio, wbio);
  SSL_set_tlsext_host_name(ssl.get(), kMef);
  SSL_connect(ssl.get());
  const char* data = nullptr;
  const long n = BIO_get_mem_data(wbio, &data);
  return std::vector<std::uint8_t>(data, data + n);
}

}  // namespace m2msec::tls::test
