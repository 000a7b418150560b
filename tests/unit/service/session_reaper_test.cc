// service::SessionReaper: a session is closed when the key it was
// authenticated with expires. The sessions here are a minimal
// tls::Session that records close(); the reaper only ever calls close().
// Nothing is timed: the tests wait for the outcome with a generous bound.
#include "m2msec/service/session_reaper.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "m2msec/core/endpoint.h"

namespace m2msec::service {
namespace {

class ClosableSession final : public tls::Session {
 public:
  const tls::PeerIdentity& peer() const override { return peer_; }
  Result<SecretBytes> export_keying_material(std::string_view, std::size_t) const override {
    return fail(Errc::connection_closed);
  }
  void async_read(tls::ReadHandler h) override { h(fail(Errc::connection_closed)); }
  void async_write(tls::ByteVector, tls::WriteHandler h) override { h(fail(Errc::connection_closed)); }
  void close() override { closed = true; }
  std::atomic<bool> closed{false};

 private:
  tls::PeerIdentity peer_;
};

bool eventually(const std::function<bool()>& cond) {
  for (int i = 0; i < 1000 && !cond(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return cond();
}

TEST(SessionReaper, ClosesASessionWhenItsKeyExpires) {
  SessionReaper reaper;
  auto soon = std::make_shared<ClosableSession>();
  auto later = std::make_shared<ClosableSession>();
  reaper.watch(soon, now_unix() + 1);
  reaper.watch(later, now_unix() + 3600);
  EXPECT_FALSE(soon->closed);  // not before its expiry
  ASSERT_TRUE(eventually([&] { return soon->closed.load(); }));
  EXPECT_FALSE(later->closed);
  EXPECT_EQ(reaper.closed(), 1u);
}

// The reaper sleeps until the earliest deadline and is woken only by a
// new earliest one: a session expiring before everything already watched
// must still be closed on time, not when the later deadline comes.
TEST(SessionReaper, AnEarlierDeadlineWakesTheReaper) {
  SessionReaper reaper;
  auto later = std::make_shared<ClosableSession>();
  auto also_later = std::make_shared<ClosableSession>();
  auto soon = std::make_shared<ClosableSession>();
  reaper.watch(later, now_unix() + 3600);  // the reaper now sleeps for an hour
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  reaper.watch(also_later, now_unix() + 7200);  // no new earliest: no wake-up needed
  reaper.watch(soon, now_unix() + 1);
  ASSERT_TRUE(eventually([&] { return soon->closed.load(); }));
  EXPECT_FALSE(later->closed);
  EXPECT_FALSE(also_later->closed);
  EXPECT_EQ(reaper.watched(), 2u);
}

TEST(SessionReaper, ClosesAtOnceWhenTheKeyHasAlreadyExpired) {
  SessionReaper reaper;
  auto s = std::make_shared<ClosableSession>();
  reaper.watch(s, now_unix() - 1);
  EXPECT_TRUE(s->closed);  // before watch returned
  EXPECT_EQ(reaper.watched(), 0u);
}

// A session that ended earlier is only a weak reference: nothing is
// closed for it, and sweeps keep the reaper's memory bounded.
TEST(SessionReaper, ForgetsSessionsThatEndedEarly) {
  SessionReaper reaper;
  for (int i = 0; i < 5000; ++i) {
    auto s = std::make_shared<ClosableSession>();
    reaper.watch(s, now_unix() + 3600);
  }  // every session is gone
  EXPECT_LT(reaper.watched(), 2100u);
  auto gone = std::make_shared<ClosableSession>();
  std::weak_ptr<tls::Session> weak = gone;
  reaper.watch(weak, now_unix() + 1);
  const std::size_t held = reaper.watched();
  gone.reset();
  // Its expiry passes: the entry goes, and nothing was closed.
  ASSERT_TRUE(eventually([&] { return reaper.watched() == held - 1; }));
  EXPECT_EQ(reaper.closed(), 0u);
}

// A revocation closes the tracked sessions whose context matches, and
// only those; an untracked (ended) session is not touched.
TEST(SessionReaper, ClosesTheTrackedSessionsARevocationNames) {
  SessionReaper reaper;
  auto ctx = [](std::string key) {
    auto c = std::make_shared<AuthContext>();
    c->key_id = std::move(key);
    return AuthRef(c);
  };
  auto a = std::make_shared<ClosableSession>();
  auto b = std::make_shared<ClosableSession>();
  auto c = std::make_shared<ClosableSession>();
  reaper.track(a, ctx("k1"));
  reaper.track(b, ctx("k2"));
  const std::uint64_t tc = reaper.track(c, ctx("k1"));
  reaper.untrack(tc);  // c's session ended before the revocation
  EXPECT_EQ(reaper.tracked(), 2u);
  EXPECT_EQ(reaper.close_matching([](const AuthContext& x) { return x.key_id == "k1"; }), 1u);
  EXPECT_TRUE(a->closed);
  EXPECT_FALSE(b->closed);
  EXPECT_FALSE(c->closed);
  EXPECT_EQ(reaper.tracked(), 1u);
  EXPECT_EQ(reaper.close_matching([](const AuthContext& x) { return x.key_id == "k1"; }), 0u);
  // A session gone (only a weak reference is held) is dropped, not closed.
  {
    auto d = std::make_shared<ClosableSession>();
    reaper.track(d, ctx("k3"));
  }
  EXPECT_EQ(reaper.close_matching([](const AuthContext& x) { return x.key_id == "k3"; }), 0u);
  EXPECT_EQ(reaper.tracked(), 1u);
}

}  // namespace
}  // namespace m2msec::service
