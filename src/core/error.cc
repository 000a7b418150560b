#include "m2msec/core/error.h"

namespace m2msec {

std::string_view error_message(Errc code) {
  switch (code) {
    case Errc::invalid_hex:
      return "invalid hex: expected an even number of hex digits";
    case Errc::invalid_base64:
      return "invalid base64: expected canonical RFC 4648 base64 with padding";
    case Errc::invalid_utf8:
      return "invalid UTF-8";
    case Errc::invalid_fqdn:
      return "invalid FQDN";
    case Errc::invalid_identifier:
      return "invalid identifier";
    case Errc::invalid_length:
      return "invalid length";
    case Errc::invalid_argument:
      return "invalid argument";
    case Errc::io_error:
      return "I/O error";
    case Errc::insecure_permissions:
      return "secret file is accessible by group or others (want mode 0600)";
    default:
      return "unknown error";
  }
}

std::string_view error_name(Errc code) {
  switch (code) {
    case Errc::invalid_hex:
      return "invalid_hex";
    case Errc::invalid_base64:
      return "invalid_base64";
    case Errc::invalid_utf8:
      return "invalid_utf8";
    case Errc::invalid_fqdn:
      return "invalid_fqdn";
    case Errc::invalid_identifier:
      return "invalid_identifier";
    case Errc::invalid_length:
      return "invalid_length";
    case Errc::invalid_argument:
      return "invalid_argument";
    case Errc::io_error:
      return "io_error";
    case Errc::insecure_permissions:
      return "insecure_permissions";
    default:
      return "unknown";
  }
}

std::string Error::message() const {
  std::string out(error_message(code_));
  if (!detail_.empty()) {
    out += ": ";
    out += detail_;
  }
  return out;
}

}  // namespace m2msec
