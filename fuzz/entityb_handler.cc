// entityb_handler.cc: EntityB's session binding and handle() on arbitrary
// requests and contexts (see handler_harness.h for the input format and
// the invariants), with the CSE behind it on a real SQLite store: the
// resource tree fills up as the fuzzer creates AEs, containers, ACPs and
// groups, and every request goes through the access decision; that is part
// of what it explores.
#include "handler_harness.h"
#include "handler_store.h"
#include "m2msec/cse/cse.h"
#include "m2msec/entityb/entityb.h"

using namespace m2msec;

namespace {

struct Cse {
  Cse() : pool(1) {
    fuzz::quiet();
    entityb::CseConfig cfg;
    cfg.listen.fqdn = "in-cse.sp.example.com";
    cfg.sp_domain = "sp.example.com";
    cfg.cse_id = "/in-cse";
    cfg.csebase = "in-name";
    std::map<std::string, entityb::CachedKey> provisioned;
    provisioned[KeyId::parse(KeyIdKind::kpsa, "dev-5.kpsa@sp.example.com")->canonical()] =
        entityb::CachedKey{SecretBytes(std::vector<std::uint8_t>(32, 0x55)), "/dev-5", 0, false, "", "", 0};
    svc = std::make_unique<entityb::EntityB>(cfg, pool, nullptr, std::move(provisioned));
    db = fuzz::open_fuzz_store("cse");
    cse::Settings cs;
    cs.cse_id = cfg.cse_id;
    cs.csebase = cfg.csebase;
    cs.sp_id = cfg.sp_domain;
    cs.max_children = 64;
    auto opened = cse::Cse::open(cs, db->resources(), 1767225600);
    FUZZ_CHECK(opened.has_value());
    tree = std::move(*opened);
    svc->set_next(entityb::local_cse(*tree, pool));
    ids.psk = {"dev-5.kpsa@sp.example.com", "other@sp.example.com", ""};
    ids.cert_dns = {{"mn-cse.sp.example.com"}, {}, {"in-cse.sp.example.com", "x.sp.example.com"}};
    ids.cert_uris = {{}, {"Cae-1"}, {"/in-cse/Cae-2"}};
  }
  service::WorkerPool pool;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<cse::Cse> tree;
  std::unique_ptr<entityb::EntityB> svc;
  fuzz::Identities ids;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Cse* c = new Cse();
  fuzz::drive(data, size, c->ids, [](const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply) {
    // The listener binds the session once; do the same here.
    service::AuthContext bound;
    bound.peer = ctx->peer;
    bound.key_id = ctx->key_id;
    bound.listener = ctx->listener;
    c->svc->on_session_start(bound);
    c->svc->handle(std::make_shared<const service::AuthContext>(std::move(bound)), req, std::move(reply));
  });
  return 0;
}
