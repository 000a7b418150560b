// DTLS stateless cookies (RFC 6347 section 4.2.1) for DTLSv1_listen.
#include <openssl/rand.h>

#include <array>
#include <cstring>

#include "internal.h"
#include "m2msec/crypto/hmac.h"

namespace m2msec::tls::detail {
namespace {

constexpr std::size_t kCookieSecretSize = 32;

// cookie_secret is the per-process random HMAC key; never leaves memory.
const SecretBytes& cookie_secret() {
  static const SecretBytes secret = [] {
    SecretBytes s(kCookieSecretSize);
    if (RAND_bytes(s.data(), static_cast<int>(s.size())) != 1) std::abort();
    return s;
  }();
  return secret;
}

// peer_bytes serialises the datagram peer of |ssl| (family, address,
// port). Returns false if the BIO has no peer.
bool peer_bytes(SSL* ssl, std::array<std::uint8_t, 32>& out, std::size_t& out_len) {
  UniquePtr<BIO_ADDR> peer(BIO_ADDR_new());
  if (!peer || BIO_dgram_get_peer(SSL_get_rbio(ssl), peer.get()) <= 0) return false;
  std::size_t addr_len = 0;
  if (BIO_ADDR_rawaddress(peer.get(), nullptr, &addr_len) != 1 || addr_len > 16) return false;
  out[0] = static_cast<std::uint8_t>(BIO_ADDR_family(peer.get()));
  const unsigned short port = BIO_ADDR_rawport(peer.get());
  std::memcpy(&out[1], &port, sizeof port);
  BIO_ADDR_rawaddress(peer.get(), &out[3], &addr_len);
  out_len = 3 + addr_len;
  return true;
}

Result<SecretBytes> compute_cookie(SSL* ssl) {
  std::array<std::uint8_t, 32> peer{};
  std::size_t len = 0;
  if (!peer_bytes(ssl, peer, len)) return fail(Errc::invalid_argument, "no datagram peer");
  return crypto::hmac_sha256(cookie_secret().view(), {std::span<const std::uint8_t>(peer.data(), len)});
}

int generate_cookie(SSL* ssl, unsigned char* cookie, unsigned int* cookie_len) {
  const Result<SecretBytes> mac = compute_cookie(ssl);
  if (!mac) return 0;
  std::memcpy(cookie, mac->data(), mac->size());
  *cookie_len = static_cast<unsigned int>(mac->size());
  return 1;
}

int verify_cookie(SSL* ssl, const unsigned char* cookie, unsigned int cookie_len) {
  const Result<SecretBytes> mac = compute_cookie(ssl);
  if (!mac) return 0;
  return ct_equal(mac->view(), {cookie, cookie_len}) ? 1 : 0;
}

}  // namespace

void install_cookie_callbacks(SSL_CTX* ctx) {
  SSL_CTX_set_cookie_generate_cb(ctx, generate_cookie);
  SSL_CTX_set_cookie_verify_cb(ctx, verify_cookie);
}

}  // namespace m2msec::tls::detail
