#pragma once
/// @file
/// @brief The update a rule makes from a decoded round of an edge compressor: x ← x + Σ_j c_j·D̂_j, with
/// D̂_j = C_j(x_j) − C_j(x) what the compressor decoded for neighbour j (decent/compress/compressor.hpp) and
/// c_j the rule's coefficient for that neighbour (gossip: γ·w_ij; a pairwise exchange: ½).
///
/// One pass over the part per call:
/// - `decoded_values` (lossless): x ← (1 − Σ_j c_j)·x + Σ_j c_j·x_j, neighbours summed in order in double and
///   rounded once per pass of up to `detail::max_weighted_terms` (8) neighbours (`weighted_sum`); a part marked
///   `full_rate` takes c_j = w_j (rate 1, the rule's γ not applied).
/// - `decoded_differences`: x ← x + Σ_j c_j·terms(j, e), edges summed in order in the terms' `accumulator` type
///   (low rank: the tensors' own type; double where the terms name none), rounded once; on the host, terms
///   with a row form (`cols()`, `along_row`: low rank up to rank 4) run a row per item, with the
///   same arithmetic (the same operations in the same order; bit-identical where the compiler contracts neither
///   form into fused multiply-adds, as GCC does not for x86-64 without -march).

#include <concepts>
#include <cstddef>
#include <span>
#include <vector>

#include <decent/compress/compressor.hpp>
#include <decent/core/config.hpp>
#include <decent/exec/kernels.hpp>
#include <decent/exec/executor.hpp>

namespace decent::detail {

/// The type decoded terms are summed in: `Terms::accumulator` where it names one, else double.
template <class Terms>
struct terms_accumulator {
  using type = double;
};
template <class Terms>
  requires requires { typename Terms::accumulator; }
struct terms_accumulator<Terms> {
  using type = typename Terms::accumulator;
};
template <class Terms>
using terms_accumulator_t = typename terms_accumulator<Terms>::type;

/// x[e] ← x[e] + Σ_j coef[j]·terms(j, e): a rule's update from decoded differences, edges summed in order in
/// A = `terms_accumulator_t<Terms>` (each coefficient rounded to A first) and rounded once.
template <class T, class Terms>
struct add_differences_kernel {
  using A = terms_accumulator_t<Terms>;
  T* x;
  Terms terms;
  const double* coef;
  int edges;
  DECENT_HD void operator()(std::size_t e) const {
    A acc = 0;
    for (int j = 0; j < edges; ++j) acc += static_cast<A>(coef[j]) * terms(j, e);
    x[e] = static_cast<T>(static_cast<A>(x[e]) + acc);
  }
};

/// The same update a row at a time, on the host (item = row i of a rows × cols part): for every column k,
/// x ← x + Σ_j coef[j]·D̂_j(i, k) with D̂_j along the row from `terms.along_row` — the same sums in the same order as
/// `add_differences_kernel` (acc = 0, then + coef_j·D̂_j for j in order, then x + acc, rounded once), in chunks of
/// columns so that each loop over k runs over contiguous memory with its per-row factors in registers.
template <class T, class Terms>
struct add_differences_rows_kernel {
  using A = terms_accumulator_t<Terms>;
  T* x;
  Terms terms;
  const double* coef;
  int edges;
  std::size_t cols;
  /// Elements one item touches, so that the host executor parallelises a part of few long rows.
  [[nodiscard]] std::size_t work_per_item() const { return cols; }
  void operator()(std::size_t i) const {
    // Up to 4 edges with every row form at once (`along_row_all`), the edge count at compile time: one loop over
    // the row sums each column's edges in a register, x read and written once; the same operations in the same
    // order as below.
    if constexpr (requires { Terms::max_row_sides; }) {
      static_assert(Terms::max_row_sides == 4, "add_differences_rows_kernel names 1 to 4 edges");
      switch (edges) {
        case 1: return fused_row<1>(i);
        case 2: return fused_row<2>(i);
        case 3: return fused_row<3>(i);
        case 4: return fused_row<4>(i);
        default: break;
      }
    }
    constexpr std::size_t chunk = 512;
    A acc[chunk];
    T* row = x + i * cols;
    for (std::size_t k0 = 0; k0 < cols; k0 += chunk) {
      const std::size_t len = cols - k0 < chunk ? cols - k0 : chunk;
      for (std::size_t k = 0; k < len; ++k) acc[k] = 0;
      for (int j = 0; j < edges; ++j) {
        const A c = static_cast<A>(coef[j]);
        terms.along_row(j, i, [&](const auto& along) {
          for (std::size_t k = 0; k < len; ++k) acc[k] += c * along(k0 + k);
        });
      }
      for (std::size_t k = 0; k < len; ++k) row[k0 + k] = static_cast<T>(static_cast<A>(row[k0 + k]) + acc[k]);
    }
  }

 private:
  template <int Edges>
  void fused_row(std::size_t i) const {
    terms.template along_row_all<Edges>(i, [&](const auto& sides) {
      T* row = x + i * cols;
      A c[static_cast<std::size_t>(Edges)];
      for (int j = 0; j < Edges; ++j) c[j] = static_cast<A>(coef[j]);
      for (std::size_t k = 0; k < cols; ++k) {
        A acc = 0;
        for (int j = 0; j < Edges; ++j) acc += c[j] * sides[j](k);
        row[k] = static_cast<T>(static_cast<A>(row[k]) + acc);
      }
    });
  }
};

/// Whether decoded terms have a row form (`cols()`, `along_row(j, i, f)`).
struct probe_along {
  template <class F>
  void operator()(const F&) const {}
};
template <class Terms>
concept row_terms = requires(const Terms& t, std::size_t i) {
  { t.cols() } -> std::convertible_to<std::size_t>;
  t.along_row(0, i, probe_along{});
};

}  // namespace decent::detail

namespace decent::mixing {

/// Applies decoded parts with the rule's coefficients. Keeps the coefficient tables of a round (host copies
/// and executor-memory twins, kept until the same part of the next round, as asynchronous uploads may still
/// read them); call `next_round()` before the first part of every round.
template <exec::executor Exec>
class decoded_update {
 public:
  void next_round() { part_ = 0; }

  /// x ← x + Σ_j rate·weights[slot_j]·D̂_j for one part (rate = γ, or 1 for a full-rate part).
  template <class T>
  void operator()(const Exec& ex, const compress::decoded_values<T>& part, std::span<const double> weights,
                  double rate) {
    std::vector<double>& coef = host_table(part.slots.size());
    const double c = part.full_rate ? 1.0 : rate;  // 1·w = w exactly
    double self = 1.0;
    for (std::size_t j = 0; j < part.slots.size(); ++j) {
      coef[j] = c * weights[static_cast<std::size_t>(part.slots[j])];
      self -= coef[j];
    }
    decent::detail::weighted_sum(ex, part.n, part.x, self, part.values.data(), coef.data(),
                                 static_cast<int>(part.slots.size()));
    ++part_;
  }

  template <class T, class Terms>
  void operator()(const Exec& ex, const compress::decoded_differences<T, Terms>& part,
                  std::span<const double> weights, double rate) {
    const std::size_t edges = part.slots.size();
    std::vector<double>& coef = host_table(edges);
    for (std::size_t j = 0; j < edges; ++j) coef[j] = rate * weights[static_cast<std::size_t>(part.slots[j])];
    if (device_.size() <= part_) device_.resize(part_ + 1);
    auto& table = device_[part_];
    if (table.size() < edges) table = ex.template allocate<double>(edges);
    ex.upload(table.data(), coef.data(), edges);
    // On the host, terms with a row form run a row per item (the same arithmetic; add_differences_rows_kernel);
    // devices keep an element per thread.
    if constexpr (decent::detail::row_terms<Terms> && Exec::space == memory_space::host) {
      const std::size_t cols = part.terms.cols();
      if (cols > 0 && part.n % cols == 0) {
        ex.for_each(part.n / cols, decent::detail::add_differences_rows_kernel<T, Terms>{
                                       part.x, part.terms, table.data(), static_cast<int>(edges), cols});
        ++part_;
        return;
      }
    }
    ex.for_each(part.n, decent::detail::add_differences_kernel<T, Terms>{part.x, part.terms, table.data(),
                                                                         static_cast<int>(edges)});
    ++part_;
  }

 private:
  std::vector<double>& host_table(std::size_t n) {
    if (host_.size() <= part_) host_.resize(part_ + 1);
    host_[part_].resize(n);
    return host_[part_];
  }

  std::size_t part_ = 0;
  std::vector<std::vector<double>> host_;
  std::vector<typename Exec::template buffer<double>> device_;
};

}  // namespace decent::mixing
