// src/tls/connection.h: one server-side (D)TLS connection on Asio.
// Internal to the tls module.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <optional>

#include "internal.h"
#include "m2msec/tls/session.h"

namespace m2msec::tls::detail {

class Connection;

// ServerShared is what every connection of one server reads.
struct ServerShared {
  std::shared_ptr<const ServerConfig> config;
  ServerOptions options;
  std::atomic<std::size_t> handshakes{0};
};

// Worker is one io_context, run by one thread, and its connections. Only
// that thread touches |connections|.
struct Worker {
  boost::asio::io_context ioc{1};
  std::list<std::weak_ptr<Connection>> connections;
};

// Connection drives SSL_do_handshake/SSL_read/SSL_write on a non-blocking
// socket. Every step runs on the worker's thread; pump() retries whatever
// is pending and waits (socket readiness, PSK lookup, DTLS retransmission
// timer) for what cannot progress. A deadline timer bounds the handshake
// and, afterwards, idle time.
class Connection final : public Session, public std::enable_shared_from_this<Connection> {
 public:
  // Connection takes ownership of |fd| (non-blocking) and |ssl|, which must
  // already be in accept state with its BIO on |fd|.
  Connection(const std::shared_ptr<Worker>& worker, std::shared_ptr<ServerShared> shared, int fd, UniquePtr<SSL> ssl);
  ~Connection() override;

  // start registers the connection with its worker and begins the
  // handshake; call on the worker's thread.
  void start();

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

  Worker& worker_;
  std::weak_ptr<Worker> worker_weak_;  // for PSK completions from other threads
  std::shared_ptr<ServerShared> shared_;
  boost::asio::posix::stream_descriptor socket_;
  boost::asio::steady_timer deadline_timer_;
  boost::asio::steady_timer dtls_timer_;
  std::chrono::steady_clock::time_point deadline_{};
  HandshakeState state_;
  UniquePtr<SSL> ssl_;
  Phase phase_ = Phase::handshaking;
  bool counted_ = true;  // holds one slot of ServerShared::handshakes
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
