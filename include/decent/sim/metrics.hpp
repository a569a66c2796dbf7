#pragma once
/// @file
/// @brief The simulator's metrics over all workers' parameters (decent-sim's CSV columns).

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include <decent/sim/problem.hpp>

namespace decent::sim {

/// One CSV row of decent-sim: `step,time,consensus,relative_consensus,loss,bytes_per_worker`.
struct row {
  std::int64_t step = 0;
  double time = 0;                            ///< virtual time (synchronous runs: the step)
  double consensus = 0;                       ///< (1/n) Σ_i ‖x_i − x̄‖²
  std::optional<double> relative_consensus;   ///< Σ_i ‖x_i − x̄‖² / Σ_i ‖x_i⁰ − x̄⁰‖²; none when the start is a consensus
  std::optional<double> loss;                 ///< f(x̄) − f* (or f(x̄)); none for pure consensus
  double bytes_per_worker = 0;                ///< mean cumulative payload bytes sent per worker
};

/// Worker i's parameters in host memory, for i < the number of workers; a pointer valid until the next call (the
/// metrics read the workers one at a time, so a view may reuse one buffer).
template <class T>
using worker_view = std::function<const T*(std::size_t)>;

/// The mean x̄ of the workers' vectors, in double, summed in rank order.
template <class T>
std::vector<double> mean_of(std::size_t workers, const worker_view<T>& view, std::size_t numel) {
  std::vector<double> mean(numel, 0.0);
  for (std::size_t i = 0; i < workers; ++i) {
    const T* x = view(i);
    for (std::size_t k = 0; k < numel; ++k) mean[k] += static_cast<double>(x[k]);
  }
  for (double& v : mean) v /= static_cast<double>(workers);
  return mean;
}

/// Σ_i ‖x_i − mean‖², in double, in rank order.
template <class T>
double total_squared_deviation(std::size_t workers, const worker_view<T>& view, const std::vector<double>& mean) {
  double total = 0;
  for (std::size_t i = 0; i < workers; ++i) {
    const T* x = view(i);
    for (std::size_t k = 0; k < mean.size(); ++k) {
      const double d = static_cast<double>(x[k]) - mean[k];
      total += d * d;
    }
  }
  return total;
}

/// The row at (step, time) from every worker's parameters (`view`, read twice in rank order: the mean, then the
/// deviations); `bytes_sent` is the payload of all workers together. The first row of a run (`first`) sets
/// `initial_deviation`, which later rows are relative to.
template <class T>
row measure(std::size_t workers, const worker_view<T>& view, std::size_t numel, const problem<T>& task,
            std::int64_t step, double time, double bytes_sent, bool first, double& initial_deviation) {
  const auto n = static_cast<double>(workers);
  const std::vector<double> mean = mean_of<T>(workers, view, numel);
  const double deviation = total_squared_deviation<T>(workers, view, mean);
  if (first) initial_deviation = deviation;
  row r;
  r.step = step;
  r.time = time;
  r.consensus = deviation / n;
  if (initial_deviation > 0) r.relative_consensus = deviation / initial_deviation;
  r.loss = task.loss(mean.data());
  r.bytes_per_worker = bytes_sent / n;
  return r;
}

/// `measure` of workers whose parameters are all in host memory at `xs`.
template <class T>
row measure(std::span<const T* const> xs, std::size_t numel, const problem<T>& task, std::int64_t step, double time,
            double bytes_sent, bool first, double& initial_deviation) {
  const worker_view<T> view = [xs](std::size_t i) { return xs[i]; };
  return measure<T>(xs.size(), view, numel, task, step, time, bytes_sent, first, initial_deviation);
}

}  // namespace decent::sim
