// The blocking client: poll(2) on a non-blocking socket.
#include "m2msec/tls/client.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "internal.h"

namespace m2msec::tls {

using Clock = std::chrono::steady_clock;

struct ClientContext::Impl {
  UniquePtr<SSL_CTX> ctx;
  Transport transport = Transport::tls;
  bool verifies = false;
  bool require_ems = true;
};

ClientContext::ClientContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClientContext::~ClientContext() = default;

Result<std::shared_ptr<const ClientContext>> ClientContext::create(const ClientOptions& options) {
  auto ctx = detail::build_client_context(options);
  if (!ctx) return std::unexpected(ctx.error());
  auto impl = std::make_unique<Impl>();
  impl->ctx = std::move(*ctx);
  impl->transport = options.transport;
  impl->verifies = options.trust != nullptr;
  impl->require_ems = options.require_extended_master_secret;
  return std::shared_ptr<const ClientContext>(new ClientContext(std::move(impl)));
}

Transport ClientContext::transport() const { return impl_->transport; }
bool ClientContext::verifies_certificates() const { return impl_->verifies; }

struct TlsClient::Impl {
  ClientOptions options;
  UniquePtr<SSL_CTX> ctx;                        // built for this connection, or null
  std::shared_ptr<const ClientContext> shared;   // options.context, kept alive
  UniquePtr<SSL> ssl;
  detail::HandshakeState state;
  PeerIdentity peer;
  int fd = -1;
  bool closed = false;

  ~Impl() { shutdown(); }

  void shutdown() {
    if (ssl && !closed) {
      SSL_shutdown(ssl.get());  // best effort close_notify; do not wait
      ERR_clear_error();
    }
    closed = true;
    ssl.reset();
    if (fd >= 0) ::close(fd);
    fd = -1;
  }

  // wait polls for |events| until |deadline|, running DTLS retransmission
  // timers meanwhile. Fails with Errc::timeout.
  Status wait(short events, Clock::time_point deadline) {
    while (true) {
      const auto now = Clock::now();
      if (now >= deadline) return fail(Errc::timeout, "no response from peer");
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
      bool dtls_timer = false;
      timeval tv{};
      if (options.transport == Transport::dtls && DTLSv1_get_timeout(ssl.get(), &tv) == 1) {
        const auto t = std::chrono::milliseconds(tv.tv_sec * 1000 + tv.tv_usec / 1000);
        if (t < left) {
          left = t;
          dtls_timer = true;
        }
      }
      pollfd p{fd, events, 0};
      const int n = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
      if (n > 0) return {};
      if (n < 0 && errno != EINTR) return fail(Errc::connection_closed, std::strerror(errno));
      if (n == 0 && dtls_timer && DTLSv1_handle_timeout(ssl.get()) < 0) {
        return fail(Errc::timeout, "DTLS retransmission limit reached");
      }
    }
  }
};

namespace {

// open_socket resolves and connects |o.host|:|o.port|, non-blocking.
Result<int> open_socket(const ClientOptions& o, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_socktype = o.transport == Transport::tls ? SOCK_STREAM : SOCK_DGRAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(o.port);
  if (const int rc = ::getaddrinfo(o.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return fail(Errc::connect_failed, o.host + ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(res, ::freeaddrinfo);
  const int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(Errc::connect_failed, std::strerror(errno));
  if (::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      const int err = errno;
      ::close(fd);
      return fail(Errc::connect_failed, std::strerror(err));
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{fd, POLLOUT, 0};
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0))) != 1 ||
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
      ::close(fd);
      if (soerr != 0) return fail(Errc::connect_failed, std::strerror(soerr));
      return fail(Errc::timeout, "TCP connect");
    }
  }
  return fd;
}

}  // namespace

TlsClient::TlsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsClient::TlsClient(TlsClient&&) noexcept = default;
TlsClient& TlsClient::operator=(TlsClient&&) noexcept = default;
TlsClient::~TlsClient() = default;

Result<TlsClient> TlsClient::connect(ClientOptions options) {
  if (options.sni.empty()) return fail(Errc::invalid_argument, "SNI is required (clause 10.2.1)");
  if (options.timeout.count() <= 0) return fail(Errc::invalid_argument, "timeout must be positive");
  if (options.mtu < 256 || options.mtu > 65507) return fail(Errc::invalid_argument, "MTU out of 256..65507");
  const auto deadline = Clock::now() + options.timeout;
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  ClientOptions& o = impl->options;

  SSL_CTX* ctx = nullptr;
  bool verifies = false;
  bool require_ems = o.require_extended_master_secret;
  if (o.context) {
    // The shared context decides the transport and the credentials.
    impl->shared = std::move(o.context);
    o.transport = impl->shared->transport();
    ctx = impl->shared->impl_->ctx.get();
    verifies = impl->shared->verifies_certificates();
    require_ems = impl->shared->impl_->require_ems;
  } else {
    auto built = detail::build_client_context(o);
    if (!built) return std::unexpected(built.error());
    impl->ctx = std::move(*built);
    ctx = impl->ctx.get();
    verifies = o.trust != nullptr;
  }
  impl->ssl.reset(SSL_new(ctx));
  if (!impl->ssl) return fail(Errc::tls_handshake_failed, "SSL_new: " + ossl_error_string());
  SSL* ssl = impl->ssl.get();
  if (impl->shared && o.certificate) {
    if (Status s = detail::use_connection_certificate(ssl, *o.certificate); !s) return std::unexpected(s.error());
  }
  auto fd = open_socket(o, deadline);
  if (!fd) return std::unexpected(fd.error());
  impl->fd = *fd;

  if (o.transport == Transport::tls) {
    BIO* bio = detail::new_nosignal_socket_bio(impl->fd);
    if (bio == nullptr) return fail(Errc::tls_handshake_failed, "socket BIO: " + ossl_error_string());
    SSL_set_bio(ssl, bio, bio);  // the SSL owns the BIO; the descriptor stays ours
  } else {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    ::getpeername(impl->fd, reinterpret_cast<sockaddr*>(&peer), &len);
    BIO* bio = BIO_new_dgram(impl->fd, BIO_NOCLOSE);
    if (bio == nullptr) return fail(Errc::tls_handshake_failed, "BIO_new_dgram");
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &peer);
    BIO_set_callback_ex(bio, &detail::keep_receive_timeout);  // the poll in wait() keeps it
    SSL_set_bio(ssl, bio, bio);  // the SSL owns the BIO
    SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
    DTLS_set_link_mtu(ssl, static_cast<long>(o.mtu));
  }
  impl->state.client_psk = o.psk ? &*o.psk : nullptr;
  impl->state.sni = o.sni;
  if (verifies) impl->state.expected_name = o.expected_name.value_or(ExpectedName{ExpectedName::Kind::fqdn, o.sni});
  detail::attach_state(ssl, &impl->state);
  // Clause 10.2.1: indicate the authority "in the SNI HostName field".
  if (SSL_set_tlsext_host_name(ssl, o.sni.c_str()) != 1) {
    return fail(Errc::invalid_argument, "bad SNI: " + ossl_error_string());
  }

  while (true) {
    const int rc = SSL_connect(ssl);
    if (rc == 1) break;
    const int err = SSL_get_error(ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (Status w = impl->wait(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline); !w) {
        ERR_clear_error();
        return std::unexpected(w.error());
      }
      continue;
    }
    Error e = detail::handshake_error(ssl, err);
    impl->closed = true;  // no close_notify after a failed handshake
    return std::unexpected(std::move(e));
  }
  // RFC 7627 5.2: "If a client receives a ServerHello without the
  // extension, it SHOULD abort the handshake if it does not wish to
  // interoperate with legacy servers." Nothing is exported or sent first.
  if (Status s = detail::check_extended_master_secret(ssl, require_ems, "server"); !s) {
    impl->shutdown();
    return std::unexpected(s.error());
  }
  impl->peer = detail::peer_identity(ssl);
  impl->peer.transport = o.transport;
  return TlsClient(std::move(impl));
}

const PeerIdentity& TlsClient::peer() const { return impl_->peer; }

bool TlsClient::extms() const { return impl_->ssl && SSL_get_extms_support(impl_->ssl.get()) == 1; }

Result<SecretBytes> TlsClient::export_keying_material(std::string_view label, std::size_t length) const {
  if (!impl_->ssl) return fail(Errc::connection_closed);
  return detail::export_keying_material(impl_->ssl.get(), label, length);
}

Status TlsClient::write_all(std::span<const std::uint8_t> data, std::chrono::milliseconds timeout) {
  if (!impl_->ssl) return fail(Errc::connection_closed);
  const auto deadline = Clock::now() + timeout;
  std::size_t done = 0;
  while (done < data.size()) {
    std::size_t n = 0;
    const int rc = SSL_write_ex(impl_->ssl.get(), data.data() + done, data.size() - done, &n);
    if (rc == 1) {
      done += n;
      continue;
    }
    const int err = SSL_get_error(impl_->ssl.get(), rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (Status w = impl_->wait(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline); !w) return w;
      continue;
    }
    impl_->closed = true;
    return fail(Errc::connection_closed, ossl_error_string());
  }
  return {};
}

Result<ByteVector> TlsClient::read(std::size_t max, std::chrono::milliseconds timeout) {
  if (!impl_->ssl) return fail(Errc::connection_closed);
  if (max == 0) return fail(Errc::invalid_argument, "read of 0 bytes");
  const auto deadline = Clock::now() + timeout;
  // One call returns at most one record's plaintext (2^14 bytes): read
  // into the stack and return what came, rather than allocate and zero
  // |max| bytes per call. The stack copy is wiped (it may hold a key).
  std::array<std::uint8_t, 16384> chunk;
  const std::size_t want = std::min(max, chunk.size());
  while (true) {
    std::size_t n = 0;
    const int rc = SSL_read_ex(impl_->ssl.get(), chunk.data(), want, &n);
    if (rc == 1) {
      ByteVector out(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
      OPENSSL_cleanse(chunk.data(), n);
      return out;
    }
    const int err = SSL_get_error(impl_->ssl.get(), rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (Status w = impl_->wait(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline); !w) {
        return std::unexpected(w.error());
      }
      continue;
    }
    if (err != SSL_ERROR_ZERO_RETURN) impl_->closed = true;
    const std::string detail = ossl_error_string();
    return fail(Errc::connection_closed, err == SSL_ERROR_ZERO_RETURN ? "close_notify" : detail);
  }
}

bool TlsClient::reusable() const {
  if (!impl_ || !impl_->ssl || impl_->closed || impl_->fd < 0) return false;
  if (SSL_has_pending(impl_->ssl.get()) == 1) return false;  // read ahead, or a record not yet returned
  pollfd p{impl_->fd, POLLIN, 0};
  const int n = ::poll(&p, 1, 0);
  return n == 0;  // readable, hung up or failed: not reusable
}

void TlsClient::close() {
  if (impl_) impl_->shutdown();
}

}  // namespace m2msec::tls
