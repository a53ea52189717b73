#include "core/units.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace ubc {
namespace {

TEST(UnitsTest, PagesForBytesRoundsUp) {
  EXPECT_EQ(PagesForBytes(0), 0u);
  EXPECT_EQ(PagesForBytes(1), 1u);
  EXPECT_EQ(PagesForBytes(kPageBytes), 1u);
  EXPECT_EQ(PagesForBytes(kPageBytes + 1), 2u);
  // No overflow at the top of the range.
  EXPECT_EQ(PagesForBytes(UINT64_MAX), UINT64_MAX / kPageBytes + 1);
}

TEST(UnitsTest, SaturatingAddClampsInsteadOfWrapping) {
  EXPECT_EQ(SaturatingAdd(2, 3), 5u);
  EXPECT_EQ(SaturatingAdd(UINT64_MAX - 1, 5), UINT64_MAX);
  EXPECT_EQ(SaturatingAdd(UINT64_MAX, UINT64_MAX), UINT64_MAX);
}

TEST(UnitsTest, UnlimitedIsLongMax) { EXPECT_EQ(kUnlimitedPages, 9223372036854775807ULL); }

}  // namespace
}  // namespace ubc
