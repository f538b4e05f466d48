// Frames <-> Message with validation against the generated schema table (schemas/generated/protocol.h).
#include "schemas/cpp/codec.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>

namespace titan::wire {
namespace {

bool ValidateMap(std::span<const FieldSpec> specs, const Map& map, const std::string& where,
                 std::string* reason);

bool TypeMatches(const Datum& d, const FieldSpec& f, const std::string& where, std::string* why);

// True when `d` is a list whose every item has the element type of list field `f`.
bool ListMatches(const Datum& d, const FieldSpec& f, const std::string& where, std::string* why) {
  const auto* list = std::get_if<List>(&d.v);
  if (list == nullptr) return false;
  FieldSpec elem = f;
  elem.type = f.type == FieldType::kListStr     ? FieldType::kStr
              : f.type == FieldType::kListValue ? FieldType::kValue
                                                : FieldType::kStruct;
  for (size_t i = 0; i < list->size(); ++i) {
    std::string elem_why;
    if (!TypeMatches((*list)[i], elem, where + "[" + std::to_string(i) + "]", &elem_why)) {
      *why = elem_why.empty() ? "item " + std::to_string(i) + " must be " + FieldTypeName(elem) : elem_why;
      return false;
    }
  }
  return true;
}

// True when `d` has the type of `f`; otherwise `why` may say more than "must be <type>".
bool TypeMatches(const Datum& d, const FieldSpec& f, const std::string& where, std::string* why) {
  switch (f.type) {
    case FieldType::kStr:
      if (!d.is_text()) return false;
      if (!IsValidUtf8(d.bytes())) {
        *why = "is a str that is not valid UTF-8";
        return false;
      }
      return true;
    case FieldType::kBin:
      return d.is_bytes();
    case FieldType::kValue:
      if (d.is_text() && !IsValidUtf8(d.bytes())) {
        *why = "is a str that is not valid UTF-8 (send binary data as bin)";
        return false;
      }
      return d.is_value();
    case FieldType::kInt:
      return std::holds_alternative<int64_t>(d.v);
    case FieldType::kBool:
      return std::holds_alternative<bool>(d.v);
    case FieldType::kMap:
      return std::holds_alternative<Map>(d.v);
    case FieldType::kStruct: {
      const auto* map = std::get_if<Map>(&d.v);
      return map != nullptr && ValidateMap(f.nested, *map, where, why);
    }
    case FieldType::kListValue:
    case FieldType::kListStr:
    case FieldType::kListStruct:
      return ListMatches(d, f, where, why);
  }
  return false;
}

// Checks `map` against `specs`; `where` names the enclosing message or field path for the reason.
bool ValidateMap(std::span<const FieldSpec> specs, const Map& map, const std::string& where,
                 std::string* reason) {
  for (const FieldSpec& f : specs) {
    const Datum* d = nullptr;
    for (const auto& [k, v] : map) {
      if (k == f.name) d = &v;
    }
    if (d == nullptr || d->is_nil()) {
      if (f.optional) continue;
      *reason = where + " needs field '" + std::string(f.name) + "' (" + FieldTypeName(f) + ")";
      return false;
    }
    const std::string path = where + "." + std::string(f.name);
    std::string why;
    if (!TypeMatches(*d, f, path, &why)) {
      if (why.empty()) why = "must be " + FieldTypeName(f);
      // Nested failures already carry their full path.
      *reason = why.find(" needs field ") != std::string::npos || why.rfind(where, 0) == 0
                    ? why
                    : where + " field '" + std::string(f.name) + "' " + why;
      return false;
    }
  }
  return true;
}

bool ValidateFields(std::span<const FieldSpec> specs, const Message& msg, std::string* reason) {
  return ValidateMap(specs, msg.body, std::string(NameOf(msg.type)), reason);
}

// The fields a map may hold: a message's own and the envelope's, or a struct's.
struct Specs {
  std::span<const FieldSpec> own;
  std::span<const FieldSpec> envelope = {};

  static Specs Of(MsgType type) { return {SpecOf(type).fields, EnvelopeFields()}; }
  // The spec of `name`, or nullptr. `*hint` is where the next field is looked for first: the maps we
  // build list their fields in schema order, which makes a whole map's lookups linear.
  const FieldSpec* Find(std::string_view name, size_t* hint) const {
    if (*hint < own.size() && own[*hint].name == name) return &own[(*hint)++];
    for (size_t i = 0; i < own.size(); ++i) {
      if (own[i].name == name) {
        *hint = i + 1;
        return &own[i];
      }
    }
    return FindFieldSpec(envelope, name);
  }
};

// Calls fn(map, i) for the struct maps a struct-typed datum holds: itself (i = -1), or each element.
template <class D, class Fn>  // D: Datum or const Datum
void ForEachStructMap(const FieldSpec& f, D& d, Fn fn) {
  if (f.type == FieldType::kStruct) {
    if (auto* m = std::get_if<Map>(&d.v)) fn(*m, -1);
  } else if (f.type == FieldType::kListStruct) {
    if (auto* list = std::get_if<List>(&d.v)) {
      for (size_t i = 0; i < list->size(); ++i) {
        if (auto* m = std::get_if<Map>(&(*list)[i].v)) fn(*m, static_cast<int64_t>(i));
      }
    }
  }
}

// True when `map` (or a struct inside it) has a key `specs` lacks: *field is that key and *path the
// structs leading to it (".jobs[0]"). Paths are built only for the failure: this runs on every Encode.
bool FindUnknown(const Map& map, const Specs& specs, std::string* path, std::string* field) {
  size_t hint = 0;
  for (const auto& [name, value] : map) {
    const FieldSpec* f = specs.Find(name, &hint);
    if (f == nullptr) {
      *field = name;
      return true;
    }
    bool found = false;
    ForEachStructMap(*f, value, [&](const Map& m, int64_t i) {
      if (found || !FindUnknown(m, Specs{f->nested}, path, field)) return;
      *path = "." + name + (i < 0 ? "" : "[" + std::to_string(i) + "]") + *path;
      found = true;
    });
    if (found) return true;
  }
  return false;
}

// Drops the keys of `map` (and of the structs inside it) that `specs` lacks: a peer's unknown fields are
// ignored (room to grow within a version), so only schema fields reach our code.
void DropUnknown(Map* map, const Specs& specs) {
  size_t hint = 0;
  std::erase_if(*map, [&](const auto& kv) { return specs.Find(kv.first, &hint) == nullptr; });
  hint = 0;
  for (auto& [name, value] : *map) {
    const FieldSpec* f = specs.Find(name, &hint);
    ForEachStructMap(*f, value, [&](Map& m, int64_t) { DropUnknown(&m, Specs{f->nested}); });
  }
}

void EncodeFields(std::span<const FieldSpec> specs, const Message& msg, Map* out) {
  for (const FieldSpec& f : specs) {
    const Datum* d = msg.Find(f.name);
    if (d != nullptr && !d->is_nil()) out->emplace_back(std::string(f.name), *d);
  }
}

}  // namespace

const Datum* Message::Find(std::string_view name) const {
  for (const auto& [k, v] : body) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::string_view Message::Bytes(std::string_view name) const {
  const Datum* d = Find(name);
  return d ? d->bytes() : std::string_view{};
}

int64_t Message::Int(std::string_view name, int64_t dflt) const {
  const Datum* d = Find(name);
  const auto* i = d ? std::get_if<int64_t>(&d->v) : nullptr;
  return i ? *i : dflt;
}

bool Message::Bool(std::string_view name, bool dflt) const {
  const Datum* d = Find(name);
  const auto* b = d ? std::get_if<bool>(&d->v) : nullptr;
  return b ? *b : dflt;
}

bool Message::Has(std::string_view name) const {
  const Datum* d = Find(name);
  return d != nullptr && !d->is_nil();
}

Message& Message::Set(std::string_view name, Datum value) {
#ifndef NDEBUG
  size_t hint = 0;
  if (Specs::Of(type).Find(name, &hint) == nullptr) {
    std::fprintf(stderr, "titan: bug: %s has no field '%.*s' in schemas/protocol.yaml\n", NameOf(type).data(),
                 static_cast<int>(name.size()), name.data());
    std::abort();
  }
#endif
  for (auto& [k, v] : body) {
    if (k == name) {
      v = std::move(value);
      return *this;
    }
  }
  body.emplace_back(std::string(name), std::move(value));
  return *this;
}

Message MakeMessage(MsgType type) {
  Message m;
  m.type = type;
  return m;
}

Message MakeError(ErrorCode code, std::string reason) {
  Message m = MakeMessage(MsgType::kError);
  m.Set("code", Text{std::string(ErrorCodeName(code))});
  m.Set("reason", Text{std::move(reason)});
  return m;
}

ErrorCode ErrorCodeOf(Status::Code code) {
  switch (code) {
    case Status::Code::kMalformed:
      return ErrorCode::kMalformed;
    case Status::Code::kWrongVersion:
      return ErrorCode::kWrongVersion;
    case Status::Code::kUnknownType:
      return ErrorCode::kUnknownType;
    case Status::Code::kTooLarge:
      return ErrorCode::kTooLarge;
    case Status::Code::kWrongType:
      return ErrorCode::kWrongType;
    case Status::Code::kInvalid:
      return ErrorCode::kInvalid;
    case Status::Code::kNotFound:
      return ErrorCode::kNotFound;
    case Status::Code::kUnavailable:
      return ErrorCode::kUnavailable;
    case Status::Code::kForbidden:
      return ErrorCode::kForbidden;
    case Status::Code::kOk:  // not an error: a caller's bug, reported as one
    case Status::Code::kInternal:
      return ErrorCode::kInternal;
  }
  return ErrorCode::kInternal;
}

Message MakeError(const Status& failed) { return MakeError(ErrorCodeOf(failed.code()), failed.message()); }

Status StatusOf(const Message& reply) {
  if (reply.type != MsgType::kError) return Status::Ok();
  const std::string_view name = reply.Bytes("code");
  for (int c = static_cast<int>(Status::Code::kMalformed); c <= static_cast<int>(Status::Code::kForbidden);
       ++c) {
    const auto code = static_cast<Status::Code>(c);
    if (ErrorCodeName(ErrorCodeOf(code)) == name) {
      const std::string_view reason = reply.Bytes("reason");
      return Status(code, std::string(reason.empty() ? name : reason));
    }
  }
  return Status(Status::Code::kInternal, std::string(name) + ": " + std::string(reply.Bytes("reason")));
}

ErrorCode Decoded::error_code() const {
  switch (status) {
    case DecodeStatus::kWrongVersion:
      return ErrorCode::kWrongVersion;
    case DecodeStatus::kUnknownType:
      return ErrorCode::kUnknownType;
    case DecodeStatus::kTooLarge:
      return ErrorCode::kTooLarge;
    default:
      return ErrorCode::kMalformed;
  }
}

namespace {

// The frames around the body: count, TITAN signature and version, a 1-byte type, the body's size.
// kOk, or the status and reason of the first that is wrong.
std::pair<DecodeStatus, std::string> CheckFrames(std::span<const std::string_view> frames) {
  if (frames.size() < 3) {
    return {DecodeStatus::kMalformed, "a message needs at least 3 frames (signature, type, body); got " +
                                          std::to_string(frames.size())};
  }
  if (frames.size() > kMaxFrames) {
    return {DecodeStatus::kTooLarge,
            std::to_string(frames.size()) + " frames; the limit is " + std::to_string(kMaxFrames)};
  }
  const std::string_view sig = frames[0];
  if (sig.size() != kSignature.size() || sig.substr(0, 5) != kProtocolName) {
    return {DecodeStatus::kMalformed, "the first frame is not the TITAN signature; is this a Titan client?"};
  }
  if (sig != kSignature) {
    return {DecodeStatus::kWrongVersion, "protocol version " + std::to_string(static_cast<uint8_t>(sig[5])) +
                                             " is not spoken here; this node speaks TITAN version " +
                                             std::to_string(kProtocolVersion)};
  }
  if (frames[1].size() != 1) return {DecodeStatus::kMalformed, "the type frame must be exactly 1 byte"};
  if (frames[2].size() > kMaxBodyBytes) {
    return {DecodeStatus::kTooLarge, "body of " + std::to_string(frames[2].size()) + " bytes; the limit is " +
                                         std::to_string(kMaxBodyBytes)};
  }
  return {DecodeStatus::kOk, ""};
}

}  // namespace

Decoded Decode(std::span<const std::string_view> frames) {
  Decoded out;
  auto fail = [&](DecodeStatus s, std::string reason) {
    out.status = s;
    out.reason = std::move(reason);
    return out;
  };
  if (auto [status, reason] = CheckFrames(frames); status != DecodeStatus::kOk) return fail(status, reason);
  Datum root;
  std::string error;
  if (!DecodeMsgpack(frames[2], kMaxMembersReply * 2, &root, &error))
    return fail(DecodeStatus::kMalformed, error);
  auto* map = std::get_if<Map>(&root.v);
  if (map == nullptr) return fail(DecodeStatus::kMalformed, "the body must be a msgpack map");
  for (const auto& [k, v] : *map) {
    if (k == "rid") {
      if (const auto* i = std::get_if<int64_t>(&v.v)) out.rid = *i;
    }
  }
  const uint8_t code = static_cast<uint8_t>(frames[1][0]);
  const MessageSpec* spec = FindMessage(code);
  if (spec == nullptr) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", code);
    return fail(DecodeStatus::kUnknownType, std::string("message type ") + hex + " is unknown to this node");
  }
  out.msg.type = spec->type;
  out.msg.body = std::move(*map);
  for (size_t i = 3; i < frames.size(); ++i) out.msg.blobs.emplace_back(frames[i]);
  if (!Validate(out.msg, &error)) return fail(DecodeStatus::kMalformed, error);
  DropUnknown(&out.msg.body, Specs::Of(spec->type));
  out.status = DecodeStatus::kOk;
  return out;
}

Decoded Decode(const std::vector<std::string>& frames) {
  std::vector<std::string_view> views(frames.begin(), frames.end());
  return Decode(std::span<const std::string_view>(views));
}

bool Validate(const Message& msg, std::string* reason) {
  return ValidateFields(SpecOf(msg.type).fields, msg, reason) &&
         ValidateFields(EnvelopeFields(), msg, reason);
}

Status CheckFieldNames(const Message& msg) {
  std::string path, field;
  if (!FindUnknown(msg.body, Specs::Of(msg.type), &path, &field)) return Status::Ok();
  return Status(Status::Code::kInternal, std::string(NameOf(msg.type)) + path + " has no field '" + field +
                                             "' in schemas/protocol.yaml (a misspelled field name?)");
}

std::vector<std::string> Encode(const Message& msg) {
  if (Status bad = CheckFieldNames(msg); !bad.ok()) {
    std::fprintf(stderr, "titan: bug: %s\n", bad.message().c_str());
    assert(false && "a message holds a field its schema lacks (see the line above)");
    Message error = MakeError(ErrorCode::kInternal, "bug in the sender: " + bad.message());
    if (const Datum* rid = msg.Find("rid"); rid != nullptr && !rid->is_nil()) error.Set("rid", *rid);
    return Encode(error);
  }
  Map fields;
  EncodeFields(SpecOf(msg.type).fields, msg, &fields);
  EncodeFields(EnvelopeFields(), msg, &fields);
  std::vector<std::string> frames;
  frames.reserve(3 + msg.blobs.size());
  frames.emplace_back(kSignature);
  frames.emplace_back(1, static_cast<char>(msg.type));
  std::string body;
  EncodeMsgpack(Datum(std::move(fields)), &body);
  frames.push_back(std::move(body));
  for (const auto& b : msg.blobs) frames.push_back(b);
  return frames;
}

Datum ValueDatum(std::string bytes, bool text) {
  if (text) return Datum(Text{std::move(bytes)});
  return Datum(wire::Bytes{std::move(bytes)});
}

}  // namespace titan::wire
