#include "core/beancounter.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "core/units.h"

namespace ubc {
namespace {

struct FitsCase {
  const char* what;
  uint64_t held, request;
  ChargeCheck check;
  uint64_t barrier, limit;
  bool fits;
};

class ChargeFitsTable : public testing::TestWithParam<FitsCase> {};

TEST_P(ChargeFitsTable, Rule) {
  const FitsCase& c = GetParam();
  EXPECT_EQ(ChargeFits(c.held, c.request, c.check, c.barrier, c.limit), c.fits) << c.what;
}

constexpr ChargeCheck kB = ChargeCheck::kBarrier;
constexpr ChargeCheck kL = ChargeCheck::kLimit;
constexpr ChargeCheck kN = ChargeCheck::kNone;

INSTANTIATE_TEST_SUITE_P(
    Rows, ChargeFitsTable,
    testing::Values(
        FitsCase{"barrier: below", 100, 10, kB, 200, 300, true},
        FitsCase{"barrier: reaching the barrier exactly", 190, 10, kB, 200, 300, true},
        FitsCase{"barrier: one past the barrier", 191, 10, kB, 200, 300, false},
        FitsCase{"barrier: past barrier but within limit", 250, 10, kB, 200, 300, false},
        FitsCase{"barrier: barrier above limit, limit binds", 290, 20, kB, 400, 300, false},
        FitsCase{"barrier: barrier above limit, exactly limit", 290, 10, kB, 400, 300, true},
        FitsCase{"limit: past barrier, within limit", 250, 10, kL, 200, 300, true},
        FitsCase{"limit: reaching the limit exactly", 290, 10, kL, 200, 300, true},
        FitsCase{"limit: one past the limit", 291, 10, kL, 200, 300, false},
        FitsCase{"none: far past both bounds", 1000, 1000, kN, 200, 300, true},
        FitsCase{"none: overflow still fits", UINT64_MAX, 1, kN, 0, 0, true},
        FitsCase{"zero request at the bound", 200, 0, kB, 200, 300, true},
        FitsCase{"zero request, limit lowered below held", 400, 0, kL, 200, 300, false},
        FitsCase{"limit lowered below held: barrier charge", 400, 1, kB, 200, 300, false},
        FitsCase{"limit lowered below held: limit charge", 400, 1, kL, 200, 300, false},
        FitsCase{"zero bounds refuse any page", 0, 1, kB, 0, 0, false},
        FitsCase{"zero bounds admit zero pages", 0, 0, kB, 0, 0, true},
        FitsCase{"unlimited: huge request fits", 1, kUnlimitedPages - 1, kB, kUnlimitedPages,
                 kUnlimitedPages, true},
        FitsCase{"unlimited: one past LONG_MAX", 1, kUnlimitedPages, kB, kUnlimitedPages,
                 kUnlimitedPages, false},
        FitsCase{"overflow: barrier check", UINT64_MAX, 1, kB, UINT64_MAX, UINT64_MAX, false},
        FitsCase{"overflow: limit check", 2, UINT64_MAX - 1, kL, UINT64_MAX, UINT64_MAX, false},
        FitsCase{"no overflow: sum is exactly UINT64_MAX", 1, UINT64_MAX - 1, kL, UINT64_MAX,
                 UINT64_MAX, true}));

TEST(ChargeCheckName, Names) {
  EXPECT_STREQ(ChargeCheckName(ChargeCheck::kNone), "none");
  EXPECT_STREQ(ChargeCheckName(ChargeCheck::kBarrier), "barrier");
  EXPECT_STREQ(ChargeCheckName(ChargeCheck::kLimit), "limit");
}

TEST(Beancounter, DefaultsAreUnlimitedAndZero) {
  Beancounter bc;
  EXPECT_EQ(bc.values().held_pages, 0u);
  EXPECT_EQ(bc.values().maxheld_pages, 0u);
  EXPECT_EQ(bc.values().barrier_pages, kUnlimitedPages);
  EXPECT_EQ(bc.values().limit_pages, kUnlimitedPages);
  EXPECT_EQ(bc.values().failcnt, 0u);
}

TEST(Beancounter, ConstructorSetsBounds) {
  Beancounter bc(65536, 69632);
  EXPECT_EQ(bc.values().barrier_pages, 65536u);
  EXPECT_EQ(bc.values().limit_pages, 69632u);
  EXPECT_EQ(bc.values().held_pages, 0u);
}

TEST(Beancounter, SetLimitsNeverChecksOrderNorReclaims) {
  Beancounter bc(100, 200);
  bc.ObserveHeld(150);
  bc.SetLimits(300, 50);  // barrier > limit, limit < held: both accepted
  EXPECT_EQ(bc.values().barrier_pages, 300u);
  EXPECT_EQ(bc.values().limit_pages, 50u);
  EXPECT_EQ(bc.values().held_pages, 150u);
  EXPECT_EQ(bc.values().maxheld_pages, 150u);
  // Later charges fail against the lowered limit.
  EXPECT_FALSE(bc.Fits(150, 1, ChargeCheck::kLimit));
  EXPECT_FALSE(bc.Fits(150, 1, ChargeCheck::kBarrier));
  EXPECT_TRUE(bc.Fits(150, 1, ChargeCheck::kNone));
}

TEST(Beancounter, FitsUsesCurrentBounds) {
  Beancounter bc(65536, 69632);
  EXPECT_TRUE(bc.Fits(65000, 536, ChargeCheck::kBarrier));
  EXPECT_FALSE(bc.Fits(65000, 537, ChargeCheck::kBarrier));
  EXPECT_TRUE(bc.Fits(65000, 4632, ChargeCheck::kLimit));
  EXPECT_FALSE(bc.Fits(65000, 4633, ChargeCheck::kLimit));
}

TEST(Beancounter, ObserveHeldMaxheldFollowsUpwardsOnly) {
  Beancounter bc;
  bc.ObserveHeld(10);
  EXPECT_EQ(bc.values().held_pages, 10u);
  EXPECT_EQ(bc.values().maxheld_pages, 10u);
  bc.ObserveHeld(30);
  EXPECT_EQ(bc.values().held_pages, 30u);
  EXPECT_EQ(bc.values().maxheld_pages, 30u);
  bc.ObserveHeld(5);
  EXPECT_EQ(bc.values().held_pages, 5u);
  EXPECT_EQ(bc.values().maxheld_pages, 30u);
}

TEST(Beancounter, RecordRefusalCountsAndLeavesHeld) {
  Beancounter bc(10, 10);
  bc.ObserveHeld(8);
  bc.RecordRefusal();
  bc.RecordRefusal();
  bc.RecordRefusal();
  EXPECT_EQ(bc.values().failcnt, 3u);
  EXPECT_EQ(bc.values().held_pages, 8u);
  EXPECT_EQ(bc.values().maxheld_pages, 8u);
}

TEST(Beancounter, RecordChargeRaisesMaxheldNotHeld) {
  Beancounter bc;
  bc.ObserveHeld(100);
  bc.RecordCharge(100, 50);
  EXPECT_EQ(bc.values().maxheld_pages, 150u);
  EXPECT_EQ(bc.values().held_pages, 100u);  // held comes from ObserveHeld only
  bc.RecordCharge(20, 10);                  // below the peak: unchanged
  EXPECT_EQ(bc.values().maxheld_pages, 150u);
  EXPECT_EQ(bc.values().failcnt, 0u);
}

TEST(Beancounter, RecordChargeSaturates) {
  Beancounter bc;
  bc.RecordCharge(UINT64_MAX - 1, 5);
  EXPECT_EQ(bc.values().maxheld_pages, UINT64_MAX);
}

TEST(BeancounterUpperBoundTest, MaxheldFollowsOnlyTheCertainPart) {
  Beancounter b(1000, 2000);
  b.ObserveHeldUpperBound(1200, 900);
  EXPECT_EQ(b.values().held_pages, 1200u);
  EXPECT_EQ(b.values().maxheld_pages, 900u);
  b.ObserveHeldUpperBound(700, 800);  // the bound is below what was certain
  EXPECT_EQ(b.values().held_pages, 700u);
  EXPECT_EQ(b.values().maxheld_pages, 900u);
}

TEST(BeancounterUpperBoundTest, HeldShowsNoMoreThanTheLimitUnlessTheKernelDoes) {
  Beancounter b(800, 1000);
  b.ObserveHeldUpperBound(1200, 900);  // 300 pages of a fork counted twice
  EXPECT_EQ(b.values().held_pages, 1000u);
  EXPECT_EQ(b.ShownHeld(990, 900), 990u);     // under the limit: the bound itself
  EXPECT_EQ(b.ShownHeld(1500, 1100), 1100u);  // stack growth past it is real
  EXPECT_EQ(b.ShownHeld(900, 1100), 900u);    // a credit since the kernel's figure
  EXPECT_FALSE(b.Fits(1200, 1, ChargeCheck::kLimit));
  EXPECT_FALSE(b.Fits(b.values().held_pages, 1, ChargeCheck::kLimit));
}

}  // namespace
}  // namespace ubc
