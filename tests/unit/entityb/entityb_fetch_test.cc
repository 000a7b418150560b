// Entity B's key fetches over a real link::Link to a stub MAF (a TlsServer
// on loopback serving HTTP, certificate maf.example.com, client
// certificates required; the tls tests' PKI, where Entity B is
// cse1.sp.example.com). What the stub counts is what reached the MAF.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <thread>

#include "../tls/tls_harness.h"
#include "m2msec/core/encoding.h"
#include "m2msec/entityb/entityb.h"
#include "m2msec/proto/http_server.h"
#include "m2msec/proto/messages.h"

namespace m2msec::entityb {
namespace {

using namespace std::chrono_literals;
using tls::test::cert;
using tls::test::trust;

constexpr const char* kKcId = "AAECAwQFBgcICQoLDA0ODw==@maf.example.com";

// StubMaf answers RETRIEVE /maf/keys/<rel>: 4004 when |refuse|, else a
// Kc for /dev-1 once release() is called. Once released, a DELETE is
// answered 2002 and a de-registration batch with batch_codes(), or 4004
// (no such resource) by a stub without |batches|.
class StubMaf {
 public:
  explicit StubMaf(bool refuse, bool batches = true)
      : refuse_(refuse), batches_(batches), server_(tls::test::start_maf_server([this](std::shared_ptr<tls::Session> s) {
          proto::serve_http(std::move(s), [this](const proto::Request& req, proto::Reply reply) {
            ++requests_;
            if (refuse_) return reply(proto::error_response(req, proto::Rsc::not_found, "no such key"));
            std::lock_guard lock(mu_);
            targets_.push_back(req.to);
            seen_.push_back(req);
            held_.emplace_back(req, std::move(reply));
            cv_.notify_all();
          });
        })) {}
  ~StubMaf() {
    release();
    server_->stop();
  }

  std::uint16_t port() const { return server_->port(); }
  std::vector<std::string> targets() {
    std::lock_guard lock(mu_);
    return targets_;
  }
  std::size_t requests() const { return requests_; }

  bool wait_held(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return held_.size() >= n; });
  }

  void release() {
    std::vector<std::pair<proto::Request, proto::Reply>> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
    }
    for (auto& [req, reply] : held) {
      if (req.op == proto::Operation::del) {
        reply(proto::ok_response(req, proto::Rsc::deleted, nullptr));
      } else if (req.op == proto::Operation::create && batches_) {
        std::lock_guard lock(mu_);
        reply(proto::ok_response(req, proto::Rsc::ok, proto::MafKeyDeregResults{batch_codes_}.to_json()));
      } else if (req.op == proto::Operation::create) {
        reply(proto::error_response(req, proto::Rsc::not_found, "no such resource or operation"));
      } else {
        proto::MafKeyRetrieveResponse k{SecretBytes(std::vector<std::uint8_t>(32, 0x42)), service::now_unix() + 600,
                                        "/dev-1", "sp.example.com", proto::kSuidMafSaef};
        reply(proto::ok_response(req, proto::Rsc::ok, k.to_json()));
      }
    }
  }
  void set_batch_codes(std::vector<int> codes) {
    std::lock_guard lock(mu_);
    batch_codes_ = std::move(codes);
  }
  // seen is every request that reached the stub, in order.
  std::vector<proto::Request> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  const bool refuse_;
  const bool batches_;
  std::vector<int> batch_codes_;
  std::vector<proto::Request> seen_;
  std::atomic<std::size_t> requests_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<proto::Request, proto::Reply>> held_;
  std::vector<std::string> targets_;  // the request targets of the retrievals
  std::unique_ptr<tls::TlsServer> server_;  // last: started after the members it uses
};

class EntityBFetchTest : public ::testing::Test {
 protected:
  void start(std::uint16_t maf_port) {
    CseConfig cfg;
    cfg.listen.fqdn = "cse1.sp.example.com";
    cfg.sp_domain = "sp.example.com";
    cfg.cse_id = "/cse1";
    cfg.csebase = "cb";
    cfg.mafs.push_back({"maf.example.com", "127.0.0.1:" + std::to_string(maf_port)});
    link::LinkOptions lo;
    lo.certificate = cert("cse");
    lo.trust = trust();
    auto l = link::Link::create(std::move(lo));
    ASSERT_TRUE(l);
    link_ = std::move(*l);
    svc_ = std::make_unique<EntityB>(cfg, *pool_, link_.get(), std::map<std::string, CachedKey>{});
  }

  std::future<Result<SecretBytes>> lookup(const std::string& id) {
    auto p = std::make_shared<std::promise<Result<SecretBytes>>>();
    auto f = p->get_future();
    svc_->psk_lookup(tls::PskRequest{id, "cse1.sp.example.com"}, [p](Result<SecretBytes> r) { p->set_value(std::move(r)); });
    return f;
  }

  std::unique_ptr<link::Link> link_;
  // The pool is drained before the service goes: a de-registration job
  // still queued must not outlive the EntityB it belongs to.
  void TearDown() override { pool_.reset(); }

  std::unique_ptr<service::WorkerPool> pool_ = std::make_unique<service::WorkerPool>(4);
  std::unique_ptr<EntityB> svc_;
};

// Issue 10: a forged KcID must not make Entity B dial the MAF each time.
TEST_F(EntityBFetchTest, AKcIdTheMafRefusedIsRefusedWithoutAskingAgain) {
  StubMaf maf(/*refuse=*/true);
  start(maf.port());
  for (int i = 0; i < 5; ++i) {
    auto r = lookup(kKcId).get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::unknown_psk_identity);
  }
  EXPECT_EQ(maf.requests(), 1u);
  EXPECT_EQ(svc_->stats().negative_hits, 4u);
}

// Concurrent handshakes with the same unknown KcID cause one fetch.
TEST_F(EntityBFetchTest, ConcurrentLookupsOfOneKcIdShareOneFetch) {
  StubMaf maf(/*refuse=*/false);
  start(maf.port());
  std::vector<std::future<Result<SecretBytes>>> results;
  for (int i = 0; i < 8; ++i) results.push_back(lookup(kKcId));
  ASSERT_TRUE(maf.wait_held(1));
  maf.release();
  for (auto& f : results) {
    auto r = f.get();
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->size(), 32u);
  }
  EXPECT_EQ(maf.requests(), 1u);
  EXPECT_EQ(svc_->stats().maf_fetches, 1u);
  // The retrieval names this Entity B process as a holder of the key
  // (docs/protocol.md §3.4 "Kc holders"): 16 random bytes in hex.
  const std::vector<std::string> to = maf.targets();
  ASSERT_EQ(to.size(), 1u);
  const std::string prefix = std::string(proto::kMafKeysPrefix) + "AAECAwQFBgcICQoLDA0ODw%3D%3D" +
                             std::string(proto::kHolderQuery);
  ASSERT_TRUE(to[0].starts_with(prefix)) << to[0];
  const std::string holder = to[0].substr(prefix.size());
  EXPECT_EQ(holder.size(), 32u);
  EXPECT_EQ(holder.find_first_not_of("0123456789abcdef"), std::string::npos) << holder;
  EXPECT_EQ(svc_->stats().joined, 7u);
  EXPECT_EQ(link_->stats().handshakes, 1u);
}

// A MAF that cannot be reached says nothing about the KcID: the next
// handshake asks again.
TEST_F(EntityBFetchTest, ATransportFailureIsNotRemembered) {
  std::uint16_t port = 0;
  {
    StubMaf gone(/*refuse=*/true);
    port = gone.port();
  }
  start(port);
  for (int i = 0; i < 2; ++i) {
    auto r = lookup(kKcId).get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::connect_failed);
  }
  EXPECT_EQ(svc_->stats().negative_hits, 0u);
}

// Issue 11: a Kc replayed right after its connection ended was accepted
// (Entity B dropped it, then asked the MAF to delete it; a lookup in
// between fetched it again). Now the KcID is dead at Entity B from the
// moment the last connection ends. The stub holds the de-registration,
// so the MAF still has the key while the replay arrives.
TEST_F(EntityBFetchTest, AKcIsDeadTheMomentItsConnectionEnds) {
  StubMaf maf(/*refuse=*/false);
  start(maf.port());
  auto first = lookup(kKcId);
  ASSERT_TRUE(maf.wait_held(1));
  maf.release();
  ASSERT_TRUE(first.get());

  service::AuthContext ctx;
  ctx.peer.kind = tls::PeerIdentity::Kind::psk;
  ctx.peer.psk_identity = ctx.key_id = kKcId;
  svc_->on_session_start(ctx);
  ASSERT_EQ(ctx.entity_id, "/dev-1");
  ASSERT_TRUE(ctx.key_expires_at.has_value());  // the listener closes the session then
  EXPECT_GT(*ctx.key_expires_at, service::now_unix());
  const std::size_t before = maf.requests();

  svc_->on_session_end(ctx);  // the de-registration now waits at the stub
  ASSERT_TRUE(maf.wait_held(1));
  auto replay = lookup(kKcId).get();
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().code(), Errc::unknown_psk_identity);
  EXPECT_EQ(maf.requests(), before + 1);  // the DELETE only: no fetch
  service::AuthContext late;
  late.peer = ctx.peer;
  svc_->on_session_start(late);  // a handshake that raced the end stays unbound
  EXPECT_EQ(late.entity_id, "");

  maf.release();  // the MAF confirms the delete
  EXPECT_FALSE(lookup(kKcId).get());
}

// Holds a Kc for each of |n| KcIDs (rel i = 16 bytes of i, base64), each
// in a session that has started, for the de-registration tests.
class EntityBDeregTest : public EntityBFetchTest {
 protected:
  void hold_keys(StubMaf& maf, int n) {
    for (int i = 1; i <= n; ++i) {
      const std::string rel = base64_encode(std::vector<std::uint8_t>(16, static_cast<std::uint8_t>(i)));
      auto f = lookup(rel + "@maf.example.com");
      ASSERT_TRUE(maf.wait_held(1));
      maf.release();
      ASSERT_TRUE(f.get());
      service::AuthContext ctx;
      ctx.peer.kind = tls::PeerIdentity::Kind::psk;
      ctx.peer.psk_identity = ctx.key_id = rel + "@maf.example.com";
      svc_->on_session_start(ctx);
      ASSERT_EQ(ctx.entity_id, "/dev-1");
      rels_.push_back(rel);
      sessions_.push_back(std::move(ctx));
    }
    // The retrievals named this process as holder; so must its
    // de-registrations.
    const std::string first = maf.seen().front().to;
    holder_ = first.substr(first.find(proto::kHolderQuery) + proto::kHolderQuery.size());
  }
  void end(int i) { svc_->on_session_end(sessions_[static_cast<std::size_t>(i)]); }
  std::string delete_target(int i) const {
    return std::string(proto::kMafKeysPrefix) + proto::percent_encode(rels_[static_cast<std::size_t>(i)]) +
           std::string(proto::kHolderQuery) + holder_;
  }
  // wait_stats waits until |done| holds for the stats (the answers are
  // taken on a worker after the stub has sent them).
  bool wait_stats(const std::function<bool(const KeyStats&)>& done) {
    for (int i = 0; i < 500; ++i) {
      if (done(svc_->stats())) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  std::vector<std::string> rels_;
  std::vector<service::AuthContext> sessions_;  // move-only (it may hold a key)
  std::string holder_;
};

// docs/protocol.md §3.4, batches: one de-registration per MAF is in
// flight; the keys whose connections end meanwhile go together in the
// next request, and each key's own answer decides its tombstone.
TEST_F(EntityBDeregTest, KeysThatEndWhileADeRegistrationIsInFlightGoInOneBatch) {
  StubMaf maf(/*refuse=*/false);
  start(maf.port());
  hold_keys(maf, 4);
  maf.set_batch_codes({2002, 4004, 5000});
  const std::size_t before = maf.seen().size();

  end(0);  // alone: one DELETE, held at the stub
  ASSERT_TRUE(maf.wait_held(1));
  end(1);
  end(2);
  end(3);
  maf.release();  // the DELETE is answered; the three that waited go in one batch
  ASSERT_TRUE(maf.wait_held(1));
  const std::vector<proto::Request> seen = maf.seen();
  ASSERT_EQ(seen.size(), before + 2);
  EXPECT_EQ(seen[before].op, proto::Operation::del);
  EXPECT_EQ(seen[before].to, delete_target(0));
  const proto::Request& batch = seen[before + 1];
  EXPECT_EQ(batch.op, proto::Operation::create);
  EXPECT_EQ(batch.to, proto::kMafKeyDeregPath);
  EXPECT_EQ(batch.ty, proto::kTyMafKeyDereg);
  EXPECT_EQ(batch.from, "/cse1");
  auto body = proto::MafKeyDeregBatch::from_json(batch.content);
  ASSERT_TRUE(body) << body.error().message();
  EXPECT_EQ(body->relative_ids, (std::vector<std::string>{rels_[1], rels_[2], rels_[3]}));
  EXPECT_EQ(body->holder, holder_);

  maf.release();  // 2002 and 4004: gone at the MAF; 5000: maybe not
  ASSERT_TRUE(wait_stats([](const KeyStats& k) { return k.deregistered == 3; }));
  EXPECT_EQ(svc_->stats().dereg_requests, 2u);
  EXPECT_EQ(link_->stats().handshakes, 1u);
  // Every ended key stays refused here, none fetched again; the one the
  // MAF may still hold keeps its tombstone until it expires.
  for (int i = 0; i < 4; ++i) {
    auto r = lookup(rels_[static_cast<std::size_t>(i)] + "@maf.example.com").get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::unknown_psk_identity);
  }
  EXPECT_EQ(maf.seen().size(), before + 2);
}

// A MAF that does not know batches (it answers 4004 "no such resource")
// gets the batch's keys one DELETE each, and every later key too.
TEST_F(EntityBDeregTest, AMafWithoutBatchesGetsOneDeletePerKey) {
  StubMaf maf(/*refuse=*/false, /*batches=*/false);
  start(maf.port());
  hold_keys(maf, 5);
  const std::size_t before = maf.seen().size();

  end(0);
  ASSERT_TRUE(maf.wait_held(1));
  end(1);
  end(2);
  maf.release();  // the DELETE of 0; then the batch of 1 and 2
  ASSERT_TRUE(maf.wait_held(1));
  ASSERT_EQ(maf.seen().back().to, proto::kMafKeyDeregPath);
  maf.release();  // refused as unknown: 1 alone
  ASSERT_TRUE(maf.wait_held(1));
  EXPECT_EQ(maf.seen().back().to, delete_target(1));
  end(3);
  end(4);  // these two wait behind 1's DELETE, and 2's
  maf.release();
  ASSERT_TRUE(maf.wait_held(1));
  EXPECT_EQ(maf.seen().back().to, delete_target(2));
  for (int i = 3; i <= 4; ++i) {
    maf.release();
    ASSERT_TRUE(maf.wait_held(1));
    EXPECT_EQ(maf.seen().back().to, delete_target(i)) << "no second batch";
  }
  maf.release();
  ASSERT_TRUE(wait_stats([](const KeyStats& k) { return k.deregistered == 5; }));
  EXPECT_EQ(maf.seen().size(), before + 6);  // five DELETEs and the one batch
  EXPECT_EQ(svc_->stats().dereg_requests, 6u);
}

// A batch answered without one code per key (here one code for two keys)
// says nothing of any of them: each keeps its tombstone, as after a
// DELETE that failed, and none is fetched again.
TEST_F(EntityBDeregTest, ABatchAnsweredWithoutACodePerKeyKeepsEveryTombstone) {
  StubMaf maf(/*refuse=*/false);
  start(maf.port());
  hold_keys(maf, 3);
  maf.set_batch_codes({2002});
  const std::size_t before = maf.seen().size();
  end(0);
  ASSERT_TRUE(maf.wait_held(1));
  end(1);
  end(2);
  maf.release();  // 0's DELETE: gone
  ASSERT_TRUE(maf.wait_held(1));
  ASSERT_EQ(maf.seen().back().to, proto::kMafKeyDeregPath);
  maf.release();  // the batch of 1 and 2, answered with one code
  ASSERT_TRUE(wait_stats([](const KeyStats& k) { return k.dereg_requests == 2; }));
  EXPECT_EQ(svc_->stats().deregistered, 1u);
  for (int i = 1; i <= 2; ++i) {
    auto r = lookup(rels_[static_cast<std::size_t>(i)] + "@maf.example.com").get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::unknown_psk_identity);
  }
  EXPECT_EQ(maf.seen().size(), before + 2) << "no retry, no fetch";
}

}  // namespace
}  // namespace m2msec::entityb
