// CLI durations: `--delay 500ms`, `--timeout 5m`. A pure parse with the error message a user sees.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace titan::cli {

// `text` as milliseconds: a non-negative number with an optional unit ms, s, m or h; a bare number is
// seconds. Fractions are allowed ("1.5", "0.5s", "2.5m") and rounded to the nearest millisecond.
// False with *error set ("--delay '5x': use a number with ms, s, m or h, e.g. 500ms or 2s"), naming
// `option` as the user wrote it, for an empty, negative, malformed or absurdly long (> 100 years) value.
bool ParseDuration(std::string_view option, std::string_view text, int64_t* ms, std::string* error);

}  // namespace titan::cli
