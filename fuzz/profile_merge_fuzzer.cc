// Fuzz target: the seccomp profile merge (core/seccomp_profile_merge.h). The
// input is JSON for a container's `linux.seccomp`, which comes from whoever
// writes the container's config.
//
// Invariants for an accepted profile: the output is a JSON object that
// serialises and parses back to itself, has our listenerPath, keeps every field
// other than syscalls and listenerPath, and merging it again returns it
// unchanged. Where the test-only libseccomp model (core/seccomp_profile_model.h)
// can read the input, the merge changes decisions only as promised: denials stay,
// accountable memory calls and execs the profile allowed now notify, clone3 gets ENOSYS,
// other memory calls keep their decision or notify, every other syscall keeps its
// decision. No exception escapes.
#include <array>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_depth.h"
#include "core/seccomp_profile_merge.h"
#include "core/seccomp_profile_model.h"
#include "core/trap_expectation.h"
#include "fuzz/fuzz_check.h"

namespace {

using nlohmann::json;
using Args = std::array<uint64_t, 6>;

constexpr char kListener[] = "/run/ubc/ubcd.sock";

// Arguments to try: a small fixed grid, plus each value the profile compares
// against (and its neighbours) at the index it compares, since decisions change there.
std::vector<Args> ArgGrid(const json& profile) {
  std::vector<Args> grid = {{0, 0, 0, 0, 0, 0},
                            {0x7f0000000000, 4096, 3, 0x22, ~0ull, 0},
                            {0x7f0000000000, 4096, 1, 0x01, 3, 0},
                            {0, 4096, 2, 0x02, 3, 4096},
                            {0x11, 0, 0, 0, 0, 0},
                            {0x3d0f00, 0x7f0000001000, 0, 0, 0, 0},
                            {0x555555559000, 0, 7, 0x12, 0, 0},
                            {~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull}};
  if (!profile.is_object()) return grid;
  const auto rules = profile.find("syscalls");
  if (rules == profile.end() || !rules->is_array()) return grid;
  const std::vector<Args> bases = grid;
  for (const json& rule : *rules) {
    if (!rule.is_object()) continue;
    const auto args = rule.find("args");
    if (args == rule.end() || !args->is_array()) continue;
    for (const json& cmp : *args) {
      if (!cmp.is_object()) continue;
      const auto index = cmp.find("index");
      if (index == cmp.end() || !index->is_number_unsigned() || index->get<uint64_t>() >= 6) {
        continue;
      }
      std::vector<uint64_t> values;
      for (const char* key : {"value", "valueTwo"}) {
        const auto v = cmp.find(key);
        if (v == cmp.end() || !v->is_number_unsigned()) continue;
        const uint64_t x = v->get<uint64_t>();
        values.insert(values.end(), {x, x - 1, x + 1});
      }
      for (const uint64_t x : values) {
        for (size_t b = 0; b < 4; ++b) {
          Args a = bases[b];
          a[index->get<uint64_t>()] = x;
          grid.push_back(a);
        }
      }
      if (grid.size() > 400) return grid;
    }
  }
  return grid;
}

std::string Where(const std::string& name, const Args& args, const ubc::SeccompDecision& was,
                  const ubc::SeccompDecision& is) {
  std::ostringstream where;
  where << name << "(" << std::hex;
  for (const uint64_t a : args) where << "0x" << a << ",";
  where << ") was " << was << ", is " << is;
  return where.str();
}

void CheckDecisions(const json& original, const json& merged) {
  const ubc::Result<ubc::SeccompProfileModel> before = ubc::SeccompProfileModel::Create(original);
  if (!before.ok()) return;  // the model is stricter than the merge; nothing to compare
  const ubc::Result<ubc::SeccompProfileModel> after = ubc::SeccompProfileModel::Create(merged);
  FUZZ_CHECK(after.ok(), "the model cannot read the merged profile: " + after.status().message());

  std::set<std::string> names(ubc::TrappedSyscallNames().begin(), ubc::TrappedSyscallNames().end());
  for (const std::string& n : before->NamedSyscalls()) {
    names.insert(n);
    if (names.size() > 40) break;
  }
  names.insert("vfork");
  names.insert("munmap");
  names.insert("read");
  const std::vector<Args> grid = ArgGrid(original);
  for (const std::string& name : names) {
    const bool memory = ubc::TrappedSyscallNames().count(name) != 0;
    for (const Args& args : grid) {
      const ubc::SeccompDecision was = before->Evaluate(name, args);
      const ubc::SeccompDecision is = after->Evaluate(name, args);
      if (was.ambiguous) continue;  // the loaders' behaviour is undefined there
      FUZZ_CHECK(!is.ambiguous, Where(name, args, was, is));
      if (!memory || !was.Allows()) {
        FUZZ_CHECK(is == was, Where(name, args, was, is));
      } else if (name == "clone3") {
        FUZZ_CHECK(is == (ubc::SeccompDecision{"SCMP_ACT_ERRNO", 38}), Where(name, args, was, is));
      } else if (ubc::MustNotify(name, args)) {
        FUZZ_CHECK(is.action == "SCMP_ACT_NOTIFY", Where(name, args, was, is));
      } else {
        // A whole allowing rule may notify (ubcd continues the call).
        FUZZ_CHECK(is == was || is.action == "SCMP_ACT_NOTIFY", Where(name, args, was, is));
      }
    }
  }
}

void CheckMerge(const json* original) {
  const ubc::Result<json> merged = ubc::MergeUbcNotifyRules(original, kListener);
  if (!merged.ok()) {
    FUZZ_CHECK(!merged.status().message().empty(), "empty error");
    return;
  }
  FUZZ_CHECK(merged->is_object(), merged->dump());
  const auto listener = merged->find("listenerPath");
  FUZZ_CHECK(listener != merged->end() && *listener == kListener, "listenerPath");

  // Valid JSON: the runtime reads what ubc-hook writes.
  std::string text;
  try {
    text = merged->dump();
  } catch (const json::exception& e) {
    FUZZ_CHECK(false, std::string("merged profile does not serialise: ") + e.what());
  }
  const json reread = json::parse(text, nullptr, false);
  FUZZ_CHECK(!reread.is_discarded() && reread == *merged, text);

  if (original != nullptr && original->is_object()) {
    for (const auto& [key, value] : original->items()) {
      if (key == "syscalls" || key == "listenerPath") continue;
      const auto kept = merged->find(key);
      FUZZ_CHECK(kept != merged->end() && *kept == value, "field not kept: " + key);
    }
  }

  const ubc::Result<json> again = ubc::MergeUbcNotifyRules(&*merged, kListener);
  FUZZ_CHECK(again.ok(), "merging the merged profile failed: " + again.status().message());
  FUZZ_CHECK(*again == *merged,
             "merge not idempotent:\n" + merged->dump(1) + "\nthen\n" + again->dump(1));

  CheckDecisions(original != nullptr ? *original : json(), *merged);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(bytes), size);
  ubc::fuzz::RunGuarded([&] {
    // The merge gets profiles from PatchOciConfig, which refuses nesting past
    // kMaxJsonDepth before parsing; deeper documents are outside its contract.
    if (!ubc::CheckJsonDepth(text, "profile").ok()) return;
    const json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) return;  // nlohmann's parser is not under test here
    CheckMerge(&doc);
  });
  return 0;
}
