// bare_tls.h: the bare OpenSSL TLS loop that bench_enrol and bench_maf
// compare m2msec with: THREADS blocking SSL_accept threads on one loopback
// listener and THREADS blocking SSL_connect threads, each connection a
// handshake, a 48-byte export on both ends and, optionally, one request
// and answer (bare_exchange), then closed.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "m2msec/core/thread.h"
#include "bare_durable.h"
#include "bare_psk.h"
#include "cpu_time.h"

namespace m2msec::bench {

// run_threads runs job(k) for k in [0, n) on |threads| threads and returns
// the wall time in seconds; |cpu_s|, if given, gets the CPU time those
// threads used (each measures its own). The threads carry |name|, so that
// a profile (perf report --sort comm) tells the loops apart.
template <typename Job>
double run_threads(int n, int threads, Job job, double* cpu_s = nullptr, const char* name = "bench-client") {
  std::atomic<int> next{0};
  std::atomic<long long> cpu_ns{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      set_thread_name(name);
      for (int k = next++; k < n; k = next++) job(k);
      cpu_ns += static_cast<long long>(thread_cpu_seconds() * 1e9);
    });
  }
  for (auto& t : ts) t.join();
  if (cpu_s != nullptr) *cpu_s = static_cast<double>(cpu_ns.load()) / 1e9;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// listen_loopback returns a TCP socket listening on 127.0.0.1 (a free
// port), its address in |sin|.
inline int listen_loopback(sockaddr_in& sin, int backlog) {
  const int lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sin = sockaddr_in{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 || listen(lfd, backlog) != 0) std::abort();
  socklen_t slen = sizeof sin;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&sin), &slen);
  return lfd;
}

// BareConnection is what one bare connection does beyond its handshake.
struct BareConnection {
  const char* sni = kMef;
  const char* label = kBootstrapLabel;  // the 48-byte export on both ends
  bool exchange = false;                // one bare_exchange after the export
  BareDurableLog* log = nullptr;        // with the exchange: a durable row per connection
};

// bare_serve runs the server side of one bare connection on |fd| and
// closes it; false if it failed.
inline bool bare_serve(SSL_CTX* sctx, int fd, const BareConnection& c) {
  SSL* ssl = SSL_new(sctx);
  SSL_set_fd(ssl, fd);
  const auto exchange = [&] {
    if (c.log == nullptr) return bare_exchange(ssl, true);
    return bare_exchange(ssl, true, [log = c.log] { return log->commit(); });
  };
  const bool ok = SSL_accept(ssl) == 1 && bare_export(ssl, c.label) && (!c.exchange || exchange());
  SSL_shutdown(ssl);
  SSL_free(ssl);
  close(fd);
  ERR_clear_error();
  return ok;
}

// bare_connect runs the client side of one bare connection to |sin|;
// returns the time until its export (and exchange) was done, in ms, or a
// negative value if it failed.
inline double bare_connect(SSL_CTX* cctx, const sockaddr_in& sin, const BareConnection& c) {
  const auto t0 = std::chrono::steady_clock::now();
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0) {
    close(fd);
    return -1;
  }
  SSL* ssl = SSL_new(cctx);
  SSL_set_tlsext_host_name(ssl, c.sni);
  SSL_set_fd(ssl, fd);
  const bool ok = SSL_connect(ssl) == 1 && bare_export(ssl, c.label) && (!c.exchange || bare_exchange(ssl, false));
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  SSL_shutdown(ssl);
  SSL_free(ssl);
  close(fd);
  ERR_clear_error();
  return ok ? ms : -1;
}

// bare_tls_loop runs N bare connections from |threads| client threads to
// |threads| server threads, with the contexts |sctx| and |cctx| (freed
// here); returns connections/s. |client_cpu_s|, if given, gets the client
// threads' CPU time. Exits naming |bench| if any connection failed.
inline double bare_tls_loop(const char* bench, int n, int threads, SSL_CTX* sctx, SSL_CTX* cctx,
                            const BareConnection& c, double* client_cpu_s = nullptr) {
  sockaddr_in sin{};
  const int lfd = listen_loopback(sin, 1024);
  std::atomic<int> failed{0};
  std::atomic<int> accepted{0};
  std::vector<std::thread> servers;
  for (int t = 0; t < threads; ++t) {
    servers.emplace_back([&] {
      set_thread_name("bare-server");
      while (accepted++ < n) {
        const int fd = accept(lfd, nullptr, nullptr);
        if (fd < 0) break;
        if (!bare_serve(sctx, fd, c)) ++failed;
      }
    });
  }
  const double secs = run_threads(
      n, threads, [&](int) {
        if (bare_connect(cctx, sin, c) < 0) ++failed;
      },
      client_cpu_s, "bare-client");
  shutdown(lfd, SHUT_RDWR);
  for (auto& t : servers) t.join();
  close(lfd);
  SSL_CTX_free(sctx);
  SSL_CTX_free(cctx);
  if (failed > 0) {
    std::fprintf(stderr, "%s: %d bare handshakes failed\n", bench, failed.load());
    std::exit(1);
  }
  return n / secs;
}

}  // namespace m2msec::bench
