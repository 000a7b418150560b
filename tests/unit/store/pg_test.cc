// pg_test.cc: what only the PostgreSQL backend has: placeholders, the
// connection string rules, replicas sharing one database, reconnection.
// The repository rules themselves are the shared tests, run on both
// engines (test_util.h).
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "pg_conn.h"
#include "schema.h"
#include "test_util.h"

namespace m2msec::store {
namespace {

using testing::psk_enrolee;
using testing::TempDir;

constexpr std::int64_t kNow = 1'700'000'000;

TEST(PgPlaceholders, NumberedParametersBecomeDollarsOutsideQuotes) {
  int n = 0;
  EXPECT_EQ(pg_placeholders("SELECT a FROM t WHERE b = ?1 AND c = ?12", &n), "SELECT a FROM t WHERE b = $1 AND c = $12");
  EXPECT_EQ(n, 12);
  EXPECT_EQ(pg_placeholders("SELECT '?1', \"?2\" FROM t WHERE x = ?2 AND y = 'it''s ?3'", &n),
            "SELECT '?1', \"?2\" FROM t WHERE x = $2 AND y = 'it''s ?3'");
  EXPECT_EQ(n, 2);
  EXPECT_EQ(pg_placeholders("SELECT 1", &n), "SELECT 1");
  EXPECT_EQ(n, 0);
}

TEST(PgConnect, APasswordInTheConnectionStringIsRefused) {
  for (const char* conninfo : {"host=127.0.0.1 password=hunter2", "postgresql://u:hunter2@127.0.0.1/db"}) {
    Result<PgConn> c = PgConn::connect(conninfo, "", 1);
    ASSERT_FALSE(c) << conninfo;
    EXPECT_EQ(c.error().code(), Errc::invalid_argument);
    EXPECT_EQ(c.error().message().find("hunter2"), std::string::npos);
  }
  Result<PgConn> bad = PgConn::connect("host='unterminated", "", 1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::invalid_argument);
}

TEST(PgConnect, AWrongPasswordIsAStoreErrorThatDoesNotQuoteIt) {
  TempDir dir;
  const auto& schema = testing::schema_for(dir.file("x"));
  ASSERT_TRUE(schema.ok()) << schema.error();
  PostgresStoreOptions opts;
  opts.conninfo = schema.conninfo();
  opts.password = SecretString("not-the-password-4d1f");
  Result<std::unique_ptr<Store>> s = open_postgres_store(opts, testing::test_kek());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Errc::store_error);
  EXPECT_EQ(s.error().message().find("not-the-password-4d1f"), std::string::npos);
  EXPECT_EQ(s.error().message().find(schema.password()), std::string::npos);
}

// Two stores on one database stand for two replicas of a role.
TEST(PgReplicas, WhatOneWritesTheOtherReads) {
  TempDir dir;
  auto a = testing::open_store(dir.file("db"));
  auto b = testing::open_store(dir.file("db"));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->mef().add_enrolee(psk_enrolee("/cse1", "kpm-1"), kNow));
  Result<Enrolee> seen = b->mef().find_enrolee_by_kpm_id("kpm-1", kNow);
  ASSERT_TRUE(seen) << seen.error().message();
  EXPECT_EQ(seen->kpm.view().size(), 32u);
  // A collision is seen across replicas too.
  Status again = b->mef().add_enrolee(psk_enrolee("/cse2", "kpm-1"), kNow);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::already_exists);
  EXPECT_NE(again.error().message().find("kpm_id"), std::string::npos) << again.error().message();
}

// Replicas starting together migrate a new database once, under the
// advisory lock, and agree on the KEK check value.
TEST(PgReplicas, StartingTogetherMigratesOnce) {
  TempDir dir;
  (void)testing::schema_for(dir.file("db"));  // made on this thread
  std::vector<std::unique_ptr<Store>> opened(4);
  std::vector<std::string> errors(opened.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < opened.size(); ++i) {
    threads.emplace_back([&, i] {
      Result<std::unique_ptr<Store>> s = testing::try_open_store(dir.file("db"));
      if (s) {
        opened[i] = std::move(*s);
      } else {
        errors[i] = s.error().message();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < opened.size(); ++i) ASSERT_TRUE(opened[i]) << errors[i];
  std::unique_ptr<sql::Connection> raw = testing::raw_connection(dir.file("db"));
  ASSERT_TRUE(raw);
  Result<sql::Stmt> q = raw->prepare("SELECT count(*), max(version) FROM schema_version");
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->step().value_or(false));
  EXPECT_EQ(q->column_int64(0), 1);
  EXPECT_EQ(q->column_int64(1), static_cast<std::int64_t>(schema_migrations(sql::Dialect::postgres).size()));
  // A KEK other than the first one is refused.
  Result<std::unique_ptr<Store>> other = testing::try_open_store(dir.file("db"), 0x77);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code(), Errc::wrong_kek);
}

// The log's seqs are taken and committed in order across writers, so a
// holder reading after any seq never skips an entry committed later.
TEST(PgReplicas, RevocationSeqsFromTwoWritersAreDenseAndOrdered) {
  TempDir dir;
  auto a = testing::open_store(dir.file("db"));
  auto b = testing::open_store(dir.file("db"));
  ASSERT_TRUE(a && b);
  constexpr int kEach = 40;
  auto writer = [&](Store& s, char tag) {
    for (int i = 0; i < kEach; ++i) {
      Revocation r;
      r.kind = RevokedKind::kc;
      r.key_id = std::string(1, tag) + std::to_string(i);
      r.entity_id = "/cse1";
      r.expires_at = kNow + 3600;
      EXPECT_TRUE(s.revocations().record(r, kNow));
    }
  };
  std::thread ta(writer, std::ref(*a), 'a'), tb(writer, std::ref(*b), 'b');
  ta.join();
  tb.join();
  Result<RevocationPage> page = b->revocations().after(0, "", kMaxRevocationPage);
  ASSERT_TRUE(page) << page.error().message();
  ASSERT_EQ(page->entries.size(), 2u * kEach);
  EXPECT_EQ(page->head, 2 * kEach);
  for (std::size_t i = 0; i < page->entries.size(); ++i) EXPECT_EQ(page->entries[i].seq, static_cast<std::int64_t>(i + 1));
}

// A connection the server dropped is re-established on its next use:
// reads and writes go on.
TEST(PgReconnect, ADroppedConnectionIsReestablished) {
  TempDir dir;
  const auto& schema = testing::schema_for(dir.file("db"));
  ASSERT_TRUE(schema.ok()) << schema.error();
  // Named after the schema, so only this store's connections are dropped.
  PostgresStoreOptions opts;
  opts.conninfo = schema.conninfo() + " application_name=" + schema.name();
  opts.password = SecretString(schema.password());
  opts.readers = 2;
  Result<std::unique_ptr<Store>> s = open_postgres_store(opts, testing::test_kek());
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_TRUE((*s)->mef().add_enrolee(psk_enrolee("/cse1", "kpm-1"), kNow));
  {
    std::unique_ptr<sql::Connection> admin = testing::raw_connection(dir.file("db"));
    ASSERT_TRUE(admin);
    Result<sql::Stmt> kill = admin->prepare(
        "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE application_name = ?1");
    ASSERT_TRUE(kill);
    ASSERT_TRUE(kill->bind_text(1, schema.name()));
    ASSERT_TRUE(kill->step().value_or(false));
    EXPECT_EQ(kill->column_int64(0), 3);  // the writer and two readers
  }
  auto& store = *s;
  EXPECT_TRUE(store->ping());
  Result<Enrolee> e = store->mef().get_enrolee("/cse1");
  EXPECT_TRUE(e) << e.error().message();
  Status w = store->mef().add_enrolee(psk_enrolee("/cse2", "kpm-2"), kNow);
  EXPECT_TRUE(w) << w.error().message();
  EXPECT_TRUE(store->mef().get_enrolee("/cse2"));
}

}  // namespace
}  // namespace m2msec::store
