// tls_harness.h: shared helpers for the tls unit tests: a test PKI made
// at run time with the openssl CLI, a server that records sessions and
// echoes, and raw-socket misbehaving peers.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "m2msec/tls/client.h"
#include "m2msec/tls/server.h"
#include "../joined_threads.h"

namespace m2msec::tls::test {

using namespace std::chrono_literals;

inline constexpr std::string_view kLabel = "EXPORTER-oneM2M-Bootstrap";
inline constexpr const char* kMef = "mef.example.com";
inline constexpr const char* kMaf = "maf.example.com";

// pki returns the directory holding the generated test PKI (see
// tests/interop/make_certs.sh); created once per process, removed at exit.
const std::string& pki();
std::string pki_file(const std::string& name);

// key returns a deterministic test PSK of |size| bytes seeded by |seed|.
SecretBytes key(std::uint8_t seed, std::size_t size = 32);

std::shared_ptr<const CertificateKey> cert(const std::string& name, bool enforce_profile = true);
std::shared_ptr<const TrustAnchors> trust(const std::string& name = "ca");

// table_lookup answers from |table| on another thread after |delay|; those
// threads are lookup_threads(), which ~Harness joins before its server goes
// (a test running a server of its own joins them itself).
testing::JoinedThreads& lookup_threads();
PskLookup table_lookup(std::map<std::string, std::uint8_t> table, std::chrono::milliseconds delay = 2ms);

// start_maf_server starts a TLS server on a loopback port as kMaf (the
// test PKI's "maf" certificate) that requires a client certificate from
// the test CA and hands every session to |on_session|: the peer the link
// and Entity B tests call. Aborts the test binary if it cannot start.
inline std::unique_ptr<TlsServer> start_maf_server(std::function<void(std::shared_ptr<Session>)> on_session,
                                                   unsigned threads = 2, std::uint16_t port = 0) {
  ServerOptions o;
  o.port = port;
  ServerAuthority a;
  a.fqdn = kMaf;
  a.certificate = cert("maf");
  a.client_trust = trust();
  a.client_auth = ClientAuth::required;
  o.authorities.push_back(std::move(a));
  o.threads = threads;
  o.handshake_timeout = 5s;
  o.on_session = std::move(on_session);
  auto server = TlsServer::create(std::move(o));
  if (!server) {
    ADD_FAILURE() << server.error().message();
    std::abort();
  }
  (*server)->start();
  return std::move(*server);
}

// Harness runs a TlsServer whose sessions export 48 bytes and echo.
class Harness {
 public:
  struct Recorded {
    PeerIdentity peer;
    SecretBytes exported;
  };

  explicit Harness(ServerOptions options);
  ~Harness();

  std::uint16_t port() const { return server_->port(); }
  TlsServer& server() { return *server_; }

  // wait_sessions / wait_errors wait until at least |n| were recorded.
  bool wait_sessions(std::size_t n, std::chrono::milliseconds timeout = 5s);
  bool wait_errors(std::size_t n, std::chrono::milliseconds timeout = 5s);
  Recorded session(std::size_t i);
  std::vector<Error> errors();
  std::vector<Error> read_errors();

 private:
  void echo(std::shared_ptr<Session> s);

  std::unique_ptr<TlsServer> server_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Recorded> sessions_;
  std::vector<Error> errors_;
  std::vector<Error> read_errors_;
};

// psk_server_options: one PSK authority |fqdn| with |table|.
ServerOptions psk_server_options(Transport t, std::map<std::string, std::uint8_t> table, const char* fqdn = kMef);

// psk_client connects with identity |id| and key seed |seed|.
Result<TlsClient> psk_client(Transport t, std::uint16_t port, const std::string& id, std::uint8_t seed,
                             const std::string& sni = kMef);

// expect_echo sends a message and expects it back.
void expect_echo(TlsClient& c);

// expect_serving checks that a well-behaved PSK client (identity "dev1",
// seed 1) still gets through on |port| with a matching export.
void expect_serving(Harness& h, Transport t, std::size_t sessions_before);

// Raw peers.
int raw_tcp_connect(std::uint16_t port);
// raw_tcp_listen returns a TCP socket listening on an ephemeral loopback
// port and sets |port| to it; -1 (and a test failure) if it cannot.
int raw_tcp_listen(std::uint16_t& port);
int raw_udp_connect(std::uint16_t port);
void raw_close(int fd);
// client_hello_bytes returns a real TLS 1.2 ClientHello (PSK suite).
std::vector<std::uint8_t> client_hello_bytes();

}  // namespace m2msec::tls::test
