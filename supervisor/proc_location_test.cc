#include "supervisor/proc_location.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "core/proc_text.h"
#include "supervisor/membership.h"
#include "supervisor/proc_read.h"

namespace ubc {
namespace {

constexpr int kNoSuchPid = (1 << 22) + 7;  // above pid_max's ceiling

TEST(ProcLocationTest, PlacesAProcessByItsCgroupLinesAndPidNamespace) {
  ProcLocation here(::getpid());
  EXPECT_EQ(here.tgid(), ::getpid());
  Result<std::string> text = ReadProcFile("/proc/self/cgroup", ProcRecords::kOne);
  ASSERT_TRUE(text.ok());
  Result<std::vector<CgroupLine>> lines = ParseProcCgroup(*text);
  ASSERT_TRUE(lines.ok());
  ASSERT_FALSE(lines->empty());
  for (const CgroupLine& line : *lines) {
    std::optional<std::string_view> path = here.CgroupPath(line.controllers);
    ASSERT_TRUE(path.has_value()) << line.controllers;
    EXPECT_EQ(*path, line.path);
  }
  EXPECT_EQ(here.CgroupPath("no-such-controller"), std::nullopt);
  dev_t dev = 0, own_dev = 0;
  ino_t ino = 0, own_ino = 0;
  ASSERT_TRUE(here.PidNamespace(&dev, &ino));
  ASSERT_TRUE(PidNamespaceOf("/proc/self/ns/pid", &own_dev, &own_ino));
  EXPECT_EQ(dev, own_dev);
  EXPECT_EQ(ino, own_ino);
}

TEST(ProcLocationTest, AProcessThatIsGoneIsNowhere) {
  ProcLocation gone(kNoSuchPid);
  EXPECT_EQ(gone.CgroupPath(""), std::nullopt);
  dev_t dev = 0;
  ino_t ino = 0;
  EXPECT_FALSE(gone.PidNamespace(&dev, &ino));
}

}  // namespace
}  // namespace ubc
