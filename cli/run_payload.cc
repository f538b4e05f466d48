// --command, --work-dir, --upload, --runtime, --cold-start and --volume for `titan run`.
#include "cli/run_payload.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace titan::cli {

// The sum of a job's uploads the broker accepts (broker/job_payload.h, kMaxUploadBytes).
constexpr int64_t kMaxUploadBytes = 1 << 20;

void AddPayloadOptions(CLI::App* cmd, RunArgs* a, std::vector<std::string>* upload_flags) {
  cmd->add_option("--command", a->command,
                  "run this program instead of a script: FILE and ARGS become its arguments, passed as given "
                  "(no shell): titan run --command echo -- hello 'a b'");
  cmd->add_option("--work-dir", a->work_dir,
                  "directory to start in, relative to the job's directory (created)");
  cmd->add_option(
         "--upload", *upload_flags,
         "LOCAL[:PATH]: copy this file into the job's directory (as PATH, default its name) with its "
         "mode before it starts (repeatable; at most 1 MiB in all)")
      ->take_all();
  cmd->add_option("--runtime", a->runtime,
                  "a runtime a worker offers (`titan workers`): its interpreter runs the script or command");
  cmd->add_flag("--cold-start", a->cold_start,
                "a .py job: start a fresh interpreter instead of forking the worker's warm one");
  cmd->add_option(
         "--volume", a->volumes,
         "NAME:/path: use volume NAME (`titan volume create`); the job runs on its worker and finds it "
         "at $TITAN_VOLUME_<NAME> and at ./path (repeatable)")
      ->take_all();
}

std::string ReadUploads(const std::vector<std::string>& flags, RunArgs* args) {
  int64_t total = 0;
  for (const std::string& flag : flags) {
    // LOCAL:PATH splits at the last ':' unless LOCAL itself exists with it (a file name with a colon).
    std::string local = flag, path;
    if (const size_t colon = flag.rfind(':'); colon != std::string::npos && !std::filesystem::exists(flag)) {
      local = flag.substr(0, colon);
      path = flag.substr(colon + 1);
    }
    if (path.empty()) path = std::filesystem::path(local).filename().string();
    struct stat st {};
    if (::stat(local.c_str(), &st) != 0)
      return "--upload " + flag + ": cannot read '" + local + "': " + std::strerror(errno);
    if (!S_ISREG(st.st_mode)) return "--upload " + flag + ": '" + local + "' is not a regular file";
    total += st.st_size;
    if (total > kMaxUploadBytes)
      return "--upload: the uploads hold more than 1 MiB; put larger files in artifacts (`titan upload`) or "
             "a volume";
    std::ifstream in(local, std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) return "--upload " + flag + ": cannot read '" + local + "'";
    args->uploads.push_back(wire::Upload{
        .path = path, .content = std::move(content), .mode = static_cast<int64_t>(st.st_mode & 07777)});
  }
  return {};
}

}  // namespace titan::cli
