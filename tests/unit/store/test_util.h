// test_util.h: temporary directories, KEKs and IDs for the store tests.
//
// The repository tests run against both engines: store_test on SQLite,
// store_pg_test (the same sources built with M2MSEC_STORE_PG) on the
// PostgreSQL test cluster, where each database "path" a test names maps to
// a schema of its own for the life of the process, so reopening a path
// reopens the same data.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "m2msec/core/ids.h"
#include "m2msec/store/postgres_store.h"
#include "m2msec/store/secret_box.h"
#include "m2msec/store/sqlite_store.h"
#include "sqlite_conn.h"
#ifdef M2MSEC_STORE_PG
#include <map>

#include "../pg_test_util.h"
#include "pg_conn.h"
#endif

namespace m2msec::store::testing {

// TempDir is a fresh directory under $TMPDIR, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "m2msec-store-XXXXXX").string();
    const char* made = ::mkdtemp(tmpl.data());
    if (made != nullptr) path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// test_kek returns a KEK whose bytes are all |fill|.
inline Kek test_kek(std::uint8_t fill = 0x42) {
  std::vector<std::uint8_t> bytes(kKekSize, fill);
  return std::move(*Kek::from_bytes(SecretBytes(bytes)));
}

inline SecretBytes secret_of(std::uint8_t fill, std::size_t n = 32) {
  return SecretBytes(std::vector<std::uint8_t>(n, fill));
}

#ifdef M2MSEC_STORE_PG
inline constexpr bool kPostgres = true;

// schema_for maps a test's database path to its PostgreSQL schema.
inline const m2msec::testing::pg::TestSchema& schema_for(const std::string& path) {
  static std::map<std::string, std::unique_ptr<m2msec::testing::pg::TestSchema>> schemas;
  auto& s = schemas[path];
  if (!s) s = std::make_unique<m2msec::testing::pg::TestSchema>(m2msec::testing::pg::pg_dir().value_or(""));
  return *s;
}

// try_open_store opens the store a test calls |path|.
inline Result<std::unique_ptr<Store>> try_open_store(const std::string& path, std::uint8_t kek_fill = 0x42,
                                                     WriteQueueOptions write = {}) {
  const auto& schema = schema_for(path);
  if (!schema.ok()) return fail(Errc::store_error, "test schema: " + schema.error());
  PostgresStoreOptions opts;
  opts.conninfo = schema.conninfo();
  opts.password = SecretString(schema.password());
  opts.write = write;
  return open_postgres_store(opts, test_kek(kek_fill));
}

// raw_connection opens a connection to |path|'s database behind the
// store's back (to set up old schemas and corrupt rows).
inline std::unique_ptr<sql::Connection> raw_connection(const std::string& path) {
  const auto& schema = schema_for(path);
  Result<PgConn> c = PgConn::connect(schema.conninfo(), schema.password(), 10);
  EXPECT_TRUE(c) << c.error().message();
  return c ? std::make_unique<PgConn>(std::move(*c)) : nullptr;
}

// allow_bad_values lets raw writes break |table|'s CHECK constraints.
inline Status allow_bad_values(sql::Connection& c, const std::string& table) {
  return c.exec(
      "DO $$ DECLARE r record; BEGIN FOR r IN SELECT conname FROM pg_constraint WHERE contype = 'c' AND "
      "conrelid = '" + table + "'::regclass LOOP EXECUTE format('ALTER TABLE " + table +
      " DROP CONSTRAINT %I', r.conname); END LOOP; END $$");
}

// Without the cluster (a run outside ctest), every test is skipped.
class PgEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!m2msec::testing::pg::pg_dir()) GTEST_SKIP() << m2msec::testing::pg::kNoCluster;
  }
};
inline ::testing::Environment* const kPgEnvironment = ::testing::AddGlobalTestEnvironment(new PgEnvironment);
#else
inline constexpr bool kPostgres = false;

inline Result<std::unique_ptr<Store>> try_open_store(const std::string& path, std::uint8_t kek_fill = 0x42,
                                                     WriteQueueOptions write = {}) {
  SqliteStoreOptions opts;
  opts.path = path;
  opts.write = write;
  return open_sqlite_store(opts, test_kek(kek_fill));
}

inline std::unique_ptr<sql::Connection> raw_connection(const std::string& path) {
  Result<SqliteConn> c = SqliteConn::open(path, SqliteMode::writer, 1000);
  EXPECT_TRUE(c) << c.error().message();
  return c ? std::make_unique<SqliteConn>(std::move(*c)) : nullptr;
}

inline Status allow_bad_values(sql::Connection& c, const std::string&) {
  return c.exec("PRAGMA ignore_check_constraints = ON");
}
#endif

inline std::unique_ptr<Store> open_store(const std::string& path, std::uint8_t kek_fill = 0x42,
                                         WriteQueueOptions write = {}) {
  Result<std::unique_ptr<Store>> s = try_open_store(path, kek_fill, write);
  EXPECT_TRUE(s) << s.error().message();
  return s ? std::move(*s) : nullptr;
}

// relative_key_id builds a canonical KeID or KcID from |n|.
inline std::string relative_key_id(KeyIdKind kind, std::uint32_t n, const char* fqdn) {
  RelativeId rel{};
  for (int i = 0; i < 4; ++i) rel[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  return KeyId::from_relative(kind, rel, *Fqdn::parse(fqdn))->canonical();
}
inline std::string ke_id(std::uint32_t n) { return relative_key_id(KeyIdKind::ke, n, "mef.example.com"); }
inline std::string kc_id(std::uint32_t n) { return relative_key_id(KeyIdKind::kc, n, "maf.example.com"); }

inline Enrolee psk_enrolee(const std::string& id, const std::string& kpm_id, std::uint8_t kpm_fill = 0x11) {
  Enrolee e;
  e.enrolee_id = id;
  e.auth_kind = AuthKind::psk;
  e.kpm_id = kpm_id;
  e.kpm = secret_of(kpm_fill);
  e.target_kind = TargetKind::maf;
  e.target = "maf.example.com";
  return e;
}

// kFactoryCa is the root of trust of cert_enrolee(): a CA certificate's
// fingerprint in the stored form (the value itself is arbitrary).
inline const std::string kFactoryCa = "sha256:" + std::string(64, 'f');

inline Enrolee cert_enrolee(const std::string& id, const std::string& subject) {
  Enrolee e;
  e.enrolee_id = id;
  e.auth_kind = AuthKind::cert;
  e.cert_subject = subject;
  e.cert_trust_anchor = kFactoryCa;
  e.target_kind = TargetKind::maf;
  e.target = "maf.example.com";
  return e;
}

// open_writer opens a raw writer connection (for setting up old schemas
// and corrupting rows behind the store's back).
inline SqliteConn open_writer(const std::string& path) {
  Result<SqliteConn> c = SqliteConn::open(path, SqliteMode::writer, 1000);
  EXPECT_TRUE(c) << c.error().message();
  return c ? std::move(*c) : SqliteConn();
}

}  // namespace m2msec::store::testing
