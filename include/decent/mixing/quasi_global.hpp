#pragma once
/// @file
/// @brief Quasi-global momentum (Lin et al., 2021; docs/algorithms.md §2.7) around a mixing rule: a momentum
/// built from the model's displacement over a whole step (local step and mixing), not from the local gradient.
///
/// The user's local step is a plain one, without momentum (x^{t+½} = x^t − lr·g; weight decay etc. allowed). With
/// δ = x^t − x^{t+½} that step and m the momentum (m⁰ = 0, in units of parameters: lr·m of the paper), a step is
///
///     x^{t+½} ← x^{t+½} − μ(μ·m + δ)      (the Nesterov step of the reference, with the momentum held fixed)
///     x^{t+1} = the inner rule's mix of x^{t+½}
///     m ← μ·m + (1 − μ)(x^t − x^{t+1})
///
/// At a constant learning rate this is the RelaySGD reference's training code (`quasi_global_momentum`: SGD with
/// Nesterov momentum whose buffer is restored after the step and then set from the displacement divided by lr);
/// under a schedule, m here keeps the step sizes it was made of where the reference rescales it by the current lr.
/// (The reference's simulator uses the heavy-ball form x − lr(μm + g)/(1 + μ) instead.)
/// State: x^t and m, checkpointed with the inner rule's state. The rule keeps x^t from its construction on: build
/// it once the parameters hold their starting values.

#include <concepts>
#include <cstddef>
#include <vector>

#include <decent/core/checkpoint.hpp>
#include <decent/core/config.hpp>
#include <decent/core/error.hpp>
#include <decent/core/fingerprint.hpp>
#include <decent/core/tensor.hpp>
#include <decent/exec/executor.hpp>
#include <decent/exec/kernels.hpp>
#include <decent/mixing/mixing_rule.hpp>

namespace decent {

/// The inner rule's options and the momentum μ.
template <class InnerOptions>
struct quasi_global_options : InnerOptions {
  double momentum = 0.9;  ///< μ ∈ [0, 1); 0 is the inner rule alone
};

template <class InnerOptions>
void add_to(fingerprint& f, const quasi_global_options<InnerOptions>& o) {
  add_options(f, static_cast<const InnerOptions&>(o));
  f.add(o.momentum);
}

}  // namespace decent

namespace decent::detail {

/// x ← x − μ(μ·m + (previous − x)).
template <class T>
struct quasi_global_step_kernel {
  T* x;
  const T* previous;
  const T* m;
  double mu;
  DECENT_HD void operator()(std::size_t i) const {
    const double half = static_cast<double>(x[i]);
    const double buffer = mu * static_cast<double>(m[i]) + (static_cast<double>(previous[i]) - half);
    x[i] = static_cast<T>(half - mu * buffer);
  }
};

/// m ← μ·m + (1 − μ)(previous − x); previous ← x.
template <class T>
struct quasi_global_update_kernel {
  T* m;
  T* previous;
  const T* x;
  double mu;
  DECENT_HD void operator()(std::size_t i) const {
    const double now = static_cast<double>(x[i]);
    m[i] = static_cast<T>(mu * static_cast<double>(m[i]) + (1.0 - mu) * (static_cast<double>(previous[i]) - now));
    previous[i] = x[i];
  }
};

}  // namespace decent::detail

namespace decent::mixing {

/// `Rule` with quasi-global momentum (e.g. `quasi_global<gossip<exec::host, float>>`).
template <mixing_rule Rule>
class quasi_global {
 public:
  using mixing_rule_concept = mixing_rule_tag;
  using executor_type = typename Rule::executor_type;
  using value_type = typename Rule::value_type;
  using options = quasi_global_options<typename Rule::options>;
  using inner_type = Rule;

  template <class Context>
  quasi_global(const Context& ctx, const parameters<value_type>& params, options o)
      : settings_(checked(o)), inner_(ctx, params, static_cast<const typename Rule::options&>(o)),
        segments_(params.segments()), previous_(ctx.exec.template allocate<value_type>(params.numel())),
        buffer_(ctx.exec.template allocate<value_type>(params.numel())) {
    ctx.exec.for_each(params.numel(), decent::detail::fill_kernel<value_type>{buffer_.data(), value_type(0)});
    for (const auto& [x, offset] : segments_) ctx.exec.copy(previous_.data() + offset, x.data, x.numel());
  }

  template <class Context>
  [[nodiscard]] int rounds(const Context& ctx) const {
    return rounds_of(inner_, ctx);
  }

  /// Round 0: the momentum step on the user's step, then the inner rule's plan.
  template <class Context>
  void plan(const Context& ctx, exchange_plan<value_type>& plan) {
    if (ctx.round == 0)
      for (const auto& [x, offset] : segments_)
        ctx.exec.for_each(x.numel(), decent::detail::quasi_global_step_kernel<value_type>{
                                         x.data, previous_.data() + offset, buffer_.data() + offset, settings_.momentum});
    inner_.plan(ctx, plan);
  }

  /// The inner rule's update; after the last round, the momentum from the step's displacement.
  template <class Context>
  void apply(const Context& ctx) {
    inner_.apply(ctx);
    if (ctx.round + 1 < rounds_of(inner_, ctx)) return;
    for (const auto& [x, offset] : segments_)
      ctx.exec.for_each(x.numel(), decent::detail::quasi_global_update_kernel<value_type>{
                                       buffer_.data() + offset, previous_.data() + offset, x.data, settings_.momentum});
  }

  /// Checkpoint: x^t and m, then the inner rule's state.
  void save(checkpoint_writer& w, const executor_type& ex) const {
    w.buffer(ex, previous_.data(), previous_.size());
    w.buffer(ex, buffer_.data(), buffer_.size());
    save_part(inner_, w, ex);
  }
  void load(checkpoint_reader& r, const executor_type& ex) {
    r.buffer(ex, previous_.data(), previous_.size());
    r.buffer(ex, buffer_.data(), buffer_.size());
    load_part(inner_, r, ex);
  }

  /// The inner rule's start check (e.g. RelaySGD/Grad's), when it has one.
  [[nodiscard]] bool needs_common_start() const
    requires requires(const Rule& r) { { r.needs_common_start() } -> std::same_as<bool>; }
  {
    return inner_.needs_common_start();
  }
  [[nodiscard]] const options& settings() const { return settings_; }
  [[nodiscard]] Rule& inner() { return inner_; }
  [[nodiscard]] const Rule& inner() const { return inner_; }
  /// The momentum m (executor memory, packed layout; units of parameters).
  [[nodiscard]] const value_type* momentum_buffer() const { return buffer_.data(); }

 private:
  static const options& checked(const options& o) {
    expects(o.momentum >= 0 && o.momentum < 1, "quasi_global_options::momentum must be in [0, 1), got ", o.momentum);
    return o;
  }

  options settings_;
  Rule inner_;
  std::vector<typename parameters<value_type>::segment> segments_;
  typename executor_type::template buffer<value_type> previous_, buffer_;
};

}  // namespace decent::mixing
