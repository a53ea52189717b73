// Fuzz target: ubc-hook's OCI config patch (core/oci_config_patch.h). The input
// is a bundle's config.json, written by whoever starts the container; it is
// patched with opt_in "annotated" and opt_in "all" and one containers.d file.
//
// Invariants: a config nobody opted in comes back byte for byte; a patched one
// is at most a constant factor bigger, is valid JSON whose linux.seccomp has our listenerPath,
// whose other fields are unchanged but annotations and the kernel bounds (process.rlimits,
// tmpfs mount options, linux.resources.memory), and which patches to itself again;
// whatever "annotated" patches, "all" patches the same way; errors name
// config.json. No exception escapes.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/container_config.h"
#include "core/hook_settings.h"
#include "core/json_depth.h"
#include "core/oci_config_patch.h"
#include "core/supervisor_config.h"
#include "fuzz/fuzz_check.h"

namespace {

using nlohmann::json;
using ubc::fuzz::Show;

constexpr char kContainerId[] = "fuzz-1";
// Pretty-printing indents each value by two spaces per level, and nesting is bounded by
// ubc::kMaxJsonDepth (core/json_depth.h): output grows at most linearly, by about one
// indentation's worth per input byte; the merged notify rules add a few kB.
constexpr size_t kMaxGrowthFactor = 2 * ubc::kMaxJsonDepth + 8;
constexpr size_t kMaxAddedBytes = 256 * 1024;

const std::vector<ubc::ContainerConfig>& Configs() {
  static const std::vector<ubc::ContainerConfig> configs = [] {
    ubc::ContainerConfig c;
    c.source_path = "/etc/ubc/containers.d/fuzz.json";
    c.id_patterns = {"matched-*"};
    c.name_patterns = {"web*"};
    return std::vector<ubc::ContainerConfig>{c};
  }();
  return configs;
}

const ubc::SupervisorConfig& Ubcd() {
  static const ubc::SupervisorConfig config = *ubc::DefaultSupervisorConfig();
  return config;
}

// Every field of `before`[object] (or `before` itself when `object` is empty)
// is in `after` unchanged, except `but`.
void ExpectSameBut(const json& before, const json& after, const std::string& object,
                   const std::string& but) {
  if (!object.empty() && !(before.contains(object) && before.at(object).is_object())) {
    if (before.contains(object)) {
      FUZZ_CHECK(after.at(object) == before.at(object), "field changed: " + object);
    }
    return;
  }
  const json& from = object.empty() ? before : before.at(object);
  const json& to = object.empty() ? after : after.at(object);
  if (!from.is_object()) {
    FUZZ_CHECK(to == from, "field changed: " + object);
    return;
  }
  for (const auto& [key, value] : from.items()) {
    if (key == but) continue;
    FUZZ_CHECK(to.contains(key) && to.at(key) == value, "field changed: " + object + "." + key);
  }
}

ubc::Result<ubc::PatchOutcome> Patch(std::string_view text, const ubc::HookSettings& settings) {
  ubc::Result<ubc::PatchOutcome> out =
      ubc::PatchOciConfig(text, settings, Configs(), Ubcd(), kContainerId);
  if (!out.ok()) {
    FUZZ_CHECK(out.status().message().rfind("config.json: ", 0) == 0, out.status().message());
    return out;
  }
  if (!out->patched) {
    FUZZ_CHECK(out->output_text == text, "unpatched config changed");
    FUZZ_CHECK(out->opted_in_by.empty(), out->opted_in_by);
    return out;
  }
  FUZZ_CHECK(!out->opted_in_by.empty(), "patched without a reason");
  // The output is the input pretty-printed plus the notify rules: a bounded
  // factor bigger, not quadratic in the nesting depth (indentation).
  FUZZ_CHECK(out->output_text.size() <= kMaxGrowthFactor * text.size() + kMaxAddedBytes,
             std::to_string(text.size()) + " bytes in, " + std::to_string(out->output_text.size()) +
                 " bytes out");
  const json before = json::parse(text, nullptr, false);
  const json after = json::parse(out->output_text, nullptr, false);
  FUZZ_CHECK(!before.is_discarded() && before.is_object(), Show(text));
  FUZZ_CHECK(!after.is_discarded() && after.is_object(), Show(out->output_text));
  // Patched implies "linux" was an object; .at() throws (a finding) if it is not.
  const json& seccomp = after.at("linux").at("seccomp");
  FUZZ_CHECK(seccomp.is_object() && seccomp.value("listenerPath", "") == settings.listener_path,
             Show(out->output_text));
  for (const auto& [key, value] : before.items()) {
    if (key == "linux" || key == "annotations" || key == "process" || key == "mounts") continue;
    FUZZ_CHECK(after.contains(key) && after.at(key) == value, "field changed: " + key);
  }
  ExpectSameBut(before, after, "process", "rlimits");
  ExpectSameBut(before.at("linux"), after.at("linux"), "resources", "memory");
  for (const auto& [key, value] : before.at("linux").items()) {
    if (key == "seccomp" || key == "resources") continue;
    FUZZ_CHECK(after.at("linux").contains(key) && after.at("linux").at(key) == value,
               "field changed: linux." + key);
  }
  if (before.contains("mounts") && before.at("mounts").is_array()) {
    const json& mounts = after.at("mounts");
    FUZZ_CHECK(mounts.size() == before.at("mounts").size(), "mounts added or removed");
    for (size_t i = 0; i < mounts.size(); ++i) {
      ExpectSameBut(before.at("mounts").at(i), mounts.at(i), "", "options");
    }
  }

  // Patching the output again changes nothing.
  const ubc::Result<ubc::PatchOutcome> again =
      ubc::PatchOciConfig(out->output_text, settings, Configs(), Ubcd(), kContainerId);
  FUZZ_CHECK(again.ok(), "re-patching failed: " + again.status().message());
  FUZZ_CHECK(again->patched, "re-patching did not patch");
  FUZZ_CHECK(again->output_text == out->output_text,
             "patch not idempotent:\n" + out->output_text + "\nthen\n" + again->output_text);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(bytes), size);
  ubc::fuzz::RunGuarded([&] {
    ubc::HookSettings annotated;
    annotated.opt_in = ubc::OptIn::kAnnotated;
    ubc::HookSettings all;
    all.opt_in = ubc::OptIn::kAll;
    const ubc::Result<ubc::PatchOutcome> a = Patch(text, annotated);
    const ubc::Result<ubc::PatchOutcome> b = Patch(text, all);
    if (a.ok() && a->patched) {
      FUZZ_CHECK(b.ok() && b->patched && b->output_text == a->output_text,
                 "opt_in all disagrees with opt_in annotated");
    }
    if (!a.ok()) FUZZ_CHECK(!b.ok(), "opt_in all accepted what annotated refused");
  });
  return 0;
}
