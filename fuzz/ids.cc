// ids.cc: Fqdn, CredentialId and EntityId parsers. Invariant: accepted
// text round-trips and respects the documented bounds.
#include <string_view>

#include "fuzz_check.h"
#include "m2msec/core/ids.h"

using namespace m2msec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto f = Fqdn::parse(text)) {
    FUZZ_CHECK(f->str() == text && text.size() <= 253 && text.find('*') == std::string_view::npos);
  }
  if (auto c = CredentialId::parse(text)) {
    FUZZ_CHECK(c->str() == text && c->type_id() > 0 && !c->value().empty());
  }
  if (auto e = EntityId::parse(text)) {
    FUZZ_CHECK(e->str() == text && !text.empty() && text.size() <= 255);
  }
  return 0;
}
