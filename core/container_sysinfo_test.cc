#include "core/container_sysinfo.h"

#include <gtest/gtest.h>
#include <sys/sysinfo.h>

#include <cstring>

namespace ubc {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;

SysinfoFacts Host() {
  SysinfoFacts h;
  h.uptime_s = 10000;
  h.loads = {65536, 32768, 16384};
  h.totalram_bytes = 24 * kGiB;
  h.freeram_bytes = 20 * kGiB;
  h.sharedram_bytes = 100 << 20;
  h.bufferram_bytes = 200 << 20;
  h.totalswap_bytes = 4 * kGiB;
  h.freeswap_bytes = 4 * kGiB;
  h.procs = 300;
  return h;
}

BeancounterValues Privvm(uint64_t held, uint64_t barrier, uint64_t limit) {
  return BeancounterValues{held, held, barrier, limit, 0};
}

TEST(ContainerSysinfo, PrivvmpagesShowsTheBarrierAndWhatIsLeftBelowIt) {
  const SysinfoFacts s =
      ContainerSysinfo(MeminfoMode{}, Host(), Privvm(16384, 65536, 69632), 7, 42);
  EXPECT_EQ(s.totalram_bytes, uint64_t{256} << 20);  // 65536 pages
  EXPECT_EQ(s.freeram_bytes, uint64_t{192} << 20);   // (65536 - 16384) pages
  EXPECT_EQ(s.totalswap_bytes, 0u);
  EXPECT_EQ(s.freeswap_bytes, 0u);
  EXPECT_EQ(s.procs, 7u);
  EXPECT_EQ(s.uptime_s, 42);
  EXPECT_EQ(s.loads, Host().loads);  // the host's
  // The host's 100 MiB shared is more than the 64 MiB held: capped at it, so
  // that `free`'s used never goes negative; buffers are host cache.
  EXPECT_EQ(s.sharedram_bytes, uint64_t{64} << 20);
  EXPECT_EQ(s.bufferram_bytes, 0u);
  // N multiplies both.
  const SysinfoFacts twice = ContainerSysinfo(MeminfoMode{MeminfoMode::Kind::kPrivvmpages, 2},
                                              Host(), Privvm(16384, 65536, 69632), 7, 42);
  EXPECT_EQ(twice.totalram_bytes, uint64_t{512} << 20);
  EXPECT_EQ(twice.freeram_bytes, uint64_t{384} << 20);
}

TEST(ContainerSysinfo, HeldAtOrPastTheBarrierLeavesNothingFree) {
  EXPECT_EQ(
      ContainerSysinfo(MeminfoMode{}, Host(), Privvm(70000, 65536, 69632), 1, 0).freeram_bytes, 0u);
}

TEST(ContainerSysinfo, NeverMoreThanTheHostHas) {
  const SysinfoFacts s = ContainerSysinfo(MeminfoMode{}, Host(),
                                          Privvm(0, uint64_t{1} << 40, uint64_t{1} << 40), 1, 5);
  EXPECT_EQ(s.totalram_bytes, Host().totalram_bytes);
  EXPECT_LE(s.freeram_bytes, s.totalram_bytes);
}

TEST(ContainerSysinfo, PagesIsAFixedTotal) {
  const SysinfoFacts s = ContainerSysinfo(MeminfoMode{MeminfoMode::Kind::kPages, 1024}, Host(),
                                          Privvm(256, 65536, 65536), 3, 9);
  EXPECT_EQ(s.totalram_bytes, 1024 * kPageBytes);
  EXPECT_EQ(s.freeram_bytes, 768 * kPageBytes);
}

TEST(ContainerSysinfo, NoneOrAnUnlimitedBarrierKeepsTheHostsMemory) {
  const SysinfoFacts none =
      ContainerSysinfo(MeminfoMode{MeminfoMode::Kind::kNone, 0}, Host(), Privvm(1, 2, 3), 3, 9);
  EXPECT_EQ(none, Host());
  const SysinfoFacts open =
      ContainerSysinfo(MeminfoMode{}, Host(), Privvm(1, kUnlimitedPages, kUnlimitedPages), 3, -1);
  EXPECT_EQ(open.totalram_bytes, Host().totalram_bytes);
  EXPECT_EQ(open.uptime_s, Host().uptime_s);  // age unknown
  EXPECT_EQ(open.procs, 3u);
}

TEST(EncodeSysinfo, X86_64MatchesTheKernelsStruct) {
  SysinfoFacts f = Host();
  f.totalhigh_bytes = 11;
  f.freehigh_bytes = 12;
  const std::vector<uint8_t> bytes = EncodeSysinfo(SyscallAbi::kX86_64, f);
  ASSERT_EQ(bytes.size(), sizeof(struct sysinfo));
  struct sysinfo si;
  std::memcpy(&si, bytes.data(), sizeof si);
  EXPECT_EQ(si.uptime, 10000);
  EXPECT_EQ(si.loads[0], 65536u);
  EXPECT_EQ(si.loads[2], 16384u);
  EXPECT_EQ(si.totalram, 24 * kGiB);
  EXPECT_EQ(si.freeram, 20 * kGiB);
  EXPECT_EQ(si.sharedram, uint64_t{100} << 20);
  EXPECT_EQ(si.bufferram, uint64_t{200} << 20);
  EXPECT_EQ(si.totalswap, 4 * kGiB);
  EXPECT_EQ(si.procs, 300);
  EXPECT_EQ(si.totalhigh, 11u);
  EXPECT_EQ(si.freehigh, 12u);
  EXPECT_EQ(si.mem_unit, 1u);
  EXPECT_EQ(EncodeSysinfo(SyscallAbi::kX32, f), bytes);  // x32 shares the 64-bit layout
  EXPECT_TRUE(EncodeSysinfo(SyscallAbi::kUnknown, f).empty());
}

// compat_sysinfo of the kernel's i386 entry, written out.
struct CompatSysinfo {
  int32_t uptime;
  uint32_t loads[3];
  uint32_t totalram, freeram, sharedram, bufferram, totalswap, freeswap;
  uint16_t procs, pad;
  uint32_t totalhigh, freehigh, mem_unit;
  char f[8];
};
static_assert(sizeof(CompatSysinfo) == 64);

TEST(EncodeSysinfo, I386ScalesMemoryIntoThirtyTwoBitsAsTheKernelDoes) {
  SysinfoFacts small;
  small.uptime_s = 77;
  small.totalram_bytes = uint64_t{256} << 20;
  small.freeram_bytes = uint64_t{192} << 20;
  small.procs = 70000;  // more than a u16
  std::vector<uint8_t> bytes = EncodeSysinfo(SyscallAbi::kI386, small);
  ASSERT_EQ(bytes.size(), 64u);
  CompatSysinfo c;
  std::memcpy(&c, bytes.data(), sizeof c);
  EXPECT_EQ(c.uptime, 77);
  EXPECT_EQ(c.mem_unit, 1u);
  EXPECT_EQ(c.totalram, uint32_t{256} << 20);
  EXPECT_EQ(c.procs, 0xffff);
  // 24 GiB does not fit 32 bits of bytes: mem_unit 8, every figure divided by 8.
  bytes = EncodeSysinfo(SyscallAbi::kI386, Host());
  std::memcpy(&c, bytes.data(), sizeof c);
  EXPECT_EQ(c.mem_unit, 8u);
  EXPECT_EQ(uint64_t{c.totalram} * c.mem_unit, 24 * kGiB);
  EXPECT_EQ(uint64_t{c.freeram} * c.mem_unit, 20 * kGiB);
  EXPECT_EQ(uint64_t{c.totalswap} * c.mem_unit, 4 * kGiB);
}

}  // namespace
}  // namespace ubc
