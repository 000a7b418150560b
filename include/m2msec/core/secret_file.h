// m2msec/core/secret_file.h: reading and writing files that hold secrets.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "m2msec/core/error.h"
#include "m2msec/core/secret.h"

namespace m2msec {

// kMaxSecretFileSize bounds what read_secret_file accepts (64 KiB).
inline constexpr std::size_t kMaxSecretFileSize = 64 * 1024;

// read_secret_file returns the contents of |path|, or of standard input if
// |path| is "-". A regular file must not be readable or writable by group
// or others (Errc::insecure_permissions); a missing or unreadable file, or
// one larger than |max_size| bytes, gives Errc::io_error. The error detail
// names the path, never the contents. Raise |max_size| only for bulk files
// (an enrolee import), not for key files.
Result<SecretString> read_secret_file(const std::string& path, std::size_t max_size = kMaxSecretFileSize);

// read_hex_key_file reads a secret file holding hex text (surrounding
// ASCII whitespace is ignored) and decodes it. If |want_size| is non-zero
// the key must have exactly that many bytes (Errc::invalid_length).
Result<SecretBytes> read_hex_key_file(const std::string& path, std::size_t want_size = 0);

// write_secret_file atomically replaces |path| with |contents| (a temporary
// file created with mode 0600, fsync, rename, fsync of the directory).
Status write_secret_file(const std::string& path, std::span<const std::uint8_t> contents);

// check_private_dir requires |path| to be a directory owned by the
// effective user with no group or other permission bits (mode 0700 or
// stricter), as a role's data directory (keys, KEK, database) must be. A
// looser mode gives Errc::insecure_permissions, another owner
// Errc::insecure_permissions as well; the detail names the path and the
// mode. A missing path or a non-directory gives Errc::io_error. Symbolic
// links are followed. Nothing is changed on disk.
Status check_private_dir(const std::string& path);

// make_private_dir creates |path| (and missing parents, with the process
// umask) if it does not exist, giving the last component mode 0700, then
// applies check_private_dir. An existing directory is never chmod-ed: a
// looser one is refused, so that an operator's mistake is reported rather
// than silently repaired.
Status make_private_dir(const std::string& path);

// trim_ascii_space removes leading and trailing ASCII whitespace.
std::string_view trim_ascii_space(std::string_view s);

}  // namespace m2msec
