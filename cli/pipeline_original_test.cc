// The original SDK's spelling of the Titan format (docs/pipelines.md): `file` jobs run from the project
// (the YAML file's folder, zipped), `project: false`, `depends_on`, the type aliases, services that need
// a port, fractional seconds, `version`. tests/python/test_pipeline_original_parse.py has the same cases.
#include <gtest/gtest.h>

#include "cli/pipeline.h"
#include "cli/pipeline_test_file.h"

namespace titan::cli {
namespace {

const std::string kFixIt =
    "; with 'project: true' (the default) the YAML file's folder is zipped as the project, so give a path "
    "inside it, or send the file with 'script' instead";

TEST_F(PipelineFile, FileJobsRunFromTheProjectZippedUnderThePipelinesName) {
  Write("steps/a.py", "print(1)\n");
  Write("b.sh", "echo b\n");
  ASSERT_EQ("ok", Parse("name: My ETL\njobs:\n  - {id: A, file: ./steps/x/../a.py, args: x}\n"
                        "  - {id: B, script: b.sh, depends_on: [A]}\n"));
  EXPECT_EQ("{archive: true, args: \"x\", file: \"My_ETL.zip/steps/a.py\", id: \"A\"}", Job(0));
  EXPECT_EQ("{file: \"b.sh\", id: \"B\", parents: [\"A\"]}", Job(1));
  ASSERT_TRUE(p_.project.has_value());
  EXPECT_EQ("My_ETL.zip", p_.project->name);
  EXPECT_EQ(dir_.path(), p_.project->folder);
  ASSERT_EQ(1u, p_.files.size());
  EXPECT_EQ("b.sh", p_.files[0].first);

  ASSERT_EQ("ok", Parse("name: My ETL\nproject: false\njobs:\n  - {id: A, file: steps/a.py}\n"));
  EXPECT_EQ("{file: \"a.py\", id: \"A\"}", Job(0));
  EXPECT_FALSE(p_.project.has_value());
  EXPECT_EQ("print(1)\n", p_.files.at(0).second);
  ASSERT_EQ("ok", Parse("name: d\nproject: false\njobs:\n  - {id: A, file: " + dir_.File("b.sh") + "}\n"));
  ASSERT_EQ("ok", Parse("name: d\nproject: true\njobs:\n  - {id: A, script: b.sh}\n"));
  EXPECT_FALSE(p_.project.has_value());  // only `file` jobs use the project
}

TEST_F(PipelineFile, AProjectFileMustBeAFileInsideTheFolder) {
  Write("steps/a.py", "print(1)\n");
  const auto job = [](const std::string& file) {
    return "name: d\njobs:\n  - id: A\n    file: " + file + "\n";
  };
  EXPECT_EQ("4: 'file' '/etc/passwd' is an absolute path" + kFixIt, Parse(job("/etc/passwd")));
  EXPECT_EQ("4: 'file' 'steps/../../a.py' leads outside the YAML file's folder" + kFixIt,
            Parse(job("steps/../../a.py")));
  EXPECT_EQ("4: 'file' 'steps/..' names the YAML file's folder itself; name the file to run",
            Parse(job("steps/..")));
  EXPECT_EQ("4: file 'steps/b.py' not found (looked for " + dir_.File("steps/b.py") +
                "); paths are relative to the YAML file's folder",
            Parse(job("steps/b.py")));
  EXPECT_EQ("4: file 'steps' is a directory; name the file to run", Parse(job("steps")));
  EXPECT_EQ("4: cannot read file 'steps/a.py/x': Not a directory", Parse(job("steps/a.py/x")));
}

TEST_F(PipelineFile, TypesAreCaseInsensitiveAndAFileServiceNeedsAPort) {
  Write("a.py", "print(1)\n");
  ASSERT_EQ("ok",
            Parse("name: d\njobs:\n  - {id: A, script: a.py, type: sErViCe}\n"
                  "  - {id: B, file: a.py, type: task}\n  - {id: C, file: a.py, type: Service, port: 80}\n"));
  EXPECT_EQ("{file: \"a.py\", id: \"A\", job_type: \"SERVICE\"}", Job(0));
  EXPECT_EQ("{archive: true, file: \"d.zip/a.py\", id: \"B\"}", Job(1));
  EXPECT_EQ("{archive: true, file: \"d.zip/a.py\", id: \"C\", job_type: \"SERVICE\", port: 80}", Job(2));
  EXPECT_EQ("3: job 'S' is a service run from 'file', so it needs 'port' (the port it listens on)",
            Parse("name: d\njobs:\n  - id: S\n    file: a.py\n    type: service\n"));
  EXPECT_EQ("4: job 'S' is a service run from 'file', so it needs 'port' (the port it listens on)",
            Parse("name: d\nproject: false\njobs:\n  - {id: S, file: a.py, type: SERVICE}\n"));
  // Only ASCII letters fold: the long s (U+017F) does not become an S.
  EXPECT_EQ(
      "3: 'type' must be RUN_PAYLOAD, TASK or run (runs once) or SERVICE (kept running), in any case, in "
      "job 'A'; got '\xC5\xBF"
      "ervice'",
      Parse("name: d\njobs:\n  - {id: A, script: a.py, type: \xC5\xBF"
            "ervice}\n"));
  EXPECT_EQ("3: 'type' must be a string in job 'A'",
            Parse("name: d\njobs:\n  - {id: A, script: a.py, type: 1}\n"));
}

TEST_F(PipelineFile, SecondsMayBeFractionalAndRoundHalfUpToTheMillisecond) {
  Write("a.py", "print(1)\n");
  const auto delay = [this](const std::string& value) {
    const std::string got = Parse("name: d\njobs:\n  - {id: A, script: a.py, delay: " + value + "}\n");
    return got == "ok" ? Job(0) : got;
  };
  EXPECT_EQ("{delay_ms: 1, file: \"a.py\", id: \"A\"}", delay("0.0005"));
  EXPECT_EQ("{delay_ms: 1000, file: \"a.py\", id: \"A\"}", delay("1.0004"));
  EXPECT_EQ("{delay_ms: 90500, file: \"a.py\", id: \"A\"}", delay("1:30.5"));
  EXPECT_EQ("{delay_ms: 9223372036854775000, file: \"a.py\", id: \"A\"}", delay("9223372036854775"));
  EXPECT_EQ("3: 'delay' is too many seconds in job 'A'", delay("9223372036854776"));
  EXPECT_EQ("3: 'delay' is too many seconds in job 'A'", delay("9223372036854775.9"));
  EXPECT_EQ("3: 'delay' is too many seconds in job 'A'", delay(".inf"));
  EXPECT_EQ("3: 'delay' must be >= 0 seconds in job 'A'", delay("-0.5"));
  EXPECT_EQ("3: 'delay' must be >= 0 seconds in job 'A'", delay(".nan"));
  EXPECT_EQ("3: 'delay' must be a number of seconds in job 'A'", delay("\"1.5\""));
  EXPECT_EQ("3: 'delay' is out of range in job 'A' (at most 9223372036854775807)",
            delay("9223372036854775808"));
  ASSERT_EQ("ok", Parse("name: d\njobs:\n  - {name: j, command: ls, timeout: 2.25}\n"));
  EXPECT_EQ("{file: \"j.sh\", id: \"j\", timeout_ms: 2250}", Job(0));
}

TEST_F(PipelineFile, VersionIsAnyStringOrNumberAndProjectIsAFlag) {
  Write("a.py", "print(1)\n");
  for (const char* version : {"1", "1.0", "\"1.0\"", "v2"}) {
    EXPECT_EQ("ok",
              Parse(std::string("version: ") + version + "\nname: d\njobs:\n  - {id: A, script: a.py}\n"));
  }
  EXPECT_EQ("1: 'version' must be a string or a number in the pipeline (it is accepted and ignored)",
            Parse("version: [1]\nname: d\njobs:\n  - {id: A, script: a.py}\n"));
  EXPECT_EQ("2: 'project' must be true or false in the pipeline",
            Parse("name: d\nproject: \"no\"\njobs:\n  - {id: A, script: a.py}\n"));
  EXPECT_EQ("2: unknown key 'project' in the pipeline (known: version, name, jobs)",
            Parse("name: d\nproject: true\njobs:\n  - {name: j, command: ls}\n"));
}

TEST_F(PipelineFile, APipelineNameTooLongForItsProjectZipIsRefusedOnlyWhenAJobUsesTheProject) {
  Write("a.py", "print(1)\n");
  const std::string longest(251, 'x');
  ASSERT_EQ("ok", Parse("name: " + longest + "\njobs:\n  - {id: A, file: a.py}\n"));
  EXPECT_EQ(longest + ".zip", p_.project->name);
  EXPECT_EQ("1: the pipeline's name is too long to name its project zip ('" + std::string(40, 'x') +
                "...', more than 255 bytes); shorten 'name'",
            Parse("name: " + longest + "y\njobs:\n  - {id: A, file: a.py}\n"));
  EXPECT_EQ("ok", Parse("name: " + longest + "y\njobs:\n  - {id: A, script: a.py}\n"));
}

TEST(ProjectZipName, ReplacesEachCharacterOutsideTheSafeSetByOneUnderscore) {
  EXPECT_EQ("Nightly_ETL_v2.zip", ProjectZipName("Nightly ETL/v2"));
  EXPECT_EQ("a.b-c_D9.zip", ProjectZipName("a.b-c_D9"));
  EXPECT_EQ("caf__au_lait.zip", ProjectZipName("caf\xC3\xA9 au lait"));  // é is one character
  EXPECT_EQ("__.zip", ProjectZipName("\xE6\x97\xA5\xE6\x9C\xAC"));       // 日本
  EXPECT_EQ("_.zip", ProjectZipName("\xF0\x9F\x9A\x80"));                // one 4-byte character
  EXPECT_EQ("..zip", ProjectZipName("."));
}

}  // namespace
}  // namespace titan::cli
