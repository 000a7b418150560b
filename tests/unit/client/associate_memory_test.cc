// client::associate with the device's state and keys in memory
// (AssociateOptions::device, client/device_state.h DeviceCredentials)
// instead of a state directory: what it reads and every refusal before
// the network.
#include <gtest/gtest.h>

#include "../store/test_util.h"
#include "m2msec/client/associate.h"

namespace m2msec::client {
namespace {

using store::testing::secret_of;

DeviceCredentials maf_device() {
  DeviceCredentials d;
  d.state.enrolee_id = "/dev-1";
  d.state.mef_fqdn = "mef.example.com";
  d.state.ke_id = "AAECAwQFBgcICQoLDA0ODw==@mef.example.com";
  d.state.target_kind = "maf";
  d.state.target = "maf.example.com";
  d.state.maf_address = "127.0.0.1:1";  // nothing listens on port 1
  d.state.key_id = d.state.ke_id;
  d.state.sp_domain = "sp.example.com";
  d.km = secret_of(0x02);
  return d;
}

AssociateOptions options(DeviceCredentials& d, Framework f) {
  AssociateOptions o;
  o.framework = f;
  o.device = &d;
  o.state_dir = "/nonexistent/state";  // never read when device is set
  o.cse_address = "127.0.0.1:1";
  o.cse_id = "/in-cse";
  o.timeout = std::chrono::milliseconds(2000);
  return o;
}

// The state comes from memory: with no state directory the call gets as
// far as the MAF's address (which refuses the connection).
TEST(AssociateMemory, UsesTheStateInMemoryNotTheStateDir) {
  DeviceCredentials d = maf_device();
  auto r = associate(options(d, Framework::maf));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().code(), Errc::io_error) << r.error().message();
  EXPECT_TRUE(r.error().detail().starts_with("MAF 127.0.0.1:1")) << r.error().message();
  EXPECT_TRUE(d.state.km_id.empty());  // nothing registered, nothing written back
}

TEST(AssociateMemory, RefusesAFrameworkTheDeviceIsNotEnrolledFor) {
  DeviceCredentials d = maf_device();
  auto r = associate(options(d, Framework::kpsa));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::invalid_argument);
  d.state.target_kind = "kpsa";
  r = associate(options(d, Framework::maf));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::invalid_argument);
}

TEST(AssociateMemory, RefusesADeviceWithoutItsKey) {
  DeviceCredentials d = maf_device();
  d.km = SecretBytes();
  auto r = associate(options(d, Framework::maf));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::invalid_argument);
  EXPECT_NE(r.error().message().find("no Km"), std::string::npos) << r.error().message();

  d.state.target_kind = "kpsa";
  d.state.key_id = "kpsa-1@in-cse.sp.example.com";
  r = associate(options(d, Framework::kpsa));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::invalid_argument);
  EXPECT_NE(r.error().message().find("no Kpsa"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace m2msec::client
