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
      return "accessible by group or others (want mode 0600 for a secret file, 0700 for a data directory)";
    case Errc::store_error:
      return "storage error";
    case Errc::not_found:
      return "not found";
    case Errc::already_exists:
      return "already exists";
    case Errc::decrypt_failed:
      return "stored secret failed to decrypt (tampered or moved between rows)";
    case Errc::schema_too_new:
      return "database schema is newer than this program supports";
    case Errc::wrong_kek:
      return "key-encryption key does not match this database";
    case Errc::key_expired:
      return "key or record has expired";
    case Errc::import_rejected:
      return "bulk import rejected; nothing was imported";
    case Errc::tls_handshake_failed:
      return "TLS handshake failed";
    case Errc::unknown_psk_identity:
      return "unknown PSK identity";
    case Errc::certificate_rejected:
      return "peer certificate rejected";
    case Errc::peer_name_mismatch:
      return "peer certificate does not match the expected name";
    case Errc::invalid_credentials:
      return "invalid certificate, key or trust anchor";
    case Errc::connect_failed:
      return "could not connect";
    case Errc::timeout:
      return "timed out";
    case Errc::connection_closed:
      return "connection closed";
    case Errc::malformed_message:
      return "malformed message";
    case Errc::request_refused:
      return "request refused by peer";
    case Errc::authentication_failed:
      return "authentication failed";
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
    case Errc::store_error:
      return "store_error";
    case Errc::not_found:
      return "not_found";
    case Errc::already_exists:
      return "already_exists";
    case Errc::decrypt_failed:
      return "decrypt_failed";
    case Errc::schema_too_new:
      return "schema_too_new";
    case Errc::wrong_kek:
      return "wrong_kek";
    case Errc::key_expired:
      return "key_expired";
    case Errc::import_rejected:
      return "import_rejected";
    case Errc::tls_handshake_failed:
      return "tls_handshake_failed";
    case Errc::unknown_psk_identity:
      return "unknown_psk_identity";
    case Errc::certificate_rejected:
      return "certificate_rejected";
    case Errc::peer_name_mismatch:
      return "peer_name_mismatch";
    case Errc::invalid_credentials:
      return "invalid_credentials";
    case Errc::connect_failed:
      return "connect_failed";
    case Errc::timeout:
      return "timeout";
    case Errc::connection_closed:
      return "connection_closed";
    case Errc::malformed_message:
      return "malformed_message";
    case Errc::request_refused:
      return "request_refused";
    case Errc::authentication_failed:
      return "authentication_failed";
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
