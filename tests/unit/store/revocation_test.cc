// The revocation log (revocation_log.h): what the MEF and the MAF write
// when they end a key, what a holder reads back, and the MAF's memory of
// what it revoked.
#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>

#include "test_util.h"

namespace m2msec::store {
namespace {

using testing::ke_id;
using testing::kc_id;
using testing::open_store;
using testing::psk_enrolee;
using testing::secret_of;
using testing::TempDir;

// Real time: the MEF's remove and revoke stamp entries with the clock.
const std::int64_t kNow = std::time(nullptr);

Enrolment enrolment_for(const std::string& enrolee, std::uint32_t n) {
  Enrolment e;
  e.ke_id = ke_id(n);
  e.enrolee_id = enrolee;
  e.ke = secret_of(static_cast<std::uint8_t>(n));
  e.expires_at = kNow + 3600;
  return e;
}

// A KmID as the MAF assigns it: the hex of a 16-byte RelativeKeID, at the
// MAF's FQDN.
std::string km_id(std::uint32_t n) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", n);
  auto id = KeyId::parse(KeyIdKind::km, std::string(hex) + std::string(24, '0') + "@maf.example.com");
  EXPECT_TRUE(id) << id.error().message();
  return id ? id->canonical() : "";
}

class RevocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(dir_.file("r.db"));
    ASSERT_NE(store_, nullptr);
  }
  RevocationPage page(std::int64_t after, std::string_view holder = "") {
    auto p = store_->revocations().after(after, holder, kMaxRevocationPage);
    EXPECT_TRUE(p) << p.error().message();
    return p ? std::move(*p) : RevocationPage{};
  }
  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(RevocationTest, FreshLogHasAnEpochAndNoEntries) {
  RevocationPage p = page(0);
  EXPECT_EQ(p.epoch.size(), 32u);
  EXPECT_EQ(p.head, 0);
  EXPECT_TRUE(p.entries.empty());
  // Another database, another epoch.
  TempDir other;
  auto s2 = open_store(other.file("r.db"));
  EXPECT_NE(s2->revocations().after(0, "", 10)->epoch, p.epoch);
}

TEST_F(RevocationTest, EveryEndOfAnEnrolmentIsLoggedWithItsHolder) {
  MefRepository& mef = store_->mef();
  ASSERT_TRUE(mef.add_enrolee(psk_enrolee("/d1", "kpm-1"), kNow));
  ASSERT_TRUE(mef.add_enrolee(psk_enrolee("/d2", "kpm-2"), kNow));
  // An enrolment with nothing before it revokes nothing.
  ASSERT_TRUE(mef.put_enrolment(enrolment_for("/d1", 1), kNow));
  EXPECT_TRUE(page(0).entries.empty());
  // A new enrolment replaces the old one: the old KeID is logged.
  ASSERT_TRUE(mef.put_enrolment(enrolment_for("/d1", 2), kNow));
  // rotate (revoke_enrolment), then remove.
  ASSERT_TRUE(mef.revoke_enrolment("/d1"));
  ASSERT_TRUE(mef.put_enrolment(enrolment_for("/d2", 3), kNow));
  ASSERT_TRUE(mef.remove_enrolee("/d2"));
  RevocationPage p = page(0);
  ASSERT_EQ(p.entries.size(), 3u);
  EXPECT_EQ(p.head, 3);
  EXPECT_EQ(p.entries[0].key_id, ke_id(1));
  EXPECT_EQ(p.entries[1].key_id, ke_id(2));
  EXPECT_EQ(p.entries[2].key_id, ke_id(3));
  for (const Revocation& r : p.entries) {
    EXPECT_EQ(r.kind, RevokedKind::ke);
    EXPECT_EQ(r.holder, "maf.example.com");
    EXPECT_EQ(r.expires_at, kNow + 3600);
    EXPECT_FALSE(r.kpsa_id);
  }
  EXPECT_EQ(p.entries[2].entity_id, "/d2");
  // After a cursor, only what came later.
  RevocationPage later = page(2);
  ASSERT_EQ(later.entries.size(), 1u);
  EXPECT_EQ(later.entries[0].seq, 3);
  // A negative cursor asks for the head only.
  RevocationPage head = page(-1);
  EXPECT_EQ(head.head, 3);
  EXPECT_TRUE(head.entries.empty());
}

TEST_F(RevocationTest, RetargetNamesTheOldHolderAndFiltersByHolder) {
  MefRepository& mef = store_->mef();
  Enrolee e = psk_enrolee("/d1", "kpm-1");
  e.target = "MAF.Example.com";  // holders are compared as FQDNs: lower case
  ASSERT_TRUE(mef.add_enrolee(e, kNow));
  ASSERT_TRUE(mef.put_enrolment(enrolment_for("/d1", 1), kNow));
  ASSERT_TRUE(mef.retarget_enrolee("/d1", TargetKind::maf, "maf2.example.com", kNow));
  EXPECT_EQ(mef.get_enrolee("/d1")->target, "maf2.example.com");
  EXPECT_EQ(mef.find_enrolment(ke_id(1), kNow).error().code(), Errc::not_found);
  EXPECT_EQ(page(0, "maf.example.com").entries.size(), 1u);
  EXPECT_TRUE(page(0, "maf2.example.com").entries.empty());
  // A Kpsa enrolee: the holder is Entity B's CSE-ID, with the KpsaID.
  ASSERT_TRUE(mef.put_enrolment(enrolment_for("/d1", 2), kNow));
  ASSERT_TRUE(mef.retarget_enrolee("/d1", TargetKind::kpsa, "/in-cse", kNow));
  Enrolment k = enrolment_for("/d1", 3);
  k.kpsa_id = KeyId::parse(KeyIdKind::kpsa, "kpsa-1@mef.example.com")->canonical();
  k.kpsa = secret_of(0x77);
  ASSERT_TRUE(mef.put_enrolment(k, kNow));
  ASSERT_TRUE(mef.revoke_enrolment("/d1"));
  RevocationPage b = page(0, "/in-cse");
  ASSERT_EQ(b.entries.size(), 1u);
  EXPECT_EQ(b.entries[0].kpsa_id, k.kpsa_id);
  EXPECT_EQ(b.entries[0].holder, "/in-cse");
  // Refusals: a bad target, an unknown enrolee.
  EXPECT_EQ(mef.retarget_enrolee("/d1", TargetKind::maf, "not a name", kNow).error().code(), Errc::invalid_fqdn);
  EXPECT_EQ(mef.retarget_enrolee("/d1", TargetKind::kpsa, "no-slash", kNow).error().code(),
            Errc::invalid_identifier);
  EXPECT_EQ(mef.retarget_enrolee("/nobody", TargetKind::maf, "maf.example.com", kNow).error().code(),
            Errc::not_found);
}

TEST_F(RevocationTest, MafRevocationIsRememberedAfterTheClientIsGone) {
  MafRepository& maf = store_->maf();
  MafClient c;
  c.km_id = km_id(1);
  c.km = secret_of(0x21);
  c.entity_id = "/d1";
  c.expires_at = kNow + 100;
  ASSERT_TRUE(maf.register_client(c, kNow));
  KcKey k;
  k.kc_id = kc_id(9);
  k.kc = secret_of(0x09);
  k.entity_a_id = "/d1";
  k.targets = {"/in-cse"};
  k.expires_at = kNow + 50;
  ASSERT_TRUE(maf.register_kc(k, kNow));

  Revocation r;
  r.kind = RevokedKind::km;
  r.key_id = km_id(1);
  auto existed = maf.revoke_client(r, kNow);
  ASSERT_TRUE(existed) << existed.error().message();
  EXPECT_TRUE(*existed);
  EXPECT_EQ(maf.find_client(km_id(1), kNow).error().code(), Errc::not_found);
  EXPECT_EQ(maf.find_kc(kc_id(9), kNow).error().code(), Errc::not_found);
  RevocationPage p = page(0);
  ASSERT_EQ(p.entries.size(), 1u);
  EXPECT_EQ(p.entries[0].entity_id, "/d1");        // from the registration
  EXPECT_EQ(p.entries[0].expires_at, kNow + 100);  // Km's expiry
  EXPECT_TRUE(*store_->revocations().is_revoked(RevokedKind::km, km_id(1), kNow));
  EXPECT_FALSE(*store_->revocations().is_revoked(RevokedKind::km, km_id(1), kNow + 100));  // expired with Km
  EXPECT_FALSE(*store_->revocations().is_revoked(RevokedKind::km, km_id(2), kNow));
  EXPECT_FALSE(*store_->revocations().is_revoked(RevokedKind::kc, km_id(1), kNow));

  // No registration: the entry is remembered as given.
  r.key_id = km_id(2);
  r.entity_id = "/d2";
  r.expires_at = kNow + 10;
  existed = maf.revoke_client(r, kNow);
  ASSERT_TRUE(existed);
  EXPECT_FALSE(*existed);
  EXPECT_TRUE(*store_->revocations().is_revoked(RevokedKind::km, km_id(2), kNow));
  // The same entry again (another replica applying the same MEF feed) is
  // not logged twice; one that outlives the first is.
  ASSERT_TRUE(maf.revoke_client(r, kNow));
  EXPECT_EQ(page(0).entries.size(), 2u);
  r.expires_at = kNow + 20;
  ASSERT_TRUE(maf.revoke_client(r, kNow));
  EXPECT_EQ(page(0).entries.size(), 3u);
  r.expires_at = kNow + 10;
  // Refused: another kind, a non-canonical KmID.
  r.kind = RevokedKind::kc;
  EXPECT_EQ(maf.revoke_client(r, kNow).error().code(), Errc::invalid_argument);
  r.kind = RevokedKind::km;
  r.key_id = "not-a-km-id";
  EXPECT_EQ(maf.revoke_client(r, kNow).error().code(), Errc::invalid_identifier);

  // Purging drops what expired, and the head never goes back.
  EXPECT_EQ(*store_->revocations().purge_expired(kNow + 10), 1u);
  EXPECT_EQ(page(0).head, 3);
  EXPECT_EQ(page(0).entries.size(), 2u);
}

// A MEF feed page is applied in one transaction: all of it or none.
TEST_F(RevocationTest, ManyClientsAreRevokedInOneTransaction) {
  MafRepository& maf = store_->maf();
  for (std::uint32_t n : {1u, 2u}) {
    MafClient c;
    c.km_id = km_id(n);
    c.km = secret_of(0x21);
    c.entity_id = "/d" + std::to_string(n);
    ASSERT_TRUE(maf.register_client(c, kNow));
  }
  std::vector<Revocation> rs(3);
  for (std::uint32_t n = 1; n <= 3; ++n) {
    rs[n - 1].kind = RevokedKind::km;
    rs[n - 1].key_id = km_id(n);
    rs[n - 1].expires_at = kNow + 100;
  }
  std::vector<Revocation> bad = rs;
  bad[2].key_id = "not-a-km-id";
  EXPECT_EQ(maf.revoke_clients(bad, kNow).error().code(), Errc::invalid_identifier);
  EXPECT_TRUE(maf.find_client(km_id(1), kNow));  // nothing was revoked
  EXPECT_TRUE(page(0).entries.empty());
  const auto before = store_->write_stats().transactions;
  auto existed = maf.revoke_clients(rs, kNow);
  ASSERT_TRUE(existed) << existed.error().message();
  EXPECT_EQ(*existed, 2u);  // km 3 had no registration: remembered only
  EXPECT_EQ(store_->write_stats().transactions, before + 1);
  EXPECT_EQ(page(0).entries.size(), 3u);
  EXPECT_EQ(maf.find_client(km_id(2), kNow).error().code(), Errc::not_found);
  EXPECT_TRUE(*store_->revocations().is_revoked(RevokedKind::km, km_id(3), kNow));
}

TEST_F(RevocationTest, OperatorKcRevocationIsLoggedButConnectionEndsAreNot) {
  MafRepository& maf = store_->maf();
  MafClient c;
  c.km_id = km_id(1);
  c.km = secret_of(0x21);
  c.entity_id = "/d1";
  ASSERT_TRUE(maf.register_client(c, kNow));
  for (std::uint32_t n : {1u, 2u}) {
    KcKey k;
    k.kc_id = kc_id(n);
    k.kc = secret_of(0x09);
    k.entity_a_id = "/d1";
    k.targets = {"/in-cse"};
    k.expires_at = kNow + 50;
    ASSERT_TRUE(maf.register_kc(k, kNow));
  }
  ASSERT_TRUE(maf.deregister_kc(kc_id(1)));  // the connection ended
  EXPECT_TRUE(page(0).entries.empty());
  ASSERT_TRUE(maf.revoke_kc(kc_id(2), kNow));  // the operator revoked it
  RevocationPage p = page(0);
  ASSERT_EQ(p.entries.size(), 1u);
  EXPECT_EQ(p.entries[0].kind, RevokedKind::kc);
  EXPECT_EQ(p.entries[0].key_id, kc_id(2));
  EXPECT_EQ(p.entries[0].entity_id, "/d1");
  EXPECT_EQ(maf.revoke_kc(kc_id(2), kNow).error().code(), Errc::not_found);
}

TEST_F(RevocationTest, PagesAndCursors) {
  for (std::uint32_t i = 0; i < kMaxRevocationPage + 5; ++i) {
    Revocation r;
    r.kind = RevokedKind::km;
    r.key_id = km_id(i);
    r.expires_at = kNow + 100;
    ASSERT_TRUE(store_->revocations().record(r, kNow));
  }
  RevocationPage first = page(0);
  EXPECT_EQ(first.entries.size(), kMaxRevocationPage);
  EXPECT_TRUE(first.more);
  RevocationPage rest = page(first.entries.back().seq);
  EXPECT_EQ(rest.entries.size(), 5u);
  EXPECT_FALSE(rest.more);
  EXPECT_EQ(store_->revocations().after(0, "", 0).error().code(), Errc::invalid_argument);
  EXPECT_EQ(store_->revocations().after(0, "", kMaxRevocationPage + 1).error().code(), Errc::invalid_argument);

  EXPECT_EQ(store_->revocations().cursor("mef.example.com").error().code(), Errc::not_found);
  ASSERT_TRUE(store_->revocations().set_cursor("mef.example.com", {first.epoch, 7}));
  ASSERT_TRUE(store_->revocations().set_cursor("mef.example.com", {first.epoch, 9}));
  auto c = store_->revocations().cursor("mef.example.com");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->epoch, first.epoch);
  EXPECT_EQ(c->seq, 9);
}

}  // namespace
}  // namespace m2msec::store
