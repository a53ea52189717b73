#include "core/process_image_cache.h"

#include <gtest/gtest.h>

namespace ubc {
namespace {

MembersSample Listing(std::vector<std::pair<int, uint64_t>> by_tgid) {
  MembersSample s;
  s.data_pages_by_tgid = std::move(by_tgid);
  return s;
}

TEST(ProcessImageCacheTest, RemembersTheTgidOfAThread) {
  ProcessImageCache cache;
  int tgid = 0;
  EXPECT_FALSE(cache.TgidOf(11, &tgid));
  cache.SetTgid(11, 10);
  ASSERT_TRUE(cache.TgidOf(11, &tgid));
  EXPECT_EQ(tgid, 10);
  cache.ForgetThread(11);
  EXPECT_FALSE(cache.TgidOf(11, &tgid));
}

TEST(ProcessImageCacheTest, RemembersOneBreakPerProcess) {
  ProcessImageCache cache;
  EXPECT_EQ(cache.Break(10), nullptr);
  cache.SetBreak(10, 0x555555600000);
  ASSERT_NE(cache.Break(10), nullptr);
  EXPECT_EQ(cache.Break(10)->low, 0x555555600000u);
  EXPECT_EQ(cache.Break(10)->high, 0x555555600000u);
}

TEST(ProcessImageCacheTest, AnAdmittedGrowthRaisesOnlyTheHighBreakOfItsEpoch) {
  ProcessImageCache cache;
  cache.SetBreak(10, 0x1000);
  cache.NoteBreakGrowthAdmitted(10, 0x5000, 3);
  EXPECT_EQ(cache.Break(10)->low, 0x1000u);
  EXPECT_EQ(cache.Break(10)->high, 0x5000u);
  cache.NoteBreakGrowthAdmitted(10, 0x3000, 3);  // below the highest: stays
  EXPECT_EQ(cache.Break(10)->high, 0x5000u);
  // A later epoch starts again from the low break.
  cache.NoteBreakGrowthAdmitted(10, 0x2000, 4);
  EXPECT_EQ(cache.Break(10)->high, 0x2000u);
  EXPECT_EQ(cache.Break(10)->epoch, 4u);
  cache.NoteBreakGrowthAdmitted(99, 0x2000, 4);  // nothing remembered: nothing noted
  EXPECT_EQ(cache.Break(99), nullptr);
}

TEST(ProcessImageCacheTest, AnExecResetsTheBreakAndIsPendingOnce) {
  ProcessImageCache cache;
  cache.SetBreak(10, 0x555555600000);
  cache.ExecStarted(10);
  ASSERT_NE(cache.Break(10), nullptr);
  EXPECT_EQ(cache.Break(10)->low, ProcessImageCache::kBreakAtStart);
  EXPECT_FALSE(cache.TakePendingExec(11));
  EXPECT_TRUE(cache.TakePendingExec(10));
  EXPECT_FALSE(cache.TakePendingExec(10));
}

TEST(ProcessImageCacheTest, AnImageCountedByAnExactReadStaysPendingButIsNotAddedAgain) {
  ProcessImageCache cache;
  cache.ExecStarted(10);
  cache.ImageCounted(10);
  EXPECT_TRUE(cache.TakePendingExec(10));  // its break is still to be read
  EXPECT_TRUE(cache.TakeImageCounted(10));
  EXPECT_FALSE(cache.TakeImageCounted(10));
  // No exec pending (its next call came first): nothing to note.
  cache.ImageCounted(11);
  EXPECT_FALSE(cache.TakeImageCounted(11));
  // A new exec forgets that the previous image was counted.
  cache.ExecStarted(12);
  cache.ImageCounted(12);
  cache.ExecStarted(12);
  EXPECT_FALSE(cache.TakeImageCounted(12));
}

TEST(ProcessImageCacheTest, ProcessesTheListingNoLongerShowsAreForgotten) {
  ProcessImageCache cache;
  cache.SetBreak(10, 1);
  cache.SetBreak(20, 2);
  cache.ExecStarted(20);
  cache.SetTgid(21, 20);  // a thread of a gone process, nothing outstanding
  cache.SetTgid(22, 20);  // one whose id is still of interest
  cache.SetTgid(11, 10);
  cache.PruneGone(Listing({{10, 5}}), [](int tid) { return tid == 22; });
  EXPECT_NE(cache.Break(10), nullptr);
  EXPECT_EQ(cache.Break(20), nullptr);
  EXPECT_FALSE(cache.TakePendingExec(20));
  int tgid = 0;
  EXPECT_FALSE(cache.TgidOf(21, &tgid));
  EXPECT_TRUE(cache.TgidOf(22, &tgid));
  EXPECT_TRUE(cache.TgidOf(11, &tgid));
}

TEST(ProcessImageCacheTest, ClearForgetsEverything) {
  ProcessImageCache cache;
  cache.SetBreak(10, 1);
  cache.SetTgid(11, 10);
  cache.ExecStarted(12);
  cache.Clear();
  int tgid = 0;
  EXPECT_EQ(cache.Break(10), nullptr);
  EXPECT_FALSE(cache.TgidOf(11, &tgid));
  EXPECT_FALSE(cache.TakePendingExec(12));
}

}  // namespace
}  // namespace ubc
