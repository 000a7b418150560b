// Known-answer tests against tests/vectors/derivations.json, which Python's
// hmac/hashlib/unicodedata/base64 produced (see tests/vectors/README.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "m2msec/core/encoding.h"
#include "m2msec/crypto/derive.h"
#include "m2msec/crypto/hmac.h"
#include "m2msec/crypto/nfkc.h"

namespace m2msec::crypto {
namespace {

const nlohmann::json& vectors() {
  static const nlohmann::json j = [] {
    std::ifstream in(M2MSEC_SOURCE_DIR "/tests/vectors/derivations.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

std::vector<std::uint8_t> hex(const nlohmann::json& v) { return *hex_decode(v.get<std::string>()); }
std::string text(const nlohmann::json& v) {
  auto b = hex(v);
  return {b.begin(), b.end()};
}

// Every known-answer test below iterates an array: an array that went
// missing or empty would make its test pass vacuously. Each one must be
// present with enough entries, each entry must carry the fields its test
// reads (with an expected output that is not empty), and the file must
// hold no array that no test reads.
TEST(Vectors, FileIsPresentAndNonTrivial) {
  struct Want {
    const char* name;
    std::size_t min_entries;
    std::vector<const char*> fields;  // the last one is an expected output
    bool empty_output_ok = false;     // NFKC of "" is ""
  };
  const Want want[] = {
      {"nfkc", 10, {"input_hex", "nfkc_hex"}, true},
      {"km", 10, {"ke", "id_hex", "out"}},
      {"kpsa", 10, {"ke", "id_hex", "out"}},
      {"usage_constrained", 4, {"ke", "suid", "id_hex", "out"}},
      {"e2e", 4, {"kpsa", "id_hex", "master", "msg_auth", "msg_conf", "att_auth", "att_conf"}},
      {"split", 6, {"exported", "fqdn", "id_base64", "id_hex", "key"}},
  };
  const nlohmann::json& all = vectors();
  ASSERT_TRUE(all.is_object());
  std::size_t arrays = 0;
  for (const auto& [name, value] : all.items()) {
    if (!value.is_array()) continue;
    ++arrays;
    const bool known = std::any_of(std::begin(want), std::end(want), [&](const Want& w) { return name == w.name; });
    EXPECT_TRUE(known) << "array " << name << " is read by no test";
  }
  EXPECT_EQ(arrays, std::size(want));
  for (const Want& w : want) {
    SCOPED_TRACE(w.name);
    ASSERT_TRUE(all.contains(w.name));
    const nlohmann::json& a = all[w.name];
    ASSERT_TRUE(a.is_array());
    EXPECT_GE(a.size(), w.min_entries);
    for (const auto& v : a) {
      ASSERT_TRUE(v.is_object()) << v.dump();
      for (const char* f : w.fields) ASSERT_TRUE(v.contains(f)) << f << " in " << v.dump();
      const nlohmann::json& out = v[w.fields.back()];
      ASSERT_TRUE(out.is_string()) << v.dump();
      if (!w.empty_output_ok) {
        EXPECT_FALSE(out.get<std::string>().empty()) << v.dump();
      }
    }
  }
}

TEST(Vectors, Nfkc) {
  for (const auto& v : vectors()["nfkc"]) {
    auto out = nfkc(text(v["input_hex"]));
    ASSERT_TRUE(out) << v["name"];
    EXPECT_EQ(hex_encode(as_bytes(*out)), v["nfkc_hex"].get<std::string>()) << v["name"];
  }
}

// Clause 10.3.2.
TEST(Vectors, Km) {
  for (const auto& v : vectors()["km"]) {
    auto out = derive_km(hex(v["ke"]), text(v["id_hex"]));
    ASSERT_TRUE(out) << v["name"];
    EXPECT_EQ(hex_encode(out->view()), v["out"].get<std::string>()) << v["name"];
  }
}

// Clause 10.3.3.
TEST(Vectors, Kpsa) {
  for (const auto& v : vectors()["kpsa"]) {
    auto out = derive_kpsa(hex(v["ke"]), text(v["id_hex"]));
    ASSERT_TRUE(out) << v["name"];
    EXPECT_EQ(hex_encode(out->view()), v["out"].get<std::string>()) << v["name"];
  }
}

// Clause 10.3.7.
TEST(Vectors, UsageConstrained) {
  for (const auto& v : vectors()["usage_constrained"]) {
    auto out = derive_usage_constrained(hex(v["ke"]), v["suid"].get<unsigned>(), text(v["id_hex"]));
    ASSERT_TRUE(out);
    EXPECT_EQ(hex_encode(out->view()), v["out"].get<std::string>()) << v["suid"];
  }
}

// Clause 10.3.6.
TEST(Vectors, EndToEnd) {
  for (const auto& v : vectors()["e2e"]) {
    auto master = derive_e2e_master(hex(v["kpsa"]), text(v["id_hex"]));
    ASSERT_TRUE(master) << v["name"];
    EXPECT_EQ(hex_encode(master->view()), v["master"].get<std::string>());
    auto keys = expand_e2e(master->view());
    ASSERT_TRUE(keys);
    EXPECT_EQ(hex_encode(keys->msg_auth.view()), v["msg_auth"].get<std::string>());
    EXPECT_EQ(hex_encode(keys->msg_conf.view()), v["msg_conf"].get<std::string>());
    EXPECT_EQ(hex_encode(keys->att_auth.view()), v["att_auth"].get<std::string>());
    EXPECT_EQ(hex_encode(keys->att_conf.view()), v["att_conf"].get<std::string>());
  }
}

// Clauses 10.3.1, 10.3.4 and 10.3.5.
TEST(Vectors, SplitAndKeyIds) {
  for (const auto& v : vectors()["split"]) {
    auto parts = split_exported(hex(v["exported"]));
    ASSERT_TRUE(parts);
    EXPECT_EQ(hex_encode(parts->key.view()), v["key"].get<std::string>());
    auto fqdn = Fqdn::parse(v["fqdn"].get<std::string>());
    ASSERT_TRUE(fqdn);
    EXPECT_EQ(KeyId::from_relative(KeyIdKind::ke, parts->relative_id, *fqdn)->str(),
              v["id_base64"].get<std::string>());
    EXPECT_EQ(KeyId::from_relative(KeyIdKind::kc, parts->relative_id, *fqdn, IdEncoding::hex)->str(),
              v["id_hex"].get<std::string>());
    EXPECT_TRUE(KeyId::parse(KeyIdKind::kc, v["id_base64"].get<std::string>()));
    EXPECT_TRUE(KeyId::parse(KeyIdKind::kc, v["id_hex"].get<std::string>(), IdEncoding::hex));
  }
}

}  // namespace
}  // namespace m2msec::crypto
