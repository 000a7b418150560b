// ExpiryPurger over a real SQLite store: expired enrolments (MEF) and
// expired Km registrations and Kc keys (MAF) disappear without anyone
// calling purge_expired; unexpired rows stay. The rows are written with a
// |now| in the past so that they have already expired by the wall clock the
// purger reads; the test polls for the outcome with a generous deadline.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "../store/test_util.h"
#include "m2msec/core/endpoint.h"
#include "m2msec/service/purge.h"

namespace m2msec::service {
namespace {

using namespace store;
using namespace store::testing;

constexpr auto kDeadline = std::chrono::seconds(30);

template <typename Pred>
bool eventually(Pred pred) {
  const auto end = std::chrono::steady_clock::now() + kDeadline;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

Enrolment enrolment(const std::string& enrolee, std::uint32_t n, std::int64_t expires) {
  Enrolment e;
  e.ke_id = ke_id(n);
  e.enrolee_id = enrolee;
  e.ke = secret_of(static_cast<std::uint8_t>(n));
  e.expires_at = expires;
  return e;
}

MafClient client(const std::string& km_id, const std::string& entity, std::optional<std::int64_t> expires) {
  MafClient c;
  c.km_id = km_id;
  c.km = secret_of(0x21);
  c.entity_id = entity;
  c.expires_at = expires;
  return c;
}

KcKey kc(std::uint32_t n, const std::string& entity_a, std::int64_t expires) {
  KcKey k;
  k.kc_id = kc_id(n);
  k.kc = secret_of(static_cast<std::uint8_t>(n));
  k.entity_a_id = entity_a;
  k.targets = {"/in-cse"};
  k.expires_at = expires;
  return k;
}

class ExpiryPurgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(dir_.file("purge.db"));
    ASSERT_NE(store_, nullptr);
  }
  TempDir dir_;
  std::unique_ptr<Store> store_;
  const std::int64_t now_ = now_unix();
  const std::int64_t past_ = now_ - 1000;  // the |now| the rows are written at
};

TEST_F(ExpiryPurgerTest, ExpiredEnrolmentsGoWithoutOperatorAction) {
  MefRepository& mef = store_->mef();
  ASSERT_TRUE(mef.add_enrolee(psk_enrolee("/old", "kpm-old"), past_));
  ASSERT_TRUE(mef.add_enrolee(psk_enrolee("/new", "kpm-new"), past_));
  ASSERT_TRUE(mef.put_enrolment(enrolment("/old", 1, past_ + 10), past_));  // expired by the wall clock
  ASSERT_TRUE(mef.put_enrolment(enrolment("/new", 2, now_ + 3600), past_));
  ASSERT_EQ(mef.counts()->enrolments, 2u);

  ExpiryPurger purger("mef", std::chrono::seconds(1), [&mef](std::int64_t now) { return mef.purge_expired(now); });
  ASSERT_TRUE(purger.active());
  EXPECT_TRUE(eventually([&] { return mef.counts()->enrolments == 1; }));
  EXPECT_EQ(mef.find_enrolment(ke_id(1), past_).error().code(), Errc::not_found);  // the row itself is gone
  EXPECT_TRUE(mef.find_enrolment(ke_id(2), now_));
  EXPECT_EQ(mef.counts()->active_enrolees, 2u);  // enrolees are not expiry rows
}

TEST_F(ExpiryPurgerTest, ExpiredKmAndKcGoWithoutOperatorAction) {
  MafRepository& maf = store_->maf();
  ASSERT_TRUE(maf.register_client(client("old@maf.example.com", "/old", past_ + 10), past_));
  ASSERT_TRUE(maf.register_client(client("new@maf.example.com", "/new", now_ + 3600), past_));
  ASSERT_TRUE(maf.register_kc(kc(1, "/new", past_ + 10), past_));
  ASSERT_TRUE(maf.register_kc(kc(2, "/new", now_ + 3600), past_));
  ASSERT_EQ(maf.counts()->clients, 2u);
  ASSERT_EQ(maf.counts()->kc_keys, 2u);

  ExpiryPurger purger("maf", std::chrono::seconds(1), [&maf](std::int64_t now) { return maf.purge_expired(now); });
  EXPECT_TRUE(eventually([&] {
    auto c = maf.counts();
    return c && c->clients == 1 && c->kc_keys == 1;
  }));
  EXPECT_EQ(maf.find_client("old@maf.example.com", past_).error().code(), Errc::not_found);
  EXPECT_EQ(maf.find_kc(kc_id(1), kAnyExpiry).error().code(), Errc::not_found);
  EXPECT_TRUE(maf.find_client("new@maf.example.com", now_));
  EXPECT_TRUE(maf.find_kc(kc_id(2), now_));
  EXPECT_TRUE(store_->check_integrity());
}

// A failing purge is tried again at the next interval; the purger keeps
// running.
TEST(ExpiryPurger, FailureIsRetried) {
  std::atomic<int> calls{0};
  ExpiryPurger purger("mef", std::chrono::seconds(1), [&calls](std::int64_t) -> Result<std::size_t> {
    if (++calls == 1) throw std::runtime_error("first purge throws");
    if (calls == 2) return fail(Errc::store_error, "second purge fails");
    return std::size_t{0};
  });
  EXPECT_TRUE(eventually([&] { return calls >= 3; }));
}

TEST(ExpiryPurger, ZeroIntervalDisables) {
  std::atomic<int> calls{0};
  {
    ExpiryPurger purger("mef", std::chrono::seconds(0), [&calls](std::int64_t) -> Result<std::size_t> {
      ++calls;
      return std::size_t{0};
    });
    EXPECT_FALSE(purger.active());
  }
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace m2msec::service
