// nfkc.cc: crypto::nfkc. Invariants: NFKC is idempotent, its output is
// valid UTF-8, and ASCII input is returned unchanged.
#include <string_view>

#include "fuzz_check.h"
#include "m2msec/crypto/nfkc.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto once = m2msec::crypto::nfkc(text);
  if (!once) {
    FUZZ_CHECK(once.error().code() == m2msec::Errc::invalid_utf8);
    return 0;
  }
  auto twice = m2msec::crypto::nfkc(*once);
  FUZZ_CHECK(twice && *twice == *once);
  bool ascii = true;
  for (char c : text) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) FUZZ_CHECK(*once == text);
  return 0;
}
