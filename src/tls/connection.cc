#include "connection.h"

#include <openssl/crypto.h>
#include <openssl/err.h>

#include <boost/asio/post.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <exception>
#include <thread>
#include <utility>

#include "m2msec/core/printable.h"

namespace m2msec::tls::detail {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// kReadChunk is one TLS record's maximum plaintext (RFC 5246 6.2.1).
constexpr std::size_t kReadChunk = 16384;

std::int64_t ticks(Clock::time_point t) { return t.time_since_epoch().count(); }

// rank orders slots for eviction: lowest stage, then smallest |since|.
bool ranks_below(const Slot& a, const Slot& b) {
  const std::uint32_t sa = a.stage.load(std::memory_order_relaxed);
  const std::uint32_t sb = b.stage.load(std::memory_order_relaxed);
  if (sa != sb) return sa < sb;
  return a.since.load(std::memory_order_relaxed) < b.since.load(std::memory_order_relaxed);
}

}  // namespace

// address_text is an IP address as text ("" for other families); an
// IPv4-mapped IPv6 address is given in its IPv4 form.
std::string address_text(const sockaddr_storage& ss) {
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    if (::inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text)) == nullptr) return "";
    return text;
  }
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      if (::inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], text, sizeof(text)) == nullptr) return "";
      return text;
    }
    if (::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text)) == nullptr) return "";
    return text;
  }
  return "";
}

namespace {

// peer_address is the IP address |fd| is connected to, as text ("" if it
// has none).
std::string peer_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  return address_text(ss);
}

}  // namespace

std::shared_ptr<Connection> SlotTable::admit(const std::shared_ptr<Slot>& slot) {
  std::shared_ptr<Connection> victim;  // destroyed after the lock: its destructor locks mu_
  std::lock_guard lock(mu_);
  if (!slots_.empty() && slots_.size() >= capacity_) {
    auto lowest = slots_.begin();
    for (auto it = std::next(slots_.begin()); it != slots_.end(); ++it) {
      if (ranks_below(**it, **lowest)) lowest = it;
    }
    (*lowest)->held = false;
    victim = (*lowest)->conn.lock();
    slots_.erase(lowest);
  }
  slot->pos = slots_.insert(slots_.end(), slot);
  slot->held = true;
  return victim;
}

bool SlotTable::release(Slot& slot) {
  std::lock_guard lock(mu_);
  if (!slot.held) return false;
  slot.held = false;
  slots_.erase(slot.pos);
  return true;
}

std::size_t SlotTable::size() const {
  std::lock_guard lock(mu_);
  return slots_.size();
}

void notify(const ServerOptions& options, const Error& event) {
  if (!options.on_notice) return;
  try {
    options.on_notice(event);
  } catch (...) {  // a failing log sink must not take the server down
  }
}

Connection::Connection(const std::shared_ptr<Worker>& worker, std::shared_ptr<ServerShared> shared, int fd,
                       UniquePtr<SSL> ssl, std::string address)
    : worker_(*worker),
      worker_weak_(worker),
      shared_(std::move(shared)),
      socket_(worker->ioc, fd),
      address_(std::move(address)),
      deadline_timer_(worker->ioc),
      dtls_timer_(worker->ioc),
      ssl_(std::move(ssl)) {
  prepare_server_ssl(ssl_.get(), &state_, *shared_->config);
  handshake_slot_->since.store(ticks(Clock::now()), std::memory_order_relaxed);
}

Connection::~Connection() {
  release_async_job();
  release_slots();
}

// guard is the exception barrier around the application's callbacks
// (session handler, PSK lookup, read and write handlers): whatever they
// throw closes this connection only.
template <typename F>
void Connection::guard(const char* what, F&& f) {
  std::string why;
  try {
    std::forward<F>(f)();
    return;
  } catch (const std::exception& e) {
    why = e.what();
  } catch (...) {
    why = "unknown exception";
  }
  notify(shared_->options, Error(Errc::connection_closed, std::string(what) + " threw: " + escape_for_log(why)));
  close_now(Error(Errc::connection_closed, "internal error"));
}

void Connection::start(std::uint32_t stage) {
  if (phase_ == Phase::closed) return;  // shed before it started
  registry_ = worker_.connections.insert(worker_.connections.end(), weak_from_this());
  registered_ = true;
  const Clock::time_point now = Clock::now();
  deadline_ = now + shared_->options.handshake_timeout;
  flight_deadline_ = now + shared_->options.flight_timeout;
  messages_seen_ = stage;
  state_.messages_in = stage;
  arm_deadline();
  pump();
}

void Connection::shed(bool handshake, Error reason) {
  asio::post(worker_.ioc, [self = shared_from_this(), handshake, reason = std::move(reason)] {
    // A handshake that finished meanwhile is no longer one: it stays.
    if (self->phase_ != (handshake ? Phase::handshaking : Phase::established)) return;
    if (handshake) {
      self->fail_handshake(reason);
    } else {
      notify(self->shared_->options, reason);
      self->close_now(reason);
    }
  });
}

void Connection::touch() {
  const Clock::time_point now = Clock::now();
  deadline_ = now + shared_->options.idle_timeout;
  if (session_slot_) session_slot_->since.store(ticks(now), std::memory_order_relaxed);
}

// note_progress records complete client messages: each one ranks the
// handshake higher for shedding and restarts the flight deadline.
void Connection::note_progress() {
  if (state_.messages_in <= messages_seen_) return;
  messages_seen_ = state_.messages_in;
  handshake_slot_->stage.store(messages_seen_, std::memory_order_relaxed);
  flight_deadline_ = Clock::now() + shared_->options.flight_timeout;
}

Clock::time_point Connection::next_deadline() const {
  return phase_ == Phase::handshaking ? std::min(deadline_, flight_deadline_) : deadline_;
}

void Connection::release_slots() {
  shared_->handshakes.release(*handshake_slot_);
  if (session_slot_) shared_->sessions.release(*session_slot_);
}

// arm_deadline waits for next_deadline(); the handler re-arms if it moved
// later meanwhile (activity), so pushing a deadline back is a plain
// assignment. Bringing one forward needs a new arm_deadline().
void Connection::arm_deadline() {
  deadline_timer_.expires_at(next_deadline());
  deadline_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->phase_ == Phase::closed) return;
    self->on_deadline();
  });
}

void Connection::on_deadline() {
  const Clock::time_point now = Clock::now();
  if (now < next_deadline()) {
    arm_deadline();
    return;
  }
  if (phase_ == Phase::handshaking) {
    std::string why = now >= flight_deadline_ ? "client sent no handshake message in time"
                                              : "handshake did not complete in time";
    // Over DTLS a record that fails to decrypt is dropped without an alert
    // (RFC 6347 4.1.2.7), so a client whose PSK differs from the one looked
    // up looks like a silent one: say so, naming the identity.
    if (shared_->options.transport == Transport::dtls && state_.psk_phase == PskPhase::done && state_.psk_result) {
      why += " after the PSK of identity '" + printable(state_.psk_identity, 128) +
             "' was found (over DTLS a client with a different key looks like this)";
    }
    fail_handshake(Error(Errc::timeout, why));
    return;
  }
  close_now(Error(Errc::timeout, "idle timeout"));
}

void Connection::set_datagram_peer(const sockaddr_storage& peer) {
  datagram_peer_ = peer;
  BIO* rbio = SSL_get_rbio(ssl_.get());
  BIO_set_callback_arg(rbio, reinterpret_cast<char*>(this));
  BIO_set_callback_ex(rbio, &Connection::watch_reads);
}

namespace {

// take_queued takes at most |max| datagrams off the head of the UDP socket
// |fd|'s queue, as long as |wanted| says so of the next one, and gives each
// to |give| with its sender.
template <typename Wanted, typename Give>
void take_queued(int fd, int max, Wanted wanted, Give give) {
  for (int i = 0; i < max; ++i) {
    auto head = peek_datagram(fd);
    if (!head || !wanted(*head)) return;
    auto datagram = take_datagram(fd, head->size);
    if (!datagram) return;
    give(std::move(*datagram), head->from);
  }
}

}  // namespace

// pass_on_strays hands the datagrams from other addresses at the head of a
// DTLS handshake's socket to the server (ServerShared::stray), which
// answers them as its listener would: the kernel may queue other clients'
// datagrams on this socket around the moment it was connected (see
// accept_dtls in server.cc). It runs before each read of the handshake's
// SSL (watch_reads): a stray is mostly queued before anything from the
// peer, but one whose sender's kernel chose the socket just before the
// connect, and was delayed, can come after the peer's first datagrams,
// and a look only at the start of each step would leave it to the SSL,
// which would take it for its peer's and drop it. The handshake then
// reads only its peer's datagrams.
void Connection::pass_on_strays() {
  take_queued(
      socket_.native_handle(), 32, [this](const DatagramHead& h) { return !same_endpoint(h.from, *datagram_peer_); },
      [this](ByteVector d, const sockaddr_storage& from) { shared_->stray(std::move(d), from, {}); });
}

// watch_reads sees every datagram the session's SSL reads from its socket
// (BIO_set_callback_ex) and keeps a ClientHello that arrives once the
// session is established: a client that lost its session, or a new client
// whose kernel drew the same port, begins a new association from the same
// address, which the kernel delivers to this socket, not to the listener,
// and OpenSSL drops (its epoch is not the session's). pass_on_new_hello
// hands it on. Looking at what is read anyway costs no system call. The
// same callback runs pass_on_strays before each read of the handshake, and
// keeps the retransmission deadline from the BIO (keep_receive_timeout),
// which this non-blocking socket does not need.
long Connection::watch_reads(BIO* bio, int oper, const char* data, std::size_t, int cmd, long, int ret,
                             std::size_t* processed) {
  if (skips_receive_timeout(oper, cmd)) return 0;  // see keep_receive_timeout
  if (oper == BIO_CB_READ) {  // before the read: during the handshake, strays first
    auto* self = reinterpret_cast<Connection*>(BIO_get_callback_arg(bio));
    if (self != nullptr && self->phase_ == Phase::handshaking && self->shared_->stray) self->pass_on_strays();
    return ret;
  }
  if (oper != (BIO_CB_READ | BIO_CB_RETURN) || ret <= 0 || data == nullptr || processed == nullptr) return ret;
  auto* self = reinterpret_cast<Connection*>(BIO_get_callback_arg(bio));
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(data);
  if (self != nullptr && self->phase_ == Phase::established && starts_client_hello(bytes, *processed)) {
    self->new_hello_.assign(bytes, bytes + *processed);
  }
  return ret;
}

// pass_on_new_hello hands the peer's new ClientHello to the server. RFC
// 6347 4.2.8: the server answers with a HelloVerifyRequest and ends this
// session only once the client has returned the cookie (give_way), so a
// forged hello does not end it.
void Connection::pass_on_new_hello() {
  if (new_hello_.empty() || !shared_->stray) return;
  shared_->stray(std::exchange(new_hello_, {}), *datagram_peer_, weak_from_this());
}

// pass_on_queued_hellos hands the first ClientHellos still queued on a
// closing DTLS socket to the server before the socket goes: closing it
// would drop them with it. A client that ends its session (close_notify)
// and a new client whose kernel draws the same port at once, or a session
// that ends while it was not reading, leave the new client's ClientHello
// behind the last datagram this session read; dropped, it would cost that
// client a retransmission timer (a second, at first). The server answers
// it with a HelloVerifyRequest, which holds no state; a hello that returns
// a cookie is not handed on (the connection it would make might meet one
// already made for it), nor is anything else queued there. The usual cost
// is one recv() that finds nothing.
void Connection::pass_on_queued_hellos() {
  if (!datagram_peer_ || !shared_->stray || !socket_.is_open()) return;
  take_queued(
      socket_.native_handle(), 16, [](const DatagramHead&) { return true; },
      [this](ByteVector d, const sockaddr_storage& from) {
        if (starts_first_client_hello(d.data(), d.size())) shared_->stray(std::move(d), from, {});
      });
}

void Connection::give_way(std::move_only_function<void()> then) {
  asio::post(worker_.ioc, [self = shared_from_this(), then = std::move(then)]() mutable {
    if (self->phase_ == Phase::established) {
      self->close_now(Error(Errc::connection_closed, "the peer began a new association (RFC 6347 4.2.8)"));
    }
    then();
  });
}

void Connection::pump() {
  if (phase_ == Phase::closed) return;
  want_read_ = false;
  want_write_ = false;
  if (phase_ == Phase::handshaking && !pump_handshake()) {
    if (phase_ != Phase::closed) {
      if (want_read_) wait_socket(false);
      if (want_write_) wait_socket(true);
    }
    return;
  }
  if (phase_ == Phase::established && write_handler_) pump_write();
  if (phase_ == Phase::established && read_handler_) pump_read();
  if (phase_ == Phase::closed) return;
  if (want_read_) wait_socket(false);
  if (want_write_) wait_socket(true);
}

// pump_handshake returns true once the handshake has completed.
bool Connection::pump_handshake() {
  while (true) {
    ERR_clear_error();
    const int rc = SSL_do_handshake(ssl_.get());
    note_progress();
    if (rc == 1) {
      finish_handshake();
      return phase_ == Phase::established;
    }
    const int err = SSL_get_error(ssl_.get(), rc);
    switch (err) {
      case SSL_ERROR_WANT_READ:
        want_read_ = true;
        arm_dtls_timer();
        return false;
      case SSL_ERROR_WANT_WRITE:
        want_write_ = true;
        return false;
      case SSL_ERROR_WANT_ASYNC:
        // The PSK callback paused the job. A synchronous lookup answers at
        // once and the loop resumes the job; otherwise on_psk_result does.
        // The flight deadline waits meanwhile (handshake_timeout holds).
        if (!state_.psk_lookup_started) start_psk_lookup();
        if (phase_ == Phase::closed) return false;
        if (state_.psk_phase == PskPhase::done) continue;
        flight_deadline_ = Clock::time_point::max();
        return false;
      default:
        fail_handshake(handshake_error(ssl_.get(), err));
        return false;
    }
  }
}

void Connection::start_psk_lookup() {
  state_.psk_lookup_started = true;
  const AuthorityContext* auth = state_.authority;
  if (auth == nullptr || !auth->authority.psk_lookup) {
    state_.psk_result = fail(Errc::unknown_psk_identity, "authority has no PSK lookup");
    state_.psk_phase = PskPhase::done;
    return;
  }
  PskRequest request{state_.psk_identity, state_.sni, shared_->options.transport};
  std::weak_ptr<Connection> weak = weak_from_this();
  auto done = [weak, worker = worker_weak_, self = this, tid = std::this_thread::get_id()](
                  Result<SecretBytes> result) {
    // An answer given synchronously, inside the lookup call, is used
    // directly: pump_handshake() resumes the job when the call returns.
    if (std::this_thread::get_id() == tid && self->in_lookup_call_ && !weak.expired()) {
      self->state_.psk_result = std::move(result);
      self->state_.psk_phase = PskPhase::done;
      return;
    }
    // Otherwise hop back to the connection's thread; the result moves with
    // it. If the server is gone, the answer is dropped.
    const std::shared_ptr<Worker> w = worker.lock();
    if (!w) return;
    auto shared_result = std::make_shared<Result<SecretBytes>>(std::move(result));
    asio::post(w->ioc, [weak, shared_result] {
      if (auto conn = weak.lock()) conn->on_psk_result(std::move(*shared_result));
    });
  };
  in_lookup_call_ = true;
  // A throwing lookup closes the connection (which releases the job).
  guard("PSK lookup", [&] { auth->authority.psk_lookup(request, std::move(done)); });
  in_lookup_call_ = false;
}

void Connection::on_psk_result(Result<SecretBytes> result) {
  if (phase_ != Phase::handshaking || state_.psk_phase != PskPhase::pending) return;
  state_.psk_result = std::move(result);
  state_.psk_phase = PskPhase::done;
  flight_deadline_ = Clock::now() + shared_->options.flight_timeout;
  arm_deadline();  // the flight deadline may be earlier than the handshake's
  pump();          // SSL_do_handshake resumes the paused job
}

void Connection::arm_dtls_timer() {
  if (shared_->config->transport != Transport::dtls) return;
  timeval tv{};
  if (DTLSv1_get_timeout(ssl_.get(), &tv) != 1) return;
  const std::uint64_t gen = ++dtls_timer_gen_;
  dtls_timer_.expires_after(std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec));
  dtls_timer_.async_wait([self = shared_from_this(), gen](const boost::system::error_code& ec) {
    if (ec || gen != self->dtls_timer_gen_ || self->phase_ != Phase::handshaking) return;
    // RFC 6347 4.2.4: retransmit the last flight.
    if (DTLSv1_handle_timeout(self->ssl_.get()) < 0) {
      self->fail_handshake(Error(Errc::timeout, "DTLS retransmission limit reached"));
      return;
    }
    self->pump();
  });
}

void Connection::wait_socket(bool for_write) {
  bool& waiting = for_write ? write_waiting_ : read_waiting_;
  if (waiting) return;
  waiting = true;
  socket_.async_wait(for_write ? asio::posix::descriptor_base::wait_write : asio::posix::descriptor_base::wait_read,
                     [self = shared_from_this(), for_write](const boost::system::error_code& ec) {
                       (for_write ? self->write_waiting_ : self->read_waiting_) = false;
                       if (ec || self->phase_ == Phase::closed) return;
                       self->pump();
                     });
}

void Connection::finish_handshake() {
  if (Status s = check_client_certificate(ssl_.get()); !s) {
    fail_handshake(s.error());
    return;
  }
  if (Status s = check_extended_master_secret(ssl_.get(), shared_->config->require_ems, "client"); !s) {
    fail_handshake(s.error());
    return;
  }
  phase_ = Phase::established;
  shared_->handshakes.release(*handshake_slot_);
  ++dtls_timer_gen_;
  dtls_timer_.cancel();
  SSL_clear_mode(ssl_.get(), SSL_MODE_ASYNC);  // no async jobs for records
  peer_ = peer_identity(ssl_.get());
  peer_.transport = shared_->options.transport;
  peer_.address = address_.empty() ? peer_address(socket_.native_handle()) : address_;
  session_slot_ = std::make_shared<Slot>();
  session_slot_->conn = weak_from_this();
  touch();
  if (auto idle = shared_->sessions.admit(session_slot_)) {
    idle->shed(false, Error(Errc::connection_closed, "session shed: max_sessions reached (longest idle)"));
  }
  arm_deadline();  // the idle deadline may be earlier than the handshake's
  guard("session handler", [&] { shared_->options.on_session(shared_from_this()); });
}

void Connection::fail_handshake(const Error& error) {
  if (shared_->options.on_handshake_error) {
    try {
      shared_->options.on_handshake_error(error);
    } catch (...) {  // a failing log sink must not take the server down
    }
  }
  close_now(error);
}

// release_async_job lets a handshake job paused in the PSK callback run to
// its end (the callback then refuses), so OpenSSL frees the job's stack.
void Connection::release_async_job() {
  if (!ssl_ || state_.psk_phase != PskPhase::pending) return;
  state_.psk_result = fail(Errc::timeout, "connection closed during PSK lookup");
  state_.psk_phase = PskPhase::done;
  SSL_do_handshake(ssl_.get());
  ERR_clear_error();
}

void Connection::close_now(const Error& reason) {
  if (phase_ == Phase::closed) return;
  const bool established = phase_ == Phase::established;
  phase_ = Phase::closed;
  release_async_job();
  if (established) {
    SSL_shutdown(ssl_.get());  // one non-blocking attempt at close_notify
    ERR_clear_error();
  }
  ssl_.reset();
  boost::system::error_code ignored;
  deadline_timer_.cancel();
  dtls_timer_.cancel();
  pass_on_queued_hellos();
  socket_.close(ignored);
  release_slots();
  if (registered_) {
    worker_.connections.erase(registry_);
    registered_ = false;
  }
  const Errc code = reason.code() == Errc::timeout ? Errc::timeout : Errc::connection_closed;
  // The connection is closed already: a throwing handler is only reported.
  if (ReadHandler h = std::move(read_handler_)) guard("read handler", [&] { h(fail(code, reason.detail())); });
  if (WriteHandler h = std::move(write_handler_)) guard("write handler", [&] { h(fail(code, reason.detail())); });
}

void Connection::pump_write() {
  while (write_done_ < write_data_.size()) {
    std::size_t n = 0;
    ERR_clear_error();
    const int rc = SSL_write_ex(ssl_.get(), write_data_.data() + write_done_, write_data_.size() - write_done_, &n);
    if (rc == 1) {
      write_done_ += n;
      touch();
      continue;
    }
    const int err = SSL_get_error(ssl_.get(), rc);
    if (err == SSL_ERROR_WANT_WRITE) {
      want_write_ = true;
      return;
    }
    if (err == SSL_ERROR_WANT_READ) {
      want_read_ = true;
      return;
    }
    close_now(Error(Errc::connection_closed, "write failed: " + ossl_error_string()));
    return;
  }
  write_data_.clear();
  write_done_ = 0;
  if (WriteHandler h = std::move(write_handler_)) guard("write handler", [&] { h({}); });
}

void Connection::pump_read() {
  // One call returns at most one record's plaintext. Read into the stack
  // and hand on only what came, rather than allocate and zero a record's
  // worth per call (most records here are a few hundred bytes, and a call
  // that finds nothing to read would waste it). The stack copy is wiped:
  // it may hold a key.
  std::array<std::uint8_t, kReadChunk> chunk;
  std::size_t n = 0;
  ERR_clear_error();
  const int rc = SSL_read_ex(ssl_.get(), chunk.data(), chunk.size(), &n);
  pass_on_new_hello();
  if (rc == 1) {
    ByteVector buf(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    OPENSSL_cleanse(chunk.data(), n);
    touch();
    if (ReadHandler h = std::move(read_handler_)) guard("read handler", [&] { h(std::move(buf)); });
    return;
  }
  const int err = SSL_get_error(ssl_.get(), rc);
  if (err == SSL_ERROR_WANT_READ) {
    want_read_ = true;
    return;
  }
  if (err == SSL_ERROR_WANT_WRITE) {
    want_write_ = true;
    return;
  }
  close_now(Error(Errc::connection_closed, err == SSL_ERROR_ZERO_RETURN ? "close_notify" : ossl_error_string()));
}

Result<SecretBytes> Connection::export_keying_material(std::string_view label, std::size_t length) const {
  // Runs on the caller's thread; SSL_export_keying_material only reads the
  // finished session's secrets, which no longer change.
  if (phase_ != Phase::established || !ssl_) return fail(Errc::connection_closed);
  return detail::export_keying_material(ssl_.get(), label, length);
}

void Connection::async_read(ReadHandler handler) {
  asio::post(worker_.ioc, [self = shared_from_this(), h = std::move(handler)]() mutable {
    if (self->phase_ != Phase::established) {
      return self->guard("read handler", [&] { h(fail(Errc::connection_closed)); });
    }
    if (self->read_handler_) {
      return self->guard("read handler", [&] { h(fail(Errc::invalid_argument, "a read is already pending")); });
    }
    self->read_handler_ = std::move(h);
    self->pump();
  });
}

void Connection::async_write(ByteVector data, WriteHandler handler) {
  asio::post(worker_.ioc, [self = shared_from_this(), d = std::move(data), h = std::move(handler)]() mutable {
    if (self->phase_ != Phase::established) {
      return self->guard("write handler", [&] { h(fail(Errc::connection_closed)); });
    }
    if (self->write_handler_) {
      return self->guard("write handler", [&] { h(fail(Errc::invalid_argument, "a write is already pending")); });
    }
    self->write_data_ = std::move(d);
    self->write_done_ = 0;
    self->write_handler_ = std::move(h);
    self->pump();
  });
}

void Connection::close() {
  asio::post(worker_.ioc, [self = shared_from_this()] { self->close_now(Error(Errc::connection_closed, "closed")); });
}

}  // namespace m2msec::tls::detail
