#pragma once
/// @file
/// @brief The synchronous simulation loop: N workers, a problem, an algorithm, metrics every K steps.
///
/// Each worker owns its parameters (packed, in its executor's memory), takes a local heavy-ball SGD step on its problem's gradient
/// (m ← μm + g; x ← x − lr·m; skipped for consensus), then calls the algorithm's `mix()`. Metrics are
/// computed by worker 0 between two barriers, reading every worker's parameters in rank order, so they
/// are deterministic and add no payload bytes.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include <decent/core/error.hpp>
#include <decent/core/tensor.hpp>
#include <decent/exec/kernels.hpp>
#include <decent/exec/host.hpp>
#include <decent/sim/cluster.hpp>
#include <decent/sim/metrics.hpp>
#include <decent/sim/problem.hpp>

namespace decent::sim {

/// The loop's settings.
struct loop_options {
  std::int64_t steps = 100;  ///< synchronous steps
  double lr = 0.1;           ///< learning rate of the local step
  double momentum = 0;       ///< heavy-ball μ of the local step
  std::int64_t every = 1;    ///< a row every `every` steps (and always at step 0 and the last step)
  /// Optional: the run ends after the first row for which this returns true (e.g. a loss target).
  std::function<bool(const row&)> until = {};
};

/// Receives the metric rows, in step order, on worker 0's thread.
using row_sink = std::function<void(const row&)>;

/// Runs `options.steps` synchronous steps on `workers`. Each worker gets its own executor from
/// `make_executor()` (its parameters, momentum and gradient live in that executor's memory; problems are
/// host code, so device runs copy x down and the gradient up around each gradient evaluation), and its own
/// algorithm from `make(comm, params)` (anything with `mix()` and `communicator()`).
/// @return the last row.
template <class T, class MakeExecutor, class MakeAlgorithm>
row simulate_on(cluster& workers, const problem<T>& task, const loop_options& options, MakeExecutor&& make_executor,
                MakeAlgorithm&& make, const row_sink& sink = {}) {
  expects(options.steps >= 0, "loop_options::steps must be >= 0, got ", options.steps);
  expects(options.every >= 1, "loop_options::every must be >= 1, got ", options.every);
  expects(task.workers() == workers.size(), "the problem was built for ", task.workers(), " workers but the cluster has ",
          workers.size());
  const auto n = static_cast<std::size_t>(workers.size());
  const parameter_layout& layout = task.layout();
  const std::size_t numel = layout.numel();

  std::vector<const T*> xs(n, nullptr);  // host views of every worker's parameters, for the metrics
  std::vector<const comm::inprocess*> comms(n, nullptr);
  double initial_deviation = 0;
  row last;
  bool done = false;  // written by worker 0 between two barriers, read by all after the second

  auto observe = [&](std::int64_t step) {
    double bytes = 0;
    for (const auto* c : comms) bytes += static_cast<double>(c->stats().bytes_sent);
    const row r = measure<T>(xs, numel, task, step, static_cast<double>(step), bytes, step == 0, initial_deviation);
    last = r;
    done = options.until && options.until(r);
  };

  workers.run([&](comm::inprocess comm) {
    const int rank = comm.rank();
    const auto me = static_cast<std::size_t>(rank);
    auto ex = make_executor();
    constexpr bool on_host = decltype(ex)::space == memory_space::host;
    const bool sgd = task.has_gradient();
    auto x = ex.template allocate<T>(numel);
    auto momentum = ex.template allocate<T>(sgd ? numel : 0);
    auto grad = ex.template allocate<T>(sgd ? numel : 0);
    // Host copies of x and g; on the host executor they are x and g themselves.
    std::vector<T> mirror(on_host ? 0 : numel), mirror_grad(on_host || !sgd ? 0 : numel);
    T* host_x = on_host ? x.data() : mirror.data();
    T* host_grad = on_host ? grad.data() : mirror_grad.data();

    task.initial_point(rank, host_x);
    if constexpr (!on_host) ex.upload(x.data(), host_x, numel);
    ex.synchronize();  // the algorithm may read the start point (RelaySum's x⁽⁰⁾) on another stream
    auto algorithm = make(std::move(comm), parameters<T>::packed(x.data(), layout, decltype(ex)::space));
    auto& channel = algorithm.communicator();
    xs[me] = host_x;
    comms[me] = &channel;
    auto checkpoint = [&](std::int64_t step) {
      if constexpr (!on_host) ex.download(host_x, x.data(), numel);
      channel.barrier();
      if (rank == 0) observe(step);
      channel.barrier();
      // The sink (e.g. a pipe that may block) runs after the others were released: their deadlines never
      // depend on it, and it reads only the row.
      if (rank == 0 && sink) sink(last);
    };
    checkpoint(0);
    for (std::int64_t step = 1; step <= options.steps && !done; ++step) {
      if (sgd) {
        if constexpr (!on_host) ex.download(host_x, x.data(), numel);
        task.gradient(rank, host_x, host_grad, static_cast<std::uint64_t>(step - 1));
        if constexpr (!on_host) ex.upload(grad.data(), host_grad, numel);
        ex.for_each(numel, decent::detail::sgd_momentum_kernel<T>{x.data(), momentum.data(), grad.data(), options.lr,
                                                                   options.momentum});
        ex.synchronize();
      }
      algorithm.mix();
      if (step % options.every == 0 || step == options.steps) checkpoint(step);
    }
  });
  return last;
}

/// `simulate_on` with one serial host executor per worker (the workers already run in parallel).
template <class T, class MakeAlgorithm>
row simulate(cluster& workers, const problem<T>& task, const loop_options& options, MakeAlgorithm&& make,
             const row_sink& sink = {}) {
  return simulate_on<T>(workers, task, options, [] { return exec::host(1); }, std::forward<MakeAlgorithm>(make), sink);
}

}  // namespace decent::sim
