// MAF Key Push over a real link::Link to a stand-in Entity B (a TlsServer
// on loopback serving HTTP as cse1.sp.example.com, client certificates
// required; the tls tests' PKI, where the MAF is maf.example.com). The
// MAF's key registrations run through MafService::handle on constructed
// sessions and a real SQLite store; what the stand-in records is what
// reached Entity B.
#include <gtest/gtest.h>

#include <condition_variable>
#include <fstream>
#include <future>
#include <set>

#include "../service/service_harness.h"
#include "../tls/tls_harness.h"
#include "maf_test_util.h"
#include "m2msec/maf/maf.h"
#include "m2msec/proto/http_server.h"
#include "m2msec/proto/messages.h"

namespace m2msec::maf {
namespace {

using namespace std::chrono_literals;
using namespace service::testing;
using proto::Operation;
using tls::test::cert;
using tls::test::trust;

using testing::kKmId;

// StubEntityB answers CREATE /mafKeys: a single push (sec:mkp) with 2001;
// a batch (sec:mkb) with 2001 per key, or with 4000 when it does not take
// batches (as an Entity B that predates them). With hold_next(), the next
// request waits until release().
class StubEntityB {
 public:
  explicit StubEntityB(bool takes_batches)
      : takes_batches_(takes_batches), server_(start([this](std::shared_ptr<tls::Session> s) {
          proto::serve_http(std::move(s), [this](const proto::Request& req, proto::Reply reply) {
            std::unique_lock lock(mu_);
            bodies_.push_back(req.content);
            cv_.notify_all();
            if (hold_) {
              hold_ = false;
              held_.emplace_back(req, std::move(reply));
              return;
            }
            lock.unlock();
            answer(req, reply);
          });
        })) {}
  ~StubEntityB() {
    release();
    server_->stop();
  }

  std::uint16_t port() const { return server_->port(); }
  void hold_next() {
    std::lock_guard lock(mu_);
    hold_ = true;
  }
  void release() {
    std::vector<std::pair<proto::Request, proto::Reply>> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
    }
    for (auto& [req, reply] : held) answer(req, reply);
  }
  bool wait_requests(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return bodies_.size() >= n; });
  }
  std::vector<nlohmann::json> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }

 private:
  static std::unique_ptr<tls::TlsServer> start(std::function<void(std::shared_ptr<tls::Session>)> on_session) {
    tls::ServerOptions o;
    tls::ServerAuthority a;
    a.fqdn = "cse1.sp.example.com";
    a.certificate = cert("cse");
    a.client_trust = trust();
    a.client_auth = tls::ClientAuth::required;
    o.authorities.push_back(std::move(a));
    o.threads = 1;
    o.handshake_timeout = 5s;
    o.on_session = std::move(on_session);
    auto server = tls::TlsServer::create(std::move(o));
    if (!server) {
      ADD_FAILURE() << server.error().message();
      std::abort();
    }
    (*server)->start();
    return std::move(*server);
  }

  void answer(const proto::Request& req, const proto::Reply& reply) const {
    if (!req.content.contains("sec:mkb")) return reply(proto::ok_response(req, proto::Rsc::created, nullptr));
    if (!takes_batches_) return reply(proto::error_response(req, proto::Rsc::bad_request, "missing sec:mkp"));
    proto::MafKeyPushResults r;
    r.rsc.assign(req.content["sec:mkb"]["mkp"].size(), static_cast<int>(proto::Rsc::created));
    reply(proto::ok_response(req, proto::Rsc::ok, r.to_json()));
  }

  const bool takes_batches_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  std::vector<nlohmann::json> bodies_;
  std::vector<std::pair<proto::Request, proto::Reply>> held_;
  std::unique_ptr<tls::TlsServer> server_;  // last: started after the members it uses
};

class MafPushTest : public ::testing::Test {
 protected:
  void start(std::uint16_t cse_port) {
    store_ = store::testing::open_store(dir_.file("maf.db"));
    ASSERT_TRUE(store_);
    MafConfig cfg = testing::test_config();
    // A held push must stay in flight for as long as a test holds it.
    cfg.link_timeout = cfg.push_timeout = 30s;
    cfg.cses.push_back({"/cse1", "cse1.sp.example.com", "127.0.0.1:" + std::to_string(cse_port)});
    link::LinkOptions lo;
    lo.certificate = cert("maf");
    lo.trust = trust();
    auto l = link::Link::create(std::move(lo));
    ASSERT_TRUE(l);
    link_ = std::move(*l);
    svc_ = std::make_unique<MafService>(cfg, *store_, *pool_, link_.get());
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

  void TearDown() override {
    if (svc_) svc_->close();
    pool_.reset();
  }

  TempDir dir_;
  std::unique_ptr<link::Link> link_;
  std::unique_ptr<service::WorkerPool> pool_ = std::make_unique<service::WorkerPool>(4);
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<MafService> svc_;
};

// The keys committed while a push is in flight go to Entity B together, in
// one request, and each registration is answered only once its key's push
// has ended.
TEST_F(MafPushTest, KeysCommittedDuringAPushGoInOneBatch) {
  StubEntityB cse(/*takes_batches=*/true);
  start(cse.port());
  cse.hold_next();
  auto first = register_key(100);
  ASSERT_TRUE(cse.wait_requests(1));
  std::vector<std::future<proto::Response>> rest;
  for (std::uint8_t s : {10, 40, 160}) rest.push_back(register_key(s));
  ASSERT_TRUE(wait_queued(3));
  for (auto& f : rest) EXPECT_EQ(f.wait_for(0ms), std::future_status::timeout) << "answered before its push";
  EXPECT_EQ(first.wait_for(0ms), std::future_status::timeout) << "answered before its push";
  cse.release();
  ASSERT_EQ(rsc(first.get()), 2001);
  for (auto& f : rest) ASSERT_EQ(rsc(f.get()), 2001);

  const std::vector<nlohmann::json> bodies = cse.bodies();
  ASSERT_EQ(bodies.size(), 2u);
  auto one = proto::MafKeyPush::from_json(bodies[0]);
  ASSERT_TRUE(one) << bodies[0].dump();
  EXPECT_EQ(one->kc_id, kc_id(100));
  auto batch = proto::MafKeyPushBatch::from_json(bodies[1]);
  ASSERT_TRUE(batch) << batch.error().message();
  std::set<std::string> ids;
  for (const proto::MafKeyPush& k : batch->keys) {
    ids.insert(k.kc_id);
    EXPECT_EQ(k.source_id, "/dev-1");
    EXPECT_EQ(k.key.size(), 32u);
  }
  EXPECT_EQ(ids, (std::set<std::string>{kc_id(10), kc_id(40), kc_id(160)}));
  const MafService::PushStats st = svc_->push_stats();
  EXPECT_EQ(st.requests, 2u);
  EXPECT_EQ(st.keys, 4u);
  EXPECT_EQ(st.queued, 0u);
}

// Behind a push that does not end (a slow Entity B), a full batch of keys
// goes in a second request at once rather than waiting.
TEST_F(MafPushTest, AFullBatchDoesNotWaitBehindASlowPush) {
  StubEntityB cse(/*takes_batches=*/true);
  start(cse.port());
  cse.hold_next();
  auto first = register_key(100);
  ASSERT_TRUE(cse.wait_requests(1));
  std::vector<std::future<proto::Response>> rest;
  for (std::size_t i = 0; i < proto::kMaxPushBatch; ++i) rest.push_back(register_key(static_cast<std::uint8_t>(3 * i)));
  ASSERT_TRUE(cse.wait_requests(2)) << "the full batch waited behind the held push";
  for (auto& f : rest) ASSERT_EQ(rsc(f.get()), 2001);
  EXPECT_EQ(first.wait_for(0ms), std::future_status::timeout) << "answered before its push";
  auto batch = proto::MafKeyPushBatch::from_json(cse.bodies()[1]);
  ASSERT_TRUE(batch) << batch.error().message();
  EXPECT_EQ(batch->keys.size(), proto::kMaxPushBatch);
  cse.release();
  ASSERT_EQ(rsc(first.get()), 2001);
  EXPECT_EQ(svc_->push_stats().requests, 2u);
}

// An Entity B that refuses a batch (4000, as one that knows only sec:mkp
// answers) gets those keys one per request, and no batch again.
TEST_F(MafPushTest, AnEntityBThatRefusesABatchGetsOneKeyPerRequest) {
  StubEntityB cse(/*takes_batches=*/false);
  start(cse.port());
  for (int round = 0; round < 2; ++round) {
    cse.hold_next();
    const std::size_t before = cse.bodies().size();
    auto first = register_key(static_cast<std::uint8_t>(100 + round));
    ASSERT_TRUE(cse.wait_requests(before + 1));
    std::vector<std::future<proto::Response>> rest;
    for (std::uint8_t s : {10, 60}) rest.push_back(register_key(static_cast<std::uint8_t>(s + round)));
    ASSERT_TRUE(wait_queued(2));
    cse.release();
    ASSERT_EQ(rsc(first.get()), 2001);
    for (auto& f : rest) ASSERT_EQ(rsc(f.get()), 2001);
  }
  std::vector<std::string> kinds;
  for (const nlohmann::json& b : cse.bodies()) kinds.push_back(b.begin().key());
  // Round 1: the held push, the refused batch, then its two keys alone;
  // round 2: three single pushes.
  EXPECT_EQ(kinds, (std::vector<std::string>{"sec:mkp", "sec:mkb", "sec:mkp", "sec:mkp", "sec:mkp", "sec:mkp",
                                             "sec:mkp"}));
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
