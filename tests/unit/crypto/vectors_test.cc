// Known-answer tests against tests/vectors/derivations.json, which Python's
// hmac/hashlib/unicodedata/base64 produced (see tests/vectors/README.md).
#include <gtest/gtest.h>

#include <fstream>
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

TEST(Vectors, FileIsPresentAndNonTrivial) {
  ASSERT_GE(vectors()["km"].size(), 10u);
  ASSERT_GE(vectors()["split"].size(), 6u);
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

TEST(Vectors, AppKey) {
  for (const auto& v : vectors()["app_key"]) {
    auto out = derive_app_key(hex(v["km"]), text(v["id_hex"]));
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
