// SSL_CTX construction and the OpenSSL callbacks (SNI, PSK, verify).
#include <arpa/inet.h>
#include <openssl/async.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "internal.h"

namespace m2msec::tls::detail {
namespace {

int state_index() {
  static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return idx;
}

bool iequal(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    const auto lo = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    return lo(x) == lo(y);
  });
}

// verify_callback applies clause 10.1.1 and the expected-name check to the
// leaf after OpenSSL's RFC 5280 path validation (clause 8.1.2.2: "the
// entity shall perform basic certification path validation").
int verify_callback(int preverify_ok, X509_STORE_CTX* store) {
  SSL* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  HandshakeState* st = ssl ? state_of(ssl) : nullptr;
  if (preverify_ok != 1) {
    if (st && !st->failure) {
      st->failure = Error(Errc::certificate_rejected,
                          X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)));
    }
    return 0;
  }
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  X509* leaf = X509_STORE_CTX_get_current_cert(store);
  if (Status profile = check_certificate_profile(leaf); !profile) {
    if (st) st->failure = profile.error();
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  if (st && st->expected_name) {
    if (Status name = check_peer_name(leaf, *st->expected_name); !name) {
      st->failure = name.error();
      X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
      return 0;
    }
  }
  return 1;
}

bool is_ip_literal(const char* name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

// servername_callback picks the authority. TS-0003 clause 10.2.1: "All
// implementations shall support the Server Name Indication (SNI) to
// indicate their authority".
int servername_callback(SSL* ssl, int* alert, void*) {
  HandshakeState* st = state_of(ssl);
  if (st == nullptr || st->server == nullptr) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  // RFC 6066 3 forbids an IP literal in SNI, yet common clients (libcoap's
  // among them) send the address they connect to: such a name says nothing
  // of the authority, so it counts as no SNI.
  if (name != nullptr && is_ip_literal(name)) name = nullptr;
  st->sni = name ? name : "";
  const AuthorityContext* auth = name ? st->server->find(name) : st->server->default_authority;
  if (auth == nullptr) {
    st->failure = Error(Errc::tls_handshake_failed, name ? "no authority for SNI " + st->sni : "client sent no SNI");
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  st->authority = auth;
  if (SSL_set_SSL_CTX(ssl, auth->ctx.get()) == nullptr ||
      (!st->server->uniform_ciphers && SSL_set_cipher_list(ssl, auth->ciphers.c_str()) != 1)) {
    st->failure = Error(Errc::tls_handshake_failed, "cannot switch to authority " + auth->authority.fqdn);
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  SSL_set_verify(ssl, auth->verify_mode, verify_callback);
  return SSL_TLSEXT_ERR_OK;
}

// client_hello_callback refuses a client that does not offer the extended
// master secret when the server requires it, before any key exchange and
// before the PSK lookup. RFC 7627 5.2: "If the server receives a
// ClientHello without the extension, it SHOULD abort the handshake if it
// does not wish to interoperate with legacy clients", where "abort the
// handshake" means "sending a fatal handshake_failure alert".
int client_hello_callback(SSL* ssl, int* alert, void*) {
  HandshakeState* st = state_of(ssl);
  if (st == nullptr || st->server == nullptr) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  if (!st->server->require_ems) return SSL_CLIENT_HELLO_SUCCESS;
  const unsigned char* ext = nullptr;
  std::size_t ext_len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_extended_master_secret, &ext, &ext_len) == 1) {
    return SSL_CLIENT_HELLO_SUCCESS;
  }
  st->failure = Error(Errc::tls_handshake_failed,
                      "client did not offer the extended master secret (RFC 7627), which is required "
                      "(require_extended_master_secret)");
  *alert = SSL_AD_HANDSHAKE_FAILURE;
  return SSL_CLIENT_HELLO_ERROR;
}

// count_client_messages is the server's message callback: it counts each
// complete handshake or ChangeCipherSpec message the client delivered.
// A peer that trickles bytes makes no progress until a message completes.
void count_client_messages(int write_p, int, int content_type, const void*, size_t, SSL* ssl, void*) {
  if (write_p != 0) return;
  if (content_type != SSL3_RT_HANDSHAKE && content_type != SSL3_RT_CHANGE_CIPHER_SPEC) return;
  if (HandshakeState* st = state_of(ssl)) ++st->messages_in;
}

// psk_server_callback returns the key for |identity|. TLS 1.2 delivers the
// identity in ClientKeyExchange and OpenSSL wants the key synchronously, so
// the first call marks the lookup pending and pauses the handshake's async
// job (SSL_do_handshake returns SSL_ERROR_WANT_ASYNC). The connection then
// runs the application's lookup on its own stack and, when the answer is
// in, calls SSL_do_handshake again, which resumes here.
unsigned int psk_server_callback(SSL* ssl, const char* identity, unsigned char* psk, unsigned int max_psk_len) {
  HandshakeState* st = state_of(ssl);
  if (st == nullptr || st->authority == nullptr || !st->authority->authority.psk_lookup) {
    if (st) st->failure = Error(Errc::unknown_psk_identity, "authority has no PSK lookup");
    return 0;
  }
  if (st->psk_phase == PskPhase::idle) {
    st->psk_identity = identity ? identity : "";
    st->psk_phase = PskPhase::pending;
  }
  while (st->psk_phase == PskPhase::pending) {
    if (ASYNC_get_current_job() == nullptr) {
      st->failure = Error(Errc::tls_handshake_failed, "PSK lookup needs an async handshake job");
      return 0;
    }
    if (ASYNC_pause_job() != 1) {
      st->failure = Error(Errc::tls_handshake_failed, "cannot pause the handshake job");
      return 0;
    }
  }
  Result<SecretBytes> key = std::move(st->psk_result);
  st->psk_result = SecretBytes();
  if (!key) {
    st->failure = key.error();
    return 0;
  }
  if (key->empty() || key->size() > max_psk_len) {
    st->failure = Error(Errc::invalid_length, "PSK length out of range");
    return 0;
  }
  std::memcpy(psk, key->data(), key->size());
  return static_cast<unsigned int>(key->size());
}

unsigned int psk_client_callback(SSL* ssl, const char*, char* identity, unsigned int max_identity_len,
                                 unsigned char* psk, unsigned int max_psk_len) {
  HandshakeState* st = state_of(ssl);
  if (st == nullptr || st->client_psk == nullptr) return 0;
  const ClientPsk& cred = *st->client_psk;
  if (cred.identity.size() + 1 > max_identity_len || cred.key.empty() || cred.key.size() > max_psk_len) {
    st->failure = Error(Errc::invalid_length, "PSK identity or key too long");
    return 0;
  }
  std::memcpy(identity, cred.identity.c_str(), cred.identity.size() + 1);
  std::memcpy(psk, cred.key.data(), cred.key.size());
  st->psk_identity = cred.identity;
  return static_cast<unsigned int>(cred.key.size());
}

// new_context creates a context with the clause 10.2.1 protocol version:
// "Where TCP payloads are to be secured, TLS v1.2 [5] shall be used. Where
// UDP payloads are to be secured, DTLS v1.2 [6] shall be used". Extended
// master secret stays on (OpenSSL's default; SSL_OP_NO_EXTENDED_MASTER_SECRET
// is never set); OpenSSL has no switch that requires it, so servers check the
// ClientHello (client_hello_callback) and both sides check the finished
// handshake (check_extended_master_secret). No session resumption: every
// connection authenticates.
Result<UniquePtr<SSL_CTX>> new_context(Transport t, bool server) {
  const SSL_METHOD* method = nullptr;
  int version = 0;
  switch (t) {
    case Transport::tls:
      method = server ? TLS_server_method() : TLS_client_method();
      version = TLS1_2_VERSION;
      break;
    case Transport::dtls:
      method = server ? DTLS_server_method() : DTLS_client_method();
      version = DTLS1_2_VERSION;
      break;
    default:
      return fail(Errc::invalid_argument, "unknown transport");
  }
  UniquePtr<SSL_CTX> ctx(SSL_CTX_new(method));
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), version) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), version) != 1) {
    return fail(Errc::invalid_argument, "cannot create SSL_CTX: " + ossl_error_string());
  }
  SSL_CTX_clear_options(ctx.get(), SSL_OP_NO_EXTENDED_MASTER_SECRET);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  // Read what the socket holds in one call rather than a record header and
  // then its body: half the read(2) calls. Both sides try SSL_read before
  // they wait on the socket, so bytes buffered inside the SSL are never
  // waited for. (DTLS reads whole datagrams anyway.)
  if (t == Transport::tls) SSL_CTX_set_read_ahead(ctx.get(), 1);
  // Clause 10.1.1.1: secp256r1 keys and SHA-256.
  if (SSL_CTX_set1_groups_list(ctx.get(), "P-256") != 1 ||
      SSL_CTX_set1_sigalgs_list(ctx.get(), "ECDSA+SHA256") != 1) {
    return fail(Errc::invalid_argument, "cannot set groups/sigalgs: " + ossl_error_string());
  }
  if (server) {
    SSL_CTX_set_client_hello_cb(ctx.get(), client_hello_callback, nullptr);
    SSL_CTX_set_tlsext_servername_callback(ctx.get(), servername_callback);
    SSL_CTX_set_psk_server_callback(ctx.get(), psk_server_callback);
    SSL_CTX_set_msg_callback(ctx.get(), count_client_messages);
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_ASYNC);
    if (t == Transport::dtls) install_cookie_callbacks(ctx.get());
  } else {
    SSL_CTX_set_psk_client_callback(ctx.get(), psk_client_callback);
  }
  return ctx;
}

Status use_certificate(SSL_CTX* ctx, const CertificateKey& cert) {
  if (SSL_CTX_use_certificate(ctx, cert.leaf.get()) != 1 || SSL_CTX_use_PrivateKey(ctx, cert.key.get()) != 1) {
    return fail(Errc::invalid_credentials, "cannot use certificate: " + ossl_error_string());
  }
  for (int i = 0; cert.chain && i < sk_X509_num(cert.chain.get()); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(cert.chain.get(), i)) != 1) {
      return fail(Errc::invalid_credentials, "cannot add chain certificate: " + ossl_error_string());
    }
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return fail(Errc::invalid_credentials, "key does not match certificate: " + ossl_error_string());
  }
  return {};
}

// kChainFlags: build the chain a certificate is sent with from the
// store, without the self-signed root, keeping what was found when the
// path does not verify (the peer judges it).
constexpr int kChainFlags =
    SSL_BUILD_CHAIN_FLAG_NO_ROOT | SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR | SSL_BUILD_CHAIN_FLAG_CLEAR_ERROR;

bool has_chain(const CertificateKey& cert) { return cert.chain && sk_X509_num(cert.chain.get()) > 0; }

// chain_built turns SSL(_CTX)_build_cert_chain's result into a Status.
Status chain_built(int rc) {
  if (rc > 0) return {};
  return fail(Errc::invalid_credentials, "cannot send this certificate's chain: " + ossl_error_string());
}

// settle_chain fixes, once, the chain |ctx| sends with its certificate:
// the certificate file's intermediates as given or, when the file has
// none, the intermediates the context's store holds for it, never the
// root (RFC 5246 7.4.2: the peer must already hold it). Otherwise OpenSSL
// would build the chain from the store at every handshake (a path
// validation, with a signature check when the issuer is there) and send
// the root too, which the peer then decodes for nothing (a certificate
// decode costs more than a P-256 signature check in OpenSSL 3.0). It
// fails when the chain found holds a certificate below OpenSSL's security
// level (a CA key that is too small): every handshake would fail on it,
// so the context is refused when it is built, saying why.
Status settle_chain(SSL_CTX* ctx, const CertificateKey& cert) {
  return has_chain(cert) ? Status{} : chain_built(SSL_CTX_build_cert_chain(ctx, kChainFlags));
}

// settle_chain, for a certificate given to one connection on a shared
// context: the intermediates that context's store holds, not the root.
Status settle_chain(SSL* ssl, const CertificateKey& cert) {
  return has_chain(cert) ? Status{} : chain_built(SSL_build_cert_chain(ssl, kChainFlags));
}

void use_trust(SSL_CTX* ctx, const TrustAnchors& trust) {
  X509_STORE_up_ref(trust.store.get());
  SSL_CTX_set_cert_store(ctx, trust.store.get());  // takes the reference
}

// check_cipher_list rejects cipher strings OpenSSL does not know.
Status check_cipher_list(SSL_CTX* ctx, const std::string& list) {
  if (list.empty() || SSL_CTX_set_cipher_list(ctx, list.c_str()) != 1) {
    ossl_error_string();
    return fail(Errc::invalid_argument, "no usable cipher suite in \"" + list + "\"");
  }
  return {};
}

}  // namespace

void attach_state(SSL* ssl, HandshakeState* state) { SSL_set_ex_data(ssl, state_index(), state); }

HandshakeState* state_of(const SSL* ssl) { return static_cast<HandshakeState*>(SSL_get_ex_data(ssl, state_index())); }

const AuthorityContext* ServerConfig::find(std::string_view sni) const {
  for (const auto& a : authorities) {
    if (iequal(a->authority.fqdn, sni)) return a.get();
  }
  return nullptr;
}

Result<std::shared_ptr<const ServerConfig>> build_server_config(const ServerOptions& options) {
  if (options.authorities.empty()) return fail(Errc::invalid_argument, "no authority configured");
  auto config = std::make_shared<ServerConfig>();
  config->transport = options.transport;
  config->mtu = options.mtu;
  config->require_ems = options.require_extended_master_secret;
  if (options.dtls_cookie_secret) {
    if (options.dtls_cookie_secret->size() < 16) {
      return fail(Errc::invalid_length, "dtls_cookie_secret: at least 16 bytes (32 hex digits in a file)");
    }
    config->cookie_secret = options.dtls_cookie_secret->clone();
  } else {
    config->cookie_secret = SecretBytes(32);
    if (RAND_bytes(config->cookie_secret.data(), 32) != 1) return fail(Errc::invalid_credentials, "RAND_bytes failed");
  }
  auto base = new_context(options.transport, true);
  if (!base) return std::unexpected(base.error());
  config->base = std::move(*base);
  set_cookie_secret(config->base.get(), &config->cookie_secret);
  const std::string all = cipher_list(options.ciphers, options.transport, true, true);
  if (Status s = check_cipher_list(config->base.get(), all); !s) return std::unexpected(s.error());

  for (const ServerAuthority& a : options.authorities) {
    auto ctx = new_context(options.transport, true);
    if (!ctx) return std::unexpected(ctx.error());
    auto entry = std::make_unique<AuthorityContext>();
    entry->authority = a;
    entry->ctx = std::move(*ctx);
    set_cookie_secret(entry->ctx.get(), &config->cookie_secret);
    if (a.certificate) {
      if (Status s = use_certificate(entry->ctx.get(), *a.certificate); !s) return std::unexpected(s.error());
    }
    if (a.client_auth != ClientAuth::none) {
      if (!a.client_trust) return fail(Errc::invalid_argument, "client_auth needs client_trust for " + a.fqdn);
      use_trust(entry->ctx.get(), *a.client_trust);
      entry->verify_mode = SSL_VERIFY_PEER;
      if (a.client_auth == ClientAuth::required) entry->verify_mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    if (a.certificate) {  // with the store set
      if (Status s = settle_chain(entry->ctx.get(), *a.certificate); !s) {
        return fail(s.error().code(), "authority " + a.fqdn + ": " + s.error().detail());
      }
    }
    entry->ciphers = cipher_list(options.ciphers, options.transport, bool(a.psk_lookup), bool(a.certificate));
    if (entry->ciphers.empty()) return fail(Errc::invalid_argument, "authority " + a.fqdn + " has no credentials");
    if (Status s = check_cipher_list(entry->ctx.get(), entry->ciphers); !s) return std::unexpected(s.error());
    config->authorities.push_back(std::move(entry));
  }
  // One list for all: the base context carries it from the first message.
  const std::string& first = config->authorities.front()->ciphers;
  config->uniform_ciphers = std::all_of(config->authorities.begin(), config->authorities.end(),
                                        [&](const auto& e) { return e->ciphers == first; });
  if (config->uniform_ciphers) {
    if (Status s = check_cipher_list(config->base.get(), first); !s) return std::unexpected(s.error());
  }
  if (!options.default_authority.empty()) {
    config->default_authority = config->find(options.default_authority);
    if (config->default_authority == nullptr) return fail(Errc::invalid_argument, "unknown default_authority");
  }
  return std::shared_ptr<const ServerConfig>(std::move(config));
}

Status use_connection_certificate(SSL* ssl, const CertificateKey& cert) {
  if (SSL_use_certificate(ssl, cert.leaf.get()) != 1 || SSL_use_PrivateKey(ssl, cert.key.get()) != 1) {
    return fail(Errc::invalid_credentials, "cannot use certificate: " + ossl_error_string());
  }
  // The chain replaces the context's (a context's chain is for its own
  // certificate).
  if (SSL_clear_chain_certs(ssl) != 1) return fail(Errc::invalid_credentials, "chain: " + ossl_error_string());
  for (int i = 0; cert.chain && i < sk_X509_num(cert.chain.get()); ++i) {
    if (SSL_add1_chain_cert(ssl, sk_X509_value(cert.chain.get(), i)) != 1) {
      return fail(Errc::invalid_credentials, "cannot add chain certificate: " + ossl_error_string());
    }
  }
  if (SSL_check_private_key(ssl) != 1) {
    return fail(Errc::invalid_credentials, "key does not match certificate: " + ossl_error_string());
  }
  return settle_chain(ssl, cert);
}

Result<UniquePtr<SSL_CTX>> build_client_context(const ClientOptions& options) {
  auto ctx = new_context(options.transport, false);
  if (!ctx) return std::unexpected(ctx.error());
  const bool cert = options.trust != nullptr;
  if (!options.psk && !cert) return fail(Errc::invalid_argument, "client has neither PSK nor trust anchors");
  const std::string list = options.cipher_override.empty()
                               ? cipher_list(options.ciphers, options.transport, options.psk.has_value(), cert)
                               : options.cipher_override;
  if (Status s = check_cipher_list(ctx->get(), list); !s) return std::unexpected(s.error());
  if (cert) {
    use_trust(ctx->get(), *options.trust);
    SSL_CTX_set_verify(ctx->get(), SSL_VERIFY_PEER, verify_callback);
  }
  if (options.certificate) {
    if (Status s = use_certificate(ctx->get(), *options.certificate); !s) return std::unexpected(s.error());
    if (Status s = settle_chain(ctx->get(), *options.certificate); !s) return std::unexpected(s.error());
  }
  return std::move(*ctx);
}

void prepare_server_ssl(SSL* ssl, HandshakeState* state, const ServerConfig& config) {
  state->server = &config;
  attach_state(ssl, state);
  SSL_set_mode(ssl, SSL_MODE_ASYNC);
  if (config.transport == Transport::dtls) {
    SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
    DTLS_set_link_mtu(ssl, static_cast<long>(config.mtu));
  }
}

Error handshake_error(SSL* ssl, int ssl_error) {
  HandshakeState* st = ssl ? state_of(ssl) : nullptr;
  const unsigned long last = ERR_peek_last_error();
  std::string detail = ossl_error_string();
  if (st && st->failure) return *st->failure;
  if (ERR_GET_LIB(last) == ERR_LIB_SSL) {
    switch (ERR_GET_REASON(last)) {
      case SSL_R_TLSV1_ALERT_UNKNOWN_PSK_IDENTITY:
      case SSL_R_PSK_IDENTITY_NOT_FOUND:
        return Error(Errc::unknown_psk_identity, detail);
      case SSL_R_CERTIFICATE_VERIFY_FAILED:
      case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
      case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
      case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
      case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        return Error(Errc::certificate_rejected, detail);
      case SSL_R_UNEXPECTED_EOF_WHILE_READING:
        return Error(Errc::connection_closed, "peer closed the connection during the handshake");
      default:
        break;
    }
  }
  if (detail.empty() && (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN)) {
    return Error(Errc::connection_closed, "peer closed the connection during the handshake");
  }
  return Error(Errc::tls_handshake_failed, detail);
}

// TS-0003 clause 10.3.1: keys are generated "by applying TLS Key Export
// (IETF RFC 5705 [18]) using the label ... and length 48" (no context).
Result<SecretBytes> export_keying_material(SSL* ssl, std::string_view label, std::size_t length) {
  if (label.empty() || length == 0 || length > 1024) return fail(Errc::invalid_argument, "export label or length");
  SecretBytes out(length);
  if (ssl == nullptr || SSL_export_keying_material(ssl, out.data(), length, label.data(), label.size(), nullptr, 0,
                                                   0) != 1) {
    ossl_error_string();
    return fail(Errc::invalid_argument, "key export refused (no finished handshake)");
  }
  return out;
}

Status check_client_certificate(SSL* ssl) {
  const HandshakeState* st = state_of(ssl);
  if (st == nullptr || st->authority == nullptr || st->authority->authority.client_auth != ClientAuth::required) {
    return {};
  }
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  if (cipher != nullptr && SSL_CIPHER_get_auth_nid(cipher) == NID_auth_psk) return {};
  if (SSL_get0_peer_certificate(ssl) == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) {
    return fail(Errc::certificate_rejected, "a certificate suite needs a verified client certificate");
  }
  return {};
}

Status check_extended_master_secret(SSL* ssl, bool required, std::string_view peer) {
  if (!required || SSL_get_extms_support(ssl) == 1) return {};
  return fail(Errc::tls_handshake_failed, "the " + std::string(peer) +
                                              " did not use the extended master secret (RFC 7627), which is "
                                              "required (require_extended_master_secret)");
}

std::string escape_for_log(std::string_view text) {
  constexpr std::size_t kMax = 200;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  if (text.size() > kMax) out += "...";
  return out;
}

PeerIdentity peer_identity(SSL* ssl) {
  PeerIdentity out;
  const HandshakeState* st = state_of(ssl);
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  out.cipher = cipher ? SSL_CIPHER_get_name(cipher) : "";
  if (st) out.sni = st->sni;
  const bool psk = cipher && (SSL_CIPHER_get_auth_nid(cipher) == NID_auth_psk);
  if (X509* cert = SSL_get0_peer_certificate(ssl)) {
    out.kind = PeerIdentity::Kind::certificate;
    certificate_names(cert, out.san_uris, out.dns_names);
    // The last certificate of the verified chain is the trust anchor
    // (chains must end at a certificate of the store: no partial chains).
    // It is known by its fingerprint, and the listener's anchor sets say
    // what it vouches for; its CN is only for logs.
    STACK_OF(X509)* chain = SSL_get0_verified_chain(ssl);
    if (chain != nullptr && sk_X509_num(chain) > 0 && SSL_get_verify_result(ssl) == X509_V_OK) {
      X509* anchor = sk_X509_value(chain, sk_X509_num(chain) - 1);
      out.trust_anchor = certificate_fingerprint(anchor);
      char cn[256] = {0};
      if (X509_NAME_get_text_by_NID(X509_get_subject_name(anchor), NID_commonName, cn, sizeof cn) > 0) {
        out.trust_anchor_cn = cn;
      }
      if (st && st->authority && st->authority->authority.client_trust) {
        out.anchor_role = st->authority->authority.client_trust->role_of(out.trust_anchor);
      }
    }
  } else if (psk) {
    out.kind = PeerIdentity::Kind::psk;
  } else {
    out.kind = PeerIdentity::Kind::none;
  }
  if (psk && st) out.psk_identity = st->psk_identity;
  return out;
}

}  // namespace m2msec::tls::detail
