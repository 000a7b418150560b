// pg_test_util.h: databases on the throw-away PostgreSQL cluster of a test
// run (scripts/pg-test-cluster, CTest fixture "postgres"). A test binary
// registered with m2msec_gtest(... POSTGRES) gets the cluster's directory in
// M2MSEC_PG_DIR; it holds "conninfo" (a libpq connection string without
// password) and "password".
//
//   TEST(Store, Works) {
//     M2MSEC_PG_TEST_DATABASE(db);  // skips without the cluster
//     std::string err;
//     m2msec::testing::pg::Connection conn = db.connect(err);
//     ASSERT_TRUE(conn) << err;
//   }
//
// The password goes to libpq through the "password" keyword only; it is
// never part of a connection string, so never of a message or log line.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace m2msec::testing::pg {

inline constexpr const char* kNoCluster = "no PostgreSQL test cluster (run through ctest)";

// pg_dir is M2MSEC_PG_DIR, or nullopt when unset or empty.
inline std::optional<std::string> pg_dir() {
  const char* dir = std::getenv("M2MSEC_PG_DIR");
  if (dir == nullptr || *dir == '\0') return std::nullopt;
  return std::string(dir);
}

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Connection = std::unique_ptr<PGconn, ConnDeleter>;
using Result = std::unique_ptr<PGresult, ResultDeleter>;

namespace detail {

// read_first_line: the file's first line without trailing whitespace.
inline bool read_first_line(const std::string& path, std::string& out, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read " + path;
    return false;
  }
  std::getline(in, out);
  while (!out.empty() && (out.back() == '\r' || out.back() == ' ' || out.back() == '\t')) {
    out.pop_back();
  }
  if (out.empty()) {
    error = path + " is empty";
    return false;
  }
  return true;
}

// conninfo_options: the options set in a connection string, in libpq's order.
inline bool conninfo_options(const std::string& conninfo,
                             std::vector<std::pair<std::string, std::string>>& out,
                             std::string& error) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (opts == nullptr) {
    error = "bad connection string: " + std::string(err != nullptr ? err : "out of memory");
    PQfreemem(err);
    return false;
  }
  out.clear();
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val != nullptr && *o->val != '\0') out.emplace_back(o->keyword, o->val);
  }
  PQconninfoFree(opts);
  return true;
}

// quote_value: a connection-string value in single quotes.
inline std::string quote_value(const std::string& v) {
  std::string q = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') q += '\\';
    q += c;
  }
  return q + "'";
}

inline std::string trim_error(const char* msg) {
  std::string s = msg != nullptr ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace detail

// connect opens a connection; conninfo must not hold the password, which
// is passed separately. On failure returns null and sets error.
inline Connection connect(const std::string& conninfo, const std::string& password,
                          std::string& error) {
  std::vector<std::pair<std::string, std::string>> opts;
  if (!detail::conninfo_options(conninfo, opts, error)) return nullptr;
  bool has_timeout = false;
  std::vector<const char*> keys;
  std::vector<const char*> values;
  for (const auto& [k, v] : opts) {
    if (k == "password") continue;
    has_timeout = has_timeout || k == "connect_timeout";
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back("password");
  values.push_back(password.c_str());
  if (!has_timeout) {
    keys.push_back("connect_timeout");
    values.push_back("10");
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  Connection c(PQconnectdbParams(keys.data(), values.data(), 0));
  if (c == nullptr) {
    error = "PQconnectdbParams: out of memory";
    return nullptr;
  }
  if (PQstatus(c.get()) != CONNECTION_OK) {
    error = "cannot connect to PostgreSQL: " + detail::trim_error(PQerrorMessage(c.get()));
    return nullptr;
  }
  return c;
}

// exec runs sql; returns null and sets error unless it succeeded.
inline Result exec(PGconn* c, const std::string& sql, std::string& error) {
  Result r(PQexec(c, sql.c_str()));
  const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    error = detail::trim_error(PQerrorMessage(c));
    return nullptr;
  }
  return r;
}

// TestDatabase is a fresh database m2msec_t_<pid>_<counter>_<random> on the
// cluster in a pg dir, dropped (WITH (FORCE)) by the destructor.
class TestDatabase {
 public:
  explicit TestDatabase(const std::string& dir) : password_file_(dir + "/password") {
    std::string admin_conninfo;
    if (!detail::read_first_line(dir + "/conninfo", admin_conninfo, error_) ||
        !detail::read_first_line(password_file_, password_, error_)) {
      return;
    }
    admin_ = pg::connect(admin_conninfo, password_, error_);
    if (!admin_) return;

    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    std::ostringstream name;
    name << "m2msec_t_" << ::getpid() << '_' << counter++ << '_' << std::hex << rd();
    name_ = name.str();

    std::string create_error;
    if (!exec(admin_.get(), "CREATE DATABASE " + quoted_name() + " TEMPLATE template0",
              create_error)) {
      error_ = "CREATE DATABASE " + name_ + ": " + create_error;
      admin_.reset();
      return;
    }
    created_ = true;

    std::vector<std::pair<std::string, std::string>> opts;
    if (!detail::conninfo_options(admin_conninfo, opts, error_)) return;
    bool has_dbname = false;
    for (auto& [k, v] : opts) {
      if (k == "password") continue;
      if (k == "dbname") {
        v = name_;
        has_dbname = true;
      }
      conninfo_ += (conninfo_.empty() ? "" : " ") + k + "=" + detail::quote_value(v);
    }
    if (!has_dbname) conninfo_ += " dbname=" + detail::quote_value(name_);
    ok_ = true;
  }

  ~TestDatabase() {
    if (!created_) return;
    try {
      if (PQstatus(admin_.get()) != CONNECTION_OK) PQreset(admin_.get());
      std::string err;
      if (!exec(admin_.get(), "DROP DATABASE " + quoted_name() + " WITH (FORCE)", err)) {
        ADD_FAILURE() << "DROP DATABASE " << name_ << ": " << err;
      }
    } catch (...) {
    }
  }

  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  // name: the database's name.
  const std::string& name() const { return name_; }
  // conninfo: the cluster's connection string with dbname = name(), no password.
  const std::string& conninfo() const { return conninfo_; }
  const std::string& password_file() const { return password_file_; }
  const std::string& password() const { return password_; }

  // connect opens a connection to this database (null with error set on failure).
  Connection connect(std::string& error) const {
    if (!ok_) {
      error = error_;
      return nullptr;
    }
    return pg::connect(conninfo_, password_, error);
  }

 private:
  std::string quoted_name() const {
    char* q = PQescapeIdentifier(admin_.get(), name_.c_str(), name_.size());
    std::string s = q != nullptr ? q : "\"" + name_ + "\"";
    PQfreemem(q);
    return s;
  }

  bool ok_ = false;
  bool created_ = false;
  std::string error_;
  std::string name_;
  std::string conninfo_;
  std::string password_file_;
  std::string password_;
  Connection admin_;
};

// TestSchema is a fresh schema t_<pid>_<counter>_<random> in the cluster's
// "postgres" database, with a conninfo whose search_path points into it:
// far cheaper than a database per test (CREATE/DROP DATABASE checkpoint).
// Dropped (CASCADE) by the destructor.
class TestSchema {
 public:
  explicit TestSchema(const std::string& dir) : password_file_(dir + "/password") {
    std::string admin_conninfo;
    if (!detail::read_first_line(dir + "/conninfo", admin_conninfo, error_) ||
        !detail::read_first_line(password_file_, password_, error_)) {
      return;
    }
    admin_ = pg::connect(admin_conninfo, password_, error_);
    if (!admin_) return;
    std::string quiet;
    (void)exec(admin_.get(), "SET client_min_messages = warning", quiet);  // no "drop cascades" notices
    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    std::ostringstream name;
    name << "t_" << ::getpid() << '_' << counter++ << '_' << std::hex << rd();
    name_ = name.str();
    std::string err;
    if (!exec(admin_.get(), "CREATE SCHEMA " + name_, err)) {
      error_ = "CREATE SCHEMA " + name_ + ": " + err;
      return;
    }
    created_ = true;
    conninfo_ = admin_conninfo + " options='-csearch_path=" + name_ + "'";
    ok_ = true;
  }
  ~TestSchema() {
    if (!created_) return;
    if (PQstatus(admin_.get()) != CONNECTION_OK) PQreset(admin_.get());
    std::string err;
    if (!exec(admin_.get(), "DROP SCHEMA " + name_ + " CASCADE", err)) {
      ADD_FAILURE() << "DROP SCHEMA " << name_ << ": " << err;
    }
  }
  TestSchema(const TestSchema&) = delete;
  TestSchema& operator=(const TestSchema&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  const std::string& name() const { return name_; }
  // conninfo: the cluster's connection string, search_path = name(), no password.
  const std::string& conninfo() const { return conninfo_; }
  const std::string& password_file() const { return password_file_; }
  const std::string& password() const { return password_; }

 private:
  bool ok_ = false;
  bool created_ = false;
  std::string error_;
  std::string name_;
  std::string conninfo_;
  std::string password_file_;
  std::string password_;
  Connection admin_;
};

// check_cluster: empty if the cluster in dir answers SELECT 1, else why not.
inline std::string check_cluster(const std::string& dir) {
  std::string conninfo, password, error;
  if (!detail::read_first_line(dir + "/conninfo", conninfo, error) ||
      !detail::read_first_line(dir + "/password", password, error)) {
    return error;
  }
  Connection c = connect(conninfo, password, error);
  if (c && exec(c.get(), "SELECT 1", error)) return {};
  return error;
}

}  // namespace m2msec::testing::pg

// M2MSEC_PG_REQUIRE_CLUSTER(): at the start of a test (or SetUp), skips it
// without M2MSEC_PG_DIR and fails it if the cluster cannot be reached.
#define M2MSEC_PG_REQUIRE_CLUSTER()                                                           \
  do {                                                                                        \
    const auto m2msec_pg_dir_ = ::m2msec::testing::pg::pg_dir();                              \
    if (!m2msec_pg_dir_) {                                                                    \
      GTEST_SKIP() << ::m2msec::testing::pg::kNoCluster;                                      \
    }                                                                                         \
    const std::string m2msec_pg_err_ = ::m2msec::testing::pg::check_cluster(*m2msec_pg_dir_); \
    if (!m2msec_pg_err_.empty()) {                                                            \
      FAIL() << "PostgreSQL test cluster in " << *m2msec_pg_dir_ << ": " << m2msec_pg_err_;   \
    }                                                                                         \
  } while (false)

// M2MSEC_PG_TEST_DATABASE(var): declares TestDatabase var in the test body;
// skips without M2MSEC_PG_DIR, fails if the database cannot be made.
#define M2MSEC_PG_TEST_DATABASE(var)                                                  \
  const auto var##_pg_dir_ = ::m2msec::testing::pg::pg_dir();                         \
  if (!var##_pg_dir_) {                                                               \
    GTEST_SKIP() << ::m2msec::testing::pg::kNoCluster;                                \
  }                                                                                   \
  ::m2msec::testing::pg::TestDatabase var(*var##_pg_dir_);                            \
  if (!var.ok()) {                                                                    \
    FAIL() << "PostgreSQL test cluster in " << *var##_pg_dir_ << ": " << var.error(); \
  }                                                                                   \
  static_assert(true)
