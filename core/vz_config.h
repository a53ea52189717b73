// VzConfig: an OpenVZ container config (/etc/vz/conf/CTID.conf, vzctl's
// shell-variable syntax) read and converted into a containers.d file
// (schemas/container-config.schema.json) for operators moving from OpenVZ.
//
// The syntax vzctl writes and reads: one `NAME=value` per line, the value
// bare or in double or single quotes (a backslash escapes the next character
// inside double quotes and bare values), `#` starting a comment outside
// quotes, blank lines; a later assignment replaces an earlier one. Values are
// vzctl's own ("65536:69632", "256M:272M", "unlimited").
//
// Mapped: PRIVVMPAGES, SHMPAGES, LOCKEDPAGES (pages or sizes), NUMPROC (a
// count) and MEMINFO; the container matched by its CTID (the file's name)
// and NAME. Everything else is reported with why it is not. Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace ubc {

struct VzParameter {
  std::string name;
  std::string value;
  int line = 0;
};

// The assignments in file order, a later one of a name replacing the earlier
// (kept at its first line). Errors name the line: "line 7: no '=' in ...".
Result<std::vector<VzParameter>> ParseVzConfig(std::string_view text);

struct VzConversion {
  std::string json_text;            // the containers.d file, schema-valid
  std::vector<std::string> mapped;  // parameter names carried over
  // "KMEMSIZE: kernel memory is measured, not limited, by ubc", one per
  // parameter that was not carried over.
  std::vector<std::string> not_mapped;
};

// `ctid` is the container's id in the file's name ("101" of 101.conf). An
// error names the parameter whose value does not parse; a config with no
// mappable parameter is an error too (nothing to write).
Result<VzConversion> ConvertVzConfig(const std::vector<VzParameter>& params, std::string_view ctid);

}  // namespace ubc
