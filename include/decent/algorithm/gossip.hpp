#pragma once
/// @file
/// @brief Gossip averaging (D-PSGD, ALGORITHMS.md §2.6): x_i ← x_i + γ Σ_{j∈N(i)} w_ij (x_j − x_i).
///
/// Each call to `mix()` sends the worker's parameters to every neighbour of the current step, receives
/// theirs, and applies the weighted update in place, in one fused pass over the parameters (per tensor when
/// the parameters are not packed). With γ = 1 this is x ← W x for the gossip matrix W of the topology.
/// Weights: `topology::gossip_weight` (uniform 1/(max(deg_i,deg_j)+1) by default, or Metropolis–Hastings).
/// Determinism: the update sums neighbours in the topology's neighbour order, in double, rounded once.

#include <cstdint>
#include <span>
#include <vector>

#include <decent/comm/communicator.hpp>
#include <decent/core/error.hpp>
#include <decent/core/tensor.hpp>
#include <decent/detail/kernels.hpp>
#include <decent/exec/executor.hpp>
#include <decent/exec/host.hpp>
#include <decent/topology/topology.hpp>
#include <decent/topology/weights.hpp>

namespace decent {

/// Options of gossip averaging.
struct gossip_options {
  double gamma = 1.0;                                                        ///< diffusion rate γ
  topology::weight_scheme weights = topology::weight_scheme::uniform;       ///< how w_ij is derived from degrees
};

/// Synchronous gossip averaging of a worker's parameters with its neighbours.
/// @tparam Topology a decent::topology::topology (static or time-varying)
/// @tparam Comm     a communicator that can move memory of the executor's space
/// @tparam Exec     where the update kernel runs
/// @tparam T        parameter element type
template <topology::topology Topology, comm::communicator Comm, exec::executor Exec = exec::host, class T = float>
  requires comm::communicator_for<Comm, Exec::space>
class gossip {
 public:
  gossip(Topology topology, Comm comm, parameters<T> params, gossip_options options = {}, Exec executor = Exec{})
      : topology_(std::move(topology)), comm_(std::move(comm)), params_(std::move(params)), options_(options),
        exec_(std::move(executor)) {
    expects(topology_.size() == comm_.size(), "the topology has ", topology_.size(), " workers but the communicator has ",
            comm_.size());
    expects(params_.space() == Exec::space, "parameters in ", to_string(params_.space()), " memory but the executor runs on ",
            to_string(Exec::space), " memory");
    expects(options_.gamma > 0, "gossip diffusion rate gamma must be positive, got ", options_.gamma);
  }

  /// One gossip round (synchronous: returns when the parameters hold the mixed model).
  void mix() {
    const int me = comm_.rank();
    const std::span<const int> peers = topology_.neighbors(me, step_);
    const auto degree = static_cast<int>(peers.size());
    while (received_.size() < peers.size()) received_.push_back(exec_.template allocate<T>(params_.numel()));

    exchange(peers);

    std::vector<double> coef(peers.size());
    double self = 1.0;
    for (std::size_t j = 0; j < peers.size(); ++j) {
      const auto peer_degree = static_cast<int>(topology_.neighbors(peers[j], step_).size());
      coef[j] = options_.gamma * topology::gossip_weight(options_.weights, degree, peer_degree);
      self -= coef[j];
    }
    std::vector<const T*> inputs(peers.size());
    for (const auto& [x, offset] : segments_) {
      for (std::size_t j = 0; j < peers.size(); ++j) inputs[j] = received_[j].data() + offset;
      detail::weighted_sum(exec_, x.numel(), x.data, self, inputs.data(), coef.data(), degree);
    }
    exec_.synchronize();
    ++step_;
  }

  /// Number of completed rounds (the step passed to time-varying topologies).
  [[nodiscard]] std::int64_t step() const { return step_; }
  [[nodiscard]] const Topology& topology() const { return topology_; }
  [[nodiscard]] Comm& communicator() { return comm_; }
  [[nodiscard]] const gossip_options& options() const { return options_; }
  /// Payload bytes this worker sends per round to one neighbour.
  [[nodiscard]] std::size_t message_bytes() const { return params_.numel() * sizeof(T); }

 private:
  /// Sends the parameters to every peer and receives theirs into received_[j]: one message per segment
  /// (tag = segment index), i.e. one per peer when the parameters are packed.
  void exchange(std::span<const int> peers) {
    std::vector<comm::send_op> sends;
    std::vector<comm::recv_op> recvs;
    for (std::size_t j = 0; j < peers.size(); ++j) {
      for (std::size_t k = 0; k < segments_.size(); ++k) {
        const auto& [x, offset] = segments_[k];
        sends.push_back({peers[j], x.data, x.bytes(), static_cast<int>(k)});
        recvs.push_back({peers[j], received_[j].data() + offset, x.bytes(), static_cast<int>(k)});
      }
    }
    comm_.exchange(sends, recvs);
  }

  Topology topology_;
  Comm comm_;
  parameters<T> params_;
  std::vector<typename parameters<T>::segment> segments_ = params_.segments();
  gossip_options options_;
  Exec exec_;
  std::vector<typename Exec::template buffer<T>> received_;
  std::int64_t step_ = 0;
};

}  // namespace decent
