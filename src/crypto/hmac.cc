#include "m2msec/crypto/hmac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <memory>

namespace m2msec::crypto {
namespace {

struct MacDeleter {
  void operator()(EVP_MAC* p) const { EVP_MAC_free(p); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); }
};

// hmac_template returns a context with HMAC fetched and the digest set,
// once per process; each call duplicates it, which skips the provider
// fetch that dominates a one-shot HMAC() in OpenSSL 3.
const EVP_MAC_CTX* hmac_template() {
  static const std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> tmpl = [] {
    std::unique_ptr<EVP_MAC, MacDeleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (!mac) return std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>();
    std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(EVP_MAC_CTX_new(mac.get()));
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (ctx && EVP_MAC_CTX_set_params(ctx.get(), params) != 1) ctx.reset();
    return ctx;
  }();
  return tmpl.get();
}

}  // namespace

Result<SecretBytes> hmac_sha256(Bytes key, std::initializer_list<Bytes> parts) {
  const EVP_MAC_CTX* tmpl = hmac_template();
  if (tmpl == nullptr) return fail(Errc::invalid_argument, "OpenSSL HMAC-SHA-256 unavailable");
  std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(EVP_MAC_CTX_dup(tmpl));
  // A zero-length key is legal for HMAC; give OpenSSL a valid pointer.
  static const std::uint8_t kEmpty = 0;
  if (!ctx || EVP_MAC_init(ctx.get(), key.empty() ? &kEmpty : key.data(), key.size(), nullptr) != 1) {
    return fail(Errc::invalid_argument, "HMAC init failed");
  }
  for (Bytes part : parts) {
    if (!part.empty() && EVP_MAC_update(ctx.get(), part.data(), part.size()) != 1) {
      return fail(Errc::invalid_argument, "HMAC update failed");
    }
  }
  SecretBytes out(kSha256Size);
  std::size_t len = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 || len != kSha256Size) {
    return fail(Errc::invalid_argument, "HMAC final failed");
  }
  return out;
}

}  // namespace m2msec::crypto
