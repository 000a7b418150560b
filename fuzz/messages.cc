// messages.cc: the Mmef/Mmaf JSON message parsers, percent-decoding and
// oneM2M time parsing. Invariants: whatever parses re-serialises and parses
// back to the same JSON.
#include <nlohmann/json.hpp>
#include <string_view>

#include "fuzz_check.h"
#include "m2msec/proto/messages.h"
#include "m2msec/proto/primitive.h"

using namespace m2msec::proto;

template <typename M>
void round_trip(const nlohmann::json& j) {
  auto m = M::from_json(j);
  if (!m) return;
  const nlohmann::json out = m->to_json();
  auto again = M::from_json(out);
  FUZZ_CHECK(again && again->to_json() == out);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto d = percent_decode(text)) FUZZ_CHECK(*percent_decode(percent_encode(*d)) == *d);
  if (auto t = parse_time(text)) FUZZ_CHECK(*parse_time(format_time(*t)) == *t);
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return 0;
  round_trip<EnrolRequest>(j);
  round_trip<EnrolResponse>(j);
  round_trip<CredentialResponse>(j);
  round_trip<MafClientRegRequest>(j);
  round_trip<MafClientRegResponse>(j);
  round_trip<MafKeyRegRequest>(j);
  round_trip<MafKeyRegResponse>(j);
  round_trip<MafKeyRetrieveResponse>(j);
  round_trip<MafKeyPush>(j);
  round_trip<MafKeyPushBatch>(j);
  round_trip<MafKeyPushResults>(j);
  round_trip<RevocationFeed>(j);
  return 0;
}
