#pragma once
/// @file
/// @brief The all-reduce averaging rule: x_i ← (1/n) Σ_j x_j on every worker (the synchronous baseline).
///
/// The rule asks for one reduction per segment of the parameters and scales the sum by 1/n. Determinism: the
/// sum order is the communicator's (the in-process one adds in rank order, identically on every rank).

#include <vector>

#include <decent/core/tensor.hpp>
#include <decent/exec/kernels.hpp>
#include <decent/exec/executor.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/mixing_rule.hpp>

namespace decent::mixing {

/// Exact averaging over all workers.
template <exec::executor Exec, class T>
class average {
 public:
  using mixing_rule_concept = mixing_rule_tag;
  using executor_type = Exec;
  using value_type = T;
  struct options {};
  static constexpr bool stateless = true;

  template <class Context>
  average(const Context&, const parameters<T>& params, options) : params_(params) {}

  template <class Context>
  void plan(const Context&, exchange_plan<T>& plan) {
    for (const auto& segment : segments_) plan.reductions.emplace_back(segment.view.data, segment.view.numel());
  }

  template <class Context>
  void apply(const Context& ctx) {
    const double inverse = 1.0 / ctx.size;
    for (const auto& segment : segments_)
      ctx.exec.for_each(segment.view.numel(), decent::detail::scale_kernel<T>{segment.view.data, inverse});
  }

 private:
  parameters<T> params_;
  std::vector<typename parameters<T>::segment> segments_ = params_.segments();
};

static_assert(mixing_rule_for<average<exec::host, float>, no_topology>);

}  // namespace decent::mixing
