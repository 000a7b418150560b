// The audit writer (docs/audit.md): JSON lines, mode 0600, append-only
// across reopen, whole lines under concurrent writers, peer text made
// printable, and no field that could carry a key value.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "../store/test_util.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/service/audit.h"
#include "m2msec/service/auth_context.h"

namespace m2msec::service {
namespace {

using store::testing::TempDir;

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(AuditLog, WritesOneJsonObjectPerLineWithMode0600) {
  TempDir dir;
  const std::string path = dir.file("audit.jsonl");
  auto log = AuditLog::open(path, "maf", "mas.example.com");
  ASSERT_TRUE(log) << log.error().message();
  audit_grant(log->get(), "kc", "abc=@maf.example.com", "/dev-1", "maf", 1800000000, "/in-cse");
  audit_refusal(log->get(), "kc", "def=@maf.example.com", "/in-cse", "not_target");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto lines = lines_of(path);
  ASSERT_EQ(lines.size(), 2u);
  auto g = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(g["role"], "maf");
  EXPECT_EQ(g["mas_id"], "mas.example.com");
  EXPECT_EQ(g["event"], "grant");
  EXPECT_EQ(g["kind"], "kc");
  EXPECT_EQ(g["key_id"], "abc=@maf.example.com");
  EXPECT_EQ(g["to"], "/dev-1");
  EXPECT_EQ(g["entity"], "/in-cse");
  EXPECT_EQ(g["framework"], "maf");
  EXPECT_EQ(g["expires_at"], 1800000000);
  EXPECT_TRUE(g["ts"].is_number_integer());
  EXPECT_TRUE(g["time"].get<std::string>().ends_with("Z"));
  auto r = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(r["event"], "refusal");
  EXPECT_EQ(r["reason"], "not_target");
  EXPECT_FALSE(r.contains("expires_at"));
}

// The counts behind /metrics: by class only (never a key identifier or
// the peer it was given to), also for a role with no audit file.
TEST(AuditLog, CountsRecordsForMetricsWithOrWithoutAFile) {
  TempDir dir;
  auto filed = AuditLog::open(dir.file("audit.jsonl"), "maf");
  ASSERT_TRUE(filed) << filed.error().message();
  auto memory = AuditLog::in_memory("cse");
  for (AuditLog* log : {filed->get(), memory.get()}) {
    audit_grant(log, "kc", "abc=@maf.example.com", "/dev-1", "maf", 1800000000);
    audit_grant(log, "kc", "xyz=@maf.example.com", "/dev-2", "maf", 1800000000);
    audit_refusal(log, "kc", "def=@maf.example.com", "/in-cse", "not_target");
    audit_revocation(log, "kc", "ghi=@maf.example.com", "/dev-3", "maf");
  }
  EXPECT_EQ(lines_of(dir.file("audit.jsonl")).size(), 4u);
  EXPECT_EQ(memory->failed_writes(), 0u);  // nothing to write, nothing failed
  MetricsWriter w;
  memory->write_metrics(w);
  const std::string& t = w.text();
  EXPECT_NE(t.find("m2msec_key_grants_total{role=\"cse\",kind=\"kc\",framework=\"maf\"} 2\n"), std::string::npos) << t;
  EXPECT_NE(t.find("m2msec_refusals_total{role=\"cse\",reason=\"not_target\"} 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("m2msec_revocations_total{role=\"cse\",kind=\"kc\"} 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("m2msec_audit_write_failures_total{role=\"cse\"} 0\n"), std::string::npos) << t;
  for (const char* secretish : {"abc=", "/dev-1", "/in-cse"}) EXPECT_EQ(t.find(secretish), std::string::npos) << t;
}

TEST(AuditLog, AppendsAcrossReopenAndRefusesAnOpenFile) {
  TempDir dir;
  const std::string path = dir.file("audit.jsonl");
  for (int i = 0; i < 3; ++i) {
    auto log = AuditLog::open(path, "mef");
    ASSERT_TRUE(log);
    (*log)->record(operator_event("add", "enrolee", "/dev-" + std::to_string(i)));
  }
  auto lines = lines_of(path);
  ASSERT_EQ(lines.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(nlohmann::json::parse(lines[i])["entity"], "/dev-" + std::to_string(i));
  // A trail others can read is refused, never silently chmod-ed.
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto bad = AuditLog::open(path, "mef");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::io_error);
  EXPECT_FALSE(AuditLog::open(dir.file("missing-dir/audit.jsonl"), "mef"));
  EXPECT_FALSE(AuditLog::open(dir.path(), "mef"));  // not a regular file
}

TEST(AuditLog, ConcurrentWritersNeverInterleave) {
  TempDir dir;
  const std::string path = dir.file("audit.jsonl");
  // Two logs on one file stand for a server and an operator command.
  auto a = AuditLog::open(path, "maf");
  auto b = AuditLog::open(path, "maf");
  ASSERT_TRUE(a && b);
  constexpr int kThreads = 8, kEach = 500;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    AuditLog* log = (t % 2 ? a : b)->get();
    ts.emplace_back([log, t] {
      for (int i = 0; i < kEach; ++i) {
        audit_grant(log, "kc", std::string(200, static_cast<char>('a' + t)) + "@maf.example.com",
                    "/dev-" + std::to_string(i), "maf", i);
      }
    });
  }
  for (auto& t : ts) t.join();
  auto lines = lines_of(path);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kThreads * kEach));
  for (const auto& l : lines) {
    auto j = nlohmann::json::parse(l, nullptr, false);
    ASSERT_TRUE(j.is_object()) << l;
    const std::string id = j["key_id"];
    ASSERT_EQ(id.find_first_not_of(id[0]), 200u) << l;
  }
}

TEST(AuditLog, MakesPeerTextPrintableAndShort) {
  TempDir dir;
  auto log = AuditLog::open(dir.file("audit.jsonl"), "cse");
  ASSERT_TRUE(log);
  const std::string evil = std::string("/dev\n{\"event\":\"grant\"}\xff\x1b[31m") + std::string(1000, 'x');
  audit_refusal(log->get(), "kc", evil, evil, "no_privilege");
  auto lines = lines_of((*log)->path());
  ASSERT_EQ(lines.size(), 1u);  // the newline did not forge a second record
  auto j = nlohmann::json::parse(lines[0]);
  const std::string to = j["to"];
  EXPECT_EQ(to.find('\n'), std::string::npos);
  EXPECT_EQ(to.find('\x1b'), std::string::npos);
  EXPECT_LT(to.size(), 400u);
}

// The wrapper records a refusal's class, never its free text (which may
// quote the peer), and lets successes through unrecorded.
TEST(AuditLog, RecordsRefusalClassesThroughTheReplyWrapper) {
  TempDir dir;
  auto log = AuditLog::open(dir.file("audit.jsonl"), "maf");
  ASSERT_TRUE(log);
  AuthContext ctx;
  ctx.key_id = "kc-id@maf.example.com";
  proto::Request req;
  req.from = "/in-cse";
  req.to = "/maf/keys/abc";
  std::vector<proto::Response> got;
  auto reply = audit_refusals(log->get(), ctx, req, [&got](proto::Response r) { got.push_back(std::move(r)); });
  reply(proto::error_response(req, proto::Rsc::originator_has_no_privilege, "KcID expired"));
  reply(proto::error_response(req, proto::Rsc::not_found, "KcID not found"));
  reply(proto::error_response(req, proto::Rsc::originator_has_no_privilege, "requester is not a target of the key"));
  reply(proto::error_response(req, proto::Rsc::originator_has_no_privilege, "secret-peer-text"));
  reply(proto::ok_response(req, proto::Rsc::ok, nullptr));
  EXPECT_EQ(got.size(), 5u);
  auto lines = lines_of((*log)->path());
  ASSERT_EQ(lines.size(), 4u);
  std::vector<std::string> reasons;
  for (const auto& l : lines) {
    EXPECT_EQ(l.find("secret-peer-text"), std::string::npos);
    auto j = nlohmann::json::parse(l);
    EXPECT_EQ(j["key_id"], "kc-id@maf.example.com");
    EXPECT_EQ(j["to"], "/in-cse");
    EXPECT_EQ(j["resource"], "/maf/keys/abc");
    reasons.push_back(j["reason"]);
  }
  EXPECT_EQ(reasons, (std::vector<std::string>{"expired", "unknown_key", "not_target", "no_privilege"}));
  // Without a log the reply is passed through untouched.
  bool called = false;
  audit_refusals(nullptr, ctx, req, [&called](proto::Response) { called = true; })(
      proto::error_response(req, proto::Rsc::bad_request, "x"));
  EXPECT_TRUE(called);
}

}  // namespace
}  // namespace m2msec::service
