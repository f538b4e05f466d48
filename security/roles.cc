// The role table: one switch, tested in roles_test.cc against every permission.
#include "security/roles.h"

namespace titan::security {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kOperator:
      return "operator";
    case Role::kSubmitter:
      return "submitter";
    case Role::kReader:
      return "reader";
    case Role::kWorker:
      return "worker";
  }
  return "unknown";
}

std::optional<Role> RoleNamed(std::string_view name) {
  for (Role r : {Role::kAdmin, Role::kOperator, Role::kSubmitter, Role::kReader, Role::kWorker}) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

std::string_view RoleNames() { return "admin, operator, submitter, reader, worker"; }

bool Allows(Role role, wire::Permission permission) {
  using P = wire::Permission;
  if (permission == P::kNone || role == Role::kAdmin) return true;
  switch (role) {
    case Role::kOperator:
      return permission == P::kRead || permission == P::kOperate;
    case Role::kSubmitter:
      return permission == P::kRead || permission == P::kSubmit;
    case Role::kReader:
      return permission == P::kRead;
    case Role::kWorker:
      return permission == P::kWorker;
    case Role::kAdmin:
      return true;
  }
  return false;
}

}  // namespace titan::security
