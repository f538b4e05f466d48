// YAML loading and typed mapping reads for pipeline files. The scalar patterns are PyYAML's (YAML 1.1
// resolver), so the C++ and Python parsers type every value alike.
#include "cli/yaml_fields.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <regex>
#include <utility>

namespace titan::cli {
namespace {

constexpr int kMaxDepth = 64;  // deeper nesting (or an alias that contains itself) is refused

// PyYAML's implicit resolvers for YAML 1.1 plain scalars, compiled on first use.
struct Resolvers {
  std::regex boolean{"yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"};
  std::regex floating{
      "[-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+][0-9]+)?|\\.[0-9_]+(?:[eE][-+][0-9]+)?"
      "|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN)"};
  std::regex integer{
      "[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
      "|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"};
  std::regex null{"~|null|Null|NULL|"};
  std::regex date{
      "[0-9]{4}-[0-9]{2}-[0-9]{2}"
      "|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \\t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]*)?"
      "(?:[ \\t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?"};
};

const Resolvers& Patterns() {
  static const Resolvers resolvers;
  return resolvers;
}

// YAML 1.1 integer notation: the radix and where the digits start ("0x1f": 16 from 2; "1:30": 60).
std::pair<uint64_t, size_t> IntRadix(const std::string& text) {
  if (text.find(':') != std::string::npos) return {60, 0};  // sexagesimal: 1:30 is 90; each part decimal
  if (text.rfind("0b", 0) == 0 || text.rfind("0x", 0) == 0) return {text[1] == 'b' ? 2 : 16, 2};
  if (text.size() > 1 && text[0] == '0') return {8, 1};
  return {10, 0};
}

// The value of a scalar KindOf calls kInt; false when it does not fit in 64 bits.
bool IntValue(std::string text, int64_t* out) {
  std::erase(text, '_');
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.erase(0, 1);
  }
  const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + (negative ? 1 : 0);
  const auto [base, from] = IntRadix(text);
  // value = value * radix + digit, false on overflow past `limit`.
  auto push = [limit](uint64_t* value, uint64_t radix, uint64_t digit) {
    return !__builtin_mul_overflow(*value, radix, value) && !__builtin_add_overflow(*value, digit, value) &&
           *value <= limit;
  };
  uint64_t value = 0, part = 0;
  for (size_t i = from; i < text.size(); ++i) {
    const int c = std::tolower(static_cast<unsigned char>(text[i]));
    const uint64_t digit = static_cast<uint64_t>(c >= 'a' ? c - 'a' + 10 : c - '0');
    const bool ok = c == ':'     ? push(&value, 60, std::exchange(part, 0))
                    : base == 60 ? push(&part, 10, digit)
                                 : push(&value, base, digit);
    if (!ok) return false;
  }
  if (base == 60 && !push(&value, 60, part)) return false;
  *out = negative ? static_cast<int64_t>(~value + 1) : static_cast<int64_t>(value);
  return true;
}

// The value of a scalar KindOf calls kFloat, constructed as PyYAML does: without '_', case-insensitive
// .inf/.nan, sexagesimal parts (1:30.5) summed as doubles from the last one, else strtod (correctly
// rounded, like Python's float()).
double FloatValue(std::string text) {
  std::erase(text, '_');
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double sign = 1;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    sign = text[0] == '-' ? -1 : 1;
    text.erase(0, 1);
  }
  if (text == ".inf") return sign * std::numeric_limits<double>::infinity();
  if (text == ".nan") return std::numeric_limits<double>::quiet_NaN();
  if (text.find(':') == std::string::npos) return sign * std::strtod(text.c_str(), nullptr);
  std::vector<double> parts;
  for (size_t from = 0, colon = 0; colon != std::string::npos; from = colon + 1) {
    colon = text.find(':', from);
    parts.push_back(std::strtod(text.substr(from, colon - from).c_str(), nullptr));
  }
  double value = 0, base = 1;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it, base *= 60) value += *it * base;
  return sign * value;
}

// The source text of a value, for messages.
std::string Shown(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  return node.IsNull() ? "null" : node.IsSequence() ? "a list" : "a map";
}

void CheckKeys(const YAML::Node& node, int depth) {
  if (depth > kMaxDepth) {
    throw Failure{LineOf(node), "the YAML nests deeper than " + std::to_string(kMaxDepth) + " levels"};
  }
  if (node.IsSequence()) {
    for (const YAML::Node& item : node) CheckKeys(item, depth + 1);
    return;
  }
  if (!node.IsMap()) return;
  std::map<std::string, int> seen;  // key -> its line
  for (auto it = node.begin(); it != node.end(); ++it) {
    const int line = LineOf(it->first);
    if (KindOf(it->first) != ScalarKind::kString) {
      throw Failure{line, "keys must be plain words; got " + Shown(it->first)};
    }
    const std::string& key = it->first.Scalar();
    if (auto [first, fresh] = seen.emplace(key, line); !fresh) {
      throw Failure{line,
                    "duplicate key '" + key + "' (first on line " + std::to_string(first->second) + ")"};
    }
    CheckKeys(it->second, depth + 1);
  }
}

// The line of the "---" that starts the document whose content begins on `content_line`.
int SecondDocumentLine(const std::string& text, int content_line) {
  int line = 1, marker = content_line;
  for (size_t start = 0; start < text.size() && line <= content_line; ++line) {
    if (text.compare(start, 3, "---") == 0) marker = line;
    const size_t nl = text.find('\n', start);
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return std::max(1, marker);
}

}  // namespace

int LineOf(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

ScalarKind KindOf(const YAML::Node& node) {
  if (node.IsSequence()) return ScalarKind::kList;
  if (node.IsMap()) return ScalarKind::kMap;
  if (!node.IsScalar()) return ScalarKind::kNull;
  if (node.Tag() != "?") return ScalarKind::kString;  // quoted ("!") or tagged: taken as written
  const std::string& s = node.Scalar();
  const Resolvers& r = Patterns();
  if (std::regex_match(s, r.boolean)) return ScalarKind::kBool;
  if (std::regex_match(s, r.floating)) return ScalarKind::kFloat;
  if (std::regex_match(s, r.integer)) return ScalarKind::kInt;
  if (std::regex_match(s, r.null)) return ScalarKind::kNull;
  if (std::regex_match(s, r.date)) return ScalarKind::kDate;
  return ScalarKind::kString;
}

YAML::Node LoadSingleDocument(const std::string& text) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    throw Failure{e.mark.is_null() ? 1 : e.mark.line + 1, "invalid YAML: " + e.msg};
  }
  if (docs.empty()) throw Failure{1, "the file is empty; a pipeline needs 'name' and 'jobs'"};
  if (docs.size() > 1) {
    throw Failure{SecondDocumentLine(text, LineOf(docs[1])),
                  "invalid YAML: expected a single document in the stream, but found another document"};
  }
  CheckKeys(docs[0], 0);
  return docs[0];
}

YamlFields::YamlFields(const YAML::Node& map, std::string what) : what_(std::move(what)), line_(LineOf(map)) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    Entry e{it->first.Scalar(), LineOf(it->first), it->second, 0};
    e.line = it->second.IsNull() || LineOf(it->second) == 0 ? e.key_line : LineOf(it->second);
    entries_.push_back(std::move(e));
  }
}

void YamlFields::CheckKeys(const std::vector<std::string_view>& known) const {
  for (const Entry& e : entries_) {
    if (std::find(known.begin(), known.end(), e.key) != known.end()) continue;
    std::string list;
    for (const std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    throw Failure{e.key_line, "unknown key '" + e.key + "' in " + what_ + " (known: " + list + ")"};
  }
}

void YamlFields::Require(std::string_view key, std::string_view hint) const {
  const Entry* e = Find(key);
  if (e == nullptr || KindOf(e->value) == ScalarKind::kNull) {
    throw Failure{line_, what_ + " needs '" + std::string(key) + "' (" + std::string(hint) + ")"};
  }
}

bool YamlFields::Has(std::string_view key) const { return Find(key) != nullptr; }

int YamlFields::Line(std::string_view key) const {
  const Entry* e = Find(key);
  return e != nullptr ? e->line : line_;
}

YAML::Node YamlFields::Value(std::string_view key) const { return Find(key)->value; }

std::string YamlFields::Text(std::string_view key) const {
  return Get(key, ScalarKind::kString, "a string").value.Scalar();
}

int64_t YamlFields::Integer(std::string_view key) const {
  const Entry& e = Get(key, ScalarKind::kInt, "an integer");
  int64_t value = 0;
  if (!IntValue(e.value.Scalar(), &value)) {
    throw Failure{e.line, "'" + e.key + "' is out of range in " + what_ + " (at most 9223372036854775807)"};
  }
  return value;
}

int64_t YamlFields::Milliseconds(std::string_view key) const {
  const Entry* e = Find(key);
  const ScalarKind kind = e != nullptr ? KindOf(e->value) : ScalarKind::kNull;
  if (kind != ScalarKind::kInt && kind != ScalarKind::kFloat) {
    throw Failure{Line(key), "'" + std::string(key) + "' must be a number of seconds in " + what_};
  }
  const auto negative = [&] { return Failure{e->line, "'" + e->key + "' must be >= 0 seconds in " + what_}; };
  const auto too_many = [&] { return Failure{e->line, "'" + e->key + "' is too many seconds in " + what_}; };
  if (kind == ScalarKind::kInt) {
    const int64_t seconds = Integer(key);
    if (seconds < 0) throw negative();
    if (seconds > std::numeric_limits<int64_t>::max() / 1000) throw too_many();
    return seconds * 1000;
  }
  const double seconds = FloatValue(e->value.Scalar());
  if (!(seconds >= 0)) throw negative();  // NaN too
  // Built with -ffp-contract=off (CMakeLists.txt): a multiply and an add, each rounded, as in Python.
  const double half_up = seconds * 1000.0 + 0.5;
  if (half_up >= 9223372036854775808.0) throw too_many();  // 2^63, infinity too
  return static_cast<int64_t>(std::floor(half_up));
}

bool YamlFields::Flag(std::string_view key) const {
  const std::string& s = Get(key, ScalarKind::kBool, "true or false").value.Scalar();
  return s[0] == 't' || s[0] == 'T' || s[0] == 'y' || s[0] == 'Y' || s == "on" || s == "On" || s == "ON";
}

std::vector<std::string> YamlFields::TextList(std::string_view key) const {
  const Entry& e = Get(key, ScalarKind::kList, "a list of strings");
  std::vector<std::string> out;
  for (const YAML::Node& item : e.value) {
    if (KindOf(item) != ScalarKind::kString) {
      throw Failure{LineOf(item) > 0 ? LineOf(item) : e.line,
                    "'" + e.key + "' must be a list of strings in " + what_ + "; quote " + Shown(item)};
    }
    out.push_back(item.Scalar());
  }
  return out;
}

std::vector<std::string> YamlFields::TextMap(std::string_view key) const {
  const Entry& e = Get(key, ScalarKind::kMap, "a map of strings");
  std::vector<std::string> out;
  for (const Entry& item : YamlFields(e.value, "").entries_) {
    if (KindOf(item.value) != ScalarKind::kString) {
      throw Failure{item.line, "'" + e.key + "' must be a map of strings in " + what_ +
                                   "; quote the value of " + item.key + ", e.g. " + item.key + ": \"" +
                                   Shown(item.value) + "\""};
    }
    if (item.key.empty() || item.key.find('=') != std::string::npos) {
      throw Failure{item.line, "'" + e.key + "' in " + what_ + ": '" + item.key + "' is not a variable name"};
    }
    out.push_back(item.key + "=" + item.value.Scalar());
  }
  return out;
}

const YamlFields::Entry* YamlFields::Find(std::string_view key) const {
  for (const Entry& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

const YamlFields::Entry& YamlFields::Get(std::string_view key, ScalarKind want, std::string_view kind) const {
  const Entry* e = Find(key);
  if (e == nullptr || KindOf(e->value) != want) {
    throw Failure{Line(key), "'" + std::string(key) + "' must be " + std::string(kind) + " in " + what_};
  }
  return *e;
}

}  // namespace titan::cli
