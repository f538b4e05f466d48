// Roles and what each may do. A message's required permission comes from schemas/protocol.yaml
// (MessageSpec::permission); a principal's role grants a set of permissions:
//   admin     everything
//   operator  read + operate (stop/cancel, approve/reject gates, drain workers, services)
//   submitter read + submit (submit jobs and DAGs, use the store)
//   reader    read (status, logs, stats, events)
//   worker    worker (register and run jobs), nothing else
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "schemas/generated/protocol.h"

namespace titan::security {

enum class Role { kAdmin, kOperator, kSubmitter, kReader, kWorker };

std::string_view RoleName(Role role);  // "admin", ...
// The role named `name` (as written in principals files and `titan keys add --role`); nullopt if none.
std::optional<Role> RoleNamed(std::string_view name);
// "admin, operator, submitter, reader, worker": for messages that list the choices.
std::string_view RoleNames();

// True when `role` grants `permission` (kNone is granted to everyone).
bool Allows(Role role, wire::Permission permission);

}  // namespace titan::security
