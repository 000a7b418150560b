// m2msec/proto/json_reader.h: the typed reader every request body goes
// through.
//
// nlohmann::json's value() and get<T>() throw on a wrong type and narrow
// integers silently ("suid": 4294967306 read as int is 10). JsonReader
// checks type, range and length of each field, never throws, and remembers
// the first failure so that a from_json reads straight through and reports
// it once, naming the field ("sec:mkr.suid out of range 0..65535").
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/core/secret.h"

namespace m2msec::proto {

// kMaxFieldLength is the default bound on a string field, in bytes.
inline constexpr std::size_t kMaxFieldLength = 1024;

class JsonReader {
 public:
  // JsonReader reads the object under |wrapper| in |j| ({"sec:enr": {...}});
  // a missing wrapper or a non-object is the first failure.
  JsonReader(const nlohmann::json& j, const char* wrapper);

  // str reads a string of at most |max_length| bytes; "" if absent and not
  // |required|.
  std::string str(const char* key, bool required = true, std::size_t max_length = kMaxFieldLength);
  // boolean reads true/false; |dflt| if absent.
  bool boolean(const char* key, bool dflt);
  // integer reads an integer in [min, max], range-checked as 64-bit before
  // any narrowing; |dflt| if absent and not |required|.
  std::int64_t integer(const char* key, std::int64_t dflt, std::int64_t min, std::int64_t max,
                       bool required = false);
  // time reads a oneM2M "YYYYMMDDTHHMMSS" string as unix seconds; 0 if absent.
  std::int64_t time(const char* key, bool required = true);
  // key reads a base64 32-byte key; the decoded copy is wiped.
  SecretBytes key(const char* key_name);
  // strings reads an array of at most |max_items| strings.
  std::vector<std::string> strings(const char* key, bool required, std::size_t max_items = 64);
  // integers reads an array of at most |max_items| integers, each in
  // [min, max] as integer() checks one.
  std::vector<std::int64_t> integers(const char* key, std::int64_t min, std::int64_t max, bool required,
                                     std::size_t max_items = 64);
  // array returns the field if it is an array of |min_items| to
  // |max_items| elements (nullptr otherwise, a failure unless absent and
  // not |required|); its elements are the caller's to check.
  const nlohmann::json* array(const char* key, bool required, std::size_t max_items, std::size_t min_items = 0);
  // raw returns the field or nullptr if absent (no type check).
  const nlohmann::json* raw(const char* key) { return field(key, false); }
  // has is true if the field is present and not null.
  bool has(const char* key) const;

  bool ok() const { return err_.empty(); }
  // error is Errc::malformed_message with the first failure's text.
  Error error() const { return Error(Errc::malformed_message, err_); }
  // bad records a failure for |key| unless one is recorded already.
  void bad(const char* key, const std::string& why);

 private:
  const nlohmann::json* field(const char* key, bool required);
  // in_range is |v| if it is an integer in [min, max]; else it records
  // |what| for |key| and returns nullopt.
  std::optional<std::int64_t> in_range(const char* key, const nlohmann::json& v, std::int64_t min, std::int64_t max,
                                       const char* what);
  const char* wrapper_;
  const nlohmann::json* obj_ = nullptr;
  std::string err_;
};

}  // namespace m2msec::proto
