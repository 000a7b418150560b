// MILENAGE (TS 35.206) against the TS 35.208 conformance sets
// (tests/vectors/milenage-ts35208.tsv, see tests/vectors/README.md), and
// against Debian's osmo-auc-gen (libosmocore-utils), an independent
// implementation, run on the same inputs here.
#include "m2msec/crypto/milenage.h"

#include <gtest/gtest.h>
#include <stdio.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "m2msec/core/encoding.h"

namespace m2msec::crypto {
namespace {

using Row = std::map<std::string, std::string>;

std::vector<Row> conformance_sets() {
  std::ifstream in(M2MSEC_SOURCE_DIR "/tests/vectors/milenage-ts35208.tsv");
  std::vector<std::string> header;
  std::vector<Row> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, '\t');) cells.push_back(cell);
    if (header.empty()) {
      header = cells;
      continue;
    }
    Row r;
    for (std::size_t i = 0; i < header.size() && i < cells.size(); ++i) r[header[i]] = cells[i];
    rows.push_back(r);
  }
  return rows;
}

std::vector<std::uint8_t> bytes(const std::string& hex) { return *hex_decode(hex); }

template <typename C>
std::string hex(const C& c) {
  return hex_encode(std::span<const std::uint8_t>(c.data(), c.size()));
}

MilenageOutput run(const Row& r) {
  auto opc = milenage_opc(bytes(r.at("K")), bytes(r.at("OP")));
  EXPECT_TRUE(opc);
  auto out = milenage(bytes(r.at("K")), opc->view(), bytes(r.at("RAND")), bytes(r.at("SQN")), bytes(r.at("AMF")));
  EXPECT_TRUE(out) << (out ? "" : out.error().message());
  return std::move(*out);
}

std::string autn_of(const Row& r, const MilenageOutput& o) {
  const auto sqn = bytes(r.at("SQN"));
  const auto amf = bytes(r.at("AMF"));
  return hex(milenage_autn(o, std::span<const std::uint8_t, kSqnSize>(sqn.data(), kSqnSize),
                           std::span<const std::uint8_t, kAmfSize>(amf.data(), kAmfSize)));
}

TEST(Milenage, Ts35208ConformanceSets) {
  const std::vector<Row> sets = conformance_sets();
  ASSERT_EQ(sets.size(), 20u);
  for (const Row& r : sets) {
    SCOPED_TRACE("test set " + r.at("set"));
    auto opc = milenage_opc(bytes(r.at("K")), bytes(r.at("OP")));
    ASSERT_TRUE(opc);
    EXPECT_EQ(hex_encode(opc->view()), r.at("OPc"));
    const MilenageOutput o = run(r);
    EXPECT_EQ(hex(o.mac_a), r.at("f1_MAC_A"));
    EXPECT_EQ(hex(o.mac_s), r.at("f1star_MAC_S"));
    EXPECT_EQ(hex(o.res), r.at("f2_RES"));
    EXPECT_EQ(hex_encode(o.ck.view()), r.at("f3_CK"));
    EXPECT_EQ(hex_encode(o.ik.view()), r.at("f4_IK"));
    EXPECT_EQ(hex(o.ak), r.at("f5_AK"));
    EXPECT_EQ(hex(o.ak_s), r.at("f5star_AK_S"));
  }
}

TEST(Milenage, RefusesWrongLengths) {
  const std::vector<std::uint8_t> k16(16, 1), k15(15, 1), sqn(6, 0), amf(2, 0), bad_sqn(5, 0), bad_amf(3, 0);
  EXPECT_EQ(milenage_opc(k15, k16).error().code(), Errc::invalid_length);
  EXPECT_EQ(milenage_opc(k16, k15).error().code(), Errc::invalid_length);
  EXPECT_EQ(milenage(k15, k16, k16, sqn, amf).error().code(), Errc::invalid_length);
  EXPECT_EQ(milenage(k16, k15, k16, sqn, amf).error().code(), Errc::invalid_length);
  EXPECT_EQ(milenage(k16, k16, k15, sqn, amf).error().code(), Errc::invalid_length);
  EXPECT_EQ(milenage(k16, k16, k16, bad_sqn, amf).error().code(), Errc::invalid_length);
  EXPECT_EQ(milenage(k16, k16, k16, sqn, bad_amf).error().code(), Errc::invalid_length);
  EXPECT_TRUE(milenage(k16, k16, k16, sqn, amf));
}

// osmo_auc_gen runs "osmo-auc-gen -3 -a milenage" and returns its
// "NAME:\tvalue" lines. The inputs are test data, not secrets of anyone.
std::map<std::string, std::string> osmo_auc_gen(const Row& r) {
  const std::string cmd = "osmo-auc-gen -3 -a milenage -k " + r.at("K") + " -O " + r.at("OP") + " -r " +
                          r.at("RAND") + " -s " + std::to_string(std::stoull(r.at("SQN"), nullptr, 16)) + " -f " +
                          r.at("AMF") + " 2>/dev/null";
  std::map<std::string, std::string> out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) {
    std::string line(buf);
    const auto tab = line.find(":\t");
    if (tab == std::string::npos) continue;
    std::string value = line.substr(tab + 2);
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    out[line.substr(0, tab)] = value;
  }
  out["exit"] = std::to_string(::pclose(p));
  return out;
}

// The independent oracle: osmo-auc-gen (installed by scripts/install-deps.sh)
// computes AUTN, RES, CK and IK for the same inputs.
TEST(Milenage, AgreesWithOsmoAucGen) {
  for (const Row& r : conformance_sets()) {
    SCOPED_TRACE("test set " + r.at("set"));
    const auto theirs = osmo_auc_gen(r);
    ASSERT_EQ(theirs.count("AUTN"), 1u) << "osmo-auc-gen gave no AUTN (is libosmocore-utils installed?)";
    const MilenageOutput o = run(r);
    EXPECT_EQ(theirs.at("RAND"), r.at("RAND"));
    EXPECT_EQ(theirs.at("AUTN"), autn_of(r, o));
    EXPECT_EQ(theirs.at("RES"), hex(o.res));
    EXPECT_EQ(theirs.at("CK"), hex_encode(o.ck.view()));
    EXPECT_EQ(theirs.at("IK"), hex_encode(o.ik.view()));
  }
}

// The USIM side: an AUTN made by osmo-auc-gen verifies here and gives
// back the SQN it was made with; a changed MAC does not.
TEST(Milenage, VerifiesOsmoAucGenAutn) {
  for (const Row& r : conformance_sets()) {
    SCOPED_TRACE("test set " + r.at("set"));
    const auto theirs = osmo_auc_gen(r);
    ASSERT_EQ(theirs.count("AUTN"), 1u);
    auto opc = milenage_opc(bytes(r.at("K")), bytes(r.at("OP")));
    std::vector<std::uint8_t> autn = bytes(theirs.at("AUTN"));
    auto c = milenage_verify_autn(bytes(r.at("K")), opc->view(), bytes(r.at("RAND")), autn);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(hex(c->sqn), r.at("SQN"));
    EXPECT_EQ(hex(c->out.res), theirs.at("RES"));
    // A changed MAC, and a changed SQN xor AK (the recovered SQN then
    // differs from the one the MAC covers), are both refused.
    for (std::size_t at : {std::size_t{15}, std::size_t{0}}) {
      std::vector<std::uint8_t> forged = autn;
      forged[at] ^= 0x01;
      auto bad = milenage_verify_autn(bytes(r.at("K")), opc->view(), bytes(r.at("RAND")), forged);
      ASSERT_FALSE(bad) << "byte " << at;
      EXPECT_EQ(bad.error().code(), Errc::authentication_failed);
    }
  }
}

// run_osmo runs |args| after "osmo-auc-gen -3 -a milenage" and returns its
// whole output and exit status.
std::pair<std::string, int> run_osmo(const std::string& args) {
  const std::string cmd = "osmo-auc-gen -3 -a milenage " + args + " 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return {out, -1};
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  return {out, ::pclose(p)};
}

// Resynchronisation (TS 33.102 6.3.5): an AUTS made here is accepted by
// osmo-auc-gen ("-A AUTS"), which prints the SQN_MS it recovered
// ("SQN.MS:"); an AUTS with a changed MAC-S is refused by both.
TEST(Milenage, AutsAgreesWithOsmoAucGen) {
  for (const Row& r : conformance_sets()) {
    SCOPED_TRACE("test set " + r.at("set"));
    const std::vector<std::uint8_t> k = bytes(r.at("K")), rand = bytes(r.at("RAND"));
    auto opc = milenage_opc(k, bytes(r.at("OP")));
    const std::uint64_t sqn_ms = std::stoull(r.at("SQN"), nullptr, 16) + 1000;
    auto auts = milenage_auts(k, opc->view(), rand, sqn_from_u64(sqn_ms));
    ASSERT_TRUE(auts);
    auto back = milenage_verify_auts(k, opc->view(), rand, *auts);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(sqn_to_u64(*back), sqn_ms);

    const std::string common = "-k " + r.at("K") + " -O " + r.at("OP") + " -r " + r.at("RAND") + " -A ";
    auto [out, status] = run_osmo(common + hex(*auts));
    EXPECT_EQ(status, 0) << out;
    EXPECT_NE(out.find("SQN.MS:\t" + std::to_string(sqn_ms) + "\n"), std::string::npos) << out;

    // SQN_MS xor AK* changed: the MAC-S no longer covers the SQN recovered.
    std::array<std::uint8_t, kAutsSize> shifted = *auts;
    shifted[0] ^= 0x01;
    auto wrong_sqn = milenage_verify_auts(k, opc->view(), rand, shifted);
    ASSERT_FALSE(wrong_sqn);
    EXPECT_EQ(wrong_sqn.error().code(), Errc::authentication_failed);
    std::array<std::uint8_t, kAutsSize> forged = *auts;
    forged[13] ^= 0x80;
    auto refused = milenage_verify_auts(k, opc->view(), rand, forged);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Errc::authentication_failed);
    auto [bad_out, bad_status] = run_osmo(common + hex(forged));
    EXPECT_NE(bad_status, 0) << bad_out;
    EXPECT_NE(bad_out.find("AUTS from MS seems incorrect"), std::string::npos) << bad_out;
  }
}

TEST(Milenage, SqnConversions) {
  EXPECT_EQ(sqn_to_u64(sqn_from_u64(0x0000ff9bb4d0b607ull)), 0xff9bb4d0b607ull);
  EXPECT_EQ(hex(sqn_from_u64(0x010203040506ull)), "010203040506");
  EXPECT_EQ(milenage_verify_auts(std::vector<std::uint8_t>(16), std::vector<std::uint8_t>(16),
                                 std::vector<std::uint8_t>(16), std::vector<std::uint8_t>(13))
                .error()
                .code(),
            Errc::invalid_length);
  EXPECT_EQ(milenage_verify_autn(std::vector<std::uint8_t>(16), std::vector<std::uint8_t>(16),
                                 std::vector<std::uint8_t>(16), std::vector<std::uint8_t>(15))
                .error()
                .code(),
            Errc::invalid_length);
}

}  // namespace
}  // namespace m2msec::crypto
