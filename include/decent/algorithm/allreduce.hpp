#pragma once
/// @file
/// @brief All-reduce averaging, the synchronous baseline: x_i ← (1/n) Σ_j x_j on every worker.
///
/// One `mix()` makes every worker hold the exact mean (to round-off); the topology is irrelevant.
/// Determinism: the sum order is the communicator's (the in-process one sums in rank order on every rank).
/// When the communicator cannot reduce the executor's memory (`comm::reduces_in`), the sum goes through a host copy.

#include <cstdint>
#include <vector>

#include <decent/comm/communicator.hpp>
#include <decent/core/error.hpp>
#include <decent/core/tensor.hpp>
#include <decent/detail/kernels.hpp>
#include <decent/exec/executor.hpp>
#include <decent/exec/host.hpp>

namespace decent {

/// Exact averaging of all workers' parameters with the communicator's all-reduce.
template <comm::communicator Comm, exec::executor Exec = exec::host, class T = float>
  requires comm::communicator_for<Comm, Exec::space>
class allreduce {
 public:
  allreduce(Comm comm, parameters<T> params, Exec executor = Exec{})
      : comm_(std::move(comm)), params_(std::move(params)), exec_(std::move(executor)) {
    expects(params_.space() == Exec::space, "parameters in ", to_string(params_.space()), " memory but the executor runs on ",
            to_string(Exec::space), " memory");
  }

  /// Replaces the parameters by the mean over all workers (synchronous).
  void mix() {
    const double inverse = 1.0 / comm_.size();
    for (const auto& segment : params_.segments()) {
      const tensor_view<T>& x = segment.view;
      if constexpr (comm::reduces_in<Comm, Exec::space>) {
        comm_.allreduce_sum(x.data, x.numel());
      } else {  // e.g. device parameters over the in-process communicator: reduce a host copy
        staging_.resize(x.numel());
        exec_.download(staging_.data(), x.data, x.numel());
        comm_.allreduce_sum(staging_.data(), x.numel());
        exec_.upload(x.data, staging_.data(), x.numel());
      }
      exec_.for_each(x.numel(), detail::scale_kernel<T>{x.data, inverse});
    }
    exec_.synchronize();
    ++step_;
  }

  [[nodiscard]] std::int64_t step() const { return step_; }
  [[nodiscard]] Comm& communicator() { return comm_; }

 private:
  Comm comm_;
  parameters<T> params_;
  Exec exec_;
  std::vector<T> staging_;  // host copy, when the communicator cannot reduce the executor's memory
  std::int64_t step_ = 0;
};

}  // namespace decent
