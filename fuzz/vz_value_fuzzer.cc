// Fuzz target: the vzctl value parser (core/vz_value.h), which reads operator
// input from config files, annotations and environment variables.
//
// Invariants: a parsed value is at most kUnlimitedPages; parse -> format -> parse
// is the identity for single values and "barrier:limit" pairs; a text without ':'
// parses the same as a value and as a pair; blanks around a value and the case of
// its suffix do not matter; errors quote the text. No exception escapes.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/units.h"
#include "core/vz_value.h"
#include "fuzz/fuzz_check.h"

namespace {

using ubc::fuzz::Show;

void CheckValue(std::string_view text) {
  const ubc::Result<uint64_t> v = ubc::ParseVzValuePages(text);
  if (!v.ok()) {
    FUZZ_CHECK(v.status().message().rfind("invalid value \"", 0) == 0, v.status().message());
    return;
  }
  FUZZ_CHECK(*v <= ubc::kUnlimitedPages, Show(text));

  const std::string formatted = ubc::FormatVzValuePages(*v);
  const ubc::Result<uint64_t> again = ubc::ParseVzValuePages(formatted);
  FUZZ_CHECK(again.ok() && *again == *v, Show(text) + " -> " + formatted);

  const ubc::Result<uint64_t> padded = ubc::ParseVzValuePages(" \t" + std::string(text) + "\t ");
  FUZZ_CHECK(padded.ok() && *padded == *v, "blanks changed " + Show(text));

  // The suffix, if any, is the last non-blank character.
  std::string swapped(text);
  size_t last = swapped.find_last_not_of(" \t");
  if (last != std::string::npos && std::isalpha(static_cast<unsigned char>(swapped[last]))) {
    const auto c = static_cast<unsigned char>(swapped[last]);
    swapped[last] = static_cast<char>(std::islower(c) ? std::toupper(c) : std::tolower(c));
    const ubc::Result<uint64_t> other = ubc::ParseVzValuePages(swapped);
    FUZZ_CHECK(other.ok() && *other == *v, "case changed " + Show(text) + " vs " + Show(swapped));
  }
}

void CheckPair(std::string_view text) {
  const ubc::Result<ubc::BarrierLimit> bl = ubc::ParseVzBarrierLimit(text);
  if (text.find(':') == std::string_view::npos) {
    const ubc::Result<uint64_t> v = ubc::ParseVzValuePages(text);
    FUZZ_CHECK(bl.ok() == v.ok(), Show(text));
    if (v.ok()) FUZZ_CHECK(bl->barrier_pages == *v && bl->limit_pages == *v, Show(text));
  }
  if (!bl.ok()) {
    FUZZ_CHECK(bl.status().message().rfind("invalid value \"", 0) == 0, bl.status().message());
    return;
  }
  FUZZ_CHECK(bl->barrier_pages <= ubc::kUnlimitedPages && bl->limit_pages <= ubc::kUnlimitedPages,
             Show(text));
  const std::string formatted = ubc::FormatVzBarrierLimit(*bl);
  const ubc::Result<ubc::BarrierLimit> again = ubc::ParseVzBarrierLimit(formatted);
  FUZZ_CHECK(again.ok() && *again == *bl, Show(text) + " -> " + formatted);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(bytes), size);
  ubc::fuzz::RunGuarded([&] {
    CheckValue(text);
    CheckPair(text);
    // Every boundary a pair can have, so both halves get the value checks too.
    if (const size_t colon = text.find(':'); colon != std::string_view::npos) {
      CheckValue(text.substr(0, colon));
      CheckValue(text.substr(colon + 1));
    }
  });
  return 0;
}
