#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "m2msec/core/secret_file.h"
#include "m2msec/store/secret_box.h"
#include "test_util.h"

namespace m2msec::store {
namespace {

using testing::TempDir;
using testing::test_kek;

TEST(SecretBox, SealOpenRoundTrip) {
  const Kek kek = test_kek();
  const std::vector<std::uint8_t> key(32, 0x5a);
  const std::string aad = seal_aad("enrolees", "kpm", "/cse1");
  EXPECT_EQ(aad, "m2msec/v1|enrolees|kpm|/cse1");
  Result<std::vector<std::uint8_t>> blob = seal(kek, aad, key);
  ASSERT_TRUE(blob);
  ASSERT_EQ(blob->size(), key.size() + kSealOverhead);
  Result<SecretBytes> plain = open_sealed(kek, aad, *blob);
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_TRUE(std::equal(plain->view().begin(), plain->view().end(), key.begin(), key.end()));
}

TEST(SecretBox, NonceIsFreshEachTime) {
  const Kek kek = test_kek();
  const std::vector<std::uint8_t> key(32, 1);
  Result<std::vector<std::uint8_t>> a = seal(kek, "x", key);
  Result<std::vector<std::uint8_t>> b = seal(kek, "x", key);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
}

TEST(SecretBox, OtherCellFails) {
  const Kek kek = test_kek();
  const std::vector<std::uint8_t> key(32, 7);
  Result<std::vector<std::uint8_t>> blob = seal(kek, seal_aad("enrolees", "kpm", "/a"), key);
  ASSERT_TRUE(blob);
  for (const std::string& aad : {seal_aad("enrolees", "kpm", "/b"), seal_aad("enrolments", "ke", "/a"),
                                 seal_aad("enrolees", "kpsa", "/a")}) {
    Result<SecretBytes> r = open_sealed(kek, aad, *blob);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::decrypt_failed);
  }
}

TEST(SecretBox, WrongKekTamperAndShortFail) {
  const std::vector<std::uint8_t> key(32, 9);
  Result<std::vector<std::uint8_t>> blob = seal(test_kek(1), "aad", key);
  ASSERT_TRUE(blob);
  Result<SecretBytes> wrong = open_sealed(test_kek(2), "aad", *blob);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), Errc::decrypt_failed);
  for (std::size_t i : {std::size_t{0}, std::size_t{12}, blob->size() - 1}) {
    std::vector<std::uint8_t> bad = *blob;
    bad[i] ^= 1;
    Result<SecretBytes> r = open_sealed(test_kek(1), "aad", bad);
    ASSERT_FALSE(r) << i;
    EXPECT_EQ(r.error().code(), Errc::decrypt_failed);
  }
  std::vector<std::uint8_t> shortb(blob->begin(), blob->begin() + kSealOverhead - 1);
  Result<SecretBytes> s = open_sealed(test_kek(1), "aad", shortb);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Errc::decrypt_failed);
}

TEST(SecretBox, KekMustBe32Bytes) {
  Result<Kek> k = Kek::from_bytes(SecretBytes(16));
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().code(), Errc::invalid_length);
}

TEST(KekFile, CreateThenLoad) {
  TempDir dir;
  const std::string path = dir.file("kek.hex");
  Result<Kek> created = create_kek_file(path);
  ASSERT_TRUE(created) << created.error().message();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Result<Kek> loaded = load_kek_file(path);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_TRUE(ct_equal(created->view(), loaded->view()));
}

TEST(KekFile, CreateRefusesToReplace) {
  TempDir dir;
  const std::string path = dir.file("kek.hex");
  ASSERT_TRUE(create_kek_file(path));
  Result<Kek> again = create_kek_file(path);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::already_exists);
}

TEST(KekFile, RejectsWrongSizeAndLoosePermissions) {
  TempDir dir;
  const std::string short_path = dir.file("short.hex");
  const std::string s = "00112233";
  ASSERT_TRUE(write_secret_file(short_path, {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}));
  Result<Kek> k = load_kek_file(short_path);
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().code(), Errc::invalid_length);

  const std::string loose = dir.file("loose.hex");
  ASSERT_TRUE(create_kek_file(loose));
  ASSERT_EQ(::chmod(loose.c_str(), 0644), 0);
  Result<Kek> l = load_kek_file(loose);
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code(), Errc::insecure_permissions);
}

}  // namespace
}  // namespace m2msec::store
