// YAML with line numbers for pipeline files (private to cli/, used by pipeline.cc): loading one
// document, typing plain scalars as PyYAML's safe loader does (YAML 1.1), and typed reads of one mapping
// whose errors carry the line they are about. Every reader throws Failure; ParsePipeline catches it.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace titan::cli {

// An error about the file at `line` (1-based; 0: no line applies).
struct Failure {
  int line = 0;
  std::string what;
};

enum class ScalarKind { kNull, kBool, kInt, kFloat, kDate, kString, kList, kMap };

// The 1-based line a node starts on; 0 when yaml-cpp has no mark for it.
int LineOf(const YAML::Node& node);

// How PyYAML's safe loader would type the node: quoted or !!str scalars are strings; a plain scalar is
// null, a boolean (true/yes/on, false/no/off in their three spellings), an integer (decimal, 0x, 0b,
// 0-octal, 1:30 sexagesimal, with _), a float, a date, or else a string.
ScalarKind KindOf(const YAML::Node& node);

// The one document in `text`, with every mapping key checked (a plain word, not repeated). Throws
// Failure for a syntax error, an empty file, several documents, a bad key or nesting past 64 levels.
YAML::Node LoadSingleDocument(const std::string& text);

// Typed reads of one mapping node. `what` names it in messages ("job 'EXTRACT'", "the pipeline").
// The node must be a map whose keys passed LoadSingleDocument.
class YamlFields {
 public:
  YamlFields(const YAML::Node& map, std::string what);

  const std::string& what() const { return what_; }
  int line() const { return line_; }

  // Failure at the first key not in `known`: "unknown key 'x' in <what> (known: a, b)".
  void CheckKeys(const std::vector<std::string_view>& known) const;
  // Failure when `key` is absent or null: "<what> needs '<key>' (<hint>)".
  void Require(std::string_view key, std::string_view hint) const;

  bool Has(std::string_view key) const;
  // The value's line (the key's line for a null value); the mapping's line when `key` is absent.
  int Line(std::string_view key) const;
  YAML::Node Value(std::string_view key) const;  // `key` must be present

  // The value of a present `key`, or Failure "'<key>' must be <kind> in <what>".
  std::string Text(std::string_view key) const;
  int64_t Integer(std::string_view key) const;
  // Seconds >= 0 as milliseconds: an integer times 1000, or a float (1.5, 1:30.5) times 1000 rounded to
  // the nearest millisecond, halves up (floor(x * 1000 + 0.5), as the SDK computes it).
  int64_t Milliseconds(std::string_view key) const;
  bool Flag(std::string_view key) const;
  std::vector<std::string> TextList(std::string_view key) const;
  std::vector<std::string> TextMap(std::string_view key) const;  // "NAME=value" entries in file order

 private:
  struct Entry {
    std::string key;
    int key_line = 0;
    YAML::Node value;
    int line = 0;
  };
  const Entry* Find(std::string_view key) const;
  const Entry& Get(std::string_view key, ScalarKind want, std::string_view kind) const;

  std::vector<Entry> entries_;
  std::string what_;
  int line_ = 0;
};

}  // namespace titan::cli
