// Steps to reach loss 1e-6 on heterogeneous quadratics (docs/algorithms.md §2.5, zeta^2 = 1, d = 10, f64) for
// relaysgd (binary tree, chain), gossip (ring) and all-reduce at n = 6, 12, 24, 48, each with a small
// learning-rate sweep — the experiment of RelaySGD's Fig. 2 on the simulator.
//
// Writes every run to CSV (algorithm,topology,n,lr,steps_to_target,final_loss; steps_to_target empty when the
// budget ran out) and prints the best learning rate per (algorithm, n).
// Usage: relaysgd_steps [--out FILE.csv] [--budget STEPS] [--sizes 6,12,24,48]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <decent_sim/runner.hpp>

int main(int argc, char** argv) {
  std::string out = "relaysgd_steps.csv";
  std::int64_t budget = 3000;
  std::vector<int> sizes = {6, 12, 24, 48};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--out") == 0) out = argv[i + 1];
    else if (std::strcmp(argv[i], "--budget") == 0) budget = std::atoll(argv[i + 1]);
    else if (std::strcmp(argv[i], "--sizes") == 0) {
      sizes.clear();
      for (const char* p = argv[i + 1]; *p;) {
        char* end = nullptr;
        sizes.push_back(static_cast<int>(std::strtol(p, &end, 10)));
        p = *end ? end + 1 : end;
      }
    } else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  struct method {
    const char* algorithm;
    const char* family;
    std::vector<double> rates;
  };
  const std::vector<method> methods = {
      {"relaysgd", "binary-tree", {0.3, 0.6, 1.0, 1.5, 2.0, 3.0}},
      {"relaysgd", "chain", {0.3, 0.6, 1.0, 1.5, 2.0, 3.0}},
      {"gossip", "ring", {0.01, 0.03, 0.1, 0.3, 0.6, 1.0}},
      {"allreduce", "complete", {0.3, 0.6, 1.0, 1.5, 2.0}},
  };
  constexpr double target = 1e-6;
  std::ofstream csv(out);
  if (!csv) {
    std::fprintf(stderr, "cannot write %s\n", out.c_str());
    return 1;
  }
  csv << "algorithm,topology,n,lr,steps_to_target,final_loss\n";
  std::printf("%-10s %-12s %4s %8s %10s\n", "algorithm", "topology", "n", "best lr", "steps");
  for (const auto& m : methods) {
    for (int n : sizes) {
      std::optional<std::int64_t> best;
      double best_lr = 0;
      for (double lr : m.rates) {
        const std::string topology = std::string(m.family) + ":" + std::to_string(n);
        const auto spec = decent::sim::parse_arguments(
            {"--algorithm", m.algorithm, "--topology", topology, "--problem", "quadratic", "--heterogeneity", "1",
             "--lr", std::to_string(lr), "--steps", std::to_string(budget), "--precision", "f64"});
        std::optional<std::int64_t> reached;
        double final_loss = std::numeric_limits<double>::quiet_NaN();
        decent::sim::run(spec, {}, [&](const decent::sim::row& r) {
          final_loss = *r.loss;
          if (*r.loss <= target) reached = r.step;
          return reached.has_value() || !(*r.loss < 1e30);  // stop at the target, or on divergence
        });
        csv << m.algorithm << ',' << topology << ',' << n << ',' << lr << ',';
        if (reached) csv << *reached;
        csv << ',' << final_loss << '\n';
        if (reached && (!best || *reached < *best)) {
          best = reached;
          best_lr = lr;
        }
      }
      if (best) std::printf("%-10s %-12s %4d %8.2f %10lld\n", m.algorithm, m.family, n, best_lr, static_cast<long long>(*best));
      else std::printf("%-10s %-12s %4d %8s %10s\n", m.algorithm, m.family, n, "-", "never");
      std::fflush(stdout);
    }
  }
  std::printf("\nall runs: %s (steps_to_target empty: loss stayed above %g within %lld steps)\n", out.c_str(), target,
              static_cast<long long>(budget));
  return 0;
}
