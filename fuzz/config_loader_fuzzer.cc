// Fuzz target: the config loaders, which read operator-written JSON: ubcd's
// config (ParseSupervisorConfig), a containers.d file (ParseContainerConfig) and
// ubc-hook's settings (ParseHookSettings). Each gets the input text.
//
// Invariants: an accepted config is complete and consistent (a profile, absolute
// socket paths that differ, at least one match pattern, limits that survive a
// vzctl format/parse round trip); errors name the source; no nlohmann exception
// reaches the loaders' "unreachable" guards (their message would carry a
// "[json.exception." tag that the input itself does not: a parse error quotes
// what it last read), i.e. the schemas and the code agree on types. No
// exception escapes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/container_config.h"
#include "core/hook_settings.h"
#include "core/supervisor_config.h"
#include "core/vz_value.h"
#include "fuzz/fuzz_check.h"

namespace {

constexpr char kSource[] = "/etc/ubc/fuzz.json";

void CheckError(std::string_view input, const ubc::Status& s) {
  const std::string& m = s.message();
  FUZZ_CHECK(m.rfind(std::string(kSource) + ": ", 0) == 0, m);
  // "invalid JSON: ..." strips the tag; any other tagged message is an exception
  // that a guard caught after the schema accepted the document.
  constexpr std::string_view kTag = "[json.exception.";
  FUZZ_CHECK(m.find(kTag) == std::string::npos || input.find(kTag) != std::string_view::npos, m);
}

void CheckLimits(const ubc::BarrierLimit& bl) {
  const std::string text = ubc::FormatVzBarrierLimit(bl);
  const ubc::Result<ubc::BarrierLimit> again = ubc::ParseVzBarrierLimit(text);
  FUZZ_CHECK(again.ok() && *again == bl, text);
}

void CheckSupervisorConfig(std::string_view text) {
  const ubc::Result<ubc::SupervisorConfig> cfg = ubc::ParseSupervisorConfig(text, kSource);
  if (!cfg.ok()) return CheckError(text, cfg.status());
  FUZZ_CHECK(cfg->default_profile != nullptr, "no default profile");
  FUZZ_CHECK(!cfg->listener_path.empty() && cfg->listener_path.front() == '/', cfg->listener_path);
  FUZZ_CHECK(!cfg->status_path.empty() && cfg->status_path.front() == '/', cfg->status_path);
  FUZZ_CHECK(cfg->listener_path != cfg->status_path, cfg->status_path);
  FUZZ_CHECK(!cfg->state_dir.empty() && !cfg->containers_dir.empty(), "empty directory");
  FUZZ_CHECK(cfg->log_level == "error" || cfg->log_level == "warning" || cfg->log_level == "info" ||
                 cfg->log_level == "debug",
             cfg->log_level);
  CheckLimits(cfg->default_privvmpages);
}

void CheckContainerConfig(std::string_view text) {
  const ubc::Result<ubc::ContainerConfig> cfg = ubc::ParseContainerConfig(text, kSource);
  if (!cfg.ok()) return CheckError(text, cfg.status());
  FUZZ_CHECK(cfg->source_path == kSource, cfg->source_path);
  FUZZ_CHECK(!cfg->id_patterns.empty() || !cfg->name_patterns.empty(), "matches nothing");
  if (cfg->privvmpages) CheckLimits(*cfg->privvmpages);
  // Matching runs fnmatch(3) on the patterns; it must not misbehave on them.
  const std::vector<ubc::ContainerConfig> configs = {*cfg};
  for (const std::string& p : cfg->id_patterns) (void)ubc::MatchContainerConfig(configs, p, "");
  for (const std::string& p : cfg->name_patterns) (void)ubc::MatchContainerConfig(configs, "", p);
}

void CheckHookSettings(std::string_view text) {
  const ubc::Result<ubc::HookSettings> settings = ubc::ParseHookSettings(text, kSource);
  if (!settings.ok()) return CheckError(text, settings.status());
  FUZZ_CHECK(!settings->listener_path.empty() && settings->listener_path.front() == '/',
             settings->listener_path);
  FUZZ_CHECK(!settings->runtime.empty(), "empty runtime");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(bytes), size);
  ubc::fuzz::RunGuarded([&] {
    CheckSupervisorConfig(text);
    CheckContainerConfig(text);
    CheckHookSettings(text);
  });
  return 0;
}
