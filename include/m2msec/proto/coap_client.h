// m2msec/proto/coap_client.h: oneM2M over CoAP (TS-0008) on a blocking
// DTLS client: confirmable requests retransmitted as RFC 7252 4.2 says,
// piggybacked and separate responses, block-wise transfer (RFC 7959) both
// ways.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include "m2msec/proto/channel.h"
#include "m2msec/proto/coap.h"
#include "m2msec/tls/client.h"

namespace m2msec::proto {

// CoapTiming is RFC 7252 4.8's transmission parameters.
struct CoapTiming {
  std::chrono::milliseconds ack_timeout{2000};
  double ack_random_factor = 1.5;
  int max_retransmit = 4;
};

class CoapClient : public Channel {
 public:
  // |timeout| bounds one call, retransmissions and every block included.
  CoapClient(tls::TlsClient& conn, std::chrono::milliseconds timeout = std::chrono::seconds(10),
             CoapTiming timing = {});

  Result<Response> call(Request req) override;
  Result<Response> call_plain(Request req) override;
  Binding binding() const override { return Binding::coap; }

  // exchange sends one CoAP request message |m| (type, message ID and
  // token are set here) and returns the whole response: Block2 blocks are
  // fetched and joined, a payload over one block goes out as Block1
  // blocks. For tests and tools that build their own messages.
  Result<coap::Message> exchange(coap::Message m);

 private:
  // transact sends |m| as a CON and returns its response (piggybacked or
  // separate), retransmitting until |deadline|.
  Result<coap::Message> transact(coap::Message m, std::chrono::steady_clock::time_point deadline);
  Status send(const coap::Message& m);
  std::uint16_t next_mid() { return next_mid_++; }
  std::string next_token();

  tls::TlsClient& conn_;
  std::chrono::milliseconds timeout_;
  CoapTiming timing_;
  std::uint16_t next_mid_;
  std::uint64_t token_seed_;
  std::mt19937 rng_;  // retransmission jitter
  unsigned next_rqi_ = 1;
};

}  // namespace m2msec::proto
