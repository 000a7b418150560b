// pg_bench.h: a fresh database on a PostgreSQL cluster made by
// scripts/pg-test-cluster (its directory holds "conninfo" and "password"),
// for the benches that compare the PostgreSQL store with SQLite.
#pragma once

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "m2msec/service/role_store.h"

namespace m2msec::bench {

inline std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// pg_admin runs one statement on the cluster's "postgres" database.
inline bool pg_admin(const std::string& pg_dir, const std::string& sql) {
  const std::string conninfo = first_line(pg_dir + "/conninfo");
  const std::string password = first_line(pg_dir + "/password");
  const char* keys[] = {"dbname", "password", nullptr};
  const char* vals[] = {conninfo.c_str(), password.c_str(), nullptr};
  PGconn* c = PQconnectdbParams(keys, vals, 1);
  bool ok = PQstatus(c) == CONNECTION_OK;
  if (ok) {
    PGresult* r = PQexec(c, sql.c_str());
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
  }
  if (!ok) std::fprintf(stderr, "bench: %s: %s", sql.c_str(), PQerrorMessage(c));
  PQfinish(c);
  return ok;
}

// PgDatabase is a database m2msec_bench_<what>_<pid> on the cluster in
// |pg_dir|, dropped by the destructor.
class PgDatabase {
 public:
  PgDatabase(const std::string& pg_dir, const std::string& what)
      : dir_(pg_dir), name_("m2msec_bench_" + what + "_" + std::to_string(::getpid())) {
    ok_ = pg_admin(dir_, "CREATE DATABASE " + name_ + " TEMPLATE template0");
  }
  ~PgDatabase() {
    if (ok_) (void)pg_admin(dir_, "DROP DATABASE " + name_ + " WITH (FORCE)");
  }
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;

  bool ok() const { return ok_; }
  // conninfo is the cluster's connection string naming this database.
  std::string conninfo() const {
    std::string c = first_line(dir_ + "/conninfo");
    if (auto at = c.find("dbname=postgres"); at != std::string::npos) c.replace(at, 15, "dbname=" + name_);
    return c;
  }
  std::string password_file() const { return dir_ + "/password"; }
  // settings is the [<role>.store] a role would read for this database.
  service::StoreSettings settings() const {
    service::StoreSettings s;
    s.backend = service::StoreBackend::postgres;
    s.conninfo = conninfo();
    s.password_file = password_file();
    return s;
  }

 private:
  std::string dir_;
  std::string name_;
  bool ok_ = false;
};

}  // namespace m2msec::bench
