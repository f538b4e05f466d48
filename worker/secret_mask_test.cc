#include "worker/secret_mask.h"

#include <gtest/gtest.h>

namespace titan::exec {
namespace {

TEST(SecretMask, EveryOccurrenceOfEachSecretIsMasked) {
  EXPECT_EQ("key **** and **** again", MaskSecrets("key s3cr3t and s3cr3t again", {"s3cr3t"}));
  EXPECT_EQ("****-****", MaskSecrets("abc-xyz", {"xyz", "abc"}));
  EXPECT_EQ("nothing here", MaskSecrets("nothing here", {"s3cr3t", ""}));
  EXPECT_EQ("plain", MaskSecrets("plain", {}));
}

TEST(SecretMask, OverlappingSecretsMaskTheLongerAtTheSameStart) {
  EXPECT_EQ("****!", MaskSecrets("token123!", {"token", "token123"}));
  EXPECT_EQ("********3", MaskSecrets("aaaa3", {"aa"}));  // two occurrences, side by side
  EXPECT_EQ("x****", MaskSecrets("xabcd", {"bcd", "abcd"}));
}

TEST(SecretMask, SecretValuesAreTheNonEmptyValuesOfTheEntries) {
  EXPECT_EQ((std::vector<std::string>{"v=1", "x"}), SecretValues({"A=v=1", "B=", "C=x", "D"}));
}

}  // namespace
}  // namespace titan::exec
