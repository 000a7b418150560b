// [<role>.store]: which engine a role's store uses, and the refusals.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config_dir.h"
#include "m2msec/service/config.h"
#include "m2msec/service/role_store.h"

namespace m2msec::service {
namespace {

class StoreSettingsTest : public ConfigDirTest {
 protected:
  // read writes |toml| as a config file and reads [mef]'s store settings.
  Result<StoreSettings> read(const std::string& toml) {
    Result<ConfigTable> t = mef_table(toml);
    if (!t) return std::unexpected(t.error());
    Result<StoreSettings> s = read_store_settings(*t);
    if (!s) return s;
    if (Status st = t->finish(); !st) return std::unexpected(st.error());
    return s;
  }
};

TEST_F(StoreSettingsTest, WithoutATableTheStoreIsSqlite) {
  Result<StoreSettings> s = read("[mef]\n");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->backend, StoreBackend::sqlite);
  EXPECT_EQ(s->readers, 4u);
}

TEST_F(StoreSettingsTest, PostgresWithAPasswordFileRelativeToTheConfig) {
  Result<StoreSettings> s = read(
      "[mef.store]\nbackend = \"postgres\"\nconninfo = \"host=db port=5432 dbname=m2msec\"\n"
      "password_file = \"secrets/db.password\"\nreaders = 8\n");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->backend, StoreBackend::postgres);
  EXPECT_EQ(s->conninfo, "host=db port=5432 dbname=m2msec");
  EXPECT_EQ(s->password_file, dir_ + "/secrets/db.password");
  EXPECT_EQ(s->readers, 8u);
  // A PostgreSQL store is readable once this replica has its KEK; a
  // SQLite one once its file exists.
  EXPECT_FALSE(store_exists(*s, dir_, "mef.db", dir_ + "/kek.hex"));
  std::ofstream(dir_ + "/kek.hex") << "00";
  EXPECT_TRUE(store_exists(*s, dir_, "mef.db", dir_ + "/kek.hex"));
  EXPECT_FALSE(store_exists(StoreSettings{}, dir_, "mef.db", dir_ + "/kek.hex"));
  std::ofstream(dir_ + "/mef.db") << "";
  EXPECT_TRUE(store_exists(StoreSettings{}, dir_, "mef.db", dir_ + "/kek.hex"));
}

// A password is found by parsing, as libpq reads the string: a database
// whose name contains the word is no password.
TEST_F(StoreSettingsTest, ANameContainingPasswordIsNoPassword) {
  Result<StoreSettings> s = read("[mef.store]\nbackend = \"postgres\"\nconninfo = \"host=db dbname=passwords\"\n");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->conninfo, "host=db dbname=passwords");
}

TEST_F(StoreSettingsTest, RefusalsNameTheKey) {
  struct Case {
    const char* toml;
    const char* names;
  } cases[] = {
      {"[mef.store]\nbackend = \"mysql\"\n", "mef.store.backend"},
      {"[mef.store]\nbackend = \"postgres\"\n", "mef.store.conninfo"},
      {"[mef.store]\nbackend = \"postgres\"\nconninfo = \"host=db password=hunter2\"\n", "mef.store.conninfo"},
      {"[mef.store]\nbackend = \"postgres\"\nconninfo = \"postgresql://u:hunter2@db/m2msec\"\n", "mef.store.conninfo"},
      {"[mef.store]\nbackend = \"postgres\"\nconninfo = \"host='db\"\n", "mef.store.conninfo"},
      {"[mef.store]\nconninfo = \"host=db\"\n", "mef.store"},
      {"[mef.store]\nbackend = \"postgres\"\nconninfo = \"host=db\"\nuser = \"x\"\n", "mef.store.user"},
      {"[mef.store]\nreaders = 0\n", "mef.store.readers"},
      {"[mef]\nstore = \"postgres\"\n", "mef.store"},
  };
  for (const Case& c : cases) {
    Result<StoreSettings> s = read(c.toml);
    ASSERT_FALSE(s) << c.toml;
    EXPECT_EQ(s.error().code(), Errc::invalid_argument) << c.toml;
    EXPECT_NE(s.error().message().find(c.names), std::string::npos) << c.toml << " -> " << s.error().message();
    EXPECT_EQ(s.error().message().find("hunter2"), std::string::npos) << s.error().message();
  }
}

}  // namespace
}  // namespace m2msec::service
