// bench_maf.cc: the MAF-based security association, in one process on
// loopback, each figure next to a bare OpenSSL TLS-PSK handshake loop
// (PSK-AES128-CBC-SHA256, TLS 1.2, same run).
//
// Setup: a test PKI from tests/integration/pki.py (CA, maf.example.com,
// in-cse.sp.example.com), a MafServer (TLS, certificate + trust anchors so
// Entity B can authenticate) with N pre-provisioned MAF clients
// (KmID d-<i>@maf.example.com, registered in the MAF store before start),
// and a CseServer (Entity B, /in-cse) that knows the MAF.
//
//  1. Associations per second at the MAF: THREADS client threads, each
//     association = MAF handshake (PSK KmID/Km) + MAF Key Registration
//     (durable Kc row) + EXPORTER-oneM2M-Connection on the client.
//     Bare: THREADS x blocking SSL_connect/SSL_accept + 48-byte export.
//  2. Kc retrieval latency at Entity B, sequential, SAMPLES times: after an
//     (untimed) association, the first handshake with the KcID (cold:
//     pushed by the MAF, or fetched from the MAF inside the handshake) and
//     a second one at once while the first connection is open (after
//     cold). Then SAMPLES warm handshakes in steady state (one KcID whose
//     first connection stays open), each next to one bare SSL_connect
//     against a blocking single-threaded bare server in the same loop;
//     that bare p50 is the denominator of the latency ratios.
//
//   cmake --preset release && cmake --build --preset release --target bench_maf
//   build/release/bench/bench_maf [N [THREADS [SAMPLES [push|nopush [PG_DIR]]]]]
//   (PG_DIR: a scripts/pg-test-cluster directory; the MAF store goes on PostgreSQL)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "m2msec/core/thread.h"
#include "m2msec/crypto/derive.h"
#include "m2msec/entityb/entityb.h"
#include "m2msec/maf/maf.h"
#include "m2msec/proto/http_client.h"
#include "m2msec/proto/messages.h"
#include "m2msec/service/runtime.h"
#include "bare_psk.h"
#include "bare_tls.h"
#include "cpu_time.h"
#include "pg_bench.h"

using namespace m2msec;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kMaf = "maf.example.com";
constexpr const char* kCse = "in-cse.sp.example.com";
constexpr const char* kCseId = "/in-cse";
constexpr const char* kSp = "sp.example.com";
constexpr const char* kSuite = "PSK-AES128-CBC-SHA256";

[[noreturn]] void die(const std::string& what, const Error& e) {
  std::fprintf(stderr, "bench_maf: %s: %s\n", what.c_str(), e.message().c_str());
  std::exit(1);
}

std::string km_id(int i) { return "d-" + std::to_string(i) + "@" + kMaf; }
SecretBytes km(int i) {
  std::vector<std::uint8_t> v(32, static_cast<std::uint8_t>(i));
  v[0] = static_cast<std::uint8_t>(i >> 8);
  return SecretBytes(std::move(v));
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Stats {
  double p50 = 0, p99 = 0, mean = 0;
};

Stats stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.p50 = v[v.size() / 2];
  s.p99 = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  return s;
}

// free_port asks the kernel for a port nobody listens on (closed at once;
// the server binds it moments later).
std::uint16_t free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::perror("free_port");
    std::exit(1);
  }
  ::close(s);
  return ntohs(a.sin_port);
}

// -- the m2msec side ----------------------------------------------------------

struct Kc {
  SecretBytes key;
  std::string id;
};

// psk_context is the one client context every m2msec-side connection
// uses, as the bare loop has one SSL_CTX per side.
std::shared_ptr<const tls::ClientContext> psk_context() {
  static const std::shared_ptr<const tls::ClientContext> ctx = [] {
    tls::ClientOptions co;
    co.psk = tls::ClientPsk{"x", SecretBytes(std::vector<std::uint8_t>(32, 1))};
    auto c = tls::ClientContext::create(co);
    if (!c) {
      std::fprintf(stderr, "bench_maf: client context: %s\n", c.error().message().c_str());
      std::exit(1);
    }
    return *c;
  }();
  return ctx;
}

// associate_at_maf: MAF handshake with KmID/Km, MAF Key Registration for
// /in-cse, Kc and KcID from the exporter (client::associate's MAF phase).
Result<Kc> associate_at_maf(std::uint16_t port, int i) {
  tls::ClientOptions co;
  co.port = port;
  co.sni = kMaf;
  co.psk = tls::ClientPsk{km_id(i), km(i)};
  co.context = psk_context();
  auto conn = tls::TlsClient::connect(std::move(co));
  if (!conn) return std::unexpected(conn.error());
  proto::HttpClient http(*conn, kMaf);
  proto::Request kr;
  kr.op = proto::Operation::create;
  kr.to = "/maf/keys";
  kr.ty = proto::kTyMafKeyReg;
  kr.from = "/d-" + std::to_string(i);
  kr.content = proto::MafKeyRegRequest{kMaf, 0, "", proto::kSuidMafSaef, {kCseId}}.to_json();
  kr.close = true;  // as client::associate: the session's last request
  auto rsp = http.call(std::move(kr));
  if (!rsp) return std::unexpected(rsp.error());
  if (rsp->rsc != proto::Rsc::created) return fail(Errc::request_refused, "key registration: " + rsp->content.dump());
  auto exported = conn->export_keying_material(crypto::kConnectionExporterLabel, crypto::kExportedSize);
  conn->close();
  if (!exported) return std::unexpected(exported.error());
  auto parts = crypto::split_exported(exported->view());
  if (!parts) return std::unexpected(parts.error());
  auto id = KeyId::from_relative(KeyIdKind::kc, parts->relative_id, *Fqdn::parse(kMaf), IdEncoding::base64);
  if (!id) return std::unexpected(id.error());
  return Kc{std::move(parts->key), id->str()};
}

Result<tls::TlsClient> connect_cse(std::uint16_t port, const Kc& kc) {
  tls::ClientOptions co;
  co.port = port;
  co.sni = kCse;
  co.psk = tls::ClientPsk{kc.id, kc.key.clone()};
  co.context = psk_context();
  return tls::TlsClient::connect(std::move(co));
}

// -- the bare OpenSSL side --------------------------------------------------------

// The bare side's client presents an identity as long as a KmID, and both
// ends export under the connection label, as an association does.
constexpr const char* kBareIdentity = "ESIzRFVmd4iZqrvM3e7/AA==@maf.example.com";
const std::string kConnectionLabel(crypto::kConnectionExporterLabel);

bench::BareConnection bare_connection(bool exchange) {
  bench::BareConnection c;
  c.sni = kCse;
  c.label = kConnectionLabel.c_str();
  c.exchange = exchange;
  return c;
}

// BareServer is a blocking single-threaded OpenSSL TLS-PSK server for
// the sequential latency figures: each bare sample is one handshake +
// export against it, taken in the same loop as the m2msec sample it is
// compared with, so that both see the same machine.
class BareServer {
 public:
  BareServer()
      : sctx_(bench::bare_psk_ctx(true, false, kSuite)), cctx_(bench::bare_psk_ctx(false, false, kSuite, kBareIdentity)) {
    lfd_ = bench::listen_loopback(sin_, 16);
    thread_ = std::thread([this] {
      while (true) {
        const int fd = accept(lfd_, nullptr, nullptr);
        if (fd < 0) return;
        if (!bench::bare_serve(sctx_, fd, bare_connection(false))) ++failed_;
      }
    });
  }
  ~BareServer() {
    shutdown(lfd_, SHUT_RDWR);
    thread_.join();
    close(lfd_);
    SSL_CTX_free(sctx_);
    SSL_CTX_free(cctx_);
  }
  // handshake_ms: one client handshake + export, timed like connect_cse.
  double handshake_ms() {
    const double d = bench::bare_connect(cctx_, sin_, bare_connection(false));
    if (d < 0 || failed_ > 0) {
      std::fprintf(stderr, "bench_maf: bare handshake failed\n");
      std::exit(1);
    }
    return d;
  }

 private:
  SSL_CTX* sctx_;
  SSL_CTX* cctx_;
  int lfd_ = -1;
  sockaddr_in sin_{};
  std::atomic<int> failed_{0};
  std::thread thread_;
};

// bare runs N TLS-PSK handshakes + export (and one exchange each if
// |exchange|) on THREADS client threads against THREADS blocking server
// threads (bench/bare_tls.h); returns handshakes/s.
// With |log|, the server also commits one row per connection before it
// answers (bench/bare_durable.h).
double bare(int n, int threads, bool exchange = false, bench::BareDurableLog* log = nullptr) {
  bench::BareConnection c = bare_connection(exchange);
  c.log = log;
  return bench::bare_tls_loop("bench_maf", n, threads, bench::bare_psk_ctx(true, false, kSuite),
                              bench::bare_psk_ctx(false, false, kSuite, kBareIdentity), c);
}

}  // namespace

int main(int argc, char** argv) {
  // As m2msec's servers run (service/runtime.h); the process-wide setting
  // holds for the bare loop alike.
  service::tune_allocator_for_serving();
  std::signal(SIGPIPE, SIG_IGN);
  spdlog::set_level(spdlog::level::warn);  // the servers log every registration at info
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 16;
  const int samples = argc > 3 ? std::atoi(argv[3]) : 200;
  const std::string_view mode = argc > 4 ? argv[4] : "push";
  // PG_DIR: the MAF's store on a fresh PostgreSQL database of that cluster.
  const std::string pg_dir = argc > 5 ? argv[5] : "";
  const bool push = mode == "push";
  if (n < 1 || threads < 1 || samples < 1 || (mode != "push" && mode != "nopush")) {
    std::fprintf(stderr, "usage: bench_maf [N [THREADS [SAMPLES [push|nopush [PG_DIR]]]]]\n");
    return 2;
  }
  std::string tmpl = std::filesystem::temp_directory_path().string() + "/m2msec-bench-maf-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;
  const std::string pki = dir + "/pki";
  // The test PKI (tests/integration/pki.py), with Entity B's CSE-ID certificate.
  const std::string cmd = "python3 -c 'import os, sys; sys.path.insert(0, \"" M2MSEC_PKI_DIR
                          "\"); import pki; os.umask(0o077); pki.make_pki(\"" +
                          pki + "\"); pki.make_cse(\"" + pki + "\", \"in-cse\")'";
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "bench_maf: pki.py failed\n");
    return 1;
  }

  maf::MafConfig mc;
  mc.listen.fqdn = kMaf;
  mc.listen.tls_listen = "127.0.0.1:0";
  mc.listen.certificate = pki + "/maf.crt";
  mc.listen.private_key = pki + "/maf.key";
  mc.listen.trust_anchors = pki + "/ca.crt";
  mc.listen.max_handshakes = 1024;
  mc.sp_domain = kSp;
  mc.mas_id = kMaf;
  mc.admin_fqdn = kSp;
  mc.data_dir = dir + "/maf";
  mc.kek_file = dir + "/maf/kek.hex";
  mc.audit_file = dir + "/maf/audit.jsonl";  // load_maf_config's default
  mc.kc_lifetime = 3600;
  std::optional<bench::PgDatabase> pg_db;
  if (!pg_dir.empty()) {
    pg_db.emplace(pg_dir, "maf");
    if (!pg_db->ok()) return 1;
    mc.store = pg_db->settings();
  }
  {  // N pre-provisioned MAF clients, written before the MAF starts.
    auto st = maf::open_maf_store(mc, /*create_kek=*/true);
    if (!st) die("open_maf_store", st.error());
    const std::int64_t now = service::now_unix();
    std::atomic<int> bad{0};
    bench::run_threads(n, 16, [&](int i) {
      store::MafClient c;
      c.km_id = KeyId::parse(KeyIdKind::km, km_id(i))->canonical();
      c.km = km(i);
      c.entity_id = "/d-" + std::to_string(i);
      c.source = store::KmSource::preprovisioned;
      if (auto s = (*st)->maf().register_client(c, now); !s && bad++ == 0) die("register_client", s.error());
    });
  }
  // Entity B's port is chosen first, so that the MAF can push Kc to it.
  const std::uint16_t cse_port = free_port();
  if (push) mc.cses.push_back({kCseId, kCse, "127.0.0.1:" + std::to_string(cse_port)});
  auto mafs = maf::MafServer::start(mc);
  if (!mafs) die("MafServer::start", mafs.error());
  const std::uint16_t maf_port = (*mafs)->tls_port();

  entityb::CseConfig cc;
  cc.listen.fqdn = kCse;
  cc.listen.tls_listen = "127.0.0.1:" + std::to_string(cse_port);
  cc.listen.certificate = pki + "/in-cse.crt";
  cc.listen.private_key = pki + "/in-cse.key";
  cc.listen.trust_anchors = pki + "/ca.crt";
  cc.listen.max_handshakes = 1024;
  cc.sp_domain = kSp;
  cc.cse_id = kCseId;
  cc.csebase = "cb";
  cc.data_dir = dir + "/cse";
  cc.mafs.push_back({kMaf, "127.0.0.1:" + std::to_string(maf_port)});
  auto cse = entityb::CseServer::start(cc);
  if (!cse) die("CseServer::start", cse.error());

  std::printf("%d associations, %d client threads; %d Kc-retrieval samples; loopback, TLS 1.2, %s\n\n", n, threads,
              samples, kSuite);

  // 1. Associations per second at the MAF, next to bare handshakes.
  bare(n / 10, threads);  // warm-up
  const double c0 = bench::cpu_seconds();
  const double bare_tput = bare(n, threads);
  const double c1 = bench::cpu_seconds();
  const double bare_exchange_tput = bare(n, threads, /*exchange=*/true);
  const double c2 = bench::cpu_seconds();
  // The ceiling: the bare loop with the exchange and a Kc-sized row per
  // connection, committed with relaxed durability as m2msec's Kc rows are.
  double bare_relaxed_tput = 0;
  {
    bench::BareDurableLog log(dir + "/bare-relaxed.db", /*relaxed=*/true);
    bare_relaxed_tput = bare(n, threads, /*exchange=*/true, &log);
  }
  const double c3 = bench::cpu_seconds();
  std::atomic<int> failed{0};
  const auto threads_before = thread_run_seconds();
  double client_cpu_s = 0;
  const double secs = bench::run_threads(n, threads, [&](int i) {
    auto r = associate_at_maf(maf_port, i);
    if (!r && failed++ == 0) std::fprintf(stderr, "bench_maf: association: %s\n", r.error().message().c_str());
  }, &client_cpu_s, "m2m-client");
  const auto threads_after = thread_run_seconds();
  if (failed > 0) {
    std::fprintf(stderr, "bench_maf: %d associations failed\n", failed.load());
    return 1;
  }
  const double assoc_tput = n / secs;
  // CPU per operation (µs), clients and servers together (the MAF's Kc
  // push to Entity B included).
  const double cpu_assoc = (bench::cpu_seconds() - c3) * 1e6 / n, cpu_bare = (c1 - c0) * 1e6 / n,
               cpu_bx = (c2 - c1) * 1e6 / n, cpu_br = (c3 - c2) * 1e6 / n;
  // Where an association's CPU went: the roles' named threads
  // (docs/operations.md "Threads"), the client threads (measured by
  // themselves), and the rest.
  auto spent_us = [&](const char* name) {
    const auto a = threads_after.find(name);
    const auto b = threads_before.find(name);
    return ((a == threads_after.end() ? 0.0 : a->second) - (b == threads_before.end() ? 0.0 : b->second)) * 1e6 / n;
  };
  const double maf_io = spent_us("maf-tls-io"), maf_workers = spent_us("maf-worker"),
               maf_writer = spent_us("maf-writer"), clients = client_cpu_s * 1e6 / n;
  const double cse_us = spent_us("cse-tls-io") + spent_us("cse-worker") + spent_us("cse-writer");
  const double other = cpu_assoc - maf_io - maf_workers - maf_writer - cse_us - clients;

  // 2. Kc retrieval at Entity B, sequential.
  //  cold:  the first handshake with a new KcID (after an untimed
  //         association);
  //  after: a second handshake with that KcID at once, while the first
  //         connection is open and the association's tail (the MAF's
  //         commit, the closed MAF connection) is still being processed;
  //  warm:  steady state: handshakes with a KcID whose first connection
  //         stays open, one after another, each next to one bare
  //         handshake in the same loop (the bare figure for all three
  //         ratios: nothing of m2msec is in flight when it is taken).
  std::vector<double> cold, after, warm, bare_lat;
  BareServer bare_server;
  for (int s = 0; s < samples; ++s) {
    auto kc = associate_at_maf(maf_port, s % n);
    if (!kc) die("association", kc.error());
    auto t0 = Clock::now();
    auto first = connect_cse(cse_port, *kc);
    if (!first) die("cold handshake at Entity B", first.error());
    cold.push_back(ms(Clock::now() - t0));
    t0 = Clock::now();
    auto second = connect_cse(cse_port, *kc);
    if (!second) die("warm handshake at Entity B", second.error());
    after.push_back(ms(Clock::now() - t0));
    if (s == 0) {  // the association is real: Entity B answers the CSEBase
      proto::HttpClient http(*first, kCse);
      proto::Request req;
      req.op = proto::Operation::retrieve;
      req.to = kCseId;
      req.from = "/d-0";
      auto rsp = http.call(std::move(req));
      if (!rsp || rsp->rsc != proto::Rsc::ok) {
        std::fprintf(stderr, "bench_maf: CSEBase retrieve failed\n");
        return 1;
      }
    }
    second->close();
    first->close();
  }
  {
    auto kc = associate_at_maf(maf_port, 0);
    if (!kc) die("association", kc.error());
    auto held = connect_cse(cse_port, *kc);
    if (!held) die("cold handshake at Entity B", held.error());
    for (int s = 0; s < samples; ++s) {
      bare_lat.push_back(bare_server.handshake_ms());
      const auto t0 = Clock::now();
      auto c = connect_cse(cse_port, *kc);
      if (!c) die("warm handshake at Entity B", c.error());
      warm.push_back(ms(Clock::now() - t0));
      c->close();
    }
    held->close();
  }
  const entityb::KeyStats ks = (*cse)->stats();
  const Stats c = stats(cold), a = stats(after), w = stats(warm), b = stats(bare_lat);

  std::printf("Entity B: %llu Kc pushed by the MAF in %llu requests, %llu fetched from the MAF, %llu cache hits, %llu refusals\n\n",
              static_cast<unsigned long long>(ks.pushed), static_cast<unsigned long long>(ks.push_requests),
              static_cast<unsigned long long>(ks.maf_fetches),
              static_cast<unsigned long long>(ks.cache_hits), static_cast<unsigned long long>(ks.refusals));
  std::printf("| Benchmark | value |\n|---|---|\n");
  std::printf("| m2msec associations at the MAF (handshake + key registration), per s | %.0f |\n", assoc_tput);
  std::printf("| bare OpenSSL TLS-PSK handshake + export, per s | %.0f |\n", bare_tput);
  std::printf("| bare OpenSSL TLS-PSK handshake + export + one %d/%d-byte exchange, per s | %.0f |\n",
              bench::kBareRequestBytes, bench::kBareResponseBytes, bare_exchange_tput);
  std::printf("| bare, the exchange and a relaxed SQLite row (the ceiling), per s | %.0f |\n", bare_relaxed_tput);
  std::printf("| CPU per operation, clients and servers (µs): association / bare / bare with the exchange / with the row | %.0f / %.0f / %.0f / %.0f |\n",
              cpu_assoc, cpu_bare, cpu_bx, cpu_br);
  std::printf("| association CPU by thread (µs): MAF I/O / MAF workers / MAF writer / Entity B / clients / other | %.0f / %.0f / %.0f / %.0f / %.0f / %.0f |\n",
              maf_io, maf_workers, maf_writer, cse_us, clients, other);
  std::printf("| ratio associations / bare handshakes | %.2f |\n", assoc_tput / bare_tput);
  std::printf("| ratio associations / bare handshakes with the exchange | %.2f |\n", assoc_tput / bare_exchange_tput);
  std::printf("| ratio bare with the exchange and a relaxed row / bare handshakes (the ceiling) | %.2f |\n",
              bare_relaxed_tput / bare_tput);
  std::printf("| Entity B first handshake with a new KcID (%s), p50 / p99 ms | %.2f / %.2f |\n",
              push ? "Kc pushed by the MAF" : "Kc fetched from the MAF", c.p50, c.p99);
  std::printf("| Entity B second handshake right after the first (same KcID), p50 / p99 ms | %.2f / %.2f |\n", a.p50,
              a.p99);
  std::printf("| Entity B handshake, Kc cache warm (steady, KcID held open), p50 / p99 ms | %.2f / %.2f |\n", w.p50,
              w.p99);
  std::printf("| bare OpenSSL TLS-PSK handshake (steady loop), p50 / p99 ms | %.2f / %.2f |\n", b.p50, b.p99);
  std::printf("| ratio cold / bare (p50) | %.2f |\n", c.p50 / b.p50);
  std::printf("| ratio second-after-first / bare (p50) | %.2f |\n", a.p50 / b.p50);
  std::printf("| ratio warm / bare (p50) | %.2f |\n", w.p50 / b.p50);
  // The last line: the figures as one JSON object (docs/performance.md).
  std::printf("{\"bench\":\"bench_maf\",\"associations_per_s\":%.1f,\"bare_per_s\":%.1f,\"ratio\":%.3f,"
              "\"cold_p50_ms\":%.3f,\"warm_p50_ms\":%.3f,\"bare_p50_ms\":%.3f,"
              "\"cold_ratio\":%.2f,\"warm_ratio\":%.2f,\"after_cold_p50_ms\":%.3f,\"after_cold_ratio\":%.2f,"
              "\"bare_exchange_per_s\":%.1f,\"exchange_ratio\":%.3f,"
              "\"cpu_us_per_association\":%.1f,\"cpu_us_per_bare\":%.1f,\"cpu_us_per_bare_exchange\":%.1f,"
              "\"bare_relaxed_per_s\":%.1f,\"ceiling_ratio\":%.3f,\"cpu_us_per_bare_relaxed\":%.1f,"
              "\"cpu_us_maf_io\":%.1f,\"cpu_us_maf_workers\":%.1f,\"cpu_us_maf_writer\":%.1f,\"cpu_us_cse\":%.1f,"
              "\"cpu_us_clients\":%.1f,\"cpu_us_other\":%.1f,"
              "\"kc_push\":%s,\"pushed\":%llu,\"push_requests\":%llu,\"fetched\":%llu,\"store\":\"%s\"}\n",
              assoc_tput, bare_tput, assoc_tput / bare_tput, c.p50, w.p50, b.p50, c.p50 / b.p50,
              w.p50 / b.p50, a.p50, a.p50 / b.p50, bare_exchange_tput, assoc_tput / bare_exchange_tput, cpu_assoc, cpu_bare, cpu_bx,
              bare_relaxed_tput, bare_relaxed_tput / bare_tput, cpu_br, maf_io, maf_workers, maf_writer, cse_us, clients,
              other, push ? "true" : "false", static_cast<unsigned long long>(ks.pushed),
              static_cast<unsigned long long>(ks.push_requests),
              static_cast<unsigned long long>(ks.maf_fetches), pg_db ? "postgres" : "sqlite");
  cse->reset();
  mafs->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
