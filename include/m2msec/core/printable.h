// m2msec/core/printable.h: making peer-supplied bytes safe to put in a log
// line, an error text or a JSON document.
//
// A PSK identity, a request path or a header value comes from an
// unauthenticated peer. Copied verbatim it could forge log lines (newlines),
// drive a terminal (ANSI escapes) or make a JSON encoder throw (invalid
// UTF-8). printable() is the one function every such copy goes through.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace m2msec {

// kPrintableLimit is the default number of input bytes printable() keeps.
inline constexpr std::size_t kPrintableLimit = 128;

// printable returns |text| with every byte outside printable ASCII (0x20..
// 0x7e), and the backslash, written as "\xNN", cut after |limit| input
// bytes with "...(+N bytes)" appended. The result is plain ASCII: valid
// UTF-8 and JSON-safe, one line, no escape sequences. Never fails.
std::string printable(std::string_view text, std::size_t limit = kPrintableLimit);

}  // namespace m2msec
