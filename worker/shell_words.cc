// SplitArgs: a small state machine over the characters of the argument string.
#include "worker/shell_words.h"

namespace titan::exec {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\n'; }

Status Unterminated(std::string_view what, std::string_view text) {
  return Status::Error("unterminated " + std::string(what) + " in arguments: " + std::string(text));
}

// Appends the body of the double-quoted word starting at text[*i] (the opening quote) to `word`, with
// \\ \" \$ \` unescaped, and moves *i past the closing quote; false when there is none.
bool ReadDoubleQuoted(std::string_view text, size_t* i, std::string* word) {
  size_t at = *i + 1;
  while (at < text.size() && text[at] != '"') {
    if (text[at] == '\\' && at + 1 < text.size() &&
        std::string_view("\\\"$`").find(text[at + 1]) != std::string_view::npos) {
      ++at;
    }
    word->push_back(text[at++]);
  }
  if (at >= text.size()) return false;
  *i = at + 1;
  return true;
}

}  // namespace

Result<std::vector<std::string>> SplitArgs(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // distinguishes an empty quoted word from no word at all
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (IsBlank(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      ++i;
    } else if (c == '\'') {
      const size_t close = text.find('\'', i + 1);
      if (close == std::string_view::npos) return Unterminated("single quote", text);
      word.append(text.substr(i + 1, close - i - 1));
      in_word = true;
      i = close + 1;
    } else if (c == '"') {
      if (!ReadDoubleQuoted(text, &i, &word)) return Unterminated("double quote", text);
      in_word = true;
    } else if (c == '\\') {
      if (i + 1 >= text.size()) return Status::Error("trailing backslash in arguments: " + std::string(text));
      word.push_back(text[i + 1]);
      in_word = true;
      i += 2;
    } else {
      word.push_back(c);
      in_word = true;
      ++i;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

}  // namespace titan::exec
