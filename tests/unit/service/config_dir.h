// config_dir.h: a fixture with a fresh directory for a config file, for the
// tests that read one role's settings from TOML.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "m2msec/service/config.h"

namespace m2msec::service {

class ConfigDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "m2msec-cfg-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // mef_table writes |toml| as <dir>/m2msec.toml and returns its [mef] table.
  Result<ConfigTable> mef_table(const std::string& toml) {
    const std::string path = dir_ + "/m2msec.toml";
    std::ofstream(path) << toml;
    file_ = std::make_unique<Result<ConfigFile>>(ConfigFile::load(path));
    if (!*file_) return std::unexpected(file_->error());
    return (*file_)->table("mef");
  }

  std::string dir_;

 private:
  std::unique_ptr<Result<ConfigFile>> file_;  // the tables read from it live no longer than it
};

}  // namespace m2msec::service
