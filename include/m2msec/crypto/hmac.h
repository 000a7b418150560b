// m2msec/crypto/hmac.h: HMAC-SHA-256 (RFC 2104) over OpenSSL 3's EVP_MAC.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>

#include "m2msec/core/error.h"
#include "m2msec/core/secret.h"

namespace m2msec::crypto {

inline constexpr std::size_t kSha256Size = 32;

using Bytes = std::span<const std::uint8_t>;

// hmac_sha256 returns HMAC-SHA-256(|key|, concatenation of |parts|). The
// key may have any length, including zero. Fails (Errc::invalid_argument)
// only if OpenSSL reports an internal error.
Result<SecretBytes> hmac_sha256(Bytes key, std::initializer_list<Bytes> parts);

// as_bytes views text as bytes.
inline Bytes as_bytes(std::string_view s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

}  // namespace m2msec::crypto
