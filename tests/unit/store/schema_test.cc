#include "schema.h"

#include <gtest/gtest.h>

#include <array>

#include "m2msec/store/secret_box.h"
#include "test_util.h"

namespace m2msec::store {
namespace {

using testing::TempDir;

SqliteConn open_writer(const std::string& path) {
  Result<SqliteConn> c = SqliteConn::open(path, SqliteMode::writer, 1000);
  EXPECT_TRUE(c);
  return std::move(*c);
}

constexpr Migration kV1{1, "CREATE TABLE things (id TEXT PRIMARY KEY, size INTEGER NOT NULL) STRICT;"};
constexpr Migration kV2{2,
                        "ALTER TABLE things ADD COLUMN label TEXT;"
                        "UPDATE things SET label = 'size-' || size;"
                        "CREATE INDEX things_label ON things(label);"};

TEST(Schema, MigratesV1ToV2KeepingData) {
  TempDir dir;
  const std::string path = dir.file("m.db");
  {
    SqliteConn c = open_writer(path);
    const std::array<Migration, 1> v1 = {kV1};
    ASSERT_EQ(apply_migrations(c, v1).value_or(-1), 1);
    ASSERT_TRUE(c.exec("INSERT INTO things VALUES ('a', 3)"));
  }
  SqliteConn c = open_writer(path);
  const std::array<Migration, 2> v2 = {kV1, kV2};
  ASSERT_EQ(apply_migrations(c, v2).value_or(-1), 2);
  EXPECT_EQ(schema_version(c).value_or(-1), 2);
  Result<sql::Stmt> s = c.prepare("SELECT label FROM things WHERE id = 'a'");
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->step().value_or(false));
  EXPECT_EQ(s->column_text(0), "size-3");
  // Running again is a no-op.
  EXPECT_EQ(apply_migrations(c, v2).value_or(-1), 2);
}

TEST(Schema, FailedMigrationKeepsNothing) {
  TempDir dir;
  SqliteConn c = open_writer(dir.file("m.db"));
  const std::array<Migration, 1> v1 = {kV1};
  ASSERT_TRUE(apply_migrations(c, v1));
  const std::array<Migration, 2> bad = {kV1, Migration{2, "CREATE TABLE extra (x); SELECT * FROM no_such_table;"}};
  Result<int> r = apply_migrations(c, bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::store_error);
  EXPECT_EQ(schema_version(c).value_or(-1), 1);
  Result<sql::Stmt> s = c.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'extra'");
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->step().value_or(false));
  EXPECT_EQ(s->column_int64(0), 0);
}

TEST(Schema, NewerDatabaseIsRefused) {
  TempDir dir;
  const std::string path = dir.file("m.db");
  {
    SqliteConn c = open_writer(path);
    ASSERT_TRUE(apply_migrations(c, schema_migrations(sql::Dialect::sqlite)));
    ASSERT_TRUE(c.exec("PRAGMA user_version = 99"));
  }
  SqliteStoreOptions opts;
  opts.path = path;
  Result<std::unique_ptr<Store>> s = open_sqlite_store(opts, testing::test_kek());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Errc::schema_too_new);
}

TEST(Schema, MigrationsMustBeConsecutive) {
  TempDir dir;
  SqliteConn c = open_writer(dir.file("m.db"));
  const std::array<Migration, 1> gap = {Migration{2, "SELECT 1;"}};
  Result<int> r = apply_migrations(c, gap);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::invalid_argument);
}

// Migration 3 adds maf_clients.app_id (seed 004: the MAS keeps App-IDs
// beside the root keys). A version 2 database keeps its clients, which
// read back without an App-ID and can be given one.
TEST(Schema, Version2MafClientsMigrateToAppId) {
  TempDir dir;
  const std::string path = dir.file("v2.db");
  const std::string km_id = "c1@maf.example.com";
  {
    SqliteConn c = open_writer(path);
    ASSERT_EQ(apply_migrations(c, schema_migrations(sql::Dialect::sqlite).first(2)).value_or(-1), 2);
    const SecretBytes km = testing::secret_of(0x33);
    Result<std::vector<std::uint8_t>> blob =
        seal(testing::test_kek(), seal_aad("maf_clients", "km", km_id), km.view());
    ASSERT_TRUE(blob);
    Result<sql::Stmt> ins = c.prepare(
        "INSERT INTO maf_clients (km_id, km, entity_id, source, expires_at, registered_at) "
        "VALUES (?1, ?2, '/cseA/Cae1', 'preprovisioned', NULL, 5)");
    ASSERT_TRUE(ins);
    ASSERT_TRUE(ins->bind_text(1, km_id));
    ASSERT_TRUE(ins->bind_blob(2, *blob));
    ASSERT_TRUE(ins->run());
    // Version 2 has no app_id column: the migration is what adds it.
    EXPECT_FALSE(c.prepare("SELECT app_id FROM maf_clients"));
  }
  std::unique_ptr<Store> s = testing::open_store(path);
  ASSERT_NE(s, nullptr);
  Result<MafClient> old = s->maf().find_client(km_id, 10);
  ASSERT_TRUE(old) << old.error().message();
  EXPECT_TRUE(old->km == testing::secret_of(0x33));
  EXPECT_EQ(old->source, KmSource::preprovisioned);
  EXPECT_FALSE(old->app_id);
  // The migrated table takes an App-ID.
  MafClient c = std::move(*old);
  c.app_id = "Napp1";
  ASSERT_TRUE(s->maf().register_client(c, 10));
  EXPECT_EQ(s->maf().find_client(km_id, 10)->app_id.value_or(""), "Napp1");
  s.reset();
  SqliteConn check = open_writer(path);
  EXPECT_EQ(schema_version(check).value_or(-1), static_cast<int>(schema_migrations(sql::Dialect::sqlite).size()));
}

// Migration 7 adds the GBA tables (gba_subscribers, gba_bootstraps). A
// version 6 database keeps its enrolees and takes subscribers and
// bootstrapping sessions after it.
TEST(Schema, Version6MigratesToGbaTables) {
  TempDir dir;
  const std::string path = dir.file("v6.db");
  {
    SqliteConn c = open_writer(path);
    ASSERT_EQ(apply_migrations(c, schema_migrations(sql::Dialect::sqlite).first(6)).value_or(-1), 6);
    const SecretBytes kpm = testing::secret_of(0x11);
    Result<std::vector<std::uint8_t>> blob = seal(testing::test_kek(), seal_aad("enrolees", "kpm", "/cse1"), kpm.view());
    ASSERT_TRUE(blob);
    Result<sql::Stmt> ins = c.prepare(
        "INSERT INTO enrolees (enrolee_id, auth_kind, kpm_id, kpm, target_kind, target, created_at, state) "
        "VALUES ('/cse1', 'psk', 'kpm-1', ?1, 'maf', 'maf.example.com', 5, 'active')");
    ASSERT_TRUE(ins);
    ASSERT_TRUE(ins->bind_blob(1, *blob));
    ASSERT_TRUE(ins->run());
    // Version 6 has no GBA tables: the migration is what adds them.
    EXPECT_FALSE(c.prepare("SELECT impi FROM gba_subscribers"));
  }
  std::unique_ptr<Store> s = testing::open_store(path);
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->mef().get_enrolee("/cse1")->kpm == testing::secret_of(0x11));
  GbaSubscriber sub;
  sub.impi = "001010000000001@ims.mnc001.mcc001.3gppnetwork.org";
  sub.k = testing::secret_of(1, kGbaKeySize);
  sub.opc = testing::secret_of(2, kGbaKeySize);
  sub.enrolee_id = "/cse1";  // its GUSS: the enrolee it is, and its one Enrolment Target
  sub.target_kind = TargetKind::maf;
  sub.target = "maf.example.com";
  ASSERT_TRUE(s->mef().add_subscriber(sub, 10));
  Result<GbaSubscriber> got = s->mef().get_subscriber(sub.impi);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->enrolee_id, "/cse1");
  EXPECT_EQ(got->target_kind, TargetKind::maf);
  EXPECT_EQ(got->target, "maf.example.com");
  GbaBootstrap b;
  b.b_tid = "tid@bsf.example.org";
  b.impi = sub.impi;
  b.ks = testing::secret_of(3, kGbaKsSize);
  b.rand.assign(kGbaKeySize, 4);
  b.expires_at = 100;
  ASSERT_TRUE(s->mef().put_bootstrap(b, 10));
  EXPECT_TRUE(s->mef().find_bootstrap(b.b_tid, 20));
  s.reset();
  SqliteConn check = open_writer(path);
  EXPECT_EQ(schema_version(check).value_or(-1), 8);
  // The table itself holds the GUSS rules: enrolee_id, target_kind and
  // target required, target_kind maf or kpsa, one IMPI per enrolee.
  const std::string insert = "INSERT INTO gba_subscribers (impi, k, opc, sqn, amf, enrolee_id, target_kind, "
                             "target, created_at) VALUES ('raw@x', x'00', x'00', 0, 0, ";
  EXPECT_FALSE(check.exec(insert + "NULL, 'maf', 'maf.example.com', 1)"));
  EXPECT_FALSE(check.exec(insert + "'/raw', NULL, 'maf.example.com', 1)"));
  EXPECT_FALSE(check.exec(insert + "'/raw', 'maf', NULL, 1)"));
  EXPECT_FALSE(check.exec(insert + "'/raw', 'nap', 'maf.example.com', 1)"));
  Status dup = check.exec(insert + "'/cse1', 'maf', 'maf.example.com', 1)");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), Errc::already_exists);
  EXPECT_TRUE(check.exec(insert + "'/raw', 'kpsa', '/cse-b', 1)"));
}

// Migration 8 adds the CSE's resource tree (cse_resources). A version 7
// database keeps its subscribers and takes resources after it; the table
// itself holds the tree's rules, whatever path writes to it: a parent that
// exists, a name unique among siblings, one row without a parent, no
// empty ri or rn, no pi of "" (the API's "" is NULL), a positive type, and
// a subtree deleted with its root.
TEST(Schema, Version7MigratesToResourceTree) {
  TempDir dir;
  const std::string path = dir.file("v7.db");
  {
    SqliteConn c = open_writer(path);
    ASSERT_EQ(apply_migrations(c, schema_migrations(sql::Dialect::sqlite).first(7)).value_or(-1), 7);
    ASSERT_TRUE(c.exec("INSERT INTO gba_subscribers (impi, k, opc, sqn, amf, enrolee_id, target_kind, target, "
                       "created_at) VALUES ('raw@x', x'00', x'00', 5, 0, '/raw', 'maf', 'maf.example.com', 1)"));
    // Version 7 has no resource tree: the migration is what adds it.
    EXPECT_FALSE(c.prepare("SELECT ri FROM cse_resources"));
  }
  std::unique_ptr<Store> s = testing::open_store(path);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->mef().list_subscribers(Page{"", 10}).value_or(std::vector<GbaSubscriberSummary>{}).size(), 1u);
  ASSERT_TRUE(s->resources().create(ResourceRecord{"cb1", "", "cse-in", 5, "{}", 10}));
  ASSERT_TRUE(s->resources().create(ResourceRecord{"ae1", "cb1", "lamp", 2, "{}", 10}));
  s.reset();
  SqliteConn check = open_writer(path);
  EXPECT_EQ(schema_version(check).value_or(-1), 8);
  const std::string insert = "INSERT INTO cse_resources (ri, pi, rn, ty, attributes, created_at) VALUES ";
  Status dup_root = check.exec(insert + "('cb2', NULL, 'other', 5, '{}', 1)");
  ASSERT_FALSE(dup_root);
  EXPECT_EQ(dup_root.error().code(), Errc::already_exists);
  Status dup_name = check.exec(insert + "('ae2', 'cb1', 'lamp', 2, '{}', 1)");
  ASSERT_FALSE(dup_name);
  EXPECT_EQ(dup_name.error().code(), Errc::already_exists);
  Status dup_ri = check.exec(insert + "('ae1', 'cb1', 'lamp2', 2, '{}', 1)");
  ASSERT_FALSE(dup_ri);
  EXPECT_EQ(dup_ri.error().code(), Errc::already_exists);
  EXPECT_FALSE(check.exec(insert + "('ae2', 'nope', 'x', 2, '{}', 1)"));  // no such parent
  EXPECT_FALSE(check.exec(insert + "('ae2', 'ae2', 'x', 2, '{}', 1)"));   // its own parent
  EXPECT_FALSE(check.exec(insert + "('ae2', '', 'x', 2, '{}', 1)"));
  EXPECT_FALSE(check.exec(insert + "('', 'cb1', 'x', 2, '{}', 1)"));
  EXPECT_FALSE(check.exec(insert + "('ae2', 'cb1', '', 2, '{}', 1)"));
  EXPECT_FALSE(check.exec(insert + "('ae2', 'cb1', 'x', 0, '{}', 1)"));
  EXPECT_FALSE(check.exec(insert + "('ae2', 'cb1', 'x', 2, NULL, 1)"));
  ASSERT_TRUE(check.exec(insert + "('ae2', 'cb1', 'x', 2, '{}', 1)"));
  ASSERT_TRUE(check.exec(insert + "('cnt2', 'ae2', 'c', 3, '{}', 1)"));
  ASSERT_TRUE(check.exec("DELETE FROM cse_resources WHERE ri = 'cb1'"));
  Result<sql::Stmt> left = check.prepare("SELECT count(*) FROM cse_resources");
  ASSERT_TRUE(left);
  ASSERT_TRUE(left->step().value_or(false));
  EXPECT_EQ(left->column_int64(0), 0);
}

TEST(Schema, FreshStoreIsAtLatestVersion) {
  TempDir dir;
  const std::string path = dir.file("s.db");
  { ASSERT_NE(testing::open_store(path), nullptr); }
  SqliteConn c = open_writer(path);
  EXPECT_EQ(schema_version(c).value_or(-1), static_cast<int>(schema_migrations(sql::Dialect::sqlite).size()));
}

}  // namespace
}  // namespace m2msec::store
