// bench_tls.cc: server-side (D)TLS handshakes with RFC 5705 export, m2msec
// TlsServer against a bare blocking OpenSSL server loop, same suite, same
// run. A forked client process (the same TlsClient for both servers) does
// N sequential handshakes over loopback; the parent is the server. Reports
// handshakes/s and server CPU (user+sys of the server process) per
// handshake, and the ratio m2msec/bare (target >= 0.8x for PSK). MODE
// (TLS-PSK, TLS-cert, DTLS-PSK, DTLS-cert, TLS-mutual or DTLS-mutual) runs
// that mode alone, e.g. under a profiler.
//
// The mutual modes are the MEF's and Entity B's certificate set-up: the
// client presents a certificate, and the server checks it against a store
// that also holds the server's own CA. Both servers send their chain
// without the root, built once (m2msec does; the bare server calls
// SSL_CTX_build_cert_chain). A third row runs the bare server as OpenSSL
// is left by default, rebuilding its chain from that store at every
// handshake and sending the root: what m2msec did before (JSON
// "bare_default_chain_*").
//
//   cmake --preset release && cmake --build --preset release --target bench_tls
//   build/release/bench/bench_tls [N [MODE]]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

#include "bare_dtls.h"
#include "cpu_time.h"
#include "m2msec/tls/client.h"
#include "m2msec/tls/server.h"

using namespace m2msec;
using namespace m2msec::tls;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kSni = "mef.example.com";
constexpr const char* kLabel = "EXPORTER-oneM2M-Bootstrap";
constexpr const char* kIdentity = "dev1@mef.example.com";
std::string g_pki;

SecretBytes bench_key() { return SecretBytes(std::vector<std::uint8_t>(32, 0x5a)); }

struct Mode {
  const char* name;
  Transport transport;
  bool psk;
  const char* suite;
  bool mutual = false;  // the client presents a certificate, the server requires one
};

// run_client is the child: waits for the port, does |n| handshakes with
// export, exits 0 if all succeeded.
[[noreturn]] void run_client(int pipe_fd, const Mode& m, int n) {
  std::uint16_t port = 0;
  if (read(pipe_fd, &port, sizeof port) != sizeof port) _exit(3);
  auto trust = m.psk ? nullptr : load_trust_anchors(g_pki + "/ca.pem").value();
  auto mine = m.mutual ? load_certificate_key(g_pki + "/ae.pem", g_pki + "/ae.key").value() : nullptr;
  for (int i = 0; i < n; ++i) {
    ClientOptions o;
    o.transport = m.transport;
    o.port = port;
    o.sni = kSni;
    if (m.psk) o.psk = ClientPsk{kIdentity, bench_key()};
    o.trust = trust;
    o.certificate = mine;
    auto c = TlsClient::connect(std::move(o));
    if (!c) {
      std::fprintf(stderr, "client: %s\n", c.error().message().c_str());
      _exit(1);
    }
    if (!c->export_keying_material(kLabel, 48)) _exit(1);
    c->close();
  }
  _exit(0);
}

// Measured is one server's result.
struct Measured {
  double per_sec = 0;
  double cpu_us = 0;
};

template <typename Serve>
Measured measure(const Mode& m, int n, Serve&& serve) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[1]);
    run_client(fds[0], m, n);
  }
  close(fds[0]);
  const double cpu0 = bench::cpu_seconds();
  const auto t0 = Clock::now();
  serve(fds[1]);  // sends the port, serves n handshakes
  int status = 0;
  waitpid(pid, &status, 0);
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = bench::cpu_seconds() - cpu0;
  close(fds[1]);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "%s: client failed\n", m.name);
    std::exit(1);
  }
  return {n / wall, cpu / n * 1e6};
}

// --- m2msec server ---

Measured ours(const Mode& m, int n) {
  return measure(m, n, [&](int pipe_fd) {
    std::atomic<int> done{0};
    std::promise<void> all_done;
    ServerOptions o;
    o.transport = m.transport;
    o.threads = 1;
    ServerAuthority a;
    a.fqdn = kSni;
    if (m.psk) {
      a.psk_lookup = [](const PskRequest& req, std::function<void(Result<SecretBytes>)> cb) {
        if (req.identity != kIdentity) return cb(fail(Errc::unknown_psk_identity));
        cb(bench_key());
      };
    } else {
      a.certificate = load_certificate_key(g_pki + "/mef.pem", g_pki + "/mef.key").value();
    }
    if (m.mutual) {
      a.client_trust = load_trust_anchors(g_pki + "/ca.pem").value();
      a.client_auth = ClientAuth::required;
    }
    o.authorities.push_back(std::move(a));
    o.on_session = [&done, &all_done, n](std::shared_ptr<Session> s) {
      auto ex = s->export_keying_material(kLabel, 48);
      if (!ex) std::abort();
      s->close();
      if (done.fetch_add(1) + 1 == n) all_done.set_value();
    };
    auto server = TlsServer::create(std::move(o)).value();
    server->start();
    const std::uint16_t port = server->port();
    if (write(pipe_fd, &port, sizeof port) != sizeof port) std::abort();
    all_done.get_future().wait();
    server->stop();
  });
}

// --- bare OpenSSL server: blocking, single thread ---

unsigned int bare_psk_cb(SSL*, const char* id, unsigned char* psk, unsigned int max) {
  if (id == nullptr || std::strcmp(id, kIdentity) != 0 || max < 32) return 0;
  std::memset(psk, 0x5a, 32);
  return 32;
}

// bare: |default_chain| leaves a mutual mode's chain to OpenSSL's default
// (rebuilt from the verify store at every handshake, root included).
Measured bare(const Mode& m, int n, bool default_chain = false) {
  const bool dtls = m.transport == Transport::dtls;
  SSL_CTX* ctx = SSL_CTX_new(dtls ? DTLS_server_method() : TLS_server_method());
  const int v = dtls ? DTLS1_2_VERSION : TLS1_2_VERSION;
  SSL_CTX_set_min_proto_version(ctx, v);
  SSL_CTX_set_max_proto_version(ctx, v);
  SSL_CTX_set_cipher_list(ctx, m.suite);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set1_groups_list(ctx, "P-256");
  if (m.psk) {
    SSL_CTX_set_psk_server_callback(ctx, bare_psk_cb);
  } else {
    SSL_CTX_use_certificate_file(ctx, (g_pki + "/mef.pem").c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(ctx, (g_pki + "/mef.key").c_str(), SSL_FILETYPE_PEM);
  }
  if (m.mutual) {
    SSL_CTX_load_verify_locations(ctx, (g_pki + "/ca.pem").c_str(), nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    if (!default_chain) {
      SSL_CTX_build_cert_chain(ctx, SSL_BUILD_CHAIN_FLAG_NO_ROOT | SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR);
      ERR_clear_error();
    }
  }
  SSL_CTX_set_cookie_generate_cb(ctx, bench::bare_cookie_gen);
  SSL_CTX_set_cookie_verify_cb(ctx, bench::bare_cookie_verify);
  const int lfd = socket(AF_INET, dtls ? SOCK_DGRAM : SOCK_STREAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(lfd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  socklen_t slen = sizeof sin;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&sin), &slen);
  if (!dtls) listen(lfd, 64);
  const Measured r = measure(m, n, [&](int pipe_fd) {
    const std::uint16_t port = ntohs(sin.sin_port);
    if (write(pipe_fd, &port, sizeof port) != sizeof port) std::abort();
    unsigned char out[48];
    for (int i = 0; i < n; ++i) {
      SSL* ssl = SSL_new(ctx);
      int fd = -1;
      if (!dtls) {
        fd = accept(lfd, nullptr, nullptr);
        SSL_set_fd(ssl, fd);
      } else {
        fd = bench::bare_dtls_accept(ssl, lfd, sin);
      }
      if (SSL_accept(ssl) != 1 ||
          SSL_export_keying_material(ssl, out, sizeof out, kLabel, std::strlen(kLabel), nullptr, 0, 0) != 1) {
        std::fprintf(stderr, "bare: handshake failed\n");
        std::exit(1);
      }
      SSL_shutdown(ssl);
      SSL_free(ssl);
      close(fd);
      ERR_clear_error();
    }
  });
  close(lfd);
  SSL_CTX_free(ctx);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // the bare loop writes to closed sockets
  const int n = argc > 1 ? std::atoi(argv[1]) : 300;
  const std::string only = argc > 2 ? argv[2] : "";
  const Mode modes[] = {
      {"TLS-PSK", Transport::tls, true, "PSK-AES128-CBC-SHA256"},
      {"TLS-cert", Transport::tls, false, "ECDHE-ECDSA-AES128-SHA256"},
      {"DTLS-PSK", Transport::dtls, true, "PSK-AES128-CCM8"},
      {"DTLS-cert", Transport::dtls, false, "ECDHE-ECDSA-AES128-CCM8"},
      {"TLS-mutual", Transport::tls, false, "ECDHE-ECDSA-AES128-SHA256", true},
      {"DTLS-mutual", Transport::dtls, false, "ECDHE-ECDSA-AES128-CCM8", true},
  };
  if (n < 1 || (!only.empty() && std::none_of(std::begin(modes), std::end(modes),
                                                [&](const Mode& m) { return only == m.name; }))) {
    std::fprintf(stderr, "usage: bench_tls [N [TLS-PSK|TLS-cert|DTLS-PSK|DTLS-cert|TLS-mutual|DTLS-mutual]]\n");
    return 2;
  }
  char tmpl[] = "/tmp/m2msec-bench-XXXXXX";
  g_pki = std::string(mkdtemp(tmpl)) + "/pki";
  if (std::system((std::string(M2MSEC_TLS_MAKE_CERTS) + " " + g_pki).c_str()) != 0) return 1;
  std::printf("%d sequential handshakes + 48-byte export per row, loopback, server on 1 thread\n\n", n);
  std::printf("| Mode | Suite | m2msec hs/s | bare hs/s | ratio | m2msec server CPU us/hs | bare server CPU us/hs |"
              " CPU ratio (bare/m2msec) |\n|---|---|---|---|---|---|---|---|\n");
  std::string json = "{\"bench\":\"bench_tls\",\"modes\":{";
  bool first = true;
  for (const Mode& m : modes) {
    if (!only.empty() && only != m.name) continue;
    bare(m, n / 10);  // warm-up
    const Measured b = bare(m, n);
    const Measured o = ours(m, n);
    std::printf("| %s | %s | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f |\n", m.name, m.suite, o.per_sec, b.per_sec,
                o.per_sec / b.per_sec, o.cpu_us, b.cpu_us, b.cpu_us / o.cpu_us);
    std::fflush(stdout);
    char entry[320];
    std::snprintf(entry, sizeof entry,
                  "%s\"%s\":{\"handshakes_per_s\":%.1f,\"bare_per_s\":%.1f,\"ratio\":%.3f,"
                  "\"server_cpu_us\":%.1f,\"bare_server_cpu_us\":%.1f",
                  first ? "" : ",", m.name, o.per_sec, b.per_sec, o.per_sec / b.per_sec, o.cpu_us, b.cpu_us);
    json += entry;
    if (m.mutual) {
      const Measured d = bare(m, n, true);
      std::printf("| %s, bare with OpenSSL's default chain | %s | | %.0f | | | %.0f | |\n", m.name, m.suite, d.per_sec,
                  d.cpu_us);
      std::fflush(stdout);
      std::snprintf(entry, sizeof entry, ",\"bare_default_chain_per_s\":%.1f,\"bare_default_chain_server_cpu_us\":%.1f",
                    d.per_sec, d.cpu_us);
      json += entry;
    }
    json += "}";
    first = false;
  }
  // The last line: the figures as one JSON object (docs/performance.md).
  std::printf("%s}}\n", json.c_str());
  std::filesystem::remove_all(std::filesystem::path(g_pki).parent_path());
  return 0;
}
