// m2msec/core/error.h: the project's single error type.
//
// Every fallible function returns Result<T> (std::expected<T, Error>). No
// layer mixes exceptions with error codes: exceptions thrown by third-party
// libraries are caught at the module boundary and turned into an Error.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace m2msec {

// Errc lists every failure the library can report. Each value has a fixed,
// human-readable message (error_message). Append only; values are stable.
enum class Errc : std::uint16_t {
  invalid_hex = 1,          // not an even-length string of hex digits
  invalid_base64,           // not canonical RFC 4648 base64 with padding
  invalid_utf8,             // input is not well-formed UTF-8
  invalid_fqdn,             // FQDN syntax (RFC 1123) violated, or a wildcard
  invalid_identifier,       // a key or credential identifier is malformed
  invalid_length,           // a key or buffer has the wrong size
  invalid_argument,         // a parameter is out of its allowed range
  io_error,                 // a file could not be read or written
  insecure_permissions,     // a secret file is readable by group or others
  store_error,              // the database reported an error (I/O, corruption, busy)
  not_found,                // no record has the requested key
  already_exists,           // a record with the same key already exists
  decrypt_failed,           // a stored secret failed authentication (wrong row or tampered)
  schema_too_new,           // the database schema is newer than this code
  wrong_kek,                // the key-encryption key does not match the database
  key_expired,              // the record exists but its expiry time has passed
  import_rejected,          // a bulk import was rolled back; see the per-row errors
  tls_handshake_failed,     // the (D)TLS handshake failed (alert, protocol or cipher mismatch)
  unknown_psk_identity,     // the peer's PSK identity is not known (alert unknown_psk_identity)
  certificate_rejected,     // a certificate failed path validation or the TS-0003 profile
  peer_name_mismatch,       // the peer's certificate does not carry the expected name
  invalid_credentials,      // a certificate, key or trust anchor could not be loaded or used
  connect_failed,           // the transport connection could not be established
  timeout,                  // an operation did not complete before its deadline
  connection_closed,        // the peer closed the connection or it was reset
  malformed_message,        // a protocol message (HTTP, JSON, primitive) is malformed
  request_refused,          // the peer answered a request with an error status
  authentication_failed,    // a MAC, a digest response or an AUTS did not verify
};

// error_message returns the fixed message for |code|; never empty.
std::string_view error_message(Errc code);

// error_name returns the enumerator's name, e.g. "invalid_hex".
std::string_view error_name(Errc code);

// Error is a code plus optional non-secret detail (a file name, a field
// name, a byte offset). Detail must never carry key material.
class Error {
 public:
  explicit Error(Errc code, std::string detail = {}) : code_(code), detail_(std::move(detail)) {}

  Errc code() const { return code_; }
  const std::string& detail() const { return detail_; }

  // message returns "<fixed message>" or "<fixed message>: <detail>".
  std::string message() const;

 private:
  Errc code_;
  std::string detail_;
};

template <typename T>
using Result = std::expected<T, Error>;

using Status = std::expected<void, Error>;

// fail builds the unexpected value for a Result<T>.
inline std::unexpected<Error> fail(Errc code, std::string detail = {}) {
  return std::unexpected(Error(code, std::move(detail)));
}

}  // namespace m2msec
