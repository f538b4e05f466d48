// Datum: the dynamic value a message body is made of (nil, bool, int, float, str, bin, list, map).
// Decoded from msgpack without ever trusting the peer; encoded back minimally (smallest msgpack form).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace titan::wire {

struct Datum;

// Text and Bytes are both byte strings; they differ only in the msgpack type they travel as.
struct Text {
  std::string s;
  bool operator==(const Text&) const = default;
};
struct Bytes {
  std::string s;
  bool operator==(const Bytes&) const = default;
};
// A `value` field: bytes that travel as str (`text`) or bin, kept as whichever they were.
struct Value {
  std::string bytes;
  bool text = false;
  bool operator==(const Value&) const = default;
};
using List = std::vector<Datum>;
using Map = std::vector<std::pair<std::string, Datum>>;  // insertion-ordered, keys unique

struct Datum {
  std::variant<std::monostate, bool, int64_t, double, Text, Bytes, List, Map> v;

  Datum() = default;
  Datum(bool b) : v(b) {}
  Datum(int64_t i) : v(i) {}
  Datum(int i) : v(int64_t{i}) {}
  Datum(double d) : v(d) {}
  Datum(Text t) : v(std::move(t)) {}
  Datum(Bytes b) : v(std::move(b)) {}
  Datum(List l) : v(std::move(l)) {}
  Datum(Map m) : v(std::move(m)) {}
  bool operator==(const Datum&) const = default;

  bool is_nil() const { return std::holds_alternative<std::monostate>(v); }
  bool is_text() const { return std::holds_alternative<Text>(v); }
  bool is_bytes() const { return std::holds_alternative<Bytes>(v); }
  // True for Text or Bytes: the schema's `value` type.
  bool is_value() const { return is_text() || is_bytes(); }
  // The bytes of a Text or Bytes; empty for anything else.
  std::string_view bytes() const;
};

// Reading fields of a decoded map (a body or a struct). Peers may list fields in any order.
// The value of `name`, or nullptr when it is absent or nil.
const Datum* FindField(const Map& map, std::string_view name);
// The bytes of a str/bin field, or "" when absent.
std::string FieldStr(const Map& map, std::string_view name);
// An int field, or nullopt when absent (or not an int).
std::optional<int64_t> FieldInt(const Map& map, std::string_view name);

// A readable rendering for tests and logs: nil, true, 42, "text", b"\x00", [..], {k: v}.
std::string Render(const Datum& d);

// Appends the msgpack encoding of `d` to `out`.
void EncodeMsgpack(const Datum& d, std::string* out);

// Decodes exactly one msgpack object spanning all of `data`. Returns false and sets `error` on
// truncated, malformed or trailing bytes, depth over 32, or a container over `max_items` entries.
bool DecodeMsgpack(std::string_view data, size_t max_items, Datum* out, std::string* error);

// True when `s` is valid UTF-8 (no overlongs, no surrogates).
bool IsValidUtf8(std::string_view s);

}  // namespace titan::wire
