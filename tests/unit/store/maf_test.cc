#include <gtest/gtest.h>

#include <future>

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

  // The same KmID for the same entity again (a repeated client
  // registration) replaces the Km: the KmID's row is the entity's row.
  ASSERT_TRUE(maf().register_client(client("c2@maf.example.com", "/cseA", 0x23), kNow + 2));
  Result<MafClient> again = maf().find_client("c2@maf.example.com", kNow);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_TRUE(again->km == secret_of(0x23));
  EXPECT_EQ(again->registered_at, kNow + 2);

  // A KmID held by another entity is refused.
  EXPECT_EQ(maf().register_client(client("c2@maf.example.com", "/cseB"), kNow).error().code(),
            Errc::already_exists);
  // KmIDs must be canonical (relative part lower case).
  EXPECT_EQ(maf().register_client(client("C3@maf.example.com", "/cseC"), kNow).error().code(),
            Errc::invalid_identifier);
}

// register_client_async: the same rules and the same row, answered once
// the row is durably committed (a full, not a relaxed, transaction).
TEST_F(MafTest, RegisterClientAsyncCommitsDurablyAndRefusesAsTheSyncFormDoes) {
  auto wait = [&](const MafClient& c) {
    std::promise<Status> p;
    auto f = p.get_future();
    maf().register_client_async(c, kNow, [&p](Status st) { p.set_value(std::move(st)); });
    return f.get();
  };
  const WriteStats before = store_->write_stats();
  ASSERT_TRUE(wait(client("c1@maf.example.com", "/cseA", 0x31)));
  const WriteStats after = store_->write_stats();
  EXPECT_EQ(after.transactions - before.transactions, 1u);
  EXPECT_EQ(after.relaxed_transactions, before.relaxed_transactions);
  Result<MafClient> c = maf().find_client("c1@maf.example.com", kNow);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->km == secret_of(0x31));
  EXPECT_EQ(c->entity_id, "/cseA");
  EXPECT_EQ(wait(client("c1@maf.example.com", "/cseB")).error().code(), Errc::already_exists);
  EXPECT_EQ(wait(client("C3@maf.example.com", "/cseC")).error().code(), Errc::invalid_identifier);
  MafClient empty = client("c4@maf.example.com", "/cseD");
  empty.km = SecretBytes();
  EXPECT_EQ(wait(empty).error().code(), Errc::invalid_argument);
}

MafClient preprovisioned(const std::string& km_id, const std::string& entity, std::optional<std::string> app_id = {}) {
  MafClient c = client(km_id, entity);
  c.source = KmSource::preprovisioned;
  c.expires_at = kNow + 3600;
  c.app_id = std::move(app_id);
  return c;
}

// rows_of moves |cs| into a vector (MafClient holds a key: move-only).
template <typename... C>
std::vector<MafClient> rows_of(C... cs) {
  std::vector<MafClient> out;
  (out.push_back(std::move(cs)), ...);
  return out;
}

// Seed 000 option 1 (pre-provisioning) and seed 004 (the MAS keeps App-IDs
// beside root keys): add_clients inserts, never replaces.
TEST_F(MafTest, AddClientsKeepsAppIdAndSource) {
  const std::vector<MafClient> rows = rows_of(preprovisioned("p1@maf.example.com", "/cse1/Cae1", "Napp1"),
                                              preprovisioned("p2@maf.example.com", "/cse2"));
  Result<std::size_t> n = maf().add_clients(rows, kNow, nullptr);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 2u);
  Result<MafClient> c = maf().find_client("p1@maf.example.com", kNow);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->source, KmSource::preprovisioned);
  EXPECT_EQ(c->app_id.value_or(""), "Napp1");
  EXPECT_FALSE(maf().find_client("p2@maf.example.com", kNow)->app_id);
  auto page = maf().list_clients(Page{"", 10});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].entity_id, "/cse1/Cae1");
  EXPECT_EQ((*page)[0].app_id.value_or(""), "Napp1");
  EXPECT_EQ((*page)[0].source, KmSource::preprovisioned);
  // A MEF re-registration without an App-ID keeps the stored one.
  ASSERT_TRUE(maf().register_client(client("m1@maf.example.com", "/cse1/Cae1"), kNow));
  EXPECT_EQ(maf().find_client("m1@maf.example.com", kNow)->app_id.value_or(""), "Napp1");
}

TEST_F(MafTest, AddClientsRefusesCollisionsNamingThem) {
  ASSERT_TRUE(maf().add_clients(rows_of(preprovisioned("p1@maf.example.com", "/cse1")), kNow, nullptr));
  // A single row reports its own error.
  auto dup_km = maf().add_clients(rows_of(preprovisioned("p1@maf.example.com", "/cse9")), kNow, nullptr);
  ASSERT_FALSE(dup_km);
  EXPECT_EQ(dup_km.error().code(), Errc::already_exists);
  EXPECT_NE(dup_km.error().message().find("km_id p1@maf.example.com is taken (by /cse1)"), std::string::npos)
      << dup_km.error().message();
  auto dup_entity = maf().add_clients(rows_of(preprovisioned("p9@maf.example.com", "/cse1")), kNow, nullptr);
  ASSERT_FALSE(dup_entity);
  EXPECT_NE(dup_entity.error().message().find("entity_id /cse1 already has a root key"), std::string::npos)
      << dup_entity.error().message();
  // Many rows: all or nothing, every refusal reported, duplicates within
  // the rows included.
  MafClient expired = preprovisioned("p9@maf.example.com", "/cse9");
  expired.expires_at = kNow;
  const std::vector<MafClient> all = rows_of(
      preprovisioned("p2@maf.example.com", "/cse2"),          // fine
      preprovisioned("p2@maf.example.com", "/cse3"),          // KmID of row 1
      preprovisioned("p4@maf.example.com", "/cse2"),          // entity of row 1
      preprovisioned("P5@maf.example.com", "/cse5"),          // not canonical
      preprovisioned("p6@maf.example.com", "cse6"),           // not an entity ID
      preprovisioned("p7@maf.example.com", "/cse7", "xy"),    // bad App-ID
      preprovisioned("p8@maf.example.com", "/cse8", "Napp"),  // App-ID for a CSE
      std::move(expired));                                    // expiry not after now
  std::vector<RowError> errs;
  auto r = maf().add_clients(all, kNow, &errs);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::import_rejected);
  ASSERT_EQ(errs.size(), 7u);
  EXPECT_EQ(errs[0].row, 2u);
  EXPECT_EQ(errs[0].error.code(), Errc::already_exists);
  EXPECT_EQ(errs[1].row, 3u);
  EXPECT_EQ(errs[1].error.code(), Errc::already_exists);
  EXPECT_EQ(errs[2].error.code(), Errc::invalid_identifier);
  EXPECT_EQ(errs[3].error.code(), Errc::invalid_identifier);
  EXPECT_EQ(errs[4].error.code(), Errc::invalid_identifier);
  EXPECT_EQ(errs[5].error.code(), Errc::invalid_argument);
  EXPECT_EQ(errs[6].row, 8u);
  EXPECT_EQ(errs[6].error.code(), Errc::invalid_argument);
  EXPECT_EQ(maf().find_client("p2@maf.example.com", kNow).error().code(), Errc::not_found);
  EXPECT_EQ(maf().counts()->clients, 1u);
}

TEST(AppId, Format) {
  EXPECT_TRUE(check_app_id("Napp1"));
  EXPECT_TRUE(check_app_id("R1.2-x_y~z"));
  EXPECT_FALSE(check_app_id("N"));
  EXPECT_FALSE(check_app_id("app1"));
  EXPECT_FALSE(check_app_id("Nap p"));
  EXPECT_FALSE(check_app_id("Na,b"));
  EXPECT_FALSE(check_app_id(std::string(256, 'N')));
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

// Per-key de-registration: with Entity B run as replicas, the key goes
// when its last holder lets it go, not when the first one does.
TEST_F(MafTest, AKcGoesWhenItsLastHolderReleasesIt) {
  ASSERT_TRUE(maf().register_client(client("a@maf.example.com", "/cseA"), kNow));
  ASSERT_TRUE(maf().register_kc(kc(1, "/cseA", {"/in-cse"}), kNow));
  ASSERT_TRUE(maf().hold_kc(kc_id(1), "/in-cse node-1"));
  ASSERT_TRUE(maf().hold_kc(kc_id(1), "/in-cse node-2"));
  ASSERT_TRUE(maf().hold_kc(kc_id(1), "/in-cse node-1"));  // twice is once

  Result<bool> first = maf().release_kc(kc_id(1), "/in-cse node-1");
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_FALSE(*first);                     // node-2 still holds it
  EXPECT_TRUE(maf().find_kc(kc_id(1), kNow));
  Result<bool> again = maf().release_kc(kc_id(1), "/in-cse node-1");  // a repeated release changes nothing
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  Result<bool> last = maf().release_kc(kc_id(1), "/in-cse node-2");
  ASSERT_TRUE(last);
  EXPECT_TRUE(*last);
  EXPECT_EQ(maf().find_kc(kc_id(1), kNow).error().code(), Errc::not_found);

  // Absent keys, and a key nobody ever held (it goes at once).
  EXPECT_EQ(maf().hold_kc(kc_id(1), "/in-cse node-1").error().code(), Errc::not_found);
  EXPECT_EQ(maf().release_kc(kc_id(1), "/in-cse node-1").error().code(), Errc::not_found);
  ASSERT_TRUE(maf().register_kc(kc(2, "/cseA", {"/in-cse"}), kNow));
  EXPECT_EQ(maf().hold_kc(kc_id(2), "").error().code(), Errc::invalid_argument);
  Result<bool> unheld = maf().release_kc(kc_id(2), "/in-cse node-9");
  ASSERT_TRUE(unheld);
  EXPECT_TRUE(*unheld);
  // Holds go with their key, however it goes.
  ASSERT_TRUE(maf().register_kc(kc(3, "/cseA", {"/in-cse"}), kNow));
  ASSERT_TRUE(maf().hold_kc(kc_id(3), "/in-cse node-1"));
  ASSERT_TRUE(maf().deregister_kc(kc_id(3)));
  ASSERT_TRUE(maf().register_kc(kc(3, "/cseA", {"/in-cse"}), kNow));
  Result<bool> fresh = maf().release_kc(kc_id(3), "/in-cse node-2");
  ASSERT_TRUE(fresh);
  EXPECT_TRUE(*fresh);  // the old key's hold did not survive it
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

  // Registered again, the KcID has its new targets only: the old ones went
  // with the deregistered row (register_kc inserts targets without first
  // deleting any).
  ASSERT_TRUE(maf().register_kc(kc(1, "/cseA", {"/cseE"}), kNow));
  Result<KcKey> again = maf().find_kc(kc_id(1), kNow);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->targets, std::vector<std::string>{"/cseE"});
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
