// m2msec/tls/client.h: a blocking (D)TLS client for devices and tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "m2msec/core/error.h"
#include "m2msec/core/secret.h"
#include "m2msec/tls/credentials.h"
#include "m2msec/tls/identity.h"
#include "m2msec/tls/profile.h"
#include "m2msec/tls/session.h"

namespace m2msec::tls {

// ClientPsk is the client's PSK credential.
struct ClientPsk {
  std::string identity;
  SecretBytes key;
};

class ClientContext;

// ClientOptions configures connect(). Exactly the credentials given are
// offered: PSK suites if |psk| is set, certificate suites if |trust| is
// set (server authentication; |certificate| adds client authentication).
struct ClientOptions {
  Transport transport = Transport::tls;
  std::string host = "127.0.0.1";   // IPv4/IPv6 literal or name
  std::uint16_t port = 0;
  std::string sni;                  // SNI host name; required (clause 10.2.1)
  std::optional<ClientPsk> psk;
  std::shared_ptr<const TrustAnchors> trust;
  std::shared_ptr<const CertificateKey> certificate;
  // expected_name is what the server certificate must carry; if unset, the
  // SNI as an FQDN.
  std::optional<ExpectedName> expected_name;
  CipherProfile ciphers;            // empty halves: clause 10.2 defaults
  std::string cipher_override;      // if set, the exact OpenSSL cipher string (tests)
  std::chrono::milliseconds timeout{10000};  // connect + handshake
  std::size_t mtu = kDefaultMtu;
  // require_extended_master_secret fails connect() with
  // Errc::tls_handshake_failed when the server did not agree to the
  // RFC 7627 extended master secret (RFC 7627 5.4: such a session "MUST NOT
  // export any key material"). false admits legacy servers.
  bool require_extended_master_secret = true;
  // context, if set, is a context built once by ClientContext::create and
  // shared by many connections: transport, trust, ciphers,
  // cipher_override and require_extended_master_secret are then taken from
  // it (the fields here are ignored),
  // and no SSL_CTX is built per connection. |psk| is still read from here,
  // and so is |certificate|: if set, it is this connection's own, in place
  // of the context's (one context with the trust anchors serves many
  // entities, each with its certificate); if not, the context's is used.
  std::shared_ptr<const ClientContext> context;
};

// ClientContext is a client SSL_CTX built once from the credential half of
// ClientOptions (transport, psk suites, trust, certificate, ciphers, the
// extended master secret requirement) and
// shared, read-only, by any number of connections on any threads. Building
// a context costs about as much as a PSK handshake; servers that call other
// servers build one per role at start.
class ClientContext {
 public:
  // create builds the context. The |psk| key itself is not kept: only
  // whether PSK suites are offered. Fails like TlsClient::connect does
  // before it opens a socket (Errc::invalid_argument,
  // Errc::invalid_credentials).
  static Result<std::shared_ptr<const ClientContext>> create(const ClientOptions& options);

  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  Transport transport() const;
  // verifies_certificates is true if the context checks the server's
  // certificate (it was built with trust anchors).
  bool verifies_certificates() const;

 private:
  friend class TlsClient;
  struct Impl;
  explicit ClientContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// TlsClient is one established client connection. Move-only.
class TlsClient {
 public:
  // connect opens the socket, performs the handshake and checks the peer.
  // Fails with Errc::connect_failed, Errc::timeout,
  // Errc::tls_handshake_failed, Errc::unknown_psk_identity,
  // Errc::certificate_rejected, Errc::peer_name_mismatch,
  // Errc::invalid_argument (no SNI, no credentials) or
  // Errc::invalid_credentials.
  static Result<TlsClient> connect(ClientOptions options);

  TlsClient(TlsClient&&) noexcept;
  TlsClient& operator=(TlsClient&&) noexcept;
  ~TlsClient();

  // peer returns the server's identity (certificate names or, for PSK,
  // the identity this client used).
  const PeerIdentity& peer() const;

  // extms reports whether the session used the extended master secret.
  bool extms() const;

  // export_keying_material: RFC 5705, no context. See Session.
  Result<SecretBytes> export_keying_material(std::string_view label, std::size_t length) const;

  // write_all sends |data| (DTLS: one datagram). Errors:
  // Errc::connection_closed, Errc::timeout.
  Status write_all(std::span<const std::uint8_t> data, std::chrono::milliseconds timeout);

  // read waits up to |timeout| for application data and returns 1 to
  // |max| bytes. Errors: Errc::timeout, Errc::connection_closed.
  Result<ByteVector> read(std::size_t max, std::chrono::milliseconds timeout);

  // reusable reports whether an idle connection can carry another request:
  // it is open, nothing is buffered, and nothing has arrived since the last
  // read (on an idle connection, readable means the peer sent close_notify,
  // closed, or sent something unasked). Never blocks.
  bool reusable() const;

  // close sends close_notify and closes the socket. Idempotent.
  void close();

 private:
  struct Impl;
  explicit TlsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace m2msec::tls
