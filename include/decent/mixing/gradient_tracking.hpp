#pragma once
/// @file
/// @brief The gradient-tracking mixing rule (Nedić et al., 2017; Lorenzo & Scutari, 2016; docs/algorithms.md
/// §2.7): gossip of the parameters and of a correction that tracks the average update.
///
/// With x^{t+½} the parameters after the user's local step, Δ = x^{t+½} − x^t its update (−lr·g for SGD; any
/// optimiser's update stands in for it) and c the correction (c⁰ = 0), a step is
///
///     y = x^{t+½} + c;   z = c + Δ;   x^{t+1} = W_γ y;   c ← W_γ z − Δ
///
/// with W_γ = (1 − γ)I + γW the gossip matrix of `gossip_options`. In the variables of the literature
/// (x ← W(x − lr·v), v ← Wv + g^{t+1} − g^t) it is v = g − c/lr: the RelaySGD reference's `gradient_tracking`
/// (training code and simulator). Two exchanges per step (rounds 0 and 1: y, then z), as in the reference.
///
/// y travels in the parameters' own memory. State: c and the parameters after the last step (Δ's reference
/// point), both checkpointed, and z (scratch); each exchange has gossip's receive buffers (one per neighbour).
/// The rule keeps x^t from its construction on: build it once the parameters hold their starting values.

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

/// Gradient tracking's send: Δ = x − previous (kept in `previous`, rounded once), z = c + Δ, and y = x + c in x.
template <class T>
struct tracking_send_kernel {
  T* x;
  const T* c;
  T* previous;
  T* z;
  DECENT_HD void operator()(std::size_t i) const {
    const double half = static_cast<double>(x[i]), correction = static_cast<double>(c[i]);
    const T delta = static_cast<T>(half - static_cast<double>(previous[i]));
    previous[i] = delta;
    z[i] = static_cast<T>(correction + static_cast<double>(delta));
    x[i] = static_cast<T>(half + correction);
  }
};

/// After both exchanges: c ← W_γ z − Δ (Δ in `previous`), then previous ← x^{t+1}.
template <class T>
struct tracking_finish_kernel {
  T* c;
  const T* z;
  T* previous;
  const T* x;
  DECENT_HD void operator()(std::size_t i) const {
    c[i] = static_cast<T>(static_cast<double>(z[i]) - static_cast<double>(previous[i]));
    previous[i] = x[i];
  }
};

}  // namespace decent::detail

namespace decent::mixing {

/// Gradient tracking over a topology (time-varying ones included: both exchanges of a step use its graph).
template <exec::executor Exec, class T>
class gradient_tracking {
 public:
  using mixing_rule_concept = mixing_rule_tag;
  using executor_type = Exec;
  using value_type = T;
  using options = gossip_options;

  template <class Context>
  gradient_tracking(const Context& ctx, const parameters<T>& params, options o)
      : segments_(params.segments()), correction_(ctx.exec.template allocate<T>(params.numel())),
        previous_(ctx.exec.template allocate<T>(params.numel())), tracker_(ctx.exec.template allocate<T>(params.numel())),
        parameters_(ctx, params, o),
        tracker_gossip_(ctx, parameters<T>::packed(tracker_.data(), params.layout(), Exec::space), o) {
    ctx.exec.for_each(params.numel(), decent::detail::fill_kernel<T>{correction_.data(), T(0)});
    for (const auto& [x, offset] : segments_) ctx.exec.copy(previous_.data() + offset, x.data, x.numel());
  }

  /// Two exchanges per step: the parameters, then the tracker z.
  template <class Context>
  [[nodiscard]] int rounds(const Context&) const {
    return 2;
  }

  template <class Context>
  void plan(const Context& ctx, exchange_plan<T>& plan) {
    if (ctx.round == 0) {
      for (const auto& [x, offset] : segments_)
        ctx.exec.for_each(x.numel(), decent::detail::tracking_send_kernel<T>{x.data, correction_.data() + offset,
                                                                             previous_.data() + offset,
                                                                             tracker_.data() + offset});
      parameters_.plan(ctx, plan);
    } else {
      tracker_gossip_.plan(ctx, plan);
    }
  }

  template <class Context>
  void apply(const Context& ctx) {
    if (ctx.round == 0) {
      parameters_.apply(ctx);
      return;
    }
    tracker_gossip_.apply(ctx);
    for (const auto& [x, offset] : segments_)
      ctx.exec.for_each(x.numel(), decent::detail::tracking_finish_kernel<T>{correction_.data() + offset,
                                                                             tracker_.data() + offset,
                                                                             previous_.data() + offset, x.data});
  }

  /// Checkpoint: the correction c and the parameters after the last step.
  void save(checkpoint_writer& w, const Exec& ex) const {
    w.buffer(ex, correction_.data(), correction_.size());
    w.buffer(ex, previous_.data(), previous_.size());
  }
  void load(checkpoint_reader& r, const Exec& ex) {
    r.buffer(ex, correction_.data(), correction_.size());
    r.buffer(ex, previous_.data(), previous_.size());
  }

  [[nodiscard]] const options& settings() const { return parameters_.settings(); }
  /// The correction c (executor memory, packed layout).
  [[nodiscard]] const T* correction() const { return correction_.data(); }

 private:
  std::vector<typename parameters<T>::segment> segments_;
  typename Exec::template buffer<T> correction_, previous_, tracker_;
  gossip<Exec, T> parameters_;      ///< round 0: y = x + c, in the parameters
  gossip<Exec, T> tracker_gossip_;  ///< round 1: z = c + Δ
};

static_assert(mixing_rule_for<gradient_tracking<exec::host, float>, topology::graph>);

}  // namespace decent::mixing
