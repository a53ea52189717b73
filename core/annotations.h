// ubc annotations: the per-container opt-in and limits in an OCI config.
//
// `ubc.privvmpages`, `ubc.shmpages` ("barrier:limit" in vzctl syntax),
// `ubc.numproc` ("barrier:limit" of tasks: integers or "unlimited", no
// suffixes) and `ubc.profile` ("bc2006" or "openvz"), read from OCI config annotations by ubc-hook
// and from the container state's annotations by ubcd. Other annotations are ignored, except unknown
// `ubc.*` keys, which are errors: a typo such as `ubc.privvmpage` must not silently leave a
// container unlimited. Pure; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/meminfo_mode.h"
#include "core/rule_profile.h"
#include "core/status.h"
#include "core/vz_value.h"

namespace ubc {

inline constexpr char kPrivvmpagesAnnotation[] = "ubc.privvmpages";
inline constexpr char kShmpagesAnnotation[] = "ubc.shmpages";
// Tasks (processes + threads), OpenVZ's numproc: a count, not pages.
inline constexpr char kNumprocAnnotation[] = "ubc.numproc";
// Locked memory (mlock, MAP_LOCKED, SHM_LOCK): sizes like privvmpages.
inline constexpr char kLockedpagesAnnotation[] = "ubc.lockedpages";
inline constexpr char kProfileAnnotation[] = "ubc.profile";
// What the container is shown as its memory (core/meminfo_mode.h).
inline constexpr char kMeminfoAnnotation[] = "ubc.meminfo";
// What ubcd answers when it cannot decide (internal error, unreadable /proc):
// "continue" (fail open, the default) or "enomem" (fail closed).
inline constexpr char kOnErrorAnnotation[] = "ubc.on_error";

enum class OnError { kContinue, kEnomem };
const char* OnErrorName(OnError on_error);
// nullopt for anything but "continue" and "enomem".
std::optional<OnError> ParseOnError(std::string_view text);

struct UbcAnnotations {
  std::optional<BarrierLimit> privvmpages;
  std::optional<BarrierLimit> shmpages;
  // numproc's barrier:limit in tasks (BarrierLimit's fields say pages; here
  // they hold counts).
  std::optional<BarrierLimit> numproc;
  std::optional<BarrierLimit> lockedpages;
  const RuleProfile* profile = nullptr;  // nullptr: not set
  std::optional<OnError> on_error;
  std::optional<MeminfoMode> meminfo;
  bool any() const {
    return privvmpages.has_value() || shmpages.has_value() || numproc.has_value() ||
           lockedpages.has_value() || profile != nullptr || on_error.has_value() ||
           meminfo.has_value();
  }
};

// Errors name the annotation and its value, e.g.
// "annotation ubc.privvmpages=\"12Q\": unknown suffix 'Q'".
Result<UbcAnnotations> ParseUbcAnnotations(const std::map<std::string, std::string>& annotations);

}  // namespace ubc
