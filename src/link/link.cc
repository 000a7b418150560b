// The connection pools behind link::Link. One mutex guards every pool's
// bookkeeping; sockets are opened, used and closed outside it.
#include "m2msec/link/link.h"

#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <vector>

#include "m2msec/proto/http.h"
#include "m2msec/tls/client.h"

namespace m2msec::link {
namespace {

using Clock = std::chrono::steady_clock;

// Conn is one persistent connection with its response parser.
struct Conn {
  explicit Conn(tls::TlsClient t) : tls(std::move(t)) {}
  tls::TlsClient tls;
  proto::ResponseReader reader;
  Clock::time_point last_used;
};

// PeerPool is the state kept per peer.
struct PeerPool {
  std::vector<std::unique_ptr<Conn>> idle;  // least recently used first
  std::size_t open = 0;                     // idle + in use + being opened
  std::size_t in_flight = 0;                // admitted calls
  unsigned failures = 0;                    // consecutive failed connection attempts
  Clock::time_point open_until{};           // breaker open until then
  bool probing = false;                     // the one attempt let through a half-open breaker
  std::condition_variable cv;               // a connection came back or a slot freed
};

std::chrono::milliseconds left(Clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
}

// idempotent: TS-0004 RETRIEVE and DELETE may be sent twice with the same
// effect; CREATE, UPDATE and NOTIFY may not.
bool idempotent(proto::Operation op) {
  switch (op) {
    case proto::Operation::retrieve:
    case proto::Operation::del:
      return true;
    default:
      return false;
  }
}

std::string pool_key(const Peer& p) { return p.host + "\n" + std::to_string(p.port) + "\n" + p.fqdn; }

}  // namespace

struct Link::Impl {
  LinkOptions options;
  std::shared_ptr<const tls::ClientContext> context;
  mutable std::mutex mu;
  std::map<std::string, std::unique_ptr<PeerPool>> pools;
  LinkStats stats;
  std::uint64_t next_rqi = 1;

  PeerPool& pool_for(const Peer& peer) {
    std::lock_guard lock(mu);
    auto& p = pools[pool_key(peer)];
    if (!p) p = std::make_unique<PeerPool>();
    return *p;
  }

  // admit counts the call against max_in_flight. Fails with
  // Errc::connect_failed when the peer already has that many.
  Status admit(PeerPool& pool, const Peer& peer) {
    std::lock_guard lock(mu);
    ++stats.calls;
    if (pool.in_flight >= options.max_in_flight) {
      ++stats.busy_rejects;
      return fail(Errc::connect_failed, peer.fqdn + ": " + std::to_string(pool.in_flight) + " calls in flight");
    }
    ++pool.in_flight;
    return {};
  }

  void leave(PeerPool& pool) {
    std::lock_guard lock(mu);
    --pool.in_flight;
  }

  // acquire returns a pooled connection to |peer| (unless |fresh|) or a new
  // one, waiting for a free slot until |deadline|. Sets |out_reused|.
  Result<std::unique_ptr<Conn>> acquire(PeerPool& pool, const Peer& peer, Clock::time_point deadline, bool fresh,
                                        bool& out_reused) {
    out_reused = false;
    std::vector<std::unique_ptr<Conn>> discard;  // closed after the lock is released
    std::unique_lock lock(mu);
    while (true) {
      const auto now = Clock::now();
      if (pool.failures >= options.breaker_failures && (now < pool.open_until || pool.probing)) {
        ++stats.breaker_rejects;
        return fail(Errc::connect_failed, peer.fqdn + ": circuit open after " + std::to_string(pool.failures) +
                                              " failed connection attempts");
      }
      while (!fresh && !pool.idle.empty()) {
        std::unique_ptr<Conn> c = std::move(pool.idle.back());
        pool.idle.pop_back();
        if (now - c->last_used >= options.max_idle || !c->tls.reusable()) {
          --pool.open;
          discard.push_back(std::move(c));
          continue;
        }
        ++stats.reused;
        out_reused = true;
        return c;
      }
      if (pool.open < options.pool_size) break;
      if (fresh && !pool.idle.empty()) {  // make room for the fresh one
        --pool.open;
        discard.push_back(std::move(pool.idle.front()));
        pool.idle.erase(pool.idle.begin());
        continue;
      }
      if (pool.cv.wait_until(lock, deadline) == std::cv_status::timeout) {
        return fail(Errc::timeout, peer.fqdn + ": no connection free before the deadline");
      }
    }
    ++pool.open;
    const bool probe = pool.failures >= options.breaker_failures;
    if (probe) pool.probing = true;
    lock.unlock();
    discard.clear();

    Result<tls::TlsClient> tls = fail(Errc::timeout, peer.fqdn + ": deadline passed before connecting");
    if (const auto ms = left(deadline); ms.count() > 0) {
      tls::ClientOptions o;
      o.host = peer.host;
      o.port = peer.port;
      o.sni = peer.fqdn;
      o.context = context;
      o.timeout = ms;
      tls = tls::TlsClient::connect(std::move(o));
    }

    lock.lock();
    if (probe) pool.probing = false;
    if (!tls) {
      --pool.open;
      ++pool.failures;
      if (pool.failures >= options.breaker_failures) pool.open_until = Clock::now() + options.breaker_open;
      pool.cv.notify_all();
      return std::unexpected(tls.error());
    }
    pool.failures = 0;
    ++stats.handshakes;
    return std::make_unique<Conn>(std::move(*tls));
  }

  // release returns |c| to the pool if |healthy|, else closes it.
  void release(PeerPool& pool, std::unique_ptr<Conn> c, bool healthy) {
    {
      std::lock_guard lock(mu);
      if (healthy) {
        c->last_used = Clock::now();
        pool.idle.push_back(std::move(c));
      } else {
        --pool.open;
        ++stats.broken;
      }
      pool.cv.notify_one();
    }
    c.reset();  // a broken connection is closed outside the lock
  }

  // exchange writes |text| and reads one response on |c|, matching it to
  // |rqi|. Sets |out_bytes| once any response byte has arrived.
  static Result<proto::Response> exchange(Conn& c, const std::string& rqi, const std::string& text,
                                          Clock::time_point deadline, bool& out_bytes) {
    out_bytes = false;
    auto ms = left(deadline);
    if (ms.count() <= 0) return fail(Errc::timeout, "deadline passed before sending");
    const auto* data = reinterpret_cast<const std::uint8_t*>(text.data());
    if (Status st = c.tls.write_all({data, text.size()}, ms); !st) return std::unexpected(st.error());
    while (true) {
      auto rsp = c.reader.next();
      if (!rsp) return std::unexpected(rsp.error());
      if (*rsp) {
        if ((*rsp)->rqi != rqi) return fail(Errc::malformed_message, "response X-M2M-RI does not match the request");
        return std::move(**rsp);
      }
      ms = left(deadline);
      if (ms.count() <= 0) return fail(Errc::timeout, "waiting for the response");
      auto bytes = c.tls.read(64 * 1024, ms);
      if (!bytes) return std::unexpected(bytes.error());
      out_bytes = true;
      if (Status st = c.reader.feed(*bytes); !st) return std::unexpected(st.error());
    }
  }
};

Link::Link(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Link::~Link() = default;

Result<std::unique_ptr<Link>> Link::create(LinkOptions options) {
  if (!options.trust) return fail(Errc::invalid_argument, "link: trust anchors are required");
  if (options.pool_size == 0 || options.max_in_flight == 0 || options.breaker_failures == 0) {
    return fail(Errc::invalid_argument, "link: pool_size, max_in_flight and breaker_failures must be positive");
  }
  if (options.timeout.count() <= 0 || options.max_idle.count() <= 0 || options.breaker_open.count() <= 0) {
    return fail(Errc::invalid_argument, "link: timeout, max_idle and breaker_open must be positive");
  }
  tls::ClientOptions o;
  o.transport = tls::Transport::tls;
  o.trust = options.trust;
  o.certificate = options.certificate;
  o.require_extended_master_secret = options.require_extended_master_secret;
  auto ctx = tls::ClientContext::create(o);
  if (!ctx) return std::unexpected(ctx.error());
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->context = std::move(*ctx);
  return std::unique_ptr<Link>(new Link(std::move(impl)));
}

Result<proto::Response> Link::call(const Peer& peer, proto::Request req) {
  return call(peer, std::move(req), impl_->options.timeout);
}

Result<proto::Response> Link::call(const Peer& peer, proto::Request req, std::chrono::milliseconds timeout,
                                   bool repeatable) {
  if (timeout.count() <= 0) return fail(Errc::invalid_argument, "link: timeout must be positive");
  const auto deadline = Clock::now() + timeout;
  // "Connection" is hop-by-hop (RFC 9110 7.6.1): the link keeps its
  // connections, whatever a relayed request asked of its own hop.
  req.close = false;
  if (req.rqi.empty()) {
    std::lock_guard lock(impl_->mu);
    req.rqi = "m2msec-link-" + std::to_string(impl_->next_rqi++);
  }
  std::string text;
  try {
    text = proto::encode_request(req, peer.fqdn);
  } catch (const std::exception&) {  // nlohmann refuses to dump invalid UTF-8
    return fail(Errc::invalid_argument, "link: request cannot be encoded");
  }
  PeerPool& pool = impl_->pool_for(peer);
  if (Status st = impl_->admit(pool, peer); !st) return std::unexpected(st.error());
  struct Leave {
    Impl& impl;
    PeerPool& pool;
    ~Leave() { impl.leave(pool); }
  } leave{*impl_, pool};

  bool fresh = false;
  while (true) {
    bool reused = false;
    auto conn = impl_->acquire(pool, peer, deadline, fresh, reused);
    if (!conn) return std::unexpected(conn.error());
    bool bytes = false;
    auto rsp = Impl::exchange(**conn, req.rqi, text, deadline, bytes);
    impl_->release(pool, std::move(*conn), rsp.has_value());
    if (rsp) return rsp;
    // A pooled connection the peer closed meanwhile (its idle timeout, a
    // restart) fails before any response byte: send an idempotent request
    // once more on a fresh connection.
    const bool retry = reused && !fresh && !bytes && (repeatable || idempotent(req.op)) &&
                       rsp.error().code() == Errc::connection_closed && Clock::now() < deadline;
    if (!retry) return rsp;
    {
      std::lock_guard lock(impl_->mu);
      ++impl_->stats.retries;
    }
    fresh = true;
  }
}

void Link::close_idle() {
  std::vector<std::unique_ptr<Conn>> discard;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [key, pool] : impl_->pools) {
      pool->open -= pool->idle.size();
      for (auto& c : pool->idle) discard.push_back(std::move(c));
      pool->idle.clear();
    }
  }
}

LinkStats Link::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

std::vector<PeerState> Link::peers() const {
  std::lock_guard lock(impl_->mu);
  std::vector<PeerState> out;
  const auto now = Clock::now();
  for (const auto& [key, pool] : impl_->pools) {
    PeerState st;
    const std::size_t a = key.find('\n'), b = key.find('\n', a + 1);
    st.host = key.substr(0, a);
    st.port = static_cast<std::uint16_t>(std::stoul(key.substr(a + 1, b - a - 1)));
    st.fqdn = key.substr(b + 1);
    st.open = pool->open;
    st.idle = pool->idle.size();
    st.in_flight = pool->in_flight;
    st.breaker_open = pool->failures >= impl_->options.breaker_failures && now < pool->open_until;
    out.push_back(std::move(st));
  }
  return out;
}

const LinkOptions& Link::options() const { return impl_->options; }

Result<LinkOptions> make_options(const std::string& certificate, const std::string& private_key,
                                 const std::string& trust_anchors, std::size_t pool_size,
                                 std::chrono::milliseconds timeout) {
  LinkOptions out_options;
  out_options.pool_size = pool_size;
  out_options.timeout = timeout;
  if (!certificate.empty()) {
    auto ck = tls::load_certificate_key(certificate, private_key);
    if (!ck) return std::unexpected(ck.error());
    out_options.certificate = *ck;
  }
  if (!trust_anchors.empty()) {
    auto ta = tls::load_trust_anchors(trust_anchors);
    if (!ta) return std::unexpected(ta.error());
    out_options.trust = *ta;
  }
  return out_options;
}

}  // namespace m2msec::link
