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

#include <decent/core/tensor.hpp>

namespace decent::compress {

/// Opt-in tag: a compressor declares `using compressor_concept = decent::compress::compressor_tag;`.
struct compressor_tag {};

/// What every compressor declares.
template <class C>
concept compressor = requires {
  requires std::same_as<typename C::compressor_concept, compressor_tag>;
  typename C::value_type;
  typename C::executor_type;
  typename C::options;
  { C::is_linear } -> std::convertible_to<bool>;
};

/// A compressor a gossip rule can run over edges: it plans each round's messages and combines what arrived.
/// (The member templates take the rule's context; see compress/identity.hpp for the shape of the calls.)
template <class C>
concept edge_compressor = compressor<C> && requires { typename C::edge_capability; };

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
