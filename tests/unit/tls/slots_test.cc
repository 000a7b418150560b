// Slot exhaustion: idle and trickling peers cannot lock legitimate clients
// out. The server sheds the handshake with the least progress when its
// slots are full, closes a handshake whose client sends no complete
// message for flight_timeout, and bounds established sessions.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cstring>
#include <thread>

#include "tls_harness.h"

namespace m2msec::tls::test {
namespace {

std::size_t count_detail(const std::vector<Error>& errors, std::string_view needle) {
  std::size_t n = 0;
  for (const Error& e : errors) n += e.message().find(needle) != std::string::npos ? 1 : 0;
  return n;
}

bool has_detail(const std::vector<Error>& errors, std::string_view needle) { return count_detail(errors, needle) > 0; }

// closed_by_server waits up to |timeout| for EOF (or reset) on |fd|,
// discarding whatever the server sent before.
bool closed_by_server(int fd, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
  return false;
}

// still_open says whether |fd| has neither EOF nor an error pending (data
// the server sent is drained first).
bool still_open(int fd) {
  char buf[4096];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

unsigned int dummy_psk(SSL*, const char*, char* identity, unsigned int, unsigned char* psk, unsigned int) {
  std::memcpy(identity, "dev1", 5);
  psk[0] = 1;
  return 1;
}

// send_pending sends what |ssl| wrote to its memory BIO as one datagram.
void send_pending(SSL* ssl, int fd) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(SSL_get_wbio(ssl), &data);
  if (n > 0) ::send(fd, data, static_cast<std::size_t>(n), 0);
  BIO_reset(SSL_get_wbio(ssl));
}

// dtls_past_cookie is a DTLS peer that completes the cookie exchange (RFC
// 6347 4.2.1) and then goes quiet, keeping its socket open: OpenSSL's
// client on memory BIOs writes the ClientHello, reads the
// HelloVerifyRequest, writes the ClientHello with the cookie, and is never
// given the server's answer. Returns the socket, or -1 if no
// HelloVerifyRequest came.
int dtls_past_cookie(std::uint16_t port) {
  const int fd = raw_udp_connect(port);
  UniquePtr<SSL_CTX> ctx(SSL_CTX_new(DTLS_client_method()));
  SSL_CTX_set_cipher_list(ctx.get(), "PSK-AES128-CCM8");
  SSL_CTX_set_psk_client_callback(ctx.get(), dummy_psk);
  UniquePtr<SSL> ssl(SSL_new(ctx.get()));
  SSL_set_bio(ssl.get(), BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
  SSL_set_options(ssl.get(), SSL_OP_NO_QUERY_MTU);
  DTLS_set_link_mtu(ssl.get(), 1200);
  SSL_set_tlsext_host_name(ssl.get(), kMef);
  SSL_set_connect_state(ssl.get());
  SSL_do_handshake(ssl.get());  // ClientHello
  send_pending(ssl.get(), fd);
  pollfd p{fd, POLLIN, 0};
  std::uint8_t hvr[2048];
  const ssize_t n = ::poll(&p, 1, 3000) == 1 ? ::recv(fd, hvr, sizeof hvr, 0) : -1;
  if (n <= 0) {
    ::close(fd);
    return -1;
  }
  BIO_write(SSL_get_rbio(ssl.get()), hvr, static_cast<int>(n));
  SSL_do_handshake(ssl.get());  // HelloVerifyRequest -> ClientHello with the cookie
  send_pending(ssl.get(), fd);
  return fd;
}

// LookupGate holds the server's PSK lookups (and so the I/O thread that
// runs them) until open(): install() wraps |o|'s first authority's lookup.
class LookupGate {
 public:
  static std::shared_ptr<LookupGate> install(ServerOptions& o) {
    auto gate = std::make_shared<LookupGate>();
    PskLookup inner = o.authorities[0].psk_lookup;
    o.authorities[0].psk_lookup = [inner, gate](const PskRequest& r, std::function<void(Result<SecretBytes>)> done) {
      std::unique_lock lock(gate->mu_);
      gate->entered_ = true;
      gate->cv_.notify_all();
      gate->cv_.wait_for(lock, 10s, [&] { return gate->open_; });
      lock.unlock();
      inner(r, std::move(done));
    };
    return gate;
  }
  // wait_entered waits (5 s at most) until a lookup is being held.
  bool wait_entered() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return entered_; });
  }
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false, open_ = false;
};

// TS-0003 gives no bound; ENGINEERING.md: "Unauthenticated peers are cheap
// to hold: bound what they can occupy and shed the least-progressed first."
TEST(TlsSlots, SilentClientClosedAfterFlightTimeout) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.handshake_timeout = 60s;  // only the flight deadline can close it in time
  o.flight_timeout = 200ms;
  Harness h(std::move(o));
  const int fd = raw_tcp_connect(h.port());
  EXPECT_TRUE(closed_by_server(fd, 5s));
  raw_close(fd);
  ASSERT_TRUE(h.wait_errors(1));
  EXPECT_EQ(h.errors()[0].code(), Errc::timeout);
  EXPECT_TRUE(has_detail(h.errors(), "no handshake message")) << h.errors()[0].message();
  expect_serving(h, Transport::tls, 0);
}

TEST(TlsSlots, TricklingClientClosedAfterFlightTimeout) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.handshake_timeout = 60s;
  o.flight_timeout = 300ms;
  Harness h(std::move(o));
  const std::vector<std::uint8_t> hello = client_hello_bytes();
  const int fd = raw_tcp_connect(h.port());
  // One byte every 50 ms: bytes arrive, but no message completes.
  bool closed = false;
  for (std::size_t i = 0; i + 1 < hello.size() && i < 200 && !closed; ++i) {
    if (::send(fd, &hello[i], 1, MSG_NOSIGNAL) != 1) break;
    std::this_thread::sleep_for(50ms);
    closed = h.wait_errors(1, 1ms);
  }
  ASSERT_TRUE(h.wait_errors(1));
  EXPECT_EQ(h.errors()[0].code(), Errc::timeout) << h.errors()[0].message();
  EXPECT_TRUE(closed_by_server(fd, 5s));
  raw_close(fd);
  expect_serving(h, Transport::tls, 0);
}

TEST(TlsSlots, FullSlotsShedTheIdleNotTheNewcomer) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.max_handshakes = 4;
  o.handshake_timeout = 60s;
  o.flight_timeout = 60s;  // no deadline helps: only shedding can
  Harness h(std::move(o));
  std::vector<int> idle;
  for (int i = 0; i < 40; ++i) idle.push_back(raw_tcp_connect(h.port()));  // 10x the slots
  // Until the whole flood is in (36 shed), a newcomer accepted before its
  // hello arrived ranks as low as the idle peers accepted after it.
  for (int i = 0; i < 1000 && count_detail(h.errors(), "handshake shed") < 36; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(count_detail(h.errors(), "handshake shed"), 36u);
  EXPECT_EQ(h.server().active_handshakes(), 4u);
  for (int i = 0; i < 3; ++i) expect_serving(h, Transport::tls, static_cast<std::size_t>(i));
  EXPECT_TRUE(has_detail(h.errors(), "handshake shed")) << (h.errors().empty() ? "" : h.errors()[0].message());
  for (int fd : idle) raw_close(fd);
}

TEST(TlsSlots, ShedsLeastProgressFirst) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.authorities[0].certificate = cert("mef");  // client_hello_bytes() offers ECDHE-ECDSA
  o.max_handshakes = 2;
  o.handshake_timeout = 60s;
  o.flight_timeout = 60s;
  Harness h(std::move(o));
  // |hello| is older and sent a complete ClientHello (the server answered);
  // |idle| is newer and sent nothing. A newcomer must shed |idle|.
  const std::vector<std::uint8_t> bytes = client_hello_bytes();
  const int hello = raw_tcp_connect(h.port());
  ASSERT_EQ(::send(hello, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  pollfd p{hello, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);  // the server's flight: the hello counted
  const int idle = raw_tcp_connect(h.port());
  for (int i = 0; i < 100 && h.server().active_handshakes() < 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(h.server().active_handshakes(), 2u);
  expect_serving(h, Transport::tls, 0);
  EXPECT_TRUE(closed_by_server(idle, 5s));
  EXPECT_TRUE(still_open(hello));
  raw_close(idle);
  raw_close(hello);
}

TEST(TlsSlots, DtlsPeerQuietAfterCookieTimesOut) {
  ServerOptions o = psk_server_options(Transport::dtls, {{"dev1", 1}});
  o.handshake_timeout = 60s;
  o.flight_timeout = 300ms;
  Harness h(std::move(o));
  const int fd = dtls_past_cookie(h.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(h.wait_errors(1));
  EXPECT_EQ(h.errors()[0].code(), Errc::timeout);
  EXPECT_TRUE(has_detail(h.errors(), "no handshake message")) << h.errors()[0].message();
  raw_close(fd);
  expect_serving(h, Transport::dtls, 0);
}

TEST(TlsSlots, DtlsFullSlotsShedQuietPeers) {
  ServerOptions o = psk_server_options(Transport::dtls, {{"dev1", 1}});
  o.max_handshakes = 2;
  o.handshake_timeout = 60s;
  o.flight_timeout = 60s;
  Harness h(std::move(o));
  std::vector<int> quiet;
  for (int i = 0; i < 20; ++i) {  // 10x the slots
    const int fd = dtls_past_cookie(h.port());
    ASSERT_GE(fd, 0);
    quiet.push_back(fd);
  }
  EXPECT_LE(h.server().active_handshakes(), 2u);
  expect_serving(h, Transport::dtls, 0);
  EXPECT_TRUE(has_detail(h.errors(), "handshake shed"));
  for (int fd : quiet) raw_close(fd);
}

TEST(TlsSlots, SessionCapClosesLongestIdle) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.max_sessions = 2;
  Harness h(std::move(o));
  auto first = psk_client(Transport::tls, h.port(), "dev1", 1);
  ASSERT_TRUE(first.has_value()) << first.error().message();
  ASSERT_TRUE(h.wait_sessions(1));
  auto second = psk_client(Transport::tls, h.port(), "dev1", 1);
  ASSERT_TRUE(second.has_value()) << second.error().message();
  ASSERT_TRUE(h.wait_sessions(2));
  expect_echo(*first);  // now |second| is the longest idle
  auto third = psk_client(Transport::tls, h.port(), "dev1", 1);
  ASSERT_TRUE(third.has_value()) << third.error().message();
  ASSERT_TRUE(h.wait_sessions(3));
  auto r = second->read(10, 3s);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Errc::connection_closed);
  expect_echo(*first);
  expect_echo(*third);
  EXPECT_EQ(h.server().active_sessions(), 2u);
}

// A throwing application callback closes its own connection only, and the
// notice escapes the exception's text (it may carry peer bytes).
TEST(TlsSlots, ThrowingLookupClosesOnlyItsConnection) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  auto good = o.authorities[0].psk_lookup;
  o.authorities[0].psk_lookup = [good](const PskRequest& req, std::function<void(Result<SecretBytes>)> done) {
    if (req.identity == "throw") throw std::runtime_error("lookup \x01 failed");
    good(req, std::move(done));
  };
  auto notices = std::make_shared<std::atomic<int>>(0);
  auto escaped = std::make_shared<std::atomic<bool>>(false);
  o.on_notice = [notices, escaped](const Error& e) {
    escaped->store(e.message().find('\x01') == std::string::npos &&
                   e.message().find("\\x01") != std::string::npos);
    ++*notices;
  };
  Harness h(std::move(o));
  auto c = psk_client(Transport::tls, h.port(), "throw", 1);
  EXPECT_FALSE(c.has_value());
  for (int i = 0; i < 100 && notices->load() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(notices->load(), 1);
  EXPECT_TRUE(escaped->load());
  expect_serving(h, Transport::tls, 0);
}

TEST(TlsSlots, ThrowingSessionHandlerClosesItsSession) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  auto notices = std::make_shared<std::atomic<int>>(0);
  o.on_notice = [notices](const Error&) { ++*notices; };
  o.on_session = [](std::shared_ptr<Session>) { throw std::logic_error("handler bug"); };
  o.threads = 1;
  auto server = TlsServer::create(std::move(o));
  ASSERT_TRUE(server.has_value()) << server.error().message();
  (*server)->start();
  for (int round = 0; round < 2; ++round) {  // the server survives the first
    auto c = psk_client(Transport::tls, (*server)->port(), "dev1", 1);
    ASSERT_TRUE(c.has_value()) << c.error().message();
    auto r = c->read(10, 3s);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), Errc::connection_closed);
  }
  EXPECT_EQ(notices->load(), 2);
  (*server)->stop();
}

TEST(TlsSlots, OptionsAreValidated) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.on_session = [](std::shared_ptr<Session>) {};
  o.flight_timeout = 0ms;
  auto a = TlsServer::create(o);
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().code(), Errc::invalid_argument);
  o.flight_timeout = 1s;
  o.max_sessions = 0;
  auto b = TlsServer::create(o);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code(), Errc::invalid_argument);
}

// Out of file descriptors, the TCP listener pauses accept() for a moment
// (the connection waits in the kernel's backlog) and says so once, instead
// of spinning on EMFILE; once descriptors are free it resumes, says how
// many attempts failed, and serves again. The descriptor limit is lowered
// to the lowest free descriptor number, so that no new one can be made
// until it is restored.
TEST(TlsSlots, AcceptPausesWhileOutOfDescriptorsAndResumes) {
  struct Notices {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> seen;
    bool wait_for(std::string_view needle, std::chrono::milliseconds timeout) {
      std::unique_lock lock(mu);
      return cv.wait_for(lock, timeout, [&] {
        for (const std::string& m : seen) {
          if (m.find(needle) != std::string::npos) return true;
        }
        return false;
      });
    }
  };
  auto notices = std::make_shared<Notices>();
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.on_notice = [notices](const Error& e) {
    {
      std::lock_guard lock(notices->mu);
      notices->seen.push_back(e.message());
    }
    notices->cv.notify_all();
  };
  Harness h(std::move(o));

  // The client sockets exist before the limit drops; their connections
  // then wait for an accept() that cannot get a descriptor.
  std::vector<int> clients;
  for (int i = 0; i < 4; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    clients.push_back(fd);
  }
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  const int lowest_free = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // a new descriptor takes the lowest free one
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  rlimit none = saved;
  none.rlim_cur = static_cast<rlim_t>(lowest_free);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &none), 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(h.port());
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int fd : clients) (void)::connect(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
  const bool paused = notices->wait_for("pausing", 5s);
  for (int fd : clients) ::close(fd);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(paused) << "no notice of a paused accept";
  EXPECT_TRUE(notices->wait_for("accept resumed after", 5s));
  {
    std::lock_guard lock(notices->mu);
    std::size_t pauses = 0;
    for (const std::string& m : notices->seen) pauses += m.find("pausing") != std::string::npos ? 1 : 0;
    EXPECT_EQ(pauses, 1u) << "one notice per episode";
  }
  expect_serving(h, Transport::tls, 0);
}

// Each I/O thread listens on the port (SO_REUSEPORT) and serves what it
// accepts. The group is the server's own: a port that another socket
// holds, another TlsServer's or any plain listener's, is still refused.
// A backlog longer than one accept burst (32) is taken in full: after each
// burst the listener goes on by itself, with no new connection to wake it.
// The only I/O thread is held in a PSK lookup while 100 connections queue.
TEST(TlsSlots, ABacklogLongerThanOneBurstIsAllAccepted) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.threads = 1;
  o.handshake_timeout = 60s;
  o.flight_timeout = 60s;
  auto gate = LookupGate::install(o);
  Harness h(std::move(o));
  std::thread first([&] { (void)psk_client(Transport::tls, h.port(), "dev1", 1); });
  ASSERT_TRUE(gate->wait_entered());
  std::vector<int> queued;
  for (int i = 0; i < 100; ++i) queued.push_back(raw_tcp_connect(h.port()));
  gate->open();
  for (int i = 0; i < 500 && h.server().active_handshakes() < 100; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_GE(h.server().active_handshakes(), 100u);
  for (int fd : queued) raw_close(fd);
  first.join();
}

// buffered_stage: a client whose ClientHello already waits in its socket
// when the server accepts it ranks above a silent peer, also before the
// server has read a byte of it. The only I/O thread is held in a PSK
// lookup while the hello and four silent peers queue in the backlog; they
// are then admitted in one burst into four slots (one may still be the
// held handshake's), so one or two are shed: unranked, the hello would go
// first (the oldest without progress).
TEST(TlsSlots, AHelloWaitingInTheBacklogRanksAboveSilentPeers) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.authorities[0].certificate = cert("mef");  // client_hello_bytes() offers ECDHE-ECDSA
  o.threads = 1;
  o.max_handshakes = 4;
  o.handshake_timeout = 60s;
  o.flight_timeout = 60s;
  auto gate = LookupGate::install(o);
  Harness h(std::move(o));
  std::thread first([&] { (void)psk_client(Transport::tls, h.port(), "dev1", 1); });
  ASSERT_TRUE(gate->wait_entered());
  const std::vector<std::uint8_t> bytes = client_hello_bytes();
  const int hello = raw_tcp_connect(h.port());
  ASSERT_EQ(::send(hello, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  std::vector<int> silent;
  for (int i = 0; i < 4; ++i) silent.push_back(raw_tcp_connect(h.port()));
  gate->open();
  for (int i = 0; i < 500 && !has_detail(h.errors(), "handshake shed"); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(has_detail(h.errors(), "handshake shed"));
  EXPECT_TRUE(still_open(hello));
  EXPECT_TRUE(closed_by_server(silent[0], 5s));  // the oldest silent peer went
  raw_close(hello);
  for (int fd : silent) raw_close(fd);
  first.join();
}

TEST(TlsSlots, APortAnotherSocketHoldsIsRefused) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.threads = 3;
  Harness h(std::move(o));
  for (int i = 0; i < 12; ++i) {  // connections spread over the three listeners all get through
    auto c = psk_client(Transport::tls, h.port(), "dev1", 1);
    ASSERT_TRUE(c.has_value()) << i << ": " << c.error().message();
    expect_echo(*c);
  }
  ServerOptions again = psk_server_options(Transport::tls, {{"dev1", 1}});
  again.port = h.port();
  again.threads = 3;
  again.on_session = [](std::shared_ptr<Session>) {};
  auto second = TlsServer::create(std::move(again));
  ASSERT_FALSE(second.has_value()) << "a second server joined the first one's port";
  EXPECT_EQ(second.error().code(), Errc::io_error);
  EXPECT_NE(second.error().message().find("listen on 127.0.0.1:" + std::to_string(h.port()) + "/TCP: "),
            std::string::npos)
      << second.error().message();
  EXPECT_NE(second.error().message().find("in use"), std::string::npos) << second.error().message();

  std::uint16_t plain_port = 0;
  const int plain = raw_tcp_listen(plain_port);
  ASSERT_GE(plain, 0);
  ServerOptions taken = psk_server_options(Transport::tls, {{"dev1", 1}});
  taken.port = plain_port;
  taken.on_session = [](std::shared_ptr<Session>) {};
  auto third = TlsServer::create(std::move(taken));
  ::close(plain);
  ASSERT_FALSE(third.has_value()) << "a server joined a plain listener's port";
  EXPECT_EQ(third.error().code(), Errc::io_error);
  EXPECT_NE(third.error().message().find("listen on 127.0.0.1:" + std::to_string(plain_port) + "/TCP: "),
            std::string::npos)
      << third.error().message();
}

TEST(TlsSlots, RaiseOpenFileLimit) {
  auto limit = raise_open_file_limit();
  ASSERT_TRUE(limit.has_value()) << limit.error().message();
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  EXPECT_EQ(*limit, lim.rlim_cur);
  EXPECT_EQ(lim.rlim_cur, lim.rlim_max);
}

}  // namespace
}  // namespace m2msec::tls::test
