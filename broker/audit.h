// What the broker's audit log records of a client's request: a pure function of the request, the answer
// it got and who sent it. No clock (the time is passed in), no journal: the core appends what it returns.
#pragma once

#include <optional>
#include <string>

#include "schemas/cpp/codec.h"
#include "schemas/generated/messages.h"

namespace titan::broker {

// The audit row of `request` answered with `reply`, sent by `principal` (its ZAP User-Id; empty in
// plaintext), or nullopt when it is not audited: reads (unless refused FORBIDDEN, security::IsAudited)
// and ARTIFACT_CHUNK, which would be a row per MiB (an upload is recorded by its ARTIFACT_PUT and
// ARTIFACT_COMMIT). The target names what was acted on: job, DAG, gate, worker, schedule and artifact
// names, an upload's id; never a script, an environment or an argument.
std::optional<wire::AuditEntry> AuditOf(const std::string& principal, const wire::Message& request,
                                        const wire::Message& reply, int64_t wall_ms);

}  // namespace titan::broker
