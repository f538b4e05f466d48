// The generated C++ message table must equal schemas/protocol.yaml as yaml-cpp reads it: a check of
// gen_protocol.py by an independent YAML parser.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <set>

#include "schemas/cpp/test_paths.h"
#include "schemas/generated/protocol.h"

namespace titan::wire {
namespace {

// "name:type[?]" for each field, in order: a readable rendering to compare.
std::string RenderFields(std::span<const FieldSpec> fields) {
  std::string out;
  for (const auto& f : fields) {
    out += std::string(f.name) + ":" + FieldTypeName(f) + (f.optional ? "?" : "") + " ";
  }
  return out;
}

std::string RenderYamlFields(const YAML::Node& fields) {
  std::string out;
  for (const auto& kv : fields) {
    const bool optional = kv.second["optional"] && kv.second["optional"].as<bool>();
    out +=
        kv.first.as<std::string>() + ":" + kv.second["type"].as<std::string>() + (optional ? "?" : "") + " ";
  }
  return out;
}

class ProtocolSchema : public ::testing::Test {
 protected:
  YAML::Node schema_ = YAML::LoadFile(testing::SchemaPath("protocol.yaml"));
};

TEST_F(ProtocolSchema, VersionAndSignature) {
  EXPECT_EQ(schema_["protocol"]["name"].as<std::string>(), std::string(kProtocolName));
  EXPECT_EQ(schema_["protocol"]["version"].as<int>(), kProtocolVersion);
  EXPECT_EQ(schema_["protocol"]["signature_hex"].as<std::string>(), "544954414e01");
}

TEST_F(ProtocolSchema, Limits) {
  const auto limits = schema_["limits"];
  EXPECT_EQ(limits["max_frames"].as<size_t>(), kMaxFrames);
  EXPECT_EQ(limits["max_body_bytes"].as<size_t>(), kMaxBodyBytes);
  EXPECT_EQ(limits["max_key_bytes"].as<size_t>(), kMaxKeyBytes);
  EXPECT_EQ(limits["max_value_bytes"].as<size_t>(), kMaxValueBytes);
  EXPECT_EQ(limits["max_members_reply"].as<size_t>(), kMaxMembersReply);
  EXPECT_EQ(limits["max_chunk_bytes"].as<size_t>(), kMaxChunkBytes);
}

TEST_F(ProtocolSchema, ErrorCodes) {
  std::set<std::string> yaml_codes, cpp_codes;
  for (const auto& kv : schema_["errors"]) yaml_codes.insert(kv.first.as<std::string>());
  for (ErrorCode c : AllErrorCodes()) cpp_codes.insert(std::string(ErrorCodeName(c)));
  EXPECT_EQ(yaml_codes, cpp_codes);
}

TEST_F(ProtocolSchema, EnvelopeFields) {
  EXPECT_EQ(RenderYamlFields(schema_["envelope_fields"]), RenderFields(EnvelopeFields()));
}

TEST_F(ProtocolSchema, EveryStructMatches) {
  size_t yaml_count = 0;
  for (const auto& kv : schema_["structs"]) {
    ++yaml_count;
    const std::string name = kv.first.as<std::string>();
    const StructSpec* found = nullptr;
    for (const auto& s : AllStructs()) {
      if (s.name == name) found = &s;
    }
    ASSERT_NE(nullptr, found) << name << " is in the schema but not in the generated table";
    EXPECT_EQ(RenderYamlFields(kv.second), RenderFields(found->fields)) << name;
  }
  EXPECT_EQ(yaml_count, AllStructs().size());
}

// Struct-typed fields point at the same field list as the struct of that name.
TEST_F(ProtocolSchema, StructFieldsUseTheirStruct) {
  for (const auto& m : AllMessages()) {
    for (const auto& f : m.fields) {
      if (f.type != FieldType::kStruct && f.type != FieldType::kListStruct) continue;
      bool matched = false;
      for (const auto& s : AllStructs())
        matched |= s.name == f.struct_name && s.fields.data() == f.nested.data();
      EXPECT_TRUE(matched) << m.name << "." << f.name;
    }
  }
}

TEST_F(ProtocolSchema, EveryMessageMatches) {
  std::map<std::string, const MessageSpec*> cpp;
  for (const auto& m : AllMessages()) cpp[std::string(m.name)] = &m;
  size_t yaml_count = 0;
  for (const auto& kv : schema_["messages"]) {
    ++yaml_count;
    const std::string name = kv.first.as<std::string>();
    ASSERT_TRUE(cpp.count(name)) << name << " is in the schema but not in the generated table";
    const MessageSpec& spec = *cpp[name];
    EXPECT_EQ(kv.second["code"].as<int>(), static_cast<int>(spec.type)) << name;
    EXPECT_EQ(RenderYamlFields(kv.second["fields"]), RenderFields(spec.fields)) << name;
    EXPECT_EQ(kv.second["direction"].as<std::string>(), spec.direction) << name;
    EXPECT_EQ(kv.second["permission"].as<std::string>(), PermissionName(spec.permission)) << name;
    EXPECT_EQ(kv.second["writes"].as<bool>(), spec.writes) << name;
    EXPECT_EQ(static_cast<bool>(kv.second["blobs"]), spec.has_blobs) << name;
    if (kv.second["reply"]) {
      ASSERT_TRUE(spec.reply.has_value()) << name;
      EXPECT_EQ(kv.second["reply"].as<std::string>(), NameOf(*spec.reply)) << name;
    } else {
      EXPECT_FALSE(spec.reply.has_value()) << name;
    }
  }
  EXPECT_EQ(yaml_count, AllMessages().size());
}

// What the store's IsWrite and the coming access control read: the permissions the issue asked for.
TEST_F(ProtocolSchema, PermissionsOfKeyMessages) {
  auto perm = [](MsgType t) { return std::string(PermissionName(SpecOf(t).permission)); };
  EXPECT_EQ("submit", perm(MsgType::kJobSubmit));
  EXPECT_EQ("operate", perm(MsgType::kJobStop));
  EXPECT_EQ("operate", perm(MsgType::kDagCancel));
  EXPECT_EQ("operate", perm(MsgType::kGateDecide));
  EXPECT_EQ("operate", perm(MsgType::kWorkerStop));
  EXPECT_EQ("operate", perm(MsgType::kWorkerAdd));
  EXPECT_EQ("operate", perm(MsgType::kArtifactDelete));
  EXPECT_EQ("submit", perm(MsgType::kScheduleAdd));
  EXPECT_EQ("submit", perm(MsgType::kArtifactChunk));
  EXPECT_EQ("read", perm(MsgType::kJobList));
  EXPECT_EQ("read", perm(MsgType::kStoreGet));
  EXPECT_EQ("submit", perm(MsgType::kStorePut));
  EXPECT_EQ("worker", perm(MsgType::kJobDone));
  EXPECT_EQ("none", perm(MsgType::kJobInfo));
  for (const MessageSpec& m : AllMessages()) {
    // A reply or an event never needs a permission, and only requests write.
    EXPECT_TRUE(m.permission != Permission::kNone || !m.writes) << m.name;
  }
}

}  // namespace
}  // namespace titan::wire
