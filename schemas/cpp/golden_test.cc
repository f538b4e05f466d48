// Golden vectors (schemas/golden/vectors.yaml, made by an independent msgpack implementation):
// valid ones decode to the listed fields and re-encode to the same bytes; invalid ones get their code.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "schemas/cpp/codec.h"
#include "schemas/cpp/test_paths.h"
#include "schemas/generated/messages.h"

namespace titan::wire {
namespace {

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// The expected-field notation of vectors.yaml: {str: ..} / {bin: hex} / scalars / lists / structs.
Datum Expected(const YAML::Node& n) {
  if (n.IsNull()) return Datum();
  if (n.IsMap() && n.size() == 1 && n["str"]) return Datum(Text{n["str"].as<std::string>()});
  if (n.IsMap() && n.size() == 1 && n["bin"]) return Datum(Bytes{FromHex(n["bin"].as<std::string>())});
  if (n.IsMap()) {
    Map m;
    for (const auto& kv : n) m.emplace_back(kv.first.as<std::string>(), Expected(kv.second));
    return Datum(std::move(m));
  }
  if (n.IsSequence()) {
    List list;
    for (const auto& e : n) list.push_back(Expected(e));
    return Datum(std::move(list));
  }
  const std::string s = n.Scalar();
  if (s == "true" || s == "false") return Datum(s == "true");
  return Datum(n.as<int64_t>());
}

TEST(Golden, EveryVector) {
  const YAML::Node doc = YAML::LoadFile(testing::SchemaPath("golden/vectors.yaml"));
  int checked = 0;
  for (const auto& v : doc["vectors"]) {
    const std::string name = v["name"].as<std::string>();
    std::vector<std::string> frames;
    for (const auto& f : v["frames"]) frames.push_back(FromHex(f.as<std::string>()));
    const Decoded d = Decode(frames);
    const std::string expect = v["expect"].as<std::string>();
    if (expect == "ok") {
      ASSERT_EQ(DecodeStatus::kOk, d.status) << name << ": " << d.reason;
      EXPECT_EQ(v["type"].as<std::string>(), std::string(NameOf(d.msg.type))) << name;
      Message want = MakeMessage(d.msg.type);
      for (const auto& kv : v["fields"]) want.Set(kv.first.as<std::string>(), Expected(kv.second));
      for (const auto& b : v["blobs"]) want.blobs.push_back(FromHex(b.as<std::string>()));
      EXPECT_EQ(Render(Datum(want.body)), Render(Datum(d.msg.body))) << name;
      EXPECT_EQ(frames, Encode(want)) << name << ": re-encoding differs from the golden bytes";
    } else {
      EXPECT_NE(DecodeStatus::kOk, d.status) << name;
      EXPECT_EQ(expect, std::string(ErrorCodeName(d.error_code()))) << name << ": " << d.reason;
      EXPECT_FALSE(d.reason.empty()) << name;
    }
    ++checked;
  }
  EXPECT_GE(checked, 100);
}

TEST(Golden, EveryMessageTypeHasAValidVector) {
  const YAML::Node doc = YAML::LoadFile(testing::SchemaPath("golden/vectors.yaml"));
  std::set<std::string> covered;
  for (const auto& v : doc["vectors"]) {
    if (v["expect"].as<std::string>() == "ok") covered.insert(v["type"].as<std::string>());
  }
  for (const MessageSpec& m : AllMessages()) {
    EXPECT_TRUE(covered.count(std::string(m.name)))
        << m.name << " has no golden vector: add one in make_vectors.py";
  }
}

// The typed structs read every valid vector and write it back to the same bytes.
TEST(Golden, EveryValidVectorRoundTripsThroughItsStruct) {
  const YAML::Node doc = YAML::LoadFile(testing::SchemaPath("golden/vectors.yaml"));
  for (const auto& v : doc["vectors"]) {
    if (v["expect"].as<std::string>() != "ok") continue;
    std::vector<std::string> frames;
    for (const auto& f : v["frames"]) frames.push_back(FromHex(f.as<std::string>()));
    const Decoded d = Decode(frames);
    ASSERT_EQ(DecodeStatus::kOk, d.status) << d.reason;
    VisitMessageType(d.msg.type, [&](auto type) {
      using T = typename decltype(type)::type;
      Result<T> typed = T::From(d.msg);
      ASSERT_TRUE(typed.ok()) << v["name"].as<std::string>() << ": " << typed.message();
      Message back = typed.value().ToMessage();
      if (d.rid) back.Set("rid", Datum(*d.rid));
      EXPECT_EQ(frames, Encode(back)) << v["name"].as<std::string>();
    });
  }
}

}  // namespace
}  // namespace titan::wire
