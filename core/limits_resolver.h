// LimitsResolver: which privvmpages, shmpages, numproc and rule profile a
// container gets, and why.
//
// Each field is resolved on its own, highest precedence first: the container's
// ubc.* annotation, then the first matching file of containers.d, then ubcd's
// defaults. The source is kept so `ubcd --status` and the logs can say where a
// limit came from. Pure function over its inputs; thread-safe. ResolvedLimits
// holds only static RuleProfile pointers and owns its strings.
#pragma once

#include <optional>
#include <string>

#include "core/annotations.h"
#include "core/container_config.h"
#include "core/rule_profile.h"
#include "core/supervisor_config.h"
#include "core/vz_value.h"

namespace ubc {

// kApi: set live through ubcd's REST API (like `vzctl set`).
enum class LimitsSource { kAnnotation, kConfigFile, kDefault, kApi };

// "annotation", "config-file", "default".
const char* LimitsSourceName(LimitsSource source);

// A live change through the REST API (PATCH/PUT) or ubcctl: the beancounters
// it names get new limits, the others keep theirs.
struct LimitsChange {
  std::optional<BarrierLimit> privvmpages;
  std::optional<BarrierLimit> shmpages;
  std::optional<BarrierLimit> numproc;  // in tasks, though the fields say pages
  std::optional<BarrierLimit> lockedpages;
  std::optional<MeminfoMode> meminfo;
  bool any() const {
    return privvmpages.has_value() || shmpages.has_value() || numproc.has_value() ||
           lockedpages.has_value() || meminfo.has_value();
  }
};

struct ResolvedLimits {
  BarrierLimit privvmpages;
  BarrierLimit shmpages = {kUnlimitedPages, kUnlimitedPages};  // unless set somewhere
  const RuleProfile* profile = nullptr;                        // never null after ResolveLimits
  LimitsSource privvmpages_source = LimitsSource::kDefault;
  // The annotation key ("ubc.privvmpages"), the config file path, or "default".
  std::string privvmpages_source_detail;
  LimitsSource shmpages_source = LimitsSource::kDefault;
  std::string shmpages_source_detail = "default";
  // Tasks (processes + threads), not pages: BarrierLimit's *_pages fields hold
  // counts here. Unlimited unless set somewhere.
  BarrierLimit numproc = {kUnlimitedPages, kUnlimitedPages};
  LimitsSource numproc_source = LimitsSource::kDefault;
  // "ubc.numproc", the config file path, or "default".
  std::string numproc_source_detail = "default";
  BarrierLimit lockedpages = {kUnlimitedPages, kUnlimitedPages};  // unless set somewhere
  LimitsSource lockedpages_source = LimitsSource::kDefault;
  // "ubc.lockedpages", the config file path, or "default".
  std::string lockedpages_source_detail = "default";
  MeminfoMode meminfo;  // privvmpages:1 unless set somewhere
  LimitsSource meminfo_source = LimitsSource::kDefault;
  std::string meminfo_source_detail = "default";
  LimitsSource profile_source = LimitsSource::kDefault;
  OnError on_error = OnError::kContinue;
  LimitsSource on_error_source = LimitsSource::kDefault;
  // Likewise for the profile: "ubc.profile", the config file path, or "default".
  std::string profile_source_detail;
};

// `matched_file` is MatchContainerConfig()'s answer (nullptr: none matched). A
// SupervisorConfig without a default profile (not from ParseSupervisorConfig)
// falls back to DefaultRuleProfile().
ResolvedLimits ResolveLimits(const UbcAnnotations& annotations, const ContainerConfig* matched_file,
                             const SupervisorConfig& supervisor);

}  // namespace ubc
