// enrol_storm.cc: enrols many PSK devices with a MEF in parallel, for the
// crash test (mef_crash_test.py).
//
//   enrol_storm CSV HOST:PORT MEF_FQDN MAF_FQDN THREADS
//
// CSV has the header enrolee_id,kpm_id,kpm (Kpm in hex); it is test data. Each device enrols once. Every acknowledged enrolment (the MEF
// answered 2001 Created, so it was durable) is printed as one line
// "<enrolee_id> <KeID>" and flushed at once, so a test that kills the MEF
// knows exactly what the MEF acknowledged. Failures go to stderr. The last
// stderr line is "acked N failed M"; exit 0 unless the arguments are bad.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "m2msec/client/enrolee.h"
#include "m2msec/core/encoding.h"
#include "m2msec/service/runtime.h"

namespace {

using namespace m2msec;

struct Device {
  std::string enrolee_id, kpm_id;
  SecretBytes kpm;
};

// read_devices parses the CSV (header line first). Exits on bad input.
std::vector<Device> read_devices(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "enrol_storm: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::vector<Device> out;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto a = line.find(',');
    const auto b = a == std::string::npos ? a : line.find(',', a + 1);
    auto kpm = b == std::string::npos ? fail(Errc::invalid_argument)
                                      : hex_decode_secret(line.substr(b + 1, line.find(',', b + 1) - b - 1));
    if (!kpm) {
      std::fprintf(stderr, "enrol_storm: bad line: %s\n", line.substr(0, a).c_str());
      std::exit(2);
    }
    out.push_back({line.substr(0, a), line.substr(a + 1, b - a - 1), std::move(*kpm)});
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: enrol_storm CSV HOST:PORT MEF_FQDN MAF_FQDN THREADS\n");
    return 2;
  }
  const std::vector<Device> devices = read_devices(argv[1]);
  auto ep = service::parse_endpoint(argv[2]);
  const int threads = std::atoi(argv[5]);
  if (!ep || threads < 1) {
    std::fprintf(stderr, "enrol_storm: bad HOST:PORT or THREADS\n");
    return 2;
  }
  const std::string mef = argv[3], maf = argv[4];
  std::atomic<std::size_t> next{0}, acked{0}, failed{0};
  std::mutex out_mu;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (std::size_t i = next++; i < devices.size(); i = next++) {
        const Device& d = devices[i];
        client::EnrolOptions o;
        o.host = ep->host;
        o.port = ep->port;
        o.mef_fqdn = mef;
        o.maf_fqdn = maf;
        o.psk = tls::ClientPsk{d.kpm_id, d.kpm.clone()};
        o.timeout = std::chrono::milliseconds(15000);
        auto r = client::enrol(o);
        std::lock_guard lock(out_mu);
        if (r) {
          ++acked;
          std::printf("%s %s\n", r->state.enrolee_id.c_str(), r->state.ke_id.c_str());
          std::fflush(stdout);
        } else {
          ++failed;
          std::fprintf(stderr, "%s: %s\n", d.enrolee_id.c_str(), r.error().message().c_str());
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  std::fprintf(stderr, "acked %zu failed %zu\n", acked.load(), failed.load());
  return 0;
}
