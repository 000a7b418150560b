// mef_list_cmd.cc: the MEF operator's read-only views: "m2msec mef enrolee
// list", "m2msec mef enrolee show", "m2msec mef subscriber list" and
// "m2msec mef status".
//
// Everything here reads summaries (store/listing.h), which never carry key
// material, so nothing secret can reach the output.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli.h"
#include "store_views.h"
#include "m2msec/core/encoding.h"
#include "m2msec/mef/mef.h"
#include "m2msec/service/runtime.h"

namespace m2msec::cli {
namespace {

struct ListOpts {
  std::string config, state, after, enrolee_id;
  std::size_t limit = 100;
};

// OpenedStore is a parsed config and its store, or the exit code to
// return: 2 for a bad config, 1 if the database does not open.
struct OpenedStore {
  mef::MefConfig cfg;
  std::unique_ptr<store::Store> db;
  int exit_code = kExitOk;
};

OpenedStore open_store(const std::string& path) {
  OpenedStore out;
  auto file = service::ConfigFile::load(path);
  if (!file) {
    out.exit_code = usage_error(file.error());
    return out;
  }
  auto cfg = mef::load_mef_config(*file);
  if (!cfg) {
    out.exit_code = usage_error(cfg.error());
    return out;
  }
  out.cfg = std::move(*cfg);
  // Reading must not create anything: say so if there is no database yet.
  auto db = open_existing_mef(out.cfg);
  if (!db) {
    out.exit_code = failure(db.error());
    return out;
  }
  out.db = std::move(*db);
  return out;
}

// iso_time formats unix seconds as "2025-01-31T12:00:00Z".
std::string iso_time(std::int64_t t) { return format_utc(t); }

// summary_json renders one enrolee summary (no secrets exist in it).
nlohmann::json summary_json(const store::EnroleeSummary& e) {
  nlohmann::json j = {{"enrolee_id", e.enrolee_id},
                      {"state", store::enrolee_state_name(e.state)},
                      {"auth", store::auth_kind_name(e.auth_kind)},
                      {"kpm_id", opt(e.kpm_id)},
                      {"cert_subject", opt(e.cert_subject)},
                      {"cert_trust_anchor", opt(e.cert_trust_anchor)},
                      {"target_kind", store::target_kind_name(e.target_kind)},
                      {"target", e.target},
                      {"created_at", e.created_at},
                      {"created", iso_time(e.created_at)},
                      {"expires_at", opt(e.expires_at)},
                      {"expires", opt_time(e.expires_at)},
                      {"enrolment", nullptr}};
  if (e.enrolment) {
    const store::EnrolmentSummary& n = *e.enrolment;
    j["enrolment"] = {{"ke_id", n.ke_id},           {"kpsa_id", opt(n.kpsa_id)},
                      {"created_at", n.created_at}, {"created", iso_time(n.created_at)},
                      {"expires_at", n.expires_at}, {"expires", iso_time(n.expires_at)}};
  }
  return j;
}

// credential_name is the KpmID or the certificate subject, with bytes a
// terminal would act on replaced (rows may predate validate_enrolee's
// printable-text rule).
std::string credential_name(const store::EnroleeSummary& e) {
  if (e.kpm_id) return printable_text(*e.kpm_id);
  if (e.cert_subject) return printable_text(*e.cert_subject);
  return "-";
}

// shown_expiry is the enrolment's expiry if there is one (it never
// outlives the enrolee's), else the enrolee's.
std::string shown_expiry(const store::EnroleeSummary& e) {
  if (e.enrolment) return iso_time(e.enrolment->expires_at);
  return e.expires_at ? iso_time(*e.expires_at) : "-";
}

int run_list(Context& ctx, const ListOpts& o) {
  store::EnroleeFilter filter;
  if (!o.state.empty()) {
    auto s = store::parse_enrolee_state(o.state);
    if (!s) return usage_error(s.error());
    filter.state = *s;
  }
  OpenedStore s = open_store(o.config);
  if (!s.db) return s.exit_code;

  auto paged = page_through<store::EnroleeSummary>(
      o.limit, o.after,
      [&](const store::Page& p) {
        filter.page = p;
        return s.db->mef().list_enrolees(filter);
      },
      [](const store::EnroleeSummary& e) { return e.enrolee_id; });
  if (!paged) return failure(paged.error());
  return print_page(ctx, "enrolees", *paged, summary_json,
                    {"ENROLEE", "STATE", "AUTH", "KPMID/CERT SUBJECT", "TARGET", "KEID", "EXPIRES"},
                    [](const store::EnroleeSummary& e) {
                      return std::vector<std::string>{e.enrolee_id, std::string(store::enrolee_state_name(e.state)),
                                                      std::string(store::auth_kind_name(e.auth_kind)),
                                                      credential_name(e), e.target,
                                                      e.enrolment ? e.enrolment->ke_id : "-", shown_expiry(e)};
                    });
}

// find_summary looks one enrolee up through the listing (which reads no
// secret column): it pages from just before |id| until it reaches it.
Result<store::EnroleeSummary> find_summary(store::MefRepository& repo, const std::string& id) {
  store::EnroleeFilter f;
  f.page.after = id.empty() ? "" : id.substr(0, id.size() - 1);  // sorts before id
  f.page.limit = store::kMaxPageLimit;
  for (;;) {
    auto page = repo.list_enrolees(f);
    if (!page) return std::unexpected(page.error());
    for (auto& e : *page) {
      if (e.enrolee_id == id) return std::move(e);
      if (e.enrolee_id > id) return fail(Errc::not_found, "no enrolee " + id);
    }
    if (page->size() < f.page.limit) return fail(Errc::not_found, "no enrolee " + id);
    f.page.after = page->back().enrolee_id;
  }
}

int run_show(Context& ctx, const ListOpts& o) {
  OpenedStore s = open_store(o.config);
  if (!s.db) return s.exit_code;
  auto e = find_summary(s.db->mef(), o.enrolee_id);
  if (!e) return e.error().code() == Errc::not_found ? usage_error(e.error()) : failure(e.error());
  if (ctx.json) {
    print_json(summary_json(*e));
    return kExitOk;
  }
  const std::int64_t now = service::now_unix();
  std::cout << "enrolee       " << e->enrolee_id << "\nstate         " << store::enrolee_state_name(e->state)
            << "\nauth          " << store::auth_kind_name(e->auth_kind)
            << (e->kpm_id ? "\nKpmID         " + printable_text(*e->kpm_id) : "")
            << (e->cert_subject ? "\ncert subject  " + printable_text(*e->cert_subject) : "")
            << (e->cert_trust_anchor ? "\ncert CA       " + printable_text(*e->cert_trust_anchor) : "")
            << "\ntarget        "
            << store::target_kind_name(e->target_kind) << " " << e->target << "\ncreated       "
            << iso_time(e->created_at) << "\nexpires       " << (e->expires_at ? iso_time(*e->expires_at) : "never")
            << "\n";
  if (!e->enrolment) {
    std::cout << "enrolment     none\n";
    return kExitOk;
  }
  const store::EnrolmentSummary& n = *e->enrolment;
  std::cout << "KeID          " << n.ke_id << (n.kpsa_id ? "\nKpsaID        " + *n.kpsa_id : "")
            << "\nenrolled      " << iso_time(n.created_at) << "\nKe expires    " << iso_time(n.expires_at)
            << (n.expires_at <= now ? " (expired)" : "") << "\n";
  return kExitOk;
}

int run_status(Context& ctx, const ListOpts& o) {
  OpenedStore s = open_store(o.config);
  if (!s.db) return s.exit_code;
  auto counts = s.db->mef().counts();
  if (!counts) return failure(counts.error());
  const Status integrity = s.db->check_integrity();
  const store::WriteStats w = s.db->write_stats();
  const std::string integrity_text = integrity ? "ok" : integrity.error().message();
  if (ctx.json) {
    print_json({{"fqdn", s.cfg.listen.fqdn},
                {"data_dir", s.cfg.data_dir},
                {"active_enrolees", counts->active_enrolees},
                {"removed_enrolees", counts->removed_enrolees},
                {"enrolments", counts->enrolments},
                {"integrity", integrity_text},
                {"write_stats",
                 {{"transactions", w.transactions},
                  {"ops", w.ops},
                  {"ops_failed", w.ops_failed},
                  {"commit_failures", w.commit_failures},
                  {"largest_batch", w.largest_batch}}}});
  } else {
    std::cout << "mef           " << s.cfg.listen.fqdn << "\ndata          " << s.cfg.data_dir
              << "\nenrolees      " << counts->active_enrolees << " active, " << counts->removed_enrolees
              << " removed\nenrolments    " << counts->enrolments << "\nintegrity     " << integrity_text
              << "\nwrites        " << w.transactions << " transactions, " << w.ops << " ops, " << w.ops_failed
              << " failed, " << w.commit_failures << " commit failures (this command's own store handle)\n";
  }
  if (!integrity) return failure(integrity.error());
  return kExitOk;
}

// run_subscriber_list lists GBA subscribers in IMPI order: SQN, AMF,
// enrolee ID, Enrolment Target and creation time, never K or OPc (the
// summaries do not hold them).
int run_subscriber_list(Context& ctx, const ListOpts& o) {
  OpenedStore s = open_store(o.config);
  if (!s.db) return s.exit_code;
  auto paged = page_through<store::GbaSubscriberSummary>(
      o.limit, o.after, [&](const store::Page& p) { return s.db->mef().list_subscribers(p); },
      [](const store::GbaSubscriberSummary& g) { return g.impi; });
  if (!paged) return failure(paged.error());
  return print_page(
      ctx, "subscribers", *paged,
      [](const store::GbaSubscriberSummary& g) {
        return nlohmann::json{{"impi", g.impi},
                              {"sqn", g.sqn},
                              {"amf", amf_hex(g.amf)},
                              {"enrolee_id", g.enrolee_id},
                              {"target_kind", store::target_kind_name(g.target_kind)},
                              {"target", g.target},
                              {"created_at", g.created_at},
                              {"created", iso_time(g.created_at)}};
      },
      {"IMPI", "SQN", "AMF", "ENROLEE", "TARGET", "CREATED"},
      [](const store::GbaSubscriberSummary& g) {
        return std::vector<std::string>{printable_text(g.impi), std::to_string(g.sqn), amf_hex(g.amf),
                                        printable_text(g.enrolee_id),
                                        std::string(store::target_kind_name(g.target_kind)) + " " +
                                            printable_text(g.target),
                                        iso_time(g.created_at)};
      });
}

}  // namespace

// add_mef_list_commands adds "enrolee list", "enrolee show", "subscriber
// list" and "status".
void add_mef_list_commands(CLI::App* mef, CLI::App* enrolee, CLI::App* subscriber, Context& ctx) {
  static ListOpts o;
  CLI::App* list = enrolee->add_subcommand(
      "list", "List enrolees in enrolee-ID order with their current KeID (no key material)");
  list->add_option("--config", o.config, "TOML file with a [mef] table")->required();
  list->add_option("--state", o.state, "Only enrolees in this state")->check(CLI::IsMember({"active", "removed"}));
  add_paging_options(list, o.limit, o.after, "enrolees", "enrolee ID");
  add_json_flag(list, ctx);
  list->callback([&ctx] { ctx.run = [&ctx] { return run_list(ctx, o); }; });

  CLI::App* show = enrolee->add_subcommand("show", "Show one enrolee and its current enrolment (no key material)");
  show->add_option("--config", o.config, "TOML file with a [mef] table")->required();
  show->add_option("--enrolee-id", o.enrolee_id, "CSE-ID or AE-ID")->required();
  add_json_flag(show, ctx);
  show->callback([&ctx] { ctx.run = [&ctx] { return run_show(ctx, o); }; });

  CLI::App* subs = subscriber->add_subcommand(
      "list",
      "List GBA subscribers in IMPI order with their SQN, AMF, enrolee ID and Enrolment Target (the only NAF "
      "that may get their Ks_NAF) (no key material)");
  subs->add_option("--config", o.config, "TOML file with a [mef] table")->required();
  add_paging_options(subs, o.limit, o.after, "subscribers", "IMPI");
  add_json_flag(subs, ctx);
  subs->callback([&ctx] { ctx.run = [&ctx] { return run_subscriber_list(ctx, o); }; });

  CLI::App* status = mef->add_subcommand(
      "status", "Enrolee and enrolment counts and a database integrity check (exit 1 if it fails)");
  status->add_option("--config", o.config, "TOML file with a [mef] table")->required();
  add_json_flag(status, ctx);
  status->callback([&ctx] { ctx.run = [&ctx] { return run_status(ctx, o); }; });
}

}  // namespace m2msec::cli
