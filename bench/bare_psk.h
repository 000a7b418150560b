// bare_psk.h: what the PSK benches share: the enrolees bench_enrol and
// bench_coap import (one Kpm each), the bare OpenSSL PSK contexts (one
// fixed key, TS-0003 10.2 suite, no tickets, no session cache), the
// 48-byte export and the optional one-request exchange.
#pragma once

#include <openssl/ssl.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bare_dtls.h"
#include "m2msec/core/secret.h"

namespace m2msec::bench {

inline constexpr const char* kMef = "mef.example.com";
inline constexpr const char* kMaf = "maf.example.com";
inline constexpr const char* kBootstrapLabel = "EXPORTER-oneM2M-Bootstrap";

// Identifiers are built by appending only: GCC 12 at -O3 reports a false
// -Wrestrict for "literal" + std::string (prepending).
inline std::string enrolee_id(int i) {
  std::string s = "/d-";
  s += std::to_string(i);
  return s;
}
inline std::string kpm_id(int i) {
  std::string s = "d-";
  s += std::to_string(i);
  s += '@';
  s += kMef;
  return s;
}
inline m2msec::SecretBytes device_key(int i) {
  return m2msec::SecretBytes(std::vector<std::uint8_t>(32, static_cast<std::uint8_t>(i)));
}

inline unsigned int bare_server_psk(SSL*, const char*, unsigned char* psk, unsigned int max) {
  if (max < 32) return 0;
  std::memset(psk, 0x5a, 32);
  return 32;
}

// The client sends the identity its context carries (bare_psk_ctx), so
// that a bench can give it the length of the identities it compares with.
inline unsigned int bare_client_psk(SSL* ssl, const char*, char* id, unsigned int max_id, unsigned char* psk,
                                    unsigned int max) {
  const char* identity = static_cast<const char*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (max < 32 || identity == nullptr || std::strlen(identity) >= max_id) return 0;
  std::snprintf(id, max_id, "%s", identity);
  std::memset(psk, 0x5a, 32);
  return 32;
}

// bare_psk_ctx: a TLS 1.2 or (|dtls|) DTLS 1.2 PSK context for |suite|; a
// DTLS server also gets the cookie callbacks; a client presents
// |identity| (a string that outlives the context).
inline SSL_CTX* bare_psk_ctx(bool server, bool dtls, const char* suite, const char* identity = "dev@mef.example.com") {
  const SSL_METHOD* method = dtls ? (server ? DTLS_server_method() : DTLS_client_method())
                                  : (server ? TLS_server_method() : TLS_client_method());
  SSL_CTX* ctx = SSL_CTX_new(method);
  const int v = dtls ? DTLS1_2_VERSION : TLS1_2_VERSION;
  SSL_CTX_set_min_proto_version(ctx, v);
  SSL_CTX_set_max_proto_version(ctx, v);
  SSL_CTX_set_cipher_list(ctx, suite);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (server) {
    SSL_CTX_set_psk_server_callback(ctx, bare_server_psk);
    if (dtls) {
      SSL_CTX_set_cookie_generate_cb(ctx, bare_cookie_gen);
      SSL_CTX_set_cookie_verify_cb(ctx, bare_cookie_verify);
    }
  } else {
    SSL_CTX_set_app_data(ctx, const_cast<char*>(identity));
    SSL_CTX_set_psk_client_callback(ctx, bare_client_psk);
  }
  return ctx;
}

// bare_export exports 48 bytes under |label|, as both ends of an m2msec
// connection do.
inline bool bare_export(SSL* ssl, const char* label = kBootstrapLabel) {
  unsigned char out[48];
  return SSL_export_keying_material(ssl, out, sizeof out, label, std::strlen(label), nullptr, 0, 0) == 1;
}

// The bare loops' optional exchange: one request up and its answer down
// per connection, about the size of an enrolment or key registration
// request and answer over HTTP (headers, JSON body). It measures the
// round trip the protocol adds to a handshake, without HTTP, JSON or a
// database.
inline constexpr int kBareRequestBytes = 400;
inline constexpr int kBareResponseBytes = 600;

// bare_read_exactly reads |n| application bytes from |ssl|.
inline bool bare_read_exactly(SSL* ssl, int n) {
  char buf[4096];
  for (int got = 0; got < n;) {
    const int want = n - got < static_cast<int>(sizeof buf) ? n - got : static_cast<int>(sizeof buf);
    const int r = SSL_read(ssl, buf, want);
    if (r <= 0) return false;
    got += r;
  }
  return true;
}

// bare_exchange runs one side of the exchange: the client writes the
// request and reads the answer, the server the other way round.
// |between| runs on the server between the two (a durable write:
// bare_durable.h) and fails the exchange if it fails; by default nothing.
struct NothingBetween {
  bool operator()() const { return true; }
};
template <typename Between = NothingBetween>
inline bool bare_exchange(SSL* ssl, bool server, Between between = {}) {
  const std::string out(server ? kBareResponseBytes : kBareRequestBytes, server ? 'a' : 'q');
  if (server) {
    return bare_read_exactly(ssl, kBareRequestBytes) && between() &&
           SSL_write(ssl, out.data(), static_cast<int>(out.size())) == static_cast<int>(out.size());
  }
  return SSL_write(ssl, out.data(), static_cast<int>(out.size())) == static_cast<int>(out.size()) &&
         bare_read_exactly(ssl, kBareResponseBytes);
}

}  // namespace m2msec::bench
