// m2msec/tls/session.h: an established server-side (D)TLS connection.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/core/secret.h"
#include "m2msec/tls/identity.h"

namespace m2msec::tls {

using ByteVector = std::vector<std::uint8_t>;
using ReadHandler = std::function<void(Result<ByteVector>)>;
using WriteHandler = std::function<void(Status)>;

// Session is handed to the application after a successful handshake. All
// members may be called from any thread; handlers run on the connection's
// own thread, one at a time. The server keeps the connection alive while
// an operation is pending or the application holds the shared_ptr.
class Session {
 public:
  virtual ~Session() = default;

  // peer returns the authenticated identity (PSK identity or certificate
  // names) and the SNI the client sent. Valid for the session's lifetime.
  virtual const PeerIdentity& peer() const = 0;

  // export_keying_material is RFC 5705 TLS key export with |label| and no
  // context, |length| bytes. Fails with Errc::invalid_argument for an empty
  // label or length 0, Errc::connection_closed after close.
  virtual Result<SecretBytes> export_keying_material(std::string_view label, std::size_t length) const = 0;

  // async_read delivers the next application data (1 or more bytes, one
  // DTLS datagram at most). Errors: Errc::connection_closed (close_notify,
  // reset, or close()), Errc::timeout (idle timeout). One read at a time.
  virtual void async_read(ReadHandler handler) = 0;

  // async_write sends all of |data| (for DTLS: as one datagram, which must
  // fit the MTU). Errors: Errc::connection_closed, Errc::timeout.
  virtual void async_write(ByteVector data, WriteHandler handler) = 0;

  // close sends close_notify (best effort) and closes the socket; pending
  // handlers complete with Errc::connection_closed. Idempotent.
  virtual void close() = 0;
};

// SessionHandler receives each newly authenticated session.
using SessionHandler = std::function<void(std::shared_ptr<Session>)>;

}  // namespace m2msec::tls
