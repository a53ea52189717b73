// Helpers shared by the libFuzzer targets in fuzz/ (docs/fuzzing.md).
//
// FUZZ_CHECK turns a broken invariant into a crash libFuzzer records (abort(3)
// after a message naming the check), and RunGuarded turns an exception that
// escapes the code under test into one too: the core promises errors as values
// (core/status.h), so any exception reaching a target is a finding. Header-only;
// single-threaded like libFuzzer's callbacks.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

namespace ubc::fuzz {

[[noreturn]] inline void CheckFailed(const char* file, int line, const char* condition,
                                     const std::string& detail) {
  std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", file, line, condition);
  if (!detail.empty()) std::fprintf(stderr, "  %s\n", detail.c_str());
  std::abort();
}

// Runs `body`; an exception leaving it aborts with its what().
template <typename F>
void RunGuarded(F&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: exception escaped the code under test: %s\n", e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "fuzz: non-standard exception escaped the code under test\n");
    std::abort();
  }
}

// A short printable rendering of bytes for check messages.
inline std::string Show(std::string_view bytes) {
  constexpr size_t kMaxShown = 200;
  std::string out = "\"";
  for (size_t i = 0; i < bytes.size() && i < kMaxShown; ++i) {
    const auto u = static_cast<unsigned char>(bytes[i]);
    if (u >= 0x20 && u < 0x7f && u != '"' && u != '\\') {
      out += static_cast<char>(u);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", u);
      out += hex;
    }
  }
  out += bytes.size() > kMaxShown ? "\"..." : "\"";
  return out;
}

}  // namespace ubc::fuzz

#define FUZZ_CHECK(cond, detail)                                                \
  do {                                                                          \
    if (!(cond)) ::ubc::fuzz::CheckFailed(__FILE__, __LINE__, #cond, (detail)); \
  } while (0)
