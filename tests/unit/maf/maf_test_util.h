// maf_test_util.h: what the MAF tests share.
#pragma once

#include <gtest/gtest.h>

#include "m2msec/maf/maf.h"
#include "../service/service_harness.h"

namespace m2msec::maf::testing {

// kKmId is the KmID of the MAF client /dev-1 that add_test_client registers.
inline constexpr const char* kKmId = "0a0b0c0d@maf.example.com";

// test_config is a MAF maf.example.com in the domain sp.example.com.
inline MafConfig test_config() {
  MafConfig cfg;
  cfg.listen.fqdn = "maf.example.com";
  cfg.sp_domain = "sp.example.com";
  cfg.admin_fqdn = "sp.example.com";
  return cfg;
}

// add_test_client registers /dev-1 under kKmId (Km 0x22...), valid for an
// hour.
inline void add_test_client(store::Store& store) {
  store::MafClient c;
  c.km_id = KeyId::parse(KeyIdKind::km, kKmId)->canonical();
  c.km = store::testing::secret_of(0x22);
  c.entity_id = "/dev-1";
  c.expires_at = service::now_unix() + 3600;
  ASSERT_TRUE(store.maf().register_client(c, service::now_unix()));
}

}  // namespace m2msec::maf::testing
