#pragma once
/// @file
/// @brief Stochastic gradient push on the time-varying directed exponential graph (Assran et al., 2019;
/// docs/algorithms.md §2.7), as the RelaySGD paper's baseline runs it.
///
/// Exchange k (counted over all steps, `sgp_options::exchanges_per_step` per step, 2 by default) has one
/// directed edge per worker: i sends its parameters to i + s and receives from i − s (mod n), with
/// s = 2^(k mod D) and D = ⌊log₂(n − 1)⌋ + 1, and then x_i ← (x_i + x_{i−s})/2. Every worker has one in- and one
/// out-neighbour, so the mixing matrix is doubly stochastic and push-sum's weights stay exactly 1: they are not
/// stored (the reference's simulator `time_varying_sgp` does the same). The graph is the algorithm's own — a
/// function of the rank, the world size and the step — so the rule takes no topology.
///
/// The reference's training code (`push_sum`) draws the shift of exchange j of step t as 2^((t·E + t·j) mod D)
/// for E exchanges per step; this rule follows its simulator and the paper (2^(k mod D) over consecutive k).
/// State: none besides the step (mixer); one receive buffer.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <decent/core/error.hpp>
#include <decent/core/fingerprint.hpp>
#include <decent/core/tensor.hpp>
#include <decent/exec/executor.hpp>
#include <decent/exec/host.hpp>
#include <decent/exec/kernels.hpp>
#include <decent/mixing/mixing_rule.hpp>

namespace decent {

/// Options of SGP.
struct sgp_options {
  int exchanges_per_step = 2;  ///< one-peer exchanges per mix() (the reference's `push_sum_avg_steps`)
};

inline void add_to(fingerprint& f, const sgp_options& o) { f.add(o.exchanges_per_step); }

namespace mixing {

/// One-peer push-sum averaging on the time-varying directed exponential graph.
template <exec::executor Exec, class T>
class sgp {
 public:
  using mixing_rule_concept = mixing_rule_tag;
  using executor_type = Exec;
  using value_type = T;
  using options = sgp_options;
  static constexpr bool stateless = true;

  template <class Context>
  sgp(const Context& ctx, const parameters<T>& params, options o)
      : options_(o), segments_(params.segments()), received_(ctx.exec.template allocate<T>(params.numel())) {
    expects(o.exchanges_per_step >= 1, "sgp_options::exchanges_per_step must be >= 1, got ", o.exchanges_per_step);
  }

  template <class Context>
  [[nodiscard]] int rounds(const Context&) const {
    return options_.exchanges_per_step;
  }

  /// The shift s of this round's exchange: i sends to i + s and receives from i − s.
  template <class Context>
  [[nodiscard]] int shift(const Context& ctx) const {
    const auto periods = static_cast<std::int64_t>(std::bit_width(static_cast<unsigned>(ctx.size - 1)));
    const std::int64_t k = ctx.step * options_.exchanges_per_step + ctx.round;
    return 1 << (k % periods);
  }

  template <class Context>
  void plan(const Context& ctx, exchange_plan<T>& plan) {
    if (ctx.size < 2) return;
    const int s = shift(ctx), to = (ctx.rank + s) % ctx.size, from = (ctx.rank - s + ctx.size) % ctx.size;
    for (std::size_t k = 0; k < segments_.size(); ++k) {
      const auto& [x, offset] = segments_[k];
      plan.sends.push_back({to, x.data, x.bytes(), static_cast<int>(k)});
      plan.recvs.push_back({from, received_.data() + offset, x.bytes(), static_cast<int>(k)});
    }
  }

  /// x ← ½x + ½x_{i−s}.
  template <class Context>
  void apply(const Context& ctx) {
    if (ctx.size < 2) return;
    const double half = 0.5;
    for (const auto& [x, offset] : segments_) {
      const T* from = received_.data() + offset;
      decent::detail::weighted_sum(ctx.exec, x.numel(), x.data, 0.5, &from, &half, 1);
    }
  }

  [[nodiscard]] const options& settings() const { return options_; }

 private:
  options options_;
  std::vector<typename parameters<T>::segment> segments_;
  typename Exec::template buffer<T> received_;
};

static_assert(mixing_rule_for<sgp<exec::host, float>, no_topology>);

}  // namespace mixing
}  // namespace decent
