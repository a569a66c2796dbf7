#pragma once
/// @file
/// @brief The gossip mixing rule (D-PSGD, ALGORITHMS.md §2.6): x_i ← x_i + γ Σ_{j∈N(i)} w_ij (x_j − x_i).
///
/// Each round sends the parameters to every neighbour of the round (time-varying topologies allowed), receives
/// theirs, and applies the weighted update in place: one fused pass over the parameters per segment (the whole
/// model when it is packed). With γ = 1 this is x ← W x for the gossip matrix W of the topology.
/// Weights: `topology::gossip_weight` (uniform 1/(max(deg_i,deg_j)+1) by default, or Metropolis–Hastings).
/// Determinism: neighbours are summed in the topology's neighbour order, in double, rounded once per pass of
/// up to `detail::max_weighted_terms` (8) neighbours.

#include <cstdint>
#include <span>
#include <vector>

#include <decent/core/error.hpp>
#include <decent/core/tensor.hpp>
#include <decent/detail/kernels.hpp>
#include <decent/exec/executor.hpp>
#include <decent/mixing/mixing_rule.hpp>
#include <decent/topology/weights.hpp>

namespace decent {

/// Options of gossip averaging.
struct gossip_options {
  double gamma = 1.0;                                                   ///< diffusion rate γ
  topology::weight_scheme weights = topology::weight_scheme::uniform;  ///< how w_ij follows from the degrees
};

namespace mixing {

/// Weighted averaging with the neighbours of the round.
template <exec::executor Exec, class T>
class gossip {
 public:
  using mixing_rule_concept = mixing_rule_tag;
  using executor_type = Exec;
  using value_type = T;
  using options = gossip_options;

  template <class Context>
  gossip(const Context&, const parameters<T>& params, options o) : params_(params), options_(o) {
    expects(options_.gamma > 0, "gossip diffusion rate gamma must be positive, got ", options_.gamma);
  }

  /// Sends the parameters to every neighbour of the round and receives theirs: one message per segment
  /// (tag = segment index), i.e. one per neighbour when the parameters are packed.
  template <class Context>
  void plan(const Context& ctx, exchange_plan<T>& plan) {
    const std::span<const int> peers = ctx.topology.neighbors(ctx.rank, ctx.step);
    while (received_.size() < peers.size()) received_.push_back(ctx.exec.template allocate<T>(params_.numel()));
    for (std::size_t j = 0; j < peers.size(); ++j) {
      for (std::size_t k = 0; k < segments_.size(); ++k) {
        const auto& [x, offset] = segments_[k];
        plan.sends.push_back({peers[j], x.data, x.bytes(), static_cast<int>(k)});
        plan.recvs.push_back({peers[j], received_[j].data() + offset, x.bytes(), static_cast<int>(k)});
      }
    }
  }

  /// x ← (1 − γΣ_j w_ij)·x + γΣ_j w_ij·x_j, neighbours in topology order.
  template <class Context>
  void apply(const Context& ctx) {
    const std::span<const int> peers = ctx.topology.neighbors(ctx.rank, ctx.step);
    const auto degree = static_cast<int>(peers.size());
    coef_.resize(peers.size());
    inputs_.resize(peers.size());
    double self = 1.0;
    for (std::size_t j = 0; j < peers.size(); ++j) {
      const auto peer_degree = static_cast<int>(ctx.topology.neighbors(peers[j], ctx.step).size());
      coef_[j] = options_.gamma * topology::gossip_weight(options_.weights, degree, peer_degree);
      self -= coef_[j];
    }
    for (const auto& [x, offset] : segments_) {
      for (std::size_t j = 0; j < peers.size(); ++j) inputs_[j] = received_[j].data() + offset;
      decent::detail::weighted_sum(ctx.exec, x.numel(), x.data, self, inputs_.data(), coef_.data(), degree);
    }
  }

  [[nodiscard]] const options& settings() const { return options_; }

 private:
  parameters<T> params_;
  std::vector<typename parameters<T>::segment> segments_ = params_.segments();
  options options_;
  std::vector<typename Exec::template buffer<T>> received_;  // received_[j]: neighbour j's parameters, packed
  std::vector<double> coef_;
  std::vector<const T*> inputs_;
};

}  // namespace mixing
}  // namespace decent
