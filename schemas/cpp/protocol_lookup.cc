// Lookups over the generated message table (schemas/generated/protocol.h): by code, by type, by name.
#include <array>
#include <cstdlib>

#include "schemas/generated/protocol.h"

namespace titan::wire {
namespace {

// Index by code for O(1) lookup on the hot path.
struct ByCode {
  std::array<const MessageSpec*, 256> table{};
  ByCode() {
    for (const auto& m : AllMessages()) table[static_cast<uint8_t>(m.type)] = &m;
  }
};
const ByCode& Index() {
  static const ByCode index;
  return index;
}

}  // namespace

std::string FieldTypeName(const FieldSpec& f) {
  switch (f.type) {
    case FieldType::kStr:
      return "str";
    case FieldType::kBin:
      return "bin";
    case FieldType::kValue:
      return "value";
    case FieldType::kInt:
      return "int";
    case FieldType::kBool:
      return "bool";
    case FieldType::kMap:
      return "map";
    case FieldType::kListValue:
      return "list<value>";
    case FieldType::kListStr:
      return "list<str>";
    case FieldType::kStruct:
      return std::string(f.struct_name);
    case FieldType::kListStruct:
      return "list<" + std::string(f.struct_name) + ">";
  }
  std::abort();
}

const MessageSpec* FindMessage(uint8_t code) { return Index().table[code]; }

const MessageSpec& SpecOf(MsgType type) {
  const MessageSpec* spec = FindMessage(static_cast<uint8_t>(type));
  if (spec == nullptr) std::abort();  // every MsgType enumerator has a row
  return *spec;
}

std::string_view NameOf(MsgType type) { return SpecOf(type).name; }

const FieldSpec* FindFieldSpec(std::span<const FieldSpec> fields, std::string_view name) {
  for (const FieldSpec& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace titan::wire
