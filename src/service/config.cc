#include "m2msec/service/config.h"

#include <filesystem>
#include <toml++/toml.h>

namespace m2msec::service {

std::string resolve_path(const std::string& base_dir, const std::string& p) {
  if (p.empty() || p.front() == '/') return p;
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

struct ConfigTable::Impl {
  std::shared_ptr<toml::table> root;  // keeps the document alive
  const toml::table* table = nullptr;
};

ConfigTable::ConfigTable(std::unique_ptr<Impl> impl, std::string name, std::string base_dir)
    : impl_(std::move(impl)), name_(std::move(name)), base_dir_(std::move(base_dir)) {}
ConfigTable::~ConfigTable() = default;
ConfigTable::ConfigTable(ConfigTable&&) noexcept = default;

void ConfigTable::bad(const std::string& key, const std::string& why) {
  if (error_.empty()) error_ = name_ + "." + key + ": " + why;
}

std::string ConfigTable::str(const std::string& key, const std::string& dflt, bool required) {
  seen_.insert(key);
  const toml::node* n = impl_->table->get(key);
  if (n == nullptr) {
    if (required) bad(key, "is required");
    return dflt;
  }
  if (!n->is_string()) return bad(key, "must be a string"), dflt;
  return n->as_string()->get();
}

std::string ConfigTable::path(const std::string& key, const std::string& dflt, bool required) {
  return resolve_path(base_dir_, str(key, dflt, required));
}

std::int64_t ConfigTable::integer(const std::string& key, std::int64_t dflt, std::int64_t min, std::int64_t max) {
  seen_.insert(key);
  const toml::node* n = impl_->table->get(key);
  if (n == nullptr) return dflt;
  if (!n->is_integer()) return bad(key, "must be an integer"), dflt;
  const std::int64_t v = n->as_integer()->get();
  if (v < min || v > max) {
    return bad(key, "must be between " + std::to_string(min) + " and " + std::to_string(max)), dflt;
  }
  return v;
}

bool ConfigTable::boolean(const std::string& key, bool dflt) {
  seen_.insert(key);
  const toml::node* n = impl_->table->get(key);
  if (n == nullptr) return dflt;
  if (!n->is_boolean()) return bad(key, "must be true or false"), dflt;
  return n->as_boolean()->get();
}

std::vector<ConfigTable> ConfigTable::tables(const std::string& key) {
  seen_.insert(key);
  std::vector<ConfigTable> out;
  const toml::node* n = impl_->table->get(key);
  if (n == nullptr) return out;
  const toml::array* arr = n->as_array();
  if (arr == nullptr || !arr->is_array_of_tables()) {
    bad(key, "must be an array of tables [[...]]");
    return out;
  }
  std::size_t i = 0;
  for (const toml::node& e : *arr) {
    auto impl = std::make_unique<Impl>();
    impl->root = impl_->root;
    impl->table = e.as_table();
    out.push_back(ConfigTable(std::move(impl), name_ + "." + key + "[" + std::to_string(i++) + "]", base_dir_));
  }
  return out;
}

std::optional<ConfigTable> ConfigTable::table(const std::string& key) {
  seen_.insert(key);
  const toml::node* n = impl_->table->get(key);
  if (n == nullptr) return std::nullopt;
  if (!n->is_table()) {
    bad(key, "must be a table [" + name_ + "." + key + "]");
    return std::nullopt;
  }
  auto impl = std::make_unique<Impl>();
  impl->root = impl_->root;
  impl->table = n->as_table();
  return ConfigTable(std::move(impl), name_ + "." + key, base_dir_);
}

Status ConfigTable::finish() {
  if (!error_.empty()) return fail(Errc::invalid_argument, error_);
  for (const auto& [k, v] : *impl_->table) {
    const std::string key(k.str());
    if (!seen_.count(key)) return fail(Errc::invalid_argument, name_ + "." + key + ": unknown key");
  }
  return {};
}

struct ConfigFile::Impl {
  std::shared_ptr<toml::table> root;
};

ConfigFile::ConfigFile(std::unique_ptr<Impl> impl, std::string path) : impl_(std::move(impl)), path_(std::move(path)) {}
ConfigFile::~ConfigFile() = default;
ConfigFile::ConfigFile(ConfigFile&&) noexcept = default;

Result<ConfigFile> ConfigFile::load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return fail(Errc::io_error, path + ": not a readable file");
  auto impl = std::make_unique<Impl>();
  try {
    impl->root = std::make_shared<toml::table>(toml::parse_file(path));
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return fail(Errc::invalid_argument, path + ":" + std::to_string(where.line) + ":" +
                                            std::to_string(where.column) + ": " + std::string(e.description()));
  }
  return ConfigFile(std::move(impl), std::filesystem::absolute(path).string());
}

bool ConfigFile::has(const std::string& table) const {
  const toml::node* n = impl_->root->get(table);
  return n != nullptr && n->is_table();
}

Result<ConfigTable> ConfigFile::table(const std::string& name) const {
  const toml::node* n = impl_->root->get(name);
  if (n == nullptr || !n->is_table()) return fail(Errc::invalid_argument, path_ + ": no [" + name + "] table");
  auto impl = std::make_unique<ConfigTable::Impl>();
  impl->root = impl_->root;
  impl->table = n->as_table();
  return ConfigTable(std::move(impl), name, std::filesystem::path(path_).parent_path().string());
}

}  // namespace m2msec::service
