// read_listener_settings: the DTLS binding setting and its refusal.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config_dir.h"
#include "m2msec/service/config.h"
#include "m2msec/service/listener.h"

namespace m2msec::service {
namespace {

class ListenerSettingsTest : public ConfigDirTest {
 protected:
  // read writes |toml| as a config file and reads [mef]'s listener settings.
  Result<ListenerSettings> read(const std::string& toml) {
    Result<ConfigTable> t = mef_table(toml);
    if (!t) return std::unexpected(t.error());
    ListenerSettings s = read_listener_settings(*t, "127.0.0.1:5684");
    if (Status st = t->finish(); !st) return std::unexpected(st.error());
    return s;
  }
};

TEST_F(ListenerSettingsTest, DtlsBindingDefaultsToAuto) {
  auto s = read("[mef]\nfqdn = \"mef.example.com\"\ndtls_listen = \"127.0.0.1:5684\"\n");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->dtls_binding, proto::DtlsBinding::automatic);
}

TEST_F(ListenerSettingsTest, DtlsBindingCoapAndHttp) {
  auto c = read("[mef]\nfqdn = \"mef.example.com\"\ndtls_binding = \"coap\"\n");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->dtls_binding, proto::DtlsBinding::coap);
  auto h = read("[mef]\nfqdn = \"mef.example.com\"\ndtls_binding = \"http\"\n");
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->dtls_binding, proto::DtlsBinding::http);
}

TEST_F(ListenerSettingsTest, UnknownDtlsBindingIsRefusedNamingTheKey) {
  auto s = read("[mef]\nfqdn = \"mef.example.com\"\ndtls_binding = \"mqtt\"\n");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Errc::invalid_argument);
  EXPECT_NE(s.error().message().find("mef.dtls_binding"), std::string::npos) << s.error().message();
  EXPECT_NE(s.error().message().find("coap, http or auto"), std::string::npos) << s.error().message();
}

}  // namespace
}  // namespace m2msec::service
