#include "core/rule_profile.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace ubc {
namespace {

constexpr ChargeCheck kB = ChargeCheck::kBarrier;
constexpr ChargeCheck kL = ChargeCheck::kLimit;

// One row per charging line of the call-site table, docs/ubc-semantics.md §3.
struct ProfileRow {
  const char* operation;
  ChargeCheck RuleProfile::*field;
  ChargeCheck bc2006;
  ChargeCheck openvz;
};

const ProfileRow kRows[] = {
    {"mmap private writable (anon or file), also MAP_FIXED", &RuleProfile::mmap_private_writable,
     kB, kB},
    {"mmap MAP_SHARED + MAP_ANONYMOUS writable", &RuleProfile::mmap_shared_anon, kB, kB},
    {"brk grow", &RuleProfile::brk_grow, kB, kB},
    {"mremap grow in place / move", &RuleProfile::mremap_grow, kB, kB},
    {"mprotect adding PROT_WRITE to private pages", &RuleProfile::mprotect_add_write, kB, kL},
    {"fork / clone without CLONE_VM", &RuleProfile::fork, kL, kB},
};

TEST(RuleProfile, Bc2006RowsMatchReference) {
  const RuleProfile& p = Bc2006Profile();
  EXPECT_EQ(p.name, "bc2006");
  for (const ProfileRow& row : kRows) {
    EXPECT_EQ(ChargeCheckName(p.*row.field), ChargeCheckName(row.bc2006)) << row.operation;
  }
  // Shared anon: charged, then released when the shmem file is attached.
  EXPECT_FALSE(p.shared_anon_stays_charged);
  // mremap move: + (new - old).
  EXPECT_FALSE(p.mremap_move_charges_new_length);
  EXPECT_FALSE(p.shared_memory_in_privvmpages);
}

TEST(RuleProfile, OpenvzRowsMatchReference) {
  const RuleProfile& p = OpenvzProfile();
  EXPECT_EQ(p.name, "openvz");
  for (const ProfileRow& row : kRows) {
    EXPECT_EQ(ChargeCheckName(p.*row.field), ChargeCheckName(row.openvz)) << row.operation;
  }
  // Shared anon: + len, stays charged (also shmpages).
  EXPECT_TRUE(p.shared_anon_stays_charged);
  // mremap move: + new_len up front, old released after.
  EXPECT_TRUE(p.mremap_move_charges_new_length);
  EXPECT_TRUE(p.shared_memory_in_privvmpages);
}

TEST(RuleProfile, DefaultIsBc2006) { EXPECT_EQ(&DefaultRuleProfile(), &Bc2006Profile()); }

TEST(RuleProfile, FindByName) {
  EXPECT_EQ(FindRuleProfile("bc2006"), &Bc2006Profile());
  EXPECT_EQ(FindRuleProfile("openvz"), &OpenvzProfile());
  EXPECT_EQ(FindRuleProfile(""), nullptr);
  EXPECT_EQ(FindRuleProfile("OpenVZ"), nullptr);  // names are exact
  EXPECT_EQ(FindRuleProfile("bc2006 "), nullptr);
  EXPECT_EQ(FindRuleProfile("rhel6"), nullptr);
}

TEST(RuleProfile, NamesListsBothInOrder) {
  EXPECT_EQ(RuleProfileNames(), (std::vector<std::string_view>{"bc2006", "openvz"}));
  for (std::string_view name : RuleProfileNames()) {
    const RuleProfile* p = FindRuleProfile(name);
    ASSERT_NE(p, nullptr) << name;
    EXPECT_EQ(p->name, name);
  }
}

}  // namespace
}  // namespace ubc
