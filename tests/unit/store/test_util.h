// test_util.h: temporary directories, KEKs and IDs for the store tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "m2msec/core/ids.h"
#include "m2msec/store/secret_box.h"
#include "m2msec/store/sqlite_conn.h"
#include "m2msec/store/sqlite_store.h"

namespace m2msec::store::testing {

// TempDir is a fresh directory under $TMPDIR, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "m2msec-store-XXXXXX").string();
    const char* made = ::mkdtemp(tmpl.data());
    if (made != nullptr) path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// test_kek returns a KEK whose bytes are all |fill|.
inline Kek test_kek(std::uint8_t fill = 0x42) {
  std::vector<std::uint8_t> bytes(kKekSize, fill);
  return std::move(*Kek::from_bytes(SecretBytes(bytes)));
}

inline SecretBytes secret_of(std::uint8_t fill, std::size_t n = 32) {
  return SecretBytes(std::vector<std::uint8_t>(n, fill));
}

inline std::unique_ptr<Store> open_store(const std::string& path, std::uint8_t kek_fill = 0x42,
                                         WriteQueueOptions write = {}) {
  SqliteStoreOptions opts;
  opts.path = path;
  opts.write = write;
  Result<std::unique_ptr<Store>> s = open_sqlite_store(opts, test_kek(kek_fill));
  EXPECT_TRUE(s) << s.error().message();
  return s ? std::move(*s) : nullptr;
}

// relative_key_id builds a canonical KeID or KcID from |n|.
inline std::string relative_key_id(KeyIdKind kind, std::uint32_t n, const char* fqdn) {
  RelativeId rel{};
  for (int i = 0; i < 4; ++i) rel[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  return KeyId::from_relative(kind, rel, *Fqdn::parse(fqdn))->canonical();
}
inline std::string ke_id(std::uint32_t n) { return relative_key_id(KeyIdKind::ke, n, "mef.example.com"); }
inline std::string kc_id(std::uint32_t n) { return relative_key_id(KeyIdKind::kc, n, "maf.example.com"); }

inline Enrolee psk_enrolee(const std::string& id, const std::string& kpm_id, std::uint8_t kpm_fill = 0x11) {
  Enrolee e;
  e.enrolee_id = id;
  e.auth_kind = AuthKind::psk;
  e.kpm_id = kpm_id;
  e.kpm = secret_of(kpm_fill);
  e.target_kind = TargetKind::maf;
  e.target = "maf.example.com";
  return e;
}

// kFactoryCa is the root of trust of cert_enrolee(): a CA certificate's
// fingerprint in the stored form (the value itself is arbitrary).
inline const std::string kFactoryCa = "sha256:" + std::string(64, 'f');

inline Enrolee cert_enrolee(const std::string& id, const std::string& subject) {
  Enrolee e;
  e.enrolee_id = id;
  e.auth_kind = AuthKind::cert;
  e.cert_subject = subject;
  e.cert_trust_anchor = kFactoryCa;
  e.target_kind = TargetKind::maf;
  e.target = "maf.example.com";
  return e;
}

// open_writer opens a raw writer connection (for setting up old schemas
// and corrupting rows behind the store's back).
inline SqliteConn open_writer(const std::string& path) {
  Result<SqliteConn> c = SqliteConn::open(path, SqliteMode::writer, 1000);
  EXPECT_TRUE(c) << c.error().message();
  return c ? std::move(*c) : SqliteConn();
}

}  // namespace m2msec::store::testing
