// The device side's state directory (client/device_state.h): what save
// writes, what load accepts, and every refusal.
#include "m2msec/client/device_state.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "../store/test_util.h"
#include "m2msec/client/associate.h"

namespace m2msec::client {
namespace {

using store::testing::secret_of;
using store::testing::TempDir;

DeviceState sample() {
  DeviceState st;
  st.enrolee_id = "/dev-1";
  st.mef_fqdn = "mef.example.com";
  st.ke_id = "AAECAwQFBgcICQoLDA0ODw==@mef.example.com";
  st.expiry = 1900000000;
  st.target_kind = "maf";
  st.target = "maf.example.com";
  st.maf_address = "127.0.0.1:4000";
  st.key_id = st.ke_id;
  st.sp_domain = "sp.example.com";
  st.key_lifetime = 1900000000;
  return st;
}

unsigned mode_of(const std::string& path) {
  struct stat sb {};
  EXPECT_EQ(::stat(path.c_str(), &sb), 0) << path;
  return sb.st_mode & 0777;
}

void write_file(const std::string& path, const std::string& text, mode_t mode = 0600) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

TEST(DeviceState, RoundTripsWithPrivateModes) {
  TempDir dir;
  const std::string d = dir.file("dev");
  ASSERT_TRUE(save_device_state(d, sample(), secret_of(0x01), secret_of(0x02), SecretBytes()));
  EXPECT_EQ(mode_of(d), 0700u);
  EXPECT_EQ(mode_of(d + "/state.json"), 0600u);
  EXPECT_EQ(mode_of(d + "/ke.key"), 0600u);
  EXPECT_EQ(mode_of(d + "/km.key"), 0600u);
  EXPECT_FALSE(std::filesystem::exists(d + "/kpsa.key"));  // empty keys are not written
  auto st = load_device_state(d);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->enrolee_id, "/dev-1");
  EXPECT_EQ(st->ke_id, sample().ke_id);
  EXPECT_EQ(st->key_lifetime, 1900000000);
  auto km = load_device_key(d, "km");
  ASSERT_TRUE(km);
  EXPECT_TRUE(*km == secret_of(0x02));
}

// The state file holds no key, but it is read as carefully: a wrong type
// is a clean error, never an exception.
TEST(DeviceState, RefusesMalformedStateFiles) {
  TempDir dir;
  const std::string d = dir.file("dev");
  ASSERT_TRUE(save_device_state(d, sample(), secret_of(0x01), SecretBytes(), SecretBytes()));
  for (const char* text : {"not json", "[]", "{}", R"({"enrolee_id": 5})",
                           R"({"enrolee_id":"/d","mef_fqdn":"m","ke_id":"k","expiry":"soon","target_kind":"maf",
                               "target":"t","maf_address":"a","key_id":"k"})",
                           // Optional fields of the wrong type, or out of range, are refused too.
                           R"({"enrolee_id":"/d","mef_fqdn":"m","ke_id":"k","expiry":1,"target_kind":"maf",
                               "target":"t","maf_address":"a","key_id":"k","km_id":5})",
                           R"({"enrolee_id":"/d","mef_fqdn":"m","ke_id":"k","expiry":1,"target_kind":"maf",
                               "target":"t","maf_address":"a","key_id":"k","key_lifetime":18446744073709551615})"}) {
    write_file(d + "/state.json", text);
    auto st = load_device_state(d);
    ASSERT_FALSE(st) << text;
    EXPECT_EQ(st.error().code(), Errc::malformed_message) << text;
  }
}

TEST(DeviceState, RefusesKeysReadableByOthersOrOfTheWrongSize) {
  TempDir dir;
  const std::string d = dir.file("dev");
  ASSERT_TRUE(save_device_state(d, sample(), secret_of(0x01), secret_of(0x02), SecretBytes()));
  ::chmod((d + "/km.key").c_str(), 0644);
  auto loose = load_device_key(d, "km");
  ASSERT_FALSE(loose);
  EXPECT_EQ(loose.error().code(), Errc::insecure_permissions);
  write_file(d + "/km.key", std::string(62, 'a'));
  EXPECT_FALSE(load_device_key(d, "km"));
  EXPECT_FALSE(load_device_key(d, "kpsa"));  // absent
  EXPECT_FALSE(load_device_state(dir.file("nowhere")));
}

TEST(Framework, ParsesTheFourFrameworksOnly) {
  EXPECT_EQ(*parse_framework("maf"), Framework::maf);
  EXPECT_EQ(*parse_framework("kpsa"), Framework::kpsa);
  EXPECT_EQ(*parse_framework("cert"), Framework::cert);
  EXPECT_EQ(*parse_framework("gba"), Framework::gba);
  EXPECT_FALSE(parse_framework("GBA"));
  EXPECT_FALSE(parse_framework("psk"));
  EXPECT_FALSE(parse_framework(""));
  EXPECT_EQ(framework_name(Framework::maf), "maf");
  EXPECT_EQ(framework_name(Framework::gba), "gba");
}

// A GBA device's state keeps the IMPI, RAND and SQN_MS (m2msec enrol
// --gba); a state without them (every other framework) loads as before.
TEST(DeviceState, KeepsTheGbaFields) {
  TempDir dir;
  const std::string d = dir.file("gba");
  DeviceState st;
  st.enrolee_id = "/dev-g";
  st.ke_id = "8PHy8/T19vf4+fr7/P3+/w==@mef.example.com";
  st.key_id = st.ke_id;
  st.target_kind = "gba";
  st.impi = "001010000000001@ims.mnc001.mcc001.3gppnetwork.org";
  st.gba_rand = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
  st.sqn_ms = 281474976710655;  // 2^48 - 1
  st.gba_maf_ua = "dtls";
  SecretBytes ks(32);
  ASSERT_TRUE(save_device_state(d, st, ks, {}, {}));
  auto back = load_device_state(d);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->impi, st.impi);
  EXPECT_EQ(back->gba_rand, st.gba_rand);
  EXPECT_EQ(back->sqn_ms, st.sqn_ms);
  EXPECT_EQ(back->gba_maf_ua, "dtls");
  // Only the two transports name a Ua identifier.
  st.gba_maf_ua = "udp";
  ASSERT_TRUE(save_device_state(d, st, {}, {}, {}));
  auto bad = load_device_state(d);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::malformed_message);
}

}  // namespace
}  // namespace m2msec::client
