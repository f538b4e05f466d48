#include "security/zap.h"

#include <gtest/gtest.h>
#include <zmq.h>

#include <array>

#include "security/curve_keys.h"

namespace titan::security {
namespace {

std::string Raw(const std::string& z85) {
  std::array<uint8_t, 32> raw{};
  zmq_z85_decode(raw.data(), z85.c_str());
  return std::string(reinterpret_cast<const char*>(raw.data()), raw.size());
}

class ZapTest : public ::testing::Test {
 protected:
  ZapTest() {
    EXPECT_TRUE(principals_.Add({"alice", alice_.public_key, Role::kSubmitter, 1, 0}).ok());
    EXPECT_TRUE(principals_.Add({"eve", eve_.public_key, Role::kAdmin, 1, 0}).ok());
    EXPECT_TRUE(principals_.Revoke("eve", 2).ok());
  }
  Keypair alice_ = NewKeypair().value(), eve_ = NewKeypair().value(), stranger_ = NewKeypair().value();
  Principals principals_;
};

TEST_F(ZapTest, OnlyAKnownUnrevokedCurveKeyIsAdmittedAndNamedByItsPrincipal) {
  ZapVerdict v = Decide(principals_, kClientDomain, "CURVE", Raw(alice_.public_key));
  EXPECT_TRUE(v.allowed);
  EXPECT_EQ("alice", v.user_id);
  v = Decide(principals_, kClientDomain, "CURVE", Raw(stranger_.public_key));
  EXPECT_FALSE(v.allowed);
  EXPECT_NE(std::string::npos, v.reason.find("unknown key")) << v.reason;
  v = Decide(principals_, kClientDomain, "CURVE", Raw(eve_.public_key));
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ("principal 'eve' was revoked", v.reason);
  v = Decide(principals_, kClientDomain, "NULL", "");
  EXPECT_FALSE(v.allowed);
  EXPECT_NE(std::string::npos, v.reason.find("did not use CURVE")) << v.reason;
  EXPECT_FALSE(Decide(principals_, kClientDomain, "CURVE", "short").allowed);
}

TEST_F(ZapTest, TheEventAndWorkerSocketsAdmitOnlyRolesWithTheirPermission) {
  Principals p;
  const Keypair reader = NewKeypair().value(), worker = NewKeypair().value();
  ASSERT_TRUE(p.Add({"r", reader.public_key, Role::kReader, 1, 0}).ok());
  ASSERT_TRUE(p.Add({"w", worker.public_key, Role::kWorker, 1, 0}).ok());
  EXPECT_TRUE(Decide(p, kEventsDomain, "CURVE", Raw(reader.public_key)).allowed);
  EXPECT_TRUE(Decide(p, kClientDomain, "CURVE", Raw(worker.public_key)).allowed);  // HELLO needs nothing
  ZapVerdict v = Decide(p, kWorkerDomain, "CURVE", Raw(reader.public_key));
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(
      "principal 'r' (role reader) may not connect to the titan-workers socket: it needs the worker "
      "permission",
      v.reason);
  EXPECT_FALSE(Decide(p, kEventsDomain, "CURVE", Raw(worker.public_key)).allowed);
  EXPECT_TRUE(Decide(p, kWorkerDomain, "CURVE", Raw(worker.public_key)).allowed);
}

TEST_F(ZapTest, TheReplyCarriesTheRequestIdStatusAndUserId) {
  ZapVerdict v;
  auto reply =
      Answer(principals_, {"1.0", "7", "titan", "127.0.0.1", "", "CURVE", Raw(alice_.public_key)}, &v);
  EXPECT_EQ((std::vector<std::string>{"1.0", "7", "200", "OK", "alice", ""}), reply);
  reply = Answer(principals_, {"1.0", "8", "titan", "127.0.0.1", "", "CURVE", Raw(stranger_.public_key)}, &v);
  EXPECT_EQ("400", reply[2]);
  EXPECT_EQ("", reply[4]);
  reply = Answer(principals_, {"2.0", "9"}, &v);
  EXPECT_EQ("500", reply[2]);
  EXPECT_EQ("9", reply[1]);
}

}  // namespace
}  // namespace titan::security
