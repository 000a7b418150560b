// DTLS stateless cookies (RFC 6347 section 4.2.1) for DTLSv1_listen.

#include <array>
#include <cstring>

#include "internal.h"
#include "m2msec/crypto/hmac.h"

namespace m2msec::tls::detail {
namespace {

// secret_index is the SSL_CTX ex_data slot holding the borrowed secret.
int secret_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

const SecretBytes* secret_of(SSL* ssl) {
  SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  return ctx ? static_cast<const SecretBytes*>(SSL_CTX_get_ex_data(ctx, secret_index())) : nullptr;
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
  const SecretBytes* secret = secret_of(ssl);
  if (secret == nullptr || secret->empty()) return fail(Errc::invalid_argument, "no cookie secret");
  return crypto::hmac_sha256(secret->view(), {std::span<const std::uint8_t>(peer.data(), len)});
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

void set_cookie_secret(SSL_CTX* ctx, const SecretBytes* secret) {
  SSL_CTX_set_ex_data(ctx, secret_index(), const_cast<SecretBytes*>(secret));
}

}  // namespace m2msec::tls::detail
