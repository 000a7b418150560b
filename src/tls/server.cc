// TlsServer: worker threads, the TCP acceptor and the DTLS listener.
#include "m2msec/tls/server.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "connection.h"
#include "m2msec/core/thread.h"

namespace m2msec::tls {

std::atomic<void (*)(int fd)> detail::peer_socket_bound_hook{nullptr};

namespace {

namespace asio = boost::asio;
using detail::Connection;
using detail::ServerShared;
using detail::Worker;

// kListenBurst bounds how many datagrams the DTLS listener handles before
// yielding to other work on its thread.
constexpr int kListenBurst = 32;

// kAcceptBurst bounds how many connections one wake-up of the TCP
// listener accepts before yielding to other work on its thread.
constexpr int kAcceptBurst = 32;

// kAcceptBackoff is how long the TCP listener pauses when accept() finds
// no file descriptor (EMFILE, ENFILE) or no kernel memory, instead of
// retrying at once: the pending connection stays in the kernel's backlog.
constexpr std::chrono::milliseconds kAcceptBackoff{100};

// is_resource_shortage says whether an accept() error means "out of
// descriptors or memory": retrying at once would spin.
bool is_resource_shortage(const boost::system::error_code& ec) {
  if (ec.category() != boost::system::system_category()) return false;
  switch (ec.value()) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return true;
    default:
      return false;
  }
}

// run_guarded runs |ioc| until it is stopped: the I/O loop's exception
// barrier. A handler that throws is reported once and the loop goes on
// (the handler is consumed; its connection closes by its own deadline).
void run_guarded(boost::asio::io_context& ioc, const ServerOptions& options) {
  while (true) {
    std::string why;
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      why = e.what();
    } catch (...) {
      why = "unknown exception";
    }
    detail::notify(options, Error(Errc::io_error, "exception in the I/O loop: " + detail::escape_for_log(why)));
  }
}

// to_sockaddr converts an IPv4/IPv6 BIO_ADDR; returns 0 for other families.
socklen_t to_sockaddr(const BIO_ADDR* addr, sockaddr_storage& out) {
  std::size_t len = 0;
  switch (BIO_ADDR_family(addr)) {
    case AF_INET: {
      auto* sin = reinterpret_cast<sockaddr_in*>(&out);
      sin->sin_family = AF_INET;
      sin->sin_port = BIO_ADDR_rawport(addr);
      BIO_ADDR_rawaddress(addr, &sin->sin_addr, &len);
      return len == sizeof sin->sin_addr ? sizeof(sockaddr_in) : 0;
    }
    case AF_INET6: {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = BIO_ADDR_rawport(addr);
      BIO_ADDR_rawaddress(addr, &sin6->sin6_addr, &len);
      return len == sizeof sin6->sin6_addr ? sizeof(sockaddr_in6) : 0;
    }
    default:
      return 0;
  }
}

// Listener is one TCP listening socket of the server's SO_REUSEPORT
// group, run by one I/O thread: the kernel spreads new connections over
// the group, and each connection is served by the thread that accepted
// it, with no hand-off to another thread.
struct Listener {
  explicit Listener(std::shared_ptr<Worker> w) : worker(std::move(w)), acceptor(worker->ioc), backoff(worker->ioc) {}
  std::shared_ptr<Worker> worker;
  asio::ip::tcp::acceptor acceptor;
  asio::steady_timer backoff;
};

class Server final : public TlsServer {
 public:
  Server(std::shared_ptr<ServerShared> shared, unsigned threads) : shared_(std::move(shared)) {
    for (unsigned i = 0; i < threads; ++i) workers_.push_back(std::make_shared<Worker>());
  }
  ~Server() override { stop(); }

  Status bind();
  std::uint16_t port() const override { return port_; }
  void start() override;
  void stop() override;
  std::size_t active_handshakes() const override { return shared_->handshakes.size(); }
  std::size_t active_sessions() const override { return shared_->sessions.size(); }

 private:
  const std::shared_ptr<Worker>& next_worker() { return workers_[next_++ % workers_.size()]; }
  void admit_and_start(const std::shared_ptr<Worker>& worker, const std::shared_ptr<Connection>& conn,
                       std::uint32_t stage);
  Status bind_tcp(const asio::ip::address& addr);
  void do_accept(Listener& l);
  void on_acceptable(Listener& l, const boost::system::error_code& ec);
  void on_accept_error(Listener& l, const boost::system::error_code& ec);
  void on_accepted(Listener& l, int fd, const sockaddr_storage& peer);
  Result<UniquePtr<SSL>> make_listen_ssl(BIO* bio);
  Status new_listen_ssl();
  void do_listen();
  void on_datagrams();
  void accept_dtls(const BIO_ADDR* peer, UniquePtr<SSL> ssl);
  void answer_stray(ByteVector datagram, const sockaddr_storage& from, std::weak_ptr<Connection> replaced);
  void report(const Error& e) {
    if (shared_->options.on_handshake_error) shared_->options.on_handshake_error(e);
  }

  std::shared_ptr<ServerShared> shared_;
  std::vector<std::shared_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::unique_ptr<Listener>> listeners_;  // one per I/O thread (TCP)
  std::atomic<std::size_t> accept_failures_{0};      // in the current shortage episode, all listeners
  std::optional<asio::ip::udp::socket> udp_;
  asio::ip::udp::endpoint udp_local_;
  UniquePtr<SSL> listen_ssl_;
  std::size_t next_ = 0;
  std::uint16_t port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

// listen_failure says which address and protocol a listener could not
// take, and why: "listen on 127.0.0.1:5684/TCP: Address already in use".
template <typename Endpoint>
std::string listen_failure(const Endpoint& ep, const char* protocol, const boost::system::error_code& ec) {
  std::ostringstream where;
  where << ep;  // an IPv6 address in brackets
  return "listen on " + where.str() + "/" + protocol + ": " + ec.message();
}

Status Server::bind() {
  const ServerOptions& o = shared_->options;
  boost::system::error_code ec;
  const asio::ip::address addr = asio::ip::make_address(o.bind_address, ec);
  if (ec) return fail(Errc::invalid_argument, "bind_address: " + ec.message());
  asio::io_context& ioc = workers_[0]->ioc;
  if (o.transport == Transport::tls) return bind_tcp(addr);
  udp_.emplace(ioc);
  const asio::ip::udp::endpoint ep(addr, o.port);
  udp_->open(ep.protocol(), ec);
  int one = 1;
  if (!ec) udp_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && ::setsockopt(udp_->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    ec = boost::system::error_code(errno, boost::system::system_category());
  }
  if (!ec) udp_->bind(ep, ec);
  if (!ec) udp_->non_blocking(true, ec);
  if (ec) return fail(Errc::io_error, listen_failure(ep, "UDP", ec));
  udp_local_ = udp_->local_endpoint();
  port_ = udp_local_.port();
  return new_listen_ssl();
}

// buffered_stage ranks a just-accepted TCP connection by what its client
// has already sent: 1 if a whole first TLS record (the ClientHello) waits
// in the socket, else 0. Progress then reflects the client, not how soon
// this server got to read it, so a device that spoke at once is not shed
// in favour of a silent peer accepted after it. It costs two system calls
// (a peek and FIONREAD), so it is asked only where shedding may come
// (on_accepted).
std::uint32_t buffered_stage(int fd) {
  std::uint8_t header[5];
  const ssize_t n = ::recv(fd, header, sizeof header, MSG_PEEK | MSG_DONTWAIT);
  if (n != static_cast<ssize_t>(sizeof header) || header[0] != 22) return 0;  // 22: handshake record
  const std::size_t record = 5 + ((std::size_t{header[3]} << 8) | header[4]);
  int avail = 0;
  if (::ioctl(fd, FIONREAD, &avail) != 0 || avail < 0) return 0;
  return static_cast<std::size_t>(avail) >= record ? 1 : 0;
}

// admit_and_start gives |conn| a handshake slot, shedding the handshake
// that made the least progress if the slots are full, and starts it on its
// worker. |stage| is how many client messages it has already delivered.
void Server::admit_and_start(const std::shared_ptr<Worker>& worker, const std::shared_ptr<Connection>& conn,
                             std::uint32_t stage) {
  const std::shared_ptr<detail::Slot>& slot = conn->handshake_slot();
  slot->conn = conn;
  slot->stage.store(stage, std::memory_order_relaxed);
  if (std::shared_ptr<Connection> victim = shared_->handshakes.admit(slot)) {
    victim->shed(true, Error(Errc::connection_closed, "handshake shed: max_handshakes reached (least progress)"));
  }
  asio::post(worker->ioc, [conn, stage] { conn->start(stage); });
}

void Server::start() {
  if (started_ || stopped_) return;
  started_ = true;
  for (auto& w : workers_) guards_.push_back(asio::make_work_guard(w->ioc));
  for (auto& l : listeners_) asio::post(l->worker->ioc, [this, &l = *l] { do_accept(l); });
  if (udp_) {
    // Connections hand strays to the listener's thread (answer_stray).
    shared_->stray = [this](ByteVector datagram, const sockaddr_storage& from, std::weak_ptr<Connection> replaced) {
      asio::post(workers_[0]->ioc,
                 [this, datagram = std::move(datagram), from, replaced = std::move(replaced)]() mutable {
                   if (udp_->is_open()) answer_stray(std::move(datagram), from, std::move(replaced));
                 });
    };
    asio::post(workers_[0]->ioc, [this] { do_listen(); });
  }
  for (auto& w : workers_) {
    threads_.emplace_back([&ioc = w->ioc, shared = shared_] {
      set_thread_name(shared->options.thread_name);  // for top -H and perf
      detail::block_sigpipe_forever();
      run_guarded(ioc, shared->options);
    });
  }
}

void Server::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;
  for (auto& l : listeners_) {
    asio::post(l->worker->ioc, [&l = *l] {
      boost::system::error_code ignored;
      l.acceptor.close(ignored);
      l.backoff.cancel();
    });
  }
  asio::post(workers_[0]->ioc, [this] {
    boost::system::error_code ignored;
    if (udp_) udp_->close(ignored);
  });
  for (auto& w : workers_) {
    // Close every connection on its own thread (a paused handshake job
    // must finish there), then stop once the resulting handlers ran.
    asio::post(w->ioc, [&worker = *w] {
      auto conns = worker.connections;
      for (auto& weak : conns) {
        if (auto c = weak.lock()) c->close_now(Error(Errc::connection_closed, "server stopping"));
      }
      asio::post(worker.ioc, [&worker] { worker.ioc.stop(); });
    });
  }
  for (auto& t : threads_) t.join();
  guards_.clear();
  shared_->stray = nullptr;  // connections outliving the server must not reach it
}

// --- TLS over TCP ---

// bind_tcp opens one listening socket per I/O thread on the same port
// (SO_REUSEPORT). A port some other socket already holds is refused, as
// it would be without SO_REUSEPORT: a plain probe socket must bind it
// first. (Another process could still join the group between the probe
// and the bind, if it ran as the same user and asked for SO_REUSEPORT.)
Status Server::bind_tcp(const asio::ip::address& addr) {
  const ServerOptions& o = shared_->options;
  boost::system::error_code ec;
  if (o.port != 0) {
    asio::ip::tcp::acceptor probe(workers_[0]->ioc);
    const asio::ip::tcp::endpoint ep(addr, o.port);
    probe.open(ep.protocol(), ec);
    if (!ec) probe.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) probe.bind(ep, ec);
    if (ec) return fail(Errc::io_error, listen_failure(ep, "TCP", ec));
  }
  std::uint16_t port = o.port;
  for (const std::shared_ptr<Worker>& w : workers_) {
    auto l = std::make_unique<Listener>(w);
    const asio::ip::tcp::endpoint ep(addr, port);
    const int one = 1;
    l->acceptor.open(ep.protocol(), ec);
    if (!ec) l->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && ::setsockopt(l->acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      ec = boost::system::error_code(errno, boost::system::system_category());
    }
    if (!ec) l->acceptor.bind(ep, ec);
    if (!ec) l->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) l->acceptor.non_blocking(true, ec);  // on_acceptable accepts until EAGAIN
    if (ec) return fail(Errc::io_error, listen_failure(ep, "TCP", ec));
    if (port == 0) port = l->acceptor.local_endpoint().port();  // the rest join the first one's port
    listeners_.push_back(std::move(l));
  }
  port_ = port;
  return {};
}

// do_accept waits for |l| to have connections. They are taken with
// accept4 directly (non-blocking, close-on-exec, with the peer's address)
// and served on |l|'s own thread: no Asio socket is registered and
// released per connection, and no other thread is woken for it (an
// epoll_ctl pair, two fcntl, a getpeername and a cross-thread post less
// per connection; docs/performance.md).
void Server::do_accept(Listener& l) {
  l.acceptor.async_wait(asio::socket_base::wait_read,
                        [this, &l](const boost::system::error_code& ec) { on_acceptable(l, ec); });
}

void Server::on_acceptable(Listener& l, const boost::system::error_code& ec) {
  if (ec == asio::error::operation_aborted || !l.acceptor.is_open()) return;
  if (ec) return on_accept_error(l, ec);
  for (int i = 0; i < kAcceptBurst; ++i) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    const int fd = ::accept4(l.acceptor.native_handle(), reinterpret_cast<sockaddr*>(&peer), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return do_accept(l);
      const boost::system::error_code accept_ec(err, boost::system::system_category());
      if (is_resource_shortage(accept_ec)) return on_accept_error(l, accept_ec);
      continue;  // the connection failed before it was taken (ECONNABORTED, EPROTO, ...): the next one
    }
    if (const std::size_t failures = accept_failures_.exchange(0); failures != 0) {
      detail::notify(shared_->options, Error(Errc::io_error, "accept resumed after " + std::to_string(failures) +
                                                                 " failures for lack of file descriptors or memory"));
    }
    on_accepted(l, fd, peer);
  }
  // More may be waiting: let the thread's other work run first.
  asio::post(l.worker->ioc, [this, &l] { on_acceptable(l, {}); });
}

void Server::on_accepted(Listener& l, int fd, const sockaddr_storage& peer) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  UniquePtr<SSL> ssl(SSL_new(shared_->config->base.get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) {
    ::close(fd);
    report(Error(Errc::tls_handshake_failed, "SSL_new: " + ossl_error_string()));
    return;
  }
  SSL_set_accept_state(ssl.get());
  // The rank matters only near the cap: a connection is started (its
  // hello read, which ranks it) before its listener's next burst, so with
  // room for one burst per listener left none can be shed unranked.
  const std::size_t bursts = static_cast<std::size_t>(kAcceptBurst) * listeners_.size();
  const bool may_shed = shared_->handshakes.size() + bursts >= shared_->handshakes.capacity();
  admit_and_start(l.worker,
                  std::make_shared<Connection>(l.worker, shared_, fd, std::move(ssl), detail::address_text(peer)),
                  may_shed ? buffered_stage(fd) : 0);
}

// on_accept_error retries at once after a transient error; when the process
// is out of descriptors or memory it pauses (the connection waits in the
// backlog) and reports once per episode, with the count when it ends.
void Server::on_accept_error(Listener& l, const boost::system::error_code& ec) {
  if (!is_resource_shortage(ec)) {
    do_accept(l);
    return;
  }
  if (accept_failures_++ == 0) {
    detail::notify(shared_->options, Error(Errc::io_error, "accept: " + ec.message() + "; pausing " +
                                                               std::to_string(kAcceptBackoff.count()) +
                                                               " ms between attempts"));
  }
  l.backoff.expires_after(kAcceptBackoff);
  l.backoff.async_wait([this, &l](const boost::system::error_code& wait_ec) {
    if (wait_ec || !l.acceptor.is_open()) return;
    do_accept(l);
  });
}

// --- DTLS over UDP ---

// make_listen_ssl makes an SSL for DTLSv1_listen over |bio| (taken): a
// datagram BIO that reads each datagram with its sender's address and
// answers that sender.
Result<UniquePtr<SSL>> Server::make_listen_ssl(BIO* raw_bio) {
  UniquePtr<BIO> bio(raw_bio);
  UniquePtr<SSL> ssl(SSL_new(shared_->config->base.get()));
  if (!ssl || !bio) return fail(Errc::io_error, "DTLS listener: " + ossl_error_string());
  BIO* raw = bio.release();
  SSL_set_bio(ssl.get(), raw, raw);  // the SSL owns the BIO
  SSL_set_options(ssl.get(), SSL_OP_COOKIE_EXCHANGE | SSL_OP_NO_QUERY_MTU);
  DTLS_set_link_mtu(ssl.get(), static_cast<long>(shared_->config->mtu));
  return ssl;
}

Status Server::new_listen_ssl() {
  auto ssl = make_listen_ssl(BIO_new_dgram(udp_->native_handle(), BIO_NOCLOSE));
  if (!ssl) return std::unexpected(ssl.error());
  listen_ssl_ = std::move(*ssl);
  return {};
}

void Server::do_listen() {
  udp_->async_wait(asio::socket_base::wait_read, [this](const boost::system::error_code& ec) {
    if (ec || !udp_->is_open()) return;
    on_datagrams();
  });
}

// on_datagrams runs DTLSv1_listen: RFC 6347 4.2.1 stateless cookies. Only
// a ClientHello that returns our cookie gets per-connection state.
void Server::on_datagrams() {
  UniquePtr<BIO_ADDR> peer(BIO_ADDR_new());
  for (int i = 0; i < kListenBurst; ++i) {
    ERR_clear_error();
    const int rc = DTLSv1_listen(listen_ssl_.get(), peer.get());
    if (rc > 0) {
      accept_dtls(peer.get(), std::move(listen_ssl_));
      if (!new_listen_ssl()) return;
      continue;
    }
    ERR_clear_error();
    if (rc < 0 && !new_listen_ssl()) return;
    std::uint8_t probe = 0;
    if (::recv(udp_->native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT) < 0) break;  // drained
  }
  if (udp_->is_open()) {
    asio::post(workers_[0]->ioc, [this] {
      if (udp_->is_open()) {
        std::uint8_t probe = 0;
        if (::recv(udp_->native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT) >= 0) {
          on_datagrams();
        } else {
          do_listen();
        }
      }
    });
  }
}

// accept_dtls gives the verified client its own UDP socket: bound to the
// listener's address (SO_REUSEADDR/SO_REUSEPORT) and connected to the
// peer, so the kernel delivers that peer's datagrams to it. |ssl| is the
// listen SSL that verified the client's cookie.
//
// Between that bind() and that connect() the socket is an unconnected
// member of the listener's SO_REUSEPORT group like the listener, and once
// the group holds connected sockets (every open DTLS session), Linux hands
// a datagram from a new address to the most recently bound unconnected
// member: this socket, not the listener. (A datagram whose sender's kernel
// chose this socket then may even be queued just after connect().) Read by
// the new connection, such a datagram (another client's ClientHello, with
// or without its cookie) would be dropped, and its client would wait a
// whole retransmission timer, a second. So the connection takes any
// datagram from another address off the head of its socket's queue during
// its handshake (Connection::pass_on_strays) and hands it here, to be
// answered as the listener would (answer_stray).
void Server::accept_dtls(const BIO_ADDR* peer, UniquePtr<SSL> ssl) {
  const int fd = ::socket(udp_local_.protocol().family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  sockaddr_storage peer_ss{};
  const socklen_t peer_len = to_sockaddr(peer, peer_ss);
  const sockaddr* peer_sa = reinterpret_cast<const sockaddr*>(&peer_ss);
  const bool bound = fd >= 0 && ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
                     ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0 &&
                     ::bind(fd, udp_local_.data(), static_cast<socklen_t>(udp_local_.size())) == 0;
  if (auto* hook = detail::peer_socket_bound_hook.load(std::memory_order_acquire); hook && bound) hook(fd);
  if (!bound || peer_len == 0 || ::connect(fd, peer_sa, peer_len) != 0) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    report(Error(Errc::io_error, "DTLS peer socket: " + why));
    return;
  }
  BIO* bio = BIO_new_dgram(fd, BIO_NOCLOSE);
  if (bio == nullptr) {
    ::close(fd);
    return;
  }
  BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &peer_ss);
  SSL_set_bio(ssl.get(), bio, bio);  // frees the listener's BIO (NOCLOSE)
  const std::shared_ptr<Worker>& worker = next_worker();
  auto conn = std::make_shared<Connection>(worker, shared_, fd, std::move(ssl));
  conn->set_datagram_peer(peer_ss);
  // The peer returned our cookie: its ClientHello is complete (stage 1),
  // and its next flight is due within flight_timeout.
  admit_and_start(worker, conn, 1);
}

// answer_stray runs one datagram that reached some other socket through a
// listen SSL whose replies leave from the listener's socket: a
// HelloVerifyRequest for a ClientHello without our cookie, a connection of
// its own for one with it, nothing for anything else. A returned cookie
// from the peer of an established session (|replaced|) first ends that
// session, whose socket holds the address (RFC 6347 4.2.8).
// Listener's thread.
void Server::answer_stray(ByteVector datagram, const sockaddr_storage& from, std::weak_ptr<Connection> replaced) {
  BIO* bio = detail::new_one_datagram_bio(udp_->native_handle(), std::move(datagram), from);
  if (bio == nullptr) return;
  auto ssl = make_listen_ssl(bio);
  if (!ssl) return report(ssl.error());
  UniquePtr<BIO_ADDR> sender(BIO_ADDR_new());
  if (!sender) return;
  ERR_clear_error();
  const int rc = DTLSv1_listen(ssl->get(), sender.get());
  ERR_clear_error();
  if (rc <= 0) return;
  if (auto old = replaced.lock()) {
    old->give_way([this, sender = std::move(sender), ssl = std::move(*ssl)]() mutable {
      asio::post(workers_[0]->ioc, [this, sender = std::move(sender), ssl = std::move(ssl)]() mutable {
        if (udp_->is_open()) accept_dtls(sender.get(), std::move(ssl));
      });
    });
    return;
  }
  accept_dtls(sender.get(), std::move(*ssl));
}

}  // namespace

Result<std::unique_ptr<TlsServer>> TlsServer::create(ServerOptions options) {
  if (!options.on_session) return fail(Errc::invalid_argument, "on_session handler is required");
  if (options.handshake_timeout.count() <= 0 || options.idle_timeout.count() <= 0 ||
      options.flight_timeout.count() <= 0) {
    return fail(Errc::invalid_argument, "timeouts must be positive");
  }
  if (options.mtu < 256 || options.mtu > 65507) return fail(Errc::invalid_argument, "MTU out of 256..65507");
  if (options.max_handshakes == 0) return fail(Errc::invalid_argument, "max_handshakes must be positive");
  if (options.max_sessions == 0) return fail(Errc::invalid_argument, "max_sessions must be positive");
  auto config = detail::build_server_config(options);
  if (!config) return std::unexpected(config.error());
  unsigned threads = options.threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  auto shared = std::make_shared<ServerShared>(options.max_handshakes, options.max_sessions);
  shared->config = std::move(*config);
  shared->options = std::move(options);
  auto server = std::make_unique<Server>(std::move(shared), threads);
  if (Status s = server->bind(); !s) return std::unexpected(s.error());
  return std::unique_ptr<TlsServer>(std::move(server));
}

Result<std::uint64_t> raise_open_file_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return fail(Errc::io_error, std::string("getrlimit: ") + std::strerror(errno));
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return static_cast<std::uint64_t>(lim.rlim_cur);
}

}  // namespace m2msec::tls
