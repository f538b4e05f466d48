// SplitArgs: turns a job's argument string into words the way a POSIX shell would quote them, without
// any expansion ($VAR, ~, globs, command substitution all stay literal).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace titan::exec {

// Words are separated by unquoted spaces, tabs and newlines. 'single quotes' keep everything
// literally; inside "double quotes" a backslash escapes only \ " $ ` (else it stays); outside quotes
// a backslash escapes any next character. Quoted parts join their neighbours (a'b c'd is one word
// "ab cd"), and '' or "" alone is an empty word. Errors: an unterminated quote or a trailing backslash.
Result<std::vector<std::string>> SplitArgs(std::string_view text);

}  // namespace titan::exec
