#pragma once
/// @file
/// @brief The D² mixing rule (Tang et al., 2018; docs/algorithms.md §2.7): gossip of the local step's result
/// plus a correction that removes the data-heterogeneity bias of D-PSGD.
///
/// With x^{t+½} the parameters after the user's local step (any optimiser: its update stands for −lr·g) and c
/// the correction (c⁰ = 0), a step is
///
///     y = x^{t+½} + c;   x^{t+1} = W_γ y;   c ← x^{t+1} − x^{t+½}
///
/// with W_γ = (1 − γ)I + γW the gossip matrix of `gossip_options` (uniform or Metropolis–Hastings weights).
/// Unrolled, x^{t+1} = W_γ(2x^t − x^{t−1} − lr·g^t + lr·g^{t−1}): D². With γ = ½ it is exact diffusion
/// (W_γ = (W + I)/2). The same update as the RelaySGD reference's `d2` (training code and simulator).
///
/// y travels in the parameters' own memory (no copy); c holds −x^{t+½} during the round, so that the last line is
/// one addition. State: c, one vector (checkpointed); the exchange's receive buffers are gossip's (one per
/// neighbour). The topology must be static (c carries W's action over to the next step).
///
/// Stability: D² needs λ_min(W_γ) > −1/3 (Tang et al.). With γ = 1 and uniform weights an even ring has
/// λ_min = −1/3 exactly — the boundary, where the alternating disagreement does not decay (the reference runs its
/// ring baseline so); γ = ½ (exact diffusion) has λ_min ≥ 0. decent does not refuse γ = 1.

#include <cstddef>
#include <vector>

#include <decent/core/checkpoint.hpp>
#include <decent/core/config.hpp>
#include <decent/core/tensor.hpp>
#include <decent/exec/executor.hpp>
#include <decent/exec/host.hpp>
#include <decent/exec/kernels.hpp>
#include <decent/mixing/gossip.hpp>
#include <decent/mixing/mixing_rule.hpp>
#include <decent/topology/topology.hpp>

namespace decent::detail {

/// D²'s send: x ← x + c (y, in double, rounded once) and c ← −x^{t+½} (exact), so that after the mixing
/// c + x^{t+1} is the new correction.
template <class T>
struct d2_send_kernel {
  T* x;
  T* c;
  DECENT_HD void operator()(std::size_t i) const {
    const T half = x[i];
    x[i] = static_cast<T>(static_cast<double>(half) + static_cast<double>(c[i]));
    c[i] = -half;
  }
};

}  // namespace decent::detail

namespace decent::mixing {

/// D² over a static topology (γ = ½: exact diffusion).
template <exec::executor Exec, class T>
class d2 {
 public:
  using mixing_rule_concept = mixing_rule_tag;
  using executor_type = Exec;
  using value_type = T;
  using options = gossip_options;

  template <class Context>
  d2(const Context& ctx, const parameters<T>& params, options o)
      : gossip_(ctx, params, o), segments_(params.segments()),
        correction_(ctx.exec.template allocate<T>(params.numel())) {
    topology::require_static(ctx.topology, "d2");
    ctx.exec.for_each(params.numel(), decent::detail::fill_kernel<T>{correction_.data(), T(0)});
  }

  /// y = x + c in the parameters, sent to every neighbour.
  template <class Context>
  void plan(const Context& ctx, exchange_plan<T>& plan) {
    for (const auto& [x, offset] : segments_)
      ctx.exec.for_each(x.numel(), decent::detail::d2_send_kernel<T>{x.data, correction_.data() + offset});
    gossip_.plan(ctx, plan);
  }

  /// x ← W_γ y; c ← x − x^{t+½}.
  template <class Context>
  void apply(const Context& ctx) {
    gossip_.apply(ctx);
    for (const auto& [x, offset] : segments_)
      ctx.exec.for_each(x.numel(), decent::detail::axpy_kernel<T>{correction_.data() + offset, x.data, 1.0});
  }

  /// Checkpoint: the correction c.
  void save(checkpoint_writer& w, const Exec& ex) const { w.buffer(ex, correction_.data(), correction_.size()); }
  void load(checkpoint_reader& r, const Exec& ex) { r.buffer(ex, correction_.data(), correction_.size()); }

  [[nodiscard]] const options& settings() const { return gossip_.settings(); }
  /// The correction c (executor memory, packed layout).
  [[nodiscard]] const T* correction() const { return correction_.data(); }

 private:
  gossip<Exec, T> gossip_;
  std::vector<typename parameters<T>::segment> segments_;
  typename Exec::template buffer<T> correction_;
};

static_assert(mixing_rule_for<d2<exec::host, float>, topology::graph>);

}  // namespace decent::mixing
