#pragma once
/// @file
/// @brief The gossip mixing rule: x_i ← x_i + γ Σ_{j∈N(i)} w_ij (C_ij(x_j) − C_ij(x_i)), with C an edge
/// compressor (decent/compress/): identity gives D-PSGD (docs/algorithms.md §2.6), low rank gives PowerGossip (§3).
///
/// The rule owns the update — the neighbours of the round (time-varying topologies allowed), their weights and
/// x ← x + γ Σ_j w_ij·D̂_ij (mixing/decoded.hpp) — and the compressor what travels: it encodes the messages and
/// decodes what arrived into the differences D̂_ij = C_ij(x_j) − C_ij(x_i).
/// Weights: `topology::gossip_weight` (uniform 1/(max(deg_i,deg_j)+1) by default, or Metropolis–Hastings);
/// with γ = 1 and no compression a round is x ← W x for the gossip matrix W of the topology.

#include <cstdint>
#include <span>
#include <vector>

#include <decent/compress/compressor.hpp>
#include <decent/core/checkpoint.hpp>
#include <decent/compress/identity.hpp>
#include <decent/core/error.hpp>
#include <decent/core/fingerprint.hpp>
#include <decent/core/tensor.hpp>
#include <decent/exec/executor.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/decoded.hpp>
#include <decent/mixing/mixing_rule.hpp>
#include <decent/topology/topology.hpp>
#include <decent/topology/weights.hpp>

namespace decent {

/// Options of gossip averaging.
struct gossip_options {
  double gamma = 1.0;  ///< diffusion rate γ ∈ (0, 2) (PowerGossip tunes it above 1)
  topology::weight_scheme weights = topology::weight_scheme::uniform;  ///< how w_ij follows from the degrees
};

/// Options of gossip with a compressor that has options of its own (e.g. PowerGossip's rank).
template <class CompressorOptions>
using compressed_gossip_options = with_compression<gossip_options, CompressorOptions>;

inline void add_to(fingerprint& f, const gossip_options& o) { f.add(o.gamma).add(o.weights); }

namespace mixing {

/// Weighted averaging with the neighbours of the round, through an edge compressor.
template <exec::executor Exec, class T, compress::edge_compressor Compressor = compress::identity<Exec, T>>
class gossip {
 public:
  using mixing_rule_concept = mixing_rule_tag;
  using executor_type = Exec;
  using value_type = T;
  using compressor_type = Compressor;
  /// `gossip_options` when the compressor has no options, `compressed_gossip_options<...>` otherwise.
  using options = options_with_compressor<gossip_options, Compressor>;
  static_assert(Compressor::is_linear, "the gossip rule needs a linear compressor (C(x_j) - C(x_i) = C(x_j - x_i)); "
                                       "non-linear ones (sign, top-k) go with mixing::choco");

  template <class Context>
  gossip(const Context& ctx, const parameters<T>& params, options o)
      : options_(o), compressor_(ctx, params, compression_of<Compressor>(o)) {
    expects(options_.gamma > 0 && options_.gamma < 2, "gossip_options::gamma (the diffusion rate) must be in (0, 2), "
            "got ", options_.gamma, ": from 2 on, x - gamma·L_w·x overshoots and the workers drift apart");
  }

  /// Exchanges per step: the compressor's (PowerGossip: its power iterations).
  template <class Context>
  [[nodiscard]] int rounds(const Context& ctx) const {
    return compressor_.rounds(ctx.step);
  }

  template <class Context>
  void plan(const Context& ctx, exchange_plan<T>& plan) {
    compressor_.encode(ctx, topology::neighbors_of(ctx.topology, ctx.rank, ctx.step), plan);
  }

  template <class Context>
  void apply(const Context& ctx) {
    const std::span<const int> peers = topology::neighbors_of(ctx.topology, ctx.rank, ctx.step);
    const auto degree = static_cast<int>(peers.size());
    weights_.resize(peers.size());
    for (std::size_t j = 0; j < peers.size(); ++j)
      weights_[j] = topology::gossip_weight(options_.weights, degree,
                                            static_cast<int>(topology::neighbors_of(ctx.topology, peers[j], ctx.step).size()));
    update_.next_round();
    compressor_.decode(ctx, peers, [&](const auto& part) { update_(ctx.exec, part, weights_, options_.gamma); });
  }

  /// Checkpoint: the compressor's state (PowerGossip's bases and iteration counters; nothing for identity).
  void save(checkpoint_writer& w, const Exec& ex) const { save_part(compressor_, w, ex); }
  void load(checkpoint_reader& r, const Exec& ex) { load_part(compressor_, r, ex); }

  [[nodiscard]] const options& settings() const { return options_; }
  [[nodiscard]] Compressor& compressor() { return compressor_; }
  [[nodiscard]] const Compressor& compressor() const { return compressor_; }

 private:
  options options_;
  Compressor compressor_;
  std::vector<double> weights_;
  decoded_update<Exec> update_;
};

static_assert(mixing_rule_for<gossip<exec::host, float>, topology::graph>);

}  // namespace mixing
}  // namespace decent
