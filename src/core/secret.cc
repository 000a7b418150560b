#include "m2msec/core/secret.h"

#include <openssl/crypto.h>

namespace m2msec {

void secure_wipe(void* ptr, std::size_t len) {
  if (ptr == nullptr || len == 0) return;
  OPENSSL_cleanse(ptr, len);
}

bool ct_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace m2msec
