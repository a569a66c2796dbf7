#pragma once
/// @file
/// @brief The pairwise rules of the asynchronous algorithms (docs/algorithms.md §1): A²CiD²'s continuous momentum
/// (Nabli et al., 2023) and plain pairwise averaging (asynchronous gossip, the same events without x̃). Both model
/// `mixing::pairwise_rule`; the threaded runtime (`async_mixer`) and the virtual-time event simulator drive them.
///
/// The worker keeps x (its parameters, the user's memory) and x̃ (library memory, initialised to x), and the time
/// of its last event. Between events (x, x̃) follow d/dt(x, x̃) = η(x̃ − x, x − x̃), solved in closed form:
/// x + x̃ is unchanged and x − x̃ decays by exp(−2ηΔ). Events, in time units of one gradient per worker:
/// - communication with a neighbour j at time t: mix to t, then x̃ += α̃(x_j − x), x += (x_j − x)/2 — one fused
///   pass (`exchange`). With the default mix-first order the peer's x_j was also mixed to t before it was sent,
///   which keeps Σ_i(x_i + x̃_i) unchanged; the reference implementation sends the un-mixed x_j (an option of
///   the event simulator, `sim::event_options::order = acid_send_order::reference`).
/// - gradient at time t: mix to t, then the same update on x and x̃: either the library's SGD with momentum
///   (`sgd`: m ← μm + g, x −= lr·m, x̃ −= lr·m) or an update the user computed (`apply_update`: x += Δ, x̃ += Δ;
///   the user does not apply Δ to x itself).
/// Constants: η = 1/(2√(χ₁χ₂)), α̃ = ½√(χ₁/χ₂) from `topology::a2cid2_constants` for the communication rate r.

#include <cmath>
#include <cstddef>
#include <vector>

#include <decent/core/checkpoint.hpp>
#include <decent/core/error.hpp>
#include <decent/core/tensor.hpp>
#include <decent/compress/identity.hpp>
#include <decent/exec/kernels.hpp>
#include <decent/mixing/acid_kernels.hpp>
#include <decent/exec/executor.hpp>
#include <decent/mixing/pairwise_rule.hpp>
#include <decent/topology/analysis.hpp>

namespace decent {

/// Which x_j a communication event uses: the peer's x mixed to the event time (default; conserves
/// Σ(x + x̃)), or its x as it was before mixing, as the reference implementation sends it.
enum class acid_send_order { mix_first, reference };

namespace mixing {

/// One worker's pairwise rule: A²CiD² with the momentum variable x̃ (`MomentumVariable`), or plain pairwise
/// averaging without it. `Compressor` is the edge compressor its exchanges go through (identity: whole models).
template <exec::executor Exec, class T, bool MomentumVariable = true,
          compress::edge_compressor Compressor = compress::identity<Exec, T>>
class acid {
  static_assert(Compressor::is_linear, "pairwise exchanges need a linear compressor (both ends apply opposite "
                                       "updates); sign and top-k go with mixing::choco");

 public:
  using pairwise_rule_concept = pairwise_rule_tag;
  using executor_type = Exec;
  using value_type = T;
  using compressor_type = Compressor;
  static constexpr bool momentum_variable = MomentumVariable;
  /// The weight of the peer in an exchange: x moves by ½(x_j − x) (through a compressor: by ½ of the decoded
  /// difference, applied to the snapshot, then to x with `apply_change`).
  static constexpr double pair_weight = decent::detail::acid_pair_weight;  ///< the exchange kernel's default step

  /// η and α̃ of the graph at communication rate r (`topology::a2cid2_constants`); none without x̃ (asynchronous
  /// gossip needs no spectral analysis, so it runs on graphs of any size).
  [[nodiscard]] static topology::acid_constants constants_for(const topology::graph& g, double rate) {
    if constexpr (MomentumVariable) return topology::a2cid2_constants(g, rate);
    else return {};
  }

  /// @param constants  η and α̃ (ignored without the momentum variable)
  acid(const Exec& ex, const parameters<T>& params, topology::acid_constants constants)
      : segments_(params.segments()), eta_(constants.eta), alpha_tilde_(constants.alpha_tilde) {
    if constexpr (!MomentumVariable) return;
    x_tilde_ = ex.template allocate<T>(params.numel());
    for (const auto& [x, offset] : segments_) ex.copy(x_tilde_.data() + offset, x.data, x.numel());
  }

  /// exp(−2ηΔ): how much of x − x̃ survives a time Δ.
  [[nodiscard]] double decay(double dt) const { return std::exp(-2.0 * eta_ * dt); }

  /// Mixes (x, x̃) from the last event to time t (no-op without x̃).
  void mix_to(const Exec& ex, double t) {
    expects(t >= last_, "A²CiD² events must come in time order: ", t, " < ", last_);
    if (has_momentum_variable() && t > last_) {
      const double e = decay(t - last_);
      for (const auto& [x, offset] : segments_)
        ex.for_each(x.numel(), decent::detail::acid_mix_kernel<T>{x.data, x_tilde_.data() + offset, static_cast<T>(e)});
    }
    last_ = t;
  }

  /// The snapshot an exchange at time t sends: x mixed to t, written to `out` (packed; the state is not changed).
  void snapshot(const Exec& ex, double t, T* out) const {
    const double e = has_momentum_variable() && t > last_ ? decay(t - last_) : 1.0;
    for (const auto& [x, offset] : segments_)
      ex.for_each(x.numel(), decent::detail::acid_mixed_kernel<T>{out + offset, x.data,
                                                                   x_tilde() ? x_tilde() + offset : nullptr,
                                                                   static_cast<T>(e)});
  }

  /// A communication event at time t with a neighbour whose parameters (packed layout) are `peer`: mixing to
  /// t and the pairwise update in one pass (no mixing when the worker is already at t). `sent` (packed), when
  /// given, is the snapshot of x this worker sent for the exchange; the update then uses peer − sent.
  void exchange(const Exec& ex, const T* peer, double t, const T* sent = nullptr) {
    expects(t >= last_, "A²CiD² events must come in time order: ", t, " < ", last_);
    const double e = has_momentum_variable() ? decay(t - last_) : 1.0;
    for (const auto& [x, offset] : segments_)
      ex.for_each(x.numel(), decent::detail::acid_exchange_kernel<T>{x.data, tilde(offset), peer + offset,
                                                                     static_cast<T>(e), static_cast<T>(alpha_tilde_),
                                                                     sent ? sent + offset : nullptr});
    last_ = t;
  }

  /// A compressed communication event at time t that moved a snapshot of x from `before` to `after` (packed):
  /// mixing to t, then x += after − before and x̃ += 2α̃(after − before) — the exchange's update, whose step
  /// towards the peer the compressor already took on the snapshot.
  void apply_change(const Exec& ex, double t, const T* after, const T* before) {
    expects(t >= last_, "A²CiD² events must come in time order: ", t, " < ", last_);
    const double e = has_momentum_variable() ? decay(t - last_) : 1.0;
    const auto twice_alpha_tilde = static_cast<T>(2.0 * alpha_tilde_);
    for (const auto& [x, offset] : segments_)
      ex.for_each(x.numel(), decent::detail::acid_exchange_kernel<T>{x.data, tilde(offset), after + offset,
                                                                     static_cast<T>(e), twice_alpha_tilde,
                                                                     before + offset, T(1)});
    last_ = t;
  }

  /// A gradient event at time t with the library's SGD: m ← μm + g; x −= lr·m; x̃ −= lr·m (g, m packed).
  void sgd(const Exec& ex, double t, const T* g, T* m, double lr, double momentum) {
    mix_to(ex, t);
    for (const auto& [x, offset] : segments_)
      ex.for_each(x.numel(), decent::detail::sgd_momentum_kernel<T>{x.data, m + offset, g + offset, lr, momentum,
                                                                    tilde(offset)});
  }

  /// A gradient event at time t with the user's own update Δ (packed): x += Δ, x̃ += Δ.
  void apply_update(const Exec& ex, double t, const T* delta) {
    mix_to(ex, t);
    for (const auto& [x, offset] : segments_)
      ex.for_each(x.numel(), decent::detail::axpy_kernel<T>{x.data, delta + offset, 1.0, tilde(offset)});
  }

  /// The same with Δ given per tensor (`delta` has the layout of the parameters this state was built on, which
  /// are packed): x += Δ, x̃ += Δ, tensor by tensor.
  void apply_update(const Exec& ex, double t, const parameters<T>& delta) {
    expects(segments_.size() == 1 && segments_.front().offset == 0,
            "apply_update per tensor needs a state built on packed parameters");
    mix_to(ex, t);
    T* const base = segments_.front().view.data;
    for (std::size_t k = 0; k < delta.num_tensors(); ++k) {
      const std::size_t offset = delta.layout().offset(k);
      ex.for_each(delta[k].numel(), decent::detail::axpy_kernel<T>{base + offset, delta[k].data, 1.0, tilde(offset)});
    }
  }

  /// Checkpoint: the time of the last event and x̃ (the parameters are the caller's).
  void save(checkpoint_writer& w, const Exec& ex) const {
    w.value(last_);
    w.buffer(ex, x_tilde_.data(), x_tilde_.size());
  }
  void load(checkpoint_reader& r, const Exec& ex) {
    last_ = r.value<double>();
    r.buffer(ex, x_tilde_.data(), x_tilde_.size());
  }

  [[nodiscard]] bool has_momentum_variable() const { return MomentumVariable && x_tilde_.size() > 0; }
  /// x̃ (packed, executor memory); null for the baseline.
  [[nodiscard]] const T* x_tilde() const { return has_momentum_variable() ? x_tilde_.data() : nullptr; }
  /// Time of the last event.
  [[nodiscard]] double last_event() const { return last_; }
  [[nodiscard]] double eta() const { return eta_; }
  [[nodiscard]] double alpha_tilde() const { return alpha_tilde_; }

 private:
  /// x̃ of the segment at `offset` (packed), or null without the momentum variable.
  T* tilde(std::size_t offset) { return has_momentum_variable() ? x_tilde_.data() + offset : nullptr; }

  std::vector<typename parameters<T>::segment> segments_;
  double eta_, alpha_tilde_;
  typename Exec::template buffer<T> x_tilde_;
  double last_ = 0;
};

/// A²CiD²'s rule: pairwise averaging with the continuous momentum x̃.
template <exec::executor Exec, class T, class Compressor = compress::identity<Exec, T>>
using a2cid2_rule = acid<Exec, T, true, Compressor>;
/// Plain pairwise averaging (asynchronous gossip): the same events without x̃.
template <exec::executor Exec, class T, class Compressor = compress::identity<Exec, T>>
using pairwise_average = acid<Exec, T, false, Compressor>;

static_assert(pairwise_rule<a2cid2_rule<exec::host, float>> && pairwise_rule<pairwise_average<exec::host, double>>);

}  // namespace mixing
}  // namespace decent
