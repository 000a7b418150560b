// mef_handler.cc: MefService::handle on arbitrary requests and contexts
// (see handler_harness.h for the input format and the invariants).
#include "handler_store.h"
#include "m2msec/mef/mef.h"

using namespace m2msec;

namespace {

struct Mef {
  Mef() : store(fuzz::open_fuzz_store("mef")), pool(1) {
    fuzz::quiet();
    const std::int64_t now = service::now_unix();
    store::Enrolee e;
    e.enrolee_id = "/dev-1";
    e.kpm_id = "kpm-1";
    e.kpm = fuzz::fill(0x11);
    e.target = "maf.example.com";
    FUZZ_CHECK(store->mef().add_enrolee(e, now).has_value());
    store::Enrolee k;
    k.enrolee_id = "Cdev-2";
    k.kpm_id = "kpm-2";
    k.kpm = fuzz::fill(0x12);
    k.target_kind = store::TargetKind::kpsa;
    k.target = "/in-cse";
    FUZZ_CHECK(store->mef().add_enrolee(k, now).has_value());
    store::Enrolee c;
    c.enrolee_id = "/dev-3";
    c.auth_kind = store::AuthKind::cert;
    c.cert_subject = "dev-3.sp.example.com";
    c.cert_trust_anchor = "sha256:" + std::string(64, 'f');
    c.target = "maf.example.com";
    FUZZ_CHECK(store->mef().add_enrolee(c, now).has_value());
    mef::MefConfig cfg;
    cfg.listen.fqdn = "mef.example.com";
    cfg.sp_domain = "sp.example.com";
    cfg.mafs.push_back({"maf.example.com", "127.0.0.1:4000"});
    svc = std::make_unique<mef::MefService>(cfg, *store, pool);
    ids.psk = {"kpm-1", "kpm-2", "kpm-9", ""};
    ids.cert_dns = {{"maf.example.com"}, {"in-cse.sp.example.com"}, {"dev-3.sp.example.com"}, {}, {"maf2.example.com"}};
    ids.cert_uris = {{}, {"/dev-1"}, {}};
  }
  std::unique_ptr<store::Store> store;
  service::WorkerPool pool;
  std::unique_ptr<mef::MefService> svc;
  fuzz::Identities ids;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Mef* m = new Mef();  // lives for the process: the pool must outlive every job
  fuzz::drive(data, size, m->ids, [](const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply) {
    m->svc->handle(ctx, req, std::move(reply));
  });
  return 0;
}
