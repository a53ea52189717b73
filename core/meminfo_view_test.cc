#include "core/meminfo_view.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace ubc {
namespace {

constexpr char kHost[] =
    "MemTotal:       24558364 kB\n"
    "MemFree:        20112072 kB\n"
    "MemAvailable:   22850012 kB\n"
    "Buffers:          212044 kB\n"
    "Cached:          2516712 kB\n"
    "SwapCached:            0 kB\n"
    "Active:          1420520 kB\n"
    "Inactive:        2258932 kB\n"
    "Active(anon):      11244 kB\n"
    "Unevictable:           0 kB\n"
    "Mlocked:               0 kB\n"
    "SwapTotal:       1048572 kB\n"
    "SwapFree:        1048572 kB\n"
    "AnonPages:        950680 kB\n"
    "Shmem:             19488 kB\n"
    "SReclaimable:     201904 kB\n"
    "CommitLimit:    13327752 kB\n"
    "Committed_AS:    3795732 kB\n"
    "VmallocTotal:   34359738367 kB\n"
    "HugePages_Total:       0\n"
    "Hugepagesize:       2048 kB\n"
    "DirectMap2M:    12951552 kB\n";

std::map<std::string, std::string> Fields(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    out[line.substr(0, colon)] = value;
  }
  return out;
}

MeminfoFigures Figures() {
  MeminfoFigures f;
  f.total_bytes = 256u << 20;
  f.free_bytes = 200u << 20;
  f.shmem_bytes = 4u << 20;
  f.locked_bytes = 1u << 20;
  return f;
}

TEST(MeminfoViewTest, TotalAndFreeComeFromTheFigures) {
  auto fields = Fields(RenderContainerMeminfo(kHost, Figures()));
  EXPECT_EQ(fields["MemTotal"], "262144 kB");
  EXPECT_EQ(fields["MemFree"], "204800 kB");
  EXPECT_EQ(fields["MemAvailable"], "204800 kB");
  EXPECT_EQ(fields["CommitLimit"], "262144 kB");
  EXPECT_EQ(fields["Committed_AS"], "57344 kB");
  EXPECT_EQ(fields["AnonPages"], "57344 kB");
  EXPECT_EQ(fields["Active"], "57344 kB");
  EXPECT_EQ(fields["Shmem"], "4096 kB");
  EXPECT_EQ(fields["Mlocked"], "1024 kB");
}

TEST(MeminfoViewTest, HostCachesAndSwapAreZeroSoFreeAddsUp) {
  auto fields = Fields(RenderContainerMeminfo(kHost, Figures()));
  for (const char* name :
       {"Buffers", "Cached", "SwapCached", "SwapTotal", "SwapFree", "SReclaimable", "Inactive"}) {
    EXPECT_EQ(fields[name], "0 kB") << name;
  }
}

TEST(MeminfoViewTest, MachinePropertiesAreTheHosts) {
  auto fields = Fields(RenderContainerMeminfo(kHost, Figures()));
  EXPECT_EQ(fields["VmallocTotal"], "34359738367 kB");
  EXPECT_EQ(fields["HugePages_Total"], "0");
  EXPECT_EQ(fields["Hugepagesize"], "2048 kB");
  EXPECT_EQ(fields["DirectMap2M"], "12951552 kB");
}

TEST(MeminfoViewTest, KeepsTheKernelsLayoutAndOrder) {
  const std::string out = RenderContainerMeminfo(kHost, Figures());
  EXPECT_EQ(out.substr(0, out.find('\n') + 1), "MemTotal:         262144 kB\n");
  EXPECT_NE(out.find("Buffers:               0 kB\nCached:"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'),
            std::count(kHost, kHost + sizeof(kHost) - 1, '\n'));
}

TEST(MeminfoViewTest, FreeAboveTotalIsClampedAndOddLinesAreCopied) {
  MeminfoFigures f = Figures();
  f.free_bytes = f.total_bytes * 2;
  auto fields = Fields(RenderContainerMeminfo("MemTotal: 5 kB\nMemFree: 1 kB\nodd line\n", f));
  EXPECT_EQ(fields["MemFree"], "262144 kB");
  EXPECT_EQ(RenderContainerMeminfo("Weird: x kB\n", f), "Weird: x kB\n");
  EXPECT_EQ(RenderContainerMeminfo("", f), "");
}

}  // namespace
}  // namespace ubc
