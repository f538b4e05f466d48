// The little msgpack a benchmark client needs (bench_util.h, namespace mp): a writer for requests it
// pre-encodes and a bounds-checked reader for the fields of replies.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tests/bench/bench_util.h"

namespace titan::bench {

namespace mp {
namespace {

void Put8(std::string* out, uint8_t tag, uint8_t v) {
  out->push_back(static_cast<char>(tag));
  out->push_back(static_cast<char>(v));
}

void PutBE(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void Header(std::string* out, size_t n, uint8_t fix, size_t fix_max, uint8_t t8, uint8_t t16, uint8_t t32) {
  if (n <= fix_max) {
    out->push_back(static_cast<char>(fix | n));
  } else if (t8 != 0 && n <= 0xff) {
    Put8(out, t8, static_cast<uint8_t>(n));
  } else if (n <= 0xffff) {
    out->push_back(static_cast<char>(t16));
    PutBE(out, n, 2);
  } else {
    out->push_back(static_cast<char>(t32));
    PutBE(out, n, 4);
  }
}

// A cursor over untrusted msgpack bytes; every read checks bounds.
struct Reader {
  std::string_view d;
  size_t i = 0;
  bool ok = true;

  uint64_t BE(int bytes) {
    if (i + static_cast<size_t>(bytes) > d.size()) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (int k = 0; k < bytes; ++k) v = (v << 8) | static_cast<uint8_t>(d[i++]);
    return v;
  }
  // Reads a str/bin header; returns the payload length, or -1 if the next object is not one.
  int64_t BytesLen() {
    if (i >= d.size()) return -1;
    const uint8_t t = static_cast<uint8_t>(d[i]);
    if ((t & 0xe0) == 0xa0) {
      ++i;
      return t & 0x1f;
    }
    switch (t) {
      case 0xd9:
      case 0xc4:
        ++i;
        return static_cast<int64_t>(BE(1));
      case 0xda:
      case 0xc5:
        ++i;
        return static_cast<int64_t>(BE(2));
      case 0xdb:
      case 0xc6:
        ++i;
        return static_cast<int64_t>(BE(4));
      default:
        return -1;
    }
  }
  std::optional<int64_t> IntValue() {
    if (i >= d.size()) return std::nullopt;
    const uint8_t t = static_cast<uint8_t>(d[i]);
    if (t <= 0x7f) return static_cast<int64_t>(d[i++]);
    if (t >= 0xe0) return static_cast<int64_t>(static_cast<int8_t>(d[i++]));
    ++i;
    switch (t) {
      case 0xcc:
        return static_cast<int64_t>(BE(1));
      case 0xcd:
        return static_cast<int64_t>(BE(2));
      case 0xce:
        return static_cast<int64_t>(BE(4));
      case 0xcf:
        return static_cast<int64_t>(BE(8));
      case 0xd0:
        return static_cast<int64_t>(static_cast<int8_t>(BE(1)));
      case 0xd1:
        return static_cast<int64_t>(static_cast<int16_t>(BE(2)));
      case 0xd2:
        return static_cast<int64_t>(static_cast<int32_t>(BE(4)));
      case 0xd3:
        return static_cast<int64_t>(BE(8));
      default:
        --i;
        return std::nullopt;
    }
  }
  // Skips one object (depth-limited).
  void Skip(int depth = 0) {
    if (!ok || i >= d.size() || depth > 32) {
      ok = false;
      return;
    }
    if (IntValue()) return;
    const int64_t len = BytesLen();
    if (len >= 0) {
      i += static_cast<size_t>(len);
      ok = ok && i <= d.size();
      return;
    }
    const uint8_t t = static_cast<uint8_t>(d[i++]);
    uint64_t n = 0;
    bool map = false;
    if ((t & 0xf0) == 0x80) {
      n = t & 0x0f;
      map = true;
    } else if ((t & 0xf0) == 0x90)
      n = t & 0x0f;
    else if (t == 0xdc)
      n = BE(2);
    else if (t == 0xdd)
      n = BE(4);
    else if (t == 0xde) {
      n = BE(2);
      map = true;
    } else if (t == 0xdf) {
      n = BE(4);
      map = true;
    } else if (t == 0xc0 || t == 0xc2 || t == 0xc3)
      return;
    else if (t == 0xca) {
      i += 4;
      ok = ok && i <= d.size();
      return;
    } else if (t == 0xcb) {
      i += 8;
      ok = ok && i <= d.size();
      return;
    } else {
      ok = false;
      return;
    }
    if (n > d.size()) {
      ok = false;
      return;
    }
    for (uint64_t k = 0; k < n * (map ? 2 : 1) && ok; ++k) Skip(depth + 1);
  }
  // Positions the cursor at the value of `key` in the top-level map; false if absent or malformed.
  bool SeekKey(std::string_view key) {
    if (d.empty()) return false;
    const uint8_t t = static_cast<uint8_t>(d[i]);
    uint64_t n = 0;
    if ((t & 0xf0) == 0x80) {
      n = t & 0x0f;
      ++i;
    } else if (t == 0xde) {
      ++i;
      n = BE(2);
    } else if (t == 0xdf) {
      ++i;
      n = BE(4);
    } else
      return false;
    for (uint64_t k = 0; k < n && ok; ++k) {
      const int64_t len = BytesLen();
      if (len < 0 || i + static_cast<size_t>(len) > d.size()) return false;
      const std::string_view name = d.substr(i, static_cast<size_t>(len));
      i += static_cast<size_t>(len);
      if (name == key) return true;
      Skip();
    }
    return false;
  }
};

}  // namespace

void MapHeader(std::string* out, size_t n) { Header(out, n, 0x80, 15, 0, 0xde, 0xdf); }
void ArrayHeader(std::string* out, size_t n) { Header(out, n, 0x90, 15, 0, 0xdc, 0xdd); }
void Str(std::string* out, std::string_view s) {
  Header(out, s.size(), 0xa0, 31, 0xd9, 0xda, 0xdb);
  out->append(s);
}
void Bin(std::string* out, std::string_view s) {
  if (s.size() <= 0xff) {
    Put8(out, 0xc4, static_cast<uint8_t>(s.size()));
  } else if (s.size() <= 0xffff) {
    out->push_back(static_cast<char>(0xc5));
    PutBE(out, s.size(), 2);
  } else {
    out->push_back(static_cast<char>(0xc6));
    PutBE(out, s.size(), 4);
  }
  out->append(s);
}
void Int(std::string* out, int64_t v) {
  if (v >= 0 && v <= 0x7f) {
    out->push_back(static_cast<char>(v));
  } else if (v < 0 && v >= -32) {
    out->push_back(static_cast<char>(static_cast<int8_t>(v)));
  } else if (v > 0 && v <= 0xffffffffll) {
    out->push_back(static_cast<char>(0xce));
    PutBE(out, static_cast<uint64_t>(v), 4);
  } else {
    out->push_back(static_cast<char>(0xd3));
    PutBE(out, static_cast<uint64_t>(v), 8);
  }
}
void Bool(std::string* out, bool b) { out->push_back(static_cast<char>(b ? 0xc3 : 0xc2)); }
size_t FixedU32(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(0xce));
  const size_t at = out->size();
  PutBE(out, v, 4);
  return at;
}
void PatchU32(std::string* out, size_t at, uint32_t v) {
  for (int k = 0; k < 4; ++k)
    (*out)[at + static_cast<size_t>(k)] = static_cast<char>((v >> (8 * (3 - k))) & 0xff);
}
std::optional<int64_t> FindInt(std::string_view body, std::string_view key) {
  Reader r{body};
  if (!r.SeekKey(key)) return std::nullopt;
  return r.IntValue();
}
std::optional<std::string_view> FindBytes(std::string_view body, std::string_view key) {
  Reader r{body};
  if (!r.SeekKey(key)) return std::nullopt;
  const int64_t len = r.BytesLen();
  if (len < 0 || r.i + static_cast<size_t>(len) > body.size()) return std::nullopt;
  return body.substr(r.i, static_cast<size_t>(len));
}

}  // namespace mp

}  // namespace titan::bench
