#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "sqlite_conn.h"
#include "test_util.h"

namespace m2msec::store {
namespace {

using testing::cert_enrolee;
using testing::ke_id;
using testing::kFactoryCa;
using testing::open_store;
using testing::psk_enrolee;
using testing::secret_of;
using testing::TempDir;

constexpr std::int64_t kNow = 1'700'000'000;

Enrolment enrolment_for(const std::string& enrolee, std::uint32_t n, std::int64_t expires = kNow + 3600) {
  Enrolment e;
  e.ke_id = ke_id(n);
  e.enrolee_id = enrolee;
  e.ke = secret_of(static_cast<std::uint8_t>(n));
  e.expires_at = expires;
  return e;
}

class MefTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = open_store(path_); ASSERT_NE(store_, nullptr); }
  MefRepository& mef() { return store_->mef(); }
  TempDir dir_;
  std::string path_ = dir_.file("mef.db");
  std::unique_ptr<Store> store_;
};

TEST_F(MefTest, AddGetAndFindByKpmId) {
  ASSERT_TRUE(mef().add_enrolee(psk_enrolee("/cse1", "kpm-1", 0x11), kNow));
  Result<Enrolee> e = mef().get_enrolee("/cse1");
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(e->kpm_id, "kpm-1");
  EXPECT_TRUE(e->kpm == secret_of(0x11));
  EXPECT_EQ(e->created_at, kNow);
  EXPECT_EQ(e->state, EnroleeState::active);
  Result<Enrolee> f = mef().find_enrolee_by_kpm_id("kpm-1", kNow);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->enrolee_id, "/cse1");

  Result<Enrolee> missing = mef().get_enrolee("/nobody");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::not_found);
}

TEST_F(MefTest, CertEnroleeHasNoKpm) {
  Enrolee e;
  e.enrolee_id = "/cse2/Cae1";
  e.auth_kind = AuthKind::cert;
  e.cert_subject = "CN=ae1";
  e.cert_trust_anchor = kFactoryCa;
  e.target_kind = TargetKind::kpsa;
  e.target = "/cseB";
  e.expires_at = kNow + 100;
  ASSERT_TRUE(mef().add_enrolee(e, kNow));
  Result<Enrolee> got = mef().get_enrolee("/cse2/Cae1");
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->kpm.empty());
  EXPECT_EQ(got->cert_trust_anchor, kFactoryCa);
  EXPECT_EQ(got->target_kind, TargetKind::kpsa);
}

// Issue 11 item 3: a root of trust is a CA certificate's fingerprint
// (sha256:<64 lowercase hex>); a CN, which any CA may carry, is refused
// for new rows.
TEST_F(MefTest, CertRootOfTrustMustBeAFingerprint) {
  for (const std::string& bad : {std::string("factory-ca"), std::string("m2msec demo CA"),
                                 "sha256:" + std::string(64, 'F'), "sha256:" + std::string(63, 'f'),
                                 "sha1:" + std::string(40, 'f'), "SHA256:" + std::string(64, 'f')}) {
    Enrolee e = cert_enrolee("/dev-9", "dev-9.sp.example.com");
    e.cert_trust_anchor = bad;
    Status st = validate_enrolee(e);
    ASSERT_FALSE(st) << bad;
    EXPECT_EQ(st.error().code(), Errc::invalid_argument);
    EXPECT_NE(st.error().detail().find("sha256:<64 lowercase hex>"), std::string::npos) << st.error().detail();
    EXPECT_FALSE(mef().add_enrolee(e, kNow)) << bad;
  }
  EXPECT_TRUE(validate_enrolee(cert_enrolee("/dev-9", "dev-9.sp.example.com")));
}

TEST_F(MefTest, DuplicatesAndInvalidRowsRefused) {
  ASSERT_TRUE(mef().add_enrolee(psk_enrolee("/cse1", "kpm-1"), kNow));
  Status dup_id = mef().add_enrolee(psk_enrolee("/cse1", "kpm-2"), kNow);
  ASSERT_FALSE(dup_id);
  EXPECT_EQ(dup_id.error().code(), Errc::already_exists);
  Status dup_kpm = mef().add_enrolee(psk_enrolee("/cse9", "kpm-1"), kNow);
  ASSERT_FALSE(dup_kpm);
  EXPECT_EQ(dup_kpm.error().code(), Errc::already_exists);
  Status bad_id = mef().add_enrolee(psk_enrolee("not an id", "kpm-3"), kNow);
  ASSERT_FALSE(bad_id);
  EXPECT_EQ(bad_id.error().code(), Errc::invalid_identifier);
  Enrolee bad_target = psk_enrolee("/cse4", "kpm-4");
  bad_target.target = "*.example.com";
  EXPECT_EQ(mef().add_enrolee(bad_target, kNow).error().code(), Errc::invalid_fqdn);
  Enrolee no_kpm = psk_enrolee("/cse5", "kpm-5");
  no_kpm.kpm = SecretBytes();
  EXPECT_EQ(mef().add_enrolee(no_kpm, kNow).error().code(), Errc::invalid_argument);
}

TEST_F(MefTest, ImportIsAllOrNothingWithRowErrors) {
  ASSERT_TRUE(mef().add_enrolee(psk_enrolee("/existing", "kpm-existing"), kNow));
  std::vector<Enrolee> rows;
  for (int i = 0; i < 2000; ++i) rows.push_back(psk_enrolee("/dev" + std::to_string(i), "kpm-" + std::to_string(i)));
  rows[499] = psk_enrolee("/dev10", "kpm-x499");    // duplicate enrolee_id within the batch
  rows[999] = psk_enrolee("/dev999", "kpm-existing");  // KpmID already in the database
  rows[1499].enrolee_id = "bad id";                  // invalid
  std::vector<RowError> errors;
  Result<std::size_t> r = mef().import_enrolees(rows, kNow, &errors);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::import_rejected);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].row, 500u);
  EXPECT_EQ(errors[0].error.code(), Errc::already_exists);
  EXPECT_NE(errors[0].error.detail().find("enrolee_id"), std::string::npos);
  EXPECT_EQ(errors[1].row, 1000u);
  EXPECT_NE(errors[1].error.detail().find("kpm_id"), std::string::npos);
  EXPECT_EQ(errors[2].row, 1500u);
  EXPECT_EQ(errors[2].error.code(), Errc::invalid_identifier);
  // Nothing was written.
  EXPECT_EQ(mef().get_enrolee("/dev0").error().code(), Errc::not_found);

  rows[499] = psk_enrolee("/dev499", "kpm-499");
  rows[999] = psk_enrolee("/dev999", "kpm-999");
  rows[1499].enrolee_id = "/dev1499";
  errors.clear();
  Result<std::size_t> ok = mef().import_enrolees(rows, kNow, &errors);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(*ok, 2000u);
  EXPECT_TRUE(errors.empty());
  EXPECT_TRUE(mef().find_enrolee_by_kpm_id("kpm-1999", kNow));
}

// A KpmID is the psk_identity of the bootstrap handshake: one that no
// handshake can carry (check_psk_identity) is refused on add and import.
TEST_F(MefTest, KpmIdMustBeAUsablePskIdentity) {
  const std::string bad[] = {std::string(256, 'k'), "kpm-\xff", "kpm-\x1b[2J", std::string("kpm\0x", 5), ""};
  for (const std::string& kpm_id : bad) {
    auto st = mef().add_enrolee(psk_enrolee("/dev1", kpm_id), kNow);
    ASSERT_FALSE(st) << ::testing::PrintToString(kpm_id);
    EXPECT_EQ(st.error().code(), Errc::invalid_identifier);
    EXPECT_NE(st.error().detail().find("kpm_id"), std::string::npos) << st.error().detail();
    std::vector<RowError> errors;
    std::vector<Enrolee> rows;
    rows.push_back(psk_enrolee("/dev2", "kpm-2"));
    rows.push_back(psk_enrolee("/dev3", kpm_id));
    ASSERT_FALSE(mef().import_enrolees(rows, kNow, &errors));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].row, 2u);
    EXPECT_EQ(errors[0].error.code(), Errc::invalid_identifier);
  }
  // The control: the longest usable KpmID is accepted.
  ASSERT_TRUE(mef().add_enrolee(psk_enrolee("/dev1", std::string(255, 'k')), kNow));
  EXPECT_EQ(mef().get_enrolee("/dev2").error().code(), Errc::not_found);
}

// Certificate names end up in listings (JSON): printable UTF-8 only.
TEST_F(MefTest, CertificateNamesMustBePrintableUtf8) {
  Enrolee e = testing::cert_enrolee("/dev1", "dev\xc0\xaf.example.com");
  auto st = mef().add_enrolee(e, kNow);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().detail().find("cert_subject"), std::string::npos) << st.error().detail();
  ASSERT_TRUE(mef().add_enrolee(testing::cert_enrolee("/dev1", "dev1.example.com"), kNow));
}

TEST_F(MefTest, NewEnrolmentReplacesOld) {
  ASSERT_TRUE(mef().add_enrolee(psk_enrolee("/cse1", "kpm-1"), kNow));
  ASSERT_TRUE(mef().put_enrolment(enrolment_for("/cse1", 1), kNow));
  Result<Enrolment> first = mef().find_enrolment(ke_id(1), kNow);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_TRUE(first->ke == secret_of(1));
  ASSERT_TRUE(mef().put_enrolment(enrolment_for("/cse1", 2), kNow + 10));
  EXPECT_EQ(mef().find_enrolment(ke_id(1), kNow + 10).error().code(), Errc::not_found);
  Result<Enrolment> second = mef().find_enrolment(ke_id(2), kNow + 10);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->created_at, kNow + 10);
  EXPECT_EQ(second->enrolee_id, "/cse1");
}

TEST_F(MefTest, EnrolmentRules) {
  Enrolee e = psk_enrolee("/cse1", "kpm-1");
  e.expires_at = kNow + 100;
  ASSERT_TRUE(mef().add_enrolee(e, kNow));
  // Unknown enrolee.
  EXPECT_EQ(mef().put_enrolment(enrolment_for("/ghost", 1, kNow + 50), kNow).error().code(), Errc::not_found);
  // Would outlive the enrolee.
  EXPECT_EQ(mef().put_enrolment(enrolment_for("/cse1", 1, kNow + 500), kNow).error().code(),
            Errc::invalid_argument);
  // Non-canonical KeID (upper-case FQDN).
  Enrolment upper = enrolment_for("/cse1", 1, kNow + 50);
  upper.ke_id = upper.ke_id.substr(0, upper.ke_id.find('@')) + "@MEF.example.com";
  EXPECT_EQ(mef().put_enrolment(upper, kNow).error().code(), Errc::invalid_identifier);
  // Kpsa for a MAF-target enrolee.
  Enrolment with_kpsa = enrolment_for("/cse1", 1, kNow + 50);
  with_kpsa.kpsa_id = "kpsa1@mef.example.com";
  with_kpsa.kpsa = secret_of(3);
  EXPECT_EQ(mef().put_enrolment(with_kpsa, kNow).error().code(), Errc::invalid_argument);

  ASSERT_TRUE(mef().put_enrolment(enrolment_for("/cse1", 1, kNow + 50), kNow));
  Result<Enrolment> expired = mef().find_enrolment(ke_id(1), kNow + 50);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code(), Errc::key_expired);
  // The enrolee itself has expired: no new enrolment, no KpmID lookup.
  EXPECT_EQ(mef().put_enrolment(enrolment_for("/cse1", 2, kNow + 300), kNow + 200).error().code(),
            Errc::key_expired);
  EXPECT_EQ(mef().find_enrolee_by_kpm_id("kpm-1", kNow + 100).error().code(), Errc::key_expired);
  Result<std::size_t> purged = mef().purge_expired(kNow + 60);
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1u);
}

TEST_F(MefTest, KpsaEnrolment) {
  Enrolee e = psk_enrolee("/cseA", "kpm-a");
  e.target_kind = TargetKind::kpsa;
  e.target = "/cseB";
  ASSERT_TRUE(mef().add_enrolee(e, kNow));
  Enrolment en = enrolment_for("/cseA", 7);
  en.kpsa_id = "kpsa-7@mef.example.com";
  en.kpsa = secret_of(0x77);
  ASSERT_TRUE(mef().put_enrolment(en, kNow));
  Result<Enrolment> got = mef().find_enrolment_by_kpsa_id("kpsa-7@mef.example.com", kNow);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_TRUE(got->kpsa == secret_of(0x77));
  EXPECT_EQ(got->ke_id, ke_id(7));
}

TEST_F(MefTest, RemoveEnroleeStopsBothLookups) {
  ASSERT_TRUE(mef().add_enrolee(psk_enrolee("/cse1", "kpm-1"), kNow));
  ASSERT_TRUE(mef().put_enrolment(enrolment_for("/cse1", 1), kNow));
  ASSERT_TRUE(mef().remove_enrolee("/cse1"));
  EXPECT_EQ(mef().find_enrolee_by_kpm_id("kpm-1", kNow).error().code(), Errc::not_found);
  EXPECT_EQ(mef().find_enrolment(ke_id(1), kNow).error().code(), Errc::not_found);
  Result<Enrolee> tomb = mef().get_enrolee("/cse1");
  ASSERT_TRUE(tomb);
  EXPECT_EQ(tomb->state, EnroleeState::removed);
  EXPECT_TRUE(tomb->kpm.empty());
  EXPECT_EQ(mef().remove_enrolee("/cse1").error().code(), Errc::not_found);
  EXPECT_EQ(mef().add_enrolee(psk_enrolee("/cse2", "kpm-1"), kNow).error().code(), Errc::already_exists);
  EXPECT_EQ(mef().remove_enrolment(ke_id(1)).error().code(), Errc::not_found);
}

// A ciphertext copied into another row or column must not decrypt.
TEST_F(MefTest, CopiedCiphertextFailsToDecrypt) {
  ASSERT_TRUE(mef().add_enrolee(psk_enrolee("/cseA", "kpm-a", 0xaa), kNow));
  ASSERT_TRUE(mef().add_enrolee(psk_enrolee("/cseB", "kpm-b", 0xbb), kNow));
  ASSERT_TRUE(mef().put_enrolment(enrolment_for("/cseA", 1), kNow));
  store_.reset();
  {
    std::unique_ptr<sql::Connection> raw = testing::raw_connection(path_);
    ASSERT_TRUE(raw);
    ASSERT_TRUE(raw->exec("UPDATE enrolees SET kpm = (SELECT kpm FROM enrolees WHERE enrolee_id = '/cseA') "
                          "WHERE enrolee_id = '/cseB'"));
    ASSERT_TRUE(raw->exec("UPDATE enrolments SET ke = (SELECT kpm FROM enrolees WHERE enrolee_id = '/cseA')"));
  }
  store_ = open_store(path_);
  ASSERT_NE(store_, nullptr);
  EXPECT_TRUE(mef().get_enrolee("/cseA"));
  Result<Enrolee> b = mef().get_enrolee("/cseB");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code(), Errc::decrypt_failed);
  Result<Enrolment> en = mef().find_enrolment(ke_id(1), kNow);
  ASSERT_FALSE(en);
  EXPECT_EQ(en.error().code(), Errc::decrypt_failed);
}

TEST_F(MefTest, WrongKekIsRefusedAtOpen) {
  ASSERT_TRUE(mef().add_enrolee(psk_enrolee("/cse1", "kpm-1"), kNow));
  store_.reset();
  Result<std::unique_ptr<Store>> s = testing::try_open_store(path_, 0x99);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Errc::wrong_kek);
}

TEST_F(MefTest, SecretsAreNotStoredInClear) {
  Enrolee e = psk_enrolee("/cse1", "kpm-1");
  const std::vector<std::uint8_t> marker = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x23, 0x45, 0x67,
                                            0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98};
  e.kpm = SecretBytes(marker);
  ASSERT_TRUE(mef().add_enrolee(e, kNow));
  store_.reset();  // checkpoints the WAL into the main file on close
  if (testing::kPostgres) {
    // What the server holds: the column as stored.
    std::unique_ptr<sql::Connection> raw = testing::raw_connection(path_);
    ASSERT_TRUE(raw);
    Result<sql::Stmt> q = raw->prepare("SELECT kpm FROM enrolees");
    ASSERT_TRUE(q);
    ASSERT_TRUE(q->step().value_or(false));
    const std::vector<std::uint8_t> stored = q->column_blob(0);
    EXPECT_EQ(stored.size(), marker.size() + kSealOverhead);
    EXPECT_EQ(std::search(stored.begin(), stored.end(), marker.begin(), marker.end()), stored.end());
    return;
  }
  for (const std::string& f : {path_, path_ + "-wal"}) {
    std::ifstream in(f, std::ios::binary);
    const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    const auto it = std::search(bytes.begin(), bytes.end(), marker.begin(), marker.end(),
                                [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; });
    EXPECT_EQ(it, bytes.end()) << f;
  }
}

TEST(MefOpen, EmptyPathIsInvalid) {
  Result<std::unique_ptr<Store>> s = open_sqlite_store(SqliteStoreOptions{}, testing::test_kek());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Errc::invalid_argument);
}

}  // namespace
}  // namespace m2msec::store

namespace m2msec::store {
namespace {

// Operator rotation: the current enrolment goes, the enrolee stays.
TEST_F(MefTest, RevokeEnrolmentLeavesEnrolee) {
  ASSERT_TRUE(mef().add_enrolee(psk_enrolee("/cse1", "kpm-1"), kNow));
  ASSERT_TRUE(mef().put_enrolment(enrolment_for("/cse1", 1), kNow));
  ASSERT_TRUE(mef().revoke_enrolment("/cse1"));
  EXPECT_EQ(mef().find_enrolment(ke_id(1), kNow).error().code(), Errc::not_found);
  EXPECT_TRUE(mef().get_enrolee("/cse1"));
  EXPECT_EQ(mef().revoke_enrolment("/cse1").error().code(), Errc::not_found);
  EXPECT_EQ(mef().revoke_enrolment("/nobody").error().code(), Errc::not_found);
  ASSERT_TRUE(mef().put_enrolment(enrolment_for("/cse1", 2), kNow));
  EXPECT_TRUE(mef().find_enrolment(ke_id(2), kNow));
}

}  // namespace
}  // namespace m2msec::store
