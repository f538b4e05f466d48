// Test helper: a value of every field type of the schema, so a test can fill any message or struct
// (schemas/cpp/codec_test.cc, messages_test.cc).
#pragma once

#include <span>
#include <string>

#include "schemas/cpp/codec.h"

namespace titan::wire::testing {

inline Datum Sample(const FieldSpec& f, bool all);

// A map with the fields of a struct: every one with `all`, else only the required ones.
inline Datum SampleStruct(std::span<const FieldSpec> fields, bool all) {
  Map m;
  for (const auto& f : fields) {
    if (all || !f.optional) m.emplace_back(std::string(f.name), Sample(f, all));
  }
  return Datum(std::move(m));
}

// A value of the field's type; `all`: optional fields of structs too. A list of structs holds one
// filled each way.
inline Datum Sample(const FieldSpec& f, bool all) {
  switch (f.type) {
    case FieldType::kStruct:
      return SampleStruct(f.nested, all);
    case FieldType::kListStruct:
      return Datum(List{SampleStruct(f.nested, all), SampleStruct(f.nested, !all)});
    case FieldType::kStr:
      return Datum(Text{"ünï"});
    case FieldType::kBin:
      return Datum(Bytes{std::string("\0\1", 2)});
    case FieldType::kValue:
      return Datum(Bytes{std::string("\xff\0v", 3)});
    case FieldType::kInt:
      return Datum(int64_t{-42});
    case FieldType::kBool:
      return Datum(true);
    case FieldType::kMap:
      return Datum(Map{{"a", Datum(1)}});
    case FieldType::kListValue:
      return Datum(List{Datum(Text{"x"}), Datum(Bytes{"y"})});
    case FieldType::kListStr:
      return Datum(List{Datum(Text{"x"})});
  }
  return Datum();
}

}  // namespace titan::wire::testing
