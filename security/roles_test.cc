#include "security/roles.h"

#include <gtest/gtest.h>

namespace titan::security {
namespace {

using wire::Permission;

// Each role against every permission: "R" read, "S" submit, "O" operate, "A" admin, "W" worker.
std::string Grants(Role role) {
  std::string out;
  for (auto [p, letter] : {std::pair{Permission::kRead, 'R'}, std::pair{Permission::kSubmit, 'S'},
                           std::pair{Permission::kOperate, 'O'}, std::pair{Permission::kAdmin, 'A'},
                           std::pair{Permission::kWorker, 'W'}}) {
    if (Allows(role, p)) out += letter;
  }
  return out;
}

TEST(Roles, EachRoleGrantsExactlyItsPermissions) {
  EXPECT_EQ("RSOAW", Grants(Role::kAdmin));
  EXPECT_EQ("RO", Grants(Role::kOperator));
  EXPECT_EQ("RS", Grants(Role::kSubmitter));
  EXPECT_EQ("R", Grants(Role::kReader));
  EXPECT_EQ("W", Grants(Role::kWorker));
  for (Role r : {Role::kAdmin, Role::kOperator, Role::kSubmitter, Role::kReader, Role::kWorker}) {
    EXPECT_TRUE(Allows(r, Permission::kNone));
    EXPECT_EQ(r, RoleNamed(RoleName(r)));
  }
  EXPECT_FALSE(RoleNamed("root").has_value());
}

}  // namespace
}  // namespace titan::security
