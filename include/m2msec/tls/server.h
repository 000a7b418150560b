// m2msec/tls/server.h: the asynchronous (D)TLS server.
//
// One listening port (TCP for TLS, UDP for DTLS) serves several
// authorities, selected by the client's SNI (TS-0003 clause 10.2.1: "when
// a host that acts as a virtual server for multiple Authorities receives a
// new TLS or DTLS connection, it knows which keys to use"). Each authority
// has a certificate, a PSK lookup, or both.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/core/secret.h"
#include "m2msec/tls/credentials.h"
#include "m2msec/tls/profile.h"
#include "m2msec/tls/session.h"

namespace m2msec::tls {

// PskRequest is what the server knows when it must choose a PSK.
struct PskRequest {
  std::string identity;  // psk_identity from ClientKeyExchange
  std::string sni;       // SNI host name ("" if none)
  Transport transport = Transport::tls;  // the listener's: a GBA Ks_NAF depends on it
};

// PskLookup finds the key for a PSK identity. It may answer at once or
// later from any thread (a database, a MAF round trip), calling |done|
// exactly once: with the key, or with an error (Errc::unknown_psk_identity
// for an unknown identity; any error fails the handshake with the alert
// unknown_psk_identity). The handshake of this one connection is paused
// meanwhile; other connections proceed.
using PskLookup = std::function<void(const PskRequest&, std::function<void(Result<SecretBytes>)> done)>;

// ClientAuth says whether a server asks for a client certificate. TLS 1.2
// never asks on a PSK suite (no CertificateRequest; RFC 4279 2), so these
// modes only affect certificate suites:
//   none      no certificate asked: server-only authentication;
//   optional  asked, and verified if sent, but a client may send none (the
//             session's PeerIdentity is then Kind::none);
//   required  a certificate suite needs a verified client certificate; a
//             certificate-less client is refused in the handshake. PSK
//             clients of the same authority are unaffected.
enum class ClientAuth { none, optional, required };

// ServerAuthority is one virtual server behind the port.
struct ServerAuthority {
  std::string fqdn;                                     // SNI host name it answers to
  std::shared_ptr<const CertificateKey> certificate;    // null: no certificate suites
  PskLookup psk_lookup;                                 // empty: no PSK suites
  std::shared_ptr<const TrustAnchors> client_trust;     // for client certificates
  ClientAuth client_auth = ClientAuth::none;
};

// ServerOptions configures a TlsServer. Durations of zero are invalid.
//
// Unauthenticated peers are cheap to hold, so what they can occupy is
// bounded: at most |max_handshakes| handshakes are in progress; when a new
// one arrives at the cap, the handshake that made the least progress
// (fewest complete client messages; the oldest among equals) is shed, not
// the newcomer. A handshake in which the client delivers no complete
// message for |flight_timeout| (after the accept, or after its last
// message; a pending PSK lookup does not count) is closed, so idle and
// trickling peers free their slots long before |handshake_timeout|. At
// most |max_sessions| sessions are established; at the cap the longest
// idle one is closed to admit the next. When accept() runs out of file
// descriptors the listener pauses 100 ms instead of spinning.
struct ServerOptions {
  Transport transport = Transport::tls;
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;                         // 0: pick a free port
  std::vector<ServerAuthority> authorities;       // at least one
  std::string default_authority;                  // fqdn used without SNI (or an IP-literal SNI); "" rejects
  CipherProfile ciphers;                          // empty halves: clause 10.2 defaults
  unsigned threads = 0;                           // 0: one per core
  std::string thread_name = "m2m-tls-io";         // I/O threads' name (15 characters kept), for top -H and perf
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds flight_timeout{2000}; // wait for each client handshake message
  std::chrono::milliseconds idle_timeout{60000};
  std::size_t max_handshakes = 256;               // concurrent; at the cap the least progressed is shed
  std::size_t max_sessions = 10000;               // established; at the cap the longest idle is closed
  std::size_t mtu = kDefaultMtu;                  // DTLS link MTU
  // require_extended_master_secret refuses a client whose ClientHello
  // lacks the RFC 7627 extension, with a handshake_failure alert before any
  // key exchange or PSK lookup (on_handshake_error says why). RFC 7627 5.4:
  // a session without it "MUST NOT export any key material", and m2msec's
  // keys come from the exporter. false admits legacy clients: their
  // sessions use the plain master secret.
  bool require_extended_master_secret = true;
  // DTLS always runs the stateless cookie exchange (DTLSv1_listen); it
  // cannot be turned off. The cookie is HMAC-SHA-256 over the client's
  // address and port keyed by |dtls_cookie_secret| (at least 16 bytes), or
  // by a random secret of this server if null. Replicas behind one address
  // share the secret, so that a cookie one of them issued is accepted by
  // any other (a load balancer may send the retried ClientHello elsewhere).
  std::shared_ptr<const SecretBytes> dtls_cookie_secret;
  SessionHandler on_session;                      // required
  // on_handshake_error, if set, is told why a handshake failed (for logs
  // and tests); it runs on a server thread and must not block.
  std::function<void(const Error&)> on_handshake_error;
  // on_notice, if set, is told of server-level events (accept paused for
  // lack of file descriptors and resumed, a session shed, an exception
  // caught at the server's barrier); it runs on a server thread and must
  // not block. Details hold no peer bytes unescaped.
  std::function<void(const Error&)> on_notice;
};

// TlsServer owns its io_context threads. Not copyable or movable.
class TlsServer {
 public:
  // create validates |options|, builds the SSL contexts and binds the
  // port. Fails with Errc::invalid_argument (no authority, no handler,
  // zero timeout, zero max_handshakes or max_sessions, MTU out of
  // 256..65507), Errc::invalid_credentials, or
  // Errc::io_error (bind failed).
  static Result<std::unique_ptr<TlsServer>> create(ServerOptions options);

  virtual ~TlsServer() = default;

  // port returns the bound port (useful when options.port was 0).
  virtual std::uint16_t port() const = 0;

  // start launches the worker threads; returns at once.
  virtual void start() = 0;

  // stop closes the listener and every connection and joins the threads.
  // Idempotent; also run by the destructor.
  virtual void stop() = 0;

  // active_handshakes returns the number of handshakes in progress.
  virtual std::size_t active_handshakes() const = 0;

  // active_sessions returns the number of established sessions.
  virtual std::size_t active_sessions() const = 0;
};

// raise_open_file_limit raises this process's RLIMIT_NOFILE soft limit to
// its hard limit (each connection holds a descriptor) and returns the soft
// limit now in force. Fails with Errc::io_error if the limit cannot be
// read; a refused raise keeps the old limit and returns it. Call once at
// start, before threads are started.
Result<std::uint64_t> raise_open_file_limit();

}  // namespace m2msec::tls
