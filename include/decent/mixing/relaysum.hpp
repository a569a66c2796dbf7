#pragma once
/// @file
/// @brief The RelaySum mixing rule (RelaySGD, docs/algorithms.md §2): exact averaging with finite delays on
/// spanning trees, immune to data heterogeneity.
///
/// Per tree neighbour j a worker keeps the last message r_{j→i} and its count c_{j→i}. Each round it sends
/// m_{i→j} = u_i + Σ_{k≠j} r_{k→i} with count c_{i→j} = 1 + Σ_{k≠j} c_{k→i}, receives the new r, c, and forms
/// S_i = u_i + Σ_j r_{j→i}, C_i = 1 + Σ_j c_{j→i}. After diameter-many rounds C_i = n and S_i holds every
/// worker's input exactly once (with delay d(i,k) − 1).
/// - Model variant (RelaySGD, default): u_i = x_i after the local step; x_i ← (S_i + (n − C_i)·x⁽⁰⁾)/n
///   (`world_size` normalisation, x⁽⁰⁾ = the parameters at construction, which must be the same on every
///   worker) or x_i ← S_i / C_i (`counts`).
/// - Grad variant (RelaySGD/Grad): u_i = the update the local step applied (x_i minus the parameters after the
///   previous round); x_i ← previous + S_i/n (`world_size`) or previous + S_i/C_i (`counts`).
/// - Several trees (double binary trees): coordinate k of the packed model is relayed by tree k mod T.
/// - Simulated drops: each message is lost with probability p (seeded, decided by the receiver); a lost
///   (message, count) pair is left out of S_i, C_i and of what i relays next round, and the count-based fill
///   keeps the normalisation right.
/// - Overlap: the update uses the messages of the previous round (one more round of delay). This reproduces
///   the semantics of the reference's overlapped communication; with the synchronous communicators of this
///   version the exchange itself still completes inside `mix()`.
/// Messages are formed in one pass per slice, straight into the send buffers, by kernels specialised for tree
/// degrees up to 3 and strides 1 and 2 (the pointers in registers, the neighbour loops unrolled; larger degrees
/// take the same sums through pointer tables). The count travels as one extra
/// element at the end of each message and is relayed like a coordinate whose input is 1 (exact in f32 up to
/// 2^24 workers), so counts never leave the executor's memory. Payload per round and slice:
/// deg_tree(i) · (slice length + 1) · sizeof(T).
/// In-place exchanges (a communicator with comm::exchanges_in_place, e.g. the in-process one): on a tree of degree
/// at most 3 and without overlap, message j is formed in place of relay j (the kernel reads every relay of a
/// coordinate before it writes a message) and the exchange swaps it for the neighbour's, so a worker keeps one
/// buffer per tree neighbour. The receive names the relay's owner (comm::buffer_owner): the in-process
/// communicator swaps the two buffers themselves, so the exchange moves no byte and, once every worker is heard
/// (no x⁽⁰⁾ read), a round reads and writes 3 + 3·deg values per coordinate (messages: x, the relays, the
/// messages; update: x, the relays, x) — 3 + 5·deg when the contents are swapped or copied. Memory per slice
/// coordinate, besides x: deg + 1 values in place (relays, and x⁽⁰⁾ or the previous parameters), 2·deg + 1
/// otherwise (separate messages). The sums are the same in every layout.
/// Determinism: sums in tree-neighbour order, in the tensors' type (f32 in f32; counts in double, exact).

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <decent/core/checkpoint.hpp>
#include <decent/core/error.hpp>
#include <decent/core/fingerprint.hpp>
#include <decent/core/rng.hpp>
#include <decent/core/tensor.hpp>
#include <decent/exec/kernels.hpp>
#include <decent/exec/operations.hpp>
#include <decent/mixing/relaysum_kernels.hpp>
#include <decent/exec/executor.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/mixing_rule.hpp>
#include <decent/topology/analysis.hpp>
#include <decent/topology/topology.hpp>

namespace decent {

/// What RelaySum relays: the model after the local step, or the local update itself.
enum class relay_variant { model, grad };
/// How S_i is turned into an average: fill missing workers with x⁽⁰⁾ and divide by n, or divide by C_i.
enum class relay_normalization { world_size, counts };

/// Options of the RelaySum mixing rule.
struct relaysum_options {
  relay_variant variant = relay_variant::model;
  relay_normalization normalization = relay_normalization::world_size;
  double drop_probability = 0;  ///< simulated loss probability of each message, in [0, 1)
  std::uint64_t drop_seed = 0;  ///< seed of the drop decisions
  bool overlap = false;         ///< update with the previous round's messages
  /// Model variant: x⁽⁰⁾ ← x after every step, so that a worker fills what it has not heard (yet, or because
  /// messages were lost) with its own last model instead of the start (the reference's
  /// `relaysum_model_update_ref_state`, which its runs with dropped messages use).
  bool update_reference = false;
  /// Grad variant: the first mix() checks that every worker started from the same parameters (the grad variant
  /// only relays updates, so workers that start apart never agree). Set false to start apart on purpose. The
  /// model variant needs no check: differing starts enter only through each worker's own x⁽⁰⁾ fill while it has
  /// not heard from everyone, and are averaged out once it has (consensus runs start apart on purpose).
  bool check_common_start = true;
};

inline void add_to(fingerprint& f, const relaysum_options& o) {
  f.add(o.variant).add(o.normalization).add(o.drop_probability).add(o.drop_seed).add(o.overlap);
  f.add(o.check_common_start);
  if (o.update_reference) f.add("update_reference");  // only when set: the fingerprints of earlier options stay
}

namespace mixing {

/// RelaySum over one or more spanning trees.
template <exec::executor Exec, class T>
class relaysum {
 public:
  using mixing_rule_concept = mixing_rule_tag;
  using executor_type = Exec;
  using value_type = T;
  using options = relaysum_options;

  template <class Context>
  relaysum(const Context& ctx, const parameters<T>& params, options o)
      : options_(o), trees_(topology::spanning_trees(ctx.topology)), rank_(ctx.rank), size_(ctx.size) {
    expects(options_.drop_probability >= 0 && options_.drop_probability < 1,
            "relaysum drop probability must be in [0, 1), got ", options_.drop_probability);
    expects(!options_.update_reference || options_.variant == relay_variant::model,
            "relaysum_options::update_reference applies to the model variant (the grad variant keeps no x⁽⁰⁾)");
    expects(!options_.update_reference || options_.normalization == relay_normalization::world_size,
            "relaysum_options::update_reference needs the world_size normalisation (counts fills nothing in)");
    const auto tree_count = trees_.size();
    // In place per tree: every worker of a tree decides the same (the tree, the options and the communicator are
    // the same on all of them), so both ends of every edge name one buffer or both name two.
    std::vector<bool> in_place(tree_count);
    for (std::size_t tree = 0; tree < tree_count; ++tree) {
      int max_degree = 0;
      for (int v = 0; v < size_; ++v)
        max_degree = std::max(max_degree, static_cast<int>(trees_[tree].neighbors(v).size()));
      in_place[tree] = ctx.in_place && !options_.overlap && max_degree <= decent::detail::max_fixed_relay_degree;
    }
    for (const auto& segment : params.segments()) {
      for (std::size_t tree = 0; tree < tree_count; ++tree) {
        // Coordinates (offset + k) ≡ tree (mod tree_count) of this segment.
        const std::size_t first = (tree + tree_count - segment.offset % tree_count) % tree_count;
        if (first >= segment.view.numel()) continue;
        slices_.push_back(make_slice(ctx.exec, segment.view.data + first, tree_count,
                                     (segment.view.numel() - first + tree_count - 1) / tree_count, tree,
                                     in_place[tree]));
      }
    }
  }

  /// Forms every outgoing message (and, with overlap, applies the update from the previous round's
  /// messages), then names the sends and receives.
  template <class Context>
  void plan(const Context& ctx, exchange_plan<T>& plan) {
    for (std::size_t s = 0; s < slices_.size(); ++s) {
      slice& sl = slices_[s];
      refresh_pointers(ctx.exec, sl);  // an exchange that failed may have left a relay swapped
      const auto peers = neighbours(sl);
      const int degree = static_cast<int>(peers.size());
      ctx.exec.for_each(1, decent::detail::relay_counts_kernel<T>{sl.relay_table.data(), sl.message_table.data(),
                                                                   sl.reached.data(), sl.length, degree});
      decent::detail::with_relay_shape(degree, sl.stride, [&]<int Degree, int Stride>() {
        ctx.exec.for_each(decent::detail::relay_items<Degree>(sl.length, block),
                          decent::detail::relay_messages_kernel<T, Degree, Stride>{
                              sl.base, sl.stride, previous_of(sl), pointers<Degree>(sl), degree, sl.length, block});
      });
      if (options_.overlap) update(ctx.exec, sl);
      const std::size_t bytes = (sl.length + 1) * sizeof(T);
      for (int j = 0; j < degree; ++j) {
        const auto jj = static_cast<std::size_t>(j);
        plan.sends.push_back({peers[jj], sl.message_pointers[jj], bytes, static_cast<int>(s)});
        // In place, the receive offers the relay's owner: the in-process communicator then swaps the buffers
        // themselves with the neighbour's (nothing is copied), and `apply` reads the new addresses.
        plan.recvs.push_back({peers[jj], sl.relays[jj].data(), bytes, static_cast<int>(s),
                              forms_in_place(sl) ? comm::owner_of(sl.relays[jj]) : comm::buffer_owner{}});
      }
    }
  }

  /// Forgets what the simulated network lost (message and count) and, without overlap, updates.
  template <class Context>
  void apply(const Context& ctx) {
    for (std::size_t s = 0; s < slices_.size(); ++s) {
      slice& sl = slices_[s];
      refresh_pointers(ctx.exec, sl);
      const auto peers = neighbours(sl);
      for (std::size_t j = 0; j < peers.size(); ++j)
        if (dropped(ctx.step, s, peers[j])) exec::fill(ctx.exec, sl.relays[j].data(), T{0}, sl.length + 1);
      if (!options_.overlap) update(ctx.exec, sl);
    }
  }

  [[nodiscard]] const options& settings() const { return options_; }
  /// Whether the mixer must check at the first mix() that every worker starts from the same parameters.
  [[nodiscard]] bool needs_common_start() const {
    return options_.variant == relay_variant::grad && options_.check_common_start;
  }
  /// The trees relayed over (one, or two for a double binary tree).
  [[nodiscard]] const std::vector<topology::graph>& trees() const { return trees_; }
  /// Payload bytes this worker sends per round.
  [[nodiscard]] std::size_t bytes_per_round() const {
    std::size_t bytes = 0;
    for (const slice& sl : slices_) bytes += neighbours(sl).size() * (sl.length + 1) * sizeof(T);
    return bytes;
  }
  /// Bytes of executor memory the rule's state holds (x⁽⁰⁾ or the previous parameters, relays, messages).
  [[nodiscard]] std::size_t state_bytes() const {
    std::size_t values = 0;
    for (const slice& sl : slices_) values += sl.length + (sl.relays.size() + sl.messages.size()) * (sl.length + 1);
    return values * sizeof(T);
  }
  /// For each slice, 1 + the counts held from the last exchange (after drops): C_i of the last update
  /// without overlap, of the next one with overlap. Reads executor memory (synchronizes).
  [[nodiscard]] std::vector<int> reached(const Exec& ex) const {
    std::vector<int> out;
    for (const slice& sl : slices_) {
      int total = 1;
      for (const auto& relay : sl.relays) {
        T count{};
        ex.download(&count, relay.data() + sl.length, 1);
        total += static_cast<int>(count);
      }
      out.push_back(total);
    }
    return out;
  }

  /// Checkpoint: per slice, x⁽⁰⁾ (model) or the last parameters (grad), and the relays with their counts (the
  /// messages are formed anew every round).
  void save(checkpoint_writer& w, const Exec& ex) const {
    for (const slice& sl : slices_) {
      w.buffer(ex, sl.state.data(), sl.length);
      for (const buffer& b : sl.relays) w.buffer(ex, b.data(), sl.length + 1);
    }
  }
  void load(checkpoint_reader& r, const Exec& ex) {
    for (slice& sl : slices_) {
      r.buffer(ex, sl.state.data(), sl.length);
      for (buffer& b : sl.relays) r.buffer(ex, b.data(), sl.length + 1);
    }
  }

 private:
  using buffer = typename Exec::template buffer<T>;

  /// The coordinates base[stride·i], i < length, of one segment that one tree relays, and their state.
  struct slice {
    T* base;
    std::size_t stride;
    std::size_t length;
    std::size_t tree;
    buffer state;                 ///< model: x⁽⁰⁾ here; grad: the parameters after the last round
    std::vector<buffer> relays;   ///< relays[k]: last message from tree neighbour k, count at [length]
    std::vector<buffer> messages; ///< messages[j]: next message to tree neighbour j, count at [length]; none in place
    typename Exec::template buffer<const T*> relay_table;
    typename Exec::template buffer<T*> message_table;
    std::vector<const T*> relay_pointers{};  ///< the tables' host copies, for kernels that take them by value
    std::vector<T*> message_pointers{};
    typename Exec::template buffer<double> reached{};  ///< C = 1 + the counts held, for the update
  };

  slice make_slice(const Exec& ex, T* base, std::size_t stride, std::size_t length, std::size_t tree,
                   bool in_place) const {
    const std::size_t degree = trees_[tree].neighbors(rank_).size();
    slice sl{base, stride, length, tree, ex.template allocate<T>(length), {}, {},
             ex.template allocate<const T*>(degree), ex.template allocate<T*>(degree)};
    ex.for_each(length, decent::detail::gather_kernel<T>{sl.state.data(), base, stride});
    for (std::size_t k = 0; k < degree; ++k) {
      sl.relays.push_back(ex.template allocate<T>(length + 1));
      if (!in_place) sl.messages.push_back(ex.template allocate<T>(length + 1));
      sl.relay_pointers.push_back(sl.relays.back().data());
      sl.message_pointers.push_back(in_place ? sl.relays.back().data() : sl.messages.back().data());
    }
    sl.reached = ex.template allocate<double>(1);
    ex.upload(sl.relay_table.data(), sl.relay_pointers.data(), degree);
    ex.upload(sl.message_table.data(), sl.message_pointers.data(), degree);
    ex.synchronize();
    return sl;
  }

  /// The relay and message pointers of a slice as its kernels take them: by value for a compile-time degree,
  /// the executor-memory tables otherwise (Degree = 0).
  template <int Degree>
  [[nodiscard]] static decent::detail::relay_pointers<T, Degree> pointers(const slice& sl) {
    return decent::detail::relay_pointers_for<T, Degree>(sl.relay_pointers.data(), sl.message_pointers.data(),
                                                         sl.relay_table.data(), sl.message_table.data());
  }

  /// Whether the slice's messages are formed in place of its relays (in-place exchanges).
  [[nodiscard]] static bool forms_in_place(const slice& sl) { return sl.messages.empty(); }

  /// In place, the exchange may have swapped relay buffers with the neighbours' (comm::buffer_owner): points the
  /// host copies and the executor tables at the buffers held now.
  static void refresh_pointers(const Exec& ex, slice& sl) {
    if (!forms_in_place(sl)) return;
    bool moved = false;
    for (std::size_t k = 0; k < sl.relays.size(); ++k) {
      T* const now = sl.relays[k].data();
      moved = moved || sl.relay_pointers[k] != now;
      sl.relay_pointers[k] = now;
      sl.message_pointers[k] = now;
    }
    if (!moved) return;
    ex.upload(sl.relay_table.data(), sl.relay_pointers.data(), sl.relays.size());
    ex.upload(sl.message_table.data(), sl.message_pointers.data(), sl.relays.size());
  }

  /// Coordinates per item of the runtime-degree kernels: blocks on the host, one per thread on a GPU.
  static constexpr std::size_t block = Exec::space == memory_space::host ? decent::detail::relay_block : 1;

  [[nodiscard]] std::span<const int> neighbours(const slice& sl) const { return trees_[sl.tree].neighbors(rank_); }
  [[nodiscard]] T* previous_of(slice& sl) const {
    return options_.variant == relay_variant::grad ? sl.state.data() : nullptr;
  }
  /// x ← the normalised relay sum (see the file comment), from the relays and counts held now.
  void update(const Exec& ex, slice& sl) {
    const int degree = static_cast<int>(sl.relays.size());
    ex.for_each(1, decent::detail::relay_counts_kernel<T>{sl.relay_table.data(), nullptr, sl.reached.data(),
                                                          sl.length, degree});
    const bool by_counts = options_.normalization == relay_normalization::counts;
    using decent::detail::relay_finish;
    bool heard_all = false;
    if constexpr (Exec::space == memory_space::host) {
      // Once every worker is heard (C ≥ n, read here from host memory), the model variant's update is S/n.
      heard_all = options_.variant == relay_variant::model && !by_counts && !options_.update_reference &&
                  *sl.reached.data() >= static_cast<double>(size_);
    }
    decent::detail::with_relay_shape(degree, sl.stride, [&]<int Degree, int Stride>() {
      auto launch = [&]<relay_finish Finish>() {
        ex.for_each(decent::detail::relay_items<Degree>(sl.length, block),
                    decent::detail::relay_update_kernel<T, Degree, Stride, Finish>{
                        sl.base, sl.stride, previous_of(sl), sl.state.data(), pointers<Degree>(sl), degree,
                        sl.reached.data(), static_cast<double>(size_), by_counts,
                        options_.update_reference ? sl.state.data() : nullptr, sl.length, block});
      };
      // The branch-free finish serves the compile-time shapes (the run-time ones loop over blocks themselves).
      if constexpr (Degree > 0 && Stride > 0) {
        if (heard_all) {
          launch.template operator()<relay_finish::heard_all>();
          return;
        }
      }
      launch.template operator()<relay_finish::general>();
    });
  }

  /// Whether the simulated network lost the message `from` sent this worker for slice s in round `step`.
  [[nodiscard]] bool dropped(std::int64_t step, std::size_t s, int from) const {
    if (options_.drop_probability <= 0) return false;
    // The top bit of stream_a keeps drop decisions apart from every other stream of the same seed.
    const random_stream stream{options_.drop_seed, static_cast<std::uint32_t>(from) | 0x80000000u,
                               static_cast<std::uint32_t>(rank_)};
    return stream.uniform(static_cast<std::uint64_t>(step) * slices_.size() + s) < options_.drop_probability;
  }

  options options_;
  std::vector<topology::graph> trees_;
  int rank_;
  int size_;
  std::vector<slice> slices_;
};

static_assert(mixing_rule_for<relaysum<exec::host, float>, topology::graph>);

}  // namespace mixing
}  // namespace decent
