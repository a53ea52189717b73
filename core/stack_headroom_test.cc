#include "core/stack_headroom.h"

#include <gtest/gtest.h>

namespace ubc {
namespace {

constexpr char kLimits[] =
    "Limit                     Soft Limit           Hard Limit           Units     \n"
    "Max cpu time              unlimited            unlimited            seconds   \n"
    "Max stack size            8388608              16777216             bytes     \n"
    "Max core file size        0                    unlimited            bytes     \n";

TEST(StackHeadroomTest, ReadsTheHardLimitOfTheStackLine) {
  EXPECT_EQ(ParseStackHardLimitBytes(kLimits), uint64_t{16} << 20);
  EXPECT_EQ(ParseStackHardLimitBytes("Max stack size            8388608              unlimited"
                                     "            bytes     \n"),
            kUnlimitedStackBytes);
}

TEST(StackHeadroomTest, AMissingOrMalformedLineIsUnknown) {
  EXPECT_EQ(ParseStackHardLimitBytes(""), std::nullopt);
  EXPECT_EQ(ParseStackHardLimitBytes("Max cpu time   unlimited  unlimited  seconds\n"),
            std::nullopt);
  EXPECT_EQ(ParseStackHardLimitBytes("Max stack size  8388608\n"), std::nullopt);
  EXPECT_EQ(ParseStackHardLimitBytes("Max stack size  8388608  16x  bytes\n"), std::nullopt);
}

TEST(StackHeadroomTest, AFiniteSaneLimitIsTheHeadroomElseTheDefault) {
  EXPECT_EQ(StackHeadroomPages(uint64_t{16} << 20), 4096u);
  EXPECT_EQ(StackHeadroomPages(uint64_t{1} << 20), 256u);
  EXPECT_EQ(StackHeadroomPages(4097), 2u);  // rounded up to whole pages
  EXPECT_EQ(StackHeadroomPages(kMaxStackHeadroomBytes), 16384u);
  EXPECT_EQ(StackHeadroomPages(kMaxStackHeadroomBytes + 1), kDefaultStackHeadroomPages);
  EXPECT_EQ(StackHeadroomPages(kUnlimitedStackBytes), kDefaultStackHeadroomPages);
  EXPECT_EQ(StackHeadroomPages(std::nullopt), kDefaultStackHeadroomPages);
}

}  // namespace
}  // namespace ubc
