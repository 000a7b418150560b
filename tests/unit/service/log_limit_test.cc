// RateLimitedSink: a flood of one kind of line is cut to its bucket and
// the drops are reported; other kinds still get through.
#include "m2msec/service/log_limit.h"

#include "m2msec/service/listener.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace m2msec::service {
namespace {

std::size_t count_lines(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

TEST(LogLimit, KindIsTheFirstThreeWords) {
  EXPECT_EQ(log_kind_of("mef: handshake failed: unknown PSK identity"), "mef: handshake failed:");
  EXPECT_EQ(log_kind_of("short"), "short");
  EXPECT_EQ(log_kind_of(std::string(100, 'x')), std::string(40, 'x'));
}

TEST(LogLimit, DropsAFloodAndReportsTheCount) {
  std::ostringstream out;
  auto inner = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto sink = std::make_shared<RateLimitedSink>(inner, LogLimits{10, 0.001, 16});
  spdlog::logger log("t", sink);
  log.set_pattern("%v");
  for (int i = 0; i < 1000; ++i) log.info("mef: handshake failed: identity {}", i);
  log.info("maf: registered client /dev-1");
  log.flush();
  const std::string text = out.str();
  EXPECT_EQ(count_lines(text, "mef: handshake failed:"), 10u + 1u);  // 10 lines and the report naming the kind
  EXPECT_EQ(count_lines(text, "maf: registered client"), 1u);
  EXPECT_NE(text.find("log: dropped 990 lines like 'mef: handshake failed:'"), std::string::npos) << text;
  EXPECT_EQ(sink->dropped(), 990u);
}

TEST(LogLimit, BoundsTheNumberOfKinds) {
  std::ostringstream out;
  auto inner = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto sink = std::make_shared<RateLimitedSink>(inner, LogLimits{1, 0.001, 4});
  spdlog::logger log("t", sink);
  log.set_pattern("%v");
  for (int i = 0; i < 100; ++i) log.info("kind{} a b c", i);
  log.flush();
  // 4 kinds of their own, then everything else shares one bucket of 1.
  EXPECT_EQ(sink->dropped(), 100u - 5u);
  EXPECT_NE(out.str().find("lines of other kinds"), std::string::npos) << out.str();
}

// Issue 9: a peer injected newlines and ANSI escapes into the log through
// its PSK identity; the handshake-failure line escapes them.
TEST(LogLimit, HandshakeFailuresAreLoggedEscaped) {
  std::ostringstream out;
  auto logger = std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  logger->set_pattern("%v");
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  log_handshake_failure("mef")(Error(Errc::unknown_psk_identity, "kpm\n2026-01-01 info forged\x1b[2J"));
  spdlog::set_default_logger(previous);
  const std::string text = out.str();
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_EQ(text.find('\n'), text.size() - 1) << text;  // the line's own end only
  EXPECT_NE(text.find("kpm\\x0a2026-01-01 info forged\\x1b[2J"), std::string::npos) << text;
}

}  // namespace
}  // namespace m2msec::service
