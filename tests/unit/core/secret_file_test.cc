#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <ios>

#include "m2msec/core/secret_file.h"

namespace m2msec {
namespace {

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/m2msec-secret-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  std::string write(const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::string dir_;
};

TEST_F(SecretFileTest, ReadsHexKeyIgnoringWhitespace) {
  auto key = read_hex_key_file(write("k", "  00ff10\n", 0600), 3);
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->data()[1], 0xff);
}

TEST_F(SecretFileTest, RefusesGroupOrWorldAccess) {
  for (mode_t mode : {0640, 0604, 0660, 0644}) {
    auto key = read_hex_key_file(write("k", "00", mode));
    ASSERT_FALSE(key) << mode;
    EXPECT_EQ(key.error().code(), Errc::insecure_permissions);
  }
}

TEST_F(SecretFileTest, MissingFileIsIoError) {
  auto key = read_secret_file(dir_ + "/absent");
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code(), Errc::io_error);
  EXPECT_NE(key.error().detail().find("absent"), std::string::npos);
}

TEST_F(SecretFileTest, OversizedFileIsIoError) {
  auto key = read_secret_file(write("big", std::string(kMaxSecretFileSize + 1, 'a'), 0600));
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code(), Errc::io_error);
}

TEST_F(SecretFileTest, WrongSizeOrEmptyIsInvalidLength) {
  auto key = read_hex_key_file(write("k", "0011", 0600), 32);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code(), Errc::invalid_length);
  auto empty = read_hex_key_file(write("e", "\n", 0600));
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), Errc::invalid_length);
}

TEST_F(SecretFileTest, BadHexIsInvalidHexWithoutContents) {
  auto key = read_hex_key_file(write("k", "cafebabeZZ", 0600));
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code(), Errc::invalid_hex);
  EXPECT_EQ(key.error().message().find("cafebabe"), std::string::npos);
}

TEST_F(SecretFileTest, WritesWithMode0600) {
  const std::string path = dir_ + "/out.key";
  const std::uint8_t data[] = {'a', 'b'};
  ASSERT_TRUE(write_secret_file(path, data));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = read_secret_file(path);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->view(), "ab");
  EXPECT_FALSE(write_secret_file(dir_ + "/no/such/dir/k", data));
}

TEST(TrimAsciiSpace, Trims) {
  EXPECT_EQ(trim_ascii_space(" \t a b \r\n"), "a b");
  EXPECT_EQ(trim_ascii_space("   "), "");
}

// A role's data directory holds its KEK and database: mode 0700, never
// repaired silently.
TEST_F(SecretFileTest, PrivateDirAcceptsOwnerOnlyModes) {
  for (mode_t mode : {0700, 0500, 0300}) {
    const std::string d = dir_ + "/d" + std::to_string(mode);
    ASSERT_EQ(::mkdir(d.c_str(), 0700), 0);
    ASSERT_EQ(::chmod(d.c_str(), mode), 0);
    auto st = check_private_dir(d);
    EXPECT_TRUE(st) << std::oct << mode << " " << st.error().message();
  }
}

TEST_F(SecretFileTest, PrivateDirRefusesGroupOrOtherBits) {
  for (mode_t mode : {0710, 0701, 0750, 0755, 0770, 0777, 0702}) {
    const std::string d = dir_ + "/d" + std::to_string(mode);
    ASSERT_EQ(::mkdir(d.c_str(), 0700), 0);
    ASSERT_EQ(::chmod(d.c_str(), mode), 0);
    auto st = check_private_dir(d);
    ASSERT_FALSE(st) << std::oct << mode;
    EXPECT_EQ(st.error().code(), Errc::insecure_permissions);
    EXPECT_NE(st.error().detail().find(d), std::string::npos) << st.error().detail();
    // make_private_dir refuses it too, and leaves the mode alone.
    auto made = make_private_dir(d);
    ASSERT_FALSE(made) << std::oct << mode;
    EXPECT_EQ(made.error().code(), Errc::insecure_permissions);
    struct stat sb {};
    ASSERT_EQ(::stat(d.c_str(), &sb), 0);
    EXPECT_EQ(sb.st_mode & 07777, mode);
  }
}

TEST_F(SecretFileTest, PrivateDirMissingOrNotADirectoryIsIoError) {
  auto missing = check_private_dir(dir_ + "/absent");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::io_error);
  auto file = check_private_dir(write("f", "x", 0600));
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().code(), Errc::io_error);
}

TEST_F(SecretFileTest, MakePrivateDirCreatesMode0700EvenUnderAPermissiveUmask) {
  const mode_t old = ::umask(0);
  const std::string d = dir_ + "/a/b/data";
  auto st = make_private_dir(d);
  ::umask(old);
  ASSERT_TRUE(st) << st.error().message();
  struct stat sb {};
  ASSERT_EQ(::stat(d.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 07777, 0700u);
  EXPECT_TRUE(make_private_dir(d)) << "an existing private directory is accepted";
}

}  // namespace
}  // namespace m2msec
