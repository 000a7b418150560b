// key_id.cc: KeyId::parse for every kind and encoding. Invariants: an
// accepted ID re-parses to an equal ID, its FQDN parses on its own, and
// exported-key IDs (and B-TIDs) decode to 16 bytes that re-form the same
// text.
#include <string_view>

#include "fuzz_check.h"
#include "m2msec/core/encoding.h"
#include "m2msec/core/ids.h"

using namespace m2msec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (KeyIdKind kind : {KeyIdKind::ke, KeyIdKind::kc, KeyIdKind::km, KeyIdKind::kpsa}) {
    for (IdEncoding enc : {IdEncoding::base64, IdEncoding::hex}) {
      auto id = KeyId::parse(kind, text, enc);
      if (!id) continue;
      FUZZ_CHECK(id->str() == text);
      FUZZ_CHECK(id->str().size() <= kMaxKeyIdLength);
      FUZZ_CHECK(Fqdn::parse(id->fqdn().str()));
      auto again = KeyId::parse(kind, id->str(), enc);
      FUZZ_CHECK(again && *again == *id);
      if (kind == KeyIdKind::ke || kind == KeyIdKind::kc) {
        // A KeID in the B-TID form is base64 whatever |enc| says.
        auto rel = id->encoding() == IdEncoding::hex ? hex_decode(id->relative()) : base64_decode(id->relative());
        FUZZ_CHECK(rel && rel->size() == kRelativeIdSize);
        RelativeId r{};
        std::copy(rel->begin(), rel->end(), r.begin());
        auto formed = KeyId::from_relative(kind, r, id->fqdn(), id->encoding());
        FUZZ_CHECK(formed && formed->canonical() == id->canonical());
      }
    }
  }
  return 0;
}
