// handler_store.h: a real SQLite store for the handler fuzzers, seeded with
// a few rows so that lookups can succeed as well as fail.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "handler_harness.h"
#include "m2msec/store/sqlite_store.h"

namespace m2msec::fuzz {

inline std::unique_ptr<store::Store> open_fuzz_store(const char* role) {
  store::SqliteStoreOptions o;
  o.path = fuzz_dir(role) + "/" + role + ".db";
  o.write.max_wait = std::chrono::microseconds(0);
  auto kek = store::Kek::from_bytes(SecretBytes(std::vector<std::uint8_t>(store::kKekSize, 0x42)));
  FUZZ_CHECK(kek.has_value());
  auto s = store::open_sqlite_store(o, std::move(*kek));
  FUZZ_CHECK(s.has_value());
  return std::move(*s);
}

inline SecretBytes fill(std::uint8_t b) { return SecretBytes(std::vector<std::uint8_t>(32, b)); }

}  // namespace m2msec::fuzz
