// maf_list_test.cc: MafRepository::find_client_by_entity, list_clients,
// list_kc and counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <type_traits>

#include "test_util.h"

namespace m2msec::store {
namespace {

using testing::kc_id;
using testing::open_store;
using testing::secret_of;
using testing::TempDir;

constexpr std::int64_t kNow = 1'700'000'000;

static_assert(std::is_copy_constructible_v<MafClientSummary>);
static_assert(std::is_copy_constructible_v<KcSummary>);

MafClient client(const std::string& km_id, const std::string& entity, std::uint8_t fill = 0x21) {
  MafClient c;
  c.km_id = km_id;
  c.km = secret_of(fill);
  c.entity_id = entity;
  return c;
}

KcKey kc(std::uint32_t n, const std::string& entity_a, std::vector<std::string> targets) {
  KcKey k;
  k.kc_id = kc_id(n);
  k.kc = secret_of(static_cast<std::uint8_t>(n));
  k.entity_a_id = entity_a;
  k.targets = std::move(targets);
  k.expires_at = kNow + 1000 + n;
  return k;
}

Page page(std::size_t limit, std::string after = {}) { return Page{std::move(after), limit}; }

class MafListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(path_);
    ASSERT_NE(store_, nullptr);
  }
  MafRepository& maf() { return store_->maf(); }

  // populate registers /cseA, /cseB and /cseC (KmIDs in the reverse order
  // of their entities, so the two orders differ) and three Kc keys.
  void populate() {
    ASSERT_TRUE(maf().register_client(client("z@maf.example.com", "/cseA"), kNow));
    MafClient b = client("y@maf.example.com", "/cseB");
    b.source = KmSource::preprovisioned;
    b.expires_at = kNow + 500;
    ASSERT_TRUE(maf().register_client(b, kNow + 1));
    ASSERT_TRUE(maf().register_client(client("x@maf.example.com", "/cseC"), kNow + 2));
    ASSERT_TRUE(maf().register_kc(kc(1, "/cseA", {"/cseC", "/cseB"}), kNow));
    ASSERT_TRUE(maf().register_kc(kc(2, "/cseA", {"/cseD"}), kNow + 3));
    ASSERT_TRUE(maf().register_kc(kc(3, "/cseB", {"/cseA", "/cseE", "/cseC"}), kNow + 4));
  }

  TempDir dir_;
  std::string path_ = dir_.file("maf.db");
  std::unique_ptr<Store> store_;
};

TEST_F(MafListTest, FindClientByEntity) {
  populate();
  Result<MafClient> c = maf().find_client_by_entity("/cseB", kNow);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->km_id, "y@maf.example.com");
  EXPECT_TRUE(c->km == secret_of(0x21));
  EXPECT_EQ(c->source, KmSource::preprovisioned);
  EXPECT_EQ(c->registered_at, kNow + 1);
}

TEST_F(MafListTest, FindClientByUnknownEntityIsNotFound) {
  populate();
  Result<MafClient> c = maf().find_client_by_entity("/cseQ", kNow);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Errc::not_found);
  ASSERT_TRUE(maf().deregister_client("z@maf.example.com"));
  EXPECT_EQ(maf().find_client_by_entity("/cseA", kNow).error().code(), Errc::not_found);
}

TEST_F(MafListTest, FindClientByEntityExpired) {
  populate();
  ASSERT_TRUE(maf().find_client_by_entity("/cseB", kNow + 499));
  Result<MafClient> c = maf().find_client_by_entity("/cseB", kNow + 500);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Errc::key_expired);
}

TEST_F(MafListTest, ListClientsInEntityOrder) {
  populate();
  Result<std::vector<MafClientSummary>> all = maf().list_clients(page(10));
  ASSERT_TRUE(all) << all.error().message();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].entity_id, "/cseA");
  EXPECT_EQ((*all)[0].km_id, "z@maf.example.com");
  EXPECT_EQ((*all)[0].source, KmSource::mef);
  EXPECT_FALSE((*all)[0].expires_at);
  EXPECT_EQ((*all)[0].registered_at, kNow);
  EXPECT_EQ((*all)[1].entity_id, "/cseB");
  EXPECT_EQ((*all)[1].source, KmSource::preprovisioned);
  EXPECT_EQ((*all)[1].expires_at, kNow + 500);
  EXPECT_EQ((*all)[2].entity_id, "/cseC");

  Result<std::vector<MafClientSummary>> p1 = maf().list_clients(page(2));
  ASSERT_TRUE(p1);
  ASSERT_EQ(p1->size(), 2u);
  // Re-registration between pages changes the KmID, not the position.
  ASSERT_TRUE(maf().register_client(client("a@maf.example.com", "/cseA"), kNow + 9));
  Result<std::vector<MafClientSummary>> p2 = maf().list_clients(page(2, p1->back().entity_id));
  ASSERT_TRUE(p2);
  ASSERT_EQ(p2->size(), 1u);
  EXPECT_EQ((*p2)[0].entity_id, "/cseC");
  EXPECT_EQ(maf().list_clients(page(1))->front().km_id, "a@maf.example.com");
}

TEST_F(MafListTest, ListKcPagesByKeyWithSortedTargets) {
  populate();
  std::vector<std::string> ids = {kc_id(1), kc_id(2), kc_id(3)};
  std::sort(ids.begin(), ids.end());
  std::vector<KcSummary> seen;
  Page p = page(1);
  while (true) {
    // limit 1 with multi-target keys: LIMIT counts keys, not target rows.
    Result<std::vector<KcSummary>> rows = maf().list_kc(p);
    ASSERT_TRUE(rows) << rows.error().message();
    ASSERT_LE(rows->size(), 1u);
    if (rows->empty()) break;
    seen.push_back(rows->front());
    p.after = rows->front().kc_id;
  }
  ASSERT_EQ(seen.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(seen[i].kc_id, ids[i]);
  const auto k3 = std::find_if(seen.begin(), seen.end(), [](const KcSummary& k) { return k.kc_id == kc_id(3); });
  ASSERT_NE(k3, seen.end());
  EXPECT_EQ(k3->entity_a_id, "/cseB");
  EXPECT_EQ(k3->targets, (std::vector<std::string>{"/cseA", "/cseC", "/cseE"}));
  EXPECT_EQ(k3->expires_at, kNow + 1003);
  EXPECT_EQ(k3->created_at, kNow + 4);

  Result<std::vector<KcSummary>> all = maf().list_kc(page(kMaxPageLimit));
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ((*all)[i].kc_id, ids[i]);
}

TEST_F(MafListTest, PageLimitOutOfRangeIsInvalid) {
  populate();
  for (std::size_t bad : {std::size_t{0}, kMaxPageLimit + 1}) {
    Result<std::vector<MafClientSummary>> c = maf().list_clients(page(bad));
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code(), Errc::invalid_argument);
    Result<std::vector<KcSummary>> k = maf().list_kc(page(bad));
    ASSERT_FALSE(k);
    EXPECT_EQ(k.error().code(), Errc::invalid_argument);
  }
}

TEST_F(MafListTest, CorruptClientRowIsStoreError) {
  populate();
  store_.reset();
  {
    std::unique_ptr<sql::Connection> raw = testing::raw_connection(path_);
    ASSERT_TRUE(raw);
    ASSERT_TRUE(testing::allow_bad_values(*raw, "maf_clients"));
    ASSERT_TRUE(raw->exec("UPDATE maf_clients SET source = 'smuggled' WHERE entity_id = '/cseC'"));
  }
  store_ = open_store(path_);
  ASSERT_NE(store_, nullptr);
  Result<std::vector<MafClientSummary>> rows = maf().list_clients(page(10));
  ASSERT_FALSE(rows);
  EXPECT_EQ(rows.error().code(), Errc::store_error);
  Result<MafClient> c = maf().find_client_by_entity("/cseC", kNow);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Errc::store_error);
}

TEST_F(MafListTest, CountsFollowWrites) {
  Result<MafCounts> empty = maf().counts();
  ASSERT_TRUE(empty) << empty.error().message();
  EXPECT_EQ(empty->clients, 0u);
  EXPECT_EQ(empty->kc_keys, 0u);
  populate();
  Result<MafCounts> n = maf().counts();
  ASSERT_TRUE(n);
  EXPECT_EQ(n->clients, 3u);
  EXPECT_EQ(n->kc_keys, 3u);
  ASSERT_TRUE(maf().deregister_client("z@maf.example.com"));  // cascades to Kc 1 and 2
  n = maf().counts();
  ASSERT_TRUE(n);
  EXPECT_EQ(n->clients, 2u);
  EXPECT_EQ(n->kc_keys, 1u);
}

}  // namespace
}  // namespace m2msec::store
