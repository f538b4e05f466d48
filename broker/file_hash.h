// Content hash of job files (SHA-256, hex), through OpenSSL.
#pragma once

#include <string>
#include <string_view>

namespace titan::broker {
std::string Sha256Hex(std::string_view data);
}
