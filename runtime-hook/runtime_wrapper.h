// RuntimeWrapper: ubc-runtime, an OCI runtime that patches the bundle's
// config.json on `create`/`run` and then execs the real runtime.
//
// For engines that cannot run a precreate hook (Docker, containerd): they call
// it exactly like runc. Settings come from ubc-runtime.json in the directory
// of argv[0] as invoked (not symlink-resolved), else /etc/ubc/runtime.json,
// else built-in defaults; engines pass no environment, so nothing is read from
// it. Every subcommand other than create/run is passed through untouched. A
// command line the parser cannot read with certainty is passed through
// unpatched with a warning; a patch that fails stops the start (exit 1, no
// exec) so the engine reports it. Runs once per process; not thread-safe.
#pragma once

#include <string>
#include <vector>

namespace ubc {

// Never returns on success (the real runtime replaces the process); returns
// the exit status otherwise. `args` excludes argv[0].
int RunRuntimeWrapper(const std::string& argv0, const std::vector<std::string>& args);

}  // namespace ubc
