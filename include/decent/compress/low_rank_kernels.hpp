#pragma once
/// @file
/// @brief PowerGossip's kernels (compress/low_rank.hpp): the products of a matrix with its edges' bases, the
/// factored decoded differences, and Gram–Schmidt on a basis.
///
/// Each piece of math is written once, as a trivially copyable functor with a `DECENT_HD` call operator taking
/// an element (or row) index; `exec::host` runs it in a loop, `exec::cuda` in a kernel.

#include <cmath>
#include <cstddef>

#include <decent/core/config.hpp>
#include <decent/exec/kernels.hpp>

namespace decent::detail {

/// Σ_i m[i·ld + c1]·m[i·ld + c2]: the dot product of two columns of a row-major matrix with ld columns.
template <class T>
struct column_dot_term {
  const T* m;
  std::size_t ld, c1, c2;
  DECENT_HD double operator()(std::size_t i) const {
    return static_cast<double>(m[i * ld + c1]) * static_cast<double>(m[i * ld + c2]);
  }
};

/// m[i·ld + dst] ← f·m[i·ld + dst] + a·m[i·ld + src] (column operations of Gram–Schmidt).
template <class T>
struct column_update_kernel {
  T* m;
  std::size_t ld, dst, src;
  double f, a;
  DECENT_HD void operator()(std::size_t i) const {
    m[i * ld + dst] = static_cast<T>(f * static_cast<double>(m[i * ld + dst]) + a * static_cast<double>(m[i * ld + src]));
  }
};

/// Modified Gram–Schmidt on the `cols` columns of a row-major rows×cols matrix, in place, as PowerGossip's
/// reference does it: column c ← c/(‖c‖₂ + ε), then its projection is removed from every later column.
/// A zero column stays zero (thanks to ε), never NaN. One thread does it all, its sums in the host executor's
/// order (`ordered_sum`).
template <class T>
DECENT_HD void orthonormalize_basis(T* m, std::size_t rows, std::size_t cols, double epsilon) {
  for (std::size_t c = 0; c < cols; ++c) {
    const double norm = sqrt(ordered_sum(rows, column_dot_term<T>{m, cols, c, c}));
    const column_update_kernel<T> normalize{m, cols, c, c, 1.0 / (norm + epsilon), 0.0};
    for (std::size_t i = 0; i < rows; ++i) normalize(i);
    for (std::size_t later = c + 1; later < cols; ++later) {
      const double projection = ordered_sum(rows, column_dot_term<T>{m, cols, c, later});
      const column_update_kernel<T> remove{m, cols, later, c, 1.0, -projection};
      for (std::size_t i = 0; i < rows; ++i) remove(i);
    }
  }
}

/// The bases of all of a group's edges orthonormalised in one launch (item = a basis, `orthonormalize_basis`):
/// no reduction, and so no wait for the device, per edge or per column. A device runs each basis on one thread,
/// so a basis of many rows costs rows·r(r+1) dependent loads there (not yet measured on a GPU).
template <class T>
struct orthonormalize_bases_kernel {
  T* const* bases;
  std::size_t rows, cols;
  double epsilon;
  /// Elements one item reads, about, for the host executor's choice of threads.
  [[nodiscard]] std::size_t work_per_item() const { return rows * cols * (cols + 1); }
  DECENT_HD void operator()(std::size_t j) const { orthonormalize_basis(bases[j], rows, cols, epsilon); }
};

/// PowerGossip's products of one matrix X (a×b) with the bases of all its edges, one pass over X: by rows,
/// out[j] = X·basis[j] (basis b×r; item = a block of `rows` rows of X, summed as `times_basis_row`), by columns,
/// out[j] = Xᵀ·basis[j] (basis a×r; item = a block of `width` ≤ `Block` columns of X, summed as
/// `transposed_times_basis_row`). The values are the same for any Block, width and rows (`host_product_block`,
/// `host_product_width` and `host_product_rows` on the host, 1 on devices) and Rank (r at compile time
/// for r ≤ `max_fixed_rank`, else 0) — on one compiler: nvcc fuses multiply-adds by default, so devices may differ
/// from the host in the last bits.
template <class T, std::size_t Block = 1, int Rank = 0>
struct low_rank_project_kernel {
  const T* x;
  std::size_t a, b, r;
  bool by_rows;
  const T* const* basis;
  T* const* out;
  int edges;
  std::size_t width = Block;  ///< by columns: columns per item, 1 … Block (the host: `host_product_width`)
  std::size_t rows = 1;       ///< by rows: rows per item (the host: `host_product_rows<T>()`)
  /// Columns per item: `width`, within 1 … Block (the stack table's size).
  [[nodiscard]] DECENT_HD std::size_t columns_per_item() const {
    return width < 1 ? 1 : width > Block ? Block : width;
  }
  /// Rows per item by rows: `rows`, at least 1.
  [[nodiscard]] DECENT_HD std::size_t rows_per_item() const { return rows < 1 ? 1 : rows; }
  /// Work items: blocks of `rows_per_item()` rows of X (by rows), of `columns_per_item()` columns (by columns).
  [[nodiscard]] std::size_t items() const {
    return by_rows ? (a + rows_per_item() - 1) / rows_per_item() : (b + columns_per_item() - 1) / columns_per_item();
  }
  /// Elements of X one item reads, times the edges, for the host executor's choice of threads.
  [[nodiscard]] std::size_t work_per_item() const {
    return (by_rows ? rows_per_item() * b : columns_per_item() * a) * static_cast<std::size_t>(edges);
  }
  DECENT_HD void operator()(std::size_t item) const {
    if (by_rows) {
      const std::size_t h = rows_per_item(), first = item * h, count = a - first < h ? a - first : h;
      if constexpr (Rank > 0) times_bases_rows_fixed<Rank>(x, b, basis, out, edges, first, count);
      else
        for (std::size_t i = first; i < first + count; ++i)
          for (int j = 0; j < edges; ++j) times_basis_row(x, b, basis[j], r, i, out[j]);
      return;
    }
    const std::size_t w = columns_per_item(), first = item * w, count = b - first < w ? b - first : w;
    transposed_times_bases_rows<Block, Rank>(x, a, b, basis, out, edges, r, first, count);
  }
};

/// PowerGossip's decoded differences of one matrix X (a×b) for all its edges of one side, in factored form
/// (item e = element (i, k) of X): D̂_j = difference[j]·basis[j]ᵀ by rows (messages a×r, basis b×r), or
/// basis[j]·difference[j]ᵀ by columns (basis a×r, messages b×r), where difference[j] = peer's message − own,
/// formed once per round by `message_difference_kernel` (one table read per term, not two); the sum over the rank
/// in order, in T (the `accumulator`: the rule's update sums the edges in it too, as the reference does in the
/// tensors' type).
/// With a compile-time `Rank` (1 … max_fixed_rank) the terms also have a row form, `along_row`, which the rule's
/// update uses on the host: the same values, with what depends only on the row computed once per row.
template <class T, int Rank = 0>
struct low_rank_terms {
  /// The arithmetic of the terms and of the update that sums them (mixing/decoded.hpp).
  using accumulator = T;
  std::size_t b, r;
  bool by_rows;
  const T* const* basis;
  const T* const* difference;
  /// Host, optional: per edge the b×r table the row form reads along k (by rows basis[j], by columns
  /// difference[j]) copied planar, element (k, c) at c·b + k (`planar_copy_kernel`): the loop over k then reads
  /// each c contiguously instead of de-interleaving k·r + c. The same products in the same order: the same bits.
  const T* const* planar = nullptr;

  DECENT_HD T operator()(int j, std::size_t e) const {
    const std::size_t i = e / b, k = e % b;
    const std::size_t message_row = by_rows ? i : k, basis_row = by_rows ? k : i;
    T s = 0;
    for (std::size_t c = 0; c < r; ++c)
      s += difference[j][message_row * r + c] * basis[j][basis_row * r + c];
    return s;
  }

  /// Edge j along row i, either side: D̂_j(i, k) = Σ_c f[c]·along(k, c), with f = row i of difference_j (by rows)
  /// or of basis_j (by columns) and along the other factor, a b×r table (basis_j by rows, difference_j by
  /// columns): interleaved, (k, c) at k·R + c, or with `Planar` its planar copy, at c·b + k. Each product is the
  /// element form's (a product does not depend on its operands' order), summed over c in the same order.
  template <bool Planar>
  struct side {
    T f[static_cast<std::size_t>(Rank > 0 ? Rank : 1)];
    const T* along;
    std::size_t b;
    DECENT_HD T operator()(std::size_t k) const {
      T s = 0;
      for (int c = 0; c < Rank; ++c) {
        const auto at = static_cast<std::size_t>(c);
        s += f[c] * along[Planar ? at * b + k : k * Rank + at];
      }
      return s;
    }
  };

  /// Columns of X (the length of a row).
  [[nodiscard]] std::size_t cols() const { return b; }

  /// The most edges `along_row_all` takes.
  static constexpr int max_row_sides = 4;
  /// Calls along(sides) with sides[j](k) = D̂_j(i, k) for the edges j < Count (≤ `max_row_sides`): every edge's
  /// row form at once, in an array of one type, so that an update can sum a column's edges in one loop over k.
  template <int Count, class Along>
  void along_row_all(std::size_t i, Along&& along) const
    requires(Rank > 0)
  {
    static_assert(Count >= 1 && Count <= max_row_sides, "along_row_all: 1 to max_row_sides edges");
    auto all = [&]<bool Planar>() {
      side<Planar> sides[static_cast<std::size_t>(Count)];
      for (int j = 0; j < Count; ++j) sides[j] = side_of<Planar>(j, i);
      along(sides);
    };
    if (planar != nullptr) all.template operator()<true>();
    else all.template operator()<false>();
  }
  /// Calls along(f) with f(k) = D̂_j(i, k), the same values as operator()(j, i·b + k).
  template <class Along>
  void along_row(int j, std::size_t i, Along&& along) const
    requires(Rank > 0)
  {
    if (planar != nullptr) along(side_of<true>(j, i));
    else along(side_of<false>(j, i));
  }

 private:
  /// Edge j along row i (`side`): the interleaved table or, with `Planar`, its planar copy planar[j].
  template <bool Planar>
  side<Planar> side_of(int j, std::size_t i) const
    requires(Rank > 0)
  {
    side<Planar> edge{{}, Planar ? planar[j] : by_rows ? basis[j] : difference[j], b};
    const T* row = (by_rows ? difference[j] : basis[j]) + i * Rank;
    for (int c = 0; c < Rank; ++c) edge.f[c] = row[c];
    return edge;
  }
};

/// One edge's messages made ready for the update, once per round (compress/low_rank.hpp's decode): the peer's
/// message becomes the difference d = peer − own (rounded once to T: for float and double the value of `peer −
/// own` in T, double rounding from double being innocuous), the table `low_rank_terms` reads, and the power
/// iteration's other basis becomes next = sign·d ((X_hi − X_lo)·basis, sign = −1 on the higher id: the same value
/// on both ends of the edge, and the value sign·(peer − own) rounded once).
template <class T>
struct message_difference_kernel {
  T* peer;
  const T* own;
  T* next;
  double sign;
  DECENT_HD void operator()(std::size_t i) const {
    const T d = static_cast<T>(static_cast<double>(peer[i]) - static_cast<double>(own[i]));
    peer[i] = d;
    next[i] = static_cast<T>(sign * static_cast<double>(d));
  }
};

/// dst[c·rows + k] = src[k·cols + c] (item = an element of dst): a rows×cols row-major table copied planar, the
/// layout of `low_rank_terms::planar`.
template <class T>
struct planar_copy_kernel {
  const T* src;
  T* dst;
  std::size_t rows, cols;
  DECENT_HD void operator()(std::size_t t) const {
    const std::size_t c = t / rows, k = t % rows;
    dst[t] = src[k * cols + c];
  }
};

/// The largest rank with compile-time row terms; larger ranks use the element form only.
inline constexpr int max_fixed_rank = 4;

/// Calls f.template operator()<R>() with R = r for r ≤ max_fixed_rank, else R = 0.
template <class F>
void with_rank(std::size_t r, F&& f) {
  static_assert(max_fixed_rank == 4, "with_rank's cases must list every fixed rank");
  switch (r) {
    case 1: f.template operator()<1>(); break;
    case 2: f.template operator()<2>(); break;
    case 3: f.template operator()<3>(); break;
    case 4: f.template operator()<4>(); break;
    default: f.template operator()<0>(); break;
  }
}

}  // namespace decent::detail
