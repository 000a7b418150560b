#include "m2msec/core/encoding.h"

namespace m2msec {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// nibble returns the value of hex digit |c|, or -1.
int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// decode_into writes the bytes of |text| to |out|, which has room for them.
Status decode_into(std::string_view text, std::uint8_t* out) {
  if (text.size() % 2 != 0) return fail(Errc::invalid_hex, "odd length " + std::to_string(text.size()));
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = nibble(text[i]);
    const int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return fail(Errc::invalid_hex, "non-hex character at offset " + std::to_string(hi < 0 ? i : i + 1));
    }
    out[i / 2] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return {};
}

}  // namespace

std::string hex_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0x0f]);
  }
  return out;
}

Result<std::vector<std::uint8_t>> hex_decode(std::string_view text) {
  std::vector<std::uint8_t> out(text.size() / 2);
  if (auto st = decode_into(text, out.data()); !st) return std::unexpected(st.error());
  return out;
}

Result<SecretBytes> hex_decode_secret(std::string_view text) {
  SecretBytes out(text.size() / 2);
  if (auto st = decode_into(text, out.data()); !st) return std::unexpected(st.error());
  return out;
}

bool is_certificate_fingerprint(std::string_view text) {
  constexpr std::string_view kPrefix = "sha256:";
  if (text.size() != kPrefix.size() + 64 || !text.starts_with(kPrefix)) return false;
  for (char c : text.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace m2msec
