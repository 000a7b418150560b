// digest.cc: the HTTP Digest header parsers (proto::digest) on arbitrary
// bytes. Invariants: no crash or leak; whatever parses formats again and
// parses back to the same value; parsed credentials can be computed over.
#include <string_view>

#include "fuzz_check.h"
#include "m2msec/proto/digest.h"

using namespace m2msec::proto::digest;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto c = parse_credentials(in)) {
    auto wire = format_credentials(*c);
    FUZZ_CHECK(wire);
    auto again = parse_credentials(*wire);
    FUZZ_CHECK(again && *again == *c);
    FUZZ_CHECK(compute_response({data, size}, *c, "POST", in));
    FUZZ_CHECK(compute_rspauth({}, *c, in));
  }
  if (auto ch = parse_challenge(in)) {
    auto wire = format_challenge(*ch);
    FUZZ_CHECK(wire);
    auto again = parse_challenge(*wire);
    FUZZ_CHECK(again && *again == *ch);
  }
  if (auto a = parse_authentication_info(in)) {
    Credentials c;
    c.qop = a->qop;
    c.nc = a->nc;
    c.cnonce = a->cnonce;
    auto wire = format_authentication_info(a->rspauth, c);
    FUZZ_CHECK(wire);
    auto again = parse_authentication_info(*wire);
    FUZZ_CHECK(again && again->rspauth == a->rspauth && again->qop == a->qop && again->nc == a->nc &&
               again->cnonce == a->cnonce);
  }
  return 0;
}
