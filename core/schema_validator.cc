#include "core/schema_validator.h"

// valijson reports internal errors through throwRuntimeError(), which calls
// abort() unless exceptions are enabled. valijson's cmake package already
// defines this for everything built with valijson_dep; the fallback keeps this
// file safe if that ever changes. This is the only translation unit that
// includes valijson, so the setting cannot differ between definitions. Every
// exception is caught below and becomes a Status.
#ifndef VALIJSON_USE_EXCEPTIONS
#define VALIJSON_USE_EXCEPTIONS 1
#endif

#include <cctype>
#include <exception>
#include <set>
#include <utility>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>
#include <vector>

#include "core/embedded_schemas.h"

namespace ubc {
namespace {

using nlohmann::json;

// libstdc++'s std::regex recurses once per input character, so a `pattern`
// constraint applied to a ~100 kB string overflows the stack. No legitimate
// config string (paths are at most PATH_MAX) comes near this bound, so longer
// strings and keys are refused before valijson sees the document.
constexpr size_t kMaxStringBytes = 4096;

// Escapes one reference token for a JSON pointer (RFC 6901).
std::string EscapePointerToken(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string JoinPointer(const std::vector<std::string>& tokens) {
  std::string pointer;
  for (const std::string& token : tokens) pointer += "/" + EscapePointerToken(token);
  return pointer;
}

// valijson's context is {"<root>", "[key]", "[0]", ...}; keys are wrapped in
// brackets verbatim, so stripping the first and last character recovers them
// even when a key itself contains brackets.
std::vector<std::string> ContextToTokens(const std::vector<std::string>& context) {
  std::vector<std::string> tokens;
  for (size_t i = 0; i < context.size(); ++i) {
    std::string_view piece = context[i];
    if (i == 0 && piece == "<root>") continue;
    if (piece.size() >= 2 && piece.front() == '[' && piece.back() == ']') {
      piece = piece.substr(1, piece.size() - 2);
    }
    tokens.emplace_back(piece);
  }
  return tokens;
}

// The text a human reads for a pointer: the root is "/" rather than "".
std::string ShowPointer(const std::string& pointer) { return pointer.empty() ? "/" : pointer; }

// A JSON-quoted, length-capped rendering of a value for error messages, so
// control characters or invalid UTF-8 in a config never reach a log raw.
std::string ShowValue(const json& value) {
  constexpr size_t kMaxShownBytes = 64;
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMaxShownBytes) text = text.substr(0, kMaxShownBytes) + "...";
  return text;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// valijson pushes one error for the violated constraint and then one per
// enclosing property or item ("Failed to validate against schema associated
// with property name 'x'."). The wrappers repeat what the pointer already says.
bool IsWrapperError(const std::string& description) {
  return StartsWith(description, "Failed to validate against schema associated with property") ||
         StartsWith(description, "Failed to validate item #") ||
         StartsWith(description, "Failed to validate against additional properties schema");
}

// valijson names an unexpected property only inside its message; pointing at
// the property itself tells an operator exactly which key to fix.
constexpr std::string_view kUnwantedPrefix =
    "Object contains a property that could not be validated using 'properties' or "
    "'additionalProperties' constraints: '";

// Finds the first string or key longer than kMaxStringBytes; returns its pointer.
std::optional<std::string> FindOversizedString(const json& value, const std::string& pointer) {
  if (value.is_string()) {
    if (value.get_ref<const std::string&>().size() > kMaxStringBytes) return pointer;
  } else if (value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      std::string child_pointer = pointer + "/" + EscapePointerToken(key);
      if (key.size() > kMaxStringBytes) return child_pointer;
      if (auto found = FindOversizedString(child, child_pointer)) return found;
    }
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) {
      if (auto found = FindOversizedString(value[i], pointer + "/" + std::to_string(i))) {
        return found;
      }
    }
  }
  return std::nullopt;
}

// Follows local "$ref"s ("#/definitions/x"); draft-07 ignores a $ref's siblings.
const json* ResolveRef(const json& root, const json* node) {
  for (int hops = 0; hops < 16 && node != nullptr && node->is_object(); ++hops) {
    auto ref = node->find("$ref");
    if (ref == node->end() || !ref->is_string()) return node;
    const std::string& target = ref->get_ref<const std::string&>();
    if (!StartsWith(target, "#")) return nullptr;
    const json::json_pointer pointer(target.substr(1));
    if (!root.contains(pointer)) return nullptr;
    node = &root.at(pointer);
  }
  return node;
}

// The subschema that governs the instance at `tokens`, following properties,
// additionalProperties and items; nullptr when the walk leaves what this
// simple lookup understands. Only used to word messages better.
const json* SubschemaAt(const json& root, const std::vector<std::string>& tokens) {
  const json* node = ResolveRef(root, &root);
  for (const std::string& token : tokens) {
    if (node == nullptr || !node->is_object()) return nullptr;
    const json* next = nullptr;
    if (auto props = node->find("properties"); props != node->end() && props->contains(token)) {
      next = &props->at(token);
    } else if (auto items = node->find("items"); items != node->end() && items->is_object()) {
      next = &*items;
    } else if (auto extra = node->find("additionalProperties");
               extra != node->end() && extra->is_object()) {
      next = &*extra;
    }
    node = ResolveRef(root, next);
  }
  return node;
}

std::string WithArticle(const std::string& type) {
  return (type == "object" || type == "array" || type == "integer" ? "an " : "a ") + type;
}

// Rewords valijson's generic messages using the governing subschema: the
// allowed enum values, the expected type, the bound, or the schema's own
// "x-format" phrase for a pattern ("an absolute path").
std::string Reword(const std::string& description, const json* schema) {
  if (schema == nullptr || !schema->is_object()) return description;
  if (StartsWith(description, "Failed to match against any enum values")) {
    if (auto values = schema->find("enum"); values != schema->end() && values->is_array()) {
      std::string allowed;
      for (const json& v : *values) allowed += (allowed.empty() ? "" : ", ") + ShowValue(v);
      return "must be one of " + allowed;
    }
  } else if (StartsWith(description, "Value type not permitted by 'type' constraint")) {
    if (auto type = schema->find("type"); type != schema->end() && type->is_string()) {
      return "must be " + WithArticle(type->get<std::string>());
    }
  } else if (StartsWith(description, "Failed to match regex specified by 'pattern' constraint")) {
    if (auto format = schema->find("x-format"); format != schema->end() && format->is_string()) {
      return "must be " + format->get<std::string>();
    }
    if (auto pattern = schema->find("pattern"); pattern != schema->end()) {
      return "does not match pattern " + ShowValue(*pattern);
    }
  } else if (StartsWith(description, "Expected number less than or equal to")) {
    if (auto max = schema->find("maximum"); max != schema->end())
      return "must be at most " + max->dump();
  } else if (StartsWith(description, "Expected number greater than or equal to")) {
    if (auto min = schema->find("minimum"); min != schema->end())
      return "must be at least " + min->dump();
  }
  return description;
}

std::string LowercaseSentence(std::string text) {
  // Messages are lowercase and without a trailing period, like every ubc error.
  if (!text.empty()) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    if (text.back() == '.') text.pop_back();
  }
  return text;
}

}  // namespace

struct SchemaValidator::Impl {
  std::string schema_name;
  json schema_json;  // kept to word error messages (SubschemaAt)
  valijson::Schema schema;
};

SchemaValidator::SchemaValidator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SchemaValidator::~SchemaValidator() = default;

Result<std::shared_ptr<const SchemaValidator>> SchemaValidator::Create(
    std::string_view schema_name) {
  const std::string name(schema_name);
  std::optional<std::string_view> text = EmbeddedFile(schema_name);
  if (!text) return Status::Error("schema " + name + ": not embedded in this binary");

  auto impl = std::make_unique<Impl>();
  impl->schema_name = name;
  impl->schema_json = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (impl->schema_json.is_discarded()) return Status::Error("schema " + name + ": invalid JSON");
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(impl->schema_json);
    parser.populateSchema(adapter, impl->schema);
  } catch (const std::exception& e) {
    return Status::Error("schema " + name + ": " + e.what());
  }
  return std::shared_ptr<const SchemaValidator>(new SchemaValidator(std::move(impl)));
}

Status SchemaValidator::Validate(const json& document, std::string_view source) const {
  const std::string prefix = std::string(source) + ": ";
  if (auto pointer = FindOversizedString(document, "")) {
    return Status::Error(prefix + ShowPointer(*pointer) + ": string longer than " +
                         std::to_string(kMaxStringBytes) + " bytes");
  }

  valijson::ValidationResults results;
  bool valid = false;
  try {
    // A valijson::Validator caches compiled regexes in a mutable member, so
    // each call gets its own: this keeps a shared SchemaValidator thread-safe.
    valijson::Validator validator(valijson::Validator::kStrongTypes);
    valijson::adapters::NlohmannJsonAdapter adapter(document);
    valid = validator.validate(impl_->schema, adapter, &results);
  } catch (const std::exception& e) {
    return Status::Error(prefix + "schema " + impl_->schema_name + ": " + e.what());
  }
  if (valid) return Status::Ok();

  std::vector<std::string> lines;
  std::set<std::string> seen;
  valijson::ValidationResults::Error error;
  while (results.popError(error)) {
    if (IsWrapperError(error.description)) continue;
    std::vector<std::string> tokens = ContextToTokens(error.context);
    std::string description;
    if (StartsWith(error.description, kUnwantedPrefix) &&
        error.description.size() > kUnwantedPrefix.size() + 2) {
      description = "unknown property";
      try {
        // Listing the known names turns a typo into an obvious fix.
        const json* parent = SubschemaAt(impl_->schema_json, tokens);
        if (parent != nullptr && parent->is_object() && parent->contains("properties")) {
          std::string known;
          for (const auto& [name, unused] : parent->at("properties").items()) {
            known += (known.empty() ? "" : ", ") + name;
          }
          description += " (known: " + known + ")";
        }
      } catch (const std::exception&) {
        // Wording only.
      }
      tokens.push_back(error.description.substr(
          kUnwantedPrefix.size(), error.description.size() - kUnwantedPrefix.size() - 2));
    } else {
      std::string reworded = error.description;
      try {
        reworded = Reword(error.description, SubschemaAt(impl_->schema_json, tokens));
      } catch (const std::exception&) {
        // Wording only; valijson's own text is still correct.
      }
      description = LowercaseSentence(reworded);
    }
    const std::string pointer = JoinPointer(tokens);
    std::string line = ShowPointer(pointer);
    // Show the offending scalar so "must be one of ..." says what was given.
    try {
      const json::json_pointer json_pointer(pointer);
      if (document.contains(json_pointer)) {
        const json& value = document.at(json_pointer);
        if (value.is_primitive()) line += " (" + ShowValue(value) + ")";
      }
    } catch (const std::exception&) {
      // The value is only decoration; the pointer alone still locates it.
    }
    line += ": " + description;
    if (seen.insert(line).second) lines.push_back(std::move(line));
  }
  if (lines.empty()) lines.push_back("/: does not match schema " + impl_->schema_name);

  std::string message = prefix;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) message += "; ";
    message += lines[i];
  }
  return Status::Error(message);
}

}  // namespace ubc
