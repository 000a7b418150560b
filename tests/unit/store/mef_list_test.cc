// mef_list_test.cc: MefRepository::list_enrolees and counts.
#include <gtest/gtest.h>

#include <type_traits>

#include "test_util.h"

namespace m2msec::store {
namespace {

using testing::cert_enrolee;
using testing::ke_id;
using testing::open_store;
using testing::psk_enrolee;
using testing::secret_of;
using testing::TempDir;

constexpr std::int64_t kNow = 1'700'000'000;

// Summaries hold no SecretBytes (which are move-only), so they copy.
static_assert(std::is_copy_constructible_v<EnroleeSummary>);
static_assert(std::is_copy_constructible_v<EnrolmentSummary>);

std::vector<std::string> ids_of(const std::vector<EnroleeSummary>& rows) {
  std::vector<std::string> out;
  for (const EnroleeSummary& r : rows) out.push_back(r.enrolee_id);
  return out;
}

class MefListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(path_);
    ASSERT_NE(store_, nullptr);
  }
  MefRepository& mef() { return store_->mef(); }

  // populate adds /e01../e05 (psk, MAF target; /e02 and /e04 on
  // maf2.example.com), /k01 (cert, Kpsa target /cseB), removes /e03 and
  // enrols /e01 and /k01.
  void populate() {
    for (int i = 1; i <= 5; ++i) {
      Enrolee e = psk_enrolee("/e0" + std::to_string(i), "kpm-" + std::to_string(i));
      if (i % 2 == 0) e.target = "maf2.example.com";
      ASSERT_TRUE(mef().add_enrolee(e, kNow + i));
    }
    Enrolee k = cert_enrolee("/k01", "CN=k01");
    k.target_kind = TargetKind::kpsa;
    k.target = "/cseB";
    k.expires_at = kNow + 7200;
    ASSERT_TRUE(mef().add_enrolee(k, kNow));
    ASSERT_TRUE(mef().remove_enrolee("/e03"));
    Enrolment en;
    en.ke_id = ke_id(1);
    en.enrolee_id = "/e01";
    en.ke = secret_of(1);
    en.expires_at = kNow + 3600;
    ASSERT_TRUE(mef().put_enrolment(en, kNow + 50));
    Enrolment kp;
    kp.ke_id = ke_id(2);
    kp.enrolee_id = "/k01";
    kp.ke = secret_of(2);
    kp.kpsa_id = "kpsa-2@mef.example.com";
    kp.kpsa = secret_of(3);
    kp.expires_at = kNow + 600;
    ASSERT_TRUE(mef().put_enrolment(kp, kNow + 60));
  }

  Result<std::vector<EnroleeSummary>> list(EnroleeFilter f) { return mef().list_enrolees(f); }

  TempDir dir_;
  std::string path_ = dir_.file("mef.db");
  std::unique_ptr<Store> store_;
};

TEST_F(MefListTest, EmptyStoreListsNothingAndCountsZero) {
  Result<std::vector<EnroleeSummary>> rows = list({});
  ASSERT_TRUE(rows) << rows.error().message();
  EXPECT_TRUE(rows->empty());
  Result<MefCounts> n = mef().counts();
  ASSERT_TRUE(n);
  EXPECT_EQ(n->active_enrolees, 0u);
  EXPECT_EQ(n->removed_enrolees, 0u);
  EXPECT_EQ(n->enrolments, 0u);
}

TEST_F(MefListTest, SummariesCarryRecordFieldsAndEnrolment) {
  populate();
  Result<std::vector<EnroleeSummary>> rows = list({});
  ASSERT_TRUE(rows) << rows.error().message();
  ASSERT_EQ(ids_of(*rows), (std::vector<std::string>{"/e01", "/e02", "/e03", "/e04", "/e05", "/k01"}));
  const EnroleeSummary& e1 = (*rows)[0];
  EXPECT_EQ(e1.auth_kind, AuthKind::psk);
  EXPECT_EQ(e1.kpm_id, "kpm-1");
  EXPECT_FALSE(e1.cert_subject);
  EXPECT_EQ(e1.target_kind, TargetKind::maf);
  EXPECT_EQ(e1.target, "maf.example.com");
  EXPECT_FALSE(e1.expires_at);
  EXPECT_EQ(e1.created_at, kNow + 1);
  EXPECT_EQ(e1.state, EnroleeState::active);
  ASSERT_TRUE(e1.enrolment);
  EXPECT_EQ(e1.enrolment->ke_id, ke_id(1));
  EXPECT_FALSE(e1.enrolment->kpsa_id);
  EXPECT_EQ(e1.enrolment->created_at, kNow + 50);
  EXPECT_EQ(e1.enrolment->expires_at, kNow + 3600);

  EXPECT_FALSE((*rows)[1].enrolment);
  EXPECT_EQ((*rows)[2].state, EnroleeState::removed);
  EXPECT_FALSE((*rows)[2].enrolment);  // removal deleted nothing it should keep

  const EnroleeSummary& k = (*rows)[5];
  EXPECT_EQ(k.auth_kind, AuthKind::cert);
  EXPECT_FALSE(k.kpm_id);
  EXPECT_EQ(k.cert_subject, "CN=k01");
  EXPECT_EQ(k.target_kind, TargetKind::kpsa);
  EXPECT_EQ(k.target, "/cseB");
  EXPECT_EQ(k.expires_at, kNow + 7200);
  ASSERT_TRUE(k.enrolment);
  EXPECT_EQ(k.enrolment->ke_id, ke_id(2));
  EXPECT_EQ(k.enrolment->kpsa_id, "kpsa-2@mef.example.com");
  EXPECT_EQ(k.enrolment->created_at, kNow + 60);
  EXPECT_EQ(k.enrolment->expires_at, kNow + 600);
}

TEST_F(MefListTest, PagesFollowEachOtherWithoutGapsOrRepeats) {
  populate();
  std::vector<std::string> seen;
  std::vector<std::size_t> sizes;
  EnroleeFilter f;
  f.page.limit = 4;
  while (true) {
    Result<std::vector<EnroleeSummary>> rows = list(f);
    ASSERT_TRUE(rows) << rows.error().message();
    sizes.push_back(rows->size());
    for (const EnroleeSummary& r : *rows) seen.push_back(r.enrolee_id);
    if (rows->size() < f.page.limit) break;
    f.page.after = rows->back().enrolee_id;
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{4, 2}));
  EXPECT_EQ(seen, (std::vector<std::string>{"/e01", "/e02", "/e03", "/e04", "/e05", "/k01"}));
  // |after| need not be a stored key.
  f.page.after = "/e035";
  f.page.limit = 1;
  EXPECT_EQ(ids_of(*list(f)), (std::vector<std::string>{"/e04"}));
}

TEST_F(MefListTest, FiltersCombine) {
  populate();
  EnroleeFilter removed;
  removed.state = EnroleeState::removed;
  EXPECT_EQ(ids_of(*list(removed)), (std::vector<std::string>{"/e03"}));

  EnroleeFilter kpsa;
  kpsa.target_kind = TargetKind::kpsa;
  EXPECT_EQ(ids_of(*list(kpsa)), (std::vector<std::string>{"/k01"}));

  EnroleeFilter maf2;
  // emplace, not "= literal": GCC 12 at -O1 (asan preset) falsely warns
  // maybe-uninitialized on assigning a literal to an empty optional<string>.
  maf2.target.emplace("maf2.example.com");
  EXPECT_EQ(ids_of(*list(maf2)), (std::vector<std::string>{"/e02", "/e04"}));

  EnroleeFilter active_maf;
  active_maf.state = EnroleeState::active;
  active_maf.target_kind = TargetKind::maf;
  active_maf.target.emplace("maf.example.com");
  EXPECT_EQ(ids_of(*list(active_maf)), (std::vector<std::string>{"/e01", "/e05"}));

  // Filters and paging together: the page limit counts matching rows.
  active_maf.page.limit = 1;
  active_maf.page.after = "/e01";
  EXPECT_EQ(ids_of(*list(active_maf)), (std::vector<std::string>{"/e05"}));

  EnroleeFilter none;
  none.target.emplace("nowhere.example.com");
  EXPECT_TRUE(list(none)->empty());
}

TEST_F(MefListTest, PageLimitOutOfRangeIsInvalid) {
  populate();
  EnroleeFilter zero;
  zero.page.limit = 0;
  Result<std::vector<EnroleeSummary>> r0 = list(zero);
  ASSERT_FALSE(r0);
  EXPECT_EQ(r0.error().code(), Errc::invalid_argument);
  EnroleeFilter big;
  big.page.limit = kMaxPageLimit + 1;
  Result<std::vector<EnroleeSummary>> rbig = list(big);
  ASSERT_FALSE(rbig);
  EXPECT_EQ(rbig.error().code(), Errc::invalid_argument);
  big.page.limit = kMaxPageLimit;
  ASSERT_TRUE(list(big));
  EXPECT_EQ(list(big)->size(), 6u);
}

TEST_F(MefListTest, CorruptRowIsStoreError) {
  populate();
  store_.reset();
  {
    std::unique_ptr<sql::Connection> raw = testing::raw_connection(path_);
    ASSERT_TRUE(raw);
    ASSERT_TRUE(testing::allow_bad_values(*raw, "enrolees"));
    ASSERT_TRUE(raw->exec("UPDATE enrolees SET state = 'frozen' WHERE enrolee_id = '/e02'"));
  }
  store_ = open_store(path_);
  ASSERT_NE(store_, nullptr);
  Result<std::vector<EnroleeSummary>> rows = list({});
  ASSERT_FALSE(rows);
  EXPECT_EQ(rows.error().code(), Errc::store_error);
  EXPECT_NE(rows.error().detail().find("/e02"), std::string::npos);
  // A page that does not reach the corrupt row still lists.
  EnroleeFilter first;
  first.page.limit = 1;
  EXPECT_EQ(ids_of(*list(first)), (std::vector<std::string>{"/e01"}));
}

TEST_F(MefListTest, CountsFollowWrites) {
  populate();
  Result<MefCounts> n = mef().counts();
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(n->active_enrolees, 5u);
  EXPECT_EQ(n->removed_enrolees, 1u);
  EXPECT_EQ(n->enrolments, 2u);
  ASSERT_TRUE(mef().remove_enrolee("/k01"));  // also deletes its enrolment
  n = mef().counts();
  ASSERT_TRUE(n);
  EXPECT_EQ(n->active_enrolees, 4u);
  EXPECT_EQ(n->removed_enrolees, 2u);
  EXPECT_EQ(n->enrolments, 1u);
}

}  // namespace
}  // namespace m2msec::store
