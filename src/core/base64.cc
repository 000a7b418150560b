#include <openssl/evp.h>

#include "m2msec/core/encoding.h"

namespace m2msec {
namespace {

bool in_alphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

}  // namespace

std::string base64_encode(std::span<const std::uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  if (bytes.empty()) return out;
  // EVP_EncodeBlock writes a trailing NUL after the 4*ceil(n/3) characters.
  std::vector<unsigned char> buf(out.size() + 1);
  const int n = EVP_EncodeBlock(buf.data(), bytes.data(), static_cast<int>(bytes.size()));
  out.assign(reinterpret_cast<const char*>(buf.data()), static_cast<std::size_t>(n));
  return out;
}

// RFC 4648 section 4 and section 3.5 (canonical encoding): validate the
// text here, let OpenSSL decode it, then require that re-encoding gives the
// same text, which rejects non-zero pad bits.
Result<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return fail(Errc::invalid_base64, "length " + std::to_string(text.size()) + " is not a multiple of 4");
  }
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = (text[text.size() - 2] == '=') ? 2 : 1;
  for (std::size_t i = 0; i < text.size() - pad; ++i) {
    if (!in_alphabet(text[i])) return fail(Errc::invalid_base64, "bad character at offset " + std::to_string(i));
  }
  if (text.empty()) return std::vector<std::uint8_t>{};

  std::vector<std::uint8_t> out(text.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return fail(Errc::invalid_base64, "undecodable");
  out.resize(static_cast<std::size_t>(n) - pad);  // EVP_DecodeBlock counts pad as zero bytes
  if (base64_encode(out) != text) return fail(Errc::invalid_base64, "non-canonical padding bits");
  return out;
}

}  // namespace m2msec
