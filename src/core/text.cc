// text.cc: printable UTF-8 text and the psk_identity rule.
#include <cstdint>
#include <string>

#include "m2msec/core/encoding.h"
#include "m2msec/core/ids.h"

namespace m2msec {
namespace {

// decode_utf8 reads one scalar value at |s[i]| (RFC 3629 clause 4: no
// overlong forms, no surrogates, nothing above U+10FFFF) and advances |i|.
// Returns -1 for an ill-formed sequence.
std::int32_t decode_utf8(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  std::size_t len = 0;
  std::uint32_t cp = 0, min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, cp = b0 & 0x1Fu, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, cp = b0 & 0x0Fu, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, cp = b0 & 0x07u, min = 0x10000;
  } else {
    return -1;  // a continuation byte, C0/C1 (always overlong) or F5..FF
  }
  if (s.size() - i < len) return -1;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0u) != 0x80u) return -1;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  i += len;
  return static_cast<std::int32_t>(cp);
}

bool is_control(std::int32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

}  // namespace

Status check_printable_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t at = i;
    const std::int32_t cp = decode_utf8(text, i);
    if (cp < 0) return fail(Errc::invalid_argument, "not valid UTF-8 (byte " + std::to_string(at) + ")");
    if (is_control(cp)) return fail(Errc::invalid_argument, "control character at byte " + std::to_string(at));
  }
  return {};
}

std::string printable_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t at = i;
    const std::int32_t cp = decode_utf8(text, i);
    if (cp < 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      i = at + 1;
    } else if (is_control(cp)) {
      out += "\xEF\xBF\xBD";
    } else {
      out.append(text.substr(at, i - at));
    }
  }
  return out;
}

// RFC 4279 clause 5.1: "The PSK identity MUST be first converted to a
// character string, and then encoded to octets using UTF-8." Its length
// field allows 2^16-1 octets; the bound here is what OpenSSL 3 can carry
// (see kMaxPskIdentityLength).
Status check_psk_identity(std::string_view text) {
  if (text.empty()) return fail(Errc::invalid_identifier, "PSK identity is empty");
  if (text.size() > kMaxPskIdentityLength) {
    return fail(Errc::invalid_identifier, "PSK identity is longer than " + std::to_string(kMaxPskIdentityLength) +
                                              " bytes (" + std::to_string(text.size()) + ")");
  }
  if (Status st = check_printable_utf8(text); !st) {
    return fail(Errc::invalid_identifier, "PSK identity: " + st.error().detail());
  }
  return {};
}

}  // namespace m2msec
