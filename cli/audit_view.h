// Pure parts of `titan audit`: reading --since, and the audit log as a table or as JSON. No sockets and
// no clock: callers pass the time, so tests get stable strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/generated/messages.h"

namespace titan::cli {

// --since as Unix epoch ms: a duration before `now_ms` ("30m", "2h", "7d"; a bare number is seconds) or
// a time "2026-05-01", "2026-05-01 13:00", "2026-05-01T13:00:00", in local time as `titan audit` shows
// times, or in UTC with a trailing Z. False with *error saying what to write instead.
bool ParseSince(std::string_view text, int64_t now_ms, int64_t* since_ms, std::string* error);

// `titan audit`: TIME PRINCIPAL ACTION TARGET OUTCOME, one row per entry in the order given (oldest first).
std::string RenderAuditTable(const std::vector<wire::AuditEntry>& entries);
// `titan audit --json`: a JSON array of objects keyed by the AuditEntry field names.
std::string RenderAuditJson(const std::vector<wire::AuditEntry>& entries);

}  // namespace titan::cli
