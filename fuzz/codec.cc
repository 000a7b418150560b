// codec.cc: hex and base64 decoders. Invariant: whatever decodes
// re-encodes to the same text (canonical form; hex modulo case).
#include <algorithm>
#include <string_view>

#include "fuzz_check.h"
#include "m2msec/core/encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto b = m2msec::base64_decode(text)) {
    FUZZ_CHECK(m2msec::base64_encode(*b) == text);
  }
  if (auto h = m2msec::hex_decode(text)) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    FUZZ_CHECK(m2msec::hex_encode(*h) == lower);
    auto s = m2msec::hex_decode_secret(text);
    FUZZ_CHECK(s && s->size() == h->size());
  }
  FUZZ_CHECK(*m2msec::base64_decode(m2msec::base64_encode({data, size})) ==
             std::vector<std::uint8_t>(data, data + size));
  return 0;
}
