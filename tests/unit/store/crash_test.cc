// crash_test.cc: acknowledged writes survive kill -9 of the writer.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <thread>
#include <vector>

#include "sqlite_conn.h"
#include "test_util.h"

namespace m2msec::store {
namespace {

using testing::psk_enrolee;
using testing::secret_of;
using testing::TempDir;

constexpr std::int64_t kNow = 1'700'000'000;

// child_main writes enrolees from several threads through the group-commit
// writer and reports each acknowledged ID (one line, atomic on a pipe)
// only after add_enrolee has returned. Never returns.
[[noreturn]] void child_main(const std::string& path, int out_fd) {
  SqliteStoreOptions opts;
  opts.path = path;
  Result<std::unique_ptr<Store>> store = open_sqlite_store(opts, testing::test_kek());
  if (!store) ::_exit(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        const std::string id = "/crash-" + std::to_string(t) + "-" + std::to_string(i);
        Enrolee e = psk_enrolee(id, "kpm" + id, static_cast<std::uint8_t>(i));
        if (!(*store)->mef().add_enrolee(e, kNow)) ::_exit(3);
        const std::string line = id + "\n";
        if (::write(out_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(4);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  ::_exit(0);
}

TEST(Crash, AcknowledgedWritesSurviveKill9) {
  TempDir dir;
  const std::string path = dir.file("crash.db");
  { ASSERT_NE(testing::open_store(path), nullptr); }  // create the schema first

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    child_main(path, fds[1]);
  }
  ::close(fds[1]);

  // Read acknowledgements until enough have arrived, then kill mid-stream.
  std::string acked;
  char buf[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::size_t lines = 0;
  while (lines < 400 && std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    acked.append(buf, static_cast<std::size_t>(n));
    lines = static_cast<std::size_t>(std::count(acked.begin(), acked.end(), '\n'));
  }
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with status " << WEXITSTATUS(status);
  // Drain what was acknowledged before the kill.
  while (true) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    acked.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);

  std::vector<std::string> ids;
  std::size_t start = 0;
  for (std::size_t nl = acked.find('\n'); nl != std::string::npos; nl = acked.find('\n', start)) {
    ids.push_back(acked.substr(start, nl - start));
    start = nl + 1;
  }
  ASSERT_GE(ids.size(), 400u);

  std::unique_ptr<Store> store = testing::open_store(path);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->check_integrity());
  for (const std::string& id : ids) {
    Result<Enrolee> e = store->mef().get_enrolee(id);
    ASSERT_TRUE(e) << id << ": " << e.error().message();
    const int i = std::stoi(id.substr(id.rfind('-') + 1));
    EXPECT_TRUE(e->kpm == secret_of(static_cast<std::uint8_t>(i))) << id;
  }
  // Rows written after the last acknowledgement may or may not be there,
  // but every row that is there must be whole: its Kpm opens.
  Result<SqliteConn> raw = SqliteConn::open(path, SqliteMode::reader, 1000);
  ASSERT_TRUE(raw);
  Result<sql::Stmt> all = raw->prepare("SELECT enrolee_id FROM enrolees");
  ASSERT_TRUE(all);
  std::size_t present = 0;
  while (all->step().value_or(false)) {
    ++present;
    Result<Enrolee> e = store->mef().get_enrolee(all->column_text(0));
    EXPECT_TRUE(e) << all->column_text(0) << ": " << e.error().message();
  }
  EXPECT_GE(present, ids.size());
}

}  // namespace
}  // namespace m2msec::store
