#include "m2msec/client/device_state.h"

#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "m2msec/core/encoding.h"
#include "m2msec/core/secret_file.h"

namespace m2msec::client {
namespace {

Status write_key(const std::string& dir, const char* name, const SecretBytes& key) {
  if (key.empty()) return {};
  SecretString hex(hex_encode(key.view()));
  hex.append("\n");
  const auto v = hex.view();
  return write_secret_file(dir + "/" + name + ".key", {reinterpret_cast<const std::uint8_t*>(v.data()), v.size()});
}

}  // namespace

Status save_device_state(const std::string& dir, const DeviceState& st, const SecretBytes& ke, const SecretBytes& km,
                         const SecretBytes& kpsa) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(Errc::io_error, dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  for (auto [name, key] : {std::pair{"ke", &ke}, std::pair{"km", &km}, std::pair{"kpsa", &kpsa}}) {
    if (auto s = write_key(dir, name, *key); !s) return s;
  }
  const nlohmann::json j = {{"enrolee_id", st.enrolee_id}, {"mef_fqdn", st.mef_fqdn},   {"ke_id", st.ke_id},
                            {"expiry", st.expiry},         {"target_kind", st.target_kind}, {"target", st.target},
                            {"maf_address", st.maf_address}, {"key_id", st.key_id},   {"km_id", st.km_id}, {"sp_domain", st.sp_domain},
                            {"key_lifetime", st.key_lifetime}};
  const std::string text = j.dump(2) + "\n";
  return write_secret_file(dir + "/state.json", {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

Result<DeviceState> load_device_state(const std::string& dir) {
  auto text = read_secret_file(dir + "/state.json");
  if (!text) return std::unexpected(text.error());
  const nlohmann::json j = nlohmann::json::parse(text->view(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(Errc::malformed_message, dir + "/state.json is not JSON");
  DeviceState st;
  try {
    st.enrolee_id = j.at("enrolee_id").get<std::string>();
    st.mef_fqdn = j.at("mef_fqdn").get<std::string>();
    st.ke_id = j.at("ke_id").get<std::string>();
    st.expiry = j.at("expiry").get<std::int64_t>();
    st.target_kind = j.at("target_kind").get<std::string>();
    st.target = j.at("target").get<std::string>();
    st.maf_address = j.at("maf_address").get<std::string>();
    st.key_id = j.at("key_id").get<std::string>();
    st.km_id = j.value("km_id", "");
    st.sp_domain = j.value("sp_domain", "");
    st.key_lifetime = j.value("key_lifetime", std::int64_t{0});
  } catch (const nlohmann::json::exception& e) {
    return fail(Errc::malformed_message, dir + "/state.json: " + e.what());
  }
  return st;
}

Result<SecretBytes> load_device_key(const std::string& dir, const std::string& name) {
  return read_hex_key_file(dir + "/" + name + ".key", 32);
}

}  // namespace m2msec::client
