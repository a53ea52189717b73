// SupervisorConfig: ubcd's own configuration file (/etc/ubc/ubcd.json).
//
// Parsed from JSON, validated against schemas/ubcd-config.schema.json, and
// completed field by field from the built-in default (examples/ubcd.default.json,
// compiled in), so an operator writes only what differs. The config is a plain
// value; `default_profile` points at a static RuleProfile and never dangles.
// Pure functions except LoadSupervisorConfigFile (reads one file); all are
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/annotations.h"
#include "core/meminfo_mode.h"
#include "core/rule_profile.h"
#include "core/status.h"
#include "core/vz_value.h"

namespace ubc {

// Config files (ubcd.json, containers.d/*.json) larger than this are refused:
// they are a few hundred bytes, so a larger one is a mistake, not a config.
inline constexpr size_t kMaxConfigFileBytes = 1024 * 1024;

// ubcd's HTTP API (supervisor/rest_server.h, docs/rest-api.md).
struct RestConfig {
  bool enabled = false;
  std::string address;  // loopback unless the operator sets another
  uint16_t port = 0;
  std::string token_file;  // bearer token for PATCH/PUT; created when absent
};

struct SupervisorConfig {
  std::string listener_path;  // unix socket for the runtimes' seccomp notify fds
  std::string status_path;    // unix socket `ubcd --status` talks to
  std::string state_dir;
  // Where ubcd mounts the containers' /proc/meminfo and user_beancounters
  // view (supervisor/proc_view_fs.h); default state_dir + "/proc".
  std::string proc_dir;
  std::string containers_dir;  // per-container files, see container_config.h
  BarrierLimit default_privvmpages;
  BarrierLimit default_shmpages = {kUnlimitedPages, kUnlimitedPages};  // when the config has none
  // numproc in tasks (the fields say pages; they hold counts); likewise
  // unlimited when the config has none.
  BarrierLimit default_numproc = {kUnlimitedPages, kUnlimitedPages};
  // lockedpages: unlimited when the config has none (docs/accounting.md,
  // "Locked memory": RLIMIT_MEMLOCK already bounds each process).
  BarrierLimit default_lockedpages = {kUnlimitedPages, kUnlimitedPages};
  MeminfoMode default_meminfo;                   // privvmpages:1, as vzctl's default
  const RuleProfile* default_profile = nullptr;  // static; never null after parsing
  OnError default_on_error = OnError::kContinue;
  uint32_t retire_after_seconds = 0;
  std::string log_level;  // "error", "warning", "info" or "debug"
  RestConfig rest;
};

// Parses, validates and completes one config text. Errors name `source` and the
// JSON pointer of the field: "/etc/ubc/ubcd.json: /defaults/privvmpages (\"12Q\"): ...".
Result<SupervisorConfig> ParseSupervisorConfig(std::string_view json_text, std::string_view source);

// The built-in default alone (what ubcd runs with when no config file exists).
Result<SupervisorConfig> DefaultSupervisorConfig();

// Reads and parses `path`. Errors name the path; a missing file is an error
// (the caller decides whether to fall back to DefaultSupervisorConfig()).
Result<SupervisorConfig> LoadSupervisorConfigFile(const std::string& path);

// Reads a whole regular file of at most kMaxConfigFileBytes. Errors name the
// path ("reading /etc/ubc/ubcd.json: No such file or directory"). Shared with
// container_config.cc.
Result<std::string> ReadConfigFileText(const std::string& path);

}  // namespace ubc
