// m2msec/service/config.h: reading the TOML configuration files.
//
// One file may hold several role tables ([mef], [maf], [cse]); each role
// reads its own. Relative paths in a file are relative to the file's own
// directory. Unknown keys are errors, so a typo never passes silently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "m2msec/core/error.h"

namespace m2msec::service {

// ConfigTable reads typed values from one TOML table and remembers the
// first error, naming the key ("mef.fqdn: ...").
class ConfigTable {
 public:
  ~ConfigTable();
  ConfigTable(ConfigTable&&) noexcept;

  std::string str(const std::string& key, const std::string& dflt, bool required = false);
  // path is str() resolved against the config file's directory.
  std::string path(const std::string& key, const std::string& dflt, bool required = false);
  std::int64_t integer(const std::string& key, std::int64_t dflt, std::int64_t min, std::int64_t max);
  bool boolean(const std::string& key, bool dflt);
  // tables returns the array of tables under |key| ([[mef.maf]]).
  std::vector<ConfigTable> tables(const std::string& key);
  // table returns the table under |key| ([mef.store]), or nullopt if there
  // is none (an error if |key| is something else).
  std::optional<ConfigTable> table(const std::string& key);

  // reject records an error for |key| (a value the caller found invalid);
  // finish() reports it.
  void reject(const std::string& key, const std::string& why) { bad(key, why); }

  // finish fails with the first error seen, or with Errc::invalid_argument
  // for a key that was never read (unknown key).
  Status finish();

  const std::string& name() const { return name_; }
  const std::string& base_dir() const { return base_dir_; }

 private:
  friend class ConfigFile;
  struct Impl;
  ConfigTable(std::unique_ptr<Impl> impl, std::string name, std::string base_dir);
  void bad(const std::string& key, const std::string& why);

  std::unique_ptr<Impl> impl_;
  std::string name_;
  std::string base_dir_;
  std::set<std::string> seen_;
  std::string error_;
};

// ConfigFile is a parsed TOML file.
class ConfigFile {
 public:
  // load parses |path|. Fails with Errc::io_error (unreadable) or
  // Errc::invalid_argument (TOML syntax, with line and column).
  static Result<ConfigFile> load(const std::string& path);
  ~ConfigFile();
  ConfigFile(ConfigFile&&) noexcept;

  bool has(const std::string& table) const;
  // table returns the reader for a top-level table; Errc::invalid_argument
  // if it is missing.
  Result<ConfigTable> table(const std::string& table) const;
  const std::string& path() const { return path_; }

 private:
  struct Impl;
  ConfigFile(std::unique_ptr<Impl> impl, std::string path);
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

// resolve_path makes |p| absolute against |base_dir| unless it already is.
std::string resolve_path(const std::string& base_dir, const std::string& p);

}  // namespace m2msec::service
