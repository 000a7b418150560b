// http.cc: the HTTP-binding readers (proto::RequestReader/ResponseReader)
// on arbitrary bytes, fed in two pieces. Invariants: no crash or leak; a
// parsed request re-encodes and parses back to the same primitive.
#include <string_view>

#include "fuzz_check.h"
#include "m2msec/proto/http.h"

using namespace m2msec::proto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  RequestReader req;
  if (req.feed({data, cut}) && req.feed({data + cut, size - cut})) {
    for (int i = 0; i < 8; ++i) {
      auto r = req.next();
      if (!r || !*r) break;
      const std::string wire = encode_request(**r, "fuzz.example.com");
      RequestReader again;
      FUZZ_CHECK(again.feed({reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size()}));
      auto r2 = again.next();
      FUZZ_CHECK(r2 && *r2 && (*r2)->op == (*r)->op && (*r2)->rqi == (*r)->rqi && (*r2)->content == (*r)->content);
    }
  }
  ResponseReader rsp;
  if (rsp.feed({data, size})) {
    for (int i = 0; i < 8; ++i) {
      auto r = rsp.next();
      if (!r || !*r) break;
    }
  }
  return 0;
}
