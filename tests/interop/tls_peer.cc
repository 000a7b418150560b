// tls_peer: a tiny m2msec (D)TLS server or client for the interop tests.
//
//   tls_peer server --transport tls|dtls [--port N] --fqdn NAME
//            [--psk-identity ID --psk-hex HEX] [--cert PEM --key PEM]
//            [--client-ca PEM] [--count N] [--label L --len N] [--extra-suites S]
//   tls_peer client --transport tls|dtls --port N --sni NAME
//            [--psk-identity ID --psk-hex HEX] [--ca PEM] [--cert PEM --key PEM]
//            [--label L --len N] [--ciphers S]
//
// The server prints "PORT <n>" once listening, then per session
// "SESSION <kind> <cipher> EXPORT-SHA256 <hex>"; handshake failures print
// "HANDSHAKE-ERROR <errc name>". The client prints the same SESSION line or
// "ERROR <errc name> <message>" and exits 1. Only a SHA-256 of the export
// is printed, never the keying material itself. The server's PSK lookup
// answers from another thread after a short delay, exercising the
// asynchronous path.
#include <openssl/evp.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "m2msec/core/encoding.h"
#include "m2msec/tls/client.h"
#include "m2msec/tls/server.h"
#include "../unit/joined_threads.h"

using namespace m2msec;
using namespace m2msec::tls;

namespace {

std::string sha256_hex(const SecretBytes& b) {
  unsigned char md[32];
  unsigned int len = 0;
  EVP_Digest(b.data(), b.size(), md, &len, EVP_sha256(), nullptr);
  return hex_encode({md, len});
}

const char* kind_name(PeerIdentity::Kind k) {
  switch (k) {
    case PeerIdentity::Kind::psk:
      return "psk";
    case PeerIdentity::Kind::certificate:
      return "certificate";
    default:
      return "none";
  }
}

int die(const Error& e) {
  std::printf("ERROR %s %s\n", std::string(error_name(e.code())).c_str(), e.message().c_str());
  std::fflush(stdout);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string role = argv[1];
  std::map<std::string, std::string> a;
  for (int i = 2; i + 1 < argc; i += 2) a[argv[i]] = argv[i + 1];
  const auto get = [&](const std::string& k, const std::string& d = "") { return a.count(k) ? a[k] : d; };
  const Transport transport = get("--transport", "tls") == "dtls" ? Transport::dtls : Transport::tls;
  const std::string label = get("--label", "EXPORTER-oneM2M-Bootstrap");
  const std::size_t len = std::stoul(get("--len", "48"));
  std::optional<SecretBytes> psk;
  if (!get("--psk-hex").empty()) {
    auto k = hex_decode_secret(get("--psk-hex"));
    if (!k) return die(k.error());
    psk = std::move(*k);
  }

  if (role == "client") {
    ClientOptions o;
    o.transport = transport;
    o.port = static_cast<std::uint16_t>(std::stoi(get("--port", "0")));
    o.sni = get("--sni");
    if (psk) o.psk = ClientPsk{get("--psk-identity"), psk->clone()};
    if (!get("--ca").empty()) {
      auto t = load_trust_anchors(get("--ca"));
      if (!t) return die(t.error());
      o.trust = *t;
    }
    if (!get("--cert").empty()) {
      auto c = load_certificate_key(get("--cert"), get("--key"));
      if (!c) return die(c.error());
      o.certificate = *c;
    }
    o.cipher_override = get("--ciphers");
    o.timeout = std::chrono::milliseconds(5000);
    auto c = TlsClient::connect(std::move(o));
    if (!c) return die(c.error());
    auto ex = c->export_keying_material(label, len);
    if (!ex) return die(ex.error());
    std::printf("SESSION %s %s EXPORT-SHA256 %s EXTMS %d\n", kind_name(c->peer().kind), c->peer().cipher.c_str(),
                sha256_hex(*ex).c_str(), c->extms() ? 1 : 0);
    std::fflush(stdout);
    c->close();
    return 0;
  }

  ServerAuthority auth;
  auth.fqdn = get("--fqdn", "mef.example.com");
  m2msec::testing::JoinedThreads lookups;  // joined before the server stops: "done" holds a connection
  if (psk) {
    auto table = std::make_shared<std::map<std::string, SecretBytes>>();
    table->emplace(get("--psk-identity"), psk->clone());
    auth.psk_lookup = [table, &lookups](const PskRequest& req, std::function<void(Result<SecretBytes>)> done) {
      lookups.start([table, id = req.identity, done = std::move(done)] {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        auto it = table->find(id);
        if (it == table->end()) return done(fail(Errc::unknown_psk_identity, id));
        done(it->second.clone());
      });
    };
  }
  if (!get("--cert").empty()) {
    auto c = load_certificate_key(get("--cert"), get("--key"));
    if (!c) return die(c.error());
    auth.certificate = *c;
  }
  if (!get("--client-ca").empty()) {
    auto t = load_trust_anchors(get("--client-ca"));
    if (!t) return die(t.error());
    auth.client_trust = *t;
    auth.client_auth = ClientAuth::required;
  }
  const int count = std::stoi(get("--count", "1"));
  std::mutex mu;
  std::condition_variable cv;
  int sessions = 0;

  ServerOptions o;
  o.transport = transport;
  o.port = static_cast<std::uint16_t>(std::stoi(get("--port", "0")));
  o.threads = 2;
  o.authorities.push_back(std::move(auth));
  o.default_authority = get("--default-authority");
  if (!get("--extra-suites").empty()) {
    o.ciphers = default_profile(transport);
    o.ciphers.psk_suites += ":" + get("--extra-suites");
  }
  o.handshake_timeout = std::chrono::milliseconds(5000);
  o.on_handshake_error = [&](const Error& e) {
    std::lock_guard lock(mu);
    std::printf("HANDSHAKE-ERROR %s %s\n", std::string(error_name(e.code())).c_str(), e.message().c_str());
    std::fflush(stdout);
  };
  o.on_session = [&](std::shared_ptr<Session> s) {
    auto ex = s->export_keying_material(label, len);
    std::lock_guard lock(mu);
    if (ex) {
      std::printf("SESSION %s %s EXPORT-SHA256 %s PSK-ID %s\n", kind_name(s->peer().kind), s->peer().cipher.c_str(),
                  sha256_hex(*ex).c_str(), s->peer().psk_identity.c_str());
    }
    std::fflush(stdout);
    // Echo one message if the client sends one, then close.
    s->async_read([s](Result<ByteVector> data) {
      if (!data) return s->close();
      s->async_write(std::move(*data), [s](Status) { s->close(); });
    });
    ++sessions;
    cv.notify_all();
  };
  auto server = TlsServer::create(std::move(o));
  if (!server) return die(server.error());
  (*server)->start();
  std::printf("PORT %u\n", (*server)->port());
  std::fflush(stdout);
  std::unique_lock lock(mu);
  cv.wait_for(lock, std::chrono::seconds(30), [&] { return sessions >= count; });
  lock.unlock();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the echo finish
  lookups.join();
  (*server)->stop();
  return sessions >= count ? 0 : 1;
}
