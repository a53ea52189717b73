// ContainerConfig: one per-container limits file of ubcd's containers_dir.
//
// A file (/etc/ubc/containers.d/NAME.json, schemas/container-config.schema.json)
// says which containers it matches, by id or name globs, and the privvmpages,
// shmpages, numproc (tasks) and profile they get. Files are tried in file-name order and the first
// match wins; ubc.* annotations override a file field by field (limits_resolver.h). Configs are
// plain values; `profile` points at a static RuleProfile. All functions are thread-safe;
// LoadContainerConfigDir reads the file system.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/annotations.h"
#include "core/meminfo_mode.h"
#include "core/rule_profile.h"
#include "core/status.h"
#include "core/vz_value.h"

namespace ubc {

struct ContainerConfig {
  std::string source_path;                  // the file it came from, for reports and errors
  std::vector<std::string> id_patterns;     // fnmatch(3) globs on the OCI container id
  std::vector<std::string> name_patterns;   // fnmatch(3) globs on the container name
  std::optional<BarrierLimit> privvmpages;  // unset: not specified by this file
  std::optional<BarrierLimit> shmpages;
  // numproc's barrier:limit in tasks (the fields say pages; they hold counts).
  std::optional<BarrierLimit> numproc;
  std::optional<BarrierLimit> lockedpages;
  const RuleProfile* profile = nullptr;  // nullptr: not specified by this file
  std::optional<OnError> on_error;       // unset: not specified by this file
  std::optional<MeminfoMode> meminfo;
};

// Parses and validates one file's text. Errors name `source_path` and the JSON
// pointer: "/etc/ubc/containers.d/a.json: /privvmpages (\"12Q\"): ...".
Result<ContainerConfig> ParseContainerConfig(std::string_view json_text,
                                             std::string_view source_path);

// Every "*.json" directly in `dir` (hidden files, starting with '.', are
// skipped as editors' leftovers), sorted by file name (bytewise). A missing
// `dir` is an empty set. Any unreadable or invalid file fails the whole load
// with an error naming it, so the caller can keep its previous set rather than
// run with a partial one.
Result<std::vector<ContainerConfig>> LoadContainerConfigDir(const std::string& dir);

// The first config, in vector order, whose id globs match `id` or whose name
// globs match `name`; nullptr if none. An empty `name` (the container has no
// known name) matches no name glob. Globs use fnmatch(3) with no flags.
const ContainerConfig* MatchContainerConfig(const std::vector<ContainerConfig>& configs,
                                            std::string_view id, std::string_view name);

// The container's name from the well-known runtime annotations, tried in this
// order: io.kubernetes.cri.container-name (containerd CRI),
// io.kubernetes.container.name (CRI-O / dockershim), nerdctl/name,
// io.podman.annotations.name. Empty if none is present and non-empty. ubc.*
// keys are never used: they are reserved for annotations.h.
std::string ContainerNameFromAnnotations(const std::map<std::string, std::string>& annotations);

}  // namespace ubc
