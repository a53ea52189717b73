// ApiToken: the bearer token that guards ubcd's REST mutations (PATCH/PUT).
//
// The token lives in a root-only file (rest.token_file, default
// /etc/ubc/api-token): whoever can read it may change limits, exactly the
// people who could run `vzctl set`. On first start the file is created with
// 32 random bytes from getrandom(2), hex-encoded, mode 0600, and missing
// parent directories are created 0755. An existing file must be a regular
// file owned by ubcd's user and not accessible by group or others; anything
// else is refused rather than trusted. Called from main at start-up and on
// SIGHUP (rotation); thread-safe (no shared state).
#pragma once

#include <string>

#include "core/status.h"

namespace ubc {

// The token (surrounding whitespace trimmed), creating the file when absent.
Result<std::string> LoadOrCreateApiToken(const std::string& path);

}  // namespace ubc
