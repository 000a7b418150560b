// link::FeedFollower against a real issuer: a TlsServer on loopback
// answering RETRIEVE /mef/revocations/<seq> with service::revocation_feed
// over a real SQLite revocation log (the code the MEF and the MAF serve
// the feed with), and the link the holders use.
#include <atomic>
#include <cstdio>

#include "../store/test_util.h"
#include "../tls/tls_harness.h"
#include "m2msec/link/feed.h"
#include "m2msec/proto/http_server.h"
#include "m2msec/service/role_store.h"

namespace m2msec::link {
namespace {

using namespace std::chrono_literals;
using tls::test::cert;
using tls::test::trust;

constexpr std::int64_t kNow = 1'800'000'000;

// Issuer serves the feed of the store it is given (which the test may
// swap, as a restored or recreated database would be).
class Issuer {
 public:
  Issuer()
      : server_(tls::test::start_maf_server(
            [this](std::shared_ptr<tls::Session> s) {
              proto::serve_http(std::move(s), [this](const proto::Request& req, proto::Reply reply) {
                ++requests_;
                if (refuse_) return reply(proto::error_response(req, proto::Rsc::originator_has_no_privilege, "no"));
                std::lock_guard lock(mu_);
                reply(service::revocation_feed(req, proto::kMefRevocationsPrefix, store_->revocations(), "", "test"));
              });
            },
            1)) {}
  ~Issuer() { server_->stop(); }

  void use(store::Store* s) {
    std::lock_guard lock(mu_);
    store_ = s;
  }
  Peer peer() const { return Peer{"127.0.0.1", server_->port(), tls::test::kMaf}; }
  void refuse(bool r) { refuse_ = r; }
  int requests() const { return requests_; }

 private:
  std::mutex mu_;
  store::Store* store_ = nullptr;
  std::atomic<bool> refuse_{false};
  std::atomic<int> requests_{0};
  std::unique_ptr<tls::TlsServer> server_;  // last: started after the members it uses
};

void revoke(store::Store& s, int n) {
  for (int i = 0; i < n; ++i) {
    store::Revocation r;
    r.kind = store::RevokedKind::kc;
    char id[32];
    std::snprintf(id, sizeof id, "kc-%d", i);
    r.key_id = id;
    r.expires_at = kNow + 3600;
    ASSERT_TRUE(s.revocations().record(r, kNow));
  }
}

class FeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::testing::open_store(dir_.file("a.db"));
    ASSERT_NE(store_, nullptr);
    issuer_.use(store_.get());
    LinkOptions o;
    o.certificate = cert("cse");
    o.trust = trust();
    auto l = Link::create(std::move(o));
    ASSERT_TRUE(l) << l.error().message();
    link_ = std::move(*l);
  }
  // follower applies into seen_ and saves into saved_.
  std::unique_ptr<FeedFollower> follower(FeedPosition start, bool fail_apply = false) {
    return std::make_unique<FeedFollower>(
        *link_, issuer_.peer(), std::string(proto::kMefRevocationsPrefix), "maf.example.com", std::move(start),
        [this, fail_apply](const std::vector<proto::RevocationEntry>& e) -> Status {
          if (fail_apply) return fail(Errc::store_error, "apply failed");
          for (const auto& x : e) seen_.push_back(x.seq);
          return {};
        },
        [this](const FeedPosition& p) -> Status {
          if (fail_save_) return fail(Errc::store_error, "disk full");
          saved_ = p;
          ++saves_;
          return {};
        });
  }
  store::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  Issuer issuer_;
  std::unique_ptr<Link> link_;
  std::vector<std::int64_t> seen_;
  FeedPosition saved_;
  int saves_ = 0;
  bool fail_save_ = false;
};

TEST_F(FeedTest, FromTheHeadOnlyWhatComesLater) {
  revoke(*store_, 3);
  auto f = follower(FeedPosition{});  // seq -1: a holder that holds nothing yet
  ASSERT_TRUE(f->poll(5s));
  EXPECT_TRUE(f->synced());
  EXPECT_TRUE(seen_.empty());
  EXPECT_EQ(f->position().seq, 3);
  EXPECT_EQ(saved_.seq, 3);
  revoke(*store_, 2);
  ASSERT_TRUE(f->poll(5s));
  EXPECT_EQ(seen_, (std::vector<std::int64_t>{4, 5}));
  EXPECT_EQ(f->position().seq, 5);
}

// A poll that finds nothing new writes nothing: an idle feed costs the
// holder no durable write per poll.
TEST_F(FeedTest, AnIdleFeedSavesNothing) {
  revoke(*store_, 2);
  auto f = follower(FeedPosition{"", 0});
  ASSERT_TRUE(f->poll(5s));
  EXPECT_EQ(saves_, 1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(f->poll(5s));
  EXPECT_EQ(saves_, 1);
  revoke(*store_, 1);
  ASSERT_TRUE(f->poll(5s));
  EXPECT_EQ(saves_, 2);
  EXPECT_EQ(saved_.seq, 3);
  // A follower started where the last one saved has nothing to save.
  saves_ = 0;
  auto again = follower(saved_);
  ASSERT_TRUE(again->poll(5s));
  EXPECT_EQ(saves_, 0);
}

// A position that could not be saved is saved at the next poll, even if
// that poll finds nothing new: a restart never re-reads less than it
// applied, and never skips what it has not saved.
TEST_F(FeedTest, AFailedSaveIsReportedAndRetried) {
  revoke(*store_, 2);
  auto f = follower(FeedPosition{"", 0});
  fail_save_ = true;
  Status st = f->poll(5s);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::store_error);
  EXPECT_EQ(saves_, 0);
  fail_save_ = false;
  ASSERT_TRUE(f->poll(5s));
  EXPECT_EQ(saves_, 1);
  EXPECT_EQ(saved_.seq, 2);
}

TEST_F(FeedTest, FromTheStartPageByPage) {
  revoke(*store_, static_cast<int>(store::kMaxRevocationPage) + 2);
  auto f = follower(FeedPosition{"", 0});
  ASSERT_TRUE(f->poll(5s));
  ASSERT_EQ(seen_.size(), store::kMaxRevocationPage + 2);
  EXPECT_EQ(seen_.front(), 1);
  EXPECT_EQ(seen_.back(), static_cast<std::int64_t>(store::kMaxRevocationPage) + 2);
  EXPECT_GE(issuer_.requests(), 2);  // two pages
  EXPECT_EQ(saved_.epoch.size(), 32u);
}

TEST_F(FeedTest, ANewOrRestoredLogIsReadAgainFromItsStart) {
  revoke(*store_, 4);
  auto f = follower(FeedPosition{"", 0});
  ASSERT_TRUE(f->poll(5s));
  ASSERT_EQ(seen_.size(), 4u);
  // Another database (another epoch) behind the same issuer.
  auto other = store::testing::open_store(dir_.file("b.db"));
  revoke(*other, 2);
  issuer_.use(other.get());
  seen_.clear();
  ASSERT_TRUE(f->poll(5s));
  EXPECT_EQ(seen_, (std::vector<std::int64_t>{1, 2}));
  // The same epoch with a head behind our position (a restored backup):
  // read again from the start too.
  auto pos = f->position();
  pos.seq = 50;
  auto g = follower(pos);
  seen_.clear();
  ASSERT_TRUE(g->poll(5s));
  EXPECT_EQ(seen_, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(g->position().seq, 2);
  issuer_.use(store_.get());
}

TEST_F(FeedTest, AFailedApplyOrARefusalKeepsThePosition) {
  revoke(*store_, 2);
  auto f = follower(FeedPosition{"", 0}, /*fail_apply=*/true);
  EXPECT_FALSE(f->poll(5s));
  EXPECT_FALSE(f->synced());
  EXPECT_EQ(f->position().seq, 0);
  issuer_.refuse(true);
  auto g = follower(FeedPosition{"", 0});
  Status st = g->poll(5s);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::request_refused);
  EXPECT_FALSE(g->synced());
  EXPECT_TRUE(seen_.empty());
  issuer_.refuse(false);
  ASSERT_TRUE(g->poll(5s));
  EXPECT_EQ(seen_.size(), 2u);
}

TEST_F(FeedTest, AnUnreachableIssuerIsAnError) {
  auto f = std::make_unique<FeedFollower>(*link_, Peer{"127.0.0.1", 1, tls::test::kMaf},
                                          std::string(proto::kMefRevocationsPrefix), "maf.example.com",
                                          FeedPosition{"", 0}, [](const auto&) -> Status { return {}; });
  Status st = f->poll(2s);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::connect_failed);
  EXPECT_FALSE(f->synced());
}

}  // namespace
}  // namespace m2msec::link
