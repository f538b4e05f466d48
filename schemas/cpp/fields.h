// Typed access to the fields of a message body or struct map, for the generated structs of
// schemas/generated/messages.h. A kind per schema type converts between a Datum and a member;
// FieldReader copies fields into members and keeps the first problem as a MALFORMED Status (never a
// crash, whatever the map holds); FieldWriter builds a map in schema order.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "schemas/cpp/codec.h"

namespace titan::wire {
namespace kind {

// Each kind has T (the member type), Name() (the type as the schema spells it), Read (a Datum of
// another type is MALFORMED, naming `path`) and Write.
struct Str {
  using T = std::string;
  static std::string Name() { return "str"; }
  static Status Read(const Datum& d, const std::string& path, T* out);
  static Datum Write(T v) { return Datum(Text{std::move(v)}); }
};
struct Bin {
  using T = std::string;
  static std::string Name() { return "bin"; }
  static Status Read(const Datum& d, const std::string& path, T* out);
  static Datum Write(T v) { return Datum(Bytes{std::move(v)}); }
};
struct Value {
  using T = wire::Value;
  static std::string Name() { return "value"; }
  static Status Read(const Datum& d, const std::string& path, T* out);
  static Datum Write(T v) { return ValueDatum(std::move(v.bytes), v.text); }
};
struct Int {
  using T = int64_t;
  static std::string Name() { return "int"; }
  static Status Read(const Datum& d, const std::string& path, T* out);
  static Datum Write(T v) { return Datum(v); }
};
struct Bool {
  using T = bool;
  static std::string Name() { return "bool"; }
  static Status Read(const Datum& d, const std::string& path, T* out);
  static Datum Write(T v) { return Datum(v); }
};
struct Map {
  using T = wire::Map;
  static std::string Name() { return "map"; }
  static Status Read(const Datum& d, const std::string& path, T* out);
  static Datum Write(T v) { return Datum(std::move(v)); }
};

// A generated struct S (one with S::From(const Datum&, where) and ToDatum()).
template <class S>
struct Struct {
  using T = S;
  static std::string Name() { return std::string(S::kSchemaName); }
  static Status Read(const Datum& d, const std::string& path, T* out) {
    Result<S> r = S::From(d, path);
    if (!r.ok()) return r.status();
    *out = std::move(r).value();
    return Status::Ok();
  }
  static Datum Write(const T& v) { return v.ToDatum(); }
  static Datum Write(T&& v) { return std::move(v).ToDatum(); }
};

template <class K>
struct List {
  using T = std::vector<typename K::T>;
  static std::string Name() { return "list<" + K::Name() + ">"; }
  static Status Read(const Datum& d, const std::string& path, T* out) {
    const auto* list = std::get_if<wire::List>(&d.v);
    if (list == nullptr) return Status(Status::Code::kMalformed, path + " must be " + Name());
    out->clear();
    out->reserve(list->size());
    for (size_t i = 0; i < list->size(); ++i) {
      out->emplace_back();
      Status s = K::Read((*list)[i], path + "[" + std::to_string(i) + "]", &out->back());
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }
  static Datum Write(const T& v) {
    wire::List out;
    out.reserve(v.size());
    for (const auto& e : v) out.push_back(K::Write(e));
    return Datum(std::move(out));
  }
  static Datum Write(T&& v) {
    wire::List out;
    out.reserve(v.size());
    for (auto& e : v) out.push_back(K::Write(std::move(e)));
    return Datum(std::move(out));
  }
};

}  // namespace kind

// Copies the fields of one map into typed members. After the first problem later reads do nothing.
class FieldReader {
 public:
  // A struct's map; `where` names it in errors ("JobSpec", "JOB_SUBMIT.jobs[1]").
  static FieldReader ForStruct(const Datum& d, const std::string& where);
  // A message's body. An ERROR (when `expected` is another type) gives the Status it carries; a message
  // of another type is MALFORMED.
  static FieldReader ForMessage(const Message& m, MsgType expected);

  // A required field: absent or nil is MALFORMED.
  template <class K>
  void Read(std::string_view name, typename K::T* out) {
    const Datum* d = Lookup(name);
    if (d == nullptr) {
      if (status_.ok()) Fail(where_ + " needs field '" + std::string(name) + "' (" + K::Name() + ")");
      return;
    }
    status_ = K::Read(*d, Path(name), out);
  }
  // An optional field: absent or nil leaves `out` empty.
  template <class K>
  void Read(std::string_view name, std::optional<typename K::T>* out) {
    const Datum* d = Lookup(name);
    out->reset();
    if (d == nullptr) return;
    status_ = K::Read(*d, Path(name), &out->emplace());
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

 private:
  FieldReader(const wire::Map* map, std::string where) : map_(map), where_(std::move(where)) {}
  // The field's value when it is present, not nil, and nothing failed yet.
  const Datum* Lookup(std::string_view name) const;
  std::string Path(std::string_view name) const { return where_ + "." + std::string(name); }
  void Fail(std::string message) { status_ = Status(Status::Code::kMalformed, std::move(message)); }

  const wire::Map* map_ = nullptr;
  std::string where_;
  Status status_;
};

// Builds a map (or a message body) field by field, in the order written: the generated code writes in
// schema order. Absent optional fields are left out.
class FieldWriter {
 public:
  template <class K>
  void Write(std::string_view name, const typename K::T& v) {
    map_.emplace_back(std::string(name), K::Write(v));
  }
  template <class K>
  void Write(std::string_view name, typename K::T&& v) {
    map_.emplace_back(std::string(name), K::Write(std::move(v)));
  }
  template <class K>
  void Write(std::string_view name, const std::optional<typename K::T>& v) {
    if (v) Write<K>(name, *v);
  }
  template <class K>
  void Write(std::string_view name, std::optional<typename K::T>&& v) {
    if (v) Write<K>(name, std::move(*v));
  }

  wire::Map Take() { return std::move(map_); }
  Message TakeMessage(MsgType type, std::vector<std::string> blobs);

 private:
  wire::Map map_;
};

}  // namespace titan::wire
