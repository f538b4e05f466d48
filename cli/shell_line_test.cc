// The Titan shell's lines as a table: what each becomes (a titan command line, help, exit, an error).
#include "cli/shell_line.h"

#include <gtest/gtest.h>

namespace titan::cli {
namespace {

// "run: a|b|c" (the command line's words joined by '|'), "help", "exit", "nothing" or "error: ...".
std::string Read(std::string_view line) {
  const ShellLine l = ParseShellLine(line);
  switch (l.kind) {
    case ShellLine::Kind::kNothing:
      return "nothing";
    case ShellLine::Kind::kHelp:
      return "help";
    case ShellLine::Kind::kExit:
      return "exit";
    case ShellLine::Kind::kError:
      return "error: " + l.error;
    case ShellLine::Kind::kCommand:
      break;
  }
  std::string out = "run:";
  for (size_t i = 0; i < l.words.size(); ++i) out += (i ? "|" : " ") + l.words[i];
  return out;
}

TEST(ParseShellLine, Table) {
  const struct {
    const char* line;
    const char* expect;
  } rows[] = {
      {"", "nothing"},
      {"   \t", "nothing"},
      {"# a comment", "nothing"},
      {"  # indented", "nothing"},
      {"stats", "run: stats"},
      {"  json  ", "run: json"},
      {"status etl-1", "run: status|etl-1"},
      {"cancel etl-1", "run: cancel|etl-1"},
      {"run hello.py", "run: run|hello.py"},
      {"run train.py GPU", "run: run|train.py|--requirement|GPU"},  // the original's requirement
      {"run train.py GPU --wait", "run: run|train.py|--requirement|GPU|--wait"},
      {"run hello.py --id h1 --wait", "run: run|hello.py|--id|h1|--wait"},
      {"run hello.py -- a b", "run: run|hello.py|--|a|b"},
      {"deploy server.py 8123 GPU", "run: deploy|server.py|8123|GPU"},
      {"shutdown 127.0.0.1 8081", "run: shutdown|127.0.0.1|8081"},
      {"shutdown 8081", "run: shutdown|8081"},                                        // the original's form
      {"submit GENERAL etl.py 2024-05-01", "run: submit|GENERAL|etl.py|2024-05-01"},  // submit <skill> <data>
      {"submit pipeline.yaml --wait", "run: submit|pipeline.yaml|--wait"},
      {"wait etl-1", "run: wait|etl-1"},
      {"store set greeting 'hello world'", "run: store|set|greeting|hello world"},
      {"store get greeting", "run: store|get|greeting"},
      {"store", "error: store: use `store get KEY` or `store set KEY VALUE`"},
      {"store --port 1", "error: store: use `store get KEY` or `store set KEY VALUE`"},
      {"dag a|G|x.py|1|0|[]; b|G|y.py|1|0|[a]", "run: dag|a|G|x.py|1|0|[]; b|G|y.py|1|0|[a]"},
      {"dag a|G|x.py|1|0|[] --wait", "run: dag|a|G|x.py|1|0|[]|--wait"},
      {"dag 'a|G|x.py|1|0|[]' --json", "run: dag|a|G|x.py|1|0|[]|--json"},
      {"dag nightly", "run: dag|nightly"},
      {"help", "help"},
      {"help deploy", "run: deploy|--help"},
      {"help nope", "error: no command 'nope'; `help` lists the commands"},
      {"exit", "exit"},
      {"quit", "exit"},
      {"frobnicate now", "error: unknown command 'frobnicate'; `help` lists the commands"},
      {"up", "error: unknown command 'up'; `help` lists the commands"},  // nodes are not shell commands
      {"status 'open",
       "error: cannot read the line: unterminated single quote in arguments: status 'open; close "
       "the quote"},
  };
  for (const auto& row : rows) EXPECT_EQ(row.expect, Read(row.line)) << row.line;
}

TEST(ShellHelp, ListsEveryCommandOfTheBanner) {
  const std::string help = ShellHelp();
  for (const char* usage :
       {"run FILE [REQUIREMENT]", "deploy FILE [PORT] [REQUIREMENT]", "shutdown WORKER | PORT | HOST PORT",
        "submit FILE.yaml | submit SKILL DATA", "store get KEY | store set KEY VALUE", "dag DAG_STRING"}) {
    EXPECT_NE(std::string::npos, help.find(usage)) << usage;
  }
  EXPECT_EQ(0u,
            ShellCommandList().rfind("stats, json, status, logs, run, deploy, stop, cancel, shutdown", 0));
}

}  // namespace
}  // namespace titan::cli
