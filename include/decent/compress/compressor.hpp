#pragma once
/// @file
/// @brief The Compressor concept: what travels on an edge instead of the full parameters.
///
/// Every compressor declares its element type, executor and options, and whether it is linear
/// (C(a) − C(b) = C(a − b)). Two capabilities say how a mixing rule can use it:
/// - `edge_compressor` — used by the gossip rule and the pairwise rules: per round, the compressor encodes what a
///   worker sends to each neighbour and names where theirs lands (`encode`); after the exchange it decodes what
///   arrived into the differences D̂_ij = C_ij(x_j) − C_ij(x_i) (`decode`), with per-edge state shared by both
///   endpoints (low rank: the power-iteration bases). The *rule* applies them — gossip adds γ·Σ_j w_ij·D̂_ij to
///   the parameters (mixing/decoded.hpp). Identity gives plain gossip, low rank gives PowerGossip.
/// - `vector_compressor` — used by Choco-SGD: `encode` a worker's own vector into a byte message, and
///   `decode_add` any message into a buffer, scaled. Identity, sign-and-norm and top-k are vector compressors.
/// Linear and non-linear compressors share the concept; the capabilities say where each one fits.
///
/// A decoded round is a sequence of parts, one per piece of the parameters, each in one of two forms:
/// - `decoded_values`: the neighbours' values themselves (lossless: C(x_j) = x_j, C(x_i) = x_i), so the rule can
///   form x ← (1 − Σ_j c_j)·x + Σ_j c_j·x_j in one pass;
/// - `decoded_differences`: a functor `terms(j, e)` giving D̂_ij at element e (low rank: from the factors, never
///   materialised), so the rule forms x ← x + Σ_j c_j·terms(j, e) in one pass. Terms may also have a row form —
///   `cols()` and `along_row(j, i, f)`, calling f with a functor of the column k that gives D̂_ij(i, k), the same
///   values — which the host executor's update uses (low rank with rank ≤ 4).
/// A part, and the buffers it points to, are valid only during the `visit` call: the rule enqueues its update
/// before returning (the compressor moves its bases right after, and the next `encode` overwrites messages).

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include <decent/comm/exchange.hpp>
#include <decent/core/checkpoint.hpp>
#include <decent/core/fingerprint.hpp>
#include <decent/core/tensor.hpp>

namespace decent {

/// A rule's or runtime's options (`Base`) plus those of its compressor, as `compression`
/// (e.g. PowerGossip's `o.compression.rank`); fingerprinted base first, then the compressor's.
template <class Base, class CompressorOptions>
struct with_compression : Base {
  CompressorOptions compression{};
};
template <class Base, class CompressorOptions>
void add_to(fingerprint& f, const with_compression<Base, CompressorOptions>& o) {
  add_options(f, static_cast<const Base&>(o));
  add_options(f, o.compression);
}
/// `Base` when the compressor has no options, `with_compression<Base, its options>` otherwise.
template <class Base, class Compressor>
using options_with_compressor = std::conditional_t<std::is_empty_v<typename Compressor::options>, Base,
                                                   with_compression<Base, typename Compressor::options>>;
/// The compressor's options held by `o` (value-initialised ones when the options are only `Base`).
template <class Compressor, class Options>
[[nodiscard]] typename Compressor::options compression_of(const Options& o) {
  if constexpr (requires { o.compression; }) return o.compression;
  else return {};
}

}  // namespace decent

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

/// The neighbours' values for `n` elements of the parameters at `x` (`decoded_values` form, see the file comment):
/// `values[j]` (executor memory) is what neighbour `slots[j]` of the round (an index into its neighbour list)
/// sent. `full_rate`: averaged at rate 1, without the rule's γ (PowerGossip's uncompressed vectors).
template <class T>
struct decoded_values {
  T* x;
  std::size_t n;
  std::span<const int> slots;
  std::span<const T* const> values;
  bool full_rate = false;
};

/// The decoded differences for `n` elements at `x` (`decoded_differences` form): `terms(j, e)` is D̂ at element e
/// for neighbour `slots[j]` of the round, by a trivially copyable `DECENT_HD` functor, in double or in the type the
/// functor names as `accumulator` (the rule sums the edges in it: mixing/decoded.hpp).
template <class T, class Terms>
struct decoded_differences {
  T* x;
  std::size_t n;
  std::span<const int> slots;
  Terms terms;
};

namespace detail {
/// The smallest topology, for checking the calls of an edge compressor (the calls take any topology).
struct probe_topology {
  [[nodiscard]] int size() const;
  [[nodiscard]] std::span<const int> neighbors(int rank) const;
};
/// A visitor of decoded parts, for checking `decode`.
struct probe_visitor {
  template <class Part>
  void operator()(const Part&) const {}
};
}  // namespace detail

/// A compressor a rule can run over edges, checked on its real calls with a probe round: constructed from the
/// round's context, the worker's parameters and its options; per round it encodes the messages to each neighbour
/// (`encode`) and, after the exchange, hands the decoded differences to the rule part by part
/// (`decode(ctx, peers, visit)` calls `visit(part)`; it also advances its per-edge state, e.g. the bases).
template <class C>
concept edge_compressor =
    compressor<C> &&
    std::constructible_from<C, const comm::round_context<detail::probe_topology, typename C::executor_type>&,
                            const parameters<typename C::value_type>&, typename C::options> &&
    requires(C& c, const C& frozen, const comm::round_context<detail::probe_topology, typename C::executor_type>& ctx,
             std::span<const int> peers, std::int64_t step, comm::exchange_plan<typename C::value_type>& plan,
             const detail::probe_visitor& visit) {
      { frozen.rounds(step) } -> std::convertible_to<int>;
      c.encode(ctx, peers, plan);
      c.decode(ctx, peers, visit);
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
