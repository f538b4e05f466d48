// A worker's machine (MachineStats from its heartbeats) as one line of `titan stats`.
#pragma once

#include <string>

#include "schemas/generated/messages.h"

namespace titan::cli {

// "CPU 42% of 8 | Mem 3.0/16.0 GiB | Load 1.52 | Disk free 120.0 GiB | GPU0 87% 30.0/40.0 GiB"; parts the
// worker did not report are left out; "" when it reported none.
std::string RenderMachine(const wire::MachineStats& m);

}  // namespace titan::cli
