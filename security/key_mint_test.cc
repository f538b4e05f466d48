#include "security/key_mint.h"

#include <gtest/gtest.h>

#include <set>

namespace titan::security {
namespace {

TEST(KeyMint, EveryKeypairTakenIsAFreshValidPair) {
  zmq::context_t ctx;
  std::set<std::string> seen;
  {
    KeyMint mint(ctx, 16);
    for (int i = 0; i < 100; ++i) {  // more than the reserve: some made ahead, some inline
      Result<Keypair> k = mint.Take();
      ASSERT_TRUE(k.ok()) << k.message();
      EXPECT_EQ(k->public_key, PublicKeyOf(k->secret_key).value());
      EXPECT_TRUE(seen.insert(k->public_key).second);
    }
  }  // the destructor stops the thread although it may be blocked on a full pipe
  EXPECT_EQ(100u, seen.size());
}

}  // namespace
}  // namespace titan::security
