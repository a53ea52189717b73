#include "core/syscall_abi.h"

#include <gtest/gtest.h>

#include <string>

namespace ubc {
namespace {

TEST(SyscallAbi, TheArchitectureAndTheX32BitTellTheAbi) {
  EXPECT_EQ(AbiOf(kAuditArchX86_64, 9), SyscallAbi::kX86_64);
  EXPECT_EQ(AbiOf(kAuditArchX86_64, kX32SyscallBit | 9), SyscallAbi::kX32);
  EXPECT_EQ(AbiOf(kAuditArchI386, 192), SyscallAbi::kI386);
  // The x32 bit means nothing to i386: numbers there are small.
  EXPECT_EQ(AbiOf(kAuditArchI386, kX32SyscallBit | 9), SyscallAbi::kI386);
  EXPECT_EQ(AbiOf(0xC00000B7, 222), SyscallAbi::kUnknown);  // aarch64
  EXPECT_EQ(std::string(AbiName(SyscallAbi::kX86_64)), "x86_64");
  EXPECT_EQ(std::string(AbiName(SyscallAbi::kI386)), "i386");
  EXPECT_EQ(std::string(AbiName(SyscallAbi::kX32)), "x32");
  EXPECT_EQ(std::string(AbiName(SyscallAbi::kUnknown)), "unknown");
}

struct NativeCase {
  int nr;
  int native;
};

class I386ToNative : public testing::TestWithParam<NativeCase> {};

TEST_P(I386ToNative, MapsToTheX86_64CallWithTheSameEffect) {
  EXPECT_EQ(NativeOfI386(GetParam().nr), GetParam().native) << "i386 nr " << GetParam().nr;
}

// From syscall_32.tbl against syscall_64.tbl.
INSTANTIATE_TEST_SUITE_P(
    Table, I386ToNative,
    testing::Values(NativeCase{2, 57}, NativeCase{11, 59}, NativeCase{45, 12}, NativeCase{91, 11},
                    NativeCase{120, 56}, NativeCase{125, 10}, NativeCase{163, 25},
                    NativeCase{190, 58}, NativeCase{192, 9}, NativeCase{358, 322},
                    NativeCase{380, 329}, NativeCase{435, 435},
                    // lockedpages: mlock, munlock, mlockall, munlockall, mlock2, shmctl.
                    NativeCase{150, 149}, NativeCase{151, 150}, NativeCase{152, 151},
                    NativeCase{153, 152}, NativeCase{376, 325}, NativeCase{396, 31},
                    // old_mmap has no register equivalent; 9 is link, 10 unlink, 12 chdir.
                    NativeCase{90, -1}, NativeCase{9, -1}, NativeCase{10, -1}, NativeCase{12, -1},
                    NativeCase{59, -1}));

TEST(SyscallAbi, X32SharesTheMemoryNumbersButNotExecve) {
  for (int nr : {9, 10, 11, 12, 25, 31, 56, 57, 58, 149, 150, 151, 152, 325, 329, 435}) {
    EXPECT_EQ(NativeOfX32(kX32SyscallBit | nr), nr) << nr;
    EXPECT_EQ(NativeOfX32(nr), nr) << nr;  // the bit may already be stripped
  }
  EXPECT_EQ(NativeOfX32(kX32SyscallBit | x32_nr::kExecve), x86_64_nr::kExecve);
  EXPECT_EQ(NativeOfX32(kX32SyscallBit | x32_nr::kExecveat), x86_64_nr::kExecveat);
  EXPECT_EQ(NativeOfX32(kX32SyscallBit | x86_64_nr::kExecve), -1);
  EXPECT_EQ(NativeOfX32(kX32SyscallBit | x86_64_nr::kExecveat), -1);
}

TEST(SyscallAbi, SysinfoInEveryAbi) {
  constexpr uint32_t kX86_64Arch = 0xC000003E, kI386Arch = 0x40000003;
  EXPECT_TRUE(IsSysinfo(kX86_64Arch, 99));
  EXPECT_TRUE(IsSysinfo(kX86_64Arch, 99 | kX32SyscallBit));
  EXPECT_TRUE(IsSysinfo(kI386Arch, 116));
  EXPECT_FALSE(IsSysinfo(kI386Arch, 99));  // i386's 99 is statfs
  EXPECT_FALSE(IsSysinfo(kX86_64Arch, 116));
  EXPECT_FALSE(IsSysinfo(0xdeadbeef, 99));
}

}  // namespace
}  // namespace ubc
