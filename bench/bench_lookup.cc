// bench_lookup.cc: the handshake's store lookup (an enrolee by KpmID, with
// its Kpm unsealed) with ROWS enrolees stored, on SQLite and, given a
// PostgreSQL test cluster (scripts/pg-test-cluster), on PostgreSQL, in one
// run: latency p50/p99 of single lookups on one thread, random KpmIDs.
// Also reports how fast the rows went in (import_enrolees, 10000 rows per
// transaction). A bench, not a test: 10 million rows take minutes and
// gigabytes.
//
//   cmake --preset release && cmake --build --preset release --target bench_lookup
//   scripts/pg-test-cluster start /tmp/m2msec-pg      # optional
//   build/release/bench/bench_lookup [ROWS [LOOKUPS [DATA_PARENT_DIR [PG_DIR]]]]
//
// Progress goes to stderr; the last stdout line is the figures as JSON.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "m2msec/store/postgres_store.h"
#include "m2msec/store/sqlite_store.h"
#include "pg_bench.h"

using namespace m2msec;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kChunk = 10000;

std::string kpm_id(std::size_t i) {
  std::string s = "d-";
  s += std::to_string(i);
  s += "@mef.example.com";
  return s;
}

store::Kek bench_kek() {
  std::vector<std::uint8_t> k(store::kKekSize, 0x5a);
  return std::move(*store::Kek::from_bytes(SecretBytes(k)));
}

struct Figures {
  double import_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
};

// fill imports |rows| enrolees, reporting progress.
double fill(store::Store& s, std::size_t rows, const char* name) {
  const auto t0 = Clock::now();
  std::vector<store::Enrolee> chunk;
  for (std::size_t first = 0; first < rows; first += kChunk) {
    chunk.clear();
    for (std::size_t i = first; i < std::min(rows, first + kChunk); ++i) {
      store::Enrolee e;
      e.enrolee_id = "/d-" + std::to_string(i);
      e.kpm_id = kpm_id(i);
      e.kpm = SecretBytes(std::vector<std::uint8_t>(32, static_cast<std::uint8_t>(i)));
      e.target = "maf.example.com";
      chunk.push_back(std::move(e));
    }
    if (auto n = s.mef().import_enrolees(chunk, 1'700'000'000, nullptr); !n) {
      std::fprintf(stderr, "bench_lookup: %s import: %s\n", name, n.error().message().c_str());
      std::exit(1);
    }
    const std::size_t done = std::min(rows, first + kChunk);
    if (done % (rows / 20 + 1) < kChunk || done == rows) {
      const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      std::fprintf(stderr, "\r%s: %zu / %zu rows (%.0f rows/s)   ", name, done, rows, done / secs);
    }
  }
  std::fprintf(stderr, "\n");
  return rows / std::chrono::duration<double>(Clock::now() - t0).count();
}

Figures measure(store::Store& s, std::size_t rows, std::size_t lookups, double import_per_s) {
  std::mt19937_64 rng(12345);
  std::uniform_int_distribution<std::size_t> pick(0, rows - 1);
  for (int i = 0; i < 1000; ++i) (void)s.mef().find_enrolee_by_kpm_id(kpm_id(pick(rng)), 1'700'000'000);  // warm
  std::vector<double> us;
  us.reserve(lookups);
  for (std::size_t i = 0; i < lookups; ++i) {
    const std::string id = kpm_id(pick(rng));
    const auto t0 = Clock::now();
    auto e = s.mef().find_enrolee_by_kpm_id(id, 1'700'000'000);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if (!e) {
      std::fprintf(stderr, "bench_lookup: lookup %s: %s\n", id.c_str(), e.error().message().c_str());
      std::exit(1);
    }
  }
  std::sort(us.begin(), us.end());
  return Figures{import_per_s, us[us.size() / 2], us[us.size() * 99 / 100]};
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t rows = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  const std::size_t lookups = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 20000;
  const std::string parent = argc > 3 ? argv[3] : std::filesystem::temp_directory_path().string();
  const std::string pg_dir = argc > 4 ? argv[4] : "";
  if (rows < 1 || lookups < 100) {
    std::fprintf(stderr, "usage: bench_lookup [ROWS [LOOKUPS>=100 [DATA_PARENT_DIR [PG_DIR]]]]\n");
    return 2;
  }
  std::printf("%zu enrolees stored, %zu lookups by KpmID on one thread, data dir in %s\n\n", rows, lookups,
              parent.c_str());
  std::string tmpl = parent + "/m2msec-bench-lookup-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  Figures lite, pg;
  {
    store::SqliteStoreOptions o;
    o.path = tmpl + "/mef.db";
    auto s = store::open_sqlite_store(o, bench_kek());
    if (!s) {
      std::fprintf(stderr, "bench_lookup: %s\n", s.error().message().c_str());
      return 1;
    }
    const double ips = fill(**s, rows, "sqlite");
    lite = measure(**s, rows, lookups, ips);
  }
  std::filesystem::remove_all(tmpl);
  const bool with_pg = !pg_dir.empty();
  if (with_pg) {
    bench::PgDatabase db(pg_dir, "lookup");
    if (!db.ok()) return 1;
    store::PostgresStoreOptions o;
    o.conninfo = db.conninfo();
    o.password = SecretString(bench::first_line(db.password_file()));
    auto s = store::open_postgres_store(o, bench_kek());
    if (!s) {
      std::fprintf(stderr, "bench_lookup: %s\n", s.error().message().c_str());
      return 1;
    }
    const double ips = fill(**s, rows, "postgres");
    pg = measure(**s, rows, lookups, ips);
  }
  std::printf("| Backend | rows imported/s | lookup p50 µs | lookup p99 µs |\n|---|---|---|---|\n");
  std::printf("| SQLite | %.0f | %.1f | %.1f |\n", lite.import_per_s, lite.p50_us, lite.p99_us);
  if (with_pg) std::printf("| PostgreSQL | %.0f | %.1f | %.1f |\n", pg.import_per_s, pg.p50_us, pg.p99_us);
  std::printf(
      "{\"bench\":\"bench_lookup\",\"rows\":%zu,\"sqlite_import_per_s\":%.0f,\"sqlite_p50_us\":%.1f,"
      "\"sqlite_p99_us\":%.1f",
      rows, lite.import_per_s, lite.p50_us, lite.p99_us);
  if (with_pg) {
    std::printf(",\"pg_import_per_s\":%.0f,\"pg_p50_us\":%.1f,\"pg_p99_us\":%.1f", pg.import_per_s, pg.p50_us,
                pg.p99_us);
  }
  std::printf("}\n");
  return 0;
}
