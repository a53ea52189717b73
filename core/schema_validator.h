// SchemaValidator: JSON Schema validation of config files (valijson adapter).
//
// Wraps valijson behind a small interface so the rest of the core never sees
// it. Schemas are the files in schemas/, compiled into the binary (see
// embedded_schemas.h) so ubcd and ubc-hook validate with exactly what the
// repository ships. A validator is immutable after Create() and safe to share
// between threads.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ubc {

class SchemaValidator {
 public:
  // `schema_name` is a file name in schemas/, e.g. "container-config.schema.json".
  static Result<std::shared_ptr<const SchemaValidator>> Create(std::string_view schema_name);
  ~SchemaValidator();

  // Ok, or an error naming `source` (a file path or "annotation ...") and the
  // JSON pointer of every violation: "/etc/ubc/containers.d/a.json: /privvmpages:
  // ...".
  Status Validate(const nlohmann::json& document, std::string_view source) const;

 private:
  struct Impl;
  explicit SchemaValidator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ubc
