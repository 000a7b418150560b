// resource_test.cc: the resource tree of the CSE behind Entity B (TS-0001
// clause 9.6; ResourceRepository, table cse_resources) on both engines
// (test_util.h): every refusal of create, the lookups and listings, update,
// removing a subtree, a container's oldest instance, and that the tree
// survives reopening the store.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace m2msec::store {
namespace {

using testing::open_store;
using testing::TempDir;

constexpr std::int64_t kNow = 1'700'000'000;

// TS-0004 m2m:resourceType values.
constexpr int kAe = 2;
constexpr int kContainer = 3;
constexpr int kCseBase = 5;
constexpr int kContentInstance = 4;

ResourceRecord resource(const std::string& ri, const std::string& pi, const std::string& rn, int ty,
                        std::int64_t created_at = kNow) {
  return ResourceRecord{ri, pi, rn, ty, R"({"rn":")" + rn + R"("})", created_at};
}

// ris lists the resource IDs of |rows|, or the error.
std::vector<std::string> ris(const Result<std::vector<ResourceRecord>>& rows) {
  if (!rows) return {"error: " + rows.error().message()};
  std::vector<std::string> out;
  for (const ResourceRecord& r : *rows) out.push_back(r.ri);
  return out;
}

// expect_refused checks that |r| failed with |code| and a message that
// holds |says|.
template <typename T>
void expect_refused(const Result<T>& r, Errc code, const std::string& says) {
  ASSERT_FALSE(r) << "expected " << says;
  EXPECT_EQ(r.error().code(), code) << r.error().message();
  EXPECT_NE(r.error().message().find(says), std::string::npos) << r.error().message();
}

class ResourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(path_);
    ASSERT_NE(store_, nullptr);
    // The CSEBase and one AE with one container: the tree every test
    // starts from.
    ASSERT_TRUE(repo().create(resource("cb1", "", "cse-in", kCseBase)));
    ASSERT_TRUE(repo().create(resource("ae1", "cb1", "lamp", kAe)));
    ASSERT_TRUE(repo().create(resource("cnt1", "ae1", "state", kContainer)));
  }
  ResourceRepository& repo() { return store_->resources(); }
  std::size_t count(const std::string& pi, int ty = 0) { return repo().count_children(pi, ty).value_or(999); }

  TempDir dir_;
  std::string path_ = dir_.file("cse.db");
  std::unique_ptr<Store> store_;
};

TEST_F(ResourceTest, CreateAndGetKeepEveryField) {
  ResourceRecord r = resource("cin-7", "cnt1", "reading", kContentInstance, kNow + 5);
  r.attributes = R"({"con":"21.5 °C","cnf":"text/plain:0","lbl":["a","b"]})";
  ASSERT_TRUE(repo().create(r));
  Result<ResourceRecord> got = repo().get("cin-7");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->ri, "cin-7");
  EXPECT_EQ(got->pi, "cnt1");
  EXPECT_EQ(got->rn, "reading");
  EXPECT_EQ(got->ty, kContentInstance);
  EXPECT_EQ(got->attributes, r.attributes);
  EXPECT_EQ(got->created_at, kNow + 5);
  // The CSEBase reads back with the API's "" for its missing parent.
  Result<ResourceRecord> root = repo().get("cb1");
  ASSERT_TRUE(root) << root.error().message();
  EXPECT_EQ(root->pi, "");
  EXPECT_EQ(root->ty, kCseBase);
}

TEST_F(ResourceTest, GetOfAnUnknownOrUnstorableIdIsNotFound) {
  for (const std::string& ri :
       std::vector<std::string>{"nope", "", "CB1", "cb1 ", std::string("cb1\0", 4), std::string("\xff\xfe")}) {
    Result<ResourceRecord> got = repo().get(ri);
    ASSERT_FALSE(got) << ri;
    EXPECT_EQ(got.error().code(), Errc::not_found);
  }
}

// "Errc::invalid_argument if ri or rn is empty, ... or ty is not
// positive": nothing is written.
TEST_F(ResourceTest, CreateRefusesEmptyIdsNamesAndTypesThatAreNotPositive) {
  expect_refused(repo().create(resource("", "cnt1", "x", kContentInstance)), Errc::invalid_argument, "ri is empty");
  expect_refused(repo().create(resource("cin", "cnt1", "", kContentInstance)), Errc::invalid_argument, "rn is empty");
  expect_refused(repo().create(resource("cin", "cnt1", "x", 0)), Errc::invalid_argument, "not positive");
  expect_refused(repo().create(resource("cin", "cnt1", "x", -4)), Errc::invalid_argument, "not positive");
  EXPECT_EQ(count("cnt1"), 0u);
  EXPECT_FALSE(repo().get("cin"));
}

// Both engines store the same things: an ri, pi or rn that is not
// printable UTF-8 (PostgreSQL refuses ill-formed UTF-8 and NUL outright),
// and attributes with a NUL byte, are refused before the database sees
// them, and the refusal does not quote them.
TEST_F(ResourceTest, CreateRefusesUnprintableNamesAndANulInTheAttributes) {
  expect_refused(repo().create(resource("c\nin", "cnt1", "x", kContentInstance)), Errc::invalid_argument, "ri");
  expect_refused(repo().create(resource("cin", "cnt1", "x\xff", kContentInstance)), Errc::invalid_argument, "rn");
  expect_refused(repo().create(resource("cin", std::string("cnt1\0", 5), "x", kContentInstance)),
                 Errc::invalid_argument, "pi");
  ResourceRecord nul = resource("cin", "cnt1", "x", kContentInstance);
  nul.attributes = std::string("{\"con\":\"a\0b\"}", 14);
  expect_refused(repo().create(nul), Errc::invalid_argument, "NUL");
  Status quoted = repo().create(resource("cin", "cnt1", "\x1b[2Jevil", kContentInstance));
  ASSERT_FALSE(quoted);
  EXPECT_EQ(quoted.error().message().find("evil"), std::string::npos) << quoted.error().message();
  EXPECT_EQ(count("cnt1"), 0u);
}

// "Errc::not_found if pi names no resource".
TEST_F(ResourceTest, CreateUnderAMissingParentIsNotFound) {
  expect_refused(repo().create(resource("cin", "cnt9", "x", kContentInstance)), Errc::not_found, "cnt9");
  // A resource cannot be its own parent: it does not exist yet.
  expect_refused(repo().create(resource("self", "self", "x", kContainer)), Errc::not_found, "self");
  // Parents are compared exactly.
  expect_refused(repo().create(resource("cin", "CNT1", "x", kContentInstance)), Errc::not_found, "CNT1");
  EXPECT_FALSE(repo().get("cin"));
  EXPECT_FALSE(repo().get("self"));
}

// "Errc::already_exists if the ri is taken": anywhere in the tree.
TEST_F(ResourceTest, ADuplicateResourceIdIsAlreadyExists) {
  expect_refused(repo().create(resource("cnt1", "ae1", "other-name", kContainer)), Errc::already_exists,
                 "ri cnt1 is taken");
  expect_refused(repo().create(resource("cnt1", "cb1", "elsewhere", kContainer)), Errc::already_exists,
                 "ri cnt1 is taken");
  Result<ResourceRecord> kept = repo().get("cnt1");
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->rn, "state");
  EXPECT_EQ(kept->pi, "ae1");
}

// "... or the parent already has a child named rn": names are unique
// among siblings only, and compared exactly.
TEST_F(ResourceTest, ADuplicateNameUnderOneParentIsAlreadyExists) {
  expect_refused(repo().create(resource("cnt2", "ae1", "state", kContainer)), Errc::already_exists,
                 "parent ae1 already has a child named state");
  // Another type does not make the name free.
  expect_refused(repo().create(resource("cin2", "ae1", "state", kContentInstance)), Errc::already_exists,
                 "already has a child named state");
  EXPECT_FALSE(repo().get("cnt2"));
  EXPECT_TRUE(repo().create(resource("cnt2", "cb1", "state", kContainer)));  // another parent
  EXPECT_TRUE(repo().create(resource("cnt3", "ae1", "State", kContainer)));  // another name
  EXPECT_EQ(count("ae1"), 2u);
}

// Only one resource is without a parent: a second root is already_exists
// (and a root reusing a taken ri says so).
TEST_F(ResourceTest, ASecondRootIsAlreadyExists) {
  expect_refused(repo().create(resource("cb2", "", "cse-two", kCseBase)), Errc::already_exists, "root");
  expect_refused(repo().create(resource("cb2", "", "cse-in", kCseBase)), Errc::already_exists, "root");
  expect_refused(repo().create(resource("ae1", "", "cse-two", kCseBase)), Errc::already_exists, "ri ae1 is taken");
  EXPECT_FALSE(repo().get("cb2"));
  EXPECT_EQ(count(""), 1u);
  // Once the root is gone (with its whole tree), a new one may be made.
  ASSERT_EQ(repo().remove("cb1").value_or(0), 3u);
  EXPECT_TRUE(repo().create(resource("cb2", "", "cse-two", kCseBase)));
}

TEST_F(ResourceTest, ChildFindsByParentAndExactName) {
  Result<ResourceRecord> c = repo().child("ae1", "state");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->ri, "cnt1");
  // The top level ("") holds the CSEBase: how a path's first segment
  // resolves.
  Result<ResourceRecord> root = repo().child("", "cse-in");
  ASSERT_TRUE(root) << root.error().message();
  EXPECT_EQ(root->ri, "cb1");
  for (const auto& [pi, rn] : std::vector<std::pair<std::string, std::string>>{
           {"ae1", "State"}, {"ae1", "stat"}, {"cb1", "state"}, {"nope", "state"}, {"", "lamp"}, {"ae1", ""},
           {"ae1", "\xff"}, {"\xff", "state"}}) {
    Result<ResourceRecord> none = repo().child(pi, rn);
    ASSERT_FALSE(none) << pi << "/" << rn;
    EXPECT_EQ(none.error().code(), Errc::not_found);
  }
}

// "oldest first": by created_at, then in the order of creation, which is
// not the order of the ri (z... was made before a... in the same second).
TEST_F(ResourceTest, ChildrenAreOldestFirstFilteredByTypeAndLimited) {
  ASSERT_TRUE(repo().create(resource("z-cin", "cnt1", "r1", kContentInstance, kNow + 10)));
  ASSERT_TRUE(repo().create(resource("a-cin", "cnt1", "r2", kContentInstance, kNow + 10)));
  ASSERT_TRUE(repo().create(resource("m-cin", "cnt1", "r3", kContentInstance, kNow + 5)));
  ASSERT_TRUE(repo().create(resource("sub", "cnt1", "sub", kContainer, kNow + 7)));
  ASSERT_TRUE(repo().create(resource("b-cin", "cnt1", "r4", kContentInstance, kNow + 20)));
  ASSERT_TRUE(repo().create(resource("deep", "sub", "r1", kContentInstance, kNow)));  // a grandchild

  using V = std::vector<std::string>;
  EXPECT_EQ(ris(repo().children("cnt1", 0, 100)), (V{"m-cin", "sub", "z-cin", "a-cin", "b-cin"}));
  EXPECT_EQ(ris(repo().children("cnt1", kContentInstance, 100)),
            (V{"m-cin", "z-cin", "a-cin", "b-cin"}));
  EXPECT_EQ(ris(repo().children("cnt1", kContentInstance, 2)), (V{"m-cin", "z-cin"}));
  EXPECT_EQ(ris(repo().children("cnt1", kContainer, 100)), (V{"sub"}));
  EXPECT_EQ(ris(repo().children("cnt1", kAe, 100)), V{});
  EXPECT_EQ(ris(repo().children("cnt1", 0, SIZE_MAX)).size(), 5u);
  EXPECT_EQ(ris(repo().children("", 0, 10)), (V{"cb1"}));
  // Rows come back whole.
  Result<std::vector<ResourceRecord>> rows = repo().children("cnt1", kContainer, 1);
  ASSERT_TRUE(rows && rows->size() == 1);
  EXPECT_EQ((*rows)[0].pi, "cnt1");
  EXPECT_EQ((*rows)[0].rn, "sub");
  EXPECT_EQ((*rows)[0].created_at, kNow + 7);
  // A limit of 0 returns none; an unknown parent has no children; a
  // negative type is refused.
  Result<std::vector<ResourceRecord>> none = repo().children("cnt1", 0, 0);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(ris(repo().children("nope", 0, 10)), V{});
  expect_refused(repo().children("cnt1", -1, 10), Errc::invalid_argument, "negative");
}

TEST_F(ResourceTest, CountChildrenByType) {
  ASSERT_TRUE(repo().create(resource("cin1", "cnt1", "r1", kContentInstance)));
  ASSERT_TRUE(repo().create(resource("cin2", "cnt1", "r2", kContentInstance)));
  ASSERT_TRUE(repo().create(resource("sub", "cnt1", "sub", kContainer)));
  ASSERT_TRUE(repo().create(resource("deep", "sub", "r1", kContentInstance)));
  EXPECT_EQ(count("cnt1"), 3u);
  EXPECT_EQ(count("cnt1", kContentInstance), 2u);
  EXPECT_EQ(count("cnt1", kContainer), 1u);
  EXPECT_EQ(count("cnt1", kAe), 0u);
  EXPECT_EQ(count("sub"), 1u);
  EXPECT_EQ(count(""), 1u);
  EXPECT_EQ(count("nope"), 0u);
  expect_refused(repo().count_children("cnt1", -3), Errc::invalid_argument, "negative");
}

TEST_F(ResourceTest, UpdateReplacesTheAttributesOnly) {
  ASSERT_TRUE(repo().update("cnt1", R"({"mni":3})"));
  Result<ResourceRecord> got = repo().get("cnt1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->attributes, R"({"mni":3})");
  EXPECT_EQ(got->rn, "state");
  EXPECT_EQ(got->pi, "ae1");
  EXPECT_EQ(got->created_at, kNow);
  EXPECT_EQ(repo().get("ae1")->attributes, R"({"rn":"lamp"})");  // others untouched
  expect_refused(repo().update("cnt9", "{}"), Errc::not_found, "cnt9");
  expect_refused(repo().update("", "{}"), Errc::not_found, "resource");
  expect_refused(repo().update("cnt1", std::string("{\0}", 3)), Errc::invalid_argument, "NUL");
  EXPECT_EQ(repo().get("cnt1")->attributes, R"({"mni":3})");
}

// "replace is update if the stored attributes are still |expected|":
// a write based on an older read never lands.
TEST_F(ResourceTest, ReplaceOnlyOverWhatWasRead) {
  const std::string before = repo().get("cnt1")->attributes;
  Result<bool> r = repo().replace("cnt1", before, R"({"mni":4})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(*r);
  // A second writer that read |before| too: refused, nothing changed.
  r = repo().replace("cnt1", before, R"({"mni":9})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(*r);
  EXPECT_EQ(repo().get("cnt1")->attributes, R"({"mni":4})");
  r = repo().replace("cnt9", "{}", "{}");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::not_found);
  r = repo().replace("cnt1", R"({"mni":4})", std::string("{\0}", 3));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::invalid_argument);
}

// "remove deletes |ri| and every resource below it ... and returns how
// many went".
TEST_F(ResourceTest, RemoveTakesTheSubtreeAndCountsIt) {
  ASSERT_TRUE(repo().create(resource("cin1", "cnt1", "r1", kContentInstance)));
  ASSERT_TRUE(repo().create(resource("cin2", "cnt1", "r2", kContentInstance)));
  ASSERT_TRUE(repo().create(resource("sub", "cnt1", "sub", kContainer)));
  ASSERT_TRUE(repo().create(resource("deep", "sub", "r1", kContentInstance)));
  ASSERT_TRUE(repo().create(resource("cnt2", "ae1", "other", kContainer)));
  ASSERT_TRUE(repo().create(resource("ae2", "cb1", "sensor", kAe)));
  ASSERT_TRUE(repo().create(resource("cnt3", "ae2", "state", kContainer)));

  Result<std::size_t> removed = repo().remove("cnt1");
  ASSERT_TRUE(removed) << removed.error().message();
  EXPECT_EQ(*removed, 5u);  // cnt1, cin1, cin2, sub, deep
  for (const char* gone : {"cnt1", "cin1", "cin2", "sub", "deep"}) {
    Result<ResourceRecord> r = repo().get(gone);
    ASSERT_FALSE(r) << gone;
    EXPECT_EQ(r.error().code(), Errc::not_found);
  }
  // Its siblings, its parent and the rest of the tree stay.
  for (const char* kept : {"cb1", "ae1", "cnt2", "ae2", "cnt3"}) EXPECT_TRUE(repo().get(kept)) << kept;
  EXPECT_EQ(ris(repo().children("ae1", 0, 10)), std::vector<std::string>{"cnt2"});
  // The name is free again under the same parent.
  EXPECT_TRUE(repo().create(resource("cnt1b", "ae1", "state", kContainer)));

  EXPECT_EQ(repo().remove("cnt3").value_or(0), 1u);  // a leaf
  expect_refused(repo().remove("cnt1"), Errc::not_found, "cnt1");
  expect_refused(repo().remove(""), Errc::not_found, "resource");
  EXPECT_EQ(repo().remove("cb1").value_or(0), 5u);  // cb1, ae1, cnt2, cnt1b, ae2
  EXPECT_EQ(count(""), 0u);
}

// Containers nest without end. SQLite runs ON DELETE CASCADE as nested
// triggers and stops at 1000 levels, so a chain deeper than that is cut
// from the bottom; the chain here goes in behind the store's back, in one
// transaction, to keep the test quick.
TEST_F(ResourceTest, RemoveTakesASubtreeDeeperThanTheEnginesCascadeLimit) {
  constexpr int kDepth = 1234;
  {
    std::unique_ptr<sql::Connection> raw = testing::raw_connection(path_);
    ASSERT_NE(raw, nullptr);
    ASSERT_TRUE(raw->begin_write(Durability::full));
    std::string parent = "cnt1";
    for (int i = 0; i < kDepth; ++i) {
      Result<sql::Stmt> ins = raw->prepare(
          "INSERT INTO cse_resources (ri, pi, rn, ty, attributes, created_at) VALUES (?1, ?2, 'c', 3, '{}', 1)");
      ASSERT_TRUE(ins);
      const std::string ri = "d" + std::to_string(i);
      ASSERT_TRUE(ins->bind_text(1, ri));
      ASSERT_TRUE(ins->bind_text(2, parent));
      ASSERT_TRUE(ins->run());
      parent = ri;
    }
    ASSERT_TRUE(raw->commit());
  }
  Result<std::size_t> removed = repo().remove("ae1");
  ASSERT_TRUE(removed) << removed.error().message();
  EXPECT_EQ(*removed, static_cast<std::size_t>(kDepth) + 2);  // ae1, cnt1 and the chain
  EXPECT_FALSE(repo().get("d0"));
  EXPECT_FALSE(repo().get("d" + std::to_string(kDepth - 1)));
  EXPECT_EQ(count("cb1"), 0u);
  EXPECT_TRUE(repo().get("cb1"));
}

// remove_oldest_child: a container's maxNrOfInstances.
TEST_F(ResourceTest, RemoveOldestChildTakesTheOldestOfItsType) {
  ASSERT_TRUE(repo().create(resource("sub", "cnt1", "sub", kContainer, kNow)));
  ASSERT_TRUE(repo().create(resource("deep", "sub", "r", kContentInstance, kNow)));
  ASSERT_TRUE(repo().create(resource("z-cin", "cnt1", "r1", kContentInstance, kNow + 1)));
  ASSERT_TRUE(repo().create(resource("a-cin", "cnt1", "r2", kContentInstance, kNow + 1)));
  ASSERT_TRUE(repo().create(resource("b-cin", "cnt1", "r3", kContentInstance, kNow + 2)));

  EXPECT_EQ(repo().remove_oldest_child("cnt1", kContentInstance).value_or(""), "z-cin");
  EXPECT_EQ(repo().remove_oldest_child("cnt1", kContentInstance).value_or(""), "a-cin");
  EXPECT_FALSE(repo().get("z-cin"));
  EXPECT_FALSE(repo().get("a-cin"));
  EXPECT_TRUE(repo().get("b-cin"));
  EXPECT_TRUE(repo().get("sub"));  // another type: untouched though older
  // Of any type, the oldest goes with its subtree.
  EXPECT_EQ(repo().remove_oldest_child("cnt1", 0).value_or(""), "sub");
  EXPECT_FALSE(repo().get("deep"));
  EXPECT_EQ(repo().remove_oldest_child("cnt1", kContentInstance).value_or(""), "b-cin");
  expect_refused(repo().remove_oldest_child("cnt1", kContentInstance), Errc::not_found, "no child of cnt1 of type 4");
  expect_refused(repo().remove_oldest_child("nope", 0), Errc::not_found, "no child of nope");
  expect_refused(repo().remove_oldest_child("cnt1", -1), Errc::invalid_argument, "negative");
  EXPECT_TRUE(repo().get("cnt1"));  // the parent stays
}

// A write returns after it is committed: closing the store and opening it
// again finds the tree as it was, creation order included.
TEST_F(ResourceTest, TheTreeSurvivesReopeningTheStore) {
  ASSERT_TRUE(repo().create(resource("z-cin", "cnt1", "r1", kContentInstance, kNow + 1)));
  ASSERT_TRUE(repo().create(resource("a-cin", "cnt1", "r2", kContentInstance, kNow + 1)));
  ASSERT_TRUE(repo().update("cnt1", R"({"mni":2})"));
  store_.reset();
  store_ = open_store(path_);
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(repo().child("", "cse-in").value_or(ResourceRecord{}).ri, "cb1");
  EXPECT_EQ(repo().get("cnt1").value_or(ResourceRecord{}).attributes, R"({"mni":2})");
  EXPECT_EQ(ris(repo().children("cnt1", 0, 10)), (std::vector<std::string>{"z-cin", "a-cin"}));
  EXPECT_EQ(repo().remove_oldest_child("cnt1", kContentInstance).value_or(""), "z-cin");
  // The rules hold after reopening too.
  expect_refused(repo().create(resource("cb2", "", "x", kCseBase)), Errc::already_exists, "root");
  expect_refused(repo().create(resource("a-cin", "cnt1", "r9", kContentInstance)), Errc::already_exists, "taken");
}

// Two stores on one database (two processes; on PostgreSQL two replicas)
// creating one name under one parent at once: exactly one wins, the others
// are already_exists.
TEST_F(ResourceTest, ConcurrentCreatesOfOneNameLeaveOne) {
  std::unique_ptr<Store> other = open_store(path_);
  ASSERT_NE(other, nullptr);
  constexpr int kThreads = 8;
  std::atomic<int> won{0}, refused{0}, failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      Store& s = i % 2 == 0 ? *store_ : *other;
      Status st = s.resources().create(resource("race-" + std::to_string(i), "cnt1", "same", kContentInstance));
      if (st) {
        ++won;
      } else if (st.error().code() == Errc::already_exists) {
        ++refused;
      } else {
        ++failed;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(refused.load(), kThreads - 1);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(count("cnt1"), 1u);
}

}  // namespace
}  // namespace m2msec::store
