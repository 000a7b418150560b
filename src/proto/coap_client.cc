#include "m2msec/proto/coap_client.h"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>


namespace m2msec::proto {

namespace {

std::chrono::milliseconds left_until(std::chrono::steady_clock::time_point t) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(t - std::chrono::steady_clock::now()));
}

}  // namespace

CoapClient::CoapClient(tls::TlsClient& conn, std::chrono::milliseconds timeout, CoapTiming timing)
    : conn_(conn), timeout_(timeout), timing_(timing) {
  // Seeds from OpenSSL's DRBG: a std::random_device per client costs a
  // CPUID (a VM exit under virtualisation) and a /dev/urandom open, so it
  // is only the fallback.
  std::uint64_t seed[3] = {};
  if (RAND_bytes(reinterpret_cast<unsigned char*>(seed), sizeof seed) != 1) {
    std::random_device rd;
    for (std::uint64_t& s : seed) s = (static_cast<std::uint64_t>(rd()) << 32) | rd();
  }
  next_mid_ = static_cast<std::uint16_t>(seed[0]);
  token_seed_ = seed[1];
  rng_.seed(static_cast<std::uint32_t>(seed[2]));
}

std::string CoapClient::next_token() {
  // Tokens only need to be unique on this connection (RFC 7252 5.3.1: the
  // DTLS session already protects against spoofed responses).
  const std::uint64_t v = token_seed_++;
  std::string t(8, '\0');
  for (int i = 0; i < 8; ++i) t[i] = static_cast<char>(v >> (8 * i));
  return t;
}

Status CoapClient::send(const coap::Message& m) {
  auto bytes = coap::encode(m);
  if (!bytes) return std::unexpected(bytes.error());
  return conn_.write_all(*bytes, timeout_);
}

Result<coap::Message> CoapClient::transact(coap::Message m, std::chrono::steady_clock::time_point deadline) {
  using clock = std::chrono::steady_clock;
  m.type = coap::Type::con;
  m.mid = next_mid();
  m.token = next_token();
  if (auto st = send(m); !st) return std::unexpected(st.error());
  std::uniform_real_distribution<double> jitter(1.0, timing_.ack_random_factor);
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(timing_.ack_timeout * jitter(rng_));
  auto next_retx = clock::now() + wait;
  int retransmits = 0;
  bool acked = false;
  while (true) {
    if (clock::now() >= deadline) return fail(Errc::timeout, "waiting for the CoAP response");
    const auto until = acked ? deadline : std::min(deadline, next_retx);
    auto bytes = conn_.read(coap::kMaxMessage, std::max(std::chrono::milliseconds(1), left_until(until)));
    if (!bytes) {
      if (bytes.error().code() != Errc::timeout) return std::unexpected(bytes.error());
      if (!acked && clock::now() >= next_retx && clock::now() < deadline) {
        if (retransmits >= timing_.max_retransmit) return fail(Errc::timeout, "no CoAP acknowledgement");
        ++retransmits;
        wait *= 2;
        next_retx = clock::now() + wait;
        if (auto st = send(m); !st) return std::unexpected(st.error());
      }
      continue;
    }
    auto in = coap::decode(*bytes);
    if (!in) continue;  // not CoAP: ignored (RFC 7252 4.2 would reject it; nothing to answer)
    if (in->type == coap::Type::rst && in->mid == m.mid) {
      return fail(Errc::malformed_message, "the server reset the CoAP request");
    }
    if (in->type == coap::Type::ack && in->mid == m.mid) {
      if (coap::is_empty(*in)) {
        acked = true;  // a separate response follows
        continue;
      }
      if (in->token == m.token) return std::move(*in);
      continue;
    }
    if ((in->type == coap::Type::con || in->type == coap::Type::non) && coap::is_response(*in) &&
        in->token == m.token) {
      if (in->type == coap::Type::con) {
        coap::Message ack;
        ack.type = coap::Type::ack;
        ack.mid = in->mid;
        if (auto st = send(ack); !st) return std::unexpected(st.error());
      }
      return std::move(*in);
    }
    if (in->type == coap::Type::con) {  // something we did not ask for
      coap::Message rst;
      rst.type = coap::Type::rst;
      rst.mid = in->mid;
      (void)send(rst);
    }
  }
}

Result<coap::Message> CoapClient::exchange(coap::Message m) {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  const coap::Block first{0, false, coap::kBlockSzx};
  const std::size_t bs = first.size();
  Result<coap::Message> rsp = fail(Errc::invalid_argument, "empty exchange");
  if (m.payload.size() > bs) {
    const std::string body = std::move(m.payload);
    unsigned szx = coap::kBlockSzx;
    for (std::size_t offset = 0; offset < body.size();) {
      const std::size_t size = coap::Block{0, false, szx}.size();
      const auto num = static_cast<std::uint32_t>(offset / size);
      coap::Message part = m;
      part.payload = body.substr(offset, size);
      offset += part.payload.size();
      const bool more = offset < body.size();
      part.add(coap::options::block1, coap::encode_block({num, more, szx}));
      if (num == 0) part.add_uint(coap::options::size1, static_cast<std::uint32_t>(body.size()));
      rsp = transact(std::move(part), deadline);
      if (!rsp) return rsp;
      if (!more) break;
      if (rsp->code != coap::codes::continue_) return rsp;  // refused midway
      // RFC 7959 2.5: the server may ask for smaller blocks in its 2.31;
      // the next block then starts at the same offset, numbered in the new size.
      if (const coap::Option* b1 = rsp->find(coap::options::block1)) {
        if (auto asked = coap::parse_block(b1->value); asked && asked->szx < szx) szx = asked->szx;
      }
    }
  } else {
    rsp = transact(m, deadline);
    if (!rsp) return rsp;
  }
  std::string body;
  coap::Message last = std::move(*rsp);
  while (const coap::Option* b2 = last.find(coap::options::block2)) {
    auto blk = coap::parse_block(b2->value);
    if (!blk) return std::unexpected(blk.error());
    if (blk->num * blk->size() != body.size()) return fail(Errc::malformed_message, "CoAP Block2 out of order");
    body += last.payload;
    if (body.size() > 1024 * 1024) return fail(Errc::malformed_message, "CoAP response over 1 MiB");
    if (!blk->more) break;
    coap::Message next = m;
    next.payload.clear();
    next.remove(coap::options::block1);
    next.remove(coap::options::size1);
    next.remove(coap::options::content_format);
    next.add(coap::options::block2, coap::encode_block({blk->num + 1, false, blk->szx}));
    auto r = transact(std::move(next), deadline);
    if (!r) return r;
    last = std::move(*r);
  }
  if (last.find(coap::options::block2)) {
    last.payload = std::move(body);
    last.remove(coap::options::block2);
  }
  return last;
}

Result<Response> CoapClient::call(Request req) {
  if (req.rqi.empty()) req.rqi = "m2msec-" + std::to_string(next_rqi_++);
  auto m = coap::from_request(req);
  if (!m) return std::unexpected(m.error());
  auto rsp = exchange(std::move(*m));
  if (!rsp) return std::unexpected(rsp.error());
  return coap::to_response(*rsp);
}

Result<Response> CoapClient::call_plain(Request) {
  return fail(Errc::invalid_argument, "a plain HTTP request (GBA Ub) cannot go over the CoAP binding");
}

}  // namespace m2msec::proto
