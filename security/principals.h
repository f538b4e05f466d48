// The principals a cluster knows: a name, a CURVE public key, a role, and whether it was revoked.
// Kept in `<keys dir>/principals.yaml` (mode 0600; public keys only, no secret), written by
// `titan keys` and read by every server process, which reloads it when it changes.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "security/roles.h"

namespace titan::security {

struct Principal {
  std::string name;
  std::string public_key;  // Z85
  Role role = Role::kReader;
  int64_t added_ms = 0;    // wall clock, for `titan keys list`
  int64_t revoked_ms = 0;  // 0: not revoked
  bool revoked() const { return revoked_ms != 0; }
};

class Principals {
 public:
  // Reads the file; an absent file is an empty set. Errors name the file and the bad entry.
  static Result<Principals> Load(const std::string& path);
  // `durable`: fsync before the rename (the principals file); a job principals file needs none.
  Status Save(const std::string& path, bool durable = true) const;

  const Principal* FindKey(const std::string& public_key) const;  // revoked ones too
  const Principal* FindName(const std::string& name) const;
  // A new principal; INVALID when the name or key is taken, the name is empty or not a plain word.
  Status Add(Principal p);
  // Marks `name` revoked at `now_ms`; NOT_FOUND when there is none, INVALID when already revoked.
  Status Revoke(const std::string& name, int64_t now_ms);
  // Gives `name` another public key (a re-issued credential): the old key is refused from then on.
  // NOT_FOUND when there is none; INVALID when it is revoked (revoked stays revoked: add a new name) or
  // the key belongs to another principal.
  Status Rekey(const std::string& name, const std::string& public_key);
  // Forgets `name` (a job's principal when its run ends); nothing when there is none. The last
  // principal takes its place in all(): Remove keeps the order of a set only when it removes the last.
  void Remove(const std::string& name);
  const std::vector<Principal>& all() const { return all_; }

 private:
  std::vector<Principal> all_;
  // Positions in all_ by name and by key: every lookup is O(1), as a broker running thousands of jobs
  // (each a principal) needs.
  std::unordered_map<std::string, size_t> by_name_, by_key_;
};

// The names of the principals whose keys `before` admitted and `after` does not (revoked, removed, or
// given another key), in `before`'s order: the connections they opened must be closed.
std::vector<std::string> LostAccess(const Principals& before, const Principals& after);

// One difference between two readings of the principals file, for the audit log. `action` is KEY_ADD,
// KEY_REVOKE, KEY_REMOVE (gone from the file) or KEY_CHANGE (another role or key); `target` names the
// principal, with its role for KEY_ADD and KEY_CHANGE ("alice role=submitter").
struct PrincipalChange {
  std::string action;
  std::string target;
  bool operator==(const PrincipalChange&) const = default;
};
// What changed from `before` to `after`, in the order of `after` (removals last). A principal added and
// revoked between the two readings gives KEY_ADD then KEY_REVOKE.
std::vector<PrincipalChange> DiffPrincipals(const Principals& before, const Principals& after);

// A principal name: 1-64 characters of [A-Za-z0-9._@-] (it appears in logs, errors and the audit log).
bool IsPrincipalName(const std::string& name);
bool IsPrincipalNameChar(char c);

}  // namespace titan::security
