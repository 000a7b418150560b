// maf_handler.cc: MafService::handle on arbitrary requests and contexts
// (see handler_harness.h for the input format and the invariants).
#include "handler_store.h"
#include "m2msec/maf/maf.h"

using namespace m2msec;

namespace {

struct Maf {
  Maf() : store(fuzz::open_fuzz_store("maf")), pool(1) {
    fuzz::quiet();
    const std::int64_t now = service::now_unix();
    store::MafClient c;
    c.km_id = KeyId::parse(KeyIdKind::km, "0a0b0c0d@maf.example.com")->canonical();
    c.km = fuzz::fill(0x22);
    c.entity_id = "/dev-1";
    c.expires_at = now + 86400;
    FUZZ_CHECK(store->maf().register_client(c, now).has_value());
    store::KcKey k;
    k.kc_id = KeyId::parse(KeyIdKind::kc, "ZGVmZ2hpamtsbW5vcHFycw==@maf.example.com")->canonical();
    k.kc = fuzz::fill(0x33);
    k.entity_a_id = "/dev-1";
    k.targets = {"/in-cse"};
    k.expires_at = now + 86400;
    FUZZ_CHECK(store->maf().register_kc(k, now).has_value());
    maf::MafConfig cfg;
    cfg.listen.fqdn = "maf.example.com";
    cfg.sp_domain = "sp.example.com";
    cfg.admin_fqdn = "sp.example.com";
    // No MEF: a KeID identity is refused without a network call.
    svc = std::make_unique<maf::MafService>(cfg, *store, pool, nullptr);
    ids.psk = {"0a0b0c0d@maf.example.com", "ffff@maf.example.com", "AAECAwQFBgcICQoLDA0ODw==@mef.example.com", ""};
    ids.cert_dns = {{"in-cse.sp.example.com"}, {"mn-cse.sp.example.com"}, {"maf.example.com"}, {}};
    ids.cert_uris = {{}, {"/dev-1"}};
  }
  std::unique_ptr<store::Store> store;
  service::WorkerPool pool;
  std::unique_ptr<maf::MafService> svc;
  fuzz::Identities ids;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Maf* m = new Maf();
  fuzz::drive(data, size, m->ids, [](const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply) {
    m->svc->handle(ctx, req, std::move(reply));
  });
  return 0;
}
