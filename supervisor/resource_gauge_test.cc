#include "supervisor/resource_gauge.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/unique_fd.h"
#include "core/units.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

// A directory standing in for the container's cgroups (the gauge reads
// plain files), listing this test process as the container's only one.
struct FakeCgroup {
  TempDir dir{"ubc-gauge"};
  FakeCgroup() {
    dir.Write("cgroup.procs", std::to_string(::getpid()) + "\n");
    dir.Write("memory.current", "8192000\n");
    dir.Write("memory.stat", "anon 4096\nkernel 962560\nkernel_stack 65536\n");
    dir.Write("pids.current", "7\n");
    dir.Write("pids.events", "max 3\n");
    dir.Write("pids.max", "max\n");
  }
  GaugeSources Sources() const {
    GaugeSources s;
    s.memory_dir = s.pids_dir = s.procs_dir = dir.path().string();
    s.memory_v2 = true;
    return s;
  }
};

TEST(ResourceGaugeTest, CgroupFilesGiveNumprocPhyspagesKmemsize) {
  FakeCgroup cg;
  ResourceGauge gauge(cg.Sources(), 0);
  const MeasuredResources m = gauge.Read();
  ASSERT_TRUE(m.numproc && m.physpages && m.kmemsize && m.numfile);
  EXPECT_EQ(m.numproc->held_pages, 7u);
  EXPECT_EQ(m.numproc->failcnt, 3u);  // pids.events max
  EXPECT_EQ(m.physpages->held_pages, PagesForBytes(8192000));
  EXPECT_EQ(m.kmemsize->held_pages, 962560u);
  EXPECT_EQ(m.physpages->limit_pages, kUnlimitedPages);
  EXPECT_GT(m.numfile->held_pages, 2u);  // this process's own fds
}

TEST(ResourceGaugeTest, MaxheldFollowsHeldUpwardsOnly) {
  FakeCgroup cg;
  ResourceGauge gauge(cg.Sources(), 0);
  (void)gauge.Read();
  cg.dir.Write("pids.current", "20\n");
  EXPECT_EQ(gauge.Read().numproc->maxheld_pages, 20u);
  cg.dir.Write("pids.current", "5\n");
  const MeasuredResources m = gauge.Read();
  EXPECT_EQ(m.numproc->held_pages, 5u);
  EXPECT_EQ(m.numproc->maxheld_pages, 20u);
}

TEST(ResourceGaugeTest, OpenFilesMoveNumfile) {
  FakeCgroup cg;
  ResourceGauge gauge(cg.Sources(), 0);
  const uint64_t before = gauge.Read().numfile->held_pages;
  std::vector<UniqueFd> fds;
  for (int i = 0; i < 10; ++i) fds.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(gauge.Read().numfile->held_pages, before + 10);
  fds.clear();
  EXPECT_EQ(gauge.Read().numfile->held_pages, before);
}

TEST(ResourceGaugeTest, ReadsAtMostOncePerPeriod) {
  FakeCgroup cg;
  ResourceGauge gauge(cg.Sources(), 60'000);
  EXPECT_EQ(gauge.Read().numproc->held_pages, 7u);
  cg.dir.Write("pids.current", "9\n");
  EXPECT_EQ(gauge.Read().numproc->held_pages, 7u);  // the last sample stands
  EXPECT_EQ(gauge.Last().numproc->held_pages, 7u);
}

TEST(ResourceGaugeTest, TheNumprocLimitIsWrittenToPidsMaxAndShown) {
  FakeCgroup cg;
  ResourceGauge gauge(cg.Sources(), 60'000);
  ASSERT_TRUE(gauge.HasPidsCgroup());
  ASSERT_TRUE(gauge.SetNumprocLimit({40, 50}).ok());
  EXPECT_EQ(ReadFileForTest(cg.dir.path() / "pids.max"), "50");
  const MeasuredResources m = gauge.Read();  // a new limit is shown at once
  EXPECT_EQ(m.numproc->barrier_pages, 40u);
  EXPECT_EQ(m.numproc->limit_pages, 50u);
  ASSERT_TRUE(gauge.SetNumprocLimit({kUnlimitedPages, kUnlimitedPages}).ok());
  EXPECT_EQ(ReadFileForTest(cg.dir.path() / "pids.max"), "max");
}

TEST(ResourceGaugeTest, AnUnwritablePidsMaxIsAnErrorNamingIt) {
  FakeCgroup cg;
  GaugeSources s = cg.Sources();
  s.pids_dir = cg.dir.path().string() + "/missing";
  ResourceGauge gauge(s, 0);
  const Status st = gauge.SetNumprocLimit({10, 10});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("missing/pids.max"), std::string::npos) << st.message();
}

TEST(ResourceGaugeTest, ARestartKeepsTheLargerFailcntAndMaxheld) {
  FakeCgroup cg;
  ResourceGauge gauge(cg.Sources(), 0);
  gauge.Restore(30, 9);
  MeasuredResources m = gauge.Read();
  EXPECT_EQ(m.numproc->failcnt, 9u);
  EXPECT_EQ(m.numproc->maxheld_pages, 30u);
  cg.dir.Write("pids.events", "max 12\n");
  EXPECT_EQ(gauge.Read().numproc->failcnt, 12u);
}

TEST(ResourceGaugeTest, WithoutCgroupsTheProcessesAreCountedFromProc) {
  FakeCgroup cg;
  GaugeSources s;
  s.procs_dir = cg.dir.path().string();  // only the listing
  ResourceGauge gauge(s, 0);
  const MeasuredResources m = gauge.Read();
  ASSERT_TRUE(m.numproc && m.physpages && m.numfile);
  EXPECT_GE(m.numproc->held_pages, 1u);    // this process's threads
  EXPECT_GT(m.physpages->held_pages, 0u);  // its resident pages
  EXPECT_FALSE(m.kmemsize.has_value());    // only a memory cgroup knows
}

TEST(ResourceGaugeTest, NothingToListMeansNothingMeasured) {
  ResourceGauge gauge(GaugeSources{}, 0);
  const MeasuredResources m = gauge.Read();
  EXPECT_FALSE(m.numproc || m.physpages || m.kmemsize || m.numfile);
  // Without a pids cgroup nothing enforces a numproc limit: it is not shown as one.
  ASSERT_TRUE(gauge.SetNumprocLimit({16, 16}).ok());
  EXPECT_FALSE(gauge.Read().numproc.has_value());
}

TEST(ResourceGaugeTest, FindGaugeSourcesOfAProcessSharingOurCgroupsFindsNone) {
  // This test process's child shares all of its cgroups: no cgroup of its own.
  const GaugeSources s = FindGaugeSources(::getpid(), ::getpid());
  EXPECT_EQ(s.memory_dir, "");
  EXPECT_EQ(s.pids_dir, "");
}

}  // namespace
}  // namespace ubc
