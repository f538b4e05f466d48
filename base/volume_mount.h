// A job's use of a volume, as JobSpec.volumes spells it: "NAME:/path" (docs/job-control.md). Parsed by
// the broker (validation, placement) and by the worker (the job's environment and link).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace titan {

struct VolumeMount {
  std::string name;  // the volume's name
  std::string path;  // the mount path as given ("/data"); the job finds it at <job dir>/<path without '/'>
  std::string link;  // that link's name inside the job directory: path without its leading '/' ("data")
};

// Error when `name` is not a volume name: 1-64 letters, digits, '-', '_', '.', not starting with '.'.
Status CheckVolumeName(std::string_view name);

// "NAME:/path" -> its parts. Errors say what is wrong: no ':', a bad name, a path that is not absolute,
// is "/" alone, or has a ".." component.
Result<VolumeMount> ParseVolumeMount(std::string_view spec);

// A volume size: a whole number of bytes, or with a unit B, KB, MB, GB, TB (powers of 1024; K, M, G, T,
// KiB, MiB, GiB, TiB and any case too): "1GB" is 1073741824. Error: not such a number, zero, or over 1 PiB.
Result<int64_t> ParseVolumeSize(std::string_view text);

// TITAN_VOLUME_<NAME>: the name upper-cased, every character other than a letter or digit as '_'.
std::string VolumeEnvName(std::string_view name);

}  // namespace titan
