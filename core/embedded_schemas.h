// The JSON schemas and default configs of schemas/ and examples/, compiled in.
//
// Generated at build time by scripts/embed_files.py from the files in the
// repository, so the binaries never read schema files at run time. Static,
// immutable data; thread-safe.
#pragma once

#include <optional>
#include <string_view>

namespace ubc {

// Contents of an embedded file by its base name ("ubcd-config.schema.json",
// "ubcd.default.json"), or nullopt.
std::optional<std::string_view> EmbeddedFile(std::string_view base_name);

}  // namespace ubc
