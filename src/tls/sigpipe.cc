// SIGPIPE: a peer that closed first must not kill the process when we
// write to its socket. The server's threads block SIGPIPE for good; the
// blocking client, which runs on the application's threads, writes with
// send(MSG_NOSIGNAL) instead, through its own socket BIO.
#include <pthread.h>
#include <sys/socket.h>

#include <openssl/bio.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "internal.h"

namespace m2msec::tls::detail {
namespace {

int fd_of(BIO* b) { return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b))); }

bool retryable(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

int nosignal_write(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  if (len <= 0) return 0;
  const ssize_t n = ::send(fd_of(b), data, static_cast<std::size_t>(len), MSG_NOSIGNAL);
  if (n >= 0) return static_cast<int>(n);
  if (retryable(errno)) BIO_set_retry_write(b);
  return -1;
}

int nosignal_read(BIO* b, char* out, int len) {
  BIO_clear_retry_flags(b);
  if (len <= 0) return 0;
  const ssize_t n = ::recv(fd_of(b), out, static_cast<std::size_t>(len), 0);
  if (n > 0) return static_cast<int>(n);
  if (n == 0) {
    BIO_set_flags(b, BIO_FLAGS_IN_EOF);  // libssl tells EOF from an error by BIO_eof
    return 0;
  }
  if (retryable(errno)) BIO_set_retry_read(b);
  return -1;
}

int nosignal_puts(BIO* b, const char* s) { return nosignal_write(b, s, static_cast<int>(std::strlen(s))); }

long nosignal_ctrl(BIO* b, int cmd, long, void* ptr) {
  switch (cmd) {
    case BIO_C_GET_FD:
      if (ptr != nullptr) *static_cast<int*>(ptr) = fd_of(b);
      return fd_of(b);
    case BIO_CTRL_EOF:
      return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0 ? 1 : 0;
    case BIO_CTRL_FLUSH:
    case BIO_CTRL_DUP:
      return 1;
    case BIO_CTRL_GET_CLOSE:
      return BIO_NOCLOSE;  // the TlsClient closes its descriptor
    default:
      return 0;  // no pending bytes, no kTLS, no other controls
  }
}

int nosignal_create(BIO* b) {
  BIO_set_init(b, 0);
  BIO_set_data(b, nullptr);
  return 1;
}

const BIO_METHOD* nosignal_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "m2msec socket (MSG_NOSIGNAL)");
    if (m == nullptr || BIO_meth_set_write(m, nosignal_write) != 1 || BIO_meth_set_read(m, nosignal_read) != 1 ||
        BIO_meth_set_puts(m, nosignal_puts) != 1 || BIO_meth_set_ctrl(m, nosignal_ctrl) != 1 ||
        BIO_meth_set_create(m, nosignal_create) != 1) {
      BIO_meth_free(m);
      return static_cast<BIO_METHOD*>(nullptr);
    }
    return m;
  }();
  return method;
}

}  // namespace

BIO* new_nosignal_socket_bio(int fd) {
  const BIO_METHOD* method = nosignal_method();
  if (method == nullptr) return nullptr;
  BIO* b = BIO_new(method);
  if (b == nullptr) return nullptr;
  BIO_set_data(b, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
  BIO_set_init(b, 1);
  return b;
}

void block_sigpipe_forever() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

}  // namespace m2msec::tls::detail
