// state_init_cmd.cc: "m2msec state init", the device state a factory installs
// with a pre-provisioned root key (TS-0003 5.3.x.2 option 1). The state is
// what 'm2msec enrol' leaves for a MAF target once the MAF has assigned a
// KmID, so 'm2msec associate --state DIR' goes straight to MAF Key
// Registration with no MEF and no client registration.
#include <filesystem>
#include <iostream>

#include "cli.h"
#include "m2msec/client/device_state.h"
#include "m2msec/core/ids.h"
#include "m2msec/core/secret_file.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/service/runtime.h"

namespace m2msec::cli {
namespace {

struct StateInitOpts {
  std::string state, entity, km_id, km_file, maf, maf_address, sp_domain, expires;
  bool force = false;
};

int init(Context& ctx, const StateInitOpts& o) {
  auto eid = EntityId::parse(o.entity);
  if (!eid) return usage_error("--entity: " + eid.error().message());
  auto maf = Fqdn::parse(o.maf);
  if (!maf) return usage_error("--maf: " + maf.error().message());
  auto km_id = KeyId::parse(KeyIdKind::km, o.km_id);
  if (!km_id) return usage_error("--km-id: " + km_id.error().message());
  if (!km_id->fqdn().matches(*maf)) return usage_error("--km-id must end in @" + maf->str() + " (the --maf FQDN)");
  auto ep = service::parse_endpoint(o.maf_address);
  if (!ep) return usage_error("--maf-address: " + ep.error().message());
  if (!o.sp_domain.empty()) {
    if (auto d = Fqdn::parse(o.sp_domain); !d) return usage_error("--sp-domain: " + d.error().message());
  }
  std::int64_t expiry = 0;
  if (!o.expires.empty()) {
    auto t = proto::parse_time(o.expires);
    if (!t) return usage_error("--expires: " + t.error().message());
    if (*t <= service::now_unix()) return usage_error("--expires " + o.expires + " is not in the future");
    expiry = *t;
  }
  auto km = read_hex_key_file(o.km_file, 32);
  if (!km) return usage_error(km.error());
  if (!o.force && std::filesystem::exists(o.state + "/state.json")) {
    return usage_error(o.state + " already holds a device state (give --force to replace it)");
  }
  client::DeviceState st;
  st.enrolee_id = eid->str();
  st.target_kind = "maf";
  st.target = maf->str();
  st.maf_address = o.maf_address;
  st.km_id = km_id->canonical();
  st.key_id = st.km_id;
  st.sp_domain = o.sp_domain;
  st.expiry = expiry;
  st.key_lifetime = expiry;
  if (auto s = client::save_device_state(o.state, st, {}, *km, {}); !s) return failure(s.error());
  if (ctx.json) {
    print_json({{"entity_id", st.enrolee_id}, {"km_id", st.km_id}, {"maf", st.target},
                {"maf_address", st.maf_address}, {"expiry", st.expiry}, {"state", o.state}});
  } else {
    std::cout << "device state for " << st.enrolee_id << " in " << o.state << " (MAF " << st.target << ", KmID "
              << st.km_id << ")\n";
  }
  return kExitOk;
}

}  // namespace

void add_state_init_command(CLI::App& app, Context& ctx) {
  static StateInitOpts o;
  // "state" (with "state show") is the device credential state group.
  CLI::App* state = nullptr;
  try {
    state = app.get_subcommand("state");
  } catch (const CLI::Error&) {
    state = app.add_subcommand("state", "Device credential state");
    state->require_subcommand(1);
  }
  CLI::App* cmd = state->add_subcommand(
      "init",
      "Write the state a factory installs with a pre-provisioned root key (Km, KmID, MAF), so that "
      "'m2msec associate --state DIR' works with no MEF. The MAF must hold the same key ('m2msec maf client add')");
  cmd->add_option("--state", o.state, "Device state directory (created with mode 0700)")->required();
  cmd->add_option("--entity", o.entity, "The device's CSE-ID or AE-ID")->required();
  cmd->add_option("--km-id", o.km_id, "KmID: RelativeKmID@<MAF FQDN>")->required();
  cmd->add_option("--km-file", o.km_file, "File holding Km (64 hex digits, mode 0600; '-' for stdin)")->required();
  cmd->add_option("--maf", o.maf, "The MAF's FQDN (SNI, KcID domain)")->required();
  cmd->add_option("--maf-address", o.maf_address, "The MAF's address HOST:PORT")->required();
  cmd->add_option("--sp-domain", o.sp_domain, "The SP's domain, for Entity B's FQDN from an SP-relative CSE-ID");
  cmd->add_option("--expires", o.expires, "Km expiry, YYYYMMDDTHHMMSS (UTC), as loaded into the MAF");
  cmd->add_flag("--force", o.force, "Replace an existing device state");
  add_json_flag(cmd, ctx);
  cmd->callback([&ctx] { ctx.run = [&ctx] { return init(ctx, o); }; });
}

}  // namespace m2msec::cli
