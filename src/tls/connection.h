// src/tls/connection.h: one server-side (D)TLS connection on Asio.
// Internal to the tls module.
#pragma once

#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "internal.h"
#include "m2msec/tls/session.h"

namespace m2msec::tls::detail {

class Connection;

// Slot is one connection's place in a SlotTable. |stage| and |since| rank
// it for shedding; the connection updates them from its own thread.
struct Slot {
  std::weak_ptr<Connection> conn;
  std::atomic<std::uint32_t> stage{0};   // handshake messages received
  std::atomic<std::int64_t> since{0};    // steady_clock ticks: accepted, or last activity
  std::list<std::shared_ptr<Slot>>::iterator pos;
  bool held = false;  // in the table; guarded by SlotTable::mu_
};

// SlotTable bounds a set of connections across all workers: the
// handshakes in progress, or the established sessions. When it is full,
// admit() evicts the lowest-ranked slot (lowest |stage|, then smallest
// |since|) so the newcomer always gets in: for handshakes, the one that
// made the least progress, oldest first; for sessions, the longest idle.
class SlotTable {
 public:
  explicit SlotTable(std::size_t capacity) : capacity_(capacity) {}

  // admit inserts |slot|. If the table is full it evicts the lowest-ranked
  // slot and returns its connection, which the caller must close (null if
  // none was evicted or it is already being destroyed). The victim is
  // released outside the lock: its destructor calls release().
  std::shared_ptr<Connection> admit(const std::shared_ptr<Slot>& slot);

  // release removes |slot| if it is still in the table (an evicted slot is
  // not). Returns whether it was.
  bool release(Slot& slot);

  std::size_t size() const;
  std::size_t capacity() const { return capacity_; }

 private:
  mutable std::mutex mu_;
  std::list<std::shared_ptr<Slot>> slots_;
  std::size_t capacity_;
};

// Notify reports a server-level event through ServerOptions::on_notice;
// exceptions from the callback are swallowed.
void notify(const ServerOptions& options, const Error& event);

// ServerShared is what every connection of one server reads.
struct ServerShared {
  ServerShared(std::size_t max_handshakes, std::size_t max_sessions)
      : handshakes(max_handshakes), sessions(max_sessions) {}
  std::shared_ptr<const ServerConfig> config;
  ServerOptions options;
  SlotTable handshakes;
  SlotTable sessions;
  // stray, set by a DTLS server before it starts, takes a datagram that
  // reached a connection's socket but is not that connection's: one from
  // another address (see accept_dtls in server.cc), or a ClientHello with
  // which the session's own peer begins a new association (RFC 6347
  // 4.2.8); |replaced| is then that session, to be closed once the peer
  // has returned a cookie. Called on the connection's thread.
  std::function<void(ByteVector datagram, const sockaddr_storage& from, std::weak_ptr<Connection> replaced)> stray;
};

// Worker is one io_context, run by one thread, and its connections. Only
// that thread touches |connections|.
struct Worker {
  boost::asio::io_context ioc{1};
  std::list<std::weak_ptr<Connection>> connections;
};

// address_text is an IP address as text ("" for other families); an
// IPv4-mapped IPv6 address is given in its IPv4 form.
std::string address_text(const sockaddr_storage& ss);

// Connection drives SSL_do_handshake/SSL_read/SSL_write on a non-blocking
// socket. Every step runs on the worker's thread; pump() retries whatever
// is pending and waits (socket readiness, PSK lookup, DTLS retransmission
// timer) for what cannot progress. A deadline timer bounds the handshake
// and, afterwards, idle time; during the handshake a shorter flight
// deadline bounds the wait for the client's next handshake message.
class Connection final : public Session, public std::enable_shared_from_this<Connection> {
 public:
  // Connection takes ownership of |fd| (non-blocking) and |ssl|, which must
  // already be in accept state with its BIO on |fd|. |address| is the
  // peer's address as text if the caller knows it (accept4 returned it);
  // empty, it is read from the socket once the handshake is done.
  Connection(const std::shared_ptr<Worker>& worker, std::shared_ptr<ServerShared> shared, int fd, UniquePtr<SSL> ssl,
             std::string address = {});
  ~Connection() override;

  // start registers the connection with its worker and begins the
  // handshake; call on the worker's thread. |stage| is the number of
  // handshake messages already received (1 for a DTLS peer that returned
  // our cookie in its ClientHello).
  void start(std::uint32_t stage = 0);

  // set_datagram_peer names the connected peer of a DTLS connection's
  // socket (before start()): datagrams at the head of the socket's queue
  // from any other address, and once established a ClientHello from the
  // peer itself, go to ServerShared::stray instead of the session.
  void set_datagram_peer(const sockaddr_storage& peer);

  // give_way closes this session, if still established, because its peer
  // has begun a new association from the same address and returned the
  // server's cookie (RFC 6347 4.2.8), then runs |then| on this
  // connection's thread. Any thread.
  void give_way(std::move_only_function<void()> then);

  // handshake_slot is this connection's place among the server's
  // handshakes; admit it before start().
  const std::shared_ptr<Slot>& handshake_slot() const { return handshake_slot_; }

  // shed closes the connection from any thread (posted to its worker)
  // after its slot was evicted from the handshakes (|handshake|) or the
  // sessions table; a handshake that finished meanwhile is left alone.
  void shed(bool handshake, Error reason);

  // close_now fails pending operations with |reason| and closes; worker
  // thread only.
  void close_now(const Error& reason);

  const PeerIdentity& peer() const override { return peer_; }
  Result<SecretBytes> export_keying_material(std::string_view label, std::size_t length) const override;
  void async_read(ReadHandler handler) override;
  void async_write(ByteVector data, WriteHandler handler) override;
  void close() override;

 private:
  enum class Phase { handshaking, established, closed };

  void pump();
  void pass_on_strays();
  void pass_on_new_hello();
  void pass_on_queued_hellos();
  static long watch_reads(BIO* bio, int oper, const char* data, std::size_t len, int argi, long argl, int ret,
                          std::size_t* processed);
  bool pump_handshake();
  void pump_write();
  void pump_read();
  void wait_socket(bool for_write);
  void arm_dtls_timer();
  void arm_deadline();
  void on_deadline();
  void start_psk_lookup();
  void on_psk_result(Result<SecretBytes> result);
  void finish_handshake();
  void fail_handshake(const Error& error);
  void release_async_job();
  void touch();
  void note_progress();
  std::chrono::steady_clock::time_point next_deadline() const;
  void release_slots();
  // guard runs |f| (which calls the application); an exception closes this
  // connection and is reported once through on_notice.
  template <typename F>
  void guard(const char* what, F&& f);

  Worker& worker_;
  std::weak_ptr<Worker> worker_weak_;  // for PSK completions from other threads
  std::shared_ptr<ServerShared> shared_;
  boost::asio::posix::stream_descriptor socket_;
  std::string address_;  // the peer's address, if given at construction
  std::optional<sockaddr_storage> datagram_peer_;  // DTLS: the socket's connected peer
  ByteVector new_hello_;  // DTLS, established: a ClientHello the peer sent (watch_reads)
  boost::asio::steady_timer deadline_timer_;
  boost::asio::steady_timer dtls_timer_;
  std::chrono::steady_clock::time_point deadline_{};
  std::chrono::steady_clock::time_point flight_deadline_ = std::chrono::steady_clock::time_point::max();
  std::uint32_t messages_seen_ = 0;
  HandshakeState state_;
  UniquePtr<SSL> ssl_;
  Phase phase_ = Phase::handshaking;
  std::shared_ptr<Slot> handshake_slot_ = std::make_shared<Slot>();
  std::shared_ptr<Slot> session_slot_;
  bool want_read_ = false;
  bool want_write_ = false;
  bool read_waiting_ = false;
  bool write_waiting_ = false;
  std::uint64_t dtls_timer_gen_ = 0;
  PeerIdentity peer_;
  ReadHandler read_handler_;
  WriteHandler write_handler_;
  ByteVector write_data_;
  std::size_t write_done_ = 0;
  std::list<std::weak_ptr<Connection>>::iterator registry_;
  bool registered_ = false;
  bool in_lookup_call_ = false;  // inside the application's PskLookup
};

}  // namespace m2msec::tls::detail
