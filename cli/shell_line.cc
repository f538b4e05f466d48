// The shell's command table and the reading of one line.
#include "cli/shell_line.h"

#include <algorithm>
#include <optional>

#include "worker/shell_words.h"

namespace titan::cli {
namespace {

struct ShellCommand {
  const char* name;
  const char* usage;
  const char* help;
};

constexpr ShellCommand kCommands[] = {
    {"stats", "stats", "workers (load, skills, running jobs) and the job queues"},
    {"json", "json", "the same, as JSON"},
    {"status", "status ID", "one job: state, worker, attempt, exit code, times"},
    {"logs", "logs ID", "a job's output (logs ID -f follows it)"},
    {"run", "run FILE [REQUIREMENT]", "run a script once (--wait follows it; its arguments go after --)"},
    {"deploy", "deploy FILE [PORT] [REQUIREMENT]",
     "a service, kept alive; deploy Worker.jar PORT adds a worker"},
    {"stop", "stop ID", "stop a job or a service"},
    {"cancel", "cancel ID", "the same as stop"},
    {"shutdown", "shutdown WORKER | PORT | HOST PORT", "retire a worker: it finishes its jobs, then exits"},
    {"delete", "delete ID", "delete a finished job with its output"},
    {"upload", "upload PATH", "a file or a folder into the artifact registry"},
    {"approve", "approve GATE", "approve a human-in-the-loop gate (hitl-gate-<job>)"},
    {"reject", "reject GATE", "reject one"},
    {"store", "store get KEY | store set KEY VALUE", "read or write TitanStore"},
    {"submit", "submit FILE.yaml | submit SKILL DATA",
     "a YAML pipeline; or run the script DATA on a SKILL worker"},
    {"dag", "dag DAG_STRING", "submit a raw DAG: ID|SKILL|PAYLOAD|PRIORITY|DELAY_MS|[PARENTS]; ..."},
    {"jobs", "jobs", "recent jobs and their states"},
    {"services", "services", "running services"},
    {"restart", "restart ID", "restart a service where it runs"},
    {"dags", "dags", "recent DAGs"},
    {"wait", "wait ID", "until a job ends; prints its final state"},
};

const ShellCommand* Find(std::string_view name) {
  for (const ShellCommand& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

std::string_view Trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
}

ShellLine Error(std::string error) { return ShellLine{ShellLine::Kind::kError, {}, std::move(error)}; }
ShellLine Command(std::vector<std::string> words) {
  return ShellLine{ShellLine::Kind::kCommand, std::move(words), {}};
}

// `dag` followed by an unquoted DAG string: the rest of the line is the string (with a trailing --wait
// or -w taken as the flag), as the original read it. Nullopt when the line is not of that form.
std::optional<ShellLine> RawDag(std::string_view line) {
  std::string_view rest = Trim(Trim(line).substr(3));
  if (rest.empty() || rest[0] == '\'' || rest[0] == '"' || rest.find('|') == std::string_view::npos)
    return std::nullopt;
  std::vector<std::string> words = {"dag"};
  for (std::string_view flag : {" --wait", " -w"}) {
    if (rest.ends_with(flag)) {
      rest = Trim(rest.substr(0, rest.size() - flag.size()));
      words.emplace_back(Trim(flag));
      break;
    }
  }
  words.insert(words.begin() + 1, std::string(rest));
  return Command(std::move(words));
}

// `run FILE REQUIREMENT ...`: the word after FILE (before any `--`) is the requirement.
std::vector<std::string> RunWords(std::vector<std::string> words) {
  const auto dashes = std::find(words.begin(), words.end(), "--");
  if (dashes - words.begin() > 2 && !words[2].starts_with('-'))
    words.insert(words.begin() + 2, "--requirement");
  return words;
}

}  // namespace

ShellLine ParseShellLine(std::string_view line) {
  const std::string_view text = Trim(line);
  if (text.empty() || text[0] == '#') return ShellLine{};
  if ((text.starts_with("dag ") || text.starts_with("dag\t")))
    if (std::optional<ShellLine> raw = RawDag(text)) return *raw;
  auto split = exec::SplitArgs(text);
  if (!split.ok()) return Error("cannot read the line: " + split.message() + "; close the quote");
  std::vector<std::string> words = std::move(split.value());
  const std::string& name = words[0];
  if (name == "exit" || name == "quit") return ShellLine{ShellLine::Kind::kExit, {}, {}};
  if (name == "help" && words.size() == 1) return ShellLine{ShellLine::Kind::kHelp, {}, {}};
  if (name == "help") {
    if (Find(words[1]) == nullptr) return Error("no command '" + words[1] + "'; `help` lists the commands");
    return Command({words[1], "--help"});
  }
  if (Find(name) == nullptr) return Error("unknown command '" + name + "'; `help` lists the commands");
  if (name == "store" && (words.size() < 2 || (words[1] != "get" && words[1] != "set")))
    return Error("store: use `store get KEY` or `store set KEY VALUE`");
  return Command(name == "run" ? RunWords(std::move(words)) : std::move(words));
}

std::string ShellCommandList() {
  std::string out;
  for (const ShellCommand& c : kCommands) out += std::string(c.name) + ", ";
  return out + "help, exit";
}

std::string ShellHelp() {
  size_t width = 0;
  for (const ShellCommand& c : kCommands) width = std::max(width, std::string_view(c.usage).size());
  std::string out = "Commands (each is also `titan COMMAND ...`; `help COMMAND` shows its options):\n";
  for (const ShellCommand& c : kCommands) {
    out += "  " + std::string(c.usage) + std::string(width + 2 - std::string_view(c.usage).size(), ' ') +
           c.help + "\n";
  }
  out += "  help [COMMAND]" + std::string(width + 2 - 14, ' ') + "this list, or one command's options\n";
  out += "  exit" + std::string(width + 2 - 4, ' ') + "leave (also quit, or Ctrl-D)\n";
  return out;
}

}  // namespace titan::cli
