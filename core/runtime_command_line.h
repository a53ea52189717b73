// RuntimeCommand: what an engine asked the OCI runtime to do, read from the
// runc-style command line the runtime wrapper (ubc-runtime) receives.
//
// Engines call the runtime as `runc [global options] SUBCOMMAND [options] ID`
// (containerd-shim: `--root R --log F --log-format json create --bundle B
// --pid-file P ID`; podman: `create --bundle B --pid-file F ID`). The wrapper
// only needs the subcommand and, for `create`/`run`, the bundle and the
// container id. The parser knows runc's and crun's options; anything it cannot
// read with certainty is an error, on which the wrapper passes the call through
// unpatched rather than guess. Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace ubc {

struct RuntimeCommand {
  std::string subcommand;  // "create", "run", "exec", ...; empty for `runc --version`
  // create/run only. Unset when --bundle/-b is absent: the runtime then uses its
  // working directory, which the caller resolves.
  std::optional<std::string> bundle;
  // create/run only: crun's --config/-f, a config file other than
  // BUNDLE/config.json (relative paths are relative to the bundle).
  std::optional<std::string> config_file;
  std::string container_id;  // create/run only

  // True for the subcommands that read config.json and create a container.
  bool CreatesContainer() const { return subcommand == "create" || subcommand == "run"; }
};

// `args` excludes argv[0]. For subcommands other than create/run, only the
// global options are read and the rest is left alone. Errors name the argument
// that could not be read with certainty.
Result<RuntimeCommand> ParseRuntimeCommandLine(const std::vector<std::string>& args);

}  // namespace ubc
