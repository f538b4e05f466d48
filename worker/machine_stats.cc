// Parsing /proc/stat, /proc/meminfo, /proc/loadavg and nvidia-smi's CSV, and the CPU share between samples.
#include "worker/machine_stats.h"

#include <algorithm>
#include <charconv>
#include <string>

namespace titan::worker {
namespace {

// Splits `text` into lines (without the '\n').
std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    out.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Whitespace-separated words.
std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::optional<int64_t> Int(std::string_view s) {
  s = Trim(s);
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// "1.52" -> 1520; nullopt unless digits with an optional fraction.
std::optional<int64_t> Milli(std::string_view s) {
  const size_t dot = s.find('.');
  const std::optional<int64_t> whole = Int(s.substr(0, dot));
  if (!whole) return std::nullopt;
  int64_t frac = 0;
  if (dot != std::string_view::npos) {
    std::string digits(s.substr(dot + 1, 3));
    if (digits.empty() || !Int(digits)) return std::nullopt;
    while (digits.size() < 3) digits += '0';
    frac = *Int(digits);
  }
  return *whole * 1000 + frac;
}

}  // namespace

std::optional<CpuTimes> ParseProcStat(std::string_view proc_stat) {
  for (std::string_view line : Lines(proc_stat)) {
    const std::vector<std::string_view> w = Words(line);
    if (w.size() < 5 || w[0] != "cpu") continue;
    CpuTimes t;
    // user nice system idle iowait irq softirq steal [guest guest_nice: already in user and nice]
    for (size_t i = 1; i < w.size() && i <= 8; ++i) {
      const std::optional<int64_t> v = Int(w[i]);
      if (!v) return std::nullopt;
      t.total += *v;
      if (i != 4 && i != 5) t.busy += *v;
    }
    return t;
  }
  return std::nullopt;
}

int64_t CountCpus(std::string_view proc_stat) {
  int64_t n = 0;
  for (std::string_view line : Lines(proc_stat)) {
    if (line.size() > 3 && line.substr(0, 3) == "cpu" && line[3] >= '0' && line[3] <= '9') ++n;
  }
  return n;
}

std::optional<MemInfo> ParseMeminfo(std::string_view proc_meminfo) {
  std::optional<int64_t> total, available, free, buffers, cached;
  for (std::string_view line : Lines(proc_meminfo)) {
    const std::vector<std::string_view> w = Words(line);
    if (w.size() < 2) continue;
    const std::optional<int64_t> kib = Int(w[1]);
    if (!kib) continue;
    if (w[0] == "MemTotal:") total = *kib * 1024;
    if (w[0] == "MemAvailable:") available = *kib * 1024;
    if (w[0] == "MemFree:") free = *kib * 1024;
    if (w[0] == "Buffers:") buffers = *kib * 1024;
    if (w[0] == "Cached:") cached = *kib * 1024;
  }
  if (!total) return std::nullopt;
  if (!available) {
    if (!free) return std::nullopt;
    available = *free + buffers.value_or(0) + cached.value_or(0);
  }
  return MemInfo{.total_bytes = *total, .available_bytes = std::min(*available, *total)};
}

std::optional<LoadAvg> ParseLoadavg(std::string_view proc_loadavg) {
  const std::vector<std::string_view> w = Words(Lines(proc_loadavg).empty() ? "" : Lines(proc_loadavg)[0]);
  if (w.size() < 3) return std::nullopt;
  const std::optional<int64_t> a = Milli(w[0]), b = Milli(w[1]), c = Milli(w[2]);
  if (!a || !b || !c) return std::nullopt;
  return LoadAvg{.load1_milli = *a, .load5_milli = *b, .load15_milli = *c};
}

std::vector<wire::GpuStats> ParseNvidiaSmi(std::string_view csv) {
  constexpr int64_t kMiB = 1024 * 1024;
  std::vector<wire::GpuStats> out;
  for (std::string_view line : Lines(csv)) {
    std::vector<std::string_view> cells;
    while (true) {
      const size_t comma = line.find(',');
      cells.push_back(Trim(line.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      line.remove_prefix(comma + 1);
    }
    if (cells.size() != 5) continue;
    const std::optional<int64_t> index = Int(cells[0]), util = Int(cells[2]), used = Int(cells[3]),
                                 total = Int(cells[4]);
    if (!index || !util || !used || !total || *util > 100) continue;
    out.push_back(wire::GpuStats{.index = *index,
                                 .name = std::string(cells[1]),
                                 .util_pct = *util,
                                 .mem_used_bytes = *used * kMiB,
                                 .mem_total_bytes = *total * kMiB});
  }
  return out;
}

std::optional<int64_t> CpuPermille(const CpuTimes& before, const CpuTimes& after) {
  const int64_t total = after.total - before.total;
  const int64_t busy = after.busy - before.busy;
  if (total <= 0 || busy < 0 || busy > total) return std::nullopt;
  return (busy * 1000 + total / 2) / total;
}

wire::MachineStats MachineStatsOf(const MachineSample& sample, const std::optional<CpuTimes>& previous) {
  wire::MachineStats m;
  if (sample.cpu && previous) m.cpu_permille = CpuPermille(*previous, *sample.cpu);
  if (sample.cpus > 0) m.cpus = sample.cpus;
  if (sample.mem) {
    m.mem_total_bytes = sample.mem->total_bytes;
    m.mem_used_bytes = sample.mem->total_bytes - sample.mem->available_bytes;
  }
  if (sample.load) {
    m.load1_milli = sample.load->load1_milli;
    m.load5_milli = sample.load->load5_milli;
    m.load15_milli = sample.load->load15_milli;
  }
  if (sample.disk) {
    m.disk_free_bytes = sample.disk->free_bytes;
    m.disk_total_bytes = sample.disk->total_bytes;
  }
  if (sample.gpus) m.gpus = *sample.gpus;
  return m;
}

}  // namespace titan::worker
