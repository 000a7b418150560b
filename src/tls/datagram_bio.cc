// datagram_bio.cc: a BIO that offers DTLSv1_listen one datagram already
// read from a socket, and answers its sender from another socket.
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "internal.h"

namespace m2msec::tls::detail {
namespace {

struct OneDatagram {
  int fd = -1;
  ByteVector datagram;
  bool read = false;
  sockaddr_storage from{};
  socklen_t from_len = 0;
};

OneDatagram* state(BIO* b) { return static_cast<OneDatagram*>(BIO_get_data(b)); }

int one_read(BIO* b, char* out, int size) {
  OneDatagram* s = state(b);
  BIO_clear_retry_flags(b);
  if (s == nullptr || s->read) {
    BIO_set_retry_read(b);  // nothing more: "try again later", as a drained socket says
    return -1;
  }
  s->read = true;
  // A datagram longer than the buffer is cut, as recv would cut it.
  const std::size_t n = std::min(s->datagram.size(), static_cast<std::size_t>(size < 0 ? 0 : size));
  std::memcpy(out, s->datagram.data(), n);
  return static_cast<int>(n);
}

int one_write(BIO* b, const char* in, int size) {
  OneDatagram* s = state(b);
  BIO_clear_retry_flags(b);
  if (s == nullptr || size < 0) return -1;
  const ssize_t n = ::sendto(s->fd, in, static_cast<std::size_t>(size), MSG_DONTWAIT | MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr*>(&s->from), s->from_len);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(b);
    return -1;
  }
  return static_cast<int>(n);
}

long one_ctrl(BIO* b, int cmd, long /*num*/, void* ptr) {
  OneDatagram* s = state(b);
  if (s == nullptr) return 0;
  switch (cmd) {
    case BIO_CTRL_DGRAM_GET_PEER: {
      // The caller passes a BIO_ADDR (BIO_dgram_get_peer).
      auto* out = static_cast<BIO_ADDR*>(ptr);
      if (out == nullptr) return 0;
      if (s->from.ss_family == AF_INET) {
        const auto& a = reinterpret_cast<const sockaddr_in&>(s->from);
        if (BIO_ADDR_rawmake(out, AF_INET, &a.sin_addr, sizeof a.sin_addr, a.sin_port) != 1) return 0;
      } else if (s->from.ss_family == AF_INET6) {
        const auto& a = reinterpret_cast<const sockaddr_in6&>(s->from);
        if (BIO_ADDR_rawmake(out, AF_INET6, &a.sin6_addr, sizeof a.sin6_addr, a.sin6_port) != 1) return 0;
      } else {
        return 0;
      }
      return static_cast<long>(s->from_len);
    }
    case BIO_CTRL_DGRAM_SET_PEER:    // DTLSv1_listen names the read peer to the write side: the same
    case BIO_CTRL_DGRAM_SET_CONNECTED:
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
      return s->from.ss_family == AF_INET6 ? 48 : 28;  // IP + UDP headers, as BIO_s_datagram says
    default:
      return 0;
  }
}

int one_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

int one_destroy(BIO* b) {
  delete state(b);
  BIO_set_data(b, nullptr);
  return 1;
}

const BIO_METHOD* one_datagram_method() {
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "m2msec one datagram");
    if (m == nullptr) return static_cast<BIO_METHOD*>(nullptr);
    BIO_meth_set_read(m, one_read);
    BIO_meth_set_write(m, one_write);
    BIO_meth_set_ctrl(m, one_ctrl);
    BIO_meth_set_create(m, one_create);
    BIO_meth_set_destroy(m, one_destroy);
    return m;
  }();
  return method;
}

}  // namespace

BIO* new_one_datagram_bio(int fd, ByteVector datagram, const sockaddr_storage& from) {
  const BIO_METHOD* m = one_datagram_method();
  if (m == nullptr) return nullptr;
  socklen_t len = 0;
  if (from.ss_family == AF_INET) len = sizeof(sockaddr_in);
  if (from.ss_family == AF_INET6) len = sizeof(sockaddr_in6);
  if (len == 0) return nullptr;
  BIO* b = BIO_new(m);
  if (b == nullptr) return nullptr;
  auto s = std::make_unique<OneDatagram>();
  s->fd = fd;
  s->datagram = std::move(datagram);
  s->from = from;
  s->from_len = len;
  BIO_set_data(b, s.release());
  return b;
}

bool same_endpoint(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    const auto& x = reinterpret_cast<const sockaddr_in&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in&>(b);
    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
  }
  if (a.ss_family == AF_INET6) {
    const auto& x = reinterpret_cast<const sockaddr_in6&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in6&>(b);
    return x.sin6_port == y.sin6_port && std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof x.sin6_addr) == 0;
  }
  return false;
}

std::optional<DatagramHead> peek_datagram(int fd) {
  DatagramHead h;
  socklen_t len = sizeof h.from;
  std::uint8_t probe = 0;
  // MSG_TRUNC: the datagram's whole length, though one byte is copied.
  const ssize_t size =
      ::recvfrom(fd, &probe, 1, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&h.from), &len);
  if (size < 0) return std::nullopt;
  h.size = static_cast<std::size_t>(size);
  return h;
}

bool starts_client_hello(const std::uint8_t* d, std::size_t size) {
  // 13-byte record header: type 22 (handshake), version, epoch (bytes 3-4),
  // sequence, length; then the handshake message type, 1 (ClientHello).
  return size > 13 && d[0] == 22 && d[3] == 0 && d[4] == 0 && d[13] == 1;
}

bool skips_receive_timeout(int oper, int cmd) { return oper == BIO_CB_CTRL && cmd == BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT; }

long keep_receive_timeout(BIO*, int oper, const char*, std::size_t, int cmd, long, int ret, std::size_t*) {
  return skips_receive_timeout(oper, cmd) ? 0 : ret;
}

bool starts_first_client_hello(const std::uint8_t* d, std::size_t size) {
  if (!starts_client_hello(d, size)) return false;
  // The handshake header (12 bytes from 13) gives the message's length
  // (bytes 14-16), the fragment's offset (19-21) and the fragment's length
  // (22-24): a whole message starts at 0 and is as long as the message.
  // The body, from 25, holds client_version (2), random (32), session_id
  // (a length byte at 59, then the id) and the cookie (a length byte, then
  // the cookie).
  if (size <= 59 || d[19] != 0 || d[20] != 0 || d[21] != 0) return false;
  if (d[14] != d[22] || d[15] != d[23] || d[16] != d[24]) return false;
  const std::size_t cookie_at = 60 + std::size_t{d[59]};
  return size > cookie_at && d[cookie_at] == 0;
}

std::optional<ByteVector> take_datagram(int fd, std::size_t size) {
  ByteVector d(size);
  const ssize_t n = ::recv(fd, d.data(), d.size(), MSG_DONTWAIT);
  if (n < 0) return std::nullopt;
  d.resize(static_cast<std::size_t>(n));
  return d;
}

}  // namespace m2msec::tls::detail
