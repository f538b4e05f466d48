// Pipeline parsing: every golden case in schemas/golden/pipelines/ (shared with the Python SDK), then
// the rules of docs/pipelines.md one by one on files written to a temp dir.
#include "cli/pipeline.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "artifacts/zip_archive.h"
#include "base/test_dir.h"
#include "cli/pipeline_test_file.h"
#include "cli/yaml_fields.h"
#include "schemas/cpp/test_paths.h"

namespace titan::cli {
namespace {

namespace fs = std::filesystem;
using wire::Datum;
using wire::Text;

const fs::path kGoldenDir = fs::path(titan::testing::SchemaPath("golden/pipelines"));

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += "0123456789abcdef"[digest[i] >> 4];
    out += "0123456789abcdef"[digest[i] & 15];
  }
  return out;
}

// A value of expected.json (JSON is YAML, so yaml-cpp reads it): quoted -> str, true/false, else int.
Datum FromJson(const YAML::Node& n) {
  if (n.IsSequence()) {
    wire::List list;
    for (const YAML::Node& item : n) list.push_back(FromJson(item));
    return Datum(std::move(list));
  }
  if (n.Tag() == "!") return Datum(Text{n.Scalar()});
  if (n.Scalar() == "true" || n.Scalar() == "false") return Datum(n.Scalar() == "true");
  return Datum(n.as<int64_t>());
}

// Every case, as its path relative to kGoldenDir without ".expected.json" ("titan_basic",
// "original_project/original_project"): cases may sit in subfolders, which then are their projects.
std::vector<std::string> GoldenCases() {
  const std::string suffix = ".expected.json";
  std::vector<std::string> names;
  for (const auto& entry : fs::recursive_directory_iterator(kGoldenDir)) {
    const std::string rel = entry.path().lexically_relative(kGoldenDir).generic_string();
    if (rel.size() > suffix.size() && rel.compare(rel.size() - suffix.size(), suffix.size(), suffix) == 0) {
      names.push_back(rel.substr(0, rel.size() - suffix.size()));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The parsed project as expected.json states it: "<name>: <entry> <entry> ..." with the entries that
// packing the folder gives, sorted; "none" without a project.
std::string ProjectOf(const Pipeline& p) {
  if (!p.project) return "none";
  testing::TempDir dir;
  const Status packed = artifacts::PackFolder(p.project->folder, dir.File(p.project->name));
  if (!packed.ok()) return packed.message();
  auto entries = artifacts::ListEntries(dir.File(p.project->name));
  if (!entries.ok()) return entries.message();
  std::sort(entries->begin(), entries->end());
  std::string out = p.project->name + ":";
  for (const std::string& e : *entries) out += " " + e;
  return out;
}

std::string ExpectedProject(const YAML::Node& expected) {
  if (!expected["project"] || expected["project"].IsNull()) return "none";
  std::string out = expected["project"]["name"].Scalar() + ":";
  for (const YAML::Node& e : expected["project"]["entries"]) out += " " + e.Scalar();
  return out;
}

class PipelineGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(PipelineGolden, ProducesTheExpectedSubmissionOrError) {
  const std::string yaml = (kGoldenDir / (GetParam() + ".yaml")).string();
  const YAML::Node expected = YAML::LoadFile((kGoldenDir / (GetParam() + ".expected.json")).string());
  Pipeline p;
  PipelineError error;
  const bool ok = ParsePipeline(yaml, &p, &error);
  if (expected["error"]) {
    ASSERT_FALSE(ok) << "parsed, but the case expects: " << expected["error"].Scalar();
    EXPECT_NE(std::string::npos, error.what.find(expected["error"].Scalar())) << error.Message();
    EXPECT_EQ(expected["line"].as<int>(), error.line) << error.Message();
    EXPECT_EQ(0u, error.Message().rfind(yaml + ":" + std::to_string(error.line) + ": ", 0))
        << error.Message();
    return;
  }
  ASSERT_TRUE(ok) << error.Message();
  EXPECT_EQ(expected["dag"].Scalar(), p.dag);
  EXPECT_EQ(
      expected["agent_run_id"].IsNull() ? std::nullopt : std::optional(expected["agent_run_id"].Scalar()),
      p.agent_run_id);
  ASSERT_EQ(expected["jobs"].size(), p.jobs.size());
  for (size_t i = 0; i < p.jobs.size(); ++i) {
    wire::Map want;
    for (auto it = expected["jobs"][i].begin(); it != expected["jobs"][i].end(); ++it) {
      want.emplace_back(it->first.Scalar(), FromJson(it->second));
    }
    EXPECT_EQ(Canonical(want), Canonical(p.jobs[i])) << "job #" << i + 1;
  }
  ASSERT_EQ(expected["files"].size(), p.files.size());
  for (size_t i = 0; i < p.files.size(); ++i) {
    EXPECT_EQ(expected["files"][i]["name"].Scalar(), p.files[i].first);
    EXPECT_EQ(expected["files"][i]["sha256"].Scalar(), Sha256Hex(p.files[i].second)) << p.files[i].first;
  }
  EXPECT_EQ(ExpectedProject(expected), ProjectOf(p));
  if (p.project) {
    EXPECT_EQ(fs::path(yaml).parent_path().string(), p.project->folder);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, PipelineGolden, ::testing::ValuesIn(GoldenCases()), [](const auto& info) {
  std::string name = info.param;
  std::replace(name.begin(), name.end(), '/', '_');
  return name;
});

TEST(PipelineGoldenDir, HasCasesForBothFormatsAndBothSpellings) {
  const std::vector<std::string> names = GoldenCases();
  for (const char* name : {"titan_basic", "joblet_basic", "daily_etl", "original_types",
                           "original_project/original_project", "original_project/original_no_project"}) {
    EXPECT_NE(names.end(), std::find(names.begin(), names.end(), name)) << name;
  }
}

TEST_F(PipelineFile, TypesScalarsAsYaml11) {
  Write("a.sh", "true\n");
  ASSERT_EQ(
      "ok",
      Parse("name: d\nagent_run_id: run-1\njobs:\n"
            "  - {id: A, script: a.sh, affinity: yes, priority: 0x10, delay: 1:30, args: \"--n 5\"}\n"));
  EXPECT_EQ("run-1", p_.agent_run_id.value_or(""));
  EXPECT_EQ("{affinity: true, args: \"--n 5\", delay_ms: 90000, file: \"a.sh\", id: \"A\", priority: 16}",
            Job(0));
  EXPECT_EQ("5: 'args' must be a string in job 'A'",
            Parse("name: d\njobs:\n  - id: A\n    script: a.sh\n    args: 5\n"));
  EXPECT_EQ("3: 'id' must be a string in job #1",
            Parse("name: d\njobs:\n  - {id: 2024-05-01, script: a.sh}\n"));
  EXPECT_EQ("3: 'affinity' must be true or false in job 'A'",
            Parse("name: d\njobs:\n  - {id: A, script: a.sh, affinity: 1}\n"));
  EXPECT_EQ("3: 'timeout' must be >= 0 seconds in job 'A'",
            Parse("name: d\njobs:\n  - {id: A, script: a.sh, timeout: -1}\n"));
}

TEST_F(PipelineFile, NamesTheLineOfEachMistake) {
  Write("a.sh", "true\n");
  EXPECT_EQ("1: the file is empty; a pipeline needs 'name' and 'jobs'", Parse("# nothing\n"));
  EXPECT_EQ("1: a pipeline is a mapping with 'name' and 'jobs'", Parse("- a\n"));
  EXPECT_EQ("1: the pipeline needs 'jobs' (a list of jobs)", Parse("name: d\n"));
  EXPECT_EQ("2: 'jobs' must be a list of at least one job", Parse("name: d\njobs: []\n"));
  EXPECT_EQ("3: job 'A' needs 'script' or 'file' (the file to run, relative to this YAML file's folder)",
            Parse("name: d\njobs:\n  - id: A\n"));
  EXPECT_EQ("4: duplicate key 'id' (first on line 3)", Parse("name: d\njobs:\n  - id: A\n    id: B\n"));
  EXPECT_EQ("4: jobs mix 'id' (Titan format) and 'name' (Joblet format); use one format for the whole file",
            Parse("name: d\njobs:\n  - {id: A, script: a.sh}\n  - {name: B, command: ls}\n"));
  EXPECT_EQ("2: unknown key 'agent_run_id' in the pipeline (known: version, name, jobs)",
            Parse("name: d\nagent_run_id: r\njobs:\n  - {name: B, command: ls}\n"));
  EXPECT_EQ("3: invalid YAML: end of sequence flow not found", Parse("name: d\njobs: [\n"));
  EXPECT_EQ("2: invalid YAML: expected a single document in the stream, but found another document",
            Parse("a: 1\n---\nb: 2\n"));
  EXPECT_EQ("4: 'priority' is out of range in job 'A' (at most 9223372036854775807)",
            Parse("name: d\njobs:\n  - id: A\n    priority: 99999999999999999999\n    script: a.sh\n"));
  EXPECT_EQ("2: keys must be plain words; got 1", Parse("name: d\n1: x\njobs: [{id: A, script: a.sh}]\n"));
  EXPECT_EQ("4: 'env' must be a map of strings in job 'A'; quote the value of N, e.g. N: \"5\"",
            Parse("name: d\njobs:\n  - id: A\n    env: {N: 5}\n    script: a.sh\n"));
  EXPECT_EQ("3: 'dependencies' must be a list of strings in job 'A'; quote 1",
            Parse("name: d\njobs:\n  - {id: A, script: a.sh, dependencies: [1]}\n"));
  const std::string type_error =
      "'type' must be RUN_PAYLOAD, TASK or run (runs once) or SERVICE (kept running), in any case, in job "
      "'A'; "
      "got 'BATCH'";
  EXPECT_EQ("3: " + type_error, Parse("name: d\njobs:\n  - {id: A, script: a.sh, type: BATCH}\n"));
  EXPECT_EQ(dir_.File("p.yaml") + ":3: " + type_error, error_.Message());
}

TEST_F(PipelineFile, ScriptsAreSentOnceByBaseName) {
  Write("a.sh", "echo a\n");
  Write("sub/a.sh", "echo other\n");
  ASSERT_EQ("ok", Parse("name: d\njobs:\n  - {id: A, script: a.sh}\n  - {id: B, script: ./sub/../a.sh}\n"));
  ASSERT_EQ(1u, p_.files.size());
  EXPECT_EQ("a.sh", p_.files[0].first);
  EXPECT_EQ("echo a\n", p_.files[0].second);
  const std::string clash =
      Parse("name: d\njobs:\n  - {id: A, script: a.sh}\n  - {id: B, script: sub/a.sh}\n");
  EXPECT_EQ(0u, clash.rfind("4: two different files are named 'a.sh' (", 0)) << clash;
  EXPECT_EQ("3: script 'sub' is a directory; name the file to run",
            Parse("name: d\njobs:\n  - {id: A, script: sub}\n"));
  ASSERT_EQ("ok", Parse("name: d\njobs:\n  - {id: A, script: " + dir_.File("sub/a.sh") + "}\n"));
  EXPECT_EQ("echo other\n", p_.files[0].second);
}

TEST_F(PipelineFile, JobletCommandsBecomeScriptsOrGeneratedShellScripts) {
  Write("tool.py", "print(1)\n");
  ASSERT_EQ("ok",
            Parse("name: d\njobs:\n"
                  "  - {name: a, command: python3, args: [tool.py, x y], requirement: GPU, timeout: 2}\n"
                  "  - {name: b, command: python3, args: [missing.py, $HOME], depends_on: [a]}\n"));
  EXPECT_EQ("{args: \"'x y'\", file: \"tool.py\", id: \"a\", requirement: \"GPU\", timeout_ms: 2000}",
            Job(0));
  EXPECT_EQ("{file: \"b.sh\", id: \"b\", parents: [\"a\"]}", Job(1));
  EXPECT_EQ("#!/bin/sh\nexec python3 missing.py '$HOME'\n", p_.files.at(1).second);
  EXPECT_EQ("3: job name 'x/y' cannot name its generated script x/y.sh; drop the '/'",
            Parse("name: d\njobs:\n  - {name: x/y, command: ls}\n"));
}

TEST_F(PipelineFile, SelfReferencingAliasIsRefusedNotFollowed) {
  EXPECT_EQ("1: the YAML nests deeper than 64 levels", Parse("a: &x [*x]\n"));
}

TEST(PipelineErrors, UnreadableFileHasNoLine) {
  Pipeline p;
  PipelineError error;
  ASSERT_FALSE(ParsePipeline("/nonexistent/p.yaml", &p, &error));
  EXPECT_EQ("/nonexistent/p.yaml: cannot read the pipeline: No such file or directory", error.Message());
}

TEST(PipelineShellQuote, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ("--date=2024-05-01", PipelineShellQuote("--date=2024-05-01"));
  EXPECT_EQ("'two words'", PipelineShellQuote("two words"));
  EXPECT_EQ("'it'\"'\"'s'", PipelineShellQuote("it's"));
  EXPECT_EQ("''", PipelineShellQuote(""));
}

TEST(BuildPipelineSubmit, MessagesFollowTheSchema) {
  Pipeline p{"d", "run-1", {wire::JobSpec{.id = "A", .file = "a.sh"}}, {{"a.sh", "x"}}};
  std::string why;
  const wire::Message submit = BuildPipelineSubmit(p);
  EXPECT_TRUE(wire::Validate(submit, &why)) << why;
  EXPECT_EQ("\"run-1\"", wire::Render(*submit.Find("agent_run_id")));
  const wire::Message schedule = BuildScheduleAdd("nightly", "0 2 * * *", p);
  EXPECT_TRUE(wire::Validate(schedule, &why)) << why;
  EXPECT_EQ("[{name: \"a.sh\", content: b\"x\"}]", wire::Render(*schedule.Find("files")));
  EXPECT_EQ("\"d\"", wire::Render(*schedule.Find("dag")));  // each tick's DAG is d@<time>
  EXPECT_EQ(nullptr, schedule.Find("agent_run_id"));
}

}  // namespace
}  // namespace titan::cli
