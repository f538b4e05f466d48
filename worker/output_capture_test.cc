// OutputCapture / JobLog: line splitting and numbering, over-long lines, the per-call read budget,
// two streams into one log, and 100 MB from a real child with not a byte lost or moved.
#include "worker/output_capture.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <random>

#include "worker/child_process.h"
#include "worker/exec_test_util.h"

namespace titan::exec {
namespace {

using testing::Command;
using testing::TempDir;
using testing::WaitForExit;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Collects lines as "seq stream text" ("... (partial)" when incomplete).
struct Collected {
  std::vector<std::string> lines;
  LineSink Sink() {
    return [this](const OutputLine& l) {
      lines.push_back(std::to_string(l.seq) + " " + std::string(StreamName(l.stream)) + " " +
                      std::string(l.text) + (l.complete ? "" : " (partial)"));
    };
  }
};

// A pipe whose read end is non-blocking, as ChildProcess hands out.
struct TestPipe {
  UniqueFd r, w;
  TestPipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) == 0) {
      r.Reset(fds[0]);
      w.Reset(fds[1]);
      ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    }
  }
  void Write(std::string_view s) const {
    ASSERT_EQ(static_cast<ssize_t>(s.size()), ::write(w.get(), s.data(), s.size()));
  }
};

TEST(OutputCapture, HandsOnCompleteLinesThenTheUnterminatedTailAtEof) {
  TempDir dir;
  Collected got;
  auto log = JobLog::Open(dir / "job.log", got.Sink());
  TestPipe pipe;
  OutputCapture cap(pipe.r.get(), Stream::kStdout, log.get());

  pipe.Write("a\nbb\n\nccc");
  ASSERT_TRUE(cap.OnReadable().ok());
  EXPECT_EQ((std::vector<std::string>{"0 stdout a", "1 stdout bb", "2 stdout "}), got.lines);
  EXPECT_FALSE(cap.eof());
  pipe.Write("c\nd");
  pipe.w.Reset();  // EOF
  ASSERT_TRUE(cap.OnReadable().ok());
  EXPECT_TRUE(cap.eof());
  EXPECT_EQ((std::vector<std::string>{"0 stdout a", "1 stdout bb", "2 stdout ", "3 stdout cccc",
                                      "4 stdout d (partial)"}),
            got.lines);
  EXPECT_EQ("a\nbb\n\ncccc\nd", Slurp(dir / "job.log"));
  EXPECT_EQ(12u, cap.bytes());
  EXPECT_EQ(5u, log->lines());
}

TEST(OutputCapture, NothingReadableIsNotAnError) {
  TempDir dir;
  auto log = JobLog::Open(dir / "job.log", nullptr);
  TestPipe pipe;
  OutputCapture cap(pipe.r.get(), Stream::kStdout, log.get());
  EXPECT_TRUE(cap.OnReadable().ok());
  EXPECT_FALSE(cap.eof());
  EXPECT_EQ(0u, cap.bytes());
}

// Feeds `input` in chunks of the given sizes (cycled) and returns what the sink saw.
std::vector<std::string> FeedInChunks(const std::string& input, const std::vector<size_t>& sizes,
                                      size_t max_line) {
  TempDir dir;
  Collected got;
  auto log = JobLog::Open(dir / "job.log", got.Sink(), max_line);
  TestPipe pipe;
  OutputCapture cap(pipe.r.get(), Stream::kStdout, log.get());
  for (size_t pos = 0, i = 0; pos < input.size(); ++i) {
    const size_t n = std::min(sizes[i % sizes.size()], input.size() - pos);
    pipe.Write(std::string_view(input).substr(pos, n));
    pos += n;
    EXPECT_TRUE(cap.OnReadable().ok());
  }
  pipe.w.Reset();
  EXPECT_TRUE(cap.OnReadable().ok());
  EXPECT_TRUE(cap.eof());
  EXPECT_EQ(input, Slurp(dir / "job.log"));
  return got.lines;
}

TEST(OutputCapture, LongLinesSplitIntoMaxLinePiecesWhereverReadsFall) {
  const std::string input =
      std::string(20, 'x') + "\n" + std::string(16, 'y') + "\nshort\n" + std::string(17, 'z');
  const std::vector<std::string> expected = {
      "0 stdout xxxxxxxx (partial)", "1 stdout xxxxxxxx (partial)", "2 stdout xxxx",
      "3 stdout yyyyyyyy (partial)", "4 stdout yyyyyyyy",           "5 stdout short",
      "6 stdout zzzzzzzz (partial)", "7 stdout zzzzzzzz (partial)", "8 stdout z (partial)"};
  EXPECT_EQ(expected, FeedInChunks(input, {input.size()}, 8));
  EXPECT_EQ(expected, FeedInChunks(input, {1}, 8));
  EXPECT_EQ(expected, FeedInChunks(input, {16}, 8));  // "yyyy...y" arrives exactly before its '\n'
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    std::vector<size_t> sizes;
    for (int i = 0; i < 7; ++i) sizes.push_back(1 + rng() % 12);
    EXPECT_EQ(expected, FeedInChunks(input, sizes, 8)) << "round " << round;
  }
}

TEST(OutputCapture, ReadBudgetBoundsOneCall) {
  TempDir dir;
  auto log = JobLog::Open(dir / "job.log", nullptr);
  TestPipe pipe;
  OutputCapture cap(pipe.r.get(), Stream::kStdout, log.get(),
                    CaptureLimits{.read_size = 16, .max_reads_per_call = 2});
  pipe.Write(std::string(100, 'q'));
  ASSERT_TRUE(cap.OnReadable().ok());
  EXPECT_EQ(32u, cap.bytes());
  ASSERT_TRUE(cap.OnReadable().ok());
  EXPECT_EQ(64u, cap.bytes());
  pollfd pfd = {pipe.r.get(), POLLIN, 0};
  EXPECT_EQ(1, ::poll(&pfd, 1, 0));  // the rest is still waiting in the pipe
}

TEST(OutputCapture, TwoStreamsShareOneSequenceAndInterleaveWholeLines) {
  TempDir dir;
  Collected got;
  auto log = JobLog::Open(dir / "job.log", got.Sink());
  TestPipe out, err;
  OutputCapture out_cap(out.r.get(), Stream::kStdout, log.get());
  OutputCapture err_cap(err.r.get(), Stream::kStderr, log.get());
  out.Write("o1\no2-start");
  err.Write("e1\n");
  ASSERT_TRUE(out_cap.OnReadable().ok());
  ASSERT_TRUE(err_cap.OnReadable().ok());
  out.Write("-end\n");
  ASSERT_TRUE(out_cap.OnReadable().ok());
  EXPECT_EQ((std::vector<std::string>{"0 stdout o1", "1 stderr e1", "2 stdout o2-start-end"}), got.lines);
  EXPECT_EQ("o1\ne1\no2-start-end\n", Slurp(dir / "job.log"));
}

TEST(OutputCapture, ALogFileTheDiskCannotTakeStillHandsOnEveryLine) {
  Collected got;
  auto log = JobLog::Open("/dev/full", got.Sink());  // every write: ENOSPC
  TestPipe pipe;
  OutputCapture cap(pipe.r.get(), Stream::kStdout, log.get());
  pipe.Write("a\nb\n");
  ASSERT_TRUE(cap.OnReadable().ok()) << "the job's output keeps flowing";
  pipe.Write("c\n");
  pipe.w.Reset();
  ASSERT_TRUE(cap.OnReadable().ok());
  EXPECT_TRUE(cap.eof());
  EXPECT_EQ((std::vector<std::string>{"0 stdout a", "1 stdout b", "2 stdout c"}), got.lines);
  EXPECT_TRUE(log->truncated());
  EXPECT_EQ("cannot write job log '/dev/full': No space left on device", log->truncation().message());
  EXPECT_TRUE(IsOutOfSpace(log->truncation()));
}

// The file is made at the first output: a job that prints nothing leaves none, and one whose file cannot
// be made still hands its lines on, with the log truncated for that reason.
TEST(OutputCapture, LogFileIsMadeAtTheFirstOutput) {
  TempDir dir;
  auto quiet = JobLog::Open(dir / "quiet.log", nullptr);
  ASSERT_TRUE(quiet->Append(Stream::kStdout, "").ok());
  EXPECT_NE(0, ::access((dir / "quiet.log").c_str(), F_OK));
  EXPECT_FALSE(quiet->truncated());

  { std::ofstream(dir / "again.log") << "attempt 1\n"; }
  auto again = JobLog::Open(dir / "again.log", nullptr);
  ASSERT_TRUE(again->Append(Stream::kStdout, "attempt 2\n").ok());
  EXPECT_EQ("attempt 1\nattempt 2\n", Slurp(dir / "again.log"));  // appended, not replaced

  Collected got;
  auto lost = JobLog::Open("/nonexistent-titan-dir/job.log", got.Sink());
  ASSERT_TRUE(lost->Append(Stream::kStdout, "a\nb\n").ok());
  EXPECT_EQ((std::vector<std::string>{"0 stdout a", "1 stdout b"}), got.lines);
  EXPECT_TRUE(lost->truncated());
  EXPECT_EQ("cannot open job log '/nonexistent-titan-dir/job.log': No such file or directory",
            lost->truncation().message());

  // Once the file can be made (a disk freed), later output is written; the log stays truncated.
  const std::string late = dir / "late/job.log";
  auto later = JobLog::Open(late, nullptr);
  ASSERT_TRUE(later->Append(Stream::kStdout, "lost\n").ok());
  std::filesystem::create_directories(dir / "late");
  ASSERT_TRUE(later->Append(Stream::kStdout, "kept\n").ok());
  EXPECT_EQ("kept\n", Slurp(late));
  EXPECT_TRUE(later->truncated());
}

// The bytes of `seq 1 N`, truncated to `limit`, produced piece by piece.
class SeqBytes {
 public:
  explicit SeqBytes(uint64_t limit) : left_(limit) {}
  // Next up to `n` bytes; empty at the end.
  std::string Next(size_t n) {
    while (buf_.size() < n && left_ > buf_.size()) {
      char num[24];
      char* end = std::to_chars(num, num + sizeof(num), ++i_).ptr;
      buf_.append(num, end);
      buf_.push_back('\n');
    }
    const size_t take = static_cast<size_t>(std::min<uint64_t>({n, buf_.size(), left_}));
    std::string out = buf_.substr(0, take);
    buf_.erase(0, take);
    left_ -= take;
    return out;
  }

 private:
  uint64_t left_;
  uint64_t i_ = 0;
  std::string buf_;
};

TEST(OutputCapture, HundredMegabytesArriveIntactAndInOrder) {
  constexpr uint64_t kBytes = 100'000'000;
  TempDir dir;
  // Checks each line against the next number as it arrives: a lost, doubled or reordered line fails.
  uint64_t next = 1, seq = 0, delivered = 0, bad = 0, partial = 0;
  auto sink = [&](const OutputLine& l) {
    char num[24];
    const std::string_view want(num, std::to_chars(num, num + sizeof(num), next).ptr - num);
    if (l.seq != seq++ || l.stream != Stream::kStdout) ++bad;
    if (l.complete ? l.text != want : !want.starts_with(l.text)) ++bad;
    partial += l.complete ? 0 : 1;
    delivered += l.text.size() + (l.complete ? 1 : 0);
    ++next;
  };
  auto log = JobLog::Open(dir / "job.log", sink);
  Result<ChildProcess> child =
      ChildProcess::Spawn(Command({"bash", "-c", "seq 1 13000000 | head -c 100000000"}));
  ASSERT_TRUE(child.ok()) << child.message();
  OutputCapture out(child->stdout_fd(), Stream::kStdout, log.get());
  OutputCapture err(child->stderr_fd(), Stream::kStderr, log.get());

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (!out.eof() || !err.eof()) {
    pollfd pfds[2] = {{out.eof() ? -1 : out.fd(), POLLIN, 0}, {err.eof() ? -1 : err.fd(), POLLIN, 0}};
    ASSERT_GT(::poll(pfds, 2, testing::MillisLeft(deadline)), 0)
        << "timed out after " << out.bytes() << " bytes";
    if (pfds[0].revents != 0) {
      ASSERT_TRUE(out.OnReadable().ok());
    }
    if (pfds[1].revents != 0) {
      ASSERT_TRUE(err.OnReadable().ok());
    }
  }
  EXPECT_EQ("exit code 0", WaitForExit(*child).value_or(ExitStatus{}).Render());
  EXPECT_EQ(kBytes, out.bytes());
  EXPECT_EQ(0u, err.bytes());
  EXPECT_EQ(0u, bad);
  EXPECT_EQ(1u, partial);  // head cut the last number short
  EXPECT_EQ(kBytes, delivered);
  EXPECT_EQ(seq, log->lines());

  std::ifstream in(dir / "job.log", std::ios::binary);
  SeqBytes expected(kBytes);
  std::string chunk(1 << 20, '\0');
  uint64_t compared = 0;
  while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0) {
    const size_t n = static_cast<size_t>(in.gcount());
    ASSERT_EQ(expected.Next(n), std::string_view(chunk).substr(0, n))
        << "first difference near byte " << compared;
    compared += n;
  }
  EXPECT_EQ(kBytes, compared);
  EXPECT_EQ("", expected.Next(1));
}

}  // namespace
}  // namespace titan::exec
