// SeccompProfileModel (test-only): what an OCI `linux.seccomp` profile decides
// for one x86-64 call, as runc and crun load it into libseccomp.
//
// Tests use it to check that merging ubc's notify rules into a profile changes
// exactly the decisions it should. The model follows the loaders, not the
// spec: a rule whose action (with its errno) equals the default is skipped; a
// rule comparing one argument twice is one rule per comparison (an OR); the
// first unconditional rule of a syscall decides all its calls (libseccomp
// drops conditional rules under it); otherwise the matching conditional rules
// decide, and if they disagree the result is `ambiguous` (libseccomp then
// fails to load the filter or lets its tree layout pick), reported with the
// most restrictive action. Unknown syscall names are decided by the default.
// libseccomp 2.5.4 also silently drops some conditional rules it wrongly deems
// redundant (an ALLOW {a1 != 0, a0 & m == 0} after an ALLOW {a1 == 0} is
// lost); the model does not reproduce that. runtime-hook's
// libseccomp_filter_test checks merged profiles against the real library.
// A model is an immutable value; Evaluate is thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ubc {

struct SeccompDecision {
  std::string action;      // SCMP_ACT_*, with SCMP_ACT_KILL spelled SCMP_ACT_KILL_THREAD
  uint32_t errno_ret = 0;  // ERRNO and TRACE only (EPERM when the profile gives none)
  bool ambiguous = false;
  bool operator==(const SeccompDecision&) const = default;
  bool Allows() const { return action == "SCMP_ACT_ALLOW" || action == "SCMP_ACT_LOG"; }
};

std::ostream& operator<<(std::ostream& os, const SeccompDecision& d);

class SeccompProfileModel {
 public:
  // `linux_seccomp` is an OCI linux.seccomp object, or JSON null for none
  // (everything allowed). Errors name the malformed field.
  static Result<SeccompProfileModel> Create(const nlohmann::json& linux_seccomp);

  SeccompDecision Evaluate(std::string_view syscall, const std::array<uint64_t, 6>& args) const;

  // Every syscall name some rule mentions (skipped rules too), sorted, unique.
  std::vector<std::string> NamedSyscalls() const;

 private:
  struct Comparison {
    unsigned index;
    std::string op;
    uint64_t value;
    uint64_t value_two;
  };
  struct Rule {
    std::string syscall;
    SeccompDecision decision;
    std::vector<Comparison> conditions;  // all must hold
  };
  static bool Holds(const Comparison& c, uint64_t arg);

  SeccompDecision default_;
  std::vector<Rule> rules_;
  std::vector<std::string> named_;
};

// What podman 4 (containers/common setupSeccomp) hands the runtime for a
// containers-common profile such as /usr/share/containers/seccomp.json, on
// amd64: archMap becomes the x86 architectures; a rule survives if
// includes.arches names amd64, no excludes.arches does, every includes.caps
// cap is in `bounding_caps` and no excludes.caps cap is (minKernel ignored);
// only names, action, args and errnoRet remain.
nlohmann::json ConvertLikePodman(const nlohmann::json& containers_profile,
                                 const std::set<std::string>& bounding_caps);

// podman 4.3's default capabilities (containers.conf), as "CAP_..." names.
const std::set<std::string>& PodmanDefaultCaps();

}  // namespace ubc
