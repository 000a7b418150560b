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

TEST(Schema, FreshStoreIsAtLatestVersion) {
  TempDir dir;
  const std::string path = dir.file("s.db");
  { ASSERT_NE(testing::open_store(path), nullptr); }
  SqliteConn c = open_writer(path);
  EXPECT_EQ(schema_version(c).value_or(-1), static_cast<int>(schema_migrations(sql::Dialect::sqlite).size()));
}

}  // namespace
}  // namespace m2msec::store
