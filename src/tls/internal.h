// src/tls/internal.h: pieces shared by the server engine and the client.
// Not installed; not part of the public API.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/core/secret.h"
#include "m2msec/tls/client.h"
#include "m2msec/tls/identity.h"
#include "m2msec/tls/ossl.h"
#include "m2msec/tls/server.h"
#include "m2msec/tls/session.h"

namespace m2msec::tls::detail {

// new_nosignal_socket_bio returns a BIO over the stream socket |fd| (not
// owned) that writes with send(MSG_NOSIGNAL): a peer that closed first
// makes the write fail with EPIPE instead of raising SIGPIPE, without
// touching the calling thread's signal mask. Null if OpenSSL refuses.
BIO* new_nosignal_socket_bio(int fd);

// block_sigpipe_forever blocks SIGPIPE on the calling thread.
void block_sigpipe_forever();

// AuthorityContext is one ServerAuthority with its SSL_CTX.
struct AuthorityContext {
  ServerAuthority authority;
  UniquePtr<SSL_CTX> ctx;
  std::string ciphers;  // cipher list this authority can serve
  int verify_mode = SSL_VERIFY_NONE;
};

// ServerConfig is the immutable, shared part of a server: the initial
// SSL_CTX (used until SNI picks an authority) and one context per
// authority.
struct ServerConfig {
  Transport transport = Transport::tls;
  UniquePtr<SSL_CTX> base;
  std::vector<std::unique_ptr<AuthorityContext>> authorities;
  const AuthorityContext* default_authority = nullptr;
  std::size_t mtu = kDefaultMtu;
  bool require_ems = true;  // ServerOptions::require_extended_master_secret
  // uniform_ciphers: every authority serves the same cipher list, which the
  // base context already carries, so SNI need not set it per connection
  // (SSL_set_cipher_list parses the string and rebuilds the cipher stacks).
  bool uniform_ciphers = false;
  // cookie_secret keys the DTLS cookies (ServerOptions::dtls_cookie_secret,
  // or random); every context of this config borrows it.
  SecretBytes cookie_secret;

  // find returns the authority serving |sni| (case-insensitive), or null.
  const AuthorityContext* find(std::string_view sni) const;
};

// PskPhase tracks the server's asynchronous PSK lookup for one handshake.
enum class PskPhase { idle, pending, done };

// HandshakeState is attached to every SSL object (ex_data) for the
// callbacks. Owned by the connection; the SSL holds a borrowed pointer.
struct HandshakeState {
  // Server side.
  const ServerConfig* server = nullptr;
  const AuthorityContext* authority = nullptr;  // chosen by SNI
  PskPhase psk_phase = PskPhase::idle;
  bool psk_lookup_started = false;
  Result<SecretBytes> psk_result;
  // messages_in counts the complete handshake (and ChangeCipherSpec)
  // messages received from the client: the connection's progress.
  std::uint32_t messages_in = 0;
  // Client side.
  const ClientPsk* client_psk = nullptr;
  // Both.
  std::string psk_identity;
  std::string sni;
  std::optional<ExpectedName> expected_name;
  std::optional<Error> failure;  // why a callback refused, if it did
};

// attach_state stores |state| (borrowed) on |ssl|; state_of reads it back.
void attach_state(SSL* ssl, HandshakeState* state);
HandshakeState* state_of(const SSL* ssl);

// build_server_config creates the SSL_CTXs for |options|. Fails with
// Errc::invalid_argument (no authority, bad cipher string, unknown
// default authority) or Errc::invalid_credentials.
Result<std::shared_ptr<const ServerConfig>> build_server_config(const ServerOptions& options);

// use_connection_certificate makes |cert| the certificate, chain and key
// |ssl| presents, in place of its context's. Fails with
// Errc::invalid_credentials.
Status use_connection_certificate(SSL* ssl, const CertificateKey& cert);

// build_client_context creates the SSL_CTX for |options|; the returned
// context reads PSK credentials from HandshakeState::client_psk. Fails with
// Errc::invalid_argument or Errc::invalid_credentials.
Result<UniquePtr<SSL_CTX>> build_client_context(const ClientOptions& options);

// prepare_server_ssl applies per-connection settings to a new server SSL:
// attaches |state|, async mode (for the PSK pause), DTLS MTU.
void prepare_server_ssl(SSL* ssl, HandshakeState* state, const ServerConfig& config);

// handshake_error turns a failed handshake into an Error: the callback's
// recorded failure if any, else a classification of OpenSSL's error queue
// (alert unknown_psk_identity, certificate alerts/verification, peer
// closed). Drains the error queue.
Error handshake_error(SSL* ssl, int ssl_error);

// export_keying_material runs RFC 5705 export (no context) on |ssl|.
// Fails with Errc::invalid_argument (empty label, length 0 or > 1024, or
// OpenSSL refused, e.g. before the handshake finished).
Result<SecretBytes> export_keying_material(SSL* ssl, std::string_view label, std::size_t length);

// peer_identity describes the authenticated peer of a finished handshake.
PeerIdentity peer_identity(SSL* ssl);

// check_client_certificate enforces ClientAuth::required after a finished
// server handshake: unless a PSK suite was negotiated, the client must have
// presented a certificate that verified. OpenSSL already refuses such a
// handshake (SSL_VERIFY_FAIL_IF_NO_PEER_CERT); this is the second lock.
// Fails with Errc::certificate_rejected.
Status check_client_certificate(SSL* ssl);

// check_extended_master_secret is the check after a finished handshake,
// on both sides: if |required|, the session must use the RFC 7627
// extended master secret before anything is exported from it. Servers
// already refuse a ClientHello without the extension; this is the second
// lock there, and the only one on the client. Fails with
// Errc::tls_handshake_failed naming the peer's side (|peer| = "client" or
// "server").
Status check_extended_master_secret(SSL* ssl, bool required, std::string_view peer);

// escape_for_log returns |text| cut to 200 bytes with every byte outside
// printable ASCII written as \xNN, for log lines that may carry peer bytes.
std::string escape_for_log(std::string_view text);

// install_cookie_callbacks sets the DTLS cookie generate/verify callbacks
// on |ctx|: HMAC-SHA-256 over the peer address and port, keyed by the
// secret set_cookie_secret gives the context (no secret: no cookie, and
// every cookie is refused).
void install_cookie_callbacks(SSL_CTX* ctx);

// set_cookie_secret lends |secret| (kept alive by the caller as long as
// |ctx|) to the cookie callbacks of |ctx|.
void set_cookie_secret(SSL_CTX* ctx, const SecretBytes* secret);

// read_pem_private_key decodes the PEM private key in |bio|. |key_type|,
// if not null, is the type of the key expected (the certificate's public
// key type: "EC", "RSA", ...): OpenSSL 3.0 then sets up the decoders of
// that type only, about 100 us where PEM_read_bio_PrivateKey, which sets
// up every decoder, takes about 370. A key of another type is still read
// (the BIO is rewound and every decoder tried). Null if none is found.
UniquePtr<EVP_PKEY> read_pem_private_key(BIO* bio, const char* key_type);

// key_type_of returns the type name of |cert|'s public key ("EC", ...),
// or null.
const char* key_type_of(const X509* cert);

// same_endpoint says whether two IPv4/IPv6 socket addresses name the
// same address and port.
bool same_endpoint(const sockaddr_storage& a, const sockaddr_storage& b);

// DatagramHead is what a peek shows of the next datagram of a UDP socket:
// its whole size and its sender.
struct DatagramHead {
  std::size_t size = 0;
  sockaddr_storage from{};
};

// peek_datagram looks at the next datagram of the UDP socket |fd| without
// taking it; nothing if none is queued.
std::optional<DatagramHead> peek_datagram(int fd);

// starts_client_hello says whether |datagram| begins with an epoch-0 DTLS
// handshake record whose message is a ClientHello (RFC 6347 4.1, 4.2.2).
bool starts_client_hello(const std::uint8_t* datagram, std::size_t size);

// keep_receive_timeout, set with BIO_set_callback_ex on a datagram BIO of
// a non-blocking socket, keeps DTLS from handing the BIO its retransmission
// deadline (BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT; skips_receive_timeout says
// whether a BIO operation is that one). Told it, OpenSSL's datagram BIO
// sets SO_RCVTIMEO before and after every read while the timer runs (the
// handshake; a getsockopt and two setsockopt calls) so that a blocking
// read would wake for it; here nothing blocks in a read, and the caller's
// poll or timer already keeps that deadline (DTLSv1_get_timeout,
// DTLSv1_handle_timeout).
bool skips_receive_timeout(int oper, int cmd);
long keep_receive_timeout(BIO* bio, int oper, const char* argp, std::size_t len, int cmd, long argl, int ret,
                          std::size_t* processed);

// starts_first_client_hello says whether |datagram| begins with a whole
// epoch-0 ClientHello without a cookie: a client's first, which a server
// answers with a HelloVerifyRequest and no state (RFC 6347 4.2.1).
bool starts_first_client_hello(const std::uint8_t* datagram, std::size_t size);

// take_datagram reads the next datagram of |fd|, whose size a peek gave.
std::optional<ByteVector> take_datagram(int fd, std::size_t size);

// new_one_datagram_bio returns a BIO for DTLSv1_listen that reads
// |datagram| once (then asks to retry, as a drained socket does), names
// |from| as its peer, and sends what is written to |from| from the UDP
// socket |fd| (not owned). Null if OpenSSL refuses or |from| is not
// IPv4/IPv6.
BIO* new_one_datagram_bio(int fd, ByteVector datagram, const sockaddr_storage& from);

// peer_socket_bound_hook, if set, runs on the DTLS listener's thread with
// a verified client's new socket between its bind() and its connect(): the
// moment in which the kernel may queue other clients' datagrams on it (see
// accept_dtls in server.cc). For tests; null otherwise.
extern std::atomic<void (*)(int fd)> peer_socket_bound_hook;

}  // namespace m2msec::tls::detail
