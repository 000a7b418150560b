// DTLS cookies shared between replicas (issue 12 item 3): a client sends
// its ClientHello to server A, gets A's HelloVerifyRequest, and sends the
// retried ClientHello (with A's cookie) from the same address and port to
// server B, as a load balancer without affinity for the first exchange
// would. With one cookie secret (ServerOptions::dtls_cookie_secret) B
// accepts the cookie and answers with its ServerHello; with its own secret
// it treats the cookie as invalid and asks again (RFC 6347 4.2.1: "the
// server MUST ... respond with a HelloVerifyRequest" for a bad cookie).
//
// The client is OpenSSL's own DTLS client over memory BIOs, so the test
// carries each datagram itself over one real UDP socket.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <linux/sock_diag.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "internal.h"
#include "tls_harness.h"

namespace m2msec::tls::test {
namespace {

constexpr int kHelloVerifyRequest = 3;
constexpr int kServerHello = 2;

unsigned int client_psk(SSL*, const char*, char* identity, unsigned int max_identity, unsigned char* psk,
                        unsigned int max_psk) {
  const SecretBytes k = key(1);
  if (max_identity < 5 || max_psk < k.size()) return 0;
  std::memcpy(identity, "dev1", 5);
  std::memcpy(psk, k.data(), k.size());
  return static_cast<unsigned int>(k.size());
}

// Client is a DTLS 1.2 PSK client whose datagrams go through memory BIOs.
// Given |shared_udp|, it sends and receives on that socket (not owned),
// as a second association from the same address and port would.
class Client {
 public:
  explicit Client(int shared_udp = -1) {
    ctx_ = SSL_CTX_new(DTLS_client_method());
    SSL_CTX_set_min_proto_version(ctx_, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx_, DTLS1_2_VERSION);
    SSL_CTX_set_cipher_list(ctx_, "PSK-AES128-CCM8");
    SSL_CTX_set_psk_client_callback(ctx_, client_psk);
    ssl_ = SSL_new(ctx_);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in_, -1);  // empty: "retry", not EOF
    SSL_set_bio(ssl_, in_, out_);
    SSL_set_options(ssl_, SSL_OP_NO_QUERY_MTU);
    DTLS_set_link_mtu(ssl_, 1200);
    SSL_set_tlsext_host_name(ssl_, kMef);
    if (shared_udp >= 0) {
      udp_ = shared_udp;
      return;
    }
    owns_udp_ = true;
    udp_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(udp_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  ~Client() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    if (owns_udp_) ::close(udp_);
  }
  int udp() const { return udp_; }

  // handshake completes a handshake with the server on |port|; false if
  // the server stops answering.
  bool handshake(std::uint16_t port) {
    for (int i = 0; i < 16; ++i) {
      const auto out = next_flight();
      if (!out.empty()) send_to(port, out);
      if (SSL_is_init_finished(ssl_)) return true;
      if (receive().empty()) return false;
    }
    return false;
  }
  // echo sends |text| on the session and returns what comes back.
  std::string echo(std::uint16_t port, const std::string& text) {
    ERR_clear_error();
    if (SSL_write(ssl_, text.data(), static_cast<int>(text.size())) <= 0) return {};
    std::vector<std::uint8_t> d(static_cast<std::size_t>(BIO_ctrl_pending(out_)));
    BIO_read(out_, d.data(), static_cast<int>(d.size()));
    send_to(port, d);
    if (receive().empty()) return {};
    std::string back(2048, '\0');
    const int n = SSL_read(ssl_, back.data(), static_cast<int>(back.size()));
    back.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return back;
  }

  // next_flight runs the handshake until it waits for the server, and
  // returns the datagram it wrote.
  std::vector<std::uint8_t> next_flight() {
    ERR_clear_error();
    (void)SSL_connect(ssl_);
    std::vector<std::uint8_t> d(static_cast<std::size_t>(BIO_ctrl_pending(out_)));
    if (!d.empty()) BIO_read(out_, d.data(), static_cast<int>(d.size()));
    return d;
  }
  void send_to(std::uint16_t port, const std::vector<std::uint8_t>& d) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::sendto(udp_, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  // receive returns the next datagram (empty after 5 s) and hands it to
  // the client's handshake.
  std::vector<std::uint8_t> receive() { return receive_where([](const auto&) { return true; }); }
  // receive_handshake is receive() for the next handshake datagram: others
  // before it (an ended session's alert, which a memory BIO would join to
  // the next datagram into one packet) are left out.
  std::vector<std::uint8_t> receive_handshake() {
    return receive_where([](const std::vector<std::uint8_t>& d) { return d[0] == 22; });
  }

 private:
  // receive_where returns the first of the next few datagrams that |wanted|
  // (empty after 5 s without one), handed to the client's handshake.
  template <typename Pred>
  std::vector<std::uint8_t> receive_where(Pred wanted) {
    for (int i = 0; i < 4; ++i) {
      pollfd p{udp_, POLLIN, 0};
      if (::poll(&p, 1, 5000) != 1) return {};
      std::vector<std::uint8_t> d(2048);
      const ssize_t n = ::recv(udp_, d.data(), d.size(), 0);
      if (n <= 0) return {};
      d.resize(static_cast<std::size_t>(n));
      if (!wanted(d)) continue;
      BIO_write(in_, d.data(), static_cast<int>(d.size()));
      return d;
    }
    return {};
  }

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;
  BIO* out_ = nullptr;
  int udp_ = -1;
  bool owns_udp_ = false;
};

// handshake_type is the type of the first handshake message of a DTLS
// datagram: byte 13, after the 13-byte record header (RFC 6347 4.1).
int handshake_type(const std::vector<std::uint8_t>& d) { return d.size() > 13 && d[0] == 22 ? d[13] : -1; }

// second_answer: ClientHello to |a|, retried ClientHello to |b|; returns
// the handshake type of |b|'s answer.
int second_answer(Harness& a, Harness& b) {
  Client c;
  c.send_to(a.port(), c.next_flight());
  const auto hvr = c.receive();
  EXPECT_EQ(handshake_type(hvr), kHelloVerifyRequest);
  const auto retry = c.next_flight();  // the ClientHello with A's cookie
  EXPECT_FALSE(retry.empty());
  c.send_to(b.port(), retry);
  return handshake_type(c.receive());
}

ServerOptions dtls_server(std::shared_ptr<const SecretBytes> secret) {
  ServerOptions o = psk_server_options(Transport::dtls, {{"dev1", 1}});
  o.dtls_cookie_secret = std::move(secret);
  return o;
}

TEST(DtlsCookie, ReplicasWithOneSecretAcceptEachOthersCookies) {
  auto secret = std::make_shared<const SecretBytes>(key(7));
  Harness a(dtls_server(secret));
  Harness b(dtls_server(secret));
  EXPECT_EQ(second_answer(a, b), kServerHello);
}

TEST(DtlsCookie, ADifferentSecretAsksAgain) {
  Harness a(dtls_server(std::make_shared<const SecretBytes>(key(7))));
  Harness b(dtls_server(std::make_shared<const SecretBytes>(key(8))));
  EXPECT_EQ(second_answer(a, b), kHelloVerifyRequest);
  // Without a configured secret each server has its own random one.
  Harness c(dtls_server(nullptr));
  Harness d(dtls_server(nullptr));
  EXPECT_EQ(second_answer(c, d), kHelloVerifyRequest);
  // Each still accepts its own cookie.
  EXPECT_EQ(second_answer(c, c), kServerHello);
}

TEST(DtlsCookie, AShortSecretIsRefused) {
  ServerOptions o = dtls_server(std::make_shared<const SecretBytes>(key(7, 15)));
  o.on_session = [](std::shared_ptr<Session>) {};
  auto s = TlsServer::create(std::move(o));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Errc::invalid_length) << s.error().message();
}

// A ClientHello that reaches the server while it is giving another
// verified client its own socket (bound to the listener's address, not yet
// connected) lands on that socket, not on the listener: once the
// SO_REUSEPORT group holds a connected socket, Linux hands a datagram from
// a new address to the group's most recently bound unconnected member.
// The server must still answer it (Connection::pass_on_strays); dropped,
// it would cost its client a retransmission timer. The client here
// never retransmits (memory BIOs, nothing drives its timer), so a dropped
// hello leaves it without an answer.
struct Stray {
  static inline Client* client = nullptr;
  static inline std::uint16_t port = 0;
  static inline std::vector<std::uint8_t> hello;
  static inline std::atomic<bool> sent{false};
  static inline std::atomic<bool> landed{false};
  // on_bound sends the stray hello once, into the first new socket's
  // moment between bind and connect, and sees whether it landed there.
  static void on_bound(int fd) {
    if (sent.exchange(true)) return;
    client->send_to(port, hello);
    pollfd p{fd, POLLIN, 0};
    landed = ::poll(&p, 1, 5000) == 1;
  }
};

// stray_into_new_socket opens a session (a connected socket in the
// group), then connects a second client while |stray| sends |hello| into
// the moment between its socket's bind and connect; returns whether the
// hello landed there. Both sessions still echo afterwards.
bool stray_into_new_socket(Harness& h, Client& stray, std::vector<std::uint8_t> hello) {
  auto open = psk_client(Transport::dtls, h.port(), "dev1", 1);
  EXPECT_TRUE(open.has_value()) << open.error().message();
  if (!open) return false;
  Stray::client = &stray;
  Stray::port = h.port();
  Stray::hello = std::move(hello);
  Stray::sent = false;
  Stray::landed = false;
  detail::peer_socket_bound_hook = &Stray::on_bound;
  auto next = psk_client(Transport::dtls, h.port(), "dev1", 1);
  detail::peer_socket_bound_hook = nullptr;
  EXPECT_TRUE(next.has_value()) << next.error().message();
  if (!next) return false;
  expect_echo(*open);
  expect_echo(*next);
  return Stray::sent && Stray::landed;
}

TEST(DtlsCookie, AHelloThatLandsOnANewPeerSocketIsAnswered) {
  Harness h(dtls_server(nullptr));
  Client stray;
  ASSERT_TRUE(stray_into_new_socket(h, stray, stray.next_flight()))
      << "the stray hello did not reach the new socket: the test proves nothing";
  EXPECT_EQ(handshake_type(stray.receive()), kHelloVerifyRequest);
  stray.send_to(h.port(), stray.next_flight());  // the hello with the cookie, to the listener
  EXPECT_EQ(handshake_type(stray.receive()), kServerHello);
}

TEST(DtlsCookie, ACookieHelloThatLandsOnANewPeerSocketGetsItsConnection) {
  Harness h(dtls_server(nullptr));
  Client stray;
  stray.send_to(h.port(), stray.next_flight());
  ASSERT_EQ(handshake_type(stray.receive()), kHelloVerifyRequest);
  ASSERT_TRUE(stray_into_new_socket(h, stray, stray.next_flight()))
      << "the stray hello did not reach the new socket: the test proves nothing";
  EXPECT_EQ(handshake_type(stray.receive()), kServerHello);
}

// queued_bytes is the memory a socket's receive queue holds (SO_MEMINFO).
std::uint32_t queued_bytes(int fd) {
  std::uint32_t info[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info, &len) != 0) return 0;
  return info[SK_MEMINFO_RMEM_ALLOC];
}

// A stray can also come after the peer's own datagrams: its sender's
// kernel chose the new socket just before the connect, and the datagram
// was queued later. Here the peer's retransmitted ClientHello and then a
// stray hello land on the new socket, in that order. The handshake's SSL
// reads the first; the stray behind it must still go to the listener,
// not to the SSL (Connection::pass_on_strays runs before every read).
struct Behind {
  static inline Client* peer = nullptr;
  static inline Client* stray = nullptr;
  static inline std::uint16_t port = 0;
  static inline std::vector<std::uint8_t> peer_datagram, stray_hello;
  static inline std::atomic<bool> sent{false};
  static inline std::atomic<bool> landed{false};
  static void on_bound(int fd) {
    if (sent.exchange(true)) return;
    peer->send_to(port, peer_datagram);
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return;
    const std::uint32_t one = queued_bytes(fd);
    stray->send_to(port, stray_hello);
    for (int i = 0; i < 500 && queued_bytes(fd) == one; ++i) std::this_thread::sleep_for(1ms);
    landed = queued_bytes(fd) > one;
  }
};

TEST(DtlsCookie, AStrayBehindThePeersDatagramIsAnswered) {
  Harness h(dtls_server(nullptr));
  auto open = psk_client(Transport::dtls, h.port(), "dev1", 1);  // a connected socket in the group
  ASSERT_TRUE(open.has_value()) << open.error().message();
  Client peer, stray;
  peer.send_to(h.port(), peer.next_flight());
  ASSERT_EQ(handshake_type(peer.receive()), kHelloVerifyRequest);
  const auto with_cookie = peer.next_flight();
  Behind::peer = &peer;
  Behind::stray = &stray;
  Behind::port = h.port();
  Behind::peer_datagram = with_cookie;  // as the peer's retransmission
  Behind::stray_hello = stray.next_flight();
  Behind::sent = false;
  Behind::landed = false;
  detail::peer_socket_bound_hook = &Behind::on_bound;
  peer.send_to(h.port(), with_cookie);  // the listener accepts: a new socket, and the hook
  const bool done = peer.handshake(h.port());
  detail::peer_socket_bound_hook = nullptr;
  ASSERT_TRUE(Behind::sent && Behind::landed)
      << "the two datagrams did not both reach the new socket: the test proves nothing";
  EXPECT_TRUE(done);
  EXPECT_EQ(handshake_type(stray.receive()), kHelloVerifyRequest);
  expect_echo(*open);
}

// RFC 6347 4.2.8: a ClientHello from the address and port of an
// established session begins a new association (the client lost its
// state, or a new client drew the same port). The kernel delivers it to
// that session's socket, not to the listener; the server must still
// answer it with a HelloVerifyRequest, keep the session while the cookie
// has not come back (a forged hello must not end it), and end it for the
// new association once the cookie returns.
TEST(DtlsCookie, AHelloFromAnEstablishedSessionsAddressBeginsANewAssociation) {
  Harness h(dtls_server(nullptr));
  Client old_session;
  ASSERT_TRUE(old_session.handshake(h.port()));
  EXPECT_EQ(old_session.echo(h.port(), "before"), "before");
  Client fresh(old_session.udp());  // same address and port
  fresh.send_to(h.port(), fresh.next_flight());
  ASSERT_EQ(handshake_type(fresh.receive()), kHelloVerifyRequest);
  // No cookie returned yet: the session still serves.
  EXPECT_EQ(old_session.echo(h.port(), "still"), "still");
  fresh.send_to(h.port(), fresh.next_flight());  // the hello with the cookie
  std::vector<std::uint8_t> answer;
  // The old session's close_notify (an epoch-1 alert) may come first.
  for (int i = 0; i < 3 && handshake_type(answer) != kServerHello; ++i) answer = fresh.receive();
  ASSERT_EQ(handshake_type(answer), kServerHello);
  ASSERT_TRUE(fresh.handshake(h.port()));
  EXPECT_EQ(fresh.echo(h.port(), "after"), "after");
  ASSERT_TRUE(h.wait_sessions(2));
}

// A session's socket holds its peer's datagrams until the session reads
// them. When the session ends with a new client's ClientHello still there
// (the old client's close_notify came first, or the session was not
// reading), closing the socket would drop the hello, and its client would
// wait a whole retransmission timer. The server must answer it instead
// (Connection::pass_on_queued_hellos). Here the session never reads, so
// the hello is surely queued on its socket when its idle timeout ends it;
// the client never retransmits, so a dropped hello leaves it unanswered.
TEST(DtlsCookie, AHelloQueuedOnAnEndingSessionsSocketIsAnswered) {
  std::mutex mu;
  std::vector<std::shared_ptr<Session>> held;  // established, never read
  ServerOptions o = dtls_server(nullptr);
  o.idle_timeout = 300ms;
  o.on_session = [&](std::shared_ptr<Session> s) {
    std::lock_guard lock(mu);
    held.push_back(std::move(s));
  };
  auto server = TlsServer::create(std::move(o));
  ASSERT_TRUE(server) << server.error().message();
  (*server)->start();
  const std::uint16_t port = (*server)->port();
  Client old_session;
  ASSERT_TRUE(old_session.handshake(port));
  Client fresh(old_session.udp());  // same address and port: queued on the session's socket
  fresh.send_to(port, fresh.next_flight());
  // The ending session's close_notify (an epoch-1 alert) comes first.
  EXPECT_EQ(handshake_type(fresh.receive_handshake()), kHelloVerifyRequest);
  fresh.send_to(port, fresh.next_flight());  // the hello with the cookie, to the listener now
  EXPECT_EQ(handshake_type(fresh.receive()), kServerHello);
  (*server)->stop();
  std::lock_guard lock(mu);
  held.clear();  // before the server's io_context goes
}

// A hello that returns a cookie is not handed on from an ending session
// (its connection might meet one already made for it), nor is anything
// but a whole first ClientHello.
TEST(DtlsCookie, OnlyAFirstClientHelloIsHandedOnFromAnEndingSession) {
  Client c;
  auto hello = c.next_flight();
  ASSERT_TRUE(detail::starts_first_client_hello(hello.data(), hello.size()));
  Harness h(dtls_server(nullptr));
  c.send_to(h.port(), hello);
  ASSERT_EQ(handshake_type(c.receive()), kHelloVerifyRequest);
  auto with_cookie = c.next_flight();
  EXPECT_TRUE(detail::starts_client_hello(with_cookie.data(), with_cookie.size()));
  EXPECT_FALSE(detail::starts_first_client_hello(with_cookie.data(), with_cookie.size()));
  auto fragment = hello;
  fragment[21] = 1;  // a fragment offset
  EXPECT_FALSE(detail::starts_first_client_hello(fragment.data(), fragment.size()));
  fragment = hello;
  fragment[24] ^= 1;  // a fragment length other than the message's
  EXPECT_FALSE(detail::starts_first_client_hello(fragment.data(), fragment.size()));
  for (std::size_t n : {std::size_t{0}, std::size_t{14}, std::size_t{59}, std::size_t{60}}) {
    EXPECT_FALSE(detail::starts_first_client_hello(hello.data(), n)) << n;
  }
}

}  // namespace
}  // namespace m2msec::tls::test
