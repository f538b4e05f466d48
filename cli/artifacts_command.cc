// `titan upload`, `titan deploy-script` and `titan artifacts [get|rm]`: files to and from the broker's
// artifact registry through ArtifactTransfer, with a progress line on a terminal and one summary line.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "artifacts/artifact_name.h"
#include "base/signal_watch.h"
#include "cli/artifact_upload.h"
#include "cli/artifact_view.h"
#include "cli/commands.h"

namespace titan::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSpaces = "uploads or perm_files";

struct TransferArgs {
  std::string path, name, out, space;
  bool quiet = false, json = false;
};

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
    return UploadFile(target, a.path, {"uploads", name, a.quiet, signals.fd(), ""}, std::cout);
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
  return UploadFolder(target, a.path, {"perm_files", name, a.quiet, signals.fd(), "(folder " + a.path + ")"},
                      std::cout);
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
  return UploadFile(target, a.path, {"perm_files", name, a.quiet, signals.fd(), ""}, std::cout);
}

int List(const Target& target, const TransferArgs& a) {
  SignalWatch signals;
  ArtifactTransfer transfer(TransferOptionsFor(target, signals.fd()));
  std::vector<ArtifactView> list;
  if (const TransferStatus s = transfer.List(a.space, &list); !s.ok()) return ReportTransferFailure(s);
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
    if (!s.ok() && s.kind() != TransferStatus::Kind::kNotFound) return ReportTransferFailure(s);
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
  ArtifactTransfer transfer(TransferOptionsFor(target, signals.fd()));
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
  if (!s.ok()) return ReportTransferFailure(s);
  std::cout << RenderSummary("downloaded", info, "to " + out, seconds) << std::endl;
  return kExitOk;
}

int Remove(const Target& target, const TransferArgs& a) {
  SignalWatch signals;
  if (!CheckName(a.name)) return kExitUsage;
  ArtifactTransfer transfer(TransferOptionsFor(target, signals.fd()));
  ArtifactView info;
  if (const int rc = Find(transfer, target, a.name, a.space, true, &info); rc != kExitOk) return rc;
  if (const TransferStatus s = transfer.Delete(info.space, info.name); !s.ok())
    return ReportTransferFailure(s);
  std::cout << "removed " << info.space << '/' << info.name << std::endl;
  return kExitOk;
}

CLI::Option* AddSpace(CLI::App* cmd, std::string* space, const char* help) {
  return cmd->add_option("--space", *space, help)->check(CLI::IsMember({"uploads", "perm_files"}));
}

// upload, deploy-script.
void AddUploadCommands(CLI::App& app, const Target* t, int* exit_code) {
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
}

// artifacts get, artifacts rm.
void AddGetAndRemove(CLI::App* list, const Target* t, int* exit_code) {
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
}

}  // namespace

void AddArtifactCommands(CLI::App& app, const Target& target, int* exit_code) {
  const Target* t = &target;
  AddUploadCommands(app, t, exit_code);
  auto ls = std::make_shared<TransferArgs>();
  CLI::App* list =
      app.add_subcommand("artifacts", "List the broker's artifacts; `get` downloads one, `rm` removes one");
  AddSpace(list, &ls->space, "only this space: uploads or perm_files");
  list->add_flag("--json", ls->json, "print a JSON array of ArtifactInfo objects instead of a table");
  AddGetAndRemove(list, t, exit_code);
  list->callback([=] {
    if (list->get_subcommands().empty()) *exit_code = List(*t, *ls);
  });
}

}  // namespace titan::cli
