// bench_enrol.cc: durable MEF enrolments per second against a bare OpenSSL
// TLS-PSK handshake + RFC 5705 export loop, same suite, same thread count,
// same run, loopback, one process.
//
// m2msec: a MefServer (TLS only, PSK, data dir on disk) and THREADS client
// threads, each running client::enrol (handshake, export, enrolment
// exchange, Km derivation) for its share of N distinct enrolees; every
// enrolment is acknowledged only after its group-committed write. Logging
// is at warn (a production MEF at info logs one line per enrolment).
// bare: THREADS blocking SSL_accept server threads on one listening socket
// and THREADS blocking SSL_connect client threads, PSK-AES128-CBC-SHA256,
// each connection exporting 48 bytes (EXPORTER-oneM2M-Bootstrap) on both
// ends, then closing. No database, no messages. A second bare loop also
// carries one request and answer per connection (sizes of an enrolment's),
// so the figures separate what the extra round trip costs any
// implementation from what m2msec's own stack costs.
//
// With PG_DIR (a cluster from scripts/pg-test-cluster), the same N
// enrolments also run against a MefServer on PostgreSQL ([mef.store]
// backend = "postgres", a fresh database), in the same run.
//
//   cmake --preset release && cmake --build --preset release --target bench_enrol
//   build/release/bench/bench_enrol [N [THREADS [DATA_PARENT_DIR [PG_DIR]]]]
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bare_psk.h"
#include "bare_tls.h"
#include "cpu_time.h"
#include "m2msec/client/enrolee.h"
#include "m2msec/core/thread.h"
#include "m2msec/mef/mef.h"
#include "m2msec/service/runtime.h"
#include "pg_bench.h"

using namespace m2msec;
using Clock = std::chrono::steady_clock;

namespace {

using m2msec::bench::device_key;
using m2msec::bench::enrolee_id;
using m2msec::bench::kMaf;
using m2msec::bench::kMef;
using m2msec::bench::kpm_id;
constexpr const char* kSuite = "PSK-AES128-CBC-SHA256";

// CpuSplit is where the last run of ours() spent its CPU, µs per
// enrolment.
struct CpuSplit {
  double io = 0, workers = 0, writer = 0, clients = 0;
  double other = 0;  // not attributed: /proc counts CPU in clock ticks (10 ms) per thread
};
CpuSplit split_;

// ours measures N durable enrolments; returns enrolments/s. |store| says
// where the MEF keeps them (SQLite in |dir| by default).
double ours(int n, int threads, const std::string& dir, const service::StoreSettings& store = {}) {
  mef::MefConfig cfg;
  cfg.store = store;
  cfg.listen.fqdn = kMef;
  cfg.listen.tls_listen = "127.0.0.1:0";
  cfg.listen.max_handshakes = 1024;
  cfg.sp_domain = "sp.example.com";
  cfg.data_dir = dir;
  cfg.kek_file = dir + "/kek.hex";
  cfg.audit_file = dir + "/audit.jsonl";  // load_mef_config's default
  cfg.mafs.push_back({kMaf, "127.0.0.1:9999"});
  auto server = mef::MefServer::start(cfg);
  if (!server) {
    std::fprintf(stderr, "bench_enrol: MefServer::start: %s\n", server.error().message().c_str());
    std::exit(1);
  }
  std::vector<store::Enrolee> rows(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    store::Enrolee& e = rows[static_cast<std::size_t>(i)];
    e.enrolee_id = enrolee_id(i);
    e.kpm_id = kpm_id(i);
    e.kpm = device_key(i);
    e.target = kMaf;
  }
  if (auto st = (*server)->store().mef().import_enrolees(rows, service::now_unix(), nullptr); !st) {
    std::fprintf(stderr, "bench_enrol: import: %s\n", st.error().message().c_str());
    std::exit(1);
  }
  const store::WriteStats before = (*server)->store().write_stats();
  // One client context for every enrolment, as the bare loop has one
  // SSL_CTX per side.
  tls::ClientOptions cco;
  cco.psk = tls::ClientPsk{kpm_id(0), device_key(0)};
  auto shared = tls::ClientContext::create(cco);
  if (!shared) {
    std::fprintf(stderr, "bench_enrol: client context: %s\n", shared.error().message().c_str());
    std::exit(1);
  }
  std::atomic<int> failed{0};
  const auto threads_before = thread_run_seconds();
  const double cpu_before = bench::cpu_seconds();
  double client_cpu_s = 0;
  const double secs = bench::run_threads(n, threads, [&](int i) {
    client::EnrolOptions o;
    o.port = (*server)->tls_port();
    o.mef_fqdn = kMef;
    o.maf_fqdn = kMaf;
    o.psk = tls::ClientPsk{kpm_id(i), device_key(i)};
    o.context = *shared;
    auto r = client::enrol(o);
    if (!r) {
      if (failed++ == 0) std::fprintf(stderr, "bench_enrol: enrol: %s\n", r.error().message().c_str());
    }
  }, &client_cpu_s, "m2m-client");
  const double cpu_total = bench::cpu_seconds() - cpu_before;
  const auto threads_after = thread_run_seconds();
  const store::WriteStats w = (*server)->store().write_stats();
  // Where an enrolment's CPU went: the MEF's named threads, the client
  // threads (measured by themselves), and the rest.
  auto spent = [&](const char* name) {
    const auto a = threads_after.find(name);
    const auto b = threads_before.find(name);
    return (a == threads_after.end() ? 0.0 : a->second) - (b == threads_before.end() ? 0.0 : b->second);
  };
  // The MEF names its threads after its role (docs/operations.md "Threads").
  const double io = spent("mef-tls-io"), workers = spent("mef-worker"), writer = spent("mef-writer");
  split_ = {io * 1e6 / n, workers * 1e6 / n, writer * 1e6 / n, client_cpu_s * 1e6 / n,
            (cpu_total - io - workers - writer - client_cpu_s) * 1e6 / n};
  if (failed > 0) {
    std::fprintf(stderr, "bench_enrol: %d enrolments failed\n", failed.load());
    std::exit(1);
  }
  const double tx = static_cast<double>(w.transactions - before.transactions);
  std::printf("m2msec (%s): %d durable enrolments in %.2f s; %.0f commits (%.1f per commit, largest batch %llu)\n",
              store.backend == service::StoreBackend::postgres ? "PostgreSQL" : "SQLite", n, secs, tx,
              tx > 0 ? n / tx : 0.0, static_cast<unsigned long long>(w.largest_batch));
  return n / secs;
}

// bare measures N TLS-PSK handshakes + export (bench/bare_tls.h), with one
// request and answer per connection if |exchange|; returns handshakes/s,
// and the client threads' CPU time in |client_cpu_s|.
// With |log|, the server also writes one durable row per connection
// before it answers (bench/bare_durable.h).
double bare(int n, int threads, bool exchange, double* client_cpu_s = nullptr, bench::BareDurableLog* log = nullptr) {
  bench::BareConnection c;
  c.exchange = exchange;
  c.log = log;
  return bench::bare_tls_loop("bench_enrol", n, threads, bench::bare_psk_ctx(true, false, kSuite),
                              bench::bare_psk_ctx(false, false, kSuite), c, client_cpu_s);
}

}  // namespace

int main(int argc, char** argv) {
  // As m2msec's servers run (service/runtime.h); the process-wide setting
  // holds for the bare loop alike.
  service::tune_allocator_for_serving();
  std::signal(SIGPIPE, SIG_IGN);
  spdlog::set_level(spdlog::level::warn);  // the MEF logs every enrolment at info
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 16;
  const std::string parent = argc > 3 ? argv[3] : std::filesystem::temp_directory_path().string();
  if (n < 1 || threads < 1) {
    std::fprintf(stderr, "usage: bench_enrol [N [THREADS [DATA_PARENT_DIR [PG_DIR]]]]\n");
    return 2;
  }
  std::string tmpl = parent + "/m2msec-bench-enrol-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  std::printf("%d enrolments / handshakes per row, %d client threads, loopback, %s, data dir in %s\n\n", n, threads,
              kSuite, parent.c_str());
  bare(n / 10, threads, false);  // warm-up
  const double c0 = bench::cpu_seconds();
  double b_client_s = 0, bx_client_s = 0;
  const double b = bare(n, threads, false, &b_client_s);
  const double b_client_us = b_client_s * 1e6 / n;
  const double c1 = bench::cpu_seconds();
  const double bx = bare(n, threads, /*exchange=*/true, &bx_client_s);
  const double bx_client_us = bx_client_s * 1e6 / n;
  const double c2 = bench::cpu_seconds();
  // The ceiling: the bare loop with the exchange and a durable SQLite row
  // per connection, group-committed as m2msec's writer commits.
  double bd_client_s = 0, bd = 0, bd_tx = 0;
  {
    bench::BareDurableLog log(tmpl + "/bare-durable.db");
    bd = bare(n, threads, /*exchange=*/true, &bd_client_s, &log);
    bd_tx = static_cast<double>(log.transactions());
  }
  const double bd_client_us = bd_client_s * 1e6 / n;
  const double c3 = bench::cpu_seconds();
  std::printf("bare with a durable row: %.0f commits (%.1f per commit)\n", bd_tx, bd_tx > 0 ? n / bd_tx : 0.0);
  std::string data_dir = tmpl;
  data_dir += "/mef";
  const double o = ours(n, threads, data_dir);
  const CpuSplit split = split_;  // SQLite's, before a PostgreSQL run replaces it
  const double c4 = bench::cpu_seconds();
  // CPU per operation (µs), clients and servers together.
  const double cpu_bare = (c1 - c0) * 1e6 / n, cpu_bx = (c2 - c1) * 1e6 / n, cpu_bd = (c3 - c2) * 1e6 / n,
               cpu_ours = (c4 - c3) * 1e6 / n;
  const std::string pg_dir = argc > 4 ? argv[4] : "";
  double pg = 0;
  if (!pg_dir.empty()) {
    bench::PgDatabase db(pg_dir, "enrol");
    if (!db.ok()) return 1;
    pg = ours(n, threads, tmpl + "/mef-pg", db.settings());
  }
  std::printf("\n| Benchmark | per second |\n|---|---|\n");
  std::printf("| m2msec durable enrolments, SQLite (MefServer + client::enrol) | %.0f |\n", o);
  if (pg > 0) std::printf("| m2msec durable enrolments, PostgreSQL | %.0f |\n", pg);
  std::printf("| bare OpenSSL TLS-PSK handshake + export | %.0f |\n", b);
  std::printf("| bare OpenSSL TLS-PSK handshake + export + one %d/%d-byte exchange | %.0f |\n", bench::kBareRequestBytes,
              bench::kBareResponseBytes, bx);
  std::printf("| bare OpenSSL TLS-PSK handshake + export + the exchange + a durable SQLite row (the ceiling) | %.0f |\n", bd);
  std::printf("| CPU per operation, clients and server (µs): enrolment (SQLite) / bare / bare with the exchange / with the row | %.0f / %.0f / %.0f / %.0f |\n",
              cpu_ours, cpu_bare, cpu_bx, cpu_bd);
  std::printf("| CPU per enrolment (µs): MEF I/O threads / workers / writer / not attributed; clients | %.0f / %.0f / %.0f / %.0f; %.0f |\n",
              split.io, split.workers, split.writer, split.other, split.clients);
  std::printf("| CPU per bare handshake (µs): server; client (without / with the exchange) | %.0f; %.0f / %.0f; %.0f |\n",
              cpu_bare - b_client_us, b_client_us, cpu_bx - bx_client_us, bx_client_us);
  std::printf("| ratio enrolments / bare handshakes (SQLite) | %.2f |\n", o / b);
  std::printf("| ratio enrolments / bare handshakes with the exchange (SQLite) | %.2f |\n", o / bx);
  std::printf("| ratio bare with the exchange and a durable row / bare handshakes (the ceiling) | %.2f |\n", bd / b);
  if (pg > 0) std::printf("| ratio enrolments / bare handshakes (PostgreSQL) | %.2f |\n", pg / b);
  // The last line: the figures as one JSON object (docs/performance.md).
  std::printf("{\"bench\":\"bench_enrol\",\"enrolments_per_s\":%.1f,\"bare_per_s\":%.1f,\"ratio\":%.3f", o, b, o / b);
  std::printf(",\"bare_exchange_per_s\":%.1f,\"exchange_ratio\":%.3f", bx, o / bx);
  std::printf(",\"cpu_us_per_enrolment\":%.1f,\"cpu_us_per_bare\":%.1f,\"cpu_us_per_bare_exchange\":%.1f", cpu_ours,
              cpu_bare, cpu_bx);
  std::printf(",\"cpu_us_io\":%.1f,\"cpu_us_workers\":%.1f,\"cpu_us_writer\":%.1f,\"cpu_us_clients\":%.1f,\"cpu_us_other\":%.1f", split.io,
              split.workers, split.writer, split.clients, split.other);
  std::printf(",\"cpu_us_bare_client\":%.1f,\"cpu_us_bare_exchange_client\":%.1f", b_client_us, bx_client_us);
  std::printf(",\"bare_durable_per_s\":%.1f,\"ceiling_ratio\":%.3f,\"cpu_us_per_bare_durable\":%.1f,"
              "\"cpu_us_bare_durable_client\":%.1f",
              bd, bd / b, cpu_bd, bd_client_us);
  if (pg > 0) std::printf(",\"pg_enrolments_per_s\":%.1f,\"pg_ratio\":%.3f", pg, pg / b);
  std::printf("}\n");
  std::filesystem::remove_all(tmpl);
  return 0;
}
