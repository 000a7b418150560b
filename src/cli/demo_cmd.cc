// demo_cmd.cc: "m2msec demo --devices N", a simulated fleet against a real
// all-in-one server process: bootstrap, MAF client registration, MAF-based
// association at Entity B and one authenticated request per device, with a
// mix of Kpsa, certificate and GBA devices (the MEF as BSF; half of them
// associate through the MAF, half straight with Entity B), and a share of
// devices that speak CoAP over DTLS (TS-0008) instead of HTTP over TLS.
//
// The simulated devices hold their state and keys in memory
// (client::DeviceCredentials): what is measured is the server side, and
// creating and fsyncing four files per device cost the client process
// about a third of the machine's samples. When the work dir is kept
// (--work-dir or --keep), they write state directories instead (as
// "m2msec enrol --state" would), so that a user can inspect them.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <thread>
#include <sstream>
#include <openssl/rand.h>

#include "cli.h"
#include "m2msec/core/printable.h"
#include "demo_stats.h"
#include "m2msec/client/associate.h"
#include "m2msec/client/enrolee.h"
#include "m2msec/client/gba.h"
#include "m2msec/core/encoding.h"
#include "m2msec/core/secret_file.h"
#include "m2msec/core/thread.h"
#include "m2msec/crypto/derive.h"
#include "m2msec/mef/mef.h"
#include "m2msec/service/runtime.h"
#include "m2msec/tls/credentials.h"
#include "m2msec/tls/pki.h"

namespace m2msec::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct DemoOpts {
  std::size_t devices = 100;
  unsigned threads = 16;
  std::string work_dir;
  bool keep = false;
  unsigned kpsa_every = 10;  // every Nth device uses the Kpsa framework
  unsigned cert_every = 10;  // every Nth device uses certificates
  unsigned gba_every = 10;   // every Nth device bootstraps by GBA
  unsigned coap_every = 4;   // every Nth device of each non-GBA kind speaks CoAP over DTLS
  std::string log_level = "warn";
};

// gba_maf: a GBA device whose target is the MAF (Km = the MAF's Ks_NAF);
// gba_saef: one whose target is Entity B (the GBA-based SAEF).
enum class Kind { maf, kpsa, cert, gba_maf, gba_saef };

bool is_gba(Kind k) { return k == Kind::gba_maf || k == Kind::gba_saef; }

struct Device {
  std::string id;       // "/dev-00001"
  Kind kind = Kind::maf;
  SecretBytes kpm;
  client::Usim usim;    // GBA devices: a simulated UICC
  std::string impi;
  bool coap = false;    // enrols, registers and associates over CoAP/DTLS (coaps://)
  // Certificate devices: the certificate and key, read once at bootstrap
  // and held for the association, as a device holds its credential.
  std::shared_ptr<const tls::CertificateKey> certificate;
  std::string state_dir;              // used when state_files
  client::DeviceCredentials memory;   // used otherwise
  bool ok = true;
};

// free_port asks the kernel for an unused loopback TCP port.
int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

std::string config_text(int mef, int maf, int cse) {
  const std::string m = std::to_string(mef), a = std::to_string(maf), c = std::to_string(cse);
  return "[pki]\ndir = \"pki\"\n\n"
         "[mef]\nfqdn = \"mef.sp.example.com\"\nsp_domain = \"sp.example.com\"\ntls_listen = \"127.0.0.1:" + m +
         "\"\ndtls_listen = \"127.0.0.1:" + m + "\"\ndata_dir = \"mef\"\ncertificate = \"pki/mef.crt\"\nprivate_key = \"pki/mef.key\"\n"
         "trust_anchors = \"pki/ca.crt\"\ndevice_trust_anchors = \"pki/device-ca.crt\"\nworkers = 32\n"
         "[mef.bsf]\nenabled = true\n[[mef.maf]]\nfqdn = \"maf.sp.example.com\"\naddress = \"127.0.0.1:" + a +
         "\"\n\n[maf]\nfqdn = \"maf.sp.example.com\"\nsp_domain = \"sp.example.com\"\ntls_listen = \"127.0.0.1:" + a +
         "\"\ndtls_listen = \"127.0.0.1:" + a + "\"\ndata_dir = \"maf\"\ncertificate = \"pki/maf.crt\"\nprivate_key = \"pki/maf.key\"\n"
         "trust_anchors = \"pki/ca.crt\"\nworkers = 32\n[[maf.mef]]\nfqdn = \"mef.sp.example.com\"\naddress = \"127.0.0.1:" + m +
         "\"\n[[maf.cse]]\ncse_id = \"/in-cse\"\nfqdn = \"in-cse.sp.example.com\"\naddress = \"127.0.0.1:" + c +
         "\"\n\n[cse]\nfqdn = \"in-cse.sp.example.com\"\nsp_domain = \"sp.example.com\"\ncse_id = \"/in-cse\"\n"
         "csebase = \"in-name\"\ndata_dir = \"cse\"\ntls_listen = \"127.0.0.1:" + c +
         "\"\ndtls_listen = \"127.0.0.1:" + c + "\"\ncertificate = \"pki/in-cse.crt\"\nprivate_key = \"pki/in-cse.key\"\ntrust_anchors = \"pki/ca.crt\"\n"
         "device_trust_anchors = \"pki/device-ca.crt\"\n"
         "workers = 32\n[[cse.maf]]\nfqdn = \"maf.sp.example.com\"\naddress = \"127.0.0.1:" + a +
         "\"\n[[cse.mef]]\nfqdn = \"mef.sp.example.com\"\naddress = \"127.0.0.1:" + m + "\"\n";
}

// ServerProcess is the all-in-one server, started as "m2msec serve".
struct ServerProcess {
  pid_t pid = -1;
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ServerProcess(ServerProcess&& o) noexcept : pid(o.pid) { o.pid = -1; }
  ~ServerProcess() { stop(); }
  void stop() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
  }
  // cpu_by_role sums the run time of the server's threads by the role
  // that names them ("mef-tls-io", "maf-worker", "cse-writer", ...); the
  // rest of the process (threads of no role, threads that have ended) is
  // "other".
  std::map<std::string, double> cpu_by_role() const {
    std::map<std::string, double> out{{"mef", 0}, {"maf", 0}, {"cse", 0}};
    double roles = 0;
    for (const auto& [name, s] : thread_run_seconds(pid)) {
      auto it = out.find(name.substr(0, name.find('-')));
      if (it == out.end()) continue;
      it->second += s;
      roles += s;
    }
    out["other"] = std::max(0.0, cpu_seconds() - roles);
    return out;
  }
  // cpu_seconds reads utime+stime of the whole server from /proc.
  double cpu_seconds() const {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t close = text.rfind(')');
    if (close == std::string::npos) return 0;
    return stat_seconds(text.substr(close + 2));
  }

 private:
  // stat_seconds reads fields 14 and 15 (utime, stime) of a stat line,
  // given from field 3 on.
  static double stat_seconds(const std::string& from_field_3) {
    std::istringstream rest(from_field_3);
    std::string f;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> f; ++i) {
      if (i == 14) utime = std::stoull(f);
      if (i == 15) stime = std::stoull(f);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
};

Result<ServerProcess> start_server(const std::string& work, const std::string& log_level) {
  int out[2];
  if (::pipe(out) != 0) return fail(Errc::io_error, "pipe");
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  const std::string cfg = work + "/all-in-one.toml", log = work + "/server.log";
  const pid_t pid = ::fork();
  if (pid < 0) return fail(Errc::io_error, "fork");
  if (pid == 0) {
    ::dup2(out[1], 1);
    const int lf = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (lf >= 0) ::dup2(lf, 2);
    ::close(out[0]);
    ::close(out[1]);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execl(self.c_str(), self.c_str(), "serve", "--config", cfg.c_str(), "--json", "--log-level", log_level.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  ServerProcess sp;
  sp.pid = pid;
  // Wait for the ready line (the first start also makes the PKI and KEKs).
  std::string line;
  pollfd p{out[0], POLLIN, 0};
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  char c = 0;
  while (Clock::now() < deadline) {
    if (::poll(&p, 1, 200) <= 0) continue;
    if (::read(out[0], &c, 1) != 1) break;
    if (c == '\n') break;
    line.push_back(c);
  }
  ::close(out[0]);
  if (line.empty()) return fail(Errc::connect_failed, "server did not start; see " + log);
  return sp;
}

void progress(const char* label, std::size_t n, std::size_t total) {
  static const bool tty = ::isatty(2);
  if (!tty || total == 0) return;
  const std::size_t width = 30, filled = width * n / total;
  std::cerr << "\r" << std::left << std::setw(10) << label << " [" << std::string(filled, '#')
            << std::string(width - filled, '-') << "] " << n << "/" << total << std::flush;
  if (n == total) std::cerr << "\n";
}

// every_nth says whether device |i| is one of every |n|th (none for 0):
// the |back|th from the end of each run of |n|, so that the kinds of the
// default mix fall on different devices; with n = 1, every device.
bool every_nth(std::size_t i, unsigned n, unsigned back) {
  if (n == 0) return false;
  return i % n == (n - back % n) % n;
}

// run_phase runs |fn| for every device on |threads| workers and records
// the phase's wall time and the server's CPU time.
template <typename Fn>
void run_phase(const char* label, std::vector<Device>& devices, unsigned threads, const ServerProcess& server,
               PhaseStats& stats, Fn fn) {
  std::atomic<std::size_t> next{0}, done{0};
  const double cpu0 = server.cpu_seconds();
  const auto roles0 = server.cpu_by_role();
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (std::size_t i = next++; i < devices.size(); i = next++) {
        if (devices[i].ok) fn(devices[i]);
        const std::size_t d = ++done;
        if (d % 16 == 0 || d == devices.size()) progress(label, d, devices.size());
      }
    });
  }
  for (auto& th : pool) th.join();
  stats.set_wall(std::chrono::duration<double>(Clock::now() - t0).count());
  stats.set_server_cpu(server.cpu_seconds() - cpu0);
  auto roles = server.cpu_by_role();
  for (auto& [role, s] : roles) s = std::max(0.0, s - roles0.at(role));
  stats.set_server_cpu_by_role(std::move(roles));
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

int run_demo(Context& ctx, const DemoOpts& o) {
  if (o.devices == 0 || o.devices > 1000000) return usage_error("--devices must be 1..1000000");
  if (o.threads == 0 || o.threads > 256) return usage_error("--threads must be 1..256");
  std::string work = o.work_dir;
  if (work.empty()) {
    char tmpl[] = "/tmp/m2msec-demo-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return failure(Error(Errc::io_error, "mkdtemp"));
    work = tmpl;
  }
  // Device state files only where a user can look at them afterwards.
  const bool state_files = o.keep || !o.work_dir.empty();
  std::error_code ec;
  if (state_files) fs::create_directories(work + "/devices", ec);
  const int mef_port = free_port(), maf_port = free_port(), cse_port = free_port();
  std::ofstream(work + "/all-in-one.toml") << config_text(mef_port, maf_port, cse_port);
  if (!ctx.json) {
    std::cout << "m2msec demo: " << o.devices << " devices, work dir " << work
              << (state_files ? ", device state in " + work + "/devices" : ", device state in memory") << "\n"
              << std::flush;
  }

  auto server = start_server(work, o.log_level);
  if (!server) return failure(server.error());

  // Provision: a Kpm per device (pre-provisioned at the "factory"), and a
  // device certificate for the certificate devices, issued by the demo
  // device CA (the MEF's device_trust_anchors), which each such enrolee
  // names as its root of trust by fingerprint.
  auto device_fps = tls::read_certificate_fingerprints(work + "/pki/device-ca.crt");
  if (!device_fps) return failure(device_fps.error());
  const std::string device_ca = device_fps->front();
  std::vector<Device> devices(o.devices);
  std::vector<store::Enrolee> rows;
  std::vector<store::GbaSubscriber> subscribers;
  const std::int64_t now = service::now_unix();
  std::array<std::size_t, 5> of_kind{};  // devices of each kind so far: every coap_every-th speaks CoAP
  for (std::size_t i = 0; i < o.devices; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "dev-%05zu", i + 1);
    Device& d = devices[i];
    d.id = std::string("/") + name;
    d.kind = every_nth(i, o.cert_every, 1)   ? Kind::cert
             : every_nth(i, o.kpsa_every, 2) ? Kind::kpsa
             : every_nth(i, o.gba_every, 3)  ? ((i / o.gba_every) % 2 == 0 ? Kind::gba_maf : Kind::gba_saef)
                                             : Kind::maf;
    d.state_dir = work + "/devices/" + name;
    d.coap = !is_gba(d.kind) && o.coap_every != 0 && of_kind[static_cast<std::size_t>(d.kind)]++ % o.coap_every == 0;
    if (is_gba(d.kind)) {
      // A UICC (K, OPc) and its subscriber record at the MEF, whose target
      // is the only NAF that gets a Ks_NAF (m2msec mef subscriber add).
      store::GbaSubscriber sub;
      sub.impi = d.impi = std::string(name) + "@ims.mnc001.mcc001.3gppnetwork.org";
      d.usim.k = SecretBytes(16);
      d.usim.opc = SecretBytes(16);
      RAND_bytes(d.usim.k.data(), 16);
      RAND_bytes(d.usim.opc.data(), 16);
      sub.k = d.usim.k.clone();
      sub.opc = d.usim.opc.clone();
      sub.enrolee_id = d.id;
      sub.target_kind = d.kind == Kind::gba_maf ? store::TargetKind::maf : store::TargetKind::kpsa;
      sub.target = d.kind == Kind::gba_maf ? "maf.sp.example.com" : "/in-cse";
      subscribers.push_back(std::move(sub));
      continue;
    }
    store::Enrolee e;
    e.enrolee_id = d.id;
    e.target = d.kind == Kind::kpsa ? "/in-cse" : "maf.sp.example.com";
    e.target_kind = d.kind == Kind::kpsa ? store::TargetKind::kpsa : store::TargetKind::maf;
    if (d.kind == Kind::cert) {
      e.auth_kind = store::AuthKind::cert;
      e.cert_subject = std::string(name) + ".sp.example.com";
      e.cert_trust_anchor = device_ca;
      if (state_files) fs::create_directories(d.state_dir, ec);
      auto made = tls::issue_leaf(work + "/pki",
                                  tls::LeafSpec{std::string("device-") + name, {*e.cert_subject}, {}, 30, "device-ca"});
      if (!made) return failure(made.error());
    } else {
      d.kpm = SecretBytes(32);
      RAND_bytes(d.kpm.data(), 32);
      e.auth_kind = store::AuthKind::psk;
      e.kpm_id = std::string(name) + "@factory.example.com";
      e.kpm = d.kpm.clone();
    }
    rows.push_back(std::move(e));
  }
  // The factory's device list, as an operator would receive it (mode 0600;
  // importable with "m2msec mef enrolee import").
  {
    std::string csv = "enrolee_id,kpm_id,kpm,target,cert_subject,cert_ca\n";
    for (const store::Enrolee& e : rows) {
      csv += e.enrolee_id + "," + e.kpm_id.value_or("") + "," + hex_encode(e.kpm.view()) + "," + e.target + "," +
             e.cert_subject.value_or("") + "," + e.cert_trust_anchor.value_or("") + "\n";
    }
    auto st = write_secret_file(work + "/factory.csv", {reinterpret_cast<const std::uint8_t*>(csv.data()), csv.size()});
    secure_wipe(csv.data(), csv.size());
    if (!st) return failure(st.error());
    // The UICC list, as the network operator would hand it over (mode
    // 0600; importable with "m2msec mef subscriber import").
    std::string uicc = "impi,k,opc,enrolee_id,target\n";
    for (const store::GbaSubscriber& g : subscribers) {
      uicc += g.impi + "," + hex_encode(g.k.view()) + "," + hex_encode(g.opc.view()) + "," + g.enrolee_id + "," +
              g.target + "\n";
    }
    st = write_secret_file(work + "/subscribers.csv", {reinterpret_cast<const std::uint8_t*>(uicc.data()), uicc.size()});
    secure_wipe(uicc.data(), uicc.size());
    if (!st) return failure(st.error());
  }
  {
    auto file = service::ConfigFile::load(work + "/all-in-one.toml");
    auto cfg = mef::load_mef_config(*file);
    if (!cfg) return failure(cfg.error());
    auto db = mef::open_mef_store(*cfg, false);
    if (!db) return failure(db.error());
    std::vector<store::RowError> errs;
    if (auto n = (*db)->mef().import_enrolees(rows, now, &errs); !n) {
      for (const auto& e : errs) std::cerr << "m2msec: error: row " << e.row << ": " << e.error.message() << "\n";
      return failure(n.error());
    }
    if (auto n = (*db)->mef().import_subscribers(subscribers, now, &errs); !n) {
      for (const auto& e : errs) std::cerr << "m2msec: error: subscriber " << e.row << ": " << e.error.message() << "\n";
      return failure(n.error());
    }
  }
  rows.clear();
  subscribers.clear();
  auto ca = tls::load_trust_anchors(work + "/pki/ca.crt");
  if (!ca) return failure(ca.error());

  // The simulated devices share one PSK client context (a real device
  // builds its own once).
  tls::ClientOptions pco;
  pco.psk = tls::ClientPsk{"demo", SecretBytes(std::size_t{32})};
  auto psk_context = tls::ClientContext::create(pco);
  if (!psk_context) return failure(psk_context.error());
  pco.transport = tls::Transport::dtls;  // for the CoAP devices
  auto dtls_psk_context = tls::ClientContext::create(pco);
  if (!dtls_psk_context) return failure(dtls_psk_context.error());
  // Certificate devices share one context per transport too (the trust
  // anchors); each presents its own certificate on it. GBA devices use it
  // for Ub (server-authenticated).
  tls::ClientOptions cco;
  cco.trust = *ca;
  auto cert_context = tls::ClientContext::create(cco);
  if (!cert_context) return failure(cert_context.error());
  cco.transport = tls::Transport::dtls;
  auto dtls_cert_context = tls::ClientContext::create(cco);
  if (!dtls_cert_context) return failure(dtls_cert_context.error());

  PhaseStats boot("bootstrap"), assoc("associate"), maf_sub("  maf"), cse_sub("  entity-b");
  run_phase("bootstrap", devices, o.threads, *server, boot, [&](Device& d) {
    const auto t0 = Clock::now();
    if (is_gba(d.kind)) {
      // Ub at the MEF (the BSF) on a server-authenticated session.
      client::UbOptions ub;
      ub.port = static_cast<std::uint16_t>(mef_port);
      ub.bsf_fqdn = "mef.sp.example.com";
      ub.trust = *ca;
      ub.context = *cert_context;
      ub.impi = d.impi;
      auto b = client::gba_bootstrap(ub, d.usim);
      if (!b) return d.ok = false, boot.failed(d.id + ": " + b.error().message());
      const bool via_maf = d.kind == Kind::gba_maf;
      client::DeviceState st = client::gba_device_state(*b, "mef.sp.example.com", d.id,
                                                        via_maf ? "maf.sp.example.com" : "",
                                                        via_maf ? "127.0.0.1:" + std::to_string(maf_port) : "",
                                                        d.usim.sqn_ms);
      if (!state_files) {
        d.memory = client::DeviceCredentials{std::move(st), {}, {}, std::move(b->ks)};
      } else if (auto saved = client::save_device_state(d.state_dir, st, b->ks, {}, {}); !saved) {
        return d.ok = false, boot.failed(d.id + ": " + saved.error().message());
      }
      return boot.ok(ms_since(t0));
    }
    client::EnrolOptions eo;
    eo.port = static_cast<std::uint16_t>(mef_port);
    if (d.coap) eo.transport = tls::Transport::dtls;  // and so the CoAP binding
    eo.mef_fqdn = "mef.sp.example.com";
    if (d.kind == Kind::cert) {
      eo.trust = *ca;  // certificate suites only for certificate devices
      const std::string stem = work + "/pki/device-" + d.id.substr(1);
      auto ck = tls::load_certificate_key(stem + ".crt", stem + ".key");
      if (!ck) return d.ok = false, boot.failed(d.id + ": " + ck.error().message());
      d.certificate = *ck;
      eo.certificate = d.certificate;
      eo.context = d.coap ? *dtls_cert_context : *cert_context;
    } else {
      eo.psk = tls::ClientPsk{d.id.substr(1) + "@factory.example.com", d.kpm.clone()};
      eo.context = d.coap ? *dtls_psk_context : *psk_context;
      eo.maf_fqdn = d.kind == Kind::maf ? "maf.sp.example.com" : "";
    }
    auto r = client::enrol(eo);
    if (!r) return d.ok = false, boot.failed(d.id + ": " + r.error().message());
    if (!state_files) {
      d.memory = client::DeviceCredentials{std::move(r->state), std::move(r->km), std::move(r->kpsa)};
    } else if (auto st = client::save_device_state(d.state_dir, r->state, r->ke, r->km, r->kpsa); !st) {
      return d.ok = false, boot.failed(d.id + ": " + st.error().message());
    }
    boot.ok(ms_since(t0));
  });

  run_phase("associate", devices, o.threads, *server, assoc, [&](Device& d) {
    const auto t0 = Clock::now();
    client::AssociateOptions a;
    if (state_files) {
      a.state_dir = d.state_dir;
    } else {
      a.device = &d.memory;
    }
    const std::string scheme = d.coap ? "coaps://" : "";
    a.cse_address = scheme + "127.0.0.1:" + std::to_string(cse_port);
    a.cse_id = "/in-cse";
    a.maf_address = scheme + "127.0.0.1:" + std::to_string(maf_port);
    a.psk_context = d.coap ? *dtls_psk_context : *psk_context;
    switch (d.kind) {
      case Kind::maf:
        a.framework = client::Framework::maf;
        break;
      case Kind::kpsa:
        a.framework = client::Framework::kpsa;
        break;
      case Kind::gba_maf:
        a.framework = client::Framework::maf;  // Km = the MAF's Ks_NAF
        break;
      case Kind::gba_saef:
        a.framework = client::Framework::gba;  // Kpsa = Entity B's Ks_NAF
        a.cse_fqdn = "in-cse.sp.example.com";
        break;
      case Kind::cert: {
        a.framework = client::Framework::cert;
        a.certificate = d.certificate;
        a.certificate_context = d.coap ? *dtls_cert_context : *cert_context;
        a.trust = *ca;
        a.entity_id = d.id;
        a.cse_fqdn = "in-cse.sp.example.com";
        break;
      }
      default:
        return;
    }
    auto r = client::associate(std::move(a));
    if (!r) return d.ok = false, assoc.failed(d.id + ": " + r.error().message());
    if (!proto::is_success(r->response.rsc)) {
      return d.ok = false, assoc.failed(d.id + ": RSC " + std::to_string(static_cast<int>(r->response.rsc)));
    }
    assoc.ok(ms_since(t0));
    if (d.kind == Kind::maf || d.kind == Kind::gba_maf) maf_sub.ok(r->maf_ms);
    cse_sub.ok(r->cse_ms);
  });
  maf_sub.set_wall(assoc.wall_s());
  cse_sub.set_wall(assoc.wall_s());
  server->stop();

  std::size_t ok = 0;
  for (const Device& d : devices) ok += d.ok ? 1 : 0;
  const std::size_t failed = o.devices - ok;
  std::size_t n_maf = 0, n_kpsa = 0, n_cert = 0, n_gba_maf = 0, n_gba_saef = 0, n_coap = 0;
  for (const Device& d : devices) {
    n_coap += d.coap ? 1 : 0;
    switch (d.kind) {
      case Kind::maf:
        ++n_maf;
        break;
      case Kind::kpsa:
        ++n_kpsa;
        break;
      case Kind::cert:
        ++n_cert;
        break;
      case Kind::gba_maf:
        ++n_gba_maf;
        break;
      case Kind::gba_saef:
      default:
        ++n_gba_saef;
        break;
    }
  }
  if (!o.keep && o.work_dir.empty()) fs::remove_all(work, ec);

  // The fleet's figure: devices onboarded (bootstrap + association +
  // request) per second of the two phases' wall time.
  const double onboard_s = boot.wall_s() + assoc.wall_s();
  const double onboardings_per_s = onboard_s > 0 ? static_cast<double>(ok) / onboard_s : 0;
  nlohmann::json summary = {
      {"devices", o.devices},
      {"ok", ok},
      {"failed", failed},
      {"frameworks",
       {{"maf", n_maf}, {"kpsa", n_kpsa}, {"cert", n_cert}, {"gba_maf", n_gba_maf}, {"gba_saef", n_gba_saef}}},
      {"bindings", {{"coap", n_coap}, {"http", o.devices - n_coap}}},
      {"threads", o.threads},
      {"device_state", state_files ? "files" : "memory"},
      {"phases", {{"bootstrap", boot.to_json()}, {"associate", assoc.to_json()},
                  {"associate_maf_step", maf_sub.to_json()}, {"associate_entity_b_step", cse_sub.to_json()}}},
      {"onboardings_per_s", onboardings_per_s}};
  const auto boot_cpu = boot.server_cpu_ms_per_op();
  const auto assoc_cpu = assoc.server_cpu_ms_per_op();
  if (boot_cpu && assoc_cpu) summary["server_cpu_ms_per_device"] = *boot_cpu + *assoc_cpu;
  if (ctx.json) {
    print_json(summary);
  } else {
    std::cout << "\n" << std::left << std::setw(12) << "phase" << std::right << std::setw(8) << "count" << std::setw(9)
              << "failed" << std::setw(10) << "rate/s" << std::setw(10) << "p50 ms" << std::setw(10) << "p99 ms"
              << std::setw(10) << "max ms" << std::setw(14) << "srv cpu ms/op" << "\n";
    for (const PhaseStats* p : {&boot, &assoc, &maf_sub, &cse_sub}) {
      std::cout << std::left << std::setw(12) << p->name() << std::right << std::setw(8) << p->count() << std::setw(9)
                << p->failures() << std::fixed << std::setprecision(1) << std::setw(10) << p->rate() << std::setw(10)
                << p->percentile(50) << std::setw(10) << p->percentile(99) << std::setw(10) << p->max()
                << std::setw(14);
      if (auto per_op = p->server_cpu_ms_per_op()) {
        std::cout << *per_op << "\n";
      } else {
        std::cout << "-" << "\n";
      }
      // Failure reasons may quote a server's answer: printed escaped.
      for (const std::string& e : p->errors()) std::cout << "    e.g. " << printable(e, 300) << "\n";
    }
    std::cout << "\nserver CPU ms per operation, by role:\n";
    for (const PhaseStats* p : {&boot, &assoc}) {
      std::cout << "  " << std::left << std::setw(10) << p->name() << std::right;
      for (const auto& [role, ms] : p->server_cpu_ms_per_op_by_role()) {
        std::cout << "  " << role << " " << std::fixed << std::setprecision(2) << ms;
      }
      std::cout << "\n";
    }
    std::cout << "\n" << ok << "/" << o.devices << " devices onboarded (" << n_maf << " MAF-based, " << n_kpsa
              << " Kpsa, " << n_cert << " certificate, " << n_gba_maf << " GBA via the MAF, " << n_gba_saef
              << " GBA with Entity B; " << n_coap << " over CoAP/DTLS, the rest HTTP/TLS)" << (failed ? ", " + std::to_string(failed) + " FAILED" : "") << "\n";
    std::cout << std::fixed << std::setprecision(1) << onboardings_per_s
              << " devices onboarded per second (bootstrap + association, " << onboard_s << " s)";
    if (boot_cpu && assoc_cpu) std::cout << ", " << std::setprecision(2) << *boot_cpu + *assoc_cpu << " ms server CPU each";
    std::cout << "\n";
    if (o.keep || !o.work_dir.empty()) std::cout << "work dir kept: " << work << "\n";
  }
  return failed == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void add_demo_command(CLI::App& app, Context& ctx) {
  static DemoOpts o;
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Start the all-in-one server (demo PKI, fresh data) and take N simulated devices through bootstrap "
      "(Kpm or certificate), MAF client registration, MAF-based association at Entity B and one "
      "authenticated oneM2M request; some devices use the Kpsa or certificate frameworks, and some bootstrap "
      "by GBA (the MEF as BSF, a simulated UICC) and then associate through the MAF or straight with Entity B. "
      "Prints a progress bar and a per-phase summary; exits non-zero if any device failed.");
  cmd->add_option("--devices", o.devices, "Number of devices")->required();
  cmd->add_option("--threads", o.threads, "Concurrent devices (default 16)");
  cmd->add_option("--work-dir", o.work_dir,
                  "Keep device state files, PKI and server log here (default: a temp dir, removed, and the "
                  "devices hold their state in memory)");
  cmd->add_flag("--keep", o.keep, "Keep the temporary work dir (devices then write state files too)");
  cmd->add_option("--kpsa-every", o.kpsa_every,
                  "One device in N uses the Kpsa framework (default 10; 1: all; 0: none). A device two kinds "
                  "pick is a certificate device first, then a Kpsa one, then a GBA one");
  cmd->add_option("--cert-every", o.cert_every, "One device in N uses certificates (default 10; 0: none)");
  cmd->add_option("--gba-every", o.gba_every,
                  "One device in N bootstraps by GBA, alternately for the MAF and for Entity B (default 10; "
                  "0: none)");
  cmd->add_option("--coap-every", o.coap_every,
                  "One device in N of each Kpm, Kpsa and certificate kind enrols, registers and associates over "
                  "CoAP/DTLS (TS-0008, coaps://) instead of HTTP/TLS (0: none; GBA devices use HTTP/TLS)");
  cmd->add_option("--server-log-level", o.log_level, "Server log level (log in <work>/server.log)");
  add_json_flag(cmd, ctx);
  cmd->callback([&ctx] { ctx.run = [&ctx] { return run_demo(ctx, o); }; });
}

}  // namespace m2msec::cli
