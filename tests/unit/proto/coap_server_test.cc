// serve_coap, serve_dtls and CoapClient over real DTLS sessions on
// loopback: a tls::TlsServer with one PSK authority, and tls::TlsClient
// sending CoAP datagrams built with coap::encode (raw tests) or through
// CoapClient. Expectations come from RFC 7252 (message layer, 4.2-4.5),
// RFC 7959 (Block1/Block2, 2.3-2.5, 2.9) and TS-0008 6.2; nothing here
// asserts on a duration.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "m2msec/proto/coap.h"
#include "m2msec/proto/coap_client.h"
#include "m2msec/proto/coap_server.h"
#include "m2msec/tls/client.h"
#include "m2msec/tls/server.h"
#include "../joined_threads.h"

namespace m2msec::proto {
namespace {

using namespace std::chrono_literals;
using coap::Message;
using Bytes = std::vector<std::uint8_t>;
namespace codes = coap::codes;
namespace opts = coap::options;

constexpr const char* kFqdn = "coap.example.com";
constexpr const char* kIdentity = "dev1";
constexpr auto kWait = 5s;  // upper bound for anything that should happen

SecretBytes psk() {
  SecretBytes k(16);
  for (std::size_t i = 0; i < k.size(); ++i) k.data()[i] = static_cast<std::uint8_t>(0x40 + i);
  return k;
}

// TapSession forwards to a real session and shows every datagram read to
// |tap| first: what the server was sent, as the server saw it.
class TapSession : public tls::Session {
 public:
  TapSession(std::shared_ptr<tls::Session> inner, std::function<void(const Bytes&)> tap)
      : inner_(std::move(inner)), tap_(std::move(tap)) {}
  const tls::PeerIdentity& peer() const override { return inner_->peer(); }
  Result<SecretBytes> export_keying_material(std::string_view label, std::size_t length) const override {
    return inner_->export_keying_material(label, length);
  }
  void async_read(tls::ReadHandler handler) override {
    inner_->async_read([tap = tap_, handler = std::move(handler)](Result<Bytes> bytes) {
      if (bytes) tap(*bytes);
      handler(std::move(bytes));
    });
  }
  void async_write(Bytes data, tls::WriteHandler handler) override {
    inner_->async_write(std::move(data), std::move(handler));
  }
  void close() override { inner_->close(); }

 private:
  std::shared_ptr<tls::Session> inner_;
  std::function<void(const Bytes&)> tap_;
};

// DtlsPeer runs a DTLS server on loopback and connects clients to it.
// Whatever a server session reads is recorded (seen()).
class DtlsPeer : public ::testing::Test {
 protected:
  ~DtlsPeer() override {
    // Before the members the server's handlers use go away.
    if (server_) server_->stop();
  }

  // start_raw hands each session (tapped) to |on_session|.
  void start_raw(std::function<void(std::shared_ptr<tls::Session>)> on_session) {
    tls::ServerOptions o;
    o.transport = tls::Transport::dtls;
    tls::ServerAuthority a;
    a.fqdn = kFqdn;
    a.psk_lookup = [](const tls::PskRequest& req, std::function<void(Result<SecretBytes>)> done) {
      if (req.identity != kIdentity) return done(fail(Errc::unknown_psk_identity, req.identity));
      done(psk());
    };
    o.authorities.push_back(std::move(a));
    o.threads = 2;
    o.handshake_timeout = kWait;
    o.on_session = [this, on_session = std::move(on_session)](std::shared_ptr<tls::Session> s) {
      on_session(std::make_shared<TapSession>(std::move(s), [this](const Bytes& b) { record(b); }));
    };
    auto server = tls::TlsServer::create(std::move(o));
    ASSERT_TRUE(server.has_value()) << server.error().message();
    server_ = std::move(*server);
    server_->start();
  }

  // start serves |binding| (CoAP unless told) with |handler|, counting the
  // handler's calls.
  void start(RequestHandler handler, HttpLimits limits = {}, DtlsBinding binding = DtlsBinding::coap) {
    start_raw([this, handler = std::move(handler), limits, binding](std::shared_ptr<tls::Session> s) {
      serve_dtls(
          std::move(s), binding,
          [this, handler](const Request& req, Reply reply) {
            ++calls_;
            handler(req, std::move(reply));
          },
          limits);
    });
  }

  tls::TlsClient connect() {
    tls::ClientOptions o;
    o.transport = tls::Transport::dtls;
    o.port = server_->port();
    o.sni = kFqdn;
    o.psk = tls::ClientPsk{kIdentity, psk()};
    o.timeout = kWait;
    auto c = tls::TlsClient::connect(std::move(o));
    if (!c) {
      ADD_FAILURE() << c.error().message();
      std::abort();  // nothing below can run without a connection
    }
    return std::move(*c);
  }

  void record(const Bytes& b) {
    {
      std::lock_guard lock(mu_);
      seen_.push_back(b);
    }
    cv_.notify_all();
  }

  // wait_seen waits until the server has read |n| datagrams.
  bool wait_seen(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return seen_.size() >= n; });
  }

  // seen returns what the server read, decoded (undecodable ones skipped).
  std::vector<Message> seen() {
    std::lock_guard lock(mu_);
    std::vector<Message> out;
    for (const auto& b : seen_) {
      if (auto m = coap::decode(b)) out.push_back(std::move(*m));
    }
    return out;
  }

  std::vector<Bytes> seen_raw() {
    std::lock_guard lock(mu_);
    return seen_;
  }

  std::atomic<int> calls_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Bytes> seen_;
  std::unique_ptr<tls::TlsServer> server_;  // last: stopped first
};

// --- raw datagrams ----------------------------------------------------------

void send_raw(tls::TlsClient& c, const Bytes& b) {
  auto st = c.write_all(b, kWait);
  ASSERT_TRUE(st.has_value()) << st.error().message();
}

void send(tls::TlsClient& c, const Message& m) {
  auto b = coap::encode(m);
  ASSERT_TRUE(b.has_value()) << b.error().message();
  send_raw(c, *b);
}

Bytes receive_raw(tls::TlsClient& c) {
  auto r = c.read(coap::kMaxMessage, kWait);
  EXPECT_TRUE(r.has_value()) << r.error().message();
  return r ? *r : Bytes{};
}

// receive reads one datagram; a failed read or decode yields code 0xff (a
// reserved class that no real answer has).
Message receive(tls::TlsClient& c) {
  auto m = coap::decode(receive_raw(c));
  EXPECT_TRUE(m.has_value()) << m.error().message();
  if (m) return *m;
  Message bad;
  bad.code = 0xff;
  return bad;
}

Message request(coap::Type type, std::uint8_t code, std::uint16_t mid, const std::string& rqi,
                std::vector<std::string> path = {"cse"}) {
  Message m;
  m.type = type;
  m.code = code;
  m.mid = mid;
  m.token = "tk" + std::to_string(mid);
  for (auto& seg : path) m.add(opts::uri_path, std::move(seg));
  m.add(opts::m2m_fr, "CAdmin");
  m.add(opts::m2m_rqi, rqi);
  return m;
}

Message con_get(std::uint16_t mid, const std::string& rqi) {
  return request(coap::Type::con, codes::get, mid, rqi);
}

std::uint32_t uint_option(const Message& m, std::uint16_t number) {
  const coap::Option* o = m.find(number);
  EXPECT_NE(o, nullptr) << "no option " << number;
  if (o == nullptr) return 0xffffffff;
  auto v = coap::decode_uint(o->value);
  EXPECT_TRUE(v.has_value());
  return v.value_or(0xffffffff);
}

std::string text_option(const Message& m, std::uint16_t number) {
  const coap::Option* o = m.find(number);
  EXPECT_NE(o, nullptr) << "no option " << number;
  return o ? o->value : std::string();
}

coap::Block block_option(const Message& m, std::uint16_t number) {
  auto b = coap::parse_block(text_option(m, number));
  EXPECT_TRUE(b.has_value());
  return b.value_or(coap::Block{0xfffff, false, 0});
}

// big_json is a JSON document of exactly |n| bytes when dumped.
nlohmann::json big_json(std::size_t n) {
  const std::string prefix = R"({"d":")", suffix = R"("})";
  std::string body(n - prefix.size() - suffix.size(), '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  auto j = nlohmann::json{{"d", body}};
  EXPECT_EQ(j.dump().size(), n);
  return j;
}

void echo_ok(const Request& req, Reply reply) {
  reply(ok_response(req, Rsc::ok, {{"to", req.to}, {"from", req.from}}));
}

// --- serve_coap -------------------------------------------------------------

class CoapServer : public DtlsPeer {};

TEST_F(CoapServer, ConfirmableRequestGetsAPiggybackedAck) {
  start(echo_ok);
  auto c = connect();
  send(c, con_get(0x1234, "r1"));
  Message a = receive(c);
  // RFC 7252 5.2.1: the ACK carries the response, same MID and token.
  EXPECT_EQ(a.type, coap::Type::ack);
  EXPECT_EQ(a.mid, 0x1234);
  EXPECT_EQ(a.token, "tk4660");
  EXPECT_EQ(a.code, codes::content);
  EXPECT_EQ(uint_option(a, opts::m2m_rsc), 2000u);
  EXPECT_EQ(text_option(a, opts::m2m_rqi), "r1");
  EXPECT_EQ(uint_option(a, opts::content_format), coap::kFormatJson);
  EXPECT_EQ(nlohmann::json::parse(a.payload), (nlohmann::json{{"to", "/cse"}, {"from", "CAdmin"}}));
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(CoapServer, RetransmittedConGetsTheSameBytesWithoutTheHandler) {
  start(echo_ok);
  auto c = connect();
  auto bytes = coap::encode(con_get(77, "r1"));
  ASSERT_TRUE(bytes.has_value());
  send_raw(c, *bytes);
  const Bytes first = receive_raw(c);
  send_raw(c, *bytes);  // as if the ACK had been lost (RFC 7252 4.5)
  const Bytes second = receive_raw(c);
  EXPECT_FALSE(first.empty());
  EXPECT_EQ(first, second);
  EXPECT_EQ(calls_.load(), 1);
  // A new message ID is a new request.
  send(c, con_get(78, "r1"));
  EXPECT_EQ(receive(c).mid, 78);
  EXPECT_EQ(calls_.load(), 2);
}

TEST_F(CoapServer, NonConfirmableRequestGetsANonAnswer) {
  start(echo_ok);
  auto c = connect();
  send(c, request(coap::Type::non, codes::get, 5, "r1"));
  Message a = receive(c);
  // RFC 7252 5.2.3: a NON request's response is NON, matched by token.
  EXPECT_EQ(a.type, coap::Type::non);
  EXPECT_EQ(a.token, "tk5");
  EXPECT_EQ(a.code, codes::content);
  EXPECT_EQ(text_option(a, opts::m2m_rqi), "r1");
}

TEST_F(CoapServer, EmptyConIsAPingAnsweredWithReset) {
  start(echo_ok);
  auto c = connect();
  Message ping;
  ping.type = coap::Type::con;
  ping.mid = 0xabcd;
  send(c, ping);
  Message r = receive(c);
  // RFC 7252 4.3: "provoking a Reset message" is the CoAP ping.
  EXPECT_EQ(r.type, coap::Type::rst);
  EXPECT_EQ(r.mid, 0xabcd);
  EXPECT_EQ(r.code, codes::empty);
  EXPECT_TRUE(r.token.empty());
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(CoapServer, MalformedDatagramsAreResetOrIgnoredAndTheSessionGoesOn) {
  start(echo_ok);
  auto c = connect();
  // CON with TKL 9: a header to reset (RFC 7252 4.2).
  send_raw(c, {0x49, 0x01, 0x0a, 0x0b, 1, 2, 3});
  Message r = receive(c);
  EXPECT_EQ(r.type, coap::Type::rst);
  EXPECT_EQ(r.mid, 0x0a0b);
  // NON with a truncated option: reset too (RFC 7252 4.3 allows it).
  send_raw(c, {0x50, 0x01, 0x0c, 0x0d, 0xb5, 'x'});
  r = receive(c);
  EXPECT_EQ(r.type, coap::Type::rst);
  EXPECT_EQ(r.mid, 0x0c0d);
  // Not even a header, version 2, and a malformed ACK: nothing to answer.
  send_raw(c, {0x40, 0x01});
  send_raw(c, {0x80, 0x01, 0x00, 0x01});
  send_raw(c, {0x69, 0x01, 0x00, 0x02});
  // The next good request is what gets answered next.
  send(c, con_get(9, "r9"));
  Message a = receive(c);
  EXPECT_EQ(a.type, coap::Type::ack);
  EXPECT_EQ(a.mid, 9);
  EXPECT_EQ(text_option(a, opts::m2m_rqi), "r9");
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(CoapServer, MessagesThatAreNotRequestsAreResetIfConfirmable) {
  start(echo_ok);
  auto c = connect();
  // A CON response: this server asked nothing, so it is rejected.
  Message rsp;
  rsp.type = coap::Type::con;
  rsp.code = codes::content;
  rsp.mid = 300;
  rsp.token = "t";
  send(c, rsp);
  Message r = receive(c);
  EXPECT_EQ(r.type, coap::Type::rst);
  EXPECT_EQ(r.mid, 300);
  // An empty ACK, an RST and a request typed ACK are silently dropped.
  Message ack;
  ack.type = coap::Type::ack;
  ack.mid = 301;
  send(c, ack);
  ack.type = coap::Type::rst;
  send(c, ack);
  send(c, request(coap::Type::ack, codes::get, 302, "x"));
  send(c, con_get(303, "r"));
  EXPECT_EQ(receive(c).mid, 303);
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(CoapServer, UnknownCriticalOptionIs402AndTheSessionGoesOn) {
  start(echo_ok);
  auto c = connect();
  Message m = con_get(10, "bad");
  m.add(2049, "x");
  send(c, m);
  Message r = receive(c);
  EXPECT_EQ(r.type, coap::Type::ack);
  EXPECT_EQ(r.mid, 10);
  EXPECT_EQ(r.code, codes::bad_option);
  EXPECT_EQ(uint_option(r, opts::m2m_rsc), 4000u);
  EXPECT_EQ(text_option(r, opts::m2m_rqi), "bad");
  EXPECT_TRUE(nlohmann::json::parse(r.payload).contains("m2m:dbg"));
  EXPECT_EQ(calls_.load(), 0);
  // An unknown elective option is no reason to refuse.
  Message ok = con_get(11, "good");
  ok.add(2048, "x");
  send(c, ok);
  Message a = receive(c);
  EXPECT_EQ(a.code, codes::content);
  EXPECT_EQ(text_option(a, opts::m2m_rqi), "good");
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(CoapServer, RefusedRequestsAreAnsweredWithTheMappingsCode) {
  start(echo_ok);
  auto c = connect();
  Message no_rqi = con_get(20, "x");
  no_rqi.remove(opts::m2m_rqi);
  send(c, no_rqi);
  Message r = receive(c);
  EXPECT_EQ(r.code, codes::bad_request);
  EXPECT_EQ(uint_option(r, opts::m2m_rsc), 4000u);

  Message fetch = request(coap::Type::con, 5, 21, "f");  // 0.05 FETCH
  send(c, fetch);
  r = receive(c);
  EXPECT_EQ(r.code, codes::method_not_allowed);
  EXPECT_EQ(uint_option(r, opts::m2m_rsc), 4005u);

  Message cbor = request(coap::Type::con, codes::post, 22, "c");
  cbor.add_uint(opts::content_format, 60);
  cbor.payload = "\xa0";
  send(c, cbor);
  r = receive(c);
  EXPECT_EQ(r.code, codes::unsupported_content_format);
  EXPECT_EQ(text_option(r, opts::m2m_rqi), "c");

  Message accept = con_get(23, "a");
  accept.add_uint(opts::accept, 60);
  send(c, accept);
  EXPECT_EQ(receive(c).code, codes::not_acceptable);

  Message garbage = request(coap::Type::con, codes::post, 24, "g");
  garbage.payload = "{nope";
  send(c, garbage);
  EXPECT_EQ(receive(c).code, codes::bad_request);
  EXPECT_EQ(calls_.load(), 0);
}

// post_block is a POST (create) carrying one Block1 block of |body|.
Message post_block(std::uint16_t mid, const std::string& rqi, const std::string& body, coap::Block blk) {
  Message m = request(coap::Type::con, codes::post, mid, rqi, {"mef"});
  m.add_uint(opts::m2m_ty, 2);
  m.add_uint(opts::content_format, coap::kFormatJson);
  m.add(opts::block1, coap::encode_block(blk));
  m.payload = body.substr(std::min(body.size(), blk.num * blk.size()), blk.size());
  return m;
}

TEST_F(CoapServer, Block1UploadIsContinuedThenAnswered) {
  const std::string body = big_json(3 * 1024).dump();
  // The handler tells whether it got the whole body (no state shared with
  // the server's thread).
  start([body](const Request& req, Reply reply) {
    reply(ok_response(req, Rsc::created, {{"n", req.content.dump().size()}, {"same", req.content.dump() == body}}));
  });
  auto c = connect();
  const std::uint32_t blocks = 6;  // 3 KiB in 512-byte blocks
  for (std::uint32_t num = 0; num < blocks; ++num) {
    const bool more = num + 1 < blocks;
    send(c, post_block(static_cast<std::uint16_t>(100 + num), "up", body, {num, more, 5}));
    Message r = receive(c);
    EXPECT_EQ(r.mid, 100 + num);
    if (more) {
      // RFC 7959 2.3: 2.31 Continue, echoing the block acknowledged.
      EXPECT_EQ(r.code, codes::continue_) << num;
      coap::Block b = block_option(r, opts::block1);
      EXPECT_EQ(b.num, num);
      EXPECT_EQ(b.szx, 5u);
      EXPECT_EQ(calls_.load(), 0) << "the handler waits for the whole body";
    } else {
      EXPECT_EQ(r.code, codes::created);
      EXPECT_EQ(uint_option(r, opts::m2m_rsc), 2001u);
      EXPECT_EQ(text_option(r, opts::m2m_rqi), "up");
      const auto j = nlohmann::json::parse(r.payload);
      EXPECT_EQ(j["n"], body.size());
      EXPECT_EQ(j["same"], true);
    }
  }
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(CoapServer, Block1OutOfOrderIs408) {
  start(echo_ok);
  auto c = connect();
  const std::string body = big_json(3 * 1024).dump();
  // A block 1 with no block 0 before it.
  send(c, post_block(1, "o", body, {1, true, 5}));
  Message r = receive(c);
  EXPECT_EQ(r.code, codes::request_entity_incomplete);
  EXPECT_EQ(uint_option(r, opts::m2m_rsc), 4000u);
  // Block 0, then block 2.
  send(c, post_block(2, "o", body, {0, true, 5}));
  EXPECT_EQ(receive(c).code, codes::continue_);
  send(c, post_block(3, "o", body, {2, true, 5}));
  EXPECT_EQ(receive(c).code, codes::request_entity_incomplete);
  // The assembly was dropped: block 1 now is out of order too.
  send(c, post_block(4, "o", body, {1, true, 5}));
  EXPECT_EQ(receive(c).code, codes::request_entity_incomplete);
  // Block 0 of one request, block 1 of another (another RQI).
  send(c, post_block(5, "a", body, {0, true, 5}));
  EXPECT_EQ(receive(c).code, codes::continue_);
  send(c, post_block(6, "b", body, {1, true, 5}));
  EXPECT_EQ(receive(c).code, codes::request_entity_incomplete);
  // A block size that changes midway (block 1 of 256 bytes is at 256, not
  // at 512 where the body stands).
  send(c, post_block(7, "s", body, {0, true, 5}));
  EXPECT_EQ(receive(c).code, codes::continue_);
  send(c, post_block(8, "s", body, {1, true, 4}));
  EXPECT_EQ(receive(c).code, codes::request_entity_incomplete);
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(CoapServer, Block1OfTheWrongSizeIs400) {
  start(echo_ok);
  auto c = connect();
  // A block with M set must be exactly the block size (RFC 7959 2.3).
  Message m = post_block(1, "w", big_json(1024).dump(), {0, true, 5});
  m.payload.resize(100);
  send(c, m);
  EXPECT_EQ(receive(c).code, codes::bad_request);
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(CoapServer, BodyOverMaxBodyIs413) {
  HttpLimits limits;
  limits.max_body = 1000;
  start(echo_ok, limits);
  auto c = connect();
  const std::string body = big_json(3 * 1024).dump();
  send(c, post_block(1, "big", body, {0, true, 5}));
  EXPECT_EQ(receive(c).code, codes::continue_);
  send(c, post_block(2, "big", body, {1, true, 5}));  // 1024 bytes now
  Message r = receive(c);
  EXPECT_EQ(r.code, codes::entity_too_large);
  EXPECT_EQ(uint_option(r, opts::m2m_rsc), 4000u);
  // One datagram over the limit, without Block1.
  Message single = request(coap::Type::con, codes::post, 3, "one", {"ae"});
  single.payload = big_json(1001).dump();
  send(c, single);
  EXPECT_EQ(receive(c).code, codes::entity_too_large);
  EXPECT_EQ(calls_.load(), 0);
  // Within the limit it is served.
  single.mid = 4;
  single.payload = big_json(1000).dump();
  send(c, single);
  EXPECT_EQ(receive(c).code, codes::content);
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(CoapServer, LargeResponseGoesOutInBlock2FromOneHandlerCall) {
  const nlohmann::json content = big_json(1300);
  start([&content](const Request& req, Reply reply) { reply(ok_response(req, Rsc::ok, content)); });
  auto c = connect();
  std::string joined;
  Message first;
  for (std::uint32_t num = 0; num < 3; ++num) {
    Message m = con_get(static_cast<std::uint16_t>(200 + num), "big");
    if (num > 0) m.add(opts::block2, coap::encode_block({num, false, 5}));
    send(c, m);
    Message r = receive(c);
    EXPECT_EQ(r.mid, 200 + num);
    EXPECT_EQ(r.code, codes::content);
    coap::Block b = block_option(r, opts::block2);
    EXPECT_EQ(b.num, num);
    EXPECT_EQ(b.szx, 5u);
    EXPECT_EQ(b.more, num < 2) << num;
    // RFC 7959 4: Size2 tells the whole size with the first block.
    if (num == 0) {
      EXPECT_EQ(uint_option(r, opts::size2), 1300u);
    }
    EXPECT_EQ(text_option(r, opts::m2m_rqi), "big");
    EXPECT_EQ(uint_option(r, opts::m2m_rsc), 2000u);
    EXPECT_EQ(r.payload.size(), num < 2 ? 512u : 1300u - 1024u);
    joined += r.payload;
  }
  EXPECT_EQ(nlohmann::json::parse(joined), content);
  EXPECT_EQ(calls_.load(), 1) << "follow-up blocks come from the kept response";
  // Past the end.
  Message past = con_get(210, "big");
  past.add(opts::block2, coap::encode_block({3, false, 5}));
  send(c, past);
  EXPECT_EQ(receive(c).code, codes::bad_option);
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(CoapServer, Block2SizeAskedForInTheFirstRequestIsUsed) {
  // RFC 7959 2.4: a Block2 option with number 0 in the request asks for
  // that block size ("early negotiation"); the server uses it or smaller.
  const nlohmann::json content = big_json(300);
  start([&content](const Request& req, Reply reply) { reply(ok_response(req, Rsc::ok, content)); });
  auto c = connect();
  std::string joined;
  for (std::uint32_t num = 0; num < 5; ++num) {
    Message m = con_get(static_cast<std::uint16_t>(1 + num), "small");
    m.add(opts::block2, coap::encode_block({num, false, 2}));  // 64 bytes
    send(c, m);
    Message r = receive(c);
    ASSERT_EQ(r.code, codes::content);
    ASSERT_NE(r.find(opts::block2), nullptr) << "a 300-byte answer to a 64-byte Block2 request came whole";
    coap::Block b = block_option(r, opts::block2);
    EXPECT_EQ(b.num, num);
    EXPECT_EQ(b.szx, 2u);
    EXPECT_EQ(b.more, num < 4);
    EXPECT_LE(r.payload.size(), 64u);
    joined += r.payload;
  }
  EXPECT_EQ(nlohmann::json::parse(joined), content);
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(CoapServer, HandlerThatThrowsIsAnswered5000) {
  start([](const Request& req, Reply reply) {
    if (req.rqi == "boom") throw std::runtime_error("secret detail");
    echo_ok(req, std::move(reply));
  });
  auto c = connect();
  send(c, con_get(1, "boom"));
  Message r = receive(c);
  EXPECT_EQ(r.code, codes::internal_server_error);
  EXPECT_EQ(uint_option(r, opts::m2m_rsc), 5000u);
  EXPECT_EQ(text_option(r, opts::m2m_rqi), "boom");
  EXPECT_EQ(r.payload.find("secret"), std::string::npos) << "the exception text is not shown to the peer";
  send(c, con_get(2, "fine"));
  EXPECT_EQ(receive(c).code, codes::content);
}

TEST_F(CoapServer, DroppedReplyIsAnswered5000) {
  start([](const Request&, Reply) { /* drops the reply unanswered */ });
  auto c = connect();
  send(c, con_get(1, "lost"));
  Message r = receive(c);
  EXPECT_EQ(r.type, coap::Type::ack);
  EXPECT_EQ(r.mid, 1);
  EXPECT_EQ(r.code, codes::internal_server_error);
  EXPECT_EQ(uint_option(r, opts::m2m_rsc), 5000u);
  EXPECT_EQ(text_option(r, opts::m2m_rqi), "lost");
}

TEST_F(CoapServer, ReplyFromAnotherThreadIsSentAndOnlyOnce) {
  testing::JoinedThreads repliers;  // joined before the fixture's server goes
  start([&repliers](const Request& req, Reply reply) {
    repliers.start([req, reply] {
      std::this_thread::sleep_for(20ms);
      reply(ok_response(req, Rsc::updated, nullptr));
      reply(error_response(req, Rsc::internal_server_error, "again"));  // ignored
    });
  });
  auto c = connect();
  send(c, request(coap::Type::con, codes::put, 1, "late"));
  Message r = receive(c);
  EXPECT_EQ(r.code, codes::changed);
  EXPECT_EQ(uint_option(r, opts::m2m_rsc), 2004u);
  EXPECT_TRUE(r.payload.empty());
  // The next answer is the next request's, not the ignored second reply.
  send(c, request(coap::Type::con, codes::put, 2, "late2"));
  r = receive(c);
  EXPECT_EQ(r.mid, 2);
  EXPECT_EQ(r.code, codes::changed);
}

// --- serve_dtls: the binding of a DTLS session ------------------------------

class CoapDtls : public DtlsPeer {};

TEST_F(CoapDtls, AutomaticServesHttpForAnHttpFirstDatagram) {
  start(echo_ok, {}, DtlsBinding::automatic);
  auto c = connect();
  const std::string get = "GET /x HTTP/1.1\r\nHost: h\r\nX-M2M-Origin: o\r\nX-M2M-RI: r1\r\n\r\n";
  send_raw(c, Bytes(get.begin(), get.end()));
  const Bytes r = receive_raw(c);
  const std::string text(r.begin(), r.end());
  EXPECT_TRUE(text.starts_with("HTTP/1.1 200")) << text;
  EXPECT_NE(text.find("X-M2M-RI: r1"), std::string::npos) << text;
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(CoapDtls, AutomaticServesCoapOtherwise) {
  start(echo_ok, {}, DtlsBinding::automatic);
  auto c = connect();
  send(c, con_get(42, "r1"));
  Message a = receive(c);
  EXPECT_EQ(a.type, coap::Type::ack);
  EXPECT_EQ(a.mid, 42);
  EXPECT_EQ(text_option(a, opts::m2m_rqi), "r1");
  // The session stays CoAP: a later HTTP request reads as a malformed
  // CoAP CON ('G' = version 1, CON, TKL 7; MID "T " = 0x5420; then option
  // length nibble 15 in '/'), which is reset.
  const std::string get = "GET /x HTTP/1.1\r\nHost: h\r\nX-M2M-RI: r2\r\n\r\n";
  send_raw(c, Bytes(get.begin(), get.end()));
  Message r = receive(c);
  EXPECT_EQ(r.type, coap::Type::rst);
  EXPECT_EQ(r.mid, 0x5420);
  send(c, con_get(43, "r3"));
  EXPECT_EQ(receive(c).mid, 43);
  EXPECT_EQ(calls_.load(), 2);
}

TEST_F(CoapDtls, HttpBindingServesHttp) {
  start(echo_ok, {}, DtlsBinding::http);
  auto c = connect();
  const std::string get = "GET /x HTTP/1.1\r\nHost: h\r\nX-M2M-Origin: o\r\nX-M2M-RI: r1\r\n\r\n";
  send_raw(c, Bytes(get.begin(), get.end()));
  const Bytes r = receive_raw(c);
  EXPECT_TRUE(std::string(r.begin(), r.end()).starts_with("HTTP/1.1 200"));
}

TEST(CoapDtlsBinding, LooksLikeHttp) {
  auto looks = [](std::string_view s) {
    return looks_like_http(std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
  };
  for (const char* yes : {"GET / HTTP/1.1", "POST /mef HTTP/1.1", "PUT ", "DELETE /x", "HEAD /", "OPTIONS *",
                          "PATCH /x"}) {
    EXPECT_TRUE(looks(yes)) << yes;
  }
  for (const char* no : {"", "GET", "GET/", "get / HTTP/1.1", "CONNECT h:1 HTTP/1.1", "TRACE / HTTP/1.1", " GET /"}) {
    EXPECT_FALSE(looks(no)) << no;
  }
  // A CoAP request may start with 'G' (CON, TKL 7: this token is
  // "tk17748"), but its second byte is a method code 0.01-0.04, never the
  // letter after it.
  auto bytes = coap::encode(con_get(0x4554, "r"));
  ASSERT_TRUE(bytes.has_value());
  ASSERT_EQ((*bytes)[0], 'G');
  EXPECT_FALSE(looks_like_http(*bytes));
}

TEST(CoapDtlsBinding, Names) {
  EXPECT_EQ(parse_dtls_binding("coap").value(), DtlsBinding::coap);
  EXPECT_EQ(parse_dtls_binding("http").value(), DtlsBinding::http);
  EXPECT_EQ(parse_dtls_binding("auto").value(), DtlsBinding::automatic);
  EXPECT_EQ(parse_dtls_binding("automatic").error().code(), Errc::invalid_argument);
  EXPECT_EQ(parse_dtls_binding("").error().code(), Errc::invalid_argument);
  for (auto b : {DtlsBinding::coap, DtlsBinding::http, DtlsBinding::automatic}) {
    EXPECT_EQ(parse_dtls_binding(dtls_binding_name(b)).value(), b);
  }
}

// --- CoapClient -------------------------------------------------------------

class CoapClientCall : public DtlsPeer {
 protected:
  // start_scripted answers the first datagram of a session with the
  // datagrams |script| makes of it (in order), then reads (and records)
  // whatever else comes, answering nothing.
  using Script = std::function<std::vector<Message>(const Message& request)>;
  void start_scripted(Script script) {
    start_raw([script](std::shared_ptr<tls::Session> s) {
      s->async_read([s, script](Result<Bytes> first) { answer_first(s, script, first); });
    });
  }

  // start_dropping_first ignores the first datagram of a session, then
  // serves CoAP: a lost request.
  void start_dropping_first(RequestHandler handler) {
    start_raw([this, handler](std::shared_ptr<tls::Session> s) {
      s->async_read([this, s, handler](Result<Bytes> first) {
        if (!first) return;
        serve_coap(s, [this, handler](const Request& req, Reply reply) {
          ++calls_;
          handler(req, std::move(reply));
        });
      });
    });
  }

 private:
  // Out of line: inlined into the read callback, g++ 12 at -O3 warns
  // (falsely) that the Result<Bytes> may be used uninitialized.
  [[gnu::noinline]] static void answer_first(std::shared_ptr<tls::Session> s, const Script& script,
                                             const Result<Bytes>& first) {
    if (!first) return;
    auto req = coap::decode(*first);
    auto out = std::make_shared<std::deque<Message>>();
    if (req) {
      for (auto& m : script(*req)) out->push_back(std::move(m));
    }
    write_then_read(s, out);
  }
  static void write_then_read(std::shared_ptr<tls::Session> s, std::shared_ptr<std::deque<Message>> out) {
    if (out->empty()) return read_forever(s);
    auto bytes = coap::encode(out->front());
    out->pop_front();
    if (!bytes) return read_forever(s);
    s->async_write(std::move(*bytes), [s, out](Status st) {
      if (st) write_then_read(s, out);
    });
  }
  static void read_forever(std::shared_ptr<tls::Session> s) {
    s->async_read([s](Result<Bytes> b) {
      if (b) read_forever(s);
    });
  }
};

Request retrieve(std::string to = "/cse") {
  Request req;
  req.op = Operation::retrieve;
  req.to = std::move(to);
  req.from = "CAE1";
  return req;
}

// A piggybacked answer to |req| (RFC 7252 5.2.1), as serve_coap would.
Message piggybacked(const Message& req, Rsc rsc) {
  Message a = coap::from_response(Response{rsc, text_option(req, opts::m2m_rqi), {{"ok", true}}});
  a.type = coap::Type::ack;
  a.mid = req.mid;
  a.token = req.token;
  return a;
}

TEST_F(CoapClientCall, RoundTrip) {
  start([](const Request& req, Reply reply) {
    reply(ok_response(req, Rsc::created, {{"op", static_cast<int>(req.op)}, {"ty", req.ty}, {"in", req.content}}));
  });
  auto conn = connect();
  CoapClient client(conn, kWait);
  EXPECT_EQ(client.binding(), Binding::coap);
  Request req;
  req.op = Operation::create;
  req.to = "/mef";
  req.from = "C1";
  req.ty = 2;
  req.content = {{"m2m:ae", {{"rn", "a"}}}};
  auto rsp = client.call(req);
  ASSERT_TRUE(rsp.has_value()) << rsp.error().message();
  EXPECT_EQ(rsp->rsc, Rsc::created);
  EXPECT_EQ(rsp->rqi, "m2msec-1") << "a fresh Request Identifier";
  EXPECT_EQ(rsp->content["op"], 1);
  EXPECT_EQ(rsp->content["ty"], 2);
  EXPECT_EQ(rsp->content["in"], req.content);
  auto again = client.call(retrieve());
  ASSERT_TRUE(again.has_value()) << again.error().message();
  EXPECT_EQ(again->rqi, "m2msec-2");
  Request own = retrieve();
  own.rqi = "mine";
  EXPECT_EQ(client.call(own)->rqi, "mine");
  EXPECT_EQ(calls_.load(), 3);
  EXPECT_EQ(client.call_plain(retrieve()).error().code(), Errc::invalid_argument);
  // Every request went out confirmable with an 8-byte token.
  for (const auto& m : seen()) {
    EXPECT_EQ(m.type, coap::Type::con);
    EXPECT_EQ(m.token.size(), 8u);
  }
}

TEST_F(CoapClientCall, ErrorStatusIsASuccessfulCall) {
  start([](const Request& req, Reply reply) { reply(error_response(req, Rsc::not_found, "no such thing")); });
  auto conn = connect();
  CoapClient client(conn, kWait);
  auto rsp = client.call(retrieve("/nothing"));
  ASSERT_TRUE(rsp.has_value()) << rsp.error().message();
  EXPECT_EQ(rsp->rsc, Rsc::not_found);
  EXPECT_EQ(rsp->content["m2m:dbg"], "no such thing");
}

TEST_F(CoapClientCall, LargeRequestAndResponseGoBlockWise) {
  const nlohmann::json in = big_json(3 * 1024), out = big_json(2000);
  start([in, out](const Request& req, Reply reply) {
    if (req.content != in) return reply(error_response(req, Rsc::bad_request, "not what was sent"));
    reply(ok_response(req, Rsc::ok, out));
  });
  auto conn = connect();
  CoapClient client(conn, kWait);
  Request req;
  req.op = Operation::notify;
  req.to = "/ae";
  req.content = in;
  auto rsp = client.call(req);
  ASSERT_TRUE(rsp.has_value()) << rsp.error().message();
  EXPECT_EQ(rsp->rsc, Rsc::ok);
  EXPECT_EQ(rsp->content, out);
  EXPECT_EQ(calls_.load(), 1);
  // On the wire: 6 Block1 blocks (Size1 with the first), then Block2
  // requests for blocks 1..3 of the 2000-byte answer. (A retransmission,
  // should a slow machine cause one, is the same message: skipped.)
  std::vector<Message> msgs;
  for (auto& m : seen()) {
    if (msgs.empty() || msgs.back().mid != m.mid) msgs.push_back(std::move(m));
  }
  ASSERT_EQ(msgs.size(), 6u + 3u);
  for (std::uint32_t i = 0; i < 6; ++i) {
    coap::Block b = block_option(msgs[i], opts::block1);
    EXPECT_EQ(b.num, i);
    EXPECT_EQ(b.more, i < 5);
    EXPECT_EQ(msgs[i].find(opts::block2), nullptr);
    EXPECT_EQ(msgs[i].find(opts::size1) != nullptr, i == 0);
    if (i == 0) {
      EXPECT_EQ(uint_option(msgs[i], opts::size1), 3u * 1024u);
    }
  }
  for (std::uint32_t i = 1; i <= 3; ++i) {
    const Message& m = msgs[5 + i];
    EXPECT_EQ(block_option(m, opts::block2).num, i);
    EXPECT_EQ(m.find(opts::block1), nullptr);
    EXPECT_TRUE(m.payload.empty());
    EXPECT_EQ(text_option(m, opts::m2m_rqi), text_option(msgs[0], opts::m2m_rqi));
  }
}

// RFC 7959 2.5: a server may answer the first Block1 block with a 2.31
// naming a smaller size; the client goes on from the same byte offset in
// that size (block number = offset / new size). The server here answers
// every block itself (2.31, then 2.04 with an RSC) and asks for 64 bytes.
TEST_F(CoapClientCall, Block1ShrinksToTheSizeTheServerAsks) {
  start_raw([](std::shared_ptr<tls::Session> s) {
    // The loop holds itself only through its pending callbacks (weakly in
    // its own body), so it goes away with the session's last read.
    auto loop = std::make_shared<std::function<void()>>();
    *loop = [s, weak = std::weak_ptr<std::function<void()>>(loop)] {
      auto self = weak.lock();
      if (!self) return;
      s->async_read([s, loop = std::move(self)](Result<Bytes> in) {
        if (!in) return;
        auto req = coap::decode(*in);
        if (!req) return (*loop)();
        auto blk = coap::parse_block(req->find(opts::block1)->value);
        Message a;
        a.type = coap::Type::ack;
        a.mid = req->mid;
        a.token = req->token;
        if (blk->more) {
          a.code = coap::codes::continue_;
          a.add(opts::block1, coap::encode_block({blk->num, true, std::min(blk->szx, 2u)}));
        } else {
          a = piggybacked(*req, Rsc::updated);
        }
        s->async_write(*coap::encode(a), [loop](Status) { (*loop)(); });
      });
    };
    (*loop)();
  });
  auto conn = connect();
  CoapClient client(conn, kWait);
  Request req = retrieve();
  req.op = Operation::update;
  req.content = big_json(1500);
  const std::string body = req.content.dump();
  auto rsp = client.call(req);
  ASSERT_TRUE(rsp.has_value()) << rsp.error().message();
  EXPECT_EQ(rsp->rsc, Rsc::updated);
  auto msgs = seen();
  ASSERT_GE(msgs.size(), 3u);
  std::string joined;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    auto blk = coap::parse_block(msgs[i].find(opts::block1)->value);
    ASSERT_TRUE(blk.has_value());
    EXPECT_EQ(blk->szx, i == 0 ? coap::kBlockSzx : 2u) << "block " << i;
    EXPECT_EQ(static_cast<std::size_t>(blk->num) * blk->size(), offset) << "block " << i;
    offset += msgs[i].payload.size();
    joined += msgs[i].payload;
  }
  EXPECT_EQ(msgs[0].payload.size(), 512u);
  EXPECT_EQ(msgs[1].payload.size(), 64u);
  EXPECT_EQ(joined, body);
}

TEST_F(CoapClientCall, RetransmitsWhenTheFirstDatagramIsLost) {
  start_dropping_first(echo_ok);
  auto conn = connect();
  CoapClient client(conn, kWait, CoapTiming{100ms, 1.5, 4});
  auto rsp = client.call(retrieve());
  ASSERT_TRUE(rsp.has_value()) << rsp.error().message();
  EXPECT_EQ(rsp->rsc, Rsc::ok);
  EXPECT_EQ(calls_.load(), 1);
  // RFC 7252 4.2: the retransmission is the same message, MID and all.
  auto raw = seen_raw();
  ASSERT_GE(raw.size(), 2u);
  EXPECT_EQ(raw[0], raw[1]);
}

TEST_F(CoapClientCall, GivesUpAfterMaxRetransmit) {
  start_scripted([](const Message&) { return std::vector<Message>{}; });  // never answers
  auto conn = connect();
  CoapClient client(conn, 60s, CoapTiming{20ms, 1.0, 2});
  auto rsp = client.call(retrieve());
  ASSERT_FALSE(rsp.has_value());
  EXPECT_EQ(rsp.error().code(), Errc::timeout);
  // The first transmission and two retransmissions, all the same bytes.
  ASSERT_TRUE(wait_seen(3));
  auto raw = seen_raw();
  EXPECT_EQ(raw.size(), 3u);
  EXPECT_EQ(raw[0], raw[1]);
  EXPECT_EQ(raw[0], raw[2]);
}

TEST_F(CoapClientCall, TimesOutWhenNothingAnswers) {
  start_scripted([](const Message&) { return std::vector<Message>{}; });
  auto conn = connect();
  CoapClient client(conn, 300ms, CoapTiming{100ms, 1.5, 4});
  auto rsp = client.call(retrieve());
  ASSERT_FALSE(rsp.has_value());
  EXPECT_EQ(rsp.error().code(), Errc::timeout);
}

TEST_F(CoapClientCall, ResetFailsTheCall) {
  start_scripted([](const Message& req) {
    Message rst;
    rst.type = coap::Type::rst;
    rst.mid = req.mid;
    return std::vector<Message>{rst};
  });
  auto conn = connect();
  CoapClient client(conn, kWait);
  auto rsp = client.call(retrieve());
  ASSERT_FALSE(rsp.has_value());
  EXPECT_EQ(rsp.error().code(), Errc::malformed_message);
}

TEST_F(CoapClientCall, ResetFromServeCoapFailsTheExchange) {
  start(echo_ok);
  auto conn = connect();
  CoapClient client(conn, kWait);
  // A "request" with a response code: serve_coap resets a CON it cannot
  // take as a request.
  Message m;
  m.code = codes::content;
  auto rsp = client.exchange(m);
  ASSERT_FALSE(rsp.has_value());
  EXPECT_EQ(rsp.error().code(), Errc::malformed_message);
  // The connection still works.
  EXPECT_TRUE(client.call(retrieve()).has_value());
}

TEST_F(CoapClientCall, SeparateResponseIsAcknowledged) {
  // RFC 7252 5.2.2: an empty ACK first, the response later as a CON of its
  // own with the request's token; the client ACKs it.
  start_scripted([](const Message& req) {
    Message ack;
    ack.type = coap::Type::ack;
    ack.mid = req.mid;
    Message rsp = piggybacked(req, Rsc::ok);
    rsp.type = coap::Type::con;
    rsp.mid = static_cast<std::uint16_t>(req.mid + 1000);
    return std::vector<Message>{ack, rsp};
  });
  auto conn = connect();
  CoapClient client(conn, kWait);  // default timing: no retransmission to muddle what the server saw
  auto rsp = client.call(retrieve());
  ASSERT_TRUE(rsp.has_value()) << rsp.error().message();
  EXPECT_EQ(rsp->rsc, Rsc::ok);
  EXPECT_EQ(rsp->content["ok"], true);
  ASSERT_TRUE(wait_seen(2));
  auto msgs = seen();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[1].type, coap::Type::ack);
  EXPECT_EQ(msgs[1].mid, static_cast<std::uint16_t>(msgs[0].mid + 1000));
  EXPECT_TRUE(coap::is_empty(msgs[1]));
}

TEST_F(CoapClientCall, NonSeparateResponseIsTaken) {
  start_scripted([](const Message& req) {
    Message ack;
    ack.type = coap::Type::ack;
    ack.mid = req.mid;
    Message rsp = piggybacked(req, Rsc::deleted);
    rsp.type = coap::Type::non;
    rsp.mid = 1;
    return std::vector<Message>{ack, rsp};
  });
  auto conn = connect();
  CoapClient client(conn, kWait);
  auto rsp = client.call(retrieve());
  ASSERT_TRUE(rsp.has_value()) << rsp.error().message();
  EXPECT_EQ(rsp->rsc, Rsc::deleted);
}

TEST_F(CoapClientCall, UnrelatedMessagesAreSkipped) {
  start_scripted([](const Message& req) {
    std::vector<Message> out;
    // An ACK for another MID, a response with another token (a CON, which
    // the client resets), a datagram that is not CoAP, then the answer.
    Message other = piggybacked(req, Rsc::not_found);
    other.mid = static_cast<std::uint16_t>(req.mid + 1);
    out.push_back(other);
    Message stray = piggybacked(req, Rsc::not_found);
    stray.type = coap::Type::con;
    stray.mid = 7;
    stray.token = "other";
    out.push_back(stray);
    Message wrong_token = piggybacked(req, Rsc::not_found);
    wrong_token.token = "nope";
    out.push_back(wrong_token);
    out.push_back(piggybacked(req, Rsc::ok));
    return out;
  });
  auto conn = connect();
  CoapClient client(conn, kWait);
  auto rsp = client.call(retrieve());
  ASSERT_TRUE(rsp.has_value()) << rsp.error().message();
  EXPECT_EQ(rsp->rsc, Rsc::ok);
  // The stray CON was reset (RFC 7252 4.2).
  ASSERT_TRUE(wait_seen(2));
  auto msgs = seen();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[1].type, coap::Type::rst);
  EXPECT_EQ(msgs[1].mid, 7);
}

TEST_F(CoapClientCall, ResponseWithoutRscIsMalformed) {
  // A CoAP server that is not oneM2M answers 4.04 without oneM2M-RSC.
  start_scripted([](const Message& req) {
    Message a;
    a.type = coap::Type::ack;
    a.code = codes::not_found;
    a.mid = req.mid;
    a.token = req.token;
    return std::vector<Message>{a};
  });
  auto conn = connect();
  CoapClient client(conn, kWait);
  auto rsp = client.call(retrieve());
  ASSERT_FALSE(rsp.has_value());
  EXPECT_EQ(rsp.error().code(), Errc::malformed_message);
}

TEST_F(CoapClientCall, OpenChannel) {
  start(echo_ok);
  auto conn = connect();
  auto ch = open_channel(Binding::coap, conn, kFqdn, kWait);
  ASSERT_NE(ch, nullptr);
  EXPECT_EQ(ch->binding(), Binding::coap);
  auto rsp = ch->call(retrieve());
  ASSERT_TRUE(rsp.has_value()) << rsp.error().message();
  EXPECT_EQ(rsp->content["to"], "/cse");
  EXPECT_EQ(rsp->content["from"], "CAE1");
}

}  // namespace
}  // namespace m2msec::proto
