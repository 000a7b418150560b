// serve_util.h: helpers for the long-running "serve" commands.
#pragma once

#include <string>

namespace m2msec::cli {

// block_signals blocks SIGINT and SIGTERM in the calling thread and the
// threads it starts later; call before starting servers.
void block_signals();

// wait_for_signal waits for SIGINT or SIGTERM (blocked by block_signals)
// and returns its name.
std::string wait_for_signal();

// init_logging sets spdlog's level ("trace".."off") and a stderr sink with
// timestamps. Returns false for an unknown level.
bool init_logging(const std::string& level);

}  // namespace m2msec::cli
