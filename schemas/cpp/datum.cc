// Datum <-> msgpack, using msgpack-c for both directions.
#include "schemas/cpp/datum.h"

#include <cstdio>
#include <msgpack.hpp>

namespace titan::wire {
namespace {

constexpr int kMaxDepth = 32;

struct StringWriter {
  std::string* out;
  void write(const char* data, size_t n) { out->append(data, n); }
};

void Pack(msgpack::packer<StringWriter>& pk, const Datum& d) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          pk.pack_nil();
        } else if constexpr (std::is_same_v<T, bool>) {
          x ? pk.pack_true() : pk.pack_false();
        } else if constexpr (std::is_same_v<T, int64_t>) {
          pk.pack_int64(x);  // msgpack-c picks the smallest encoding
        } else if constexpr (std::is_same_v<T, double>) {
          pk.pack_double(x);
        } else if constexpr (std::is_same_v<T, Text>) {
          pk.pack_str(static_cast<uint32_t>(x.s.size()));
          pk.pack_str_body(x.s.data(), static_cast<uint32_t>(x.s.size()));
        } else if constexpr (std::is_same_v<T, Bytes>) {
          pk.pack_bin(static_cast<uint32_t>(x.s.size()));
          pk.pack_bin_body(x.s.data(), static_cast<uint32_t>(x.s.size()));
        } else if constexpr (std::is_same_v<T, List>) {
          pk.pack_array(static_cast<uint32_t>(x.size()));
          for (const auto& e : x) Pack(pk, e);
        } else {
          pk.pack_map(static_cast<uint32_t>(x.size()));
          for (const auto& [k, v] : x) {
            pk.pack_str(static_cast<uint32_t>(k.size()));
            pk.pack_str_body(k.data(), static_cast<uint32_t>(k.size()));
            Pack(pk, v);
          }
        }
      },
      d.v);
}

bool Convert(const msgpack::object& o, int depth, Datum* out, std::string* error);

bool ConvertArray(const msgpack::object& o, int depth, Datum* out, std::string* error) {
  List list;
  list.resize(o.via.array.size);
  for (uint32_t i = 0; i < o.via.array.size; ++i) {
    if (!Convert(o.via.array.ptr[i], depth + 1, &list[i], error)) return false;
  }
  out->v = std::move(list);
  return true;
}

// Keys must be strings and appear once (a linear scan: Titan's maps are small).
bool ConvertMap(const msgpack::object& o, int depth, Datum* out, std::string* error) {
  Map map;
  map.reserve(o.via.map.size);
  for (uint32_t i = 0; i < o.via.map.size; ++i) {
    const auto& kv = o.via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR) {
      *error = "map key is not a string";
      return false;
    }
    std::string key(kv.key.via.str.ptr, kv.key.via.str.size);
    for (const auto& [k, unused] : map) {
      if (k == key) {
        *error = "map key '" + key + "' appears twice";
        return false;
      }
    }
    Datum value;
    if (!Convert(kv.val, depth + 1, &value, error)) return false;
    map.emplace_back(std::move(key), std::move(value));
  }
  out->v = std::move(map);
  return true;
}

// A scalar (nil, bool, integer, float, str, bin); false with `error` for anything else.
bool ConvertScalar(const msgpack::object& o, Datum* out, std::string* error) {
  switch (o.type) {
    case msgpack::type::NIL:
      out->v = std::monostate{};
      return true;
    case msgpack::type::BOOLEAN:
      out->v = o.via.boolean;
      return true;
    case msgpack::type::POSITIVE_INTEGER:
      if (o.via.u64 > static_cast<uint64_t>(INT64_MAX)) {
        *error = "integer above the signed 64-bit range";
        return false;
      }
      out->v = static_cast<int64_t>(o.via.u64);
      return true;
    case msgpack::type::NEGATIVE_INTEGER:
      out->v = o.via.i64;
      return true;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      out->v = o.via.f64;
      return true;
    case msgpack::type::STR:
      out->v = Text{std::string(o.via.str.ptr, o.via.str.size)};
      return true;
    case msgpack::type::BIN:
      out->v = Bytes{std::string(o.via.bin.ptr, o.via.bin.size)};
      return true;
    default:
      *error = "msgpack extension types are not used by Titan";
      return false;
  }
}

bool Convert(const msgpack::object& o, int depth, Datum* out, std::string* error) {
  if (depth > kMaxDepth) {
    *error = "msgpack nesting deeper than 32 levels";
    return false;
  }
  if (o.type == msgpack::type::ARRAY) return ConvertArray(o, depth, out, error);
  if (o.type == msgpack::type::MAP) return ConvertMap(o, depth, out, error);
  return ConvertScalar(o, out, error);
}

void RenderBytes(std::string_view s, std::string* out) {
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out->push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out->append(buf);
    }
  }
}

}  // namespace

std::string_view Datum::bytes() const {
  if (const auto* t = std::get_if<Text>(&v)) return t->s;
  if (const auto* b = std::get_if<Bytes>(&v)) return b->s;
  return {};
}

const Datum* FindField(const Map& map, std::string_view name) {
  for (const auto& [k, v] : map) {
    if (k == name) return v.is_nil() ? nullptr : &v;
  }
  return nullptr;
}

std::string FieldStr(const Map& map, std::string_view name) {
  const Datum* d = FindField(map, name);
  return d ? std::string(d->bytes()) : std::string();
}

std::optional<int64_t> FieldInt(const Map& map, std::string_view name) {
  const Datum* d = FindField(map, name);
  const auto* i = d ? std::get_if<int64_t>(&d->v) : nullptr;
  return i ? std::optional(*i) : std::nullopt;
}

std::string Render(const Datum& d) {
  std::string out;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          out = "nil";
        } else if constexpr (std::is_same_v<T, bool>) {
          out = x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int64_t>) {
          out = std::to_string(x);
        } else if constexpr (std::is_same_v<T, double>) {
          out = std::to_string(x);
        } else if constexpr (std::is_same_v<T, Text>) {
          out = "\"";
          RenderBytes(x.s, &out);
          out += "\"";
        } else if constexpr (std::is_same_v<T, Bytes>) {
          out = "b\"";
          RenderBytes(x.s, &out);
          out += "\"";
        } else if constexpr (std::is_same_v<T, List>) {
          out = "[";
          for (size_t i = 0; i < x.size(); ++i) out += (i ? ", " : "") + Render(x[i]);
          out += "]";
        } else {
          out = "{";
          for (size_t i = 0; i < x.size(); ++i)
            out += (i ? ", " : "") + x[i].first + ": " + Render(x[i].second);
          out += "}";
        }
      },
      d.v);
  return out;
}

void EncodeMsgpack(const Datum& d, std::string* out) {
  StringWriter w{out};
  msgpack::packer<StringWriter> pk(w);
  Pack(pk, d);
}

bool DecodeMsgpack(std::string_view data, size_t max_items, Datum* out, std::string* error) {
  try {
    size_t offset = 0;
    msgpack::unpack_limit limit(max_items, max_items, data.size(), data.size(), data.size(), kMaxDepth);
    msgpack::object_handle oh = msgpack::unpack(data.data(), data.size(), offset, nullptr, nullptr, limit);
    if (offset != data.size()) {
      *error = std::to_string(data.size() - offset) + " trailing bytes after the msgpack body";
      return false;
    }
    return Convert(oh.get(), 0, out, error);
  } catch (const msgpack::insufficient_bytes&) {
    *error = "msgpack body is truncated";
  } catch (const std::exception& e) {
    *error = std::string("msgpack body is malformed: ") + e.what();
  }
  return false;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace titan::wire
