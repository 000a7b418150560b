#include <pthread.h>
#include <time.h>

#include "internal.h"

namespace m2msec::tls::detail {
namespace {

sigset_t sigpipe_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  return set;
}

}  // namespace

SigpipeGuard::SigpipeGuard() {
  const sigset_t set = sigpipe_set();
  sigset_t pending;
  sigemptyset(&pending);
  pthread_sigmask(SIG_BLOCK, &set, &old_);
  sigpending(&pending);
  was_pending_ = sigismember(&pending, SIGPIPE) == 1;
}

SigpipeGuard::~SigpipeGuard() {
  if (!was_pending_) {
    const sigset_t set = sigpipe_set();
    const timespec zero{0, 0};
    while (sigtimedwait(&set, nullptr, &zero) == SIGPIPE) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

void block_sigpipe_forever() {
  const sigset_t set = sigpipe_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

}  // namespace m2msec::tls::detail
