// bench_coap.cc: durable MEF enrolments over CoAP/DTLS (TS-0008) per
// second against a bare OpenSSL DTLS-PSK handshake + RFC 5705 export loop,
// same suite (PSK-AES128-CCM8), sequential, loopback, one process, same run.
//
// m2msec: a MefServer with a DTLS listener (dtls_binding "auto", one
// server thread, data dir on disk) and one client thread running
// client::enrol over CoAP (handshake with cookie exchange, export, the
// enrolment exchange as a confirmable CoAP POST, Km derivation) for N
// distinct enrolees; then the same with the legacy HTTP-in-DTLS binding
// (N more enrolees), to show what the binding itself costs.
// bare: one blocking OpenSSL DTLS server thread (DTLSv1_listen with a
// cookie, then a connected socket per client, as m2msec's server does) and
// one blocking client, each connection exporting 48 bytes
// (EXPORTER-oneM2M-Bootstrap) on both ends, then closing. Both sides reuse
// one SSL_CTX each, as m2msec reuses one client context.
//
//   cmake --preset release && cmake --build --preset release --target bench_coap
//   build/release/bench/bench_coap [N [DATA_PARENT_DIR]]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bare_psk.h"
#include "m2msec/client/enrolee.h"
#include "m2msec/mef/mef.h"
#include "m2msec/service/runtime.h"

using namespace m2msec;
using Clock = std::chrono::steady_clock;

namespace {

using m2msec::bench::device_key;
using m2msec::bench::enrolee_id;
using m2msec::bench::kMaf;
using m2msec::bench::kMef;
using m2msec::bench::kpm_id;
constexpr const char* kSuite = "PSK-AES128-CCM8";

[[noreturn]] void die(const char* what, const Error& e) {
  std::fprintf(stderr, "bench_coap: %s: %s\n", what, e.message().c_str());
  std::exit(1);
}

// ours measures n enrolments over |binding| for enrolees [first, first+n);
// returns enrolments/s.
double ours(mef::MefServer& server, int first, int n, proto::Binding binding,
            const std::shared_ptr<const tls::ClientContext>& ctx) {
  int failed = 0;
  const auto t0 = Clock::now();
  for (int i = first; i < first + n; ++i) {
    client::EnrolOptions o;
    o.transport = tls::Transport::dtls;
    o.binding = binding;
    o.port = server.dtls_port();
    o.mef_fqdn = kMef;
    o.maf_fqdn = kMaf;
    o.psk = tls::ClientPsk{kpm_id(i), device_key(i)};
    o.context = ctx;
    auto r = client::enrol(o);
    if (!r && failed++ == 0) std::fprintf(stderr, "bench_coap: enrol: %s\n", r.error().message().c_str());
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (failed > 0) {
    std::fprintf(stderr, "bench_coap: %d enrolments failed\n", failed);
    std::exit(1);
  }
  return n / secs;
}

// bare measures n DTLS-PSK handshakes + export; returns handshakes/s.
double bare(int n) {
  SSL_CTX* sctx = bench::bare_psk_ctx(true, true, kSuite);
  SSL_CTX* cctx = bench::bare_psk_ctx(false, true, kSuite);
  const int lfd = socket(AF_INET, SOCK_DGRAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(lfd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  socklen_t slen = sizeof sin;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&sin), &slen);
  std::atomic<int> failed{0};
  std::thread server([&] {
    for (int i = 0; i < n; ++i) {
      SSL* ssl = SSL_new(sctx);
      const int fd = bench::bare_dtls_accept(ssl, lfd, sin);
      if (SSL_accept(ssl) != 1 || !bench::bare_export(ssl)) ++failed;
      SSL_shutdown(ssl);
      SSL_free(ssl);
      close(fd);
      ERR_clear_error();
    }
  });
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
    SSL* ssl = SSL_new(cctx);
    BIO* b = BIO_new_dgram(fd, BIO_NOCLOSE);
    BIO_ctrl(b, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &sin);
    SSL_set_bio(ssl, b, b);
    if (SSL_connect(ssl) != 1 || !bench::bare_export(ssl)) ++failed;
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    ERR_clear_error();
  }
  server.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  close(lfd);
  SSL_CTX_free(sctx);
  SSL_CTX_free(cctx);
  if (failed > 0) {
    std::fprintf(stderr, "bench_coap: %d bare handshakes failed\n", failed.load());
    std::exit(1);
  }
  return n / secs;
}

}  // namespace

int main(int argc, char** argv) {
  // As m2msec's servers run (service/runtime.h); the process-wide setting
  // holds for the bare loop alike.
  service::tune_allocator_for_serving();
  std::signal(SIGPIPE, SIG_IGN);
  spdlog::set_level(spdlog::level::warn);  // the MEF logs every enrolment at info
  const int n = argc > 1 ? std::atoi(argv[1]) : 1000;
  const std::string parent = argc > 2 ? argv[2] : std::filesystem::temp_directory_path().string();
  if (n < 10) {
    std::fprintf(stderr, "usage: bench_coap [N (>= 10) [DATA_PARENT_DIR]]\n");
    return 2;
  }
  std::string tmpl = parent + "/m2msec-bench-coap-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  mef::MefConfig cfg;
  cfg.listen.fqdn = kMef;
  cfg.listen.tls_listen = "";
  cfg.listen.dtls_listen = "127.0.0.1:0";
  cfg.listen.threads = 1;
  cfg.sp_domain = "sp.example.com";
  cfg.data_dir = tmpl + "/mef";
  cfg.kek_file = cfg.data_dir + "/kek.hex";
  cfg.audit_file = cfg.data_dir + "/audit.jsonl";
  cfg.mafs.push_back({kMaf, "127.0.0.1:9999"});
  auto server = mef::MefServer::start(cfg);
  if (!server) die("MefServer::start", server.error());
  const int warm = n / 10;
  std::vector<store::Enrolee> rows(static_cast<std::size_t>(2 * n + warm));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    rows[i].enrolee_id = enrolee_id(static_cast<int>(i));
    rows[i].kpm_id = kpm_id(static_cast<int>(i));
    rows[i].kpm = device_key(static_cast<int>(i));
    rows[i].target = kMaf;
  }
  if (auto st = (*server)->store().mef().import_enrolees(rows, service::now_unix(), nullptr); !st) {
    die("import", st.error());
  }
  tls::ClientOptions cco;
  cco.transport = tls::Transport::dtls;
  cco.psk = tls::ClientPsk{kpm_id(0), device_key(0)};
  auto ctx = tls::ClientContext::create(cco);
  if (!ctx) die("client context", ctx.error());

  std::printf("%d sequential enrolments / handshakes per row, loopback, %s, server on 1 thread, data dir in %s\n\n",
              n, kSuite, parent.c_str());
  bare(warm);  // warm-up
  ours(**server, 2 * n, warm, proto::Binding::coap, *ctx);
  const double b = bare(n);
  const double coap = ours(**server, 0, n, proto::Binding::coap, *ctx);
  const double http = ours(**server, n, n, proto::Binding::http, *ctx);
  server->reset();
  std::printf("| Benchmark | per second | ratio to bare |\n|---|---|---|\n");
  std::printf("| m2msec durable enrolments over CoAP/DTLS | %.0f | %.2f |\n", coap, coap / b);
  std::printf("| m2msec durable enrolments over HTTP-in-DTLS (legacy) | %.0f | %.2f |\n", http, http / b);
  std::printf("| bare OpenSSL DTLS-PSK handshake + export | %.0f | 1.00 |\n", b);
  // The last line: the figures as one JSON object (docs/performance.md).
  std::printf("{\"bench\":\"bench_coap\",\"coap_enrolments_per_s\":%.1f,\"http_dtls_enrolments_per_s\":%.1f,"
              "\"bare_per_s\":%.1f,\"ratio\":%.3f,\"http_dtls_ratio\":%.3f}\n",
              coap, http, b, coap / b, http / b);
  std::filesystem::remove_all(tmpl);
  return 0;
}
