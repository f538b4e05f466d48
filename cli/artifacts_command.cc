// `titan upload`, `titan deploy-script` and `titan artifacts [get|rm]`: files to and from the broker's
// artifact registry through ArtifactTransfer, with a progress line on a terminal and one summary line.
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "artifact_name.h"
#include "artifact_transfer.h"
#include "artifact_view.h"
#include "commands.h"
#include "signal_watch.h"
#include "zip_archive.h"

namespace titan::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kRedrawEvery = std::chrono::milliseconds(100);
constexpr int kExitInterrupted = 130;  // as a shell reports a command ended by SIGINT
constexpr const char* kSpaces = "uploads or perm_files";

struct TransferArgs {
  std::string path, name, out, space;
  bool quiet = false, json = false;
};

int ExitFor(const TransferStatus& s) {
  switch (s.kind()) {
    case TransferStatus::Kind::kOk:
      return kExitOk;
    case TransferStatus::Kind::kLocal:
      return kExitIo;
    case TransferStatus::Kind::kNoAnswer:
      return kExitNoAnswer;
    case TransferStatus::Kind::kRefused:
      return kExitRefused;
    case TransferStatus::Kind::kNotFound:
      return kExitNotFound;
    case TransferStatus::Kind::kInterrupted:
      return kExitInterrupted;
  }
  return kExitRefused;
}

int Fail(const TransferStatus& s) {
  std::cerr << "titan: " << s.message() << '\n';
  return ExitFor(s);
}

// The progress line on stderr, redrawn in place (\r) at most every kRedrawEvery, only when stderr is
// a terminal and --quiet is off. Also times the transfer phase for the summary line.
class ProgressLine {
 public:
  ProgressLine(bool quiet, std::string what)
      : enabled_(!quiet && ::isatty(STDERR_FILENO)), what_(std::move(what)) {}
  ~ProgressLine() { Clear(); }

  void Update(TransferPhase phase, int64_t done, int64_t total) {
    const auto now = Clock::now();
    if (phase != phase_ || !started_) {
      phase_ = phase;
      started_ = true;
      phase_start_ = now;
      last_draw_ = {};
    }
    if (!enabled_ || (now - last_draw_ < kRedrawEvery && done < total)) return;
    last_draw_ = now;
    const char* verb = phase == TransferPhase::kHashing   ? "hashing"
                       : phase == TransferPhase::kSending ? "uploading"
                                                          : "downloading";
    std::cerr << '\r'
              << RenderProgress(verb, what_, done, total,
                                std::chrono::duration<double>(now - phase_start_).count())
              << "\033[K" << std::flush;
    drawn_ = true;
  }
  ProgressFn Fn() {
    return [this](TransferPhase phase, int64_t done, int64_t total) { Update(phase, done, total); };
  }
  // Seconds since the last phase began (the transfer itself, once hashing is over).
  double PhaseSeconds() const {
    return started_ ? std::chrono::duration<double>(Clock::now() - phase_start_).count() : 0;
  }
  void Clear() {
    if (drawn_) std::cerr << "\r\033[K" << std::flush;
    drawn_ = false;
  }

 private:
  bool enabled_;
  std::string what_;
  TransferPhase phase_ = TransferPhase::kHashing;
  bool started_ = false, drawn_ = false;
  Clock::time_point phase_start_, last_draw_;
};

// A temporary folder removed with its contents on scope exit.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/titan-upload-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }  // empty when it could not be created

 private:
  std::string path_;
};

// Every chunk sent and every ARTIFACT_DATA received is a 1 MiB buffer (ours, or ZeroMQ's). Above
// glibc's default mmap threshold each one is a fresh mapping whose pages fault in (~250 faults per MiB)
// and is unmapped again when freed; keeping such buffers in the heap, and the heap from being trimmed,
// lets them be reused: measured on a 256 MiB download, 40% less CPU in this process. The heap stays at
// about the transfer window (8 MiB). Process-wide, so it is set here, for the transfer commands only.
void KeepChunkBuffersInHeap() {
  (void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
  (void)mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

TransferOptions OptionsFor(const Target& target, const SignalWatch& signals) {
  KeepChunkBuffersInHeap();
  TransferOptions o;
  o.host = target.host;
  o.port = target.port;
  o.timeout_ms = target.timeout_ms;
  o.cancel_fd = signals.fd();
  return o;
}

// False (printed) when `name` is not a registry name.
bool CheckName(const std::string& name) {
  if (auto st = artifacts::ValidateName(name); !st.ok()) {
    std::cerr << "titan: " << st.message() << '\n';
    return false;
  }
  return true;
}

// The last component of `path`, ignoring trailing slashes; "." and ".." resolve to the folder's name.
std::string BaseName(const std::string& path) {
  fs::path p = fs::path(path).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  if (p.filename() == "." || p.filename() == ".." || p.empty()) {
    std::error_code ec;
    p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  }
  return p.filename().string();
}

// Uploads `file` as space/name and prints the summary. `what` labels the progress line.
int Send(const Target& target, SignalWatch& signals, const std::string& file, const std::string& space,
         const std::string& name, bool quiet, const std::string& note) {
  ArtifactTransfer transfer(OptionsFor(target, signals));
  ProgressLine line(quiet, space + "/" + name);
  ArtifactView info;
  const TransferStatus s = transfer.Upload(file, space, name, line.Fn(), &info);
  const double seconds = line.PhaseSeconds();
  line.Clear();
  if (!s.ok()) return Fail(s);
  std::cout << RenderSummary("uploaded", info, note, seconds) << std::endl;
  return kExitOk;
}

int Upload(const Target& target, const TransferArgs& a) {
  SignalWatch signals;  // before any ZeroMQ thread exists
  struct stat st {};
  if (::stat(a.path.c_str(), &st) != 0) {
    std::cerr << "titan: cannot upload '" << a.path << "': " << std::strerror(errno) << '\n';
    return kExitUsage;
  }
  if (S_ISREG(st.st_mode)) {
    const std::string name = a.name.empty() ? BaseName(a.path) : a.name;
    if (!CheckName(name)) return kExitUsage;
    return Send(target, signals, a.path, "uploads", name, a.quiet, "");
  }
  if (!S_ISDIR(st.st_mode)) {
    std::cerr << "titan: '" << a.path << "' is neither a regular file nor a folder; give one of those\n";
    return kExitUsage;
  }
  const std::string name = a.name.empty() ? BaseName(a.path) + ".zip" : a.name;
  if (!CheckName(name)) return kExitUsage;
  if (name.size() < 4 || name.compare(name.size() - 4, 4, ".zip") != 0) {
    std::cerr << "titan: a folder is uploaded as a zip for archive jobs ('" << name
              << "/<entry>'), so its --name must end in .zip\n";
    return kExitUsage;
  }
  ScratchDir scratch;
  if (scratch.path().empty()) {
    std::cerr << "titan: cannot create a temporary folder to zip '" << a.path
              << "' in: " << std::strerror(errno) << "; set TMPDIR to a writable folder\n";
    return kExitIo;
  }
  const std::string zip = scratch.path() + "/" + BaseName(name);
  if (auto packed = artifacts::PackFolder(a.path, zip); !packed.ok()) {
    std::cerr << "titan: " << packed.message() << '\n';
    return kExitIo;
  }
  return Send(target, signals, zip, "perm_files", name, a.quiet, "(folder " + a.path + ")");
}

int DeployScript(const Target& target, const TransferArgs& a) {
  SignalWatch signals;
  struct stat st {};
  if (::stat(a.path.c_str(), &st) != 0) {
    std::cerr << "titan: cannot deploy '" << a.path << "': " << std::strerror(errno) << '\n';
    return kExitUsage;
  }
  if (!S_ISREG(st.st_mode)) {
    std::cerr << "titan: '" << a.path << "' is not a regular file; deploy a folder with `titan upload "
              << a.path << "` (it becomes perm_files/<folder>.zip)\n";
    return kExitUsage;
  }
  const std::string name = a.name.empty() ? BaseName(a.path) : a.name;
  if (!CheckName(name)) return kExitUsage;
  return Send(target, signals, a.path, "perm_files", name, a.quiet, "");
}

int List(const Target& target, const TransferArgs& a) {
  SignalWatch signals;
  ArtifactTransfer transfer(OptionsFor(target, signals));
  std::vector<ArtifactView> list;
  if (const TransferStatus s = transfer.List(a.space, &list); !s.ok()) return Fail(s);
  std::cout << (a.json ? RenderArtifactsJson(list) : RenderArtifactTable(list));
  return kExitOk;
}

// The artifact `name` in `space`, or (no space given) in uploads, else perm_files. With `unique`, a
// name present in both spaces is refused. Returns an exit code; prints why on failure.
int Find(ArtifactTransfer& transfer, const Target& target, const std::string& name, const std::string& space,
         bool unique, ArtifactView* info) {
  const std::vector<std::string> spaces =
      space.empty() ? std::vector<std::string>{"uploads", "perm_files"} : std::vector<std::string>{space};
  std::vector<ArtifactView> found;
  for (const std::string& sp : spaces) {
    ArtifactView v;
    const TransferStatus s = transfer.Stat(sp, name, &v);
    if (s.ok()) found.push_back(v);
    if (s.ok() && !unique) break;
    if (!s.ok() && s.kind() != TransferStatus::Kind::kNotFound) return Fail(s);
  }
  if (found.empty()) {
    std::cerr << "titan: no artifact '" << name << "' in " << (space.empty() ? kSpaces : space) << " on "
              << target.host << ':' << target.port << " (list them with `titan artifacts`)\n";
    return kExitNotFound;
  }
  if (found.size() > 1) {
    std::cerr << "titan: '" << name << "' exists in both uploads and perm_files; say which with --space\n";
    return kExitUsage;
  }
  *info = found.front();
  return kExitOk;
}

int Get(const Target& target, const TransferArgs& a) {
  SignalWatch signals;
  if (!CheckName(a.name)) return kExitUsage;
  ArtifactTransfer transfer(OptionsFor(target, signals));
  ArtifactView info;
  if (const int rc = Find(transfer, target, a.name, a.space, false, &info); rc != kExitOk) return rc;
  std::string out = a.out.empty() ? "./" + BaseName(a.name) : a.out;
  std::error_code ec;
  if (!a.out.empty() && (fs::is_directory(a.out, ec) || a.out.back() == '/')) {
    out = (fs::path(a.out) / BaseName(a.name)).string();
  }
  ProgressLine line(a.quiet, info.space + "/" + info.name);
  const TransferStatus s = transfer.Download(info, out, line.Fn());
  const double seconds = line.PhaseSeconds();
  line.Clear();
  if (!s.ok()) return Fail(s);
  std::cout << RenderSummary("downloaded", info, "to " + out, seconds) << std::endl;
  return kExitOk;
}

int Remove(const Target& target, const TransferArgs& a) {
  SignalWatch signals;
  if (!CheckName(a.name)) return kExitUsage;
  ArtifactTransfer transfer(OptionsFor(target, signals));
  ArtifactView info;
  if (const int rc = Find(transfer, target, a.name, a.space, true, &info); rc != kExitOk) return rc;
  if (const TransferStatus s = transfer.Delete(info.space, info.name); !s.ok()) return Fail(s);
  std::cout << "removed " << info.space << '/' << info.name << std::endl;
  return kExitOk;
}

CLI::Option* AddSpace(CLI::App* cmd, std::string* space, const char* help) {
  return cmd->add_option("--space", *space, help)->check(CLI::IsMember({"uploads", "perm_files"}));
}

}  // namespace

void AddArtifactCommands(CLI::App& app, const Target& target, int* exit_code) {
  const Target* t = &target;

  auto up = std::make_shared<TransferArgs>();
  CLI::App* upload =
      app.add_subcommand("upload", "Upload a file (to uploads/) or a folder (zipped, to perm_files/)");
  upload->footer(
      "A file becomes uploads/<name>. A folder is zipped and becomes perm_files/<folder>.zip, which archive\n"
      "jobs run from: JobSpec file '<folder>.zip/main.sh' with archive: true. The upload is visible only\n"
      "once complete and verified (sha256). Progress is shown on a terminal; one summary line on stdout.");
  upload->add_option("PATH", up->path, "the file or folder to upload")->required();
  upload->add_option("--name", up->name, "the artifact's name (default: the file's name, or <folder>.zip)");
  upload->add_flag("--quiet,-q", up->quiet, "no progress line");
  upload->callback([=] { *exit_code = Upload(*t, *up); });

  auto dep = std::make_shared<TransferArgs>();
  CLI::App* deploy =
      app.add_subcommand("deploy-script", "Deploy a script to perm_files/, where jobs find it by name");
  deploy->footer(
      "Jobs whose file is not sent with the submission run the perm_files/ artifact of that name.");
  deploy->add_option("PATH", dep->path, "the script to deploy")->required();
  deploy->add_option("--name", dep->name, "the name jobs use (default: the file's name)");
  deploy->add_flag("--quiet,-q", dep->quiet, "no progress line");
  deploy->callback([=] { *exit_code = DeployScript(*t, *dep); });

  auto ls = std::make_shared<TransferArgs>();
  CLI::App* list =
      app.add_subcommand("artifacts", "List the broker's artifacts; `get` downloads one, `rm` removes one");
  AddSpace(list, &ls->space, "only this space: uploads or perm_files");
  list->add_flag("--json", ls->json, "print a JSON array of ArtifactInfo objects instead of a table");

  auto g = std::make_shared<TransferArgs>();
  CLI::App* get = list->add_subcommand("get", "Download an artifact (verified by sha256)");
  get->footer(
      "Without --space, uploads/ is looked in first, then perm_files/. The file is written as\n"
      "PATH.partial and renamed once complete and verified; a failed download leaves nothing.");
  get->add_option("NAME", g->name, "the artifact's name")->required();
  get->add_option("-o,--output", g->out,
                  "where to write it (a folder: inside it; default ./<basename of NAME>)");
  AddSpace(get, &g->space, "the space to look in: uploads or perm_files");
  get->add_flag("--quiet,-q", g->quiet, "no progress line");
  get->callback([=] { *exit_code = Get(*t, *g); });

  auto r = std::make_shared<TransferArgs>();
  CLI::App* rm = list->add_subcommand("rm", "Remove an artifact");
  rm->alias("remove");
  rm->add_option("NAME", r->name, "the artifact's name")->required();
  AddSpace(rm, &r->space, "the space it is in (needed when both spaces have NAME)");
  rm->callback([=] { *exit_code = Remove(*t, *r); });

  list->callback([=] {
    if (list->get_subcommands().empty()) *exit_code = List(*t, *ls);
  });
}

}  // namespace titan::cli
