// Time per step of the synchronous algorithms in the in-process simulator (decent-sim's engine, f32, consensus,
// one thread per worker on the host executor) against its traffic bound, with a STREAM triad measured in the
// same run on buffers as large as all workers' models together (three buffers of n·d floats, all cores).
//
// Time per step is marginal: the run of S2 steps minus the run of S1 steps, divided by S2 − S1 (set-up, the
// first touch of the buffers and the metric rows cancel; --every is larger than S2), best of --repeat pairs.
// The traffic bound is the bytes one fused pass per step must move, divided by the triad bandwidth (triad counts
// 3 floats per element, as STREAM does). relaysgd-grad is left out: consensus starts the workers apart, which the
// grad variant refuses. Values moved per coordinate and worker, f32:
//   allreduce      2           read x, write the average
//   gossip         deg + 2     read x and the neighbours' models, write x (ring: 4)
//   relaysgd       3 + 2·deg_i read x, x⁰ and the incoming messages, write x and the outgoing messages
//   powergossip    4           rank 1, one iteration: X·Q̂ and Xᵀ·P̂ read x once each, the update reads and writes it
//   choco          12          sign compressor (decent-sim's default; the messages, 1/32 of a value per coordinate
//                              and neighbour, uncounted): the scale (read x, x̂), the signs with x̂ += q and
//                              s += W_ii·q (read x, x̂, s, write x̂, s), then s += Σ_j W_ij·q_j and x += γ(s − x̂)
//                              (read s, x, x̂, write s, x)
// Usage: step_bench [--workers N] [--dims 100000,1000000] [--steps S1,S2] [--repeat R] [--out FILE.md]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <limits>
#include <string>
#include <vector>

#include <decent/exec/host.hpp>
#include <decent/topology/spec.hpp>
#include <decent_sim/runner.hpp>

#include "triad.hpp"

namespace {

std::vector<long> parse_list(const char* text) {
  std::vector<long> out;
  for (const char* p = text; *p;) {
    char* end = nullptr;
    out.push_back(std::strtol(p, &end, 10));
    if (end == p) break;
    p = *end ? end + 1 : end;
  }
  return out;
}

using triad_kernel = decent::bench::triad_kernel<float>;

/// Best triad bandwidth (bytes/s, 3 floats per element) over `repeat` passes on three buffers of n floats.
double triad_bandwidth(std::size_t n, int repeat) {
  const decent::exec::host ex;  // all cores
  auto a = ex.allocate<float>(n), b = ex.allocate<float>(n), c = ex.allocate<float>(n);
  ex.for_each(n, triad_kernel{b.data(), a.data(), a.data(), 1.0f});  // first touch on the team
  ex.for_each(n, triad_kernel{c.data(), a.data(), a.data(), 1.0f});
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeat; ++r) {
    const auto start = std::chrono::steady_clock::now();
    ex.for_each(n, triad_kernel{a.data(), b.data(), c.data(), 0.5f});
    const std::chrono::duration<double> t = std::chrono::steady_clock::now() - start;
    best = std::min(best, t.count());
  }
  return 3.0 * sizeof(float) * static_cast<double>(n) / best;
}

struct method {
  const char* algorithm;
  const char* family;  ///< topology family; n is appended
  bool matrix;         ///< consensus on one near-square matrix of d parameters (PowerGossip) instead of a vector
};

/// Values one fused pass moves per coordinate, summed over workers (see the file comment).
double values_per_coordinate(const method& m, const decent::topology::graph& g) {
  const std::string a = m.algorithm;
  double total = 0;
  for (int i = 0; i < g.size(); ++i) {
    const auto deg = static_cast<double>(g.neighbors(i).size());
    if (a == "allreduce") total += 2;
    else if (a == "gossip") total += deg + 2;
    else if (a == "relaysgd") total += 3 + 2 * deg;
    else if (a == "powergossip") total += 4;
    else total += 12;  // choco, sign
  }
  return total;
}

double run_seconds(const decent::sim::run_spec& spec) {
  const auto start = std::chrono::steady_clock::now();
  decent::sim::run(spec);
  const std::chrono::duration<double> t = std::chrono::steady_clock::now() - start;
  return t.count();
}

}  // namespace

int main(int argc, char** argv) {
  int workers = 16;
  std::vector<long> dims = {100000, 1000000};
  std::vector<long> steps = {10, 40};
  int repeat = 2;
  std::string out = "steps.md";
  const char* usage = "usage: step_bench [--workers N] [--dims 100000,1000000] [--steps S1,S2] [--repeat R] [--out FILE.md]\n";
  for (int i = 1; i < argc; i += 2) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(usage, stdout);
      return 0;
    }
    const bool known = std::strcmp(argv[i], "--workers") == 0 || std::strcmp(argv[i], "--dims") == 0 ||
                       std::strcmp(argv[i], "--steps") == 0 || std::strcmp(argv[i], "--repeat") == 0 ||
                       std::strcmp(argv[i], "--out") == 0;
    if (!known) {
      std::fprintf(stderr, "step_bench: unknown flag %s\n%s", argv[i], usage);
      return 2;
    }
    if (i + 1 == argc) {
      std::fprintf(stderr, "step_bench: %s needs a value\n%s", argv[i], usage);
      return 2;
    }
    if (std::strcmp(argv[i], "--workers") == 0) workers = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--dims") == 0) dims = parse_list(argv[i + 1]);
    else if (std::strcmp(argv[i], "--steps") == 0) steps = parse_list(argv[i + 1]);
    else if (std::strcmp(argv[i], "--repeat") == 0) repeat = std::atoi(argv[i + 1]);
    else out = argv[i + 1];
  }
  if (workers < 2 || dims.empty() || steps.size() != 2 || steps[0] < 1 || steps[1] <= steps[0] || repeat < 1) {
    std::fprintf(stderr, "step_bench: need --workers >= 2, --dims D[,D...], --steps S1,S2 with 0 < S1 < S2, "
                         "--repeat >= 1\n");
    return 2;
  }
  const std::vector<method> methods = {
      {"allreduce", "complete", false}, {"gossip", "ring", false}, {"relaysgd", "binary-tree", false},
      {"powergossip", "ring", true},    {"choco", "ring", false},
  };
  std::ofstream md(out);
  if (!md) {
    std::fprintf(stderr, "cannot write %s\n", out.c_str());
    return 1;
  }
  md << std::setprecision(3);
  std::string command = "build/bench/step_bench";
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  md << "Time per step against the traffic bound (`" << command << "`, " << workers
     << " workers, f32 consensus, marginal time per step; bound = the bytes of one fused pass ÷ the triad of "
        "the same run on 3 buffers of n·d floats; see bench/step_bench.cpp for the bytes of each algorithm).\n\n";
  md << "| algorithm | topology | d | triad GB/s | ms per step | bound: MB per step | bound ms | ratio |\n";
  md << "|---|---|---|---|---|---|---|---|\n";
  std::printf("%-14s %-16s %9s %8s %10s %10s %9s %7s\n", "algorithm", "topology", "d", "triad", "ms/step",
              "bound MB", "bound ms", "ratio");
  for (const long d : dims) {
    const double triad = triad_bandwidth(static_cast<std::size_t>(workers) * static_cast<std::size_t>(d), 10);
    for (const method& m : methods) {
      const std::string topology = std::string(m.family) + ":" + std::to_string(workers);
      std::vector<std::string> args = {"--algorithm", m.algorithm, "--topology", topology, "--every",
                                       std::to_string(steps[1] + 1)};
      std::string where = std::to_string(d);
      if (m.matrix) {
        // The most square A×B with A·B = d (PowerGossip compresses matrices).
        long rows = 1;
        for (long a = 1; a * a <= d; ++a)
          if (d % a == 0) rows = a;
        where = std::to_string(d / rows) + "x" + std::to_string(rows);
        args.insert(args.end(), {"--shape", where});
      } else {
        args.insert(args.end(), {"--dim", std::to_string(d)});
      }
      double t1 = std::numeric_limits<double>::infinity(), t2 = t1;
      for (int r = 0; r < repeat; ++r) {
        for (int k = 0; k < 2; ++k) {
          auto a = args;
          a.insert(a.end(), {"--steps", std::to_string(steps[static_cast<std::size_t>(k)])});
          const double t = run_seconds(decent::sim::parse_arguments(a));
          (k == 0 ? t1 : t2) = std::min(k == 0 ? t1 : t2, t);
        }
      }
      const double per_step = (t2 - t1) / static_cast<double>(steps[1] - steps[0]);
      const auto g = decent::topology::parse(topology).graph_at(0);
      const double bytes = values_per_coordinate(m, g) * static_cast<double>(d) * sizeof(float);
      const double bound = bytes / triad;
      std::printf("%-14s %-16s %9s %8.2f %10.3f %10.1f %9.3f %7.2f\n", m.algorithm, topology.c_str(), where.c_str(),
                  triad / 1e9, per_step * 1e3, bytes / 1e6, bound * 1e3, per_step / bound);
      md << "| " << m.algorithm << " | " << topology << " | " << where << " | " << triad / 1e9 << " | "
         << per_step * 1e3 << " | " << bytes / 1e6 << " | " << bound * 1e3 << " | " << per_step / bound << " |\n";
      std::fflush(stdout);
    }
  }
  std::printf("table: %s\n", out.c_str());
  return 0;
}
