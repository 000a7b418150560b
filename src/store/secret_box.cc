#include "m2msec/store/secret_box.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <memory>

#include "m2msec/core/encoding.h"
#include "m2msec/core/secret_file.h"

namespace m2msec::store {
namespace {

// CipherCtxDeleter is the one owner of EVP_CIPHER_CTX handles here.
struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

const std::uint8_t* bytes_of(std::string_view s) { return reinterpret_cast<const std::uint8_t*>(s.data()); }

// int_len converts a size to OpenSSL's int; secrets here are tiny, but a
// caller-supplied blob is bounded explicitly.
constexpr std::size_t kMaxSealInput = 1 << 20;

// aes_256_gcm is the cipher fetched once from the default provider. Passing
// EVP_aes_256_gcm() instead makes OpenSSL 3 fetch it again, through the
// locked method store, at every seal and open. Should the fetch fail, the
// Init call below refuses the null cipher (no cipher set), and seal or
// open reports it.
const EVP_CIPHER* aes_256_gcm() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

}  // namespace

Result<Kek> Kek::from_bytes(SecretBytes key) {
  if (key.size() != kKekSize) {
    return fail(Errc::invalid_length, "KEK has " + std::to_string(key.size()) + " bytes, want 32");
  }
  return Kek(std::move(key));
}

Result<Kek> load_kek_file(const std::string& path) {
  Result<SecretBytes> key = read_hex_key_file(path, kKekSize);
  if (!key) return std::unexpected(key.error());
  return Kek::from_bytes(std::move(*key));
}

Result<Kek> create_kek_file(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) return fail(Errc::already_exists, path);
  SecretBytes key(kKekSize);
  if (RAND_priv_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    return fail(Errc::store_error, "random generator failed");
  }
  // Hex text in wiping memory: the file is text, as read_hex_key_file wants.
  static constexpr char kDigits[] = "0123456789abcdef";
  SecretBytes text(kKekSize * 2 + 1);
  for (std::size_t i = 0; i < kKekSize; ++i) {
    text.data()[2 * i] = static_cast<std::uint8_t>(kDigits[key.data()[i] >> 4]);
    text.data()[2 * i + 1] = static_cast<std::uint8_t>(kDigits[key.data()[i] & 0x0f]);
  }
  text.data()[kKekSize * 2] = '\n';
  Status written = write_secret_file(path, text.view());
  if (!written) return std::unexpected(written.error());
  return Kek::from_bytes(std::move(key));
}

std::string seal_aad(std::string_view table, std::string_view column, std::string_view primary_key) {
  std::string aad = "m2msec/v1|";
  aad += table;
  aad += '|';
  aad += column;
  aad += '|';
  aad += primary_key;
  return aad;
}

Result<std::vector<std::uint8_t>> seal(const Kek& kek, std::string_view aad, std::span<const std::uint8_t> plaintext) {
  if (plaintext.size() > kMaxSealInput || aad.size() > kMaxSealInput) {
    return fail(Errc::invalid_length, "seal input too large");
  }
  std::vector<std::uint8_t> out(kSealNonceSize + plaintext.size() + kSealTagSize);
  if (RAND_bytes(out.data(), static_cast<int>(kSealNonceSize)) != 1) {
    return fail(Errc::store_error, "random generator failed");
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  std::uint8_t* ct = out.data() + kSealNonceSize;
  if (!ctx || EVP_EncryptInit_ex2(ctx.get(), aes_256_gcm(), kek.view().data(), out.data(), nullptr) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes_of(aad), static_cast<int>(aad.size())) != 1 ||
      (!plaintext.empty() &&
       EVP_EncryptUpdate(ctx.get(), ct, &len, plaintext.data(), static_cast<int>(plaintext.size())) != 1) ||
      EVP_EncryptFinal_ex(ctx.get(), ct + plaintext.size(), &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kSealTagSize),
                          ct + plaintext.size()) != 1) {
    return fail(Errc::store_error, "AES-256-GCM encryption failed");
  }
  return out;
}

Result<SecretBytes> open_sealed(const Kek& kek, std::string_view aad, std::span<const std::uint8_t> blob) {
  if (blob.size() < kSealOverhead || blob.size() > kMaxSealInput + kSealOverhead) {
    return fail(Errc::decrypt_failed, "sealed blob has the wrong size");
  }
  const std::size_t ct_len = blob.size() - kSealOverhead;
  const std::uint8_t* nonce = blob.data();
  const std::uint8_t* ct = blob.data() + kSealNonceSize;
  std::uint8_t tag[kSealTagSize];
  std::copy(ct + ct_len, ct + ct_len + kSealTagSize, tag);
  SecretBytes plain(ct_len);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex2(ctx.get(), aes_256_gcm(), kek.view().data(), nonce, nullptr) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes_of(aad), static_cast<int>(aad.size())) != 1 ||
      (ct_len > 0 && EVP_DecryptUpdate(ctx.get(), plain.data(), &len, ct, static_cast<int>(ct_len)) != 1) ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kSealTagSize), tag) != 1) {
    return fail(Errc::store_error, "AES-256-GCM decryption setup failed");
  }
  // Final verifies the tag; on mismatch |plain| is wiped by its allocator.
  if (EVP_DecryptFinal_ex(ctx.get(), plain.data() + ct_len, &len) != 1) {
    return fail(Errc::decrypt_failed, "authentication tag mismatch");
  }
  return plain;
}

}  // namespace m2msec::store
