#include "core/resource_rows.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "core/units.h"

namespace ubc {
namespace {

const ResourceRow& Row(const std::array<ResourceRow, kResourceRowCount>& rows,
                       std::string_view name) {
  for (const ResourceRow& row : rows) {
    if (name == row.name) return row;
  }
  ADD_FAILURE() << "no row " << name;
  return rows[0];
}

TEST(ResourceRows, OpenvzOrderAndUnits) {
  const auto rows = ResourceRows(ContainerCounters{});
  const char* order[] = {
      "kmemsize",   "lockedpages", "privvmpages",  "shmpages",     "dummy",       "numproc",
      "physpages",  "vmguarpages", "oomguarpages", "numtcpsock",   "numflock",    "numpty",
      "numsiginfo", "tcpsndbuf",   "tcprcvbuf",    "othersockbuf", "dgramrcvbuf", "numothersock",
      "dcachesize", "numfile",     "dummy",        "dummy",        "dummy",       "numiptent"};
  for (size_t i = 0; i < kResourceRowCount; ++i) EXPECT_STREQ(rows[i].name, order[i]) << i;
  EXPECT_STREQ(Row(rows, "kmemsize").unit, "bytes");
  EXPECT_STREQ(Row(rows, "numproc").unit, "tasks");
  EXPECT_STREQ(Row(rows, "physpages").unit, "pages");
  EXPECT_STREQ(Row(rows, "numfile").unit, "files");
  EXPECT_STREQ(rows[4].unit, "");
}

TEST(ResourceRows, NothingMeasuredLeavesOnlyThePageCountersTracked) {
  ContainerCounters c;
  c.privvmpages = {10, 20, 30, 40, 5};
  const auto rows = ResourceRows(c);
  for (const ResourceRow& row : rows) {
    const std::string name = row.name;
    if (name == "privvmpages" || name == "shmpages") {
      EXPECT_EQ(row.tracking, Tracking::kEnforced) << name;
    } else if (name == "lockedpages") {
      // Read from VmLck even while unlimited.
      EXPECT_EQ(row.tracking, Tracking::kMeasured) << name;
      EXPECT_EQ(row.values.limit_pages, kUnlimitedPages) << name;
    } else {
      EXPECT_EQ(row.tracking, Tracking::kUntracked) << name;
      EXPECT_EQ(row.values.held_pages, 0u) << name;
      EXPECT_EQ(row.values.barrier_pages, kUnlimitedPages) << name;
      EXPECT_EQ(row.values.limit_pages, kUnlimitedPages) << name;
    }
  }
  EXPECT_EQ(Row(rows, "privvmpages").values.failcnt, 5u);
  EXPECT_EQ(Row(rows, "privvmpages").values.limit_pages, 40u);
}

TEST(ResourceRows, MeasuredRowsCarryTheirValues) {
  ContainerCounters c;
  c.measured.physpages = BeancounterValues{100, 150, kUnlimitedPages, kUnlimitedPages, 0};
  c.measured.kmemsize = BeancounterValues{1 << 20, 2 << 20, kUnlimitedPages, kUnlimitedPages, 0};
  c.measured.numfile = BeancounterValues{7, 9, kUnlimitedPages, kUnlimitedPages, 0};
  c.measured.numproc = BeancounterValues{3, 4, kUnlimitedPages, kUnlimitedPages, 0};
  const auto rows = ResourceRows(c);
  EXPECT_EQ(Row(rows, "physpages").tracking, Tracking::kMeasured);
  EXPECT_EQ(Row(rows, "physpages").values.maxheld_pages, 150u);
  EXPECT_EQ(Row(rows, "kmemsize").values.held_pages, uint64_t{1} << 20);
  EXPECT_EQ(Row(rows, "numfile").values.held_pages, 7u);
  EXPECT_EQ(Row(rows, "numproc").tracking, Tracking::kMeasured);
  EXPECT_EQ(Row(rows, "lockedpages").tracking, Tracking::kMeasured);
}

TEST(ResourceRows, ALockedpagesLimitMakesItsRowEnforced) {
  ContainerCounters c;
  c.lockedpages = BeancounterValues{12, 30, 256, 256, 4};
  c.lockedpages_enforced = true;
  const auto rows = ResourceRows(c);
  EXPECT_EQ(Row(rows, "lockedpages").tracking, Tracking::kEnforced);
  EXPECT_EQ(Row(rows, "lockedpages").values.held_pages, 12u);
  EXPECT_EQ(Row(rows, "lockedpages").values.maxheld_pages, 30u);
  EXPECT_EQ(Row(rows, "lockedpages").values.failcnt, 4u);
}

TEST(ResourceRows, ANumprocLimitMakesItsRowEnforced) {
  ContainerCounters c;
  c.measured.numproc = BeancounterValues{3, 4, 64, 64, 2};
  c.numproc_enforced = true;
  const auto rows = ResourceRows(c);  // Row() refers into it
  const ResourceRow& row = Row(rows, "numproc");
  EXPECT_EQ(row.tracking, Tracking::kEnforced);
  EXPECT_EQ(row.values.limit_pages, 64u);
  EXPECT_EQ(row.values.failcnt, 2u);
}

TEST(ResourceRows, TrackingNames) {
  EXPECT_STREQ(TrackingName(Tracking::kEnforced), "enforced");
  EXPECT_STREQ(TrackingName(Tracking::kMeasured), "measured");
  EXPECT_STREQ(TrackingName(Tracking::kUntracked), "untracked");
}

}  // namespace
}  // namespace ubc
