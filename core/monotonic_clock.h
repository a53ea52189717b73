// MonotonicClock: the monotonic clocks ubc reads, in milliseconds.
//
// CoarseMonotonicMs() is CLOCK_MONOTONIC_COARSE: jiffy resolution, read from
// the vDSO without the TSC, for intervals of tens of milliseconds and more
// (re-listing, snapshot ages, log windows) on paths where even a clock read
// shows. MonotonicMs() is CLOCK_MONOTONIC, for deadlines that must be exact
// to the millisecond (connection timeouts, restart delays). Both are
// async-signal-safe (a forked child may call them) and thread-safe.
#pragma once

#include <time.h>

#include <cstdint>

namespace ubc {

inline int64_t CoarseMonotonicMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

inline int64_t MonotonicMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace ubc
