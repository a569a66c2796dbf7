#pragma once
/// @file
/// @brief The low-rank edge compressor of PowerGossip (Vogels et al., 2020; docs/algorithms.md §3).
///
/// Every tensor of two or more dimensions is viewed as a matrix X (first extent × the rest). Both endpoints
/// of an edge (i, j) keep identical bases P (a×r) and Q (b×r), r = min(a, b, rank), initialised with N(0, 1)
/// draws of the edge's shared stream `random_stream::for_edge(seed, i, j)` (or injected, to replay another
/// implementation). Iteration k of the power method on an edge (s = `iterations` per step; k counts the
/// iterations this edge has run, starting at s after the skipped first step, so k = step·s + round on static
/// topologies, and each edge of a time-varying topology alternates sides on its own schedule):
/// - odd k: Q̂ ← orthonormalise(Q); send X_i·Q̂ (a·r values), receive X_j·Q̂; P ← (X_hi − X_lo)·Q̂;
///   X_i += γ·w_ij·(X_j − X_i)·Q̂Q̂ᵀ;
/// - even k: P̂ ← orthonormalise(P); send X_iᵀ·P̂ (b·r values); Q ← (X_hi − X_lo)ᵀ·P̂; X_i += γ·w_ij·P̂P̂ᵀ(X_j − X_i);
/// - k = 0 (the first step): nothing is sent and nothing moves — there is no disagreement yet to track.
/// hi/lo are the higher and lower worker id, so both endpoints apply equal and opposite updates and the mean
/// of every tensor is preserved. Warm start keeps P and Q from step to step (the power iteration continues on
/// the slowly changing difference); without it, the basis about to be orthonormalised is redrawn from the
/// edge stream first. Orthonormalisation is modified Gram–Schmidt with ε (1e-8, as the reference).
/// Tensors of one dimension or less travel uncompressed and are gossiped at rate 1 (γ does not apply), once
/// per step. Payload per iteration and neighbour: Σ a·r (odd) or Σ b·r (even) values, plus the full vectors in
/// the first round of a step.
/// Encoding orthonormalises the bases and forms the products; decoding hands the rule, per matrix and side, the
/// differences D̂_ij = (X_j − X_i)·Q̂Q̂ᵀ (or P̂P̂ᵀ(X_j − X_i)) in factored form (`low_rank_terms`: evaluated per
/// element, never stored), the vectors as `decoded_values` marked full-rate, and then moves the bases on. The
/// gossip rule adds γ·w_ij·D̂_ij (mixing/decoded.hpp). Kernels: per matrix, one pass over X forms the products
/// for all edges, and the rule's one pass applies all edges' differences.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include <decent/compress/compressor.hpp>
#include <decent/core/checkpoint.hpp>
#include <decent/core/error.hpp>
#include <decent/core/fingerprint.hpp>
#include <decent/core/rng.hpp>
#include <decent/core/tensor.hpp>
#include <decent/compress/low_rank_kernels.hpp>
#include <decent/exec/kernels.hpp>
#include <decent/exec/executor.hpp>
#include <decent/exec/host.hpp>
#include <decent/topology/topology.hpp>
#include <decent/comm/exchange.hpp>

namespace decent::compress {

/// Options of the low-rank compressor.
struct low_rank_options {
  int rank = 1;             ///< r
  int iterations = 1;       ///< power iterations (exchanges) per step, s
  bool warm_start = true;   ///< keep P, Q between steps
  std::uint64_t seed = 0;   ///< seed of the edges' shared streams
  double epsilon = 1e-8;    ///< of the Gram–Schmidt normalisation
};

inline void add_to(fingerprint& f, const low_rank_options& o) {
  f.add(o.rank).add(o.iterations).add(o.warm_start).add(o.seed).add(o.epsilon);
}

/// PowerGossip's rank-r compression of neighbour differences.
template <exec::executor Exec, class T>
class low_rank {
 public:
  using compressor_concept = compressor_tag;
  using value_type = T;
  using executor_type = Exec;
  using options = low_rank_options;
  static constexpr bool is_linear = true;
  /// The most power iterations (exchanges) per step accepted: each one is a round of messages.
  static constexpr int max_iterations = 1000;

  template <class Context>
  low_rank(const Context& ctx, const parameters<T>& params, options o) : o_(o), rank_(ctx.rank) {
    expects(o_.rank >= 1, "low_rank_options::rank must be >= 1, got ", o_.rank);
    expects(o_.iterations >= 1 && o_.iterations <= max_iterations, "low_rank_options::iterations must be in [1, ",
            max_iterations, "], got ", o_.iterations);
    expects(std::isfinite(o_.epsilon) && o_.epsilon > 0, "low_rank_options::epsilon must be finite and > 0, got ",
            o_.epsilon);
    for (std::size_t k = 0; k < params.num_tensors(); ++k) {
      const tensor_view<T>& v = params[k];
      if (v.shape.is_vector_like()) {
        vectors_.push_back({v, vector_numel_, k});
        vector_numel_ += v.numel();
        continue;
      }
      const std::size_t a = v.shape.rows(), b = v.shape.cols();
      const std::size_t r = std::min({a, b, static_cast<std::size_t>(o_.rank)});
      matrices_.push_back(matrix{v.data, a, b, r, draws_per_edge_, k});
      draws_per_edge_ += (a + b) * r;
    }
    edges_.resize(static_cast<std::size_t>(ctx.size));
    // Who may share an edge with this worker: its neighbours on a static topology, anyone else on a
    // time-varying one (for `inject` and `bases`, which name a peer).
    may_pair_.assign(static_cast<std::size_t>(ctx.size), 1);
    may_pair_[static_cast<std::size_t>(rank_)] = 0;
    if (!topology::is_time_varying(ctx.topology)) {
      std::fill(may_pair_.begin(), may_pair_.end(), 0);
      for (const int j : topology::neighbors_of(ctx.topology, ctx.rank, 0)) may_pair_[static_cast<std::size_t>(j)] = 1;
    }
  }

  /// Power iterations per step.
  [[nodiscard]] int rounds(std::int64_t) const { return o_.iterations; }

  /// Orthonormalises this iteration's bases, forms the products for every edge in one pass over each matrix,
  /// and names the messages (vectors in the first round of a step, tag = tensor index).
  template <class Context>
  void encode(const Context& ctx, std::span<const int> peers, comm::exchange_plan<T>& plan) {
    for (const int peer : peers) edge(ctx.exec, peer);
    if (ctx.round == 0) {
      while (vector_inbox_.size() < peers.size()) vector_inbox_.push_back(ctx.exec.template allocate<T>(vector_numel_));
      for (std::size_t j = 0; j < peers.size(); ++j)
        for (const auto& [v, offset, index] : vectors_) {
          plan.sends.push_back({peers[j], v.data, v.bytes(), static_cast<int>(index)});
          plan.recvs.push_back({peers[j], vector_inbox_[j].data() + offset, v.bytes(), static_cast<int>(index)});
        }
    }
    if (ctx.step == 0) return;  // k = 0: skip
    for (matrix& m : matrices_) {
      for (int side = 0; side < 2; ++side) {  // edges at an even, then at an odd iteration
        const bool by_rows = side == 1;
        group& g = m.groups[side];
        g.peers.clear();
        g.basis.clear();
        g.own.clear();
        for (const int peer : peers) {
          edge_state& e = edge(ctx.exec, peer);
          if ((e.iteration % 2 == 1) != by_rows) continue;
          T* basis = by_rows ? e.q[m.index].data() : e.p[m.index].data();
          if (!o_.warm_start) refill(ctx.exec, peer, m, by_rows, e.iteration, basis);
          g.peers.push_back(peer);
          g.basis.push_back(basis);
          g.own.push_back(e.own[m.index].data());
        }
        if (g.peers.empty()) continue;
        g.tables(ctx.exec, g.peers.size());
        group::upload(ctx.exec, g.basis_table, g.basis, g.uploaded_basis);
        group::upload(ctx.exec, g.own_table, g.own, g.uploaded_own);
        ctx.exec.for_each(g.peers.size(), decent::detail::orthonormalize_bases_kernel<T>{
                                              g.basis_table.data(), by_rows ? m.b : m.a, m.r, o_.epsilon});
        const std::size_t message_rows = by_rows ? m.a : m.b;
        decent::detail::with_rank(m.r, [&]<int Rank>() {
          constexpr std::size_t block = Exec::space == memory_space::host ? decent::detail::host_product_block : 1;
          decent::detail::low_rank_project_kernel<T, block, Rank> project{
              m.x, m.a, m.b, m.r, by_rows, g.basis_table.data(), g.own_table.data(), static_cast<int>(g.peers.size())};
          if constexpr (Exec::space == memory_space::host && requires { ctx.exec.threads(); }) {
            project.width = decent::detail::host_product_width(m.b, ctx.exec.threads());
            project.rows = decent::detail::host_product_rows<T, Rank>();
          }
          ctx.exec.for_each(project.items(), project);
        });
        const std::size_t bytes = message_rows * m.r * sizeof(T);
        for (const int peer : g.peers) {
          edge_state& e = edge(ctx.exec, peer);
          plan.sends.push_back({peer, e.own[m.index].data(), bytes, static_cast<int>(m.index)});
          plan.recvs.push_back({peer, e.peer[m.index].data(), bytes, static_cast<int>(m.index)});
        }
      }
    }
  }

  /// Hands the rule what arrived: in the first round the vectors (`decoded_values`, full rate), then per matrix
  /// and side of the power iteration the factored differences of its edges (`decoded_differences` with
  /// `low_rank_terms`); then stores the power iteration's new P or Q and counts the iteration.
  template <class Context, class Visit>
  void decode(const Context& ctx, std::span<const int> peers, Visit&& visit) {
    if (ctx.round == 0 && !vectors_.empty()) {
      vector_slots_.resize(peers.size());
      vector_inputs_.resize(peers.size());
      for (std::size_t j = 0; j < peers.size(); ++j) vector_slots_[j] = static_cast<int>(j);
      for (const auto& [v, offset, index] : vectors_) {
        for (std::size_t j = 0; j < peers.size(); ++j) vector_inputs_[j] = vector_inbox_[j].data() + offset;
        visit(decoded_values<T>{v.data, v.numel(), vector_slots_, vector_inputs_, true});
      }
    }
    if (ctx.step == 0) return;
    for (matrix& m : matrices_) {
      for (int side = 0; side < 2; ++side) {
        const bool by_rows = side == 1;
        group& g = m.groups[side];
        if (g.peers.empty()) continue;
        g.peer.clear();
        g.slots.clear();
        for (const int peer : g.peers) {
          g.slots.push_back(static_cast<int>(std::find(peers.begin(), peers.end(), peer) - peers.begin()));
          g.peer.push_back(edge(ctx.exec, peer).peer[m.index].data());
        }
        group::upload(ctx.exec, g.peer_table, g.peer, g.uploaded_peer);
        // Each edge's message difference, peer − own, over the peer's message (the terms read one table, not
        // two), and from it the other basis of the next power iteration, (X_hi − X_lo)·basis: own − peer when
        // this worker is the higher id. The update below reads neither the other basis nor the raw messages.
        const std::size_t message_elements = (by_rows ? m.a : m.b) * m.r;
        for (const int peer : g.peers) {
          edge_state& e = edge(ctx.exec, peer);
          T* next = by_rows ? e.p[m.index].data() : e.q[m.index].data();
          ctx.exec.for_each(message_elements,
                            decent::detail::message_difference_kernel<T>{e.peer[m.index].data(),
                                                                         e.own[m.index].data(), next,
                                                                         rank_ > peer ? -1.0 : 1.0});
        }
        decent::detail::with_rank(m.r, [&]<int Rank>() {
          decent::detail::low_rank_terms<T, Rank> terms{m.b, m.r, by_rows, g.basis_table.data(), g.peer_table.data()};
          if constexpr (Exec::space == memory_space::host && Rank >= 2) terms.planar = planar(ctx.exec, m, g, by_rows);
          visit(decoded_differences<T, decent::detail::low_rank_terms<T, Rank>>{m.x, m.a * m.b, g.slots, terms});
        });
      }
    }
    for (const int peer : peers) ++edge(ctx.exec, peer).iteration;
  }

  /// Checkpoint: for every edge in use, its iteration counter and bases P, Q (the rest is per-round scratch).
  void save(checkpoint_writer& w, const Exec& ex) const {
    for (const auto& slot : edges_) {
      w.value(static_cast<std::uint8_t>(slot != nullptr));
      if (!slot) continue;
      w.value(slot->iteration);
      for (const matrix& m : matrices_) {
        w.buffer(ex, slot->p[m.index].data(), m.a * m.r);
        w.buffer(ex, slot->q[m.index].data(), m.b * m.r);
      }
    }
  }
  void load(checkpoint_reader& r, const Exec& ex) {
    for (std::size_t peer = 0; peer < edges_.size(); ++peer) {
      if (r.value<std::uint8_t>() == 0) {
        edges_[peer].reset();
        continue;
      }
      edge_state& e = edge(ex, static_cast<int>(peer));
      e.iteration = r.value<std::int64_t>();
      for (const matrix& m : matrices_) {
        r.buffer(ex, e.p[m.index].data(), m.a * m.r);
        r.buffer(ex, e.q[m.index].data(), m.b * m.r);
      }
    }
  }

  /// Replaces the bases of edge (this worker, peer) for tensor `tensor` (P: a×r, Q: b×r, row-major, host
  /// memory) — to replay a run of another implementation. Both endpoints must inject the same values.
  void inject(const Exec& ex, int peer, std::size_t tensor, std::span<const T> p, std::span<const T> q) {
    check_peer("inject", peer);
    const matrix& m = find(tensor);
    expects(p.size() == m.a * m.r && q.size() == m.b * m.r, "inject: tensor ", tensor, " needs P of ", m.a * m.r,
            " and Q of ", m.b * m.r, " values, got ", p.size(), " and ", q.size());
    edge_state& e = edge(ex, peer);
    ex.upload(e.p[m.index].data(), p.data(), p.size());
    ex.upload(e.q[m.index].data(), q.data(), q.size());
    ex.synchronize();
  }

  /// The current bases of edge (this worker, peer) for tensor `tensor`, copied to host memory.
  [[nodiscard]] std::pair<std::vector<T>, std::vector<T>> bases(const Exec& ex, int peer, std::size_t tensor) {
    check_peer("bases", peer);
    const matrix& m = find(tensor);
    edge_state& e = edge(ex, peer);
    std::vector<T> p(m.a * m.r), q(m.b * m.r);
    ex.download(p.data(), e.p[m.index].data(), p.size());
    ex.download(q.data(), e.q[m.index].data(), q.size());
    return {p, q};
  }

  /// Payload bytes sent to one neighbour in round `round` of step `step`, on a static topology (where every
  /// edge is at iteration step·s + round).
  [[nodiscard]] std::size_t message_bytes(std::int64_t step, int round) const {
    std::size_t bytes = round == 0 ? vector_numel_ * sizeof(T) : 0;
    if (step == 0) return bytes;
    const bool by_rows = (step * o_.iterations + round) % 2 == 1;
    for (const matrix& m : matrices_) bytes += (by_rows ? m.a : m.b) * m.r * sizeof(T);
    return bytes;
  }

 private:
  using buffer = typename Exec::template buffer<T>;

  struct vector_tensor {
    tensor_view<T> view;
    std::size_t offset;  ///< in the packed inbox of one neighbour
    std::size_t index;   ///< tensor index in the parameters (the message tag)
  };

  /// The edges of one matrix that are on the same side of the power iteration this round: their tables,
  /// as host copies (kept alive until the next round, since asynchronous uploads may still read them) and
  /// executor-memory twins read by the kernels.
  struct group {
    std::vector<int> peers{};
    std::vector<T*> basis{};  ///< mutable: orthonormalised in place
    std::vector<T*> own{};
    std::vector<const T*> peer{};
    std::vector<int> slots{};  ///< index of each edge's peer in the round's neighbour list
    typename Exec::template buffer<T*> basis_table{};
    typename Exec::template buffer<T*> own_table{};
    typename Exec::template buffer<const T*> peer_table{};
    std::size_t capacity = 0;
    /// What each table holds: a table is uploaded only when its pointers change, so on a static topology once
    /// per side (the edges of a worker alternate sides together).
    std::vector<T*> uploaded_basis{}, uploaded_own{};
    std::vector<const T*> uploaded_peer{};
    std::vector<buffer> planar_scratch{};  ///< host, rank ≥ 2: the planar copies of the update (`planar`)
    std::vector<const T*> planar{};        ///< planar_scratch's pointers

    void tables(const Exec& ex, std::size_t edges) {
      if (edges <= capacity) return;
      basis_table = ex.template allocate<T*>(edges);
      own_table = ex.template allocate<T*>(edges);
      peer_table = ex.template allocate<const T*>(edges);
      capacity = edges;
      uploaded_basis.clear();
      uploaded_own.clear();
      uploaded_peer.clear();
    }
    template <class P>
    static void upload(const Exec& ex, typename Exec::template buffer<P>& table, const std::vector<P>& now,
                       std::vector<P>& uploaded) {
      if (now == uploaded) return;
      ex.upload(table.data(), now.data(), now.size());
      uploaded = now;
    }
  };

  struct matrix {
    T* x;
    std::size_t a, b, r;
    std::size_t draw_offset;  ///< first draw of this matrix's P (then Q) in an edge stream
    std::size_t index;        ///< tensor index in the parameters (the message tag)
    group groups[2]{};        ///< edges at an even (0) and an odd (1) iteration this round
  };

  /// On the host at rank 2 or more: the b×r table each of g's edges reads along the rows of X in the update (by
  /// rows the basis, by columns the message difference), copied planar into the group's scratch
  /// (`low_rank_terms::planar`); returns their table.
  const T* const* planar(const Exec& ex, const matrix& m, group& g, bool by_rows) {
    const std::size_t n = m.b * m.r;
    while (g.planar_scratch.size() < g.peers.size()) {  // the scratch and its table grow once, with the edges
      g.planar_scratch.push_back(ex.template allocate<T>(n));
      g.planar.push_back(g.planar_scratch.back().data());
    }
    for (std::size_t j = 0; j < g.peers.size(); ++j) {
      const T* src = by_rows ? g.basis[j] : g.peer[j];
      ex.for_each(n, decent::detail::planar_copy_kernel<T>{src, g.planar_scratch[j].data(), m.b, m.r});
    }
    return g.planar.data();
  }

  /// Per-edge state, indexed by tensor index (empty for vector tensors), and the edge's iteration counter.
  struct edge_state {
    std::vector<buffer> p, q, own, peer;
    std::int64_t iteration = 0;  ///< k of this edge's next power iteration
  };

  void check_peer(const char* what, int peer) const {
    expects(peer >= 0 && static_cast<std::size_t>(peer) < may_pair_.size(), what, ": peer ", peer,
            " is out of range for ", may_pair_.size(), " workers");
    expects(may_pair_[static_cast<std::size_t>(peer)] != 0, what, ": rank ", peer, " is not a neighbour of rank ",
            rank_, " (edges exist only between neighbours)");
  }

  const matrix& find(std::size_t tensor) const {
    for (const matrix& m : matrices_)
      if (m.index == tensor) return m;
    throw invalid_argument(decent::detail::concat("tensor ", tensor, " is not compressed (not a matrix)"));
  }

  /// The state of edge (this worker, peer), created with the edge stream's initial draws on first use.
  edge_state& edge(const Exec& ex, int peer) {
    auto& slot = edges_.at(static_cast<std::size_t>(peer));
    if (slot) return *slot;
    slot = std::make_unique<edge_state>();
    slot->iteration = o_.iterations;  // the first step (k = 0 … s − 1) is skipped
    const random_stream stream = random_stream::for_edge(o_.seed, rank_, peer);
    std::size_t tensors = 0;
    for (const matrix& m : matrices_) tensors = std::max(tensors, m.index + 1);
    for (auto* list : {&slot->p, &slot->q, &slot->own, &slot->peer}) list->resize(tensors);
    for (const matrix& m : matrices_) {
      slot->p[m.index] = ex.template allocate<T>(m.a * m.r);
      slot->q[m.index] = ex.template allocate<T>(m.b * m.r);
      slot->own[m.index] = ex.template allocate<T>(std::max(m.a, m.b) * m.r);
      slot->peer[m.index] = ex.template allocate<T>(std::max(m.a, m.b) * m.r);
      ex.for_each(m.a * m.r, decent::detail::normal_fill_kernel<T>{slot->p[m.index].data(), stream, m.draw_offset});
      ex.for_each(m.b * m.r,
                  decent::detail::normal_fill_kernel<T>{slot->q[m.index].data(), stream, m.draw_offset + m.a * m.r});
    }
    return *slot;
  }

  /// Cold start: redraws the basis about to be orthonormalised from the edge stream (block k + 1 of draws).
  void refill(const Exec& ex, int peer, const matrix& m, bool q_side, std::int64_t k, T* basis) const {
    const random_stream stream = random_stream::for_edge(o_.seed, rank_, peer);
    const std::size_t offset = static_cast<std::size_t>(k + 1) * draws_per_edge_ + m.draw_offset + (q_side ? m.a * m.r : 0);
    ex.for_each((q_side ? m.b : m.a) * m.r, decent::detail::normal_fill_kernel<T>{basis, stream, offset});
  }

  options o_;
  int rank_;
  std::vector<vector_tensor> vectors_;
  std::size_t vector_numel_ = 0;
  std::vector<matrix> matrices_;
  std::size_t draws_per_edge_ = 0;
  std::vector<std::unique_ptr<edge_state>> edges_;  ///< by peer rank, created on first use
  std::vector<char> may_pair_;                       ///< by peer rank: whether an edge to it may exist
  std::vector<buffer> vector_inbox_;                 ///< per neighbour slot: its vector tensors, packed
  std::vector<const T*> vector_inputs_;              ///< per neighbour slot: pointers into vector_inbox_
  std::vector<int> vector_slots_;                    ///< 0, 1, …: every neighbour of the round
};

static_assert(edge_compressor<low_rank<exec::host, float>>);

}  // namespace decent::compress
