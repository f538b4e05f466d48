// Volumes and job payloads at the broker: the registry survives a restart, a job naming volumes runs only
// on their worker, removal is refused while a job uses one, and command jobs / uploads / work_dir are
// checked at submission.
#include "broker/core_test_fixture.h"
#include "broker/job_payload.h"

namespace titan::broker {
namespace {

class VolumesTest : public BrokerCoreTest {
 protected:
  Message SubmitSpec(wire::JobSpec spec, bool with_file = true) {
    wire::JobSubmitMsg req;
    if (with_file) req.files = {JobFile()};
    req.jobs.push_back(std::move(spec));
    return Client(std::move(req).ToMessage());
  }
  Message Create(const std::string& name, std::optional<std::string> worker = std::nullopt,
                 std::optional<std::string> size = std::nullopt,
                 std::optional<std::string> type = std::nullopt) {
    return Client(
        wire::VolumeCreateMsg{.name = name, .size = size, .type = type, .worker = worker}.ToMessage());
  }
  // "name@worker:type:size:jobs" for each volume VOLUME_LIST reports.
  std::string Volumes() {
    Result<wire::VolumeListReplyMsg> list =
        wire::VolumeListReplyMsg::From(Client(wire::VolumeListMsg{}.ToMessage()));
    std::string out;
    for (const wire::VolumeInfo& v : list->volumes) {
      std::string jobs;
      for (const std::string& j : v.jobs.value_or(std::vector<std::string>{}))
        jobs += (jobs.empty() ? "" : ",") + j;
      out += (out.empty() ? "" : " ") + v.name + "@" + v.worker + ":" + v.type + ":" +
             std::to_string(v.size_bytes.value_or(0)) + ":" + jobs;
    }
    return out;
  }
  // The VOLUME_ENSURE / VOLUME_DELETE messages sent so far, "ensure@w1:a,b delete@w1:a"; clears the record.
  std::string VolumeMessages() {
    std::string out;
    for (const auto& o : sent_) {
      if (o.kind != Outgoing::kWorker) continue;
      std::string line;
      if (auto e = wire::VolumeEnsureMsg::From(o.msg); o.msg.type == MsgType::kVolumeEnsure && e.ok()) {
        for (const auto& v : e->volumes) line += (line.empty() ? "" : ",") + v.name;
        line = "ensure@" + o.identity.substr(3) + ":" + line;
      } else if (auto d = wire::VolumeDeleteMsg::From(o.msg);
                 o.msg.type == MsgType::kVolumeDelete && d.ok()) {
        line = "delete@" + o.identity.substr(3) + ":" + d->name;
      } else {
        continue;
      }
      out += (out.empty() ? "" : " ") + line;
    }
    sent_.clear();
    return out;
  }
  wire::JobSpec UsingVolume(const std::string& id, const std::string& volume) {
    wire::JobSpec spec = Spec({id});
    spec.volumes = std::vector<std::string>{volume};
    return spec;
  }
};

TEST_F(VolumesTest, TheRegistrySurvivesARestartAndWorkersGetTheirVolumesAgain) {
  Join("w1", 2);
  Join("w2", 2);
  sent_.clear();
  ASSERT_EQ("VOLUME_LIST_REPLY", ErrorOf(Create("data", "w2", "1GB")));
  ASSERT_EQ("VOLUME_LIST_REPLY", ErrorOf(Create("fast", "w2", "256MB", "memory")));
  EXPECT_EQ("ensure@w2:data ensure@w2:fast", VolumeMessages());
  EXPECT_EQ("data@w2:filesystem:1073741824: fast@w2:memory:268435456:", Volumes());
  Stop();
  Open();
  EXPECT_EQ("data@w2:filesystem:1073741824: fast@w2:memory:268435456:", Volumes());
  sent_.clear();
  Join("w2", 2);  // registers with the new broker: told its volumes again
  Join("w1", 2);  // holds none: told nothing
  EXPECT_EQ("ensure@w2:data,fast", VolumeMessages());
}

TEST_F(VolumesTest, CreateRefusesWhatCannotBe) {
  EXPECT_EQ("INVALID: no live worker to hold volume 'v'; start one (`titan worker`) first",
            ErrorOf(Create("v")));
  Join("w1", 2);
  EXPECT_EQ("INVALID: worker 'w9' is not live; name a live worker (`titan stats`) or leave --worker out",
            ErrorOf(Create("v", "w9")));
  EXPECT_EQ(
      "INVALID: volume size 'lots' is not a size; give bytes or a number with a unit, e.g. 500MB, 1GB "
      "(1024-based)",
      ErrorOf(Create("v", std::nullopt, "lots")));
  EXPECT_EQ("INVALID: a memory volume needs a size (e.g. --size 256MB): it is a tmpfs of that size",
            ErrorOf(Create("v", std::nullopt, std::nullopt, "memory")));
  EXPECT_EQ("INVALID: volume type 'nfs' is unknown; use filesystem (a directory) or memory (a tmpfs)",
            ErrorOf(Create("v", std::nullopt, std::nullopt, "nfs")));
  EXPECT_NE(std::string::npos, ErrorOf(Create("../x")).find("volume name '../x' is not"));
  ASSERT_EQ("VOLUME_LIST_REPLY", ErrorOf(Create("v")));  // no type: a filesystem volume
  EXPECT_EQ("v@w1:filesystem:0:", Volumes());
  EXPECT_EQ(
      "INVALID: volume 'v' exists already (on worker w1); remove it first (`titan volume rm v`) or choose "
      "another name",
      ErrorOf(Create("v")));
}

TEST_F(VolumesTest, AJobUsingAVolumeRunsOnlyOnItsWorkerAndWaitsForIt) {
  Join("w1", 4);
  Join("w2", 1);
  ASSERT_EQ("VOLUME_LIST_REPLY", ErrorOf(Create("data", "w2")));
  Assignments();
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitSpec(UsingVolume("a", "data:/data"))));
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitSpec(UsingVolume("b", "data:/data"))));
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitSpec(Spec({"c"}))));
  // w2 has one slot: b waits for it, and does not hold up c, which w1 takes.
  EXPECT_EQ("a@w2 c@w1", Assignments());
  EXPECT_EQ("QUEUED", State("b"));
  Done("w2", "a", 0);
  EXPECT_EQ("b@w2", Assignments());
}

TEST_F(VolumesTest, AJobWaitsForTheVolumesWorkerAndSaysSo) {
  Join("w1", 4);
  Join("w2", 4);
  ASSERT_EQ("VOLUME_LIST_REPLY", ErrorOf(Create("data", "w2")));
  Advance(5000, {"w1"});  // w2 is lost
  Assignments();
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitSpec(UsingVolume("a", "data:/data"))));
  EXPECT_EQ("", Assignments());
  Result<wire::JobInfoMsg> info = wire::JobInfoMsg::From(Client(wire::JobGetMsg{.id = "a"}.ToMessage()));
  EXPECT_EQ(
      "waiting for worker w2, which holds its volumes and is not live; start it again (`titan worker "
      "--name w2`) or stop the job",
      info->job->reason.value_or(""));
  Join("w2", 4);
  EXPECT_EQ("a@w2", Assignments());
}

TEST_F(VolumesTest, RemoveIsRefusedWhileAJobUsesTheVolume) {
  Join("w1", 4);
  ASSERT_EQ("VOLUME_LIST_REPLY", ErrorOf(Create("data")));
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitSpec(UsingVolume("a", "data:/data"))));
  EXPECT_EQ("data@w1:filesystem:0:a", Volumes());
  EXPECT_EQ(
      "INVALID: volume 'data' is in use by unfinished jobs: a; wait for them to end or stop them (`titan "
      "stop ID`), then remove it",
      ErrorOf(Client(wire::VolumeRemoveMsg{.name = "data"}.ToMessage())));
  Done("w1", "a", 0);
  sent_.clear();
  EXPECT_EQ("OK", ErrorOf(Client(wire::VolumeRemoveMsg{.name = "data"}.ToMessage())));
  EXPECT_EQ("delete@w1:data", VolumeMessages());
  EXPECT_EQ("", Volumes());
  EXPECT_EQ("NOT_FOUND: no volume 'data'; see `titan volume list`",
            ErrorOf(Client(wire::VolumeRemoveMsg{.name = "data"}.ToMessage())));
  Stop();
  Open();
  EXPECT_EQ("", Volumes());  // the removal was journaled
}

TEST_F(VolumesTest, AJobNamingAnUnknownVolumeOrTwoWorkersVolumesIsRefused) {
  Join("w1", 4);
  Join("w2", 4);
  EXPECT_EQ("INVALID: job 'a': volume 'nope' does not exist; create it first (`titan volume create nope`)",
            ErrorOf(SubmitSpec(UsingVolume("a", "nope:/data"))));
  ASSERT_EQ("VOLUME_LIST_REPLY", ErrorOf(Create("x", "w1")));
  ASSERT_EQ("VOLUME_LIST_REPLY", ErrorOf(Create("y", "w2")));
  wire::JobSpec both = Spec({"b"});
  both.volumes = std::vector<std::string>{"x:/x", "y:/y"};
  EXPECT_EQ(
      "INVALID: job 'b': volumes 'x' and 'y' are on different workers (w1, w2); a job runs on one worker, "
      "so use volumes of one worker",
      ErrorOf(SubmitSpec(both)));
  EXPECT_EQ("INVALID: job 'c': volume 'x' is not NAME:/path (e.g. data:/data)",
            ErrorOf(SubmitSpec(UsingVolume("c", "x"))));
}

TEST_F(VolumesTest, ACommandJobNeedsNoFileAndIsAssignedWithoutOne) {
  Join("w1", 4);
  wire::JobSpec cmd{
      .id = "echo", .file = "", .command = "echo", .argv = std::vector<std::string>{"a b", "c"}};
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitSpec(cmd, /*with_file=*/false)));
  for (const auto& o : sent_) {
    if (o.msg.type != MsgType::kJobAssign) continue;
    Result<wire::JobAssignMsg> assign = wire::JobAssignMsg::From(o.msg);
    ASSERT_TRUE(assign.ok());
    EXPECT_EQ("", assign->file_sha256);
    EXPECT_EQ(0, assign->file_size);
    EXPECT_EQ((std::vector<std::string>{"a b", "c"}), assign->job.argv.value());
  }
  EXPECT_EQ("echo@w1", Assignments());
  Result<wire::JobInfoMsg> info = wire::JobInfoMsg::From(Client(wire::JobGetMsg{.id = "echo"}.ToMessage()));
  EXPECT_EQ("echo", info->job->command.value_or(""));
  EXPECT_EQ(2u, info->job->argv.value_or(std::vector<std::string>{}).size());
}

TEST_F(VolumesTest, PayloadsAreCheckedAtSubmission) {
  Join("w1", 4);
  wire::JobSpec both = Spec({"both"});
  both.command = "echo";
  EXPECT_EQ(
      "INVALID: job 'both': it has both a file ('job.sh') and a command ('echo'); a job has either a file "
      "(a script) or a command, not both",
      ErrorOf(SubmitSpec(both)));
  EXPECT_EQ(
      "INVALID: job 'none': it has neither a file nor a command; give a script (file) or a program (command)",
      ErrorOf(SubmitSpec(wire::JobSpec{.id = "none", .file = ""}, false)));
  wire::JobSpec argv = Spec({"argv"});
  argv.argv = std::vector<std::string>{"x"};
  EXPECT_EQ("INVALID: job 'argv': argv goes with a command; a script's arguments are its args",
            ErrorOf(SubmitSpec(argv)));
  wire::JobSpec dir = Spec({"dir"});
  dir.work_dir = "../up";
  EXPECT_EQ(
      "INVALID: job 'dir': work_dir '../up' leaves the job directory (a '..' component); give a path inside "
      "it",
      ErrorOf(SubmitSpec(dir)));
  wire::JobSpec abs = Spec({"abs"});
  abs.uploads = std::vector<wire::Upload>{{.path = "/etc/x", .content = "x"}};
  EXPECT_EQ("INVALID: job 'abs': upload '/etc/x' is absolute; give a path relative to the job directory",
            ErrorOf(SubmitSpec(abs)));
  wire::JobSpec reserved = Spec({"reserved"});
  reserved.uploads = std::vector<wire::Upload>{{.path = "job.log", .content = "x"}};
  EXPECT_EQ(
      "INVALID: job 'reserved': upload 'job.log' is a name the worker uses in the job's directory; give "
      "it another name",
      ErrorOf(SubmitSpec(reserved)));
  wire::JobSpec big = Spec({"big"});
  big.uploads = std::vector<wire::Upload>{{.path = "a", .content = std::string(kMaxUploadBytes, 'x')},
                                          {.path = "b", .content = "y"}};
  EXPECT_EQ(
      "INVALID: job 'big': its uploads hold 1048577 bytes, more than the 1048576 a job may carry (they "
      "travel in the submission); put larger files in artifacts (`titan upload`) or a volume",
      ErrorOf(SubmitSpec(big)));
  wire::JobSpec mode = Spec({"mode"});
  mode.uploads = std::vector<wire::Upload>{{.path = "a", .content = "", .mode = 070000}};
  EXPECT_NE(std::string::npos, ErrorOf(SubmitSpec(mode)).find("is not permission bits"));
  wire::JobSpec fits = Spec({"fits"});
  fits.uploads = std::vector<wire::Upload>{{.path = "a", .content = std::string(kMaxUploadBytes, 'x')}};
  fits.work_dir = "out/x";
  EXPECT_EQ("JOB_ACCEPTED", ErrorOf(SubmitSpec(fits)));
  Stop();
  Open();  // the spec, uploads included, comes back from the journal
  EXPECT_EQ(kMaxUploadBytes,
            static_cast<int64_t>(core_->FindJob("fits")->spec.uploads->at(0).content.size()));
}

}  // namespace
}  // namespace titan::broker
