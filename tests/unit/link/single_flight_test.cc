// link::SingleFlight and link::NegativeCache: shared fetches and brief,
// bounded memory of refusals. Times are passed in; nothing is timed.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "m2msec/link/single_flight.h"

namespace m2msec::link {
namespace {

using namespace std::chrono_literals;

TEST(SingleFlight, OneLeaderPerKeyAndEveryWaiterGetsTheResult) {
  SingleFlight<std::string, int> flights;
  std::vector<int> got;
  EXPECT_TRUE(flights.join("k", [&](const Result<int>& r) { got.push_back(*r); }));
  EXPECT_FALSE(flights.join("k", [&](const Result<int>& r) { got.push_back(*r + 100); }));
  EXPECT_TRUE(flights.join("other", [](const Result<int>&) {}));
  EXPECT_EQ(flights.pending(), 2u);
  flights.finish("k", 7);
  EXPECT_EQ(got, (std::vector<int>{7, 107}));  // the leader's waiter first
  EXPECT_EQ(flights.pending(), 1u);
  // Once finished, the key leads a new fetch.
  EXPECT_TRUE(flights.join("k", [](const Result<int>&) {}));
}

TEST(SingleFlight, ErrorsReachEveryWaiter) {
  SingleFlight<std::string, int> flights;
  int refused = 0;
  for (int i = 0; i < 3; ++i) {
    flights.join("k", [&](const Result<int>& r) { refused += !r && r.error().code() == Errc::unknown_psk_identity; });
  }
  flights.finish("k", fail(Errc::unknown_psk_identity));
  EXPECT_EQ(refused, 3);
}

// N threads ask for the same key at once; the fetch is held until all of
// them have joined, so exactly one fetch runs.
TEST(SingleFlight, ConcurrentLookupsCauseOneFetch) {
  constexpr int kThreads = 16;
  SingleFlight<std::string, int> flights;
  std::atomic<int> fetches{0}, answered{0}, joined{0};
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      const bool leader = flights.join("kc", [&](const Result<int>& r) {
        if (r && *r == 42) ++answered;
      });
      {
        std::lock_guard lock(mu);
        ++joined;
      }
      cv.notify_all();
      if (!leader) return;
      ++fetches;
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return joined == kThreads; });
      lock.unlock();
      flights.finish("kc", 42);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fetches.load(), 1);
  EXPECT_EQ(answered.load(), kThreads);
}

using Cache = NegativeCache<std::string>;
using TimePoint = Cache::TimePoint;

TEST(NegativeCache, RemembersARefusalUntilItsTtl) {
  Cache cache(8, 5000ms);
  const TimePoint t0{};
  cache.add("forged", Error(Errc::unknown_psk_identity, "MAF refused"), t0);
  auto hit = cache.find("forged", t0 + 4999ms);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->code(), Errc::unknown_psk_identity);
  EXPECT_FALSE(cache.find("forged", t0 + 5000ms));
  EXPECT_FALSE(cache.find("other", t0));
}

TEST(NegativeCache, IsBoundedAndDropsTheOldestFirst) {
  Cache cache(3, 5000ms);
  const TimePoint t0{};
  for (int i = 0; i < 5; ++i) cache.add("k" + std::to_string(i), Error(Errc::unknown_psk_identity), t0 + i * 1ms);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.find("k0", t0 + 10ms));
  EXPECT_FALSE(cache.find("k1", t0 + 10ms));
  EXPECT_TRUE(cache.find("k4", t0 + 10ms));
  // Adding after expiry prunes the expired entries.
  cache.add("late", Error(Errc::unknown_psk_identity), t0 + 10s);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(NegativeCache, ReAddingAKeyKeepsTheNewerEntry) {
  Cache cache(2, 5000ms);
  const TimePoint t0{};
  cache.add("a", Error(Errc::unknown_psk_identity), t0);
  cache.erase("a");
  EXPECT_FALSE(cache.find("a", t0));
  cache.add("a", Error(Errc::key_expired), t0 + 1000ms);
  cache.add("b", Error(Errc::unknown_psk_identity), t0 + 1000ms);
  EXPECT_EQ(cache.find("a", t0 + 1000ms)->code(), Errc::key_expired);
  // Full: the stale record of the first "a" frees nothing, so the live "a"
  // (the oldest entry) goes, and "b" stays.
  cache.add("c", Error(Errc::unknown_psk_identity), t0 + 1000ms);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.find("a", t0 + 1000ms));
  EXPECT_TRUE(cache.find("b", t0 + 1000ms));
  EXPECT_TRUE(cache.find("c", t0 + 1000ms));
}

TEST(NegativeCache, CapacityZeroDisablesIt) {
  Cache cache(0, 5000ms);
  cache.add("k", Error(Errc::unknown_psk_identity));
  EXPECT_FALSE(cache.find("k"));
}

// ExpiringCache carries values (the MAF's recently resolved clients) with
// the same bound and time to live; erase_if drops every entry of one
// entity at once.
TEST(ExpiringCache, HoldsValuesUntilTheirTtlAndErasesByValue) {
  ExpiringCache<std::string, std::shared_ptr<const std::string>> cache(4, 2000ms);
  const TimePoint t0{};
  cache.put("km1", std::make_shared<const std::string>("/d1"), t0);
  cache.put("km2", std::make_shared<const std::string>("/d1"), t0);
  cache.put("km3", std::make_shared<const std::string>("/d2"), t0);
  auto hit = cache.find("km3", t0 + 1999ms);
  ASSERT_TRUE(hit);
  EXPECT_EQ(**hit, "/d2");
  EXPECT_FALSE(cache.find("km3", t0 + 2000ms));
  cache.erase_if([](const std::shared_ptr<const std::string>& v) { return *v == "/d1"; });
  EXPECT_FALSE(cache.find("km1", t0));
  EXPECT_FALSE(cache.find("km2", t0));
  EXPECT_TRUE(cache.find("km3", t0));
  // A newer value replaces the older one.
  cache.put("km3", std::make_shared<const std::string>("/d3"), t0 + 1ms);
  EXPECT_EQ(**cache.find("km3", t0 + 1ms), "/d3");
  // Bounded like NegativeCache.
  for (int i = 0; i < 10; ++i) cache.put("x" + std::to_string(i), nullptr, t0 + 2ms);
  EXPECT_LE(cache.size(), 4u);
}

}  // namespace
}  // namespace m2msec::link
