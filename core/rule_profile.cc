#include "core/rule_profile.h"

namespace ubc {
namespace {

// The 2006 "BC: privvm pages" series: strict barrier checks at mmap/brk/mremap/
// mprotect, dup_mmap charging with BC_LIMIT, and shmem_zero_setup uncharging an
// anonymous shared mapping once its shmem file is attached.
constexpr RuleProfile kBc2006 = {
    .name = "bc2006",
    .mmap_private_writable = ChargeCheck::kBarrier,
    .mmap_shared_anon = ChargeCheck::kBarrier,
    .brk_grow = ChargeCheck::kBarrier,
    .mremap_grow = ChargeCheck::kBarrier,
    .mprotect_add_write = ChargeCheck::kBarrier,
    .fork = ChargeCheck::kLimit,
    .shared_anon_stays_charged = false,
    .mremap_move_charges_new_length = false,
    .shared_memory_in_privvmpages = false,
};

// OpenVZ RHEL6 (042stab): mprotect checks the limit, fork the barrier, shared
// anonymous memory stays charged (also to shmpages), SysV segments are
// charged to privvmpages as well as shmpages, and a moving mremap is
// charged its whole new length before the old range is released.
constexpr RuleProfile kOpenvz = {
    .name = "openvz",
    .mmap_private_writable = ChargeCheck::kBarrier,
    .mmap_shared_anon = ChargeCheck::kBarrier,
    .brk_grow = ChargeCheck::kBarrier,
    .mremap_grow = ChargeCheck::kBarrier,
    .mprotect_add_write = ChargeCheck::kLimit,
    .fork = ChargeCheck::kBarrier,
    .shared_anon_stays_charged = true,
    .mremap_move_charges_new_length = true,
    .shared_memory_in_privvmpages = true,
};

}  // namespace

const RuleProfile& Bc2006Profile() { return kBc2006; }
const RuleProfile& OpenvzProfile() { return kOpenvz; }
const RuleProfile& DefaultRuleProfile() { return kBc2006; }

const RuleProfile* FindRuleProfile(std::string_view name) {
  for (const RuleProfile* p : {&kBc2006, &kOpenvz}) {
    if (p->name == name) return p;
  }
  return nullptr;
}

std::vector<std::string_view> RuleProfileNames() { return {kBc2006.name, kOpenvz.name}; }

}  // namespace ubc
