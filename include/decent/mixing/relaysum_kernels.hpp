#pragma once
/// @file
/// @brief RelaySum's kernels (mixing/relaysum.hpp): the compaction of a slice, the outgoing messages of all
/// neighbours in one pass, the update.
///
/// Each piece of math is written once, as a trivially copyable functor with a `DECENT_HD` call operator taking
/// an element (or row) index; `exec::host` runs it in a loop, `exec::cuda` in a kernel.
/// Arithmetic: the tensors' type T, f32 tensors in f32 as the reference's torch tensors (since 2026-12-03; before,
/// in double and rounded once, which kept the portable build's loops 2 lanes wide with a conversion per value);
/// the counts in double (integers, exact either way).

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

/// The largest tree degree with kernels specialised at compile time (binary trees, chains, double binary trees:
/// at most 3); higher degrees (stars, BFS trees) use the runtime-degree kernels, with the same sums in the same order.
inline constexpr int max_fixed_relay_degree = 3;

/// The runtime-degree kernels (Degree = 0) take a block of coordinates per item, at most this many: the pointer
/// tables are read once per block and each loop over neighbours runs over the block's contiguous coordinates
/// (vectorised), every coordinate keeping its sums and their order. Host executors use blocks of this size,
/// CUDA blocks of one coordinate (an item per thread, coalesced).
inline constexpr std::size_t relay_block = 256;

/// A kernel's block buffer: relay_block sums on the host, one on a GPU (whose items are single coordinates), so
/// that device threads keep no 2 KiB array in local memory.
#if defined(__CUDA_ARCH__)
inline constexpr std::size_t relay_buffer = 1;
#else
inline constexpr std::size_t relay_buffer = relay_block;
#endif

/// The items of a runtime-degree kernel over `length` coordinates in blocks of `block` (compile-time degrees: one
/// item per coordinate).
template <int Degree>
[[nodiscard]] DECENT_HD inline std::size_t relay_items(std::size_t length, std::size_t block) {
  if constexpr (Degree == 0) return (length + block - 1) / block;
  else return length;
}

/// Where a slice's coordinate i lives in x: x[Stride·i] for a compile-time Stride (1: one tree; 2: one of a double
/// binary tree's two slices), x[stride·i] for Stride = 0.
template <int Stride>
DECENT_HD inline std::size_t relay_coordinate(std::size_t i, std::size_t stride) {
  if constexpr (Stride == 0) return stride * i;
  else return static_cast<std::size_t>(Stride) * i;
}

/// u[i], a slice's own input at coordinate i: x[stride·i] (model variant, previous null) or x[stride·i] −
/// previous[i] (grad variant: the update the worker applied), in T.
template <int Stride, class T>
DECENT_HD inline T relay_input(const T* x, std::size_t stride, const T* previous, std::size_t i) {
  const T xi = x[relay_coordinate<Stride>(i, stride)];
  return previous ? xi - previous[i] : xi;
}

/// The pointers of a slice's relays and messages: by value for a compile-time degree (they stay in registers and
/// every loop over neighbours unrolls), as executor-memory tables for a runtime degree (Degree = 0).
template <class T, int Degree>
struct relay_pointers {
  const T* relay[static_cast<std::size_t>(Degree)];
  T* message[static_cast<std::size_t>(Degree)];
  DECENT_HD static constexpr int degree(int) { return Degree; }
};
template <class T>
struct relay_pointers<T, 0> {
  const T* const* relay;
  T* const* message;
  DECENT_HD static constexpr int degree(int runtime) { return runtime; }
};

/// A slice's pointers as its kernels take them: the first Degree host-side pointers by value, or (Degree = 0) the
/// executor-memory tables holding the same pointers.
template <class T, int Degree>
[[nodiscard]] relay_pointers<T, Degree> relay_pointers_for(const T* const* relays, T* const* messages,
                                                          const T* const* relay_table, T* const* message_table) {
  relay_pointers<T, Degree> p{};
  if constexpr (Degree == 0) {
    p.relay = relay_table;
    p.message = message_table;
  } else {
    for (std::size_t k = 0; k < static_cast<std::size_t>(Degree); ++k) {
      p.relay[k] = relays[k];
      p.message[k] = messages[k];
    }
  }
  return p;
}

/// RelaySum's outgoing messages of one slice, all neighbours in one pass (docs/algorithms.md §2.1), over the
/// slice's `length` coordinates: m_j[i] = u[i] + Σ_{k≠j} r_k[i], summed in neighbour order in T, with
/// u[i] = x[stride·i] (model variant) or x[stride·i] − previous[i] (grad variant: the update the worker applied).
/// The counts (item `length` of every message) are `relay_counts_kernel`'s. Items: coordinates, or for a runtime
/// degree blocks of `block` coordinates (`relay_items`; messages and relays are then separate buffers).
template <class T, int Degree, int Stride>
struct relay_messages_kernel {
  const T* x;
  std::size_t stride;
  const T* previous;  ///< null: model variant
  relay_pointers<T, Degree> p;
  int runtime_degree;  ///< the degree when Degree = 0
  std::size_t length = 0;  ///< Degree = 0: the slice's coordinates
  std::size_t block = 1;   ///< Degree = 0: coordinates per item, at most relay_buffer (1 on a GPU)
  [[nodiscard]] std::size_t work_per_item() const
    requires(Degree == 0)
  {
    return block * static_cast<std::size_t>(2 * runtime_degree + 1);
  }
  DECENT_HD T input(std::size_t i) const { return relay_input<Stride>(x, stride, previous, i); }
  DECENT_HD void operator()(std::size_t item) const {
    if constexpr (Degree > 0) {
      const std::size_t i = item;
      const T u = input(i);
      // Every relay is read before any message is written, so message j may replace relay j (in-place exchanges).
      constexpr auto degree = static_cast<std::size_t>(Degree);
      T r[degree];
      for (std::size_t k = 0; k < degree; ++k) r[k] = p.relay[k][i];
      for (std::size_t j = 0; j < degree; ++j) {
        T m = u;
        for (std::size_t k = 0; k < degree; ++k)
          if (k != j) m += r[k];
        p.message[j][i] = m;
      }
    } else {
      const std::size_t first = item * block, count = first + block < length ? block : length - first;
      T m[relay_buffer];
      for (int j = 0; j < runtime_degree; ++j) {
        for (std::size_t e = 0; e < count; ++e) m[e] = input(first + e);
        for (int k = 0; k < runtime_degree; ++k) {
          if (k == j) continue;
          const T* r = p.relay[k] + first;
          for (std::size_t e = 0; e < count; ++e) m[e] += r[e];
        }
        T* out = p.message[j] + first;
        for (std::size_t e = 0; e < count; ++e) out[e] = m[e];
      }
    }
  }
};

/// The counts of a slice's messages and its reach, one item: reached[0] = C = 1 + Σ_k r_k[length] (in neighbour
/// order, in double) for the update, and message j's count m_j[length] = 1 + Σ_{k≠j} r_k[length] (relayed like a
/// coordinate whose input is 1), computed as C − r_j[length]: counts are integers, so that is exact, and each
/// message's count may replace its relay's (in-place exchanges).
template <class T>
struct relay_counts_kernel {
  const T* const* relay;
  T* const* message;  ///< null: only `reached`
  double* reached;
  std::size_t length;
  int degree;
  DECENT_HD void operator()(std::size_t) const {
    double c = 1.0;
    for (int k = 0; k < degree; ++k) c += static_cast<double>(relay[k][length]);
    *reached = c;
    if (!message) return;
    for (int j = 0; j < degree; ++j) message[j][length] = static_cast<T>(c - static_cast<double>(relay[j][length]));
  }
};

/// RelaySum's update of one slice from S = u + Σ_k r_k[i] (in neighbour order, in T) and C = `*reached`
/// (`relay_counts_kernel`). Model variant (previous null): x ← (S + (n − C)·reference)/n for world_size
/// normalisation, S/C for counts. Grad variant: x ← previous + S/n (or S/C), and previous ← x. Items as
/// `relay_messages_kernel`'s.
/// How the update finishes a coordinate (`Finish`):
/// - `general`: every variant and option above, decided per coordinate (uniform branches: what GPUs run, and the
///   host for the grad variant, counts, update_reference, x⁽⁰⁾ fills, run-time degrees and strides);
/// - `heard_all`: the model variant, world_size normalisation, C ≥ n (no fill), no update_reference: x ← S/n,
///   with no branch in the loop, so that it vectorises (`general` stays scalar in some of GCC's loop versions).
enum class relay_finish { general, heard_all };

template <class T, int Degree, int Stride, relay_finish Finish = relay_finish::general>
struct relay_update_kernel {
  T* x;
  std::size_t stride;
  T* previous;         ///< grad variant: the parameters after the last round; null for the model variant
  const T* reference;  ///< model variant: x⁽⁰⁾ on these coordinates
  relay_pointers<T, Degree> p;
  int runtime_degree;
  const double* reached;  ///< C, in executor memory
  double workers;         ///< n
  bool by_counts;         ///< counts normalisation instead of world_size
  T* new_reference = nullptr;  ///< model variant, `update_reference`: x⁽⁰⁾ (the same memory) ← the new x; else null
  std::size_t length = 0;      ///< Degree = 0: the slice's coordinates
  std::size_t block = 1;       ///< Degree = 0: coordinates per item, at most relay_buffer (1 on a GPU)
  [[nodiscard]] std::size_t work_per_item() const
    requires(Degree == 0)
  {
    return block * static_cast<std::size_t>(runtime_degree + 2);
  }
  DECENT_HD void operator()(std::size_t item) const {
    if constexpr (Degree > 0) {
      const std::size_t i = item;
      T s = input(i);
      for (int k = 0; k < Degree; ++k) s += p.relay[k][i];
      finish(i, s);
    } else {
      const std::size_t first = item * block, count = first + block < length ? block : length - first;
      T s[relay_buffer];
      for (std::size_t e = 0; e < count; ++e) s[e] = input(first + e);
      for (int k = 0; k < runtime_degree; ++k) {
        const T* r = p.relay[k] + first;
        for (std::size_t e = 0; e < count; ++e) s[e] += r[e];
      }
      for (std::size_t e = 0; e < count; ++e) finish(first + e, s[e]);
    }
  }
  DECENT_HD T input(std::size_t i) const { return relay_input<Stride, T>(x, stride, previous, i); }
  /// Coordinate i's new value from its sum S.
  DECENT_HD void finish(std::size_t i, T s) const {
    const std::size_t at = relay_coordinate<Stride>(i, stride);
    // + 0, the general finish's zero fill: a sum of −0 gives +0 in every finish.
    if constexpr (Finish == relay_finish::heard_all) {
      x[at] = (s + T(0)) / static_cast<T>(workers);
    } else {
      const double c = *reached;
      const T divisor = static_cast<T>(by_counts ? c : workers);
      if (previous) {
        const T updated = previous[i] + s / divisor;
        x[at] = updated;
        previous[i] = updated;
      } else {
        const T fill = by_counts || c >= workers ? T(0) : static_cast<T>(workers - c) * reference[i];
        const T updated = (s + fill) / divisor;
        x[at] = updated;
        if (new_reference) new_reference[i] = updated;
      }
    }
  }
};

/// Calls f.template operator()<Degree, Stride>() with the compile-time degree (1 … max_fixed_relay_degree, else 0:
/// runtime) and stride (1, 2, else 0: runtime) of a slice.
template <class F>
void with_relay_shape(int degree, std::size_t stride, F&& f) {
  static_assert(max_fixed_relay_degree == 3, "with_relay_shape's cases must list every fixed degree");
  auto by_stride = [&]<int Degree>() {
    if (stride == 1) f.template operator()<Degree, 1>();
    else if (stride == 2) f.template operator()<Degree, 2>();
    else f.template operator()<Degree, 0>();
  };
  switch (degree) {
    case 1: by_stride.template operator()<1>(); break;
    case 2: by_stride.template operator()<2>(); break;
    case 3: by_stride.template operator()<3>(); break;
    default: by_stride.template operator()<0>(); break;
  }
}

}  // namespace decent::detail
