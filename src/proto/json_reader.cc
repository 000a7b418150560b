#include "m2msec/proto/json_reader.h"

#include <limits>

#include "m2msec/core/encoding.h"
#include "m2msec/proto/primitive.h"

namespace m2msec::proto {

using json = nlohmann::json;

JsonReader::JsonReader(const json& j, const char* wrapper) : wrapper_(wrapper) {
  if (!j.is_object()) {
    err_ = "body must be a JSON object with " + std::string(wrapper);
    return;
  }
  auto it = j.find(wrapper);
  if (it == j.end() || !it->is_object()) {
    err_ = "missing object " + std::string(wrapper);
    return;
  }
  obj_ = &*it;
}

void JsonReader::bad(const char* key, const std::string& why) {
  if (err_.empty()) err_ = std::string(wrapper_) + "." + key + " " + why;
}

const json* JsonReader::field(const char* key, bool required) {
  if (obj_ == nullptr) return nullptr;
  auto it = obj_->find(key);
  if (it == obj_->end() || it->is_null()) {
    if (required) bad(key, "is missing");
    return nullptr;
  }
  return &*it;
}

bool JsonReader::has(const char* key) const {
  if (obj_ == nullptr) return false;
  auto it = obj_->find(key);
  return it != obj_->end() && !it->is_null();
}

std::string JsonReader::str(const char* key, bool required, std::size_t max_length) {
  const json* v = field(key, required);
  if (v == nullptr) return {};
  if (!v->is_string()) return bad(key, "is not a string"), std::string();
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > max_length) return bad(key, "is longer than " + std::to_string(max_length) + " bytes"), std::string();
  return s;
}

bool JsonReader::boolean(const char* key, bool dflt) {
  const json* v = field(key, false);
  if (v == nullptr) return dflt;
  if (!v->is_boolean()) return bad(key, "is not a boolean"), dflt;
  return v->get<bool>();
}

std::optional<std::int64_t> JsonReader::in_range(const char* key, const json& v, std::int64_t min, std::int64_t max,
                                                 const char* what) {
  const std::string range = " out of range " + std::to_string(min) + ".." + std::to_string(max);
  if (!v.is_number_integer()) return bad(key, std::string(what) + " not an integer"), std::nullopt;
  // An unsigned value above INT64_MAX is out of every range we accept.
  if (v.is_number_unsigned() &&
      v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return bad(key, what + range), std::nullopt;
  }
  const auto n = v.get<std::int64_t>();
  if (n < min || n > max) return bad(key, what + range), std::nullopt;
  return n;
}

std::int64_t JsonReader::integer(const char* key, std::int64_t dflt, std::int64_t min, std::int64_t max,
                                 bool required) {
  const json* v = field(key, required);
  if (v == nullptr) return dflt;
  return in_range(key, *v, min, max, "is").value_or(dflt);
}

std::int64_t JsonReader::time(const char* key, bool required) {
  const std::string s = str(key, required, 32);
  if (s.empty()) return 0;
  auto t = parse_time(s);
  if (!t) return bad(key, "is not a YYYYMMDDTHHMMSS time"), 0;
  return *t;
}

SecretBytes JsonReader::key(const char* key_name) {
  const std::string s = str(key_name, true, 64);
  if (!ok()) return {};
  auto raw = base64_decode(s);
  if (!raw) return bad(key_name, "is not base64"), SecretBytes();
  SecretBytes out(*raw);
  secure_wipe(raw->data(), raw->size());
  if (out.size() != 32) return bad(key_name, "is not 32 bytes"), SecretBytes();
  return out;
}

const json* JsonReader::array(const char* key, bool required, std::size_t max_items, std::size_t min_items) {
  const json* v = field(key, required);
  if (v == nullptr) return nullptr;
  if (!v->is_array()) return bad(key, "is not an array"), nullptr;
  if (v->size() > max_items) return bad(key, "has more than " + std::to_string(max_items) + " elements"), nullptr;
  if (v->size() < min_items) return bad(key, "has fewer than " + std::to_string(min_items) + " elements"), nullptr;
  return v;
}

std::vector<std::string> JsonReader::strings(const char* key, bool required, std::size_t max_items) {
  std::vector<std::string> out;
  const json* v = array(key, required, max_items);
  if (v == nullptr) return out;
  for (const json& e : *v) {
    if (!e.is_string()) return bad(key, "has a non-string element"), std::vector<std::string>();
    if (e.get_ref<const std::string&>().size() > kMaxFieldLength) {
      return bad(key, "has an element longer than " + std::to_string(kMaxFieldLength) + " bytes"),
             std::vector<std::string>();
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::vector<std::int64_t> JsonReader::integers(const char* key, std::int64_t min, std::int64_t max, bool required,
                                               std::size_t max_items) {
  std::vector<std::int64_t> out;
  const json* v = array(key, required, max_items);
  if (v == nullptr) return out;
  for (const json& e : *v) {
    auto n = in_range(key, e, min, max, "has an element");
    if (!n) return {};
    out.push_back(*n);
  }
  return out;
}

}  // namespace m2msec::proto
