// cert_subject_test.cc: certificate-subject lookup, its uniqueness among
// active enrolees, and schema migration 2 that enforces it.
#include <gtest/gtest.h>

#include "schema.h"
#include "test_util.h"

namespace m2msec::store {
namespace {

using testing::cert_enrolee;
using testing::kFactoryCa;
using testing::open_store;
using testing::open_writer;
using testing::psk_enrolee;
using testing::TempDir;

constexpr std::int64_t kNow = 1'700'000'000;

class CertSubjectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(dir_.file("mef.db"));
    ASSERT_NE(store_, nullptr);
  }
  MefRepository& mef() { return store_->mef(); }
  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(CertSubjectTest, FindsActiveEnroleeBySubject) {
  Enrolee e = cert_enrolee("/cse1/Cae1", "CN=ae1,O=Example");
  e.expires_at = kNow + 100;
  ASSERT_TRUE(mef().add_enrolee(e, kNow));
  ASSERT_TRUE(mef().add_enrolee(psk_enrolee("/cse2", "kpm-2"), kNow));
  Result<Enrolee> got = mef().find_enrolee_by_cert_subject("CN=ae1,O=Example", kNow);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->enrolee_id, "/cse1/Cae1");
  EXPECT_EQ(got->auth_kind, AuthKind::cert);
  EXPECT_EQ(got->cert_trust_anchor, kFactoryCa);
  EXPECT_TRUE(got->kpm.empty());
}

TEST_F(CertSubjectTest, UnknownSubjectIsNotFound) {
  ASSERT_TRUE(mef().add_enrolee(cert_enrolee("/cse1", "CN=ae1"), kNow));
  Result<Enrolee> r = mef().find_enrolee_by_cert_subject("CN=other", kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::not_found);
  // Exact match only: no case folding, no prefix match.
  EXPECT_EQ(mef().find_enrolee_by_cert_subject("cn=ae1", kNow).error().code(), Errc::not_found);
  EXPECT_EQ(mef().find_enrolee_by_cert_subject("CN=ae", kNow).error().code(), Errc::not_found);
}

TEST_F(CertSubjectTest, RemovedEnroleeIsNotFound) {
  ASSERT_TRUE(mef().add_enrolee(cert_enrolee("/cse1", "CN=ae1"), kNow));
  ASSERT_TRUE(mef().remove_enrolee("/cse1"));
  Result<Enrolee> r = mef().find_enrolee_by_cert_subject("CN=ae1", kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::not_found);
}

TEST_F(CertSubjectTest, ExpiredEnroleeIsKeyExpired) {
  Enrolee e = cert_enrolee("/cse1", "CN=ae1");
  e.expires_at = kNow + 10;
  ASSERT_TRUE(mef().add_enrolee(e, kNow));
  EXPECT_TRUE(mef().find_enrolee_by_cert_subject("CN=ae1", kNow + 9));
  Result<Enrolee> r = mef().find_enrolee_by_cert_subject("CN=ae1", kNow + 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::key_expired);
}

TEST_F(CertSubjectTest, DuplicateActiveSubjectIsRefused) {
  ASSERT_TRUE(mef().add_enrolee(cert_enrolee("/cse1", "CN=ae1"), kNow));
  Status dup = mef().add_enrolee(cert_enrolee("/cse2", "CN=ae1"), kNow);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), Errc::already_exists);
  EXPECT_NE(dup.error().detail().find("cert_subject"), std::string::npos) << dup.error().detail();
  EXPECT_EQ(mef().get_enrolee("/cse2").error().code(), Errc::not_found);
}

// A removed enrolee keeps its subject as history but does not reserve it:
// the replacement is found, the tombstone is not.
TEST_F(CertSubjectTest, RemovedSubjectMayBeReused) {
  ASSERT_TRUE(mef().add_enrolee(cert_enrolee("/old", "CN=ae1"), kNow));
  ASSERT_TRUE(mef().remove_enrolee("/old"));
  ASSERT_TRUE(mef().add_enrolee(cert_enrolee("/new", "CN=ae1"), kNow));
  Result<Enrolee> got = mef().find_enrolee_by_cert_subject("CN=ae1", kNow);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->enrolee_id, "/new");
  EXPECT_EQ(mef().get_enrolee("/old")->cert_subject, "CN=ae1");
}

TEST_F(CertSubjectTest, ImportReportsDuplicateSubjects) {
  ASSERT_TRUE(mef().add_enrolee(cert_enrolee("/existing", "CN=taken"), kNow));
  std::vector<Enrolee> rows;
  rows.push_back(cert_enrolee("/a", "CN=taken"));  // collides with the database
  rows.push_back(cert_enrolee("/b", "CN=b"));
  rows.push_back(cert_enrolee("/c", "CN=b"));  // collides with row 2
  rows.push_back(psk_enrolee("/d", "kpm-d"));
  std::vector<RowError> errors;
  Result<std::size_t> r = mef().import_enrolees(rows, kNow, &errors);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::import_rejected);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].row, 1u);
  EXPECT_EQ(errors[0].error.code(), Errc::already_exists);
  EXPECT_NE(errors[0].error.detail().find("cert_subject"), std::string::npos);
  EXPECT_EQ(errors[1].row, 3u);
  EXPECT_NE(errors[1].error.detail().find("cert_subject"), std::string::npos);
  EXPECT_EQ(mef().get_enrolee("/b").error().code(), Errc::not_found);

  rows[0].cert_subject = "CN=a";
  rows[2].cert_subject = "CN=c";
  Result<std::size_t> ok = mef().import_enrolees(rows, kNow, nullptr);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(*ok, 4u);
  EXPECT_EQ(mef().find_enrolee_by_cert_subject("CN=c", kNow)->enrolee_id, "/c");
}

// insert_v1_cert writes a cert enrolee with raw SQL, as version-1 code
// could (no subject uniqueness then).
void insert_v1_cert(SqliteConn& c, const std::string& id, const std::string& subject, const std::string& state) {
  Result<sql::Stmt> s = c.prepare(
      "INSERT INTO enrolees (enrolee_id, auth_kind, cert_subject, cert_trust_anchor, target_kind, target, "
      "created_at, state) VALUES (?1, 'cert', ?2, 'factory-ca', 'maf', 'maf.example.com', 1, ?3)");
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->bind_text(1, id));
  ASSERT_TRUE(s->bind_text(2, subject));
  ASSERT_TRUE(s->bind_text(3, state));
  ASSERT_TRUE(s->run());
}

int version_of(const std::string& path) {
  SqliteConn c = open_writer(path);
  return schema_version(c).value_or(-1);
}

TEST(CertSubjectMigration, V1DatabaseMigratesToV2) {
  TempDir dir;
  const std::string path = dir.file("v1.db");
  {
    SqliteConn c = open_writer(path);
    ASSERT_EQ(apply_migrations(c, schema_migrations(sql::Dialect::sqlite).first(1)).value_or(-1), 1);
    // Legal in version 1: a removed enrolee and its replacement share a subject.
    insert_v1_cert(c, "/old", "CN=dev", "removed");
    insert_v1_cert(c, "/new", "CN=dev", "active");
  }
  ASSERT_EQ(version_of(path), 1);
  std::unique_ptr<Store> store = open_store(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(version_of(path), static_cast<int>(schema_migrations(sql::Dialect::sqlite).size()));  // 2 and every later one
  Result<Enrolee> got = store->mef().find_enrolee_by_cert_subject("CN=dev", kNow);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->enrolee_id, "/new");
  EXPECT_EQ(store->mef().get_enrolee("/old")->state, EnroleeState::removed);
  EXPECT_EQ(store->mef().add_enrolee(cert_enrolee("/third", "CN=dev"), kNow).error().code(),
            Errc::already_exists);
  EXPECT_TRUE(store->check_integrity());
}

TEST(CertSubjectMigration, ActiveDuplicatesBlockMigrationUntilResolved) {
  TempDir dir;
  const std::string path = dir.file("v1.db");
  {
    SqliteConn c = open_writer(path);
    ASSERT_EQ(apply_migrations(c, schema_migrations(sql::Dialect::sqlite).first(1)).value_or(-1), 1);
    insert_v1_cert(c, "/a", "CN=dup", "active");
    insert_v1_cert(c, "/b", "CN=dup", "active");
  }
  SqliteStoreOptions opts;
  opts.path = path;
  Result<std::unique_ptr<Store>> refused = open_sqlite_store(opts, testing::test_kek());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::store_error);
  EXPECT_NE(refused.error().detail().find("migration 2"), std::string::npos) << refused.error().detail();
  EXPECT_EQ(version_of(path), 1);  // nothing of the failed migration is kept
  {
    SqliteConn c = open_writer(path);
    ASSERT_TRUE(c.exec("UPDATE enrolees SET state = 'removed' WHERE enrolee_id = '/b'"));
  }
  std::unique_ptr<Store> store = open_store(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(version_of(path), static_cast<int>(schema_migrations(sql::Dialect::sqlite).size()));
  EXPECT_EQ(store->mef().find_enrolee_by_cert_subject("CN=dup", kNow)->enrolee_id, "/a");
}

}  // namespace
}  // namespace m2msec::store
