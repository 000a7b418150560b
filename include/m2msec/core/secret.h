// m2msec/core/secret.h: memory that holds key material.
//
// secure_vector<T> is a std::vector whose allocator wipes (OPENSSL_cleanse)
// every buffer before releasing it, including buffers abandoned on growth.
// SecretBytes owns one and adds the rules for keys: it can be moved but not
// copied (copies must be explicit via clone()), it has no stream or format
// operator, and equality is constant-time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace m2msec {

// secure_wipe overwrites |len| bytes at |ptr| in a way the compiler cannot
// elide. |ptr| may be null when |len| is zero.
void secure_wipe(void* ptr, std::size_t len);

// ct_equal compares two byte ranges in constant time with respect to their
// contents (the lengths are not secret). Returns false if the lengths differ.
bool ct_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

// WipingAllocator wipes every buffer before |Base| (stateless) releases
// it. Base is std::allocator except in tests, which observe the wipe.
template <typename T, typename Base = std::allocator<T>>
struct WipingAllocator {
  using value_type = T;
  template <typename U>
  struct rebind {
    using other = WipingAllocator<U, typename std::allocator_traits<Base>::template rebind_alloc<U>>;
  };
  WipingAllocator() noexcept = default;
  template <typename U, typename B>
  WipingAllocator(const WipingAllocator<U, B>&) noexcept {}

  T* allocate(std::size_t n) { return Base{}.allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept {
    secure_wipe(p, n * sizeof(T));
    Base{}.deallocate(p, n);
  }
  template <typename U, typename B>
  bool operator==(const WipingAllocator<U, B>&) const noexcept {
    return true;
  }
};

template <typename T>
using secure_vector = std::vector<T, WipingAllocator<T>>;

// SecretBytes is key material. Moved-from instances are empty.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size) : bytes_(size, 0) {}
  explicit SecretBytes(std::span<const std::uint8_t> bytes) : bytes_(bytes.begin(), bytes.end()) {}

  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) { other.bytes_.clear(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      bytes_ = std::move(other.bytes_);
      other.bytes_.clear();
    }
    return *this;
  }
  ~SecretBytes() = default;  // the allocator wipes

  // clone makes an explicit copy; the only way to duplicate a secret.
  SecretBytes clone() const { return SecretBytes(view()); }

  std::span<const std::uint8_t> view() const { return {bytes_.data(), bytes_.size()}; }
  std::span<std::uint8_t> mutable_view() { return {bytes_.data(), bytes_.size()}; }
  const std::uint8_t* data() const { return bytes_.data(); }
  std::uint8_t* data() { return bytes_.data(); }
  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }

  // operator== is constant-time in the contents.
  bool operator==(const SecretBytes& other) const { return ct_equal(view(), other.view()); }

 private:
  secure_vector<std::uint8_t> bytes_;
};

// SecretString holds text that is secret (a hex-encoded key read from a
// file, say) and wipes it on destruction. Move-only like SecretBytes.
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string_view s) : chars_(s.begin(), s.end()) {}
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  SecretString(SecretString&&) noexcept = default;
  SecretString& operator=(SecretString&&) noexcept = default;

  std::string_view view() const { return {chars_.data(), chars_.size()}; }
  void append(std::string_view s) { chars_.insert(chars_.end(), s.begin(), s.end()); }
  std::size_t size() const { return chars_.size(); }

 private:
  secure_vector<char> chars_;
};

}  // namespace m2msec
