#include "m2msec/tls/ossl.h"

#include <openssl/err.h>

namespace m2msec::tls {

std::string ossl_error_string() {
  std::string out;
  char buf[256];
  while (const unsigned long code = ERR_get_error()) {
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

}  // namespace m2msec::tls
