// coap.cc: the CoAP codec and the TS-0008 mapping on arbitrary bytes.
// Invariants: no crash or leak; a decoded message re-encodes to bytes that
// decode to the same message; a request the mapping accepts maps back
// (from_request) to a message whose mapping gives the same primitive; a
// response with an RSC survives to_response -> from_response.
#include "fuzz_check.h"
#include "m2msec/proto/coap.h"

using namespace m2msec::proto;

namespace {

bool same(const coap::Message& a, const coap::Message& b) {
  return a.type == b.type && a.code == b.code && a.mid == b.mid && a.token == b.token && a.options == b.options &&
         a.payload == b.payload;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)coap::peek_header({data, size});
  auto m = coap::decode({data, size});
  if (!m) return 0;
  auto bytes = coap::encode(*m);
  FUZZ_CHECK(bytes.has_value());
  auto again = coap::decode(*bytes);
  FUZZ_CHECK(again && same(*again, *m));
  for (const auto& o : m->options) {
    if (o.number == coap::options::block1 || o.number == coap::options::block2) {
      if (auto b = coap::parse_block(o.value)) {
        auto round = coap::parse_block(coap::encode_block(*b));
        FUZZ_CHECK(round && round->num == b->num && round->more == b->more && round->szx == b->szx);
      }
    }
  }
  if (coap::is_request(*m)) {
    if (auto req = coap::to_request(*m)) {
      auto back = coap::from_request(*req);
      FUZZ_CHECK(back.has_value());
      auto req2 = coap::to_request(*back);
      FUZZ_CHECK(req2 && req2->op == req->op && req2->to == req->to && req2->from == req->from &&
                 req2->rqi == req->rqi && req2->ty == req->ty && req2->content == req->content);
    }
  } else if (coap::is_response(*m)) {
    if (auto rsp = coap::to_response(*m)) {
      auto rsp2 = coap::to_response(coap::from_response(*rsp));
      FUZZ_CHECK(rsp2 && rsp2->rsc == rsp->rsc && rsp2->rqi == rsp->rqi && rsp2->content == rsp->content);
    }
  }
  return 0;
}
