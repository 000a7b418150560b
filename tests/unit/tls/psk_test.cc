// TLS-PSK over TCP: async lookup, export, SNI selection, profile.
#include <pthread.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tls_harness.h"

namespace m2msec::tls::test {
namespace {

TEST(TlsPsk, HandshakeExportAndEcho) {
  Harness h(psk_server_options(Transport::tls, {{"dev1", 1}}));
  auto c = psk_client(Transport::tls, h.port(), "dev1", 1);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  ASSERT_TRUE(h.wait_sessions(1));
  const auto rec = h.session(0);
  EXPECT_EQ(rec.peer.kind, PeerIdentity::Kind::psk);
  EXPECT_EQ(rec.peer.psk_identity, "dev1");
  EXPECT_EQ(rec.peer.sni, kMef);
  EXPECT_EQ(rec.peer.cipher, "PSK-AES128-CBC-SHA256");
  EXPECT_EQ(rec.peer.address, "127.0.0.1");  // as accept4 returned it
  EXPECT_TRUE(c->extms());  // RFC 7627 extended master secret in use
  auto ours = c->export_keying_material(kLabel, 48);
  ASSERT_TRUE(ours.has_value());
  ASSERT_EQ(ours->size(), 48u);
  EXPECT_TRUE(*ours == rec.exported);
  auto other = c->export_keying_material("EXPORTER-oneM2M-Connection", 48);
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(*other == *ours);
  EXPECT_EQ(c->peer().kind, PeerIdentity::Kind::psk);
  EXPECT_EQ(c->peer().psk_identity, "dev1");
  expect_echo(*c);
  EXPECT_EQ(c->export_keying_material("", 48).error().code(), Errc::invalid_argument);
}

// A peer that closed first makes the client's writes fail; it must not
// kill the process with SIGPIPE, and the client must not need the
// application to block or ignore SIGPIPE. The child process runs with
// SIGPIPE unblocked and at its default action (terminate): exit code 0
// means a write failed cleanly with connection_closed; a death by SIGPIPE,
// or any other outcome, fails the test. The
// child leaves with _Exit, while the server's threads still run.
TEST(TlsPskDeathTest, WritingToAPeerThatClosedRaisesNoSigpipe) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        std::signal(SIGPIPE, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, nullptr);
        ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
        o.on_session = [](std::shared_ptr<Session> s) { s->close(); };
        auto server = TlsServer::create(std::move(o));
        if (!server) std::_Exit(3);
        (*server)->start();
        auto c = psk_client(Transport::tls, (*server)->port(), "dev1", 1);
        if (!c) std::_Exit(4);
        const std::vector<std::uint8_t> chunk(16 * 1024, 'x');
        for (int i = 0; i < 400; ++i) {
          if (Status st = c->write_all(chunk, 5s); !st) {
            std::_Exit(st.error().code() == Errc::connection_closed ? 0 : 6);  // 6: failed, but not as closed
          }
          std::this_thread::sleep_for(5ms);
        }
        std::_Exit(5);  // every write succeeded: the peer never closed
      },
      ::testing::ExitedWithCode(0), "");
}

// echo_each answers every chunk |s| reads with the same bytes, counting
// the answers it has handed to the socket in |echoed|.
void echo_each(std::shared_ptr<Session> s, std::shared_ptr<std::atomic<int>> echoed) {
  s->async_read([s, echoed](Result<ByteVector> data) {
    if (!data) return;
    s->async_write(std::move(*data), [s, echoed](Status st) {
      if (!st) return;
      ++*echoed;
      echo_each(s, echoed);
    });
  });
}

// Both sides read ahead: one read(2) can take several records, and the
// ones after the first wait inside the SSL, not in the socket. The server
// must serve them without more bytes arriving, and the client must read
// them, and must not call its connection reusable while they wait (the
// link reuses connections by reusable()). Each side finds three records
// at once: the server starts reading only once the client has sent all
// three, the client only once the server has sent all three answers.
TEST(TlsPsk, RecordsReadAheadAreServedWithoutMoreBytes) {
  auto sent = std::make_shared<std::promise<void>>();
  std::shared_future<void> all_sent = sent->get_future().share();
  auto echoed = std::make_shared<std::atomic<int>>(0);
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.threads = 1;
  o.on_session = [all_sent, echoed](std::shared_ptr<Session> s) {
    if (all_sent.wait_for(5s) != std::future_status::ready) return;
    echo_each(std::move(s), echoed);
  };
  auto server = TlsServer::create(std::move(o));
  ASSERT_TRUE(server.has_value()) << server.error().message();
  (*server)->start();
  auto c = psk_client(Transport::tls, (*server)->port(), "dev1", 1);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  for (char ch : {'a', 'b', 'c'}) ASSERT_TRUE(c->write_all(ByteVector{static_cast<std::uint8_t>(ch)}, 2s));
  sent->set_value();
  for (int i = 0; i < 500 && echoed->load() < 3; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(echoed->load(), 3) << "the server did not answer the records it had read ahead";
  std::string got;
  auto first = c->read(100, 2s);
  ASSERT_TRUE(first.has_value()) << first.error().message();
  got.append(first->begin(), first->end());
  ASSERT_EQ(got, "a");  // one record per read
  EXPECT_FALSE(c->reusable()) << "'b' and 'c' wait inside the SSL";
  while (got.size() < 3) {
    auto more = c->read(100, 2s);
    ASSERT_TRUE(more.has_value()) << "after '" << got << "': " << more.error().message();
    got.append(more->begin(), more->end());
  }
  EXPECT_EQ(got, "abc");
  EXPECT_TRUE(c->reusable());
  c->close();
  (*server)->stop();
}

// The I/O threads carry the name the options give them (for top -H, perf
// and the demo's CPU by role), cut to the 15 characters Linux keeps.
TEST(TlsPsk, IoThreadsAreNamedAfterTheirOptions) {
  for (const auto& [name, expected] : {std::pair<std::string, std::string>{"", "m2m-tls-io"},
                                       {"maf-tls-io", "maf-tls-io"},
                                       {"a-very-long-io-thread-name", "a-very-long-io-"}}) {
    auto seen = std::make_shared<std::promise<std::string>>();
    auto f = seen->get_future();
    ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
    if (!name.empty()) o.thread_name = name;
    o.on_session = [seen](std::shared_ptr<Session> s) {
      char buf[16] = {};
      pthread_getname_np(pthread_self(), buf, sizeof buf);
      seen->set_value(buf);
      s->close();
    };
    auto server = TlsServer::create(std::move(o));
    ASSERT_TRUE(server.has_value()) << server.error().message();
    (*server)->start();
    auto c = psk_client(Transport::tls, (*server)->port(), "dev1", 1);
    ASSERT_TRUE(c.has_value()) << c.error().message();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(f.get(), expected);
    (*server)->stop();
  }
}

// read(max) returns at most |max| bytes and at most one record's
// plaintext (2^14) per call, whatever |max|; a message larger than a
// record comes back whole over several calls.
TEST(TlsPsk, ReadReturnsAtMostMaxAndOneRecordPerCall) {
  Harness h(psk_server_options(Transport::tls, {{"dev1", 1}}));
  auto c = psk_client(Transport::tls, h.port(), "dev1", 1);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  ByteVector msg(40000);
  for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<std::uint8_t>(i * 7 + i / 251);
  ASSERT_TRUE(c->write_all(msg, 2s));
  auto three = c->read(3, 2s);
  ASSERT_TRUE(three.has_value()) << three.error().message();
  ASSERT_EQ(three->size(), 3u);
  ByteVector got(three->begin(), three->end());
  while (got.size() < msg.size()) {
    auto more = c->read(64 * 1024, 2s);
    ASSERT_TRUE(more.has_value()) << "after " << got.size() << " bytes: " << more.error().message();
    ASSERT_FALSE(more->empty());
    EXPECT_LE(more->size(), 16384u);
    got.insert(got.end(), more->begin(), more->end());
  }
  EXPECT_TRUE(got == msg);
  EXPECT_EQ(c->read(0, 2s).error().code(), Errc::invalid_argument);
}

// A slow lookup (answered from another thread) must not block other
// handshakes on the same single-threaded io_context.
TEST(TlsPsk, SlowLookupDoesNotBlockOthers) {
  auto release = std::make_shared<std::promise<void>>();
  auto released = release->get_future().share();
  std::once_flag once;
  auto let_go = [&] { std::call_once(once, [&] { release->set_value(); }); };
  testing::JoinedThreads lookups;
  ServerOptions o = psk_server_options(Transport::tls, {});
  o.threads = 1;
  o.authorities[0].psk_lookup = [released, &lookups](const PskRequest& req,
                                                     std::function<void(Result<SecretBytes>)> done) {
    if (req.identity == "slow") {
      lookups.start([released, done = std::move(done)] {
        released.wait();
        done(key(7));
      });
      return;
    }
    done(key(1));  // synchronous answer
  };
  Harness h(std::move(o));
  auto slow = std::async(std::launch::async, [&] { return psk_client(Transport::tls, h.port(), "slow", 7); });
  // Before |slow| and the harness go, even after a failed assertion: the
  // slow lookup is let go and its thread joined ("done" holds a connection).
  struct Finally {
    std::function<void()> f;
    ~Finally() { f(); }
  } finally{[&] {
    let_go();
    lookups.join();
  }};
  for (int i = 0; i < 500 && h.server().active_handshakes() == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(h.server().active_handshakes(), 1u);  // paused in the PSK callback
  // The single I/O thread still completes another handshake meanwhile (a
  // blocked one would wait for the slow lookup, which waits for this one).
  auto fast = psk_client(Transport::tls, h.port(), "fast", 1);
  ASSERT_TRUE(fast.has_value()) << fast.error().message();
  EXPECT_EQ(slow.wait_for(0ms), std::future_status::timeout);
  let_go();
  auto s = slow.get();
  ASSERT_TRUE(s.has_value()) << s.error().message();
  expect_echo(*s);
}

TEST(TlsPsk, SniSelectsAuthority) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}}, kMef);
  ServerAuthority maf;
  maf.fqdn = kMaf;
  auto seen_sni = std::make_shared<std::string>();
  maf.psk_lookup = [seen_sni](const PskRequest& req, std::function<void(Result<SecretBytes>)> done) {
    *seen_sni = req.sni;
    done(key(2));
  };
  o.authorities.push_back(std::move(maf));
  Harness h(std::move(o));
  auto a = psk_client(Transport::tls, h.port(), "dev1", 2, kMaf);
  ASSERT_TRUE(a.has_value()) << a.error().message();
  EXPECT_EQ(*seen_sni, kMaf);
  // The MEF key does not work for the MAF authority and vice versa.
  EXPECT_FALSE(psk_client(Transport::tls, h.port(), "dev1", 1, kMaf).has_value());
  EXPECT_FALSE(psk_client(Transport::tls, h.port(), "dev1", 2, kMef).has_value());
  // Unknown SNI: unrecognized_name.
  auto u = psk_client(Transport::tls, h.port(), "dev1", 1, "nobody.example.com");
  ASSERT_FALSE(u.has_value());
  EXPECT_EQ(u.error().code(), Errc::tls_handshake_failed);
  expect_serving(h, Transport::tls, 1);
}

TEST(TlsPsk, DefaultAuthorityWithoutSni) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.default_authority = "nobody.example.com";
  EXPECT_EQ(TlsServer::create(o).error().code(), Errc::invalid_argument);
  ClientOptions c;
  c.port = 1;
  c.psk = ClientPsk{"dev1", key(1)};
  EXPECT_EQ(TlsClient::connect(std::move(c)).error().code(), Errc::invalid_argument);  // no SNI
}

// RFC 6066 forbids an IP literal in SNI, yet libcoap's client (and others)
// send the address they connect to: it is read as no SNI, so the default
// authority serves it, and a listener without one refuses it as before.
TEST(TlsPsk, IpLiteralSniCountsAsNone) {
  for (const Transport t : {Transport::tls, Transport::dtls}) {
    ServerOptions o = psk_server_options(t, {{"dev1", 1}});
    o.default_authority = kMef;
    Harness h(std::move(o));
    for (const char* literal : {"127.0.0.1", "::1"}) {
      auto c = psk_client(t, h.port(), "dev1", 1, literal);
      ASSERT_TRUE(c.has_value()) << literal << ": " << c.error().message();
    }
    ASSERT_TRUE(h.wait_sessions(2));
    EXPECT_EQ(h.session(0).peer.sni, "");
    EXPECT_EQ(h.session(0).peer.address, "127.0.0.1") << transport_name(t);
    // A name is still matched strictly.
    EXPECT_FALSE(psk_client(t, h.port(), "dev1", 1, "127.0.0.1.example.com").has_value());

    Harness strict(psk_server_options(t, {{"dev1", 1}}));  // no default authority
    auto refused = psk_client(t, strict.port(), "dev1", 1, "127.0.0.1");
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code(), Errc::tls_handshake_failed);
  }
}

TEST(TlsPsk, ExtraSuitesAreConfigurable) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.ciphers.psk_suites = "PSK-AES128-CBC-SHA256:ECDHE-PSK-AES128-CBC-SHA256";
  Harness h(std::move(o));
  ClientOptions c;
  c.port = h.port();
  c.sni = kMef;
  c.psk = ClientPsk{"dev1", key(1)};
  c.cipher_override = "ECDHE-PSK-AES128-CBC-SHA256";
  auto r = TlsClient::connect(std::move(c));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->peer().cipher, "ECDHE-PSK-AES128-CBC-SHA256");
}

TEST(TlsPsk, ProfileDefaults) {
  EXPECT_EQ(cipher_list({}, Transport::tls, true, true), "PSK-AES128-CBC-SHA256:ECDHE-ECDSA-AES128-SHA256");
  EXPECT_EQ(cipher_list({}, Transport::dtls, true, true), "PSK-AES128-CCM8:ECDHE-ECDSA-AES128-CCM8");
  EXPECT_EQ(cipher_list({}, Transport::dtls, true, false), "PSK-AES128-CCM8");
  EXPECT_EQ(cipher_list({}, Transport::dtls, false, true), "ECDHE-ECDSA-AES128-CCM8");
}

}  // namespace
}  // namespace m2msec::tls::test
