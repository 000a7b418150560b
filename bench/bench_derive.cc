// bench_derive.cc: cost of the Km derivation (TS-0003 clause 10.3.2) next
// to bare OpenSSL HMAC-SHA-256 over a message of the same size, in the
// same process and run. Prints the ratios at the end; the target is a
// derivation within 1.2x of the fastest bare loop.
//
//   cmake --preset release && cmake --build --preset release --target bench_derive
//   build/release/bench/bench_derive
#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "m2msec/crypto/derive.h"

namespace {

const std::vector<std::uint8_t> kKe(32, 0x42);
const std::string kMafId = "maf.sp.example.com";
// The bare loops MAC the same bytes the derivation MACs.
const std::string kMessage = std::string(m2msec::crypto::kKmLabel) + kMafId;

void BM_DeriveKm(benchmark::State& state) {
  for (auto _ : state) {
    auto km = m2msec::crypto::derive_km(kKe, kMafId);
    benchmark::DoNotOptimize(km);
  }
}
BENCHMARK(BM_DeriveKm);

// Unicode MAF-ID: the NFKC path through utf8proc.
void BM_DeriveKmUnicodeId(benchmark::State& state) {
  const std::string id = "\xef\xbd\x8d\xef\xbd\x81\xef\xbd\x86.sp.example.com";
  for (auto _ : state) {
    auto km = m2msec::crypto::derive_km(kKe, id);
    benchmark::DoNotOptimize(km);
  }
}
BENCHMARK(BM_DeriveKmUnicodeId);

// OpenSSL's one-shot HMAC().
void BM_BareHmacOneShot(benchmark::State& state) {
  unsigned char out[32];
  unsigned int len = 0;
  for (auto _ : state) {
    HMAC(EVP_sha256(), kKe.data(), static_cast<int>(kKe.size()),
         reinterpret_cast<const unsigned char*>(kMessage.data()), kMessage.size(), out, &len);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_BareHmacOneShot);

// The cheapest bare EVP_MAC loop: one pre-fetched context, duplicated per
// MAC, which is what a tuned caller would write.
void BM_BareEvpMac(benchmark::State& state) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* tmpl = EVP_MAC_CTX_new(mac);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  EVP_MAC_CTX_set_params(tmpl, params);
  unsigned char out[32];
  std::size_t len = 0;
  for (auto _ : state) {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(tmpl);
    EVP_MAC_init(ctx, kKe.data(), kKe.size(), nullptr);
    EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(kMessage.data()), kMessage.size());
    EVP_MAC_final(ctx, out, &len, sizeof out);
    EVP_MAC_CTX_free(ctx);
    benchmark::DoNotOptimize(out);
  }
  EVP_MAC_CTX_free(tmpl);
  EVP_MAC_free(mac);
}
BENCHMARK(BM_BareEvpMac);

// Collects per-benchmark CPU time (ns/op) besides printing the table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) ns_[r.benchmark_name()] = r.GetAdjustedCPUTime();
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> ns_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const auto& ns = reporter.ns_;
  if (!ns.count("BM_DeriveKm") || !ns.count("BM_BareHmacOneShot") || !ns.count("BM_BareEvpMac")) return 0;
  const double km = ns.at("BM_DeriveKm");
  const double bare = std::min(ns.at("BM_BareHmacOneShot"), ns.at("BM_BareEvpMac"));
  std::printf("\nratio derive_km / HMAC() one-shot      = %.3f\n", km / ns.at("BM_BareHmacOneShot"));
  std::printf("ratio derive_km / EVP_MAC dup loop     = %.3f\n", km / ns.at("BM_BareEvpMac"));
  std::printf("ratio derive_km / fastest bare loop    = %.3f (target <= 1.20: %s)\n", km / bare,
              km / bare <= 1.2 ? "met" : "NOT met");
  // The last line: the figures as one JSON object (docs/performance.md).
  std::printf("{\"bench\":\"bench_derive\",\"derive_km_ns\":%.1f,\"bare_ns\":%.1f,\"ratio\":%.3f}\n", km, bare,
              km / bare);
  return 0;
}
