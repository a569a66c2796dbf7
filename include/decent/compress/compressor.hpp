#pragma once
/// @file
/// @brief The Compressor concept: what travels on an edge instead of the full parameters.
///
/// Every compressor declares its element type, executor and options, and whether it is linear
/// (C(a) − C(b) = C(a − b)). Two capabilities say how a mixing rule can use it:
/// - `edge_compressor` — used by the gossip rule: per round, the compressor names the messages a worker sends
///   to and receives from each neighbour (`plan`), and after the exchange adds
///   γ·Σ_j w_ij·(C_ij(x_j) − C_ij(x_i)) to the parameters (`combine`), with per-edge state shared by both
///   endpoints (low rank: the power-iteration bases). Identity gives plain gossip, low rank gives PowerGossip.
/// - `vector_compressor` — used by Choco-SGD: `encode` a worker's own vector into a byte message, and
///   `decode_add` any message into a buffer, scaled. Identity, sign-and-norm and top-k are vector compressors.
/// Linear and non-linear compressors share the concept; the capabilities say where each one fits.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

#include <decent/comm/exchange.hpp>
#include <decent/core/checkpoint.hpp>
#include <decent/core/tensor.hpp>

namespace decent::compress {

/// Opt-in tag: a compressor declares `using compressor_concept = decent::compress::compressor_tag;`.
struct compressor_tag {};

/// What every compressor declares, and how it is checkpointed (its state, or `stateless`).
template <class C>
concept compressor = requires {
  requires std::same_as<typename C::compressor_concept, compressor_tag>;
  typename C::value_type;
  typename C::executor_type;
  typename C::options;
  { C::is_linear } -> std::convertible_to<bool>;
} && checkpointable<C, typename C::executor_type>;

namespace detail {
/// The smallest topology, for checking the calls of an edge compressor (the calls take any topology).
struct probe_topology {
  [[nodiscard]] int size() const;
  [[nodiscard]] std::span<const int> neighbors(int rank) const;
};
}  // namespace detail

/// A compressor a rule can run over edges, checked on its real calls with a probe round: constructed from the
/// round's context, the worker's parameters and its options; per round it names the messages to each neighbour
/// (`plan`) and, after the exchange, adds Σ_j γ·w_j·(C_ij(x_j) − C_ij(x_i)) to the parameters (`combine`).
template <class C>
concept edge_compressor =
    compressor<C> &&
    std::constructible_from<C, const comm::round_context<detail::probe_topology, typename C::executor_type>&,
                            const parameters<typename C::value_type>&, typename C::options> &&
    requires(C& c, const C& frozen, const comm::round_context<detail::probe_topology, typename C::executor_type>& ctx,
             std::span<const int> peers, std::span<const double> weights, double gamma, std::int64_t step,
             comm::exchange_plan<typename C::value_type>& plan) {
      { frozen.rounds(step) } -> std::convertible_to<int>;
      c.plan(ctx, peers, plan);
      c.combine(ctx, peers, weights, gamma);
    };

/// A compressor of a worker's own vectors into self-contained byte messages (Choco-SGD).
template <class C>
concept vector_compressor =
    compressor<C> && requires(const C& c, const typename C::executor_type& ex, const shape& s,
                              tensor_view<typename C::value_type> v, std::byte* message, const std::byte* in) {
      { c.message_bytes(s) } -> std::convertible_to<std::size_t>;
      c.encode(ex, v, message);
      c.decode_add(ex, in, 1.0, v);
    };

}  // namespace decent::compress
