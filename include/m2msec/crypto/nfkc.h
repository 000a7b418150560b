// m2msec/crypto/nfkc.h: the identifier normalisation of TS-0003 clause
// 10.3: "encoded to an octet string according to UTF-8 encoding rules as
// specified in IETF RFC 3629 and apply Normalization Form KC (NFKC)".
#pragma once

#include <string>
#include <string_view>

#include "m2msec/core/error.h"

namespace m2msec::crypto {

// nfkc returns the NFKC form of |utf8| (Unicode data from utf8proc). Fails
// with Errc::invalid_utf8 if |utf8| is not well-formed UTF-8 (overlong
// forms, surrogates and code points above U+10FFFF included).
Result<std::string> nfkc(std::string_view utf8);

}  // namespace m2msec::crypto
