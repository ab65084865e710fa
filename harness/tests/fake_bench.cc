// Fake benchmark binary: prints a small table and, given
// --benchmark_out=FILE, writes a fixed Google Benchmark JSON report to FILE:
// BM_Fast/64 takes 2 us, BM_Slow/64 10 us (a speedup of 5), and BM_Fast/64
// reports a GFLOP/s counter of 12.5.
#include <cstdio>
#include <cstring>
#include <string>

namespace {

constexpr char kReport[] = R"({
  "context": {"num_cpus": 2},
  "benchmarks": [
    {"name": "BM_Fast/64", "run_type": "iteration", "iterations": 1000,
     "real_time": 2.0, "cpu_time": 2.0, "time_unit": "us", "GFLOP/s": 12.5},
    {"name": "BM_Slow/64", "run_type": "iteration", "iterations": 100,
     "real_time": 10.0, "cpu_time": 10.0, "time_unit": "us"}
  ]
}
)";

}  // namespace

int main(int argc, char** argv) {
  std::string out;
  for (int i = 1; i < argc; ++i) {
    constexpr char kFlag[] = "--benchmark_out=";
    if (std::strncmp(argv[i], kFlag, sizeof kFlag - 1) == 0) out = argv[i] + sizeof kFlag - 1;
  }
  std::printf("Benchmark      Time\nBM_Fast/64     2 us\nBM_Slow/64    10 us\n");
  if (out.empty()) return 0;
  std::FILE* file = std::fopen(out.c_str(), "w");
  if (file == nullptr) return 1;
  std::fputs(kReport, file);
  return std::fclose(file) == 0 ? 0 : 1;
}
