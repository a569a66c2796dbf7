#pragma once
/// @file
/// @brief The Choco-gossip mixing rule (Koloskova et al., 2019; docs/algorithms.md §3.4) over a vector compressor.
///
/// Each worker keeps a public copy x̂_i (what its neighbours know of it) and s_i = Σ_{j∈N(i)∪{i}} W_ij x̂_j,
/// both starting at 0. A step, per tensor: q_i = C(x_i − x̂_i) is sent to every neighbour; x̂_i += q_i;
/// s_i += W_ii q_i + Σ_j W_ij q_j; x_i += γ(s_i − x̂_i). Every worker applies its neighbours' q exactly as they
/// do, so s_i stays consistent, and Σ_i x_i is preserved for symmetric doubly stochastic W. Works with any
/// vector compressor, linear or not: sign-and-norm, top-k, or identity (exact gossip of the public copies).
/// The topology must be static (s_i accumulates the same neighbours every step). Memory: 2 extra vectors.

#include <array>
#include <cstddef>
#include <span>
#include <type_traits>
#include <vector>

#include <decent/compress/compressor.hpp>
#include <decent/compress/identity.hpp>
#include <decent/core/checkpoint.hpp>
#include <decent/core/error.hpp>
#include <decent/core/tensor.hpp>
#include <decent/exec/kernels.hpp>
#include <decent/exec/executor.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/gossip.hpp>
#include <decent/mixing/mixing_rule.hpp>
#include <decent/topology/topology.hpp>
#include <decent/topology/weights.hpp>

namespace decent::mixing {

/// Choco-gossip with compressor C; options: γ and the weight scheme, and the compressor's own options.
template <exec::executor Exec, class T, compress::vector_compressor Compressor>
class choco {
 public:
  using mixing_rule_concept = mixing_rule_tag;
  using executor_type = Exec;
  using value_type = T;
  using compressor_type = Compressor;
  using options = compressed_gossip_options<typename Compressor::options>;

  template <class Context>
  choco(const Context& ctx, const parameters<T>& params, options o) : options_(o), compressor_(make(o.compression)) {
    expects(options_.gamma > 0 && options_.gamma <= 1, "choco_options::gamma (the consensus step size) must be in "
            "(0, 1], got ", options_.gamma);
    topology::require_static(ctx.topology, "choco");
    const std::size_t degree = topology::neighbors_of(ctx.topology, ctx.rank, 0).size();
    for (std::size_t k = 0; k < params.num_tensors(); ++k) {
      const tensor_view<T>& x = params[k];
      tensor state{x,
                   ctx.exec.template allocate<T>(x.numel()),
                   ctx.exec.template allocate<T>(x.numel()),
                   ctx.exec.template allocate<T>(x.numel()),
                   compressor_.message_bytes(x.shape),
                   ctx.exec.template allocate<std::byte>(compressor_.message_bytes(x.shape)),
                   {}};
      for (std::size_t j = 0; j < degree; ++j) state.inbox.push_back(ctx.exec.template allocate<std::byte>(state.bytes));
      tensors_.push_back(std::move(state));
    }
  }

  /// q = C(x − x̂) per tensor, sent to every neighbour (tag = tensor index).
  template <class Context>
  void plan(const Context& ctx, exchange_plan<T>& plan) {
    const std::span<const int> peers = topology::neighbors_of(ctx.topology, ctx.rank, ctx.step);
    for (std::size_t k = 0; k < tensors_.size(); ++k) {
      tensor& t = tensors_[k];
      ctx.exec.for_each(t.x.numel(), decent::detail::difference_kernel<T>{t.difference.data(), t.public_copy.data(),
                                                                            t.x.data, 1.0});  // x − x̂
      compressor_.encode(ctx.exec, tensor_view<T>{t.difference.data(), t.x.shape, Exec::space}, t.message.data());
      for (std::size_t j = 0; j < peers.size(); ++j) {
        plan.sends.push_back({peers[j], t.message.data(), t.bytes, static_cast<int>(k)});
        plan.recvs.push_back({peers[j], t.inbox[j].data(), t.bytes, static_cast<int>(k)});
      }
    }
  }

  /// x̂ += q; s += W_ii q + Σ_j W_ij q_j; x += γ(s − x̂).
  template <class Context>
  void apply(const Context& ctx) {
    const std::span<const int> peers = topology::neighbors_of(ctx.topology, ctx.rank, ctx.step);
    const auto degree = static_cast<int>(peers.size());
    double self = 1.0;
    weights_.resize(peers.size());
    for (std::size_t j = 0; j < peers.size(); ++j) {
      weights_[j] = topology::gossip_weight(options_.weights, degree,
                                            static_cast<int>(topology::neighbors_of(ctx.topology, peers[j], ctx.step).size()));
      self -= weights_[j];
    }
    for (tensor& t : tensors_) {
      const tensor_view<T> hat{t.public_copy.data(), t.x.shape, Exec::space};
      const tensor_view<T> sum{t.neighbourhood.data(), t.x.shape, Exec::space};
      compressor_.decode_add(ctx.exec, t.message.data(), 1.0, hat);
      compressor_.decode_add(ctx.exec, t.message.data(), self, sum);
      for (std::size_t j = 0; j < peers.size(); ++j) compressor_.decode_add(ctx.exec, t.inbox[j].data(), weights_[j], sum);
      decent::detail::weighted_sum(ctx.exec, t.x.numel(), t.x.data, 1.0,
                                   std::array<const T*, 2>{t.neighbourhood.data(), t.public_copy.data()}.data(),
                                   std::array<double, 2>{options_.gamma, -options_.gamma}.data(), 2);
    }
  }

  /// Checkpoint: per tensor, the public copy x̂ and the neighbourhood sum s (and the compressor's state, if any).
  void save(checkpoint_writer& w, const Exec& ex) const {
    for (const tensor& t : tensors_) {
      w.buffer(ex, t.public_copy.data(), t.x.numel());
      w.buffer(ex, t.neighbourhood.data(), t.x.numel());
    }
    save_part(compressor_, w, ex);
  }
  void load(checkpoint_reader& r, const Exec& ex) {
    for (tensor& t : tensors_) {
      r.buffer(ex, t.public_copy.data(), t.x.numel());
      r.buffer(ex, t.neighbourhood.data(), t.x.numel());
    }
    load_part(compressor_, r, ex);
  }

  [[nodiscard]] const options& settings() const { return options_; }
  [[nodiscard]] const Compressor& compressor() const { return compressor_; }
  /// Payload bytes sent to one neighbour per step.
  [[nodiscard]] std::size_t message_bytes() const {
    std::size_t bytes = 0;
    for (const tensor& t : tensors_) bytes += t.bytes;
    return bytes;
  }

 private:
  using buffer = typename Exec::template buffer<T>;
  using byte_buffer = typename Exec::template buffer<std::byte>;

  struct tensor {
    tensor_view<T> x;
    buffer public_copy;   ///< x̂_i
    buffer neighbourhood; ///< s_i
    buffer difference;    ///< x − x̂ (scratch)
    std::size_t bytes;    ///< message size
    byte_buffer message;  ///< q_i
    std::vector<byte_buffer> inbox;  ///< q_j per neighbour
  };

  static Compressor make(const typename Compressor::options& o) {
    if constexpr (std::is_constructible_v<Compressor, typename Compressor::options>) return Compressor(o);
    else return Compressor();
  }

  options options_;
  Compressor compressor_;
  std::vector<tensor> tensors_;
  std::vector<double> weights_;
};

static_assert(mixing_rule_for<choco<exec::host, float, compress::identity<exec::host, float>>, topology::graph>);

}  // namespace decent::mixing
