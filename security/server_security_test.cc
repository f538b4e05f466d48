#include "security/server_security.h"

#include <gtest/gtest.h>

#include "base/test_dir.h"

namespace titan::security {
namespace {

// A restarted broker reads the jobs file its previous life left and keeps only the credentials of the
// runs still RUNNING after recovery.
TEST(ServerSecurity, ARestartedBrokerRevokesTheCredentialsOfRunsThatEnded) {
  titan::testing::TempDir dir;
  const KeyFiles keys{dir / "keys"};
  ASSERT_TRUE(InitKeys(keys, 0).ok());
  {
    zmq::context_t ctx;  // each life its own: the ZAP endpoint of the first is gone with it
    auto first = ServerSecurity::Open(ctx, SecurityOptions{.keys_dir = keys.dir}, "127.0.0.1", "broker");
    ASSERT_TRUE(first.ok()) << first.message();
    ASSERT_TRUE(first.value()->MintJobCredential("still-running").has_value());
    ASSERT_TRUE(first.value()->MintJobCredential("ended").has_value());
    first.value()->SaveJobCredentials();
  }
  zmq::context_t ctx;
  auto second = ServerSecurity::Open(ctx, SecurityOptions{.keys_dir = keys.dir}, "127.0.0.1", "broker");
  ASSERT_TRUE(second.ok()) << second.message();
  EXPECT_NE(nullptr, second.value()->principals().FindName("job-ended"));
  second.value()->RetainJobCredentials({"still-running"});
  EXPECT_EQ(nullptr, second.value()->principals().FindName("job-ended"));
  EXPECT_NE(nullptr, second.value()->principals().FindName("job-still-running"));
  second.value()->SaveJobCredentials();
  Principals saved;
  JobKeyReader reader(keys.jobs());
  ASSERT_TRUE(reader.Follow(&saved).ok());
  EXPECT_EQ(nullptr, saved.FindName("job-ended"));
  EXPECT_NE(nullptr, saved.FindName("job-still-running"));
}

}  // namespace
}  // namespace titan::security
