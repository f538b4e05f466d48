// What a job runs and what it gets before it starts (docs/job-control.md): a script file or a command
// with its argv, uploads, work_dir, a runtime, volumes. Checked as a whole at submission.
#pragma once

#include <cstdint>
#include <string>

#include "schemas/generated/messages.h"

namespace titan::broker {

// The most upload content one job may carry (the sum of its uploads' sizes). Uploads travel inside
// JOB_SUBMIT, whose body is at most 4 MiB (docs/protocol.md), and are journaled with the spec: larger
// files belong in artifacts (`titan upload`) or a volume.
inline constexpr int64_t kMaxUploadBytes = 1 << 20;  // 1 MiB
inline constexpr size_t kMaxUploads = 1000;

// A command job: JobSpec.command set (and then no file).
bool IsCommandJob(const wire::JobSpec& spec);

// Empty when the spec's payload fields are consistent; else the problem in words that say what to do
// (the caller prefixes "job '<id>': "): a job has either a file or a command; argv only with a command;
// work_dir and each upload path relative without ".."; uploads within kMaxUploadBytes; modes within
// 0..07777; volumes "NAME:/path", each name once; a runtime name that is not blank.
std::string PayloadProblem(const wire::JobSpec& spec);

}  // namespace titan::broker
