// m2msec/core/encoding.h: strict hex and base64 codecs.
//
// Decoders accept exactly one spelling of each value and reject everything
// else (whitespace, missing or extra padding, non-zero pad bits, characters
// outside the alphabet), so that an identifier has one canonical text form.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/core/secret.h"

namespace m2msec {

// hex_encode returns lowercase hex of |bytes|.
std::string hex_encode(std::span<const std::uint8_t> bytes);

// hex_decode parses an even-length string of hex digits (either case).
// Fails with Errc::invalid_hex, naming the offset of the first bad byte.
Result<std::vector<std::uint8_t>> hex_decode(std::string_view text);

// hex_decode_secret is hex_decode into wiping memory, for key files. The
// error detail never contains the input.
Result<SecretBytes> hex_decode_secret(std::string_view text);

// base64_encode returns RFC 4648 section 4 base64 (standard alphabet, with
// '=' padding) of |bytes|.
// is_certificate_fingerprint is true if |text| is exactly "sha256:"
// followed by 64 lowercase hex digits: how m2msec names a CA certificate
// (tls::certificate_fingerprint), e.g. an enrolee's root of trust.
bool is_certificate_fingerprint(std::string_view text);

std::string base64_encode(std::span<const std::uint8_t> bytes);

// base64_decode accepts only canonical RFC 4648 section 4 base64: length a
// multiple of 4, alphabet A-Z a-z 0-9 + /, padding only at the end and only
// as needed, and zero pad bits. Fails with Errc::invalid_base64.
Result<std::vector<std::uint8_t>> base64_decode(std::string_view text);

// check_printable_utf8 accepts well-formed UTF-8 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF) without control characters
// (U+0000-U+001F, U+007F-U+009F). Fails with Errc::invalid_argument; the
// detail gives the byte offset, never the text.
Status check_printable_utf8(std::string_view text);

// printable_text returns |text| with every ill-formed UTF-8 byte and every
// control character replaced by U+FFFD, for showing stored text that
// predates a validation rule.
std::string printable_text(std::string_view text);

}  // namespace m2msec
