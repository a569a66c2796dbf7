// decent-sim: simulate N decentralized workers in one process and print their metrics as CSV.
// The flag contract is in docs/architecture.md; `decent-sim --help` lists it.
#include <chrono>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <new>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#if __has_include(<sys/resource.h>)
#include <sys/resource.h>  // getrusage: the peak resident memory of --timing
#define DECENT_SIM_HAS_RUSAGE 1
#endif

#include <decent_sim/describe.hpp>
#include <decent_sim/runner.hpp>
#if defined(__CUDACC__)  // built by nvcc when DECENT_ENABLE_CUDA=ON: --backend cuda is available
#include <decent_sim/runner_cuda.cuh>
#endif

namespace {

constexpr const char* usage = R"(usage: decent-sim [flags]
  --algorithm allreduce|gossip|relaysgd|relaysgd-grad|powergossip|choco|async-gossip|a2cid2|a2cid2-low-rank|
              d2|gradient-tracking|sgp  (default gossip; --rank, --iterations, --no-warm-start for powergossip
              and a2cid2-low-rank; sgp needs --topology exponential:N)
  --topology  ring:N|chain:N|star:N|complete:N|torus:RxC|hypercube:N|exponential:N|one-peer-exponential:N|
              binary-tree:N|double-binary-tree:N|random-regular:N:D[:SEED]|edges:FILE|bfs:ROOT:SPEC  (default ring:16)
  --problem   consensus|quadratic|logistic                                         (default consensus)
  --shape AxB[,CxD...] | --dim D   parameters of consensus; --dim for quadratic/logistic (default 10)
  --steps T   synchronous steps (default 100)      --time T   virtual time (asynchronous algorithms)
  --lr --momentum --gamma --rank --iterations --no-warm-start --rate --compressor
  --quasi-global-momentum  gossip with quasi-global momentum: --momentum is then the rule's, the local step plain
  --heterogeneity Z2 (default 1) --noise SIGMA --mu (0.5) --r0 (100) --seed S
  --precision f32|f64 (default f32)  --backend host|cuda  --every K  --csv PATH (default stdout)
  --max-memory SIZE[K|M|G|T]  refuse a run whose estimated memory is larger (default: the machine's memory)
  --describe  print the topology's JSON summary (uses --rate, default 1) and exit
  --timing    at the end, one line on stderr: set-up time (to the row of step 0), time per step (or per unit of
              virtual time), peak resident memory
output: CSV step,time,consensus,relative_consensus,loss,bytes_per_worker
exit status: 0, 2 for bad flags (one line on stderr), 1 when the run fails (e.g. diverges: stops at the first
non-finite metric)
)";

/// The process's peak resident memory in GiB (0 where it cannot be read).
double peak_resident_gib() {
#if defined(DECENT_SIM_HAS_RUSAGE)
  rusage resources{};
#if defined(__APPLE__)
  constexpr double unit = 1.0;     // bytes
#else
  constexpr double unit = 1024.0;  // KiB (Linux)
#endif
  if (getrusage(RUSAGE_SELF, &resources) == 0)
    return static_cast<double>(resources.ru_maxrss) * unit / (1024.0 * 1024.0 * 1024.0);
#endif
  return 0;
}

/// --timing's line: the set-up (until the row of step 0 was out), the rest of the run per step (or per unit of
/// virtual time), the peak resident memory.
std::string timing_line(const decent::sim::run_spec& spec, double setup, double total, const decent::sim::row& last) {
  const bool asynchronous = decent::sim::detail::find_algorithm(spec.algorithm).asynchronous;
  const double amount = asynchronous ? last.time : static_cast<double>(last.step);
  const double rest = total - setup;
  std::ostringstream os;
  os << std::setprecision(4) << "decent-sim: set-up " << setup << " s, then "
     << (asynchronous ? "virtual time " : "") << amount << (asynchronous ? "" : " steps") << " in " << rest << " s";
  if (amount > 0) os << " (" << rest / amount << (asynchronous ? " s per unit of time)" : " s per step)");
  os << ", peak resident memory " << peak_resident_gib() << " GiB";
  return os.str();
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args)
    if (a == "--help" || a == "-h") {
      std::fputs(usage, stdout);
      return 0;
    }
  try {
    const decent::sim::run_spec spec = decent::sim::parse_arguments(args);
    if (spec.describe) {
      std::cout << decent::sim::describe(spec.topology, spec.rate.value_or(1.0)) << '\n';
      return 0;
    }
    std::ofstream file;
    if (spec.csv) {
      file.open(*spec.csv);
      decent::expects(file.good(), "cannot open --csv file '", *spec.csv, "' for writing");
    }
    std::ostream& out = spec.csv ? static_cast<std::ostream&>(file) : std::cout;
    // The header goes out with the first row, so that a setup error leaves stdout empty.
    bool header = false;
    const auto start = std::chrono::steady_clock::now();
    const auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
    double setup = 0;  // until the first row (step 0) was out
    decent::sim::row last;
    const decent::sim::row_sink sink = [&](const decent::sim::row& r) {
      if (!std::exchange(header, true)) {
        out << decent::sim::csv_header << '\n';
        setup = seconds();
      }
      out << decent::sim::format_row(r) << '\n';
      last = r;
    };
#if defined(__CUDACC__)
    if (spec.backend == "cuda") {
      decent::sim::run_cuda(spec, sink);
    } else {
      decent::sim::run(spec, sink);
    }
#else
    decent::sim::run(spec, sink);
#endif
    out.flush();
    if (spec.timing) std::cerr << timing_line(spec, setup, seconds(), last) << '\n';
    return 0;
  } catch (const decent::invalid_argument& e) {  // bad flags or an impossible setup
    std::cerr << "decent-sim: " << e.what() << '\n';
    return 2;
  } catch (const std::bad_alloc&) {  // bad_array_new_length included
    std::cerr << "decent-sim: out of memory: the run asked for more memory than the machine could give (the "
                 "estimate of --max-memory did not catch it): lower --dim/--shape or the number of workers\n";
    return 1;
  } catch (const std::exception& e) {  // the run failed (diverged, a worker failed)
    std::cerr << "decent-sim: " << e.what() << '\n';
    return 1;
  }
}
