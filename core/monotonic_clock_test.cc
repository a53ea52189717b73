#include "core/monotonic_clock.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace ubc {
namespace {

TEST(MonotonicClock, BothClocksAdvanceWithTimeAndNeverGoBack) {
  const int64_t fine = MonotonicMs(), coarse = CoarseMonotonicMs();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const int64_t fine_after = MonotonicMs(), coarse_after = CoarseMonotonicMs();
  EXPECT_GE(fine_after - fine, 50);
  EXPECT_LT(fine_after - fine, 5000);
  // The coarse clock is a jiffy (at most 10 ms) behind at worst.
  EXPECT_GE(coarse_after - coarse, 40);
  EXPECT_LE(coarse_after, fine_after + 1);
}

TEST(MonotonicClock, TheyAreTheSameClockAtDifferentResolutions) {
  const int64_t fine = MonotonicMs();
  const int64_t coarse = CoarseMonotonicMs();
  EXPECT_LE(coarse, fine + 1);
  EXPECT_GE(coarse, fine - 20);
}

}  // namespace
}  // namespace ubc
