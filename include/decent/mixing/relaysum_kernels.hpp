#pragma once
/// @file
/// @brief RelaySum's kernels (mixing/relaysum.hpp): the compaction of a slice, the outgoing messages of all
/// neighbours in one pass, the update.
///
/// Each piece of math is written once, as a trivially copyable functor with a `DECENT_HD` call operator taking
/// an element (or row) index; `exec::host` runs it in a loop, `exec::cuda` in a kernel.

#include <cstddef>

#include <decent/core/config.hpp>

namespace decent::detail {

/// dst[i] = src[stride·i]: the coordinates of one RelaySum slice, compacted.
template <class T>
struct gather_kernel {
  T* dst;
  const T* src;
  std::size_t stride;
  DECENT_HD void operator()(std::size_t i) const { dst[i] = src[stride * i]; }
};

/// RelaySum's outgoing messages of one slice, all neighbours in one pass (docs/algorithms.md §2.1), over
/// length + 1 items: m_j[i] = u[i] + Σ_{k≠j} r_k[i], summed in neighbour order in double. Items i < length are
/// coordinates, with u[i] = x[stride·i] (model variant) or x[stride·i] − previous[i] (grad variant: the update
/// the worker applied); item `length` is the count, with u = 1, so counts are relayed exactly like values.
template <class T>
struct relay_messages_kernel {
  const T* x;
  std::size_t stride;
  std::size_t length;
  const T* previous;       ///< null: model variant
  const T* const* relay;   ///< relay[k]: last message received from neighbour k (count at [length])
  T* const* message;       ///< message[j]: the message to neighbour j
  int degree;
  DECENT_HD void operator()(std::size_t i) const {
    const double u = i == length ? 1.0
                                 : static_cast<double>(x[stride * i]) - (previous ? static_cast<double>(previous[i]) : 0.0);
    for (int j = 0; j < degree; ++j) {
      double m = u;
      for (int k = 0; k < degree; ++k)
        if (k != j) m += static_cast<double>(relay[k][i]);
      message[j][i] = static_cast<T>(m);
    }
  }
};

/// RelaySum's update of one slice from S = u + Σ_k r_k[i] and C = 1 + Σ_k r_k[length] (the counts), both in
/// neighbour order in double. Model variant (previous null): x ← (S + (n − C)·reference)/n for world_size
/// normalisation, S/C for counts. Grad variant: x ← previous + S/n (or S/C), and previous ← x.
template <class T>
struct relay_update_kernel {
  T* x;
  std::size_t stride;
  std::size_t length;
  T* previous;              ///< grad variant: the parameters after the last round; null for the model variant
  const T* reference;       ///< model variant: x⁽⁰⁾ on these coordinates
  const T* const* relay;
  int degree;
  double workers;           ///< n
  bool by_counts;           ///< counts normalisation instead of world_size
  DECENT_HD void operator()(std::size_t i) const {
    const double xi = static_cast<double>(x[stride * i]);
    double s = previous ? xi - static_cast<double>(previous[i]) : xi;
    double reached = 1.0;
    for (int k = 0; k < degree; ++k) {
      s += static_cast<double>(relay[k][i]);
      reached += static_cast<double>(relay[k][length]);
    }
    const double divisor = by_counts ? reached : workers;
    if (previous) {
      const T updated = static_cast<T>(static_cast<double>(previous[i]) + s / divisor);
      x[stride * i] = updated;
      previous[i] = updated;
    } else {
      const double fill = by_counts || reached >= workers ? 0.0 : (workers - reached) * static_cast<double>(reference[i]);
      x[stride * i] = static_cast<T>((s + fill) / divisor);
    }
  }
};

}  // namespace decent::detail
