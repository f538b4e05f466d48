// PayloadProblem: the submission-time checks of command, argv, work_dir, uploads, runtime and volumes.
#include "broker/job_payload.h"

#include <set>

#include "base/relative_path.h"
#include "base/volume_mount.h"

namespace titan::broker {

bool IsCommandJob(const wire::JobSpec& spec) { return spec.command.has_value(); }

namespace {

std::string UploadsProblem(const std::vector<wire::Upload>& uploads) {
  if (uploads.size() > kMaxUploads)
    return std::to_string(uploads.size()) + " uploads are more than " + std::to_string(kMaxUploads) +
           "; pack them into an archive job or a volume";
  int64_t total = 0;
  std::set<std::string> paths;
  for (const wire::Upload& up : uploads) {
    if (std::string problem = RelativePathProblem(up.path); !problem.empty()) return "upload " + problem;
    if (up.path.back() == '/') return "upload '" + up.path + "' names a directory; give a file name";
    if (up.path == "job.log" ||
        up.path == ".titan-credential")  // the worker's own files in the job directory
      return "upload '" + up.path +
             "' is a name the worker uses in the job's directory; give it another name";
    if (!paths.insert(up.path).second) return "upload '" + up.path + "' is given twice";
    if (const int64_t mode = up.mode.value_or(0644); mode < 0 || mode > 07777)
      return "upload '" + up.path + "': mode " + std::to_string(mode) + " is not permission bits (0..0o7777)";
    total += static_cast<int64_t>(up.content.size());
  }
  if (total > kMaxUploadBytes)
    return "its uploads hold " + std::to_string(total) + " bytes, more than the " +
           std::to_string(kMaxUploadBytes) +
           " a job may carry (they travel in the submission); put larger files in artifacts (`titan upload`) "
           "or a volume";
  return {};
}

std::string VolumesProblem(const std::vector<std::string>& volumes) {
  std::set<std::string> names, links;
  for (const std::string& v : volumes) {
    Result<VolumeMount> m = ParseVolumeMount(v);
    if (!m.ok()) return m.message();
    if (!names.insert(m->name).second) return "volume '" + m->name + "' is named twice";
    if (!links.insert(m->link).second) return "two volumes are mounted at " + m->path;
  }
  return {};
}

}  // namespace

std::string PayloadProblem(const wire::JobSpec& spec) {
  if (IsCommandJob(spec)) {
    if (spec.command->empty()) return "command is empty; name a program (e.g. echo) or leave command out";
    if (!spec.file.empty())
      return "it has both a file ('" + spec.file + "') and a command ('" + *spec.command +
             "'); a job has either a file (a script) or a command, not both";
    if (spec.archive.value_or(false)) return "an archive job runs a file from its project, not a command";
  } else {
    if (spec.file.empty())
      return "it has neither a file nor a command; give a script (file) or a program (command)";
    if (spec.argv) return "argv goes with a command; a script's arguments are its args";
  }
  if (const std::string work_dir = spec.work_dir.value_or(""); !work_dir.empty()) {
    if (std::string problem = RelativePathProblem(work_dir); !problem.empty()) return "work_dir " + problem;
  }
  if (spec.uploads) {
    if (std::string problem = UploadsProblem(*spec.uploads); !problem.empty()) return problem;
  }
  if (spec.runtime && spec.runtime->find_first_not_of(' ') == std::string::npos)
    return "runtime is blank; name one a worker offers (`titan workers`) or leave it out";
  if (spec.volumes) return VolumesProblem(*spec.volumes);
  return {};
}

}  // namespace titan::broker
