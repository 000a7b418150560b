// MAF Key Push over a real link::Link to a stand-in Entity B (a TlsServer
// on loopback serving HTTP as cse1.sp.example.com, client certificates
// required; the tls tests' PKI, where the MAF is maf.example.com). The
// MAF's key registrations run through MafService::handle on constructed
// sessions and a real SQLite store; what the stand-in records is what
// reached Entity B.
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <map>

#include "../service/service_harness.h"
#include "../tls/tls_harness.h"
#include "maf_test_util.h"
#include "stub_peer.h"
#include "m2msec/core/encoding.h"
#include "m2msec/maf/maf.h"
#include "m2msec/proto/http_server.h"
#include "m2msec/proto/messages.h"

namespace m2msec::maf {
namespace {

using namespace std::chrono_literals;
using namespace service::testing;
using proto::Operation;

using testing::kKmId;

// How StubEntityB answers a batch.
enum class BatchAnswer {
  results,        // 2000, 2001 per key
  refuse_4000,    // as an Entity B that knows only sec:mkp
  refuse_4103,    // refused, but not for its form
  short_results,  // 2000 with fewer results than keys
};

// StubEntityB answers CREATE /mafKeys: a single push (sec:mkp) with 2001,
// a batch (sec:mkb) as set_batch_answer() says; hold_next() and release()
// as StubPeer's.
class StubEntityB {
 public:
  explicit StubEntityB(BatchAnswer batch_answer)
      : batch_answer_(batch_answer),
        peer_("cse1.sp.example.com", "cse",
              [this](const proto::Request& req, const proto::Reply& reply) { answer(req, reply); }) {}

  std::uint16_t port() const { return peer_.port(); }
  void set_batch_answer(BatchAnswer a) { batch_answer_ = a; }
  void hold_next() { peer_.hold_next(); }
  void release() { peer_.release(); }
  bool wait_requests(std::size_t n) { return peer_.wait_requests(n); }
  std::vector<nlohmann::json> bodies() {
    std::vector<nlohmann::json> out;
    for (const proto::Request& r : peer_.requests()) out.push_back(r.content);
    return out;
  }

 private:
  void answer(const proto::Request& req, const proto::Reply& reply) {
    if (!req.content.contains("sec:mkb")) return reply(proto::ok_response(req, proto::Rsc::created, nullptr));
    proto::MafKeyPushResults r;
    r.rsc.assign(req.content["sec:mkb"]["mkp"].size(), static_cast<int>(proto::Rsc::created));
    switch (batch_answer_.load()) {
      case BatchAnswer::results:
        return reply(proto::ok_response(req, proto::Rsc::ok, r.to_json()));
      case BatchAnswer::refuse_4000:
        return reply(proto::error_response(req, proto::Rsc::bad_request, "missing object sec:mkp"));
      case BatchAnswer::refuse_4103:
        return reply(proto::error_response(req, proto::Rsc::originator_has_no_privilege, "not now"));
      case BatchAnswer::short_results:
        r.rsc.pop_back();
        return reply(proto::ok_response(req, proto::Rsc::ok, r.to_json()));
    }
  }

  std::atomic<BatchAnswer> batch_answer_;
  testing::StubPeer peer_;  // last: it answers through the member above
};

class MafPushTest : public testing::LinkedMafTest {
 protected:
  void start(std::uint16_t cse_port) {
    MafConfig cfg = testing::test_config();
    // A held push must stay in flight for as long as a test holds it.
    cfg.link_timeout = cfg.push_timeout = 30s;
    cfg.cses.push_back({"/cse1", "cse1.sp.example.com", "127.0.0.1:" + std::to_string(cse_port)});
    start_service(cfg);
    testing::add_test_client(*store_);
  }

  // register_key starts a key registration naming /cse1 on a session whose
  // exporter gave |start|, |start|+1, ...; the future is its answer.
  std::future<proto::Response> register_key(std::uint8_t start) {
    auto p = std::make_shared<std::promise<proto::Response>>();
    auto f = p->get_future();
    const nlohmann::json body = {
        {"sec:mkr", {{"fqdn", "maf.example.com"}, {"suid", proto::kSuidMafSaef}, {"tids", {"/cse1"}}}}};
    svc_->handle(psk_ctx(kKmId, exported_bytes(start)),
                 request(Operation::create, "/maf", "/dev-1", body, proto::kTyMafKeyReg),
                 [p](proto::Response r) { p->set_value(std::move(r)); });
    return f;
  }

  // Held is a registration whose push Entity B holds, and the
  // registrations started after it (their keys wait behind it).
  struct Held {
    std::future<proto::Response> first;
    std::vector<std::future<proto::Response>> rest;
  };
  Held hold_first_push(StubEntityB& cse, std::uint8_t first, const std::vector<std::uint8_t>& rest) {
    cse.hold_next();
    const std::size_t before = cse.bodies().size();
    Held h{register_key(first), {}};
    EXPECT_TRUE(cse.wait_requests(before + 1)) << "the first push did not arrive";
    for (std::uint8_t s : rest) h.rest.push_back(register_key(s));
    return h;
  }

  // wait_queued waits until |n| keys wait for the push in flight.
  bool wait_queued(std::size_t n) {
    for (auto until = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < until;) {
      if (svc_->push_stats().queued == n) return true;
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }

  // The KcID pushed for the session whose exporter started at |start|:
  // base64 of its first 16 bytes (10.3.1).
  static std::string kc_id(std::uint8_t start) {
    std::vector<std::uint8_t> rel(16);
    for (std::size_t i = 0; i < rel.size(); ++i) rel[i] = static_cast<std::uint8_t>(start + i);
    return base64_encode(rel) + "@maf.example.com";
  }

  // The Kc of that session, in hex: its last 32 bytes (10.3.1).
  static std::string kc_hex(std::uint8_t start) {
    std::vector<std::uint8_t> kc(32);
    for (std::size_t i = 0; i < kc.size(); ++i) kc[i] = static_cast<std::uint8_t>(start + 16 + i);
    return hex_encode(kc);
  }

};

// The keys committed while a push is in flight go to Entity B together, in
// one request, and each registration is answered only once its key's push
// has ended.
TEST_F(MafPushTest, KeysCommittedDuringAPushGoInOneBatch) {
  StubEntityB cse(BatchAnswer::results);
  start(cse.port());
  Held h = hold_first_push(cse, 100, {10, 40, 160});
  ASSERT_TRUE(wait_queued(3));
  for (auto& f : h.rest) EXPECT_EQ(f.wait_for(0ms), std::future_status::timeout) << "answered before its push";
  EXPECT_EQ(h.first.wait_for(0ms), std::future_status::timeout) << "answered before its push";
  cse.release();
  ASSERT_EQ(rsc(h.first.get()), 2001);
  for (auto& f : h.rest) ASSERT_EQ(rsc(f.get()), 2001);

  const std::vector<nlohmann::json> bodies = cse.bodies();
  ASSERT_EQ(bodies.size(), 2u);
  auto one = proto::MafKeyPush::from_json(bodies[0]);
  ASSERT_TRUE(one) << bodies[0].dump();
  EXPECT_EQ(one->kc_id, kc_id(100));
  EXPECT_EQ(hex_encode(one->key.view()), kc_hex(100));
  auto batch = proto::MafKeyPushBatch::from_json(bodies[1]);
  ASSERT_TRUE(batch) << batch.error().message();
  std::map<std::string, std::string> keys;  // KcID -> Kc (hex)
  for (const proto::MafKeyPush& k : batch->keys) {
    keys[k.kc_id] = hex_encode(k.key.view());
    EXPECT_EQ(k.source_id, "/dev-1");
  }
  EXPECT_EQ(keys, (std::map<std::string, std::string>{
                      {kc_id(10), kc_hex(10)}, {kc_id(40), kc_hex(40)}, {kc_id(160), kc_hex(160)}}));
  const MafService::PushStats st = svc_->push_stats();
  EXPECT_EQ(st.requests, 2u);
  EXPECT_EQ(st.keys, 4u);
  EXPECT_EQ(st.queued, 0u);
}

// Behind a push that does not end (a slow Entity B), a full batch of keys
// goes in a second request at once rather than waiting.
TEST_F(MafPushTest, AFullBatchDoesNotWaitBehindASlowPush) {
  StubEntityB cse(BatchAnswer::results);
  start(cse.port());
  std::vector<std::uint8_t> starts;
  for (std::size_t i = 0; i < proto::kMaxPushBatch; ++i) starts.push_back(static_cast<std::uint8_t>(3 * i));
  Held h = hold_first_push(cse, 100, starts);
  ASSERT_TRUE(cse.wait_requests(2)) << "the full batch waited behind the held push";
  for (auto& f : h.rest) ASSERT_EQ(rsc(f.get()), 2001);
  EXPECT_EQ(h.first.wait_for(0ms), std::future_status::timeout) << "answered before its push";
  auto batch = proto::MafKeyPushBatch::from_json(cse.bodies()[1]);
  ASSERT_TRUE(batch) << batch.error().message();
  EXPECT_EQ(batch->keys.size(), proto::kMaxPushBatch);
  cse.release();
  ASSERT_EQ(rsc(h.first.get()), 2001);
  EXPECT_EQ(svc_->push_stats().requests, 2u);
}

// kinds lists the body kind of each request Entity B received.
std::vector<std::string> kinds(StubEntityB& cse) {
  std::vector<std::string> out;
  for (const nlohmann::json& b : cse.bodies()) out.push_back(b.begin().key());
  return out;
}

// An Entity B that refuses a batch (4000, as one that knows only sec:mkp
// answers) gets those keys one per request, and no batch again.
TEST_F(MafPushTest, AnEntityBThatRefusesABatchGetsOneKeyPerRequest) {
  StubEntityB cse(BatchAnswer::refuse_4000);
  start(cse.port());
  for (std::uint8_t round = 0; round < 2; ++round) {
    Held h = hold_first_push(cse, 100 + round, {static_cast<std::uint8_t>(10 + round), static_cast<std::uint8_t>(60 + round)});
    ASSERT_TRUE(wait_queued(2));
    cse.release();
    ASSERT_EQ(rsc(h.first.get()), 2001);
    for (auto& f : h.rest) ASSERT_EQ(rsc(f.get()), 2001);
  }
  // Round 1: the held push, the refused batch, then its two keys alone;
  // round 2: three single pushes.
  EXPECT_EQ(kinds(cse), (std::vector<std::string>{"sec:mkp", "sec:mkb", "sec:mkp", "sec:mkp", "sec:mkp", "sec:mkp",
                                                  "sec:mkp"}));
}

// A batch refused for another reason, or answered without one result per
// key, costs only that push: its registrations are answered, and the next
// keys still go in batches.
TEST_F(MafPushTest, ABatchRefusedOrAnsweredWithoutResultsStillAnswersItsRegistrations) {
  StubEntityB cse(BatchAnswer::refuse_4103);
  start(cse.port());
  const std::vector<BatchAnswer> rounds = {BatchAnswer::refuse_4103, BatchAnswer::short_results, BatchAnswer::results};
  for (std::uint8_t round = 0; round < rounds.size(); ++round) {
    cse.set_batch_answer(rounds[round]);
    Held h = hold_first_push(cse, 100 + round, {static_cast<std::uint8_t>(10 + round), static_cast<std::uint8_t>(60 + round)});
    ASSERT_TRUE(wait_queued(2));
    cse.release();
    ASSERT_EQ(rsc(h.first.get()), 2001);
    for (auto& f : h.rest) ASSERT_EQ(rsc(f.get()), 2001) << "round " << int(round);
  }
  EXPECT_EQ(kinds(cse), (std::vector<std::string>{"sec:mkp", "sec:mkb", "sec:mkp", "sec:mkb", "sec:mkp", "sec:mkb"}));
}

// push_timeout_ms: 500 ms unless set, 10 ms to 600 s; anything else is
// refused at load, naming the key.
TEST(MafConfigTest, PushTimeoutIsBounded) {
  TempDir dir;
  auto load = [&](const std::string& extra) {
    const std::string path = dir.file("maf.toml");
    std::ofstream(path) << "[maf]\nfqdn = \"maf.example.com\"\nsp_domain = \"sp.example.com\"\ndata_dir = \"d\"\n"
                        << extra;
    auto file = service::ConfigFile::load(path);
    EXPECT_TRUE(file);
    return load_maf_config(*file);
  };
  auto plain = load("");
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_EQ(plain->push_timeout, 500ms);
  auto set = load("push_timeout_ms = 50\n");
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(set->push_timeout, 50ms);
  for (const char* bad : {"push_timeout_ms = 9\n", "push_timeout_ms = 600001\n", "push_timeout_ms = \"fast\"\n"}) {
    auto c = load(bad);
    ASSERT_FALSE(c) << bad;
    EXPECT_NE(c.error().message().find("push_timeout_ms"), std::string::npos) << c.error().message();
  }
}

}  // namespace
}  // namespace m2msec::maf
