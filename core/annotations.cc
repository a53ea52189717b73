#include "core/annotations.h"

#include <cctype>
#include <nlohmann/json.hpp>
#include <string_view>

namespace ubc {
namespace {

// Annotation values come from whoever wrote the container's config; they are
// quoted with JSON escapes and capped so a message never carries raw control
// characters or a megabyte of text into a log.
std::string QuoteValue(std::string_view value) {
  constexpr size_t kMaxShownBytes = 64;
  std::string shown(value.substr(0, kMaxShownBytes));
  std::string quoted =
      nlohmann::json(shown).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (value.size() > kMaxShownBytes) quoted += "...";
  return quoted;
}

// "ubc." in any letter case: annotation keys are case-sensitive, so "UBC.privvmpages"
// would otherwise be silently ignored, exactly like a misspelt key.
bool HasUbcPrefix(std::string_view key) {
  constexpr std::string_view kPrefix = "ubc.";
  if (key.size() < kPrefix.size()) return false;
  for (size_t i = 0; i < kPrefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(key[i])) != kPrefix[i]) return false;
  }
  return true;
}

// A key is shown as written when it is plain printable ASCII, quoted otherwise.
std::string ShowKey(std::string_view key) {
  for (char c : key) {
    if (c <= ' ' || c > '~' || c == '"') return QuoteValue(key);
  }
  return std::string(key);
}

std::string KnownProfiles() {
  std::string known;
  for (std::string_view name : RuleProfileNames()) {
    if (!known.empty()) known += ", ";
    known += name;
  }
  return known;
}

}  // namespace

const char* OnErrorName(OnError on_error) {
  return on_error == OnError::kEnomem ? "enomem" : "continue";
}

std::optional<OnError> ParseOnError(std::string_view text) {
  if (text == "continue") return OnError::kContinue;
  if (text == "enomem") return OnError::kEnomem;
  return std::nullopt;
}

Result<UbcAnnotations> ParseUbcAnnotations(const std::map<std::string, std::string>& annotations) {
  UbcAnnotations out;
  for (const auto& [key, value] : annotations) {
    if (!HasUbcPrefix(key)) continue;
    const std::string shown = "annotation " + key + "=" + QuoteValue(value);
    if (key == kPrivvmpagesAnnotation || key == kShmpagesAnnotation || key == kNumprocAnnotation ||
        key == kLockedpagesAnnotation) {
      // numproc counts tasks: integers and "unlimited", no size suffixes.
      Result<BarrierLimit> bl =
          key == kNumprocAnnotation ? ParseVzCountBarrierLimit(value) : ParseVzBarrierLimit(value);
      if (!bl.ok()) {
        // The parsers' message starts with `invalid value "<text>": `,
        // which would repeat the value just shown; keep only the reason.
        std::string reason = bl.status().message();
        const std::string repeated = "invalid value \"" + value + "\": ";
        if (reason.rfind(repeated, 0) == 0) reason.erase(0, repeated.size());
        return Status::Error(shown + ": " + reason);
      }
      (key == kPrivvmpagesAnnotation   ? out.privvmpages
       : key == kShmpagesAnnotation    ? out.shmpages
       : key == kLockedpagesAnnotation ? out.lockedpages
                                       : out.numproc) = *bl;
    } else if (key == kProfileAnnotation) {
      const RuleProfile* profile = FindRuleProfile(value);
      if (profile == nullptr) {
        return Status::Error(shown + ": unknown profile (known: " + KnownProfiles() + ")");
      }
      out.profile = profile;
    } else if (key == kMeminfoAnnotation) {
      Result<MeminfoMode> mode = ParseMeminfoMode(value);
      if (!mode.ok()) return Status::Error(shown + ": " + mode.status().message());
      out.meminfo = *mode;
    } else if (key == kOnErrorAnnotation) {
      out.on_error = ParseOnError(value);
      if (!out.on_error) return Status::Error(shown + ": must be \"continue\" or \"enomem\"");
    } else {
      // A typo such as "ubc.privvmpage" must not silently run the container
      // without the limits its owner asked for.
      return Status::Error("annotation " + ShowKey(key) +
                           ": unknown ubc annotation (known: " + kPrivvmpagesAnnotation + ", " +
                           kShmpagesAnnotation + ", " + kNumprocAnnotation + ", " +
                           kLockedpagesAnnotation + ", " + kProfileAnnotation + ", " +
                           kOnErrorAnnotation + ", " + kMeminfoAnnotation + ")");
    }
  }
  return out;
}

}  // namespace ubc
