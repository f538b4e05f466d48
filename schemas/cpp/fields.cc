// The kinds' conversions and FieldReader/FieldWriter (fields.h).
#include "schemas/cpp/fields.h"

namespace titan::wire {
namespace {

Status WrongType(const std::string& path, std::string_view type) {
  return Status(Status::Code::kMalformed, path + " must be " + std::string(type));
}

}  // namespace

namespace kind {

Status Str::Read(const Datum& d, const std::string& path, T* out) {
  if (!d.is_text()) return WrongType(path, Name());
  *out = std::string(d.bytes());
  return Status::Ok();
}

Status Bin::Read(const Datum& d, const std::string& path, T* out) {
  if (!d.is_bytes()) return WrongType(path, Name());
  *out = std::string(d.bytes());
  return Status::Ok();
}

Status Value::Read(const Datum& d, const std::string& path, T* out) {
  if (!d.is_value()) return WrongType(path, Name());
  *out = wire::Value{std::string(d.bytes()), d.is_text()};
  return Status::Ok();
}

Status Int::Read(const Datum& d, const std::string& path, T* out) {
  const auto* i = std::get_if<int64_t>(&d.v);
  if (i == nullptr) return WrongType(path, Name());
  *out = *i;
  return Status::Ok();
}

Status Bool::Read(const Datum& d, const std::string& path, T* out) {
  const auto* b = std::get_if<bool>(&d.v);
  if (b == nullptr) return WrongType(path, Name());
  *out = *b;
  return Status::Ok();
}

Status Map::Read(const Datum& d, const std::string& path, T* out) {
  const auto* m = std::get_if<wire::Map>(&d.v);
  if (m == nullptr) return WrongType(path, Name());
  *out = *m;
  return Status::Ok();
}

}  // namespace kind

FieldReader FieldReader::ForStruct(const Datum& d, const std::string& where) {
  const auto* map = std::get_if<wire::Map>(&d.v);
  FieldReader r(map, where);
  if (map == nullptr) r.Fail(where + " must be a map");
  return r;
}

FieldReader FieldReader::ForMessage(const Message& m, MsgType expected) {
  FieldReader r(&m.body, std::string(NameOf(expected)));
  if (m.type == expected) return r;
  if (m.type == MsgType::kError) {
    r.status_ = StatusOf(m);
  } else {
    r.Fail("expected " + std::string(NameOf(expected)) + ", got " + std::string(NameOf(m.type)));
  }
  return r;
}

const Datum* FieldReader::Lookup(std::string_view name) const {
  if (!status_.ok()) return nullptr;
  const Datum* d = FindField(*map_, name);
  return d;
}

Message FieldWriter::TakeMessage(MsgType type, std::vector<std::string> blobs) {
  Message m = MakeMessage(type);
  m.body = std::move(map_);
  m.blobs = std::move(blobs);
  return m;
}

}  // namespace titan::wire
