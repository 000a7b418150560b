#include "m2msec/core/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "m2msec/core/encoding.h"

namespace m2msec {
namespace {

// Fd closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

std::string errno_detail(const std::string& path) { return path + ": " + std::strerror(errno); }

Result<SecretString> read_all(int fd, const std::string& name, std::size_t max_size) {
  SecretString out;
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      secure_wipe(buf, sizeof buf);
      return fail(Errc::io_error, errno_detail(name));
    }
    if (n == 0) break;
    out.append(std::string_view(buf, static_cast<std::size_t>(n)));
    if (out.size() > max_size) {
      secure_wipe(buf, sizeof buf);
      return fail(Errc::io_error, name + ": larger than " + std::to_string(max_size / 1024) + " KiB");
    }
  }
  secure_wipe(buf, sizeof buf);
  return out;
}

}  // namespace

std::string_view trim_ascii_space(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  const std::size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  const std::size_t e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

Result<SecretString> read_secret_file(const std::string& path, std::size_t max_size) {
  if (path == "-") return read_all(STDIN_FILENO, "<stdin>", max_size);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return fail(Errc::io_error, errno_detail(path));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(Errc::io_error, errno_detail(path));
  if (S_ISREG(st.st_mode) && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return fail(Errc::insecure_permissions, path);
  }
  return read_all(fd.get(), path, max_size);
}

Result<SecretBytes> read_hex_key_file(const std::string& path, std::size_t want_size) {
  Result<SecretString> text = read_secret_file(path);
  if (!text) return std::unexpected(text.error());
  Result<SecretBytes> key = hex_decode_secret(trim_ascii_space(text->view()));
  if (!key) return fail(Errc::invalid_hex, (path == "-" ? std::string("<stdin>") : path) + ": " + key.error().message());
  if (key->empty()) return fail(Errc::invalid_length, path + ": empty key");
  if (want_size != 0 && key->size() != want_size) {
    return fail(Errc::invalid_length, path + ": key has " + std::to_string(key->size()) + " bytes, want " +
                                          std::to_string(want_size));
  }
  return key;
}

Status write_secret_file(const std::string& path, std::span<const std::uint8_t> contents) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) return fail(Errc::io_error, errno_detail(tmp));
  if (::fchmod(fd.get(), 0600) != 0) return fail(Errc::io_error, errno_detail(tmp));
  std::size_t off = 0;
  while (off < contents.size()) {
    const ssize_t n = ::write(fd.get(), contents.data() + off, contents.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::unlink(tmp.c_str());
      return fail(Errc::io_error, errno_detail(tmp));
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0 || ::close(fd.release()) != 0) {
    ::unlink(tmp.c_str());
    return fail(Errc::io_error, errno_detail(tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return fail(Errc::io_error, errno_detail(path));
  }
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0) ::fsync(dfd.get());
  return {};
}

Status check_private_dir(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail(Errc::io_error, errno_detail(path));
  if (!S_ISDIR(st.st_mode)) return fail(Errc::io_error, path + ": not a directory");
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return fail(Errc::insecure_permissions, path + " has mode " + mode + "; run chmod 700 " + path);
  }
  if (st.st_uid != ::geteuid()) {
    return fail(Errc::insecure_permissions, path + " is owned by uid " + std::to_string(st.st_uid) +
                                                ", not by this user (uid " + std::to_string(::geteuid()) + ")");
  }
  return {};
}

Status make_private_dir(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return fail(Errc::io_error, errno_detail(path));
    std::error_code ec;
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) return fail(Errc::io_error, parent.string() + ": " + ec.message());
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return fail(Errc::io_error, errno_detail(path));
    // mkdir applies the umask, which can only remove bits; a racing
    // creator (EEXIST) keeps its own mode and is judged below.
  }
  return check_private_dir(path);
}

}  // namespace m2msec
