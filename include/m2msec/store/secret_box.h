// m2msec/store/secret_box.h: encryption of secret columns at rest.
//
// Every stored key (Kpm, Ke, Km, Kpsa, Kc) is sealed with AES-256-GCM under
// the key-encryption key (KEK). The stored blob is
//     nonce (12 bytes, random) || ciphertext || tag (16 bytes)
// and the associated data binds the blob to its place:
//     "m2msec/v1|" + table + "|" + column + "|" + primary key text
// so a blob copied to another row or column fails to open. The KEK lives in
// a 0600 hex file outside the database and is never written into it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/core/secret.h"

namespace m2msec::store {

inline constexpr std::size_t kKekSize = 32;
inline constexpr std::size_t kSealNonceSize = 12;
inline constexpr std::size_t kSealTagSize = 16;
inline constexpr std::size_t kSealOverhead = kSealNonceSize + kSealTagSize;

// Kek is the 32-byte key-encryption key. Move-only, wiped on destruction.
class Kek {
 public:
  // from_bytes takes ownership of |key|; fails with Errc::invalid_length
  // unless it has exactly kKekSize bytes.
  static Result<Kek> from_bytes(SecretBytes key);

  std::span<const std::uint8_t> view() const { return key_.view(); }

 private:
  explicit Kek(SecretBytes key) : key_(std::move(key)) {}
  SecretBytes key_;
};

// load_kek_file reads a KEK from a hex file that must have mode 0600
// (Errc::insecure_permissions otherwise; Errc::io_error if unreadable;
// Errc::invalid_hex or Errc::invalid_length for bad contents).
Result<Kek> load_kek_file(const std::string& path);

// create_kek_file writes a new random KEK as hex to |path| with mode 0600
// and returns it. Refuses to replace an existing file (Errc::already_exists):
// replacing the KEK of a database makes every secret in it unreadable.
Result<Kek> create_kek_file(const std::string& path);

// seal_aad builds the associated data for one secret cell.
std::string seal_aad(std::string_view table, std::string_view column, std::string_view primary_key);

// seal encrypts |plaintext| under |kek| with associated data |aad| and
// returns nonce || ciphertext || tag. Fails with Errc::store_error only if
// OpenSSL or the random generator fail.
Result<std::vector<std::uint8_t>> seal(const Kek& kek, std::string_view aad, std::span<const std::uint8_t> plaintext);

// open_sealed reverses seal. Fails with Errc::decrypt_failed if the blob is
// too short, was tampered with, belongs to another cell (different |aad|),
// or was sealed under another KEK. The plaintext is returned in wiping
// memory; nothing is returned on failure.
Result<SecretBytes> open_sealed(const Kek& kek, std::string_view aad, std::span<const std::uint8_t> blob);

}  // namespace m2msec::store
