#include <gtest/gtest.h>

#include "test_util.h"

namespace m2msec::store {
namespace {

using testing::kc_id;
using testing::open_store;
using testing::secret_of;
using testing::TempDir;

constexpr std::int64_t kNow = 1'700'000'000;

MafClient client(const std::string& km_id, const std::string& entity, std::uint8_t fill = 0x21) {
  MafClient c;
  c.km_id = km_id;
  c.km = secret_of(fill);
  c.entity_id = entity;
  c.source = KmSource::mef;
  return c;
}

KcKey kc(std::uint32_t n, const std::string& entity_a, std::vector<std::string> targets,
         std::int64_t expires = kNow + 3600) {
  KcKey k;
  k.kc_id = kc_id(n);
  k.kc = secret_of(static_cast<std::uint8_t>(n));
  k.entity_a_id = entity_a;
  k.targets = std::move(targets);
  k.expires_at = expires;
  return k;
}

class MafTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = open_store(dir_.file("maf.db")); ASSERT_NE(store_, nullptr); }
  MafRepository& maf() { return store_->maf(); }
  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(MafTest, RegisterFindAndReplaceClient) {
  ASSERT_TRUE(maf().register_client(client("c1@maf.example.com", "/cseA", 0x21), kNow));
  Result<MafClient> c = maf().find_client("c1@maf.example.com", kNow);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->km == secret_of(0x21));
  EXPECT_EQ(c->entity_id, "/cseA");
  EXPECT_EQ(c->registered_at, kNow);

  // Re-registration of the same entity replaces KmID and Km.
  ASSERT_TRUE(maf().register_client(client("c2@maf.example.com", "/cseA", 0x22), kNow + 1));
  EXPECT_EQ(maf().find_client("c1@maf.example.com", kNow).error().code(), Errc::not_found);
  Result<MafClient> c2 = maf().find_client("c2@maf.example.com", kNow);
  ASSERT_TRUE(c2);
  EXPECT_TRUE(c2->km == secret_of(0x22));

  // A KmID held by another entity is refused.
  EXPECT_EQ(maf().register_client(client("c2@maf.example.com", "/cseB"), kNow).error().code(),
            Errc::already_exists);
  // KmIDs must be canonical (relative part lower case).
  EXPECT_EQ(maf().register_client(client("C3@maf.example.com", "/cseC"), kNow).error().code(),
            Errc::invalid_identifier);
}

TEST_F(MafTest, ClientExpiry) {
  MafClient c = client("c1@maf.example.com", "/cseA");
  c.expires_at = kNow + 10;
  c.source = KmSource::preprovisioned;
  ASSERT_TRUE(maf().register_client(c, kNow));
  Result<MafClient> ok = maf().find_client("c1@maf.example.com", kNow + 9);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->source, KmSource::preprovisioned);
  EXPECT_EQ(maf().find_client("c1@maf.example.com", kNow + 10).error().code(), Errc::key_expired);
}

TEST_F(MafTest, KcRegisterFindUpdateDeregister) {
  ASSERT_TRUE(maf().register_client(client("a@maf.example.com", "/cseA"), kNow));
  ASSERT_TRUE(maf().register_kc(kc(1, "/cseA", {"/cseC", "/cseB", "/cseB"}), kNow));
  Result<KcKey> k = maf().find_kc(kc_id(1), kNow);
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_TRUE(k->kc == secret_of(1));
  EXPECT_EQ(k->targets, (std::vector<std::string>{"/cseB", "/cseC"}));
  EXPECT_EQ(k->entity_a_id, "/cseA");

  EXPECT_EQ(maf().register_kc(kc(1, "/cseA", {"/cseB"}), kNow).error().code(), Errc::already_exists);
  EXPECT_EQ(maf().register_kc(kc(2, "/unknown", {"/cseB"}), kNow).error().code(), Errc::not_found);
  EXPECT_EQ(maf().register_kc(kc(3, "/cseA", {}), kNow).error().code(), Errc::invalid_argument);

  const std::vector<std::string> new_targets = {"/cseD"};
  ASSERT_TRUE(maf().update_kc(kc_id(1), kNow + 20, new_targets));
  Result<KcKey> updated = maf().find_kc(kc_id(1), kNow);
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->targets, new_targets);
  EXPECT_EQ(maf().find_kc(kc_id(1), kNow + 20).error().code(), Errc::key_expired);
  EXPECT_EQ(maf().update_kc(kc_id(9), kNow + 20, new_targets).error().code(), Errc::not_found);

  ASSERT_TRUE(maf().deregister_kc(kc_id(1)));
  EXPECT_EQ(maf().find_kc(kc_id(1), kNow).error().code(), Errc::not_found);
  EXPECT_EQ(maf().deregister_kc(kc_id(1)).error().code(), Errc::not_found);
}

TEST_F(MafTest, DeregisterClientRemovesItsKeys) {
  ASSERT_TRUE(maf().register_client(client("a@maf.example.com", "/cseA"), kNow));
  ASSERT_TRUE(maf().register_kc(kc(1, "/cseA", {"/cseB"}), kNow));
  // Re-registration keeps the keys.
  ASSERT_TRUE(maf().register_client(client("a2@maf.example.com", "/cseA"), kNow));
  ASSERT_TRUE(maf().find_kc(kc_id(1), kNow));
  ASSERT_TRUE(maf().deregister_client("a2@maf.example.com"));
  EXPECT_EQ(maf().find_kc(kc_id(1), kNow).error().code(), Errc::not_found);
  EXPECT_EQ(maf().deregister_client("a2@maf.example.com").error().code(), Errc::not_found);
  EXPECT_TRUE(store_->check_integrity());
}

TEST_F(MafTest, PurgeExpired) {
  ASSERT_TRUE(maf().register_client(client("a@maf.example.com", "/cseA"), kNow));
  ASSERT_TRUE(maf().register_kc(kc(1, "/cseA", {"/cseB"}, kNow + 5), kNow));
  ASSERT_TRUE(maf().register_kc(kc(2, "/cseA", {"/cseB"}, kNow + 50), kNow));
  Result<std::size_t> n = maf().purge_expired(kNow + 10);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  EXPECT_TRUE(maf().find_kc(kc_id(2), kNow + 10));
  EXPECT_TRUE(store_->check_integrity());
}

}  // namespace
}  // namespace m2msec::store
