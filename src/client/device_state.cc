#include "m2msec/client/device_state.h"

#include <sys/stat.h>

#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "m2msec/core/encoding.h"
#include "m2msec/core/secret_file.h"
#include "m2msec/proto/json_reader.h"

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
                            {"key_lifetime", st.key_lifetime}, {"impi", st.impi}, {"gba_rand", st.gba_rand},
                            {"sqn_ms", st.sqn_ms}, {"gba_maf_ua", st.gba_maf_ua}};
  const std::string text = j.dump(2) + "\n";
  return write_secret_file(dir + "/state.json", {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

Result<DeviceState> load_device_state(const std::string& dir) {
  auto text = read_secret_file(dir + "/state.json");
  if (!text) return std::unexpected(text.error());
  const nlohmann::json j = nlohmann::json::parse(text->view(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(Errc::malformed_message, dir + "/state.json is not JSON");
  // The same typed reader as every request body: a wrong type or an
  // out-of-range number is a clean error, never an exception or a silent
  // narrowing.
  const nlohmann::json wrapped = {{"state.json", j}};
  proto::JsonReader r(wrapped, "state.json");
  DeviceState st;
  st.enrolee_id = r.str("enrolee_id");
  st.mef_fqdn = r.str("mef_fqdn");
  st.ke_id = r.str("ke_id");
  st.expiry = r.integer("expiry", 0, 0, std::numeric_limits<std::int64_t>::max(), true);
  st.target_kind = r.str("target_kind");
  st.target = r.str("target");
  st.maf_address = r.str("maf_address");
  st.key_id = r.str("key_id");
  st.km_id = r.str("km_id", false);
  st.sp_domain = r.str("sp_domain", false);
  st.key_lifetime = r.integer("key_lifetime", 0, 0, std::numeric_limits<std::int64_t>::max());
  st.impi = r.str("impi", false);
  st.gba_rand = r.str("gba_rand", false);
  st.sqn_ms = static_cast<std::uint64_t>(r.integer("sqn_ms", 0, 0, (std::int64_t{1} << 48) - 1));
  st.gba_maf_ua = r.str("gba_maf_ua", false);
  if (!st.gba_maf_ua.empty() && st.gba_maf_ua != "tls" && st.gba_maf_ua != "dtls") {
    return fail(Errc::malformed_message, dir + "/state.json: gba_maf_ua must be tls or dtls");
  }
  if (!r.ok()) return fail(Errc::malformed_message, dir + "/" + r.error().detail());
  return st;
}

Result<SecretBytes> load_device_key(const std::string& dir, const std::string& name) {
  return read_hex_key_file(dir + "/" + name + ".key", 32);
}

}  // namespace m2msec::client
