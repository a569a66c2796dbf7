#pragma once
// Threaded runs of the asynchronous runtime shared by a2cid2_test and the ThreadSanitizer test.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include <decent/algorithm/a2cid2.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/sim/cluster.hpp>
#include <decent/sim/problems.hpp>
#include <decent/topology/topologies.hpp>

namespace decent::test {


/// What one threaded run leaves behind, per worker.
struct worker_result {
  std::vector<double> x, x_tilde;
  std::int64_t exchanges = 0, gradients = 0;
  std::vector<std::int64_t> exchanges_with;
  double time = 0;
  double loop_seconds = 0;  ///< wall time of the step loop (start to the last step, stop excluded)
};

struct run_settings {
  std::size_t d = 16;
  int steps = 100;
  bool with_gradient = false;  ///< f_i(x) = ½‖x − b_i‖², b_i[k] = cos(2i + k); else g = 0
  std::chrono::microseconds compute{0};  ///< sleep standing for the forward/backward pass
  /// Starting point of worker i (n, i, numel); empty: `initial`.
  std::function<std::vector<double>(int, int, std::size_t)> start = {};
  /// Steps of worker i, when they differ between workers (else `steps`).
  std::function<int(int)> steps_of = {};
  /// Compute time of worker i, when it differs between workers (else `compute`).
  std::function<std::chrono::microseconds(int)> compute_of = {};
  /// Time = the worker's count of completed steps (a thread-safe clock that ignores scheduling hiccups).
  bool step_clock = false;
  /// > 0: hand the update −apply_lr·g to `apply` instead of calling `step(g)`.
  double apply_lr = 0;
  /// With apply_lr: hand the update as separate per-tensor buffers (`apply(parameters)`), not packed.
  bool per_tensor = false;
};

/// Worker i's starting point: that of the consensus problem (i.i.d. N(0, 1) entries, seed 7).
inline std::vector<double> initial(int n, int i, std::size_t d) {
  std::vector<double> x(d);
  sim::consensus_problem<double>(n, parameter_layout{{static_cast<std::int64_t>(d)}}, 7).initial_point(i, x.data());
  return x;
}

/// Runs `Algorithm` (an async_runtime) on every worker of `g` in its own thread; each does `steps` gradient events.
template <class Algorithm, class Topology>
std::vector<worker_result> run_threads(
    const Topology& g, typename Algorithm::options o, run_settings s, parameter_layout layout = {},
    comm::inprocess_options world = {},
    const std::function<void(int, typename Algorithm::options&)>& per_rank = {}) {
  if (layout.numel() == 0) layout = parameter_layout{{static_cast<std::int64_t>(s.d)}};
  const std::size_t d = layout.numel();
  const int n = g.size();
  std::vector<worker_result> results(static_cast<std::size_t>(n));
  sim::cluster workers(n, world);
  workers.run([&](comm::inprocess c) {
    const int rank = c.rank();
    worker_result& r = results[static_cast<std::size_t>(rank)];
    r.x = s.start ? s.start(n, rank, d) : initial(n, rank, d);
    std::vector<double> grad(d, 0.0);
    typename Algorithm::options mine = o;
    std::atomic<double> ticks{0};
    if (s.step_clock) mine.clock = [&ticks] { return ticks.load(); };
    if (per_rank) per_rank(rank, mine);
    Algorithm algo(g, std::move(c), parameters<double>::packed(r.x.data(), layout), mine, exec::host(1),
                   exec::host(1));
    algo.start();
    const int steps = s.steps_of ? s.steps_of(rank) : s.steps;
    const std::chrono::microseconds compute = s.compute_of ? s.compute_of(rank) : s.compute;
    const auto loop_begin = std::chrono::steady_clock::now();
    for (int t = 0; t < steps; ++t) {
      if (compute.count() > 0) std::this_thread::sleep_for(compute);
      if (s.with_gradient)
        for (std::size_t k = 0; k < d; ++k) grad[k] = r.x[k] - std::cos(2.0 * rank + static_cast<double>(k));
      if (s.apply_lr > 0) {
        for (double& v : grad) v *= -s.apply_lr;
        if (s.per_tensor) {
          std::vector<std::vector<double>> pieces;
          for (std::size_t k = 0; k < layout.num_tensors(); ++k)
            pieces.emplace_back(grad.begin() + static_cast<std::ptrdiff_t>(layout.offset(k)),
                                grad.begin() + static_cast<std::ptrdiff_t>(layout.offset(k) + layout.shape(k).numel()));
          std::vector<typename parameters<double>::entry> entries;
          for (std::size_t k = 0; k < layout.num_tensors(); ++k) entries.push_back({pieces[k].data(), layout.shape(k)});
          algo.apply(parameters<double>(entries));
        } else {
          algo.apply(grad);
        }
      } else {
        algo.step(grad);
      }
      ticks.store(ticks.load() + 1);
    }
    r.loop_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - loop_begin).count();
    algo.stop();
    if (algo.x_tilde()) r.x_tilde.assign(algo.x_tilde(), algo.x_tilde() + d);
    r.exchanges = algo.exchanges();
    r.gradients = algo.gradients();
    r.time = algo.time();
    for (int j = 0; j < n; ++j) r.exchanges_with.push_back(algo.exchanges_with(j));
  });
  return results;
}

/// Σ_i Σ_k (x_i[k] + x̃_i[k]) (x̃ = x when absent).
inline double total_mass(const std::vector<worker_result>& rs) {
  double sum = 0;
  for (const auto& r : rs)
    for (std::size_t k = 0; k < r.x.size(); ++k) sum += r.x[k] + (r.x_tilde.empty() ? r.x[k] : r.x_tilde[k]);
  return sum;
}

/// Σ_i ‖x_i − x̄‖² over the workers' x.
inline double deviation(const std::vector<worker_result>& rs) {
  const std::size_t d = rs.front().x.size();
  double total = 0;
  for (std::size_t k = 0; k < d; ++k) {
    double mean = 0;
    for (const auto& r : rs) mean += r.x[k];
    mean /= static_cast<double>(rs.size());
    for (const auto& r : rs) total += (r.x[k] - mean) * (r.x[k] - mean);
  }
  return total;
}

inline double initial_deviation(int n, std::size_t d) {
  std::vector<worker_result> rs(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) rs[static_cast<std::size_t>(i)].x = initial(n, i, d);
  return deviation(rs);
}

}  // namespace decent::test
