#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/stat.h>

#include <fstream>
#include <optional>
#include <string>

#include "../pg_test_util.h"

namespace m2msec::testing::pg {
namespace {

// value runs a one-row, one-column query on c.
std::optional<std::string> value(PGconn* c, const std::string& sql) {
  std::string err;
  Result r = exec(c, sql, err);
  EXPECT_TRUE(r) << sql << ": " << err;
  if (!r || PQntuples(r.get()) != 1 || PQnfields(r.get()) != 1) return std::nullopt;
  return std::string(PQgetvalue(r.get(), 0, 0));
}

TEST(PgFixture, WritesAndReadsBackATable) {
  M2MSEC_PG_TEST_DATABASE(db);
  std::string err;
  Connection c = db.connect(err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(value(c.get(), "SELECT current_database()"), db.name());
  ASSERT_TRUE(exec(c.get(), "CREATE TABLE t (id integer PRIMARY KEY, v text NOT NULL)", err))
      << err;
  const char* params[] = {"7", "seven"};
  Result ins(PQexecParams(c.get(), "INSERT INTO t VALUES ($1, $2)", 2, nullptr, params, nullptr,
                          nullptr, 0));
  ASSERT_EQ(PQresultStatus(ins.get()), PGRES_COMMAND_OK) << PQerrorMessage(c.get());
  EXPECT_EQ(value(c.get(), "SELECT v FROM t WHERE id = 7"), "seven");
  EXPECT_EQ(value(c.get(), "SELECT count(*) FROM t"), "1");
}

TEST(PgFixture, DatabasesAreDistinctAndDroppedAfterUse) {
  M2MSEC_PG_REQUIRE_CLUSTER();
  const std::string dir = *pg_dir();
  std::string a_name, b_name, err;
  {
    // Declared first, so still open when the databases are dropped.
    Connection ca, cb;
    TestDatabase a(dir), b(dir);
    ASSERT_TRUE(a.ok()) << a.error();
    ASSERT_TRUE(b.ok()) << b.error();
    a_name = a.name();
    b_name = b.name();
    EXPECT_NE(a_name, b_name);
    EXPECT_EQ(a_name.rfind("m2msec_t_", 0), 0u) << a_name;

    ca = a.connect(err);
    ASSERT_TRUE(ca) << err;
    cb = b.connect(err);
    ASSERT_TRUE(cb) << err;
    ASSERT_TRUE(exec(ca.get(), "CREATE TABLE only_in_a (x integer)", err)) << err;
    EXPECT_EQ(value(ca.get(), "SELECT to_regclass('only_in_a') IS NOT NULL"), "t");
    EXPECT_EQ(value(cb.get(), "SELECT to_regclass('only_in_a') IS NOT NULL"), "f");
  }
  TestDatabase probe(dir);
  ASSERT_TRUE(probe.ok()) << probe.error();
  Connection c = probe.connect(err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(value(c.get(), "SELECT count(*) FROM pg_database WHERE datname IN ('" + a_name +
                               "', '" + b_name + "')"),
            "0");
}

TEST(PgFixture, PasswordStaysOutOfTheConnectionString) {
  M2MSEC_PG_TEST_DATABASE(db);
  EXPECT_EQ(db.conninfo().find("password"), std::string::npos) << db.conninfo();
  EXPECT_EQ(db.conninfo().find(db.password()), std::string::npos);
  EXPECT_NE(db.conninfo().find("dbname='" + db.name() + "'"), std::string::npos) << db.conninfo();
  EXPECT_EQ(db.password().size(), 32u);

  std::string from_file;
  std::getline(std::ifstream(db.password_file()), from_file);
  EXPECT_EQ(from_file, db.password());
  struct stat st {};
  ASSERT_EQ(::stat(db.password_file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // A wrong password is refused, and the error does not echo it.
  std::string err;
  const std::string wrong = "not-" + db.password();
  EXPECT_FALSE(connect(db.conninfo(), wrong, err));
  EXPECT_NE(err.find("password authentication failed"), std::string::npos) << err;
  EXPECT_EQ(err.find(wrong), std::string::npos);
}

TEST(PgFixture, MissingClusterIsAnError) {
  TestDatabase db("/nonexistent/m2msec-pg-test");
  EXPECT_FALSE(db.ok());
  EXPECT_NE(db.error().find("conninfo"), std::string::npos) << db.error();
}

}  // namespace
}  // namespace m2msec::testing::pg
