// ContainerProcessState: the message an OCI runtime sends to a seccomp listenerPath.
//
// After creating a seccomp notify fd, runc and crun connect to the listener
// socket and send one JSON "container process state" (OCI runtime spec,
// config-linux.md, "The Container Process State") with the fd in SCM_RIGHTS,
// then keep the connection open. This file only parses and checks the JSON;
// receiving it (message_framer.h) and the fd belong to the supervisor. A
// parsed state is a plain value; parsing is pure and thread-safe.
//
// What the runtimes actually send (docs/runtimes.md §1): runc sends compact
// JSON with ociVersion "1.0.2-dev", status "creating" for the init process and
// "running" with pid = the exec'd process for `runc exec`; crun sends
// pretty-printed JSON with ociVersion "0.2.0" and, for `crun exec`, pid 0,
// state.pid 0 and bundle ".". Take pids from the notifications, not from here.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ubc {

inline constexpr char kSeccompFdName[] = "seccompFd";
inline constexpr size_t kMaxContainerIdBytes = 1024;

struct ContainerProcessState {
  std::string oci_version;        // "ociVersion"; empty if absent
  std::vector<std::string> fds;   // names of the SCM_RIGHTS fds, in order
  int pid = 0;                    // the process whose filter this is; 0 if absent (crun exec)
  std::string metadata;           // the config's listenerMetadata; empty if absent
  std::string state_oci_version;  // "state.ociVersion"
  std::string id;                 // "state.id": the key of a container
  std::string status;             // "state.status": "creating", "running", ...
  std::string bundle;             // "state.bundle"; "." for crun exec
  int state_pid = 0;              // "state.pid": the container's init; 0 if absent
  std::map<std::string, std::string> annotations;  // "state.annotations"

  // Position of "seccompFd" in `fds`, i.e. which SCM_RIGHTS fd is the notify
  // fd; nullopt only for a value not produced by ParseContainerProcessState.
  std::optional<size_t> SeccompFdIndex() const;
};

// Parses one complete message. Required: "fds" (array of strings containing
// "seccompFd" exactly once), "state" (object) with "id" (non-empty, at most
// kMaxContainerIdBytes, no '/', no control characters, not "." or "..": it
// names files under the state dir) and "status" (string). Optional fields
// must have the right type when present: strings, non-negative int pids,
// "state.annotations" an object of strings. Unknown fields are ignored.
// Errors name the field: "container process state: state.annotations[\"x\"]:
// must be a string".
Result<ContainerProcessState> ParseContainerProcessState(std::string_view json_text);

}  // namespace ubc
