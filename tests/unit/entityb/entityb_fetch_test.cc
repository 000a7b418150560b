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
#include <future>

#include "../tls/tls_harness.h"
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
// Kc for /dev-1 once release() is called.
class StubMaf {
 public:
  explicit StubMaf(bool refuse)
      : refuse_(refuse), server_(tls::test::start_maf_server([this](std::shared_ptr<tls::Session> s) {
          proto::serve_http(std::move(s), [this](const proto::Request& req, proto::Reply reply) {
            ++requests_;
            if (refuse_) return reply(proto::error_response(req, proto::Rsc::not_found, "no such key"));
            std::lock_guard lock(mu_);
            targets_.push_back(req.to);
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
      proto::MafKeyRetrieveResponse k{SecretBytes(std::vector<std::uint8_t>(32, 0x42)), service::now_unix() + 600,
                                      "/dev-1", "sp.example.com", proto::kSuidMafSaef};
      reply(proto::ok_response(req, proto::Rsc::ok, k.to_json()));
    }
  }

 private:
  const bool refuse_;
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

}  // namespace
}  // namespace m2msec::entityb
