// Stack headroom: how far the kernel may grow a container's main-thread
// stacks without a trapped call, from the container's RLIMIT_STACK hard
// limit (docs/accounting.md, "When /proc is read").
//
// The supervisor's estimate decides a call only while it stays this far
// below the bound (ContainerAccounting::Tuning::fast_path_headroom_pages).
// A process may raise its soft limit up to the hard one, so the hard limit
// bounds the growth; ubc-hook sets it for every container. Unlimited, unknown
// or absurdly large limits keep the default of 2048 pages (8 MiB, the
// kernel's default RLIMIT_STACK). Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ubc {

inline constexpr uint64_t kDefaultStackHeadroomPages = 2048;  // 8 MiB
inline constexpr uint64_t kMaxStackHeadroomBytes = uint64_t{64} << 20;
// RLIM_INFINITY as /proc/PID/limits writes it ("unlimited").
inline constexpr uint64_t kUnlimitedStackBytes = ~uint64_t{0};

// The hard limit of "Max stack size" in a /proc/PID/limits text, in bytes
// (kUnlimitedStackBytes for "unlimited"); nullopt when the line is missing
// or malformed.
std::optional<uint64_t> ParseStackHardLimitBytes(std::string_view proc_limits);

// The headroom for a hard limit (nullopt: unknown): the limit rounded up to
// pages when finite and at most kMaxStackHeadroomBytes, else the default.
uint64_t StackHeadroomPages(std::optional<uint64_t> hard_limit_bytes);

}  // namespace ubc
