// gba_test.cc: the MEF as a GBA BSF (TS 33.220): subscribers (IMPI, K,
// OPc, SQN, AMF, enrolee ID and Enrolment Target) and bootstrapping
// sessions (B-TID -> Ks) in the MEF's store, on both engines
// (test_util.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>
#include <type_traits>

#include "test_util.h"

namespace m2msec::store {
namespace {

using testing::open_store;
using testing::secret_of;
using testing::TempDir;

constexpr std::int64_t kNow = 1'700'000'000;
const std::string kImpi = "001010123456789@ims.mnc001.mcc001.3gppnetwork.org";

// enrolee_of names a distinct enrolee for each test IMPI: "/dev-" and the
// IMPI with what a CSE-ID may not hold turned into '-'.
std::string enrolee_of(const std::string& impi) {
  std::string id = "/dev-" + impi.substr(0, 200);
  for (char& c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '~' && c != '/') c = '-';
  }
  return id;
}

GbaSubscriber subscriber(const std::string& impi, std::uint8_t fill = 0x11, std::uint64_t sqn = 0) {
  GbaSubscriber s;
  s.impi = impi;
  s.k = secret_of(fill, kGbaKeySize);
  s.opc = secret_of(static_cast<std::uint8_t>(fill + 1), kGbaKeySize);
  s.sqn = sqn;
  s.amf = 0x8000;
  s.enrolee_id = enrolee_of(impi);
  s.target_kind = TargetKind::maf;
  s.target = "maf.example.com";
  return s;
}

GbaBootstrap bootstrap(const std::string& b_tid, const std::string& impi, std::int64_t expires = kNow + 3600) {
  GbaBootstrap b;
  b.b_tid = b_tid;
  b.impi = impi;
  b.ks = secret_of(0x5a, kGbaKsSize);
  b.rand = std::vector<std::uint8_t>(kGbaKeySize, 0x77);
  b.expires_at = expires;
  return b;
}

class GbaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(path_);
    ASSERT_NE(store_, nullptr);
  }
  MefRepository& mef() { return store_->mef(); }
  TempDir dir_;
  std::string path_ = dir_.file("gba.db");
  std::unique_ptr<Store> store_;
};

TEST_F(GbaTest, AddGetAndList) {
  ASSERT_TRUE(mef().add_subscriber(subscriber(kImpi, 0x11, 41), kNow));
  Result<GbaSubscriber> s = mef().get_subscriber(kImpi);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_TRUE(s->k == secret_of(0x11, 16));
  EXPECT_TRUE(s->opc == secret_of(0x12, 16));
  EXPECT_EQ(s->sqn, 41u);
  EXPECT_EQ(s->amf, 0x8000);
  EXPECT_EQ(s->enrolee_id, enrolee_of(kImpi));
  EXPECT_EQ(s->target_kind, TargetKind::maf);
  EXPECT_EQ(s->target, "maf.example.com");
  EXPECT_EQ(s->created_at, kNow);
  EXPECT_EQ(mef().get_subscriber("nobody@ims.example.org").error().code(), Errc::not_found);

  for (const char* impi : {"c@ims.example.org", "a@ims.example.org"}) {
    ASSERT_TRUE(mef().add_subscriber(subscriber(impi), kNow + 1));
  }
  // A kpsa target: Enrolee B's CSE-ID.
  GbaSubscriber kpsa = subscriber("b@ims.example.org");
  kpsa.enrolee_id = "//sp.example.com/dev-b/ae-b";
  kpsa.target_kind = TargetKind::kpsa;
  kpsa.target = "/cse-b";
  ASSERT_TRUE(mef().add_subscriber(kpsa, kNow + 1));
  Result<std::vector<GbaSubscriberSummary>> page = mef().list_subscribers(Page{"", 2});
  ASSERT_TRUE(page) << page.error().message();
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].impi, kImpi);  // '0' sorts before 'a' (bytewise)
  EXPECT_EQ((*page)[0].sqn, 41u);
  EXPECT_EQ((*page)[0].amf, 0x8000);
  EXPECT_EQ((*page)[0].enrolee_id, enrolee_of(kImpi));
  EXPECT_EQ((*page)[0].target_kind, TargetKind::maf);
  EXPECT_EQ((*page)[0].target, "maf.example.com");
  EXPECT_EQ((*page)[1].impi, "a@ims.example.org");
  EXPECT_EQ((*page)[1].created_at, kNow + 1);
  page = mef().list_subscribers(Page{(*page)[1].impi, 10});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].impi, "b@ims.example.org");
  EXPECT_EQ((*page)[0].enrolee_id, "//sp.example.com/dev-b/ae-b");
  EXPECT_EQ((*page)[0].target_kind, TargetKind::kpsa);
  EXPECT_EQ((*page)[0].target, "/cse-b");
  EXPECT_EQ((*page)[1].impi, "c@ims.example.org");
  EXPECT_EQ((*page)[1].enrolee_id, "/dev-c-ims.example.org");
  EXPECT_EQ(mef().list_subscribers(Page{"", 0}).error().code(), Errc::invalid_argument);
  EXPECT_EQ(mef().list_subscribers(Page{"", kMaxPageLimit + 1}).error().code(), Errc::invalid_argument);
  // The summary is copyable: it holds no secret.
  static_assert(std::is_copy_constructible_v<GbaSubscriberSummary>);
}

TEST_F(GbaTest, AddRefusals) {
  ASSERT_TRUE(mef().add_subscriber(subscriber(kImpi), kNow));
  Status dup = mef().add_subscriber(subscriber(kImpi, 0x21), kNow);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), Errc::already_exists);
  EXPECT_NE(dup.error().detail().find("impi"), std::string::npos);
  // The first subscriber's keys stay.
  EXPECT_TRUE(mef().get_subscriber(kImpi)->k == secret_of(0x11, 16));

  for (const std::string& bad : {std::string(), std::string("has space@ims.example.org"), std::string("tab\t@x"),
                                 std::string("caf\xc3\xa9@x"), std::string(256, 'a')}) {
    EXPECT_EQ(mef().add_subscriber(subscriber(bad), kNow).error().code(), Errc::invalid_identifier) << bad;
  }
  EXPECT_TRUE(mef().add_subscriber(subscriber(std::string(255, 'a')), kNow));

  GbaSubscriber short_k = subscriber("k@x");
  short_k.k = secret_of(1, 15);
  EXPECT_EQ(mef().add_subscriber(short_k, kNow).error().code(), Errc::invalid_length);
  GbaSubscriber long_opc = subscriber("opc@x");
  long_opc.opc = secret_of(1, 32);
  EXPECT_EQ(mef().add_subscriber(long_opc, kNow).error().code(), Errc::invalid_length);
  GbaSubscriber no_opc = subscriber("noopc@x");
  no_opc.opc = SecretBytes();
  EXPECT_EQ(mef().add_subscriber(no_opc, kNow).error().code(), Errc::invalid_length);
  EXPECT_EQ(mef().add_subscriber(subscriber("sqn@x", 1, kSqnLimit), kNow).error().code(), Errc::invalid_argument);
  EXPECT_TRUE(mef().add_subscriber(subscriber("sqn@x", 1, kSqnLimit - 1), kNow));
}

// TS-0003 8.3.2.3: the GUSS names the one Enrolment Target that may get a
// NAF-specific key for the subscriber; m2msec keeps it as an enrolee's
// target, checked as validate_enrolee checks one.
TEST_F(GbaTest, EnroleeAndTargetRefusals) {
  for (const std::string& bad : {std::string(), std::string("dev-1"), std::string("/a/b/c"),
                                 std::string("/has space"), std::string("/") + std::string(255, 'd')}) {
    GbaSubscriber s = subscriber("bad-enrolee@x");
    s.enrolee_id = bad;
    Status st = mef().add_subscriber(s, kNow);
    ASSERT_FALSE(st) << bad;
    EXPECT_EQ(st.error().code(), Errc::invalid_identifier) << bad;
    EXPECT_NE(st.error().detail().find("enrolee_id"), std::string::npos) << st.error().detail();
  }
  struct BadTarget {
    TargetKind kind;
    std::string target;
    Errc want;
  };
  for (const BadTarget& b : {BadTarget{TargetKind::maf, "", Errc::invalid_fqdn},
                             BadTarget{TargetKind::maf, "not a host", Errc::invalid_fqdn},
                             BadTarget{TargetKind::maf, "/cse-b", Errc::invalid_fqdn},
                             BadTarget{TargetKind::kpsa, "", Errc::invalid_identifier},
                             BadTarget{TargetKind::kpsa, "maf.example.com", Errc::invalid_identifier},
                             BadTarget{static_cast<TargetKind>(7), "maf.example.com", Errc::invalid_argument}}) {
    GbaSubscriber s = subscriber("bad-target@x");
    s.target_kind = b.kind;
    s.target = b.target;
    Status st = mef().add_subscriber(s, kNow);
    ASSERT_FALSE(st) << b.target;
    EXPECT_EQ(st.error().code(), b.want) << b.target << ": " << st.error().detail();
  }
  EXPECT_EQ(mef().get_subscriber("bad-enrolee@x").error().code(), Errc::not_found);
  EXPECT_EQ(mef().get_subscriber("bad-target@x").error().code(), Errc::not_found);

  // One IMPI per enrolee: a second IMPI for the same enrolee is refused,
  // naming the enrolee ID; the IMPI is named when both collide.
  GbaSubscriber first = subscriber(kImpi);
  first.enrolee_id = "/dev-gba-1";
  ASSERT_TRUE(mef().add_subscriber(first, kNow));
  GbaSubscriber second = subscriber("second@x", 0x21);
  second.enrolee_id = "/dev-gba-1";
  second.target = "other-maf.example.com";
  Status dup = mef().add_subscriber(second, kNow);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), Errc::already_exists);
  EXPECT_NE(dup.error().detail().find("enrolee_id /dev-gba-1"), std::string::npos) << dup.error().detail();
  EXPECT_EQ(mef().get_subscriber("second@x").error().code(), Errc::not_found);
  GbaSubscriber both = subscriber(kImpi, 0x31);
  both.enrolee_id = "/dev-gba-1";
  Status dup_impi = mef().add_subscriber(both, kNow);
  ASSERT_FALSE(dup_impi);
  EXPECT_EQ(dup_impi.error().code(), Errc::already_exists);
  EXPECT_NE(dup_impi.error().detail().find("impi " + kImpi), std::string::npos) << dup_impi.error().detail();
  // Once the first is removed, the enrolee may have another IMPI.
  ASSERT_TRUE(mef().remove_subscriber(kImpi));
  ASSERT_TRUE(mef().add_subscriber(second, kNow));
  EXPECT_EQ(mef().get_subscriber("second@x")->target, "other-maf.example.com");
}

TEST_F(GbaTest, ImportIsAllOrNothingWithRowErrors) {
  ASSERT_TRUE(mef().add_subscriber(subscriber("existing@x"), kNow));
  std::vector<GbaSubscriber> rows;
  for (int i = 0; i < 500; ++i) rows.push_back(subscriber("imsi" + std::to_string(i) + "@x"));
  rows[99] = subscriber("imsi5@x");      // duplicate within the batch
  rows[199] = subscriber("existing@x");  // IMPI already in the database
  rows[299].k = secret_of(1, 8);         // invalid
  rows[399].impi = "bad impi";           // invalid
  rows[449].enrolee_id = rows[7].enrolee_id;           // enrolee duplicate within the batch
  rows[459].enrolee_id = enrolee_of("existing@x");     // enrolee already in the database
  rows[469].target = "not a host";                     // invalid target
  rows[479].enrolee_id = "not-an-entity-id";           // invalid enrolee ID
  std::vector<RowError> errors;
  Result<std::size_t> r = mef().import_subscribers(rows, kNow, &errors);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::import_rejected);
  ASSERT_EQ(errors.size(), 8u);
  EXPECT_EQ(errors[0].row, 100u);
  EXPECT_EQ(errors[0].error.code(), Errc::already_exists);
  EXPECT_NE(errors[0].error.detail().find("impi imsi5@x"), std::string::npos) << errors[0].error.detail();
  EXPECT_EQ(errors[1].row, 200u);
  EXPECT_EQ(errors[1].error.code(), Errc::already_exists);
  EXPECT_EQ(errors[2].row, 300u);
  EXPECT_EQ(errors[2].error.code(), Errc::invalid_length);
  EXPECT_EQ(errors[3].row, 400u);
  EXPECT_EQ(errors[3].error.code(), Errc::invalid_identifier);
  EXPECT_EQ(errors[4].row, 450u);
  EXPECT_EQ(errors[4].error.code(), Errc::already_exists);
  EXPECT_NE(errors[4].error.detail().find("enrolee_id " + rows[7].enrolee_id), std::string::npos)
      << errors[4].error.detail();
  EXPECT_EQ(errors[5].row, 460u);
  EXPECT_EQ(errors[5].error.code(), Errc::already_exists);
  EXPECT_NE(errors[5].error.detail().find("enrolee_id /dev-existing-x"), std::string::npos)
      << errors[5].error.detail();
  EXPECT_EQ(errors[6].row, 470u);
  EXPECT_EQ(errors[6].error.code(), Errc::invalid_fqdn);
  EXPECT_EQ(errors[7].row, 480u);
  EXPECT_EQ(errors[7].error.code(), Errc::invalid_identifier);
  EXPECT_EQ(mef().get_subscriber("imsi0@x").error().code(), Errc::not_found);  // nothing written

  rows[99] = subscriber("imsi99@x");
  rows[199] = subscriber("imsi199@x");
  rows[299] = subscriber("imsi299@x");
  rows[399] = subscriber("imsi399@x", 0x31, 7);
  for (std::size_t i : {449u, 459u, 469u, 479u}) rows[i] = subscriber("imsi" + std::to_string(i) + "@x");
  rows[399].target_kind = TargetKind::kpsa;
  rows[399].target = "/cse-b";
  errors.clear();
  Result<std::size_t> ok = mef().import_subscribers(rows, kNow, &errors);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(*ok, 500u);
  EXPECT_TRUE(errors.empty());
  Result<GbaSubscriber> last = mef().get_subscriber("imsi399@x");
  ASSERT_TRUE(last);
  EXPECT_TRUE(last->k == secret_of(0x31, 16));
  EXPECT_EQ(last->sqn, 7u);
  EXPECT_EQ(last->enrolee_id, "/dev-imsi399-x");
  EXPECT_EQ(last->target_kind, TargetKind::kpsa);
  EXPECT_EQ(last->target, "/cse-b");
}

TEST_F(GbaTest, AdvanceSqnReservesFreshSqns) {
  ASSERT_TRUE(mef().add_subscriber(subscriber(kImpi, 0x11, 10), kNow));
  Result<GbaSubscriber> a = mef().advance_sqn(kImpi, 1);
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->sqn, 11u);
  EXPECT_TRUE(a->k == secret_of(0x11, 16));
  EXPECT_TRUE(a->opc == secret_of(0x12, 16));
  EXPECT_EQ(a->amf, 0x8000);
  EXPECT_EQ(a->enrolee_id, enrolee_of(kImpi));  // the whole row, GUSS included
  EXPECT_EQ(a->target_kind, TargetKind::maf);
  EXPECT_EQ(a->target, "maf.example.com");
  Result<GbaSubscriber> b = mef().advance_sqn(kImpi, 32);  // TS 33.102 C.3.2: SEQ steps, IND in the low bits
  ASSERT_TRUE(b);
  EXPECT_EQ(b->sqn, 43u);
  EXPECT_EQ(mef().get_subscriber(kImpi)->sqn, 43u);  // durable, not only returned

  EXPECT_EQ(mef().advance_sqn("nobody@x", 1).error().code(), Errc::not_found);
  EXPECT_EQ(mef().advance_sqn(kImpi, 0).error().code(), Errc::invalid_argument);
  EXPECT_EQ(mef().advance_sqn(kImpi, kSqnLimit).error().code(), Errc::invalid_argument);
}

TEST_F(GbaTest, AdvanceSqnRefusesToReach2To48) {
  ASSERT_TRUE(mef().add_subscriber(subscriber(kImpi, 0x11, kSqnLimit - 3), kNow));
  ASSERT_EQ(mef().advance_sqn(kImpi, 2)->sqn, kSqnLimit - 1);
  Result<GbaSubscriber> over = mef().advance_sqn(kImpi, 1);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code(), Errc::invalid_argument);
  EXPECT_EQ(mef().get_subscriber(kImpi)->sqn, kSqnLimit - 1);  // unchanged
}

// Two stores on one database (two MEF processes) and four threads on each
// reserve SQNs at once: every SQN handed out is distinct, and together
// they are exactly the range the counter moved through.
TEST_F(GbaTest, ConcurrentAdvanceSqnNeverRepeats) {
  ASSERT_TRUE(mef().add_subscriber(subscriber(kImpi, 0x11, 1000), kNow));
  std::unique_ptr<Store> other = open_store(path_);
  ASSERT_NE(other, nullptr);
  constexpr int kThreads = 8, kEach = 40;
  std::vector<std::vector<std::uint64_t>> got(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    Store* s = t % 2 == 0 ? store_.get() : other.get();
    threads.emplace_back([&, s, t] {
      for (int i = 0; i < kEach; ++i) {
        Result<GbaSubscriber> r = s->mef().advance_sqn(kImpi, 1);
        if (!r) {
          errors[static_cast<std::size_t>(t)] = r.error().message();
          return;
        }
        got[static_cast<std::size_t>(t)].push_back(r->sqn);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  std::set<std::uint64_t> all;
  std::size_t n = 0;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_TRUE(errors[static_cast<std::size_t>(t)].empty()) << errors[static_cast<std::size_t>(t)];
    n += got[static_cast<std::size_t>(t)].size();
    all.insert(got[static_cast<std::size_t>(t)].begin(), got[static_cast<std::size_t>(t)].end());
  }
  EXPECT_EQ(n, static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(all.size(), n) << "an SQN was handed out twice";
  EXPECT_EQ(*all.begin(), 1001u);
  EXPECT_EQ(*all.rbegin(), 1000u + n);
  EXPECT_EQ(mef().get_subscriber(kImpi)->sqn, 1000u + n);
}

TEST_F(GbaTest, SetSqnOnlyRaises) {
  ASSERT_TRUE(mef().add_subscriber(subscriber(kImpi, 0x11, 100), kNow));
  ASSERT_TRUE(mef().set_sqn(kImpi, 500));
  EXPECT_EQ(mef().get_subscriber(kImpi)->sqn, 500u);
  ASSERT_TRUE(mef().set_sqn(kImpi, 200));  // lower: kept, still success
  EXPECT_EQ(mef().get_subscriber(kImpi)->sqn, 500u);
  ASSERT_TRUE(mef().set_sqn(kImpi, 500));  // equal: kept
  EXPECT_EQ(mef().get_subscriber(kImpi)->sqn, 500u);
  EXPECT_EQ(mef().advance_sqn(kImpi, 1)->sqn, 501u);
  EXPECT_EQ(mef().set_sqn("nobody@x", 5).error().code(), Errc::not_found);
  EXPECT_EQ(mef().set_sqn(kImpi, kSqnLimit).error().code(), Errc::invalid_argument);
  ASSERT_TRUE(mef().set_sqn(kImpi, kSqnLimit - 1));
  EXPECT_EQ(mef().get_subscriber(kImpi)->sqn, kSqnLimit - 1);
}

TEST_F(GbaTest, BootstrapPutAndFind) {
  ASSERT_TRUE(mef().add_subscriber(subscriber(kImpi), kNow));
  const std::string b_tid = "Zm9vYmFyYmF6cXV4@bsf.mnc001.mcc001.pub.3gppnetwork.org";
  ASSERT_TRUE(mef().put_bootstrap(bootstrap(b_tid, kImpi, kNow + 100), kNow));
  Result<GbaBootstrap> b = mef().find_bootstrap(b_tid, kNow + 99);
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(b->impi, kImpi);
  EXPECT_TRUE(b->ks == secret_of(0x5a, 32));
  EXPECT_EQ(b->rand, std::vector<std::uint8_t>(16, 0x77));
  EXPECT_EQ(b->created_at, kNow);
  EXPECT_EQ(b->expires_at, kNow + 100);
  EXPECT_EQ(mef().find_bootstrap(b_tid, kNow + 100).error().code(), Errc::key_expired);
  EXPECT_EQ(mef().find_bootstrap("unknown@bsf", kNow).error().code(), Errc::not_found);
}

TEST_F(GbaTest, BootstrapRefusals) {
  ASSERT_TRUE(mef().add_subscriber(subscriber(kImpi), kNow));
  ASSERT_TRUE(mef().put_bootstrap(bootstrap("t1@bsf", kImpi), kNow));
  Status dup = mef().put_bootstrap(bootstrap("t1@bsf", kImpi), kNow);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), Errc::already_exists);
  EXPECT_EQ(mef().put_bootstrap(bootstrap("t2@bsf", "nobody@x"), kNow).error().code(), Errc::not_found);
  EXPECT_EQ(mef().put_bootstrap(bootstrap("t2@bsf", kImpi, kNow), kNow).error().code(), Errc::invalid_argument);
  EXPECT_EQ(mef().put_bootstrap(bootstrap("", kImpi), kNow).error().code(), Errc::invalid_identifier);
  EXPECT_EQ(mef().put_bootstrap(bootstrap("t 2@bsf", kImpi), kNow).error().code(), Errc::invalid_identifier);
  EXPECT_EQ(mef().put_bootstrap(bootstrap(std::string(256, 't'), kImpi), kNow).error().code(),
            Errc::invalid_identifier);
  GbaBootstrap short_ks = bootstrap("t3@bsf", kImpi);
  short_ks.ks = secret_of(1, 16);
  EXPECT_EQ(mef().put_bootstrap(short_ks, kNow).error().code(), Errc::invalid_length);
  GbaBootstrap long_rand = bootstrap("t4@bsf", kImpi);
  long_rand.rand.push_back(0);
  EXPECT_EQ(mef().put_bootstrap(long_rand, kNow).error().code(), Errc::invalid_length);
  EXPECT_EQ(mef().find_bootstrap("t2@bsf", kNow).error().code(), Errc::not_found);  // none of them written
}

TEST_F(GbaTest, RemoveSubscriberTakesItsBootstraps) {
  ASSERT_TRUE(mef().add_subscriber(subscriber(kImpi), kNow));
  ASSERT_TRUE(mef().add_subscriber(subscriber("other@x"), kNow));
  ASSERT_TRUE(mef().put_bootstrap(bootstrap("t1@bsf", kImpi), kNow));
  ASSERT_TRUE(mef().put_bootstrap(bootstrap("t2@bsf", kImpi), kNow));
  ASSERT_TRUE(mef().put_bootstrap(bootstrap("t3@bsf", "other@x"), kNow));
  ASSERT_TRUE(mef().remove_subscriber(kImpi));
  EXPECT_EQ(mef().get_subscriber(kImpi).error().code(), Errc::not_found);
  EXPECT_EQ(mef().find_bootstrap("t1@bsf", kNow).error().code(), Errc::not_found);
  EXPECT_EQ(mef().find_bootstrap("t2@bsf", kNow).error().code(), Errc::not_found);
  EXPECT_TRUE(mef().find_bootstrap("t3@bsf", kNow));
  EXPECT_EQ(mef().remove_subscriber(kImpi).error().code(), Errc::not_found);
  EXPECT_EQ(mef().advance_sqn(kImpi, 1).error().code(), Errc::not_found);
  // The IMPI is free again (unlike a KpmID, nothing keeps it reserved).
  EXPECT_TRUE(mef().add_subscriber(subscriber(kImpi), kNow));
}

// Removing a subscriber revokes its Ks_NAFs everywhere: in the same
// transaction, one "ke" entry per live B-TID names the holder that may have
// fetched a Ks_NAF on Zn (the target: a MAF's FQDN without case, an Entity
// B's CSE-ID), so the MAF drops that Km and Entity B that Kpsa. An expired
// bootstrap needs no entry.
TEST_F(GbaTest, RemoveSubscriberRevokesItsLiveBTids) {
  const std::int64_t now = std::time(nullptr);
  GbaSubscriber maf = subscriber(kImpi);
  maf.target = "MAF.Example.com";
  GbaSubscriber cse = subscriber("other@x", 0x21);
  cse.target_kind = TargetKind::kpsa;
  cse.target = "/in-cse";
  ASSERT_TRUE(mef().add_subscriber(maf, now));
  ASSERT_TRUE(mef().add_subscriber(cse, now));
  ASSERT_TRUE(mef().put_bootstrap(bootstrap("live@bsf", kImpi, now + 3600), now));
  ASSERT_TRUE(mef().put_bootstrap(bootstrap("old@bsf", kImpi, now - 10), now - 100));
  ASSERT_TRUE(mef().put_bootstrap(bootstrap("cse@bsf", "other@x", now + 60), now));
  ASSERT_TRUE(mef().remove_subscriber(kImpi));
  ASSERT_TRUE(mef().remove_subscriber("other@x"));
  auto page = store_->revocations().after(0, "", kMaxRevocationPage);
  ASSERT_TRUE(page) << page.error().message();
  ASSERT_EQ(page->entries.size(), 2u);
  const Revocation& a = page->entries[0];
  EXPECT_EQ(a.kind, RevokedKind::ke);
  EXPECT_EQ(a.key_id, "live@bsf");
  EXPECT_EQ(a.entity_id, maf.enrolee_id);
  EXPECT_EQ(a.holder, "maf.example.com");
  EXPECT_EQ(a.expires_at, now + 3600);
  const Revocation& b = page->entries[1];
  EXPECT_EQ(b.key_id, "cse@bsf");
  EXPECT_EQ(b.holder, "/in-cse");
  // The MAF's feed shows it only its own entry.
  auto mine = store_->revocations().after(0, "maf.example.com", kMaxRevocationPage);
  ASSERT_TRUE(mine);
  ASSERT_EQ(mine->entries.size(), 1u);
  EXPECT_EQ(mine->entries[0].key_id, "live@bsf");
}

TEST_F(GbaTest, PurgeDeletesExpiredBootstraps) {
  ASSERT_TRUE(mef().add_subscriber(subscriber(kImpi), kNow));
  ASSERT_TRUE(mef().put_bootstrap(bootstrap("old1@bsf", kImpi, kNow + 10), kNow));
  ASSERT_TRUE(mef().put_bootstrap(bootstrap("old2@bsf", kImpi, kNow + 20), kNow));
  ASSERT_TRUE(mef().put_bootstrap(bootstrap("new@bsf", kImpi, kNow + 21), kNow));
  Result<std::size_t> purged = mef().purge_expired(kNow + 20);
  ASSERT_TRUE(purged) << purged.error().message();
  EXPECT_EQ(*purged, 2u);
  std::unique_ptr<sql::Connection> raw = testing::raw_connection(path_);
  ASSERT_TRUE(raw);
  Result<sql::Stmt> q = raw->prepare("SELECT count(*) FROM gba_bootstraps");
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->step().value_or(false));
  EXPECT_EQ(q->column_int64(0), 1);
  EXPECT_TRUE(mef().find_bootstrap("new@bsf", kNow + 20));
  EXPECT_TRUE(mef().get_subscriber(kImpi));  // subscribers do not expire
}

// K, OPc and Ks are sealed with AAD bound to their cell: not in the clear
// anywhere the database keeps them, and a blob moved to another cell does
// not open.
TEST_F(GbaTest, SecretsAreSealedAtRest) {
  const std::vector<std::uint8_t> k = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x23, 0x45, 0x67,
                                       0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98};
  std::vector<std::uint8_t> opc = k, ks(32);
  std::reverse(opc.begin(), opc.end());
  for (std::size_t i = 0; i < ks.size(); ++i) ks[i] = static_cast<std::uint8_t>(0xa0 + i);
  GbaSubscriber s = subscriber(kImpi);
  s.k = SecretBytes(k);
  s.opc = SecretBytes(opc);
  ASSERT_TRUE(mef().add_subscriber(s, kNow));
  ASSERT_TRUE(mef().add_subscriber(subscriber("other@x"), kNow));
  GbaBootstrap b = bootstrap("t1@bsf", kImpi);
  b.ks = SecretBytes(ks);
  ASSERT_TRUE(mef().put_bootstrap(b, kNow));
  store_.reset();  // checkpoints the WAL into the main file on close (SQLite)

  const std::vector<std::uint8_t>* plain[] = {&k, &opc, &ks};
  std::unique_ptr<sql::Connection> raw = testing::raw_connection(path_);
  ASSERT_TRUE(raw);
  if (testing::kPostgres) {
    // What the server holds: the columns as stored.
    Result<sql::Stmt> q = raw->prepare(
        "SELECT s.k, s.opc, b.ks FROM gba_subscribers AS s JOIN gba_bootstraps AS b ON b.impi = s.impi");
    ASSERT_TRUE(q);
    ASSERT_TRUE(q->step().value_or(false));
    for (int col = 0; col < 3; ++col) {
      const std::vector<std::uint8_t> stored = q->column_blob(col);
      const std::vector<std::uint8_t>& p = *plain[col];
      EXPECT_EQ(stored.size(), p.size() + kSealOverhead);
      EXPECT_EQ(std::search(stored.begin(), stored.end(), p.begin(), p.end()), stored.end()) << col;
    }
  } else {
    for (const std::string& f : {path_, path_ + "-wal"}) {
      std::ifstream in(f, std::ios::binary);
      const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      for (const std::vector<std::uint8_t>* p : plain) {
        const auto it = std::search(bytes.begin(), bytes.end(), p->begin(), p->end(),
                                    [](char a, std::uint8_t c) { return static_cast<std::uint8_t>(a) == c; });
        EXPECT_EQ(it, bytes.end()) << f;
      }
    }
  }
  // Another row's K, or this row's OPc, in the K cell: the tag check fails.
  ASSERT_TRUE(raw->exec("UPDATE gba_subscribers SET k = (SELECT k FROM gba_subscribers WHERE impi = 'other@x') "
                        "WHERE impi = '" + kImpi + "'"));
  ASSERT_TRUE(raw->exec("UPDATE gba_subscribers SET k = opc WHERE impi = 'other@x'"));
  raw.reset();
  store_ = open_store(path_);
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(mef().get_subscriber(kImpi).error().code(), Errc::decrypt_failed);
  EXPECT_EQ(mef().get_subscriber("other@x").error().code(), Errc::decrypt_failed);
  EXPECT_EQ(mef().advance_sqn(kImpi, 1).error().code(), Errc::decrypt_failed);
  Result<GbaBootstrap> ok = mef().find_bootstrap("t1@bsf", kNow);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_TRUE(ok->ks == SecretBytes(ks));
}

}  // namespace
}  // namespace m2msec::store
