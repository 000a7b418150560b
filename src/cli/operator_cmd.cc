// operator_cmd.cc: revocation and rotation ("m2msec maf revoke",
// "m2msec mef enrolee rotate", "m2msec rotate") and the device-side
// "m2msec state show [--reveal]".
#include <functional>
#include <iostream>

#include "all_in_one.h"
#include "cli.h"
#include "store_views.h"
#include "m2msec/client/device_state.h"
#include "m2msec/core/encoding.h"
#include "m2msec/core/secret_file.h"

namespace m2msec::cli {
namespace {

struct OpOpts {
  std::string config, entity, kc_id, state, target, target_kind;
  bool reveal = false;
};

// revoke_at_maf revokes an entity's Km and its Kc keys at the MAF: the
// rows go and the revocation is logged, so the running MAF closes the
// sessions using them, Entity B drops the Kc keys it holds, and the MAF
// never fetches that Km from the MEF again.
// |before|, if given, runs between finding the client and revoking its Km:
// rotate revokes the enrolment there, after which the running MAF, reading
// the MEF's feed, may revoke the Km itself first; the Km is revoked either
// way, and the revocation logged once.
Status revoke_at_maf(store::Store& db, const std::string& entity, const std::function<Status()>& before = {}) {
  auto c = db.maf().find_client_by_entity(entity, store::kAnyExpiry);
  Status first = before ? before() : Status();
  if (!c) return std::unexpected(c.error());
  if (!first && first.error().code() != Errc::not_found) return first;
  store::Revocation r;
  r.kind = store::RevokedKind::km;
  r.key_id = c->km_id;
  r.entity_id = c->entity_id;
  auto done = db.maf().revoke_client(r, service::now_unix());
  if (!done) return std::unexpected(done.error());
  return {};
}

// rotate_at_mef revokes the entity's enrolment: its KeID stops resolving
// and the device must enrol again, which gives a new Ke and so a new Km.
// Errc::not_found if the MEF has no such enrolment, or no store at all.
Status rotate_at_mef(const mef::MefConfig& cfg, const std::string& entity) {
  auto db = open_existing_mef(cfg);
  if (!db) return std::unexpected(db.error());
  return (*db)->mef().revoke_enrolment(entity);
}

// maf_event / mef_event append an operator action to the role's audit
// trail; false (reported) if they cannot.
bool maf_event(const maf::MafConfig& cfg, service::AuditEvent e) {
  return record_operator(cfg.audit_file, "maf", cfg.mas_id, std::move(e));
}
bool mef_event(const mef::MefConfig& cfg, service::AuditEvent e) {
  return record_operator(cfg.audit_file, "mef", "", std::move(e));
}

int report(Context& ctx, const Status& st, const nlohmann::json& j, const std::string& text) {
  if (!st) return st.error().code() == Errc::not_found ? usage_error(st.error()) : failure(st.error());
  if (ctx.json) {
    print_json(j);
  } else {
    std::cout << text << "\n";
  }
  return kExitOk;
}

int maf_revoke(Context& ctx, const OpOpts& o) {
  auto a = load_all_in_one(o.config);
  if (!a) return usage_error(a.error());
  if (!a->maf) return usage_error(o.config + ": no [maf] table");
  if (o.entity.empty() == o.kc_id.empty()) return usage_error("give exactly one of --entity and --kc-id");
  if (!o.entity.empty()) {
    auto db = open_existing_maf(*a->maf);
    if (!db) return failure(db.error());
    Status st = revoke_at_maf(**db, o.entity);
    if (st && !maf_event(*a->maf, service::operator_event("revoke", "km", o.entity))) return kExitFailure;
    return report(ctx, st, {{"revoked_client", o.entity}},
                  "revoked MAF client " + o.entity + ": its Km and Kc keys are gone; its sessions are closed");
  }
  auto id = KeyId::parse(KeyIdKind::kc, o.kc_id, a->maf->id_encoding);
  if (!id) return usage_error(id.error());
  auto db = open_existing_maf(*a->maf);
  if (!db) return failure(db.error());
  Status st = (*db)->maf().revoke_kc(id->canonical(), service::now_unix());
  if (st && !maf_event(*a->maf, service::operator_event("revoke", "kc", "", id->str()))) return kExitFailure;
  return report(ctx, st, {{"revoked_key", id->str()}},
                "revoked " + id->str() + ": Entity B drops it and closes its sessions");
}

int mef_rotate(Context& ctx, const OpOpts& o) {
  auto a = load_all_in_one(o.config);
  if (!a) return usage_error(a.error());
  if (!a->mef) return usage_error(o.config + ": no [mef] table");
  auto db = open_existing_mef(*a->mef);
  if (!db) return failure(db.error());
  Status st = (*db)->mef().revoke_enrolment(o.entity);
  if (st && !mef_event(*a->mef, service::operator_event("rotate", "ke", o.entity))) return kExitFailure;
  return report(ctx, st, {{"rotated", o.entity}},
                o.entity + " must enrol again: its KeID no longer resolves");
}

// mef_retarget: seed 003, re-enrolment "only repeated when a change in the
// Service Provider affects the provisioning". The enrolee's current
// enrolment is revoked (its old target drops what it derived from it) and
// its next enrolment yields keys for the new target only.
int mef_retarget(Context& ctx, const OpOpts& o) {
  auto a = load_all_in_one(o.config);
  if (!a) return usage_error(a.error());
  if (!a->mef) return usage_error(o.config + ": no [mef] table");
  auto kind = enrolee_target_kind(o.target, o.target_kind);
  if (!kind) return usage_error(kind.error());
  if (auto st = store::validate_target(*kind, o.target); !st) return usage_error(st.error());
  auto db = open_existing_mef(*a->mef);
  if (!db) return failure(db.error());
  auto before = (*db)->mef().get_enrolee(o.entity);
  if (!before) return before.error().code() == Errc::not_found ? usage_error(before.error()) : failure(before.error());
  Status st = (*db)->mef().retarget_enrolee(o.entity, *kind, o.target, service::now_unix());
  if (st) {
    service::AuditEvent ev = service::operator_event("retarget", "enrolee", o.entity);
    ev.to = o.target;
    if (!mef_event(*a->mef, std::move(ev))) return kExitFailure;
  }
  return report(ctx, st,
                {{"retargeted", o.entity},
                 {"old_target", before->target},
                 {"target_kind", store::target_kind_name(*kind)},
                 {"target", o.target}},
                o.entity + " now enrols for " + std::string(store::target_kind_name(*kind)) + " " + o.target +
                    "; its enrolment for " + before->target + " is revoked there and it must enrol again");
}

// rotate (all-in-one): a new Km for the entity at its MAF. Km is derived
// from Ke (10.3.2), so rotation means a new enrolment: the MEF forgets the
// old Ke and the MAF its old Km.
int rotate(Context& ctx, const OpOpts& o) {
  auto a = load_all_in_one(o.config);
  if (!a) return usage_error(a.error());
  if (!a->mef || !a->maf) return usage_error(o.config + ": rotate needs [mef] and [maf] tables");
  Status st;
  bool at_mef_ran = false;
  // A MAF with no store yet has no Km to revoke (not_found, as an unknown entity).
  auto maf_db = open_existing_maf(*a->maf);
  Status st2 = maf_db ? revoke_at_maf(**maf_db, o.entity,
                                      [&] {
                                        at_mef_ran = true;
                                        st = rotate_at_mef(*a->mef, o.entity);
                                        return st;
                                      })
                      : Status(std::unexpected(maf_db.error()));
  if (!at_mef_ran) st = rotate_at_mef(*a->mef, o.entity);  // the MAF store did not open
  if (!st && st.error().code() != Errc::not_found) return failure(st.error());
  if (!st && !st2) return usage_error(Error(Errc::not_found, "nothing to rotate for " + o.entity));
  if (!st2 && st2.error().code() != Errc::not_found) return failure(st2.error());
  if (st && !mef_event(*a->mef, service::operator_event("rotate", "ke", o.entity))) return kExitFailure;
  if (st2 && !maf_event(*a->maf, service::operator_event("rotate", "km", o.entity))) return kExitFailure;
  return report(ctx, {}, {{"rotated", o.entity}, {"mef_enrolment_revoked", bool(st)}, {"maf_km_revoked", bool(st2)}},
                o.entity + ": old KeID and Km revoked; the device gets a new Km when it enrols again");
}

int state_show(Context& ctx, const OpOpts& o) {
  auto st = client::load_device_state(o.state);
  if (!st) return usage_error(st.error());
  nlohmann::json j = {{"enrolee_id", st->enrolee_id}, {"mef_fqdn", st->mef_fqdn}, {"ke_id", st->ke_id},
                      {"expiry", st->expiry},         {"target_kind", st->target_kind}, {"target", st->target},
                      {"key_id", st->key_id},         {"km_id", st->km_id}, {"key_lifetime", st->key_lifetime}};
  if (o.reveal) {
    // The operator asked to see the keys of a state directory they can read.
    for (const char* name : {"ke", "km", "kpsa"}) {
      auto k = client::load_device_key(o.state, name);
      if (k) j[std::string(name)] = hex_encode(k->view());
    }
  }
  if (ctx.json) {
    print_json(j);
  } else {
    for (auto& [k, v] : j.items()) std::cout << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
  }
  return kExitOk;
}

}  // namespace

void add_operator_commands(CLI::App& app, Context& ctx) {
  static OpOpts o;
  if (CLI::App* maf = app.get_subcommand("maf")) {
    CLI::App* revoke = maf->add_subcommand("revoke", "Revoke a MAF client (its Km and Kc keys) or one Kc");
    revoke->add_option("--config", o.config, "TOML file with a [maf] table")->required();
    revoke->add_option("--entity", o.entity, "The client's CSE-ID/AE-ID");
    revoke->add_option("--kc-id", o.kc_id, "A KcID");
    add_json_flag(revoke, ctx);
    revoke->callback([&ctx] { ctx.run = [&ctx] { return maf_revoke(ctx, o); }; });
  }
  if (CLI::App* mef = app.get_subcommand("mef")) {
    if (CLI::App* enrolee = mef->get_subcommand("enrolee")) {
      CLI::App* r = enrolee->add_subcommand("rotate", "Revoke an enrolee's current enrolment; it must enrol again");
      r->add_option("--config", o.config, "TOML file with a [mef] table")->required();
      r->add_option("--enrolee-id", o.entity, "CSE-ID or AE-ID")->required();
      add_json_flag(r, ctx);
      r->callback([&ctx] { ctx.run = [&ctx] { return mef_rotate(ctx, o); }; });
      CLI::App* rt = enrolee->add_subcommand(
          "retarget",
          "Point an enrolee at another Enrolment Target (a change of service provider): its current enrolment is "
          "revoked, the old MAF drops its Km (or the old Entity B its Kpsa), and its next enrolment yields keys "
          "for the new target only");
      rt->add_option("--config", o.config, "TOML file with a [mef] table")->required();
      rt->add_option("--enrolee-id", o.entity, "CSE-ID or AE-ID")->required();
      rt->add_option("--target", o.target, "New MAF-FQDN, or Enrolee B's CSE-ID/AE-ID")->required();
      rt->add_option("--target-kind", o.target_kind, "maf|kpsa (default: guessed from --target)")
          ->check(CLI::IsMember({"maf", "kpsa"}));
      add_json_flag(rt, ctx);
      rt->callback([&ctx] { ctx.run = [&ctx] { return mef_retarget(ctx, o); }; });
    }
  }
  CLI::App* rot = app.add_subcommand(
      "rotate", "Rotate an entity's Km at its MAF: revoke the enrolment at the MEF and the Km at the MAF; the device "
                "gets a new Ke and Km when it enrols again (one config with [mef] and [maf])");
  rot->add_option("--config", o.config, "TOML file with [mef] and [maf] tables")->required();
  rot->add_option("--entity", o.entity, "CSE-ID or AE-ID")->required();
  add_json_flag(rot, ctx);
  rot->callback([&ctx] { ctx.run = [&ctx] { return rotate(ctx, o); }; });

  CLI::App* state = app.add_subcommand("state", "Device credential state");
  state->require_subcommand(1);
  CLI::App* show = state->add_subcommand("show", "Show a device's state directory; keys only with --reveal");
  show->add_option("--state", o.state, "State directory")->required();
  show->add_flag("--reveal", o.reveal, "Also print the keys (Ke, Km, Kpsa) in hex");
  add_json_flag(show, ctx);
  show->callback([&ctx] { ctx.run = [&ctx] { return state_show(ctx, o); }; });
}

}  // namespace m2msec::cli
