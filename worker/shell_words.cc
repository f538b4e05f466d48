// SplitArgs: a small state machine over the characters of the argument string.
#include "worker/shell_words.h"

namespace titan::exec {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\n'; }

Status Unterminated(std::string_view what, std::string_view text) {
  return Status::Error("unterminated " + std::string(what) + " in arguments: " + std::string(text));
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
      ++i;
      while (i < text.size() && text[i] != '"') {
        if (text[i] == '\\' && i + 1 < text.size() &&
            std::string_view("\\\"$`").find(text[i + 1]) != std::string_view::npos) {
          ++i;
        }
        word.push_back(text[i++]);
      }
      if (i >= text.size()) return Unterminated("double quote", text);
      in_word = true;
      ++i;
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
