// One TitanStore request from the command line, shared by `titan kv` and `titan store get|set`.
#pragma once

#include "cli/commands.h"
#include "schemas/cpp/codec.h"

namespace titan::cli {

// Sends `req` to TitanStore (found through the node at target: a broker's WELCOME, or a store itself),
// prints the result (a value, a count, items) on stdout or the error on stderr, and returns the exit
// code: kExitNotFound for a missing key or a CAS that did not swap.
int StoreCall(const Target& target, const wire::Message& req, wire::MsgType expected_reply);

}  // namespace titan::cli
