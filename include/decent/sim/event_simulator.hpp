#pragma once
/// @file
/// @brief The virtual-time event simulator of A²CiD² and asynchronous gossip (docs/algorithms.md §1.1, §4): it
/// drives the same pairwise rules (mixing/pairwise_rule.hpp) as the threaded runtime, on virtual-time events.
///
/// Each worker computes gradients at the spikes of its own Poisson process of rate 1 (time is measured in
/// gradients per worker); each edge (i, j) averages at the spikes of a Poisson process of rate
/// `topology::acid_edge_rate` (= r/deg on regular graphs: r exchanges per worker per unit of time), the rates
/// under which `topology::a2cid2_constants` derives η and α̃. The superposed process is drawn from one
/// counter-based stream, so a run is a pure function of its seed (rows do not change the state). Pure consensus
/// problems have no gradient events. As in docs/algorithms.md §1.5 (and the reference), a gradient is taken at the
/// worker's x as it stands, before mixing to the event time. Rows come at virtual times 0, Δ, 2Δ, ..., measured on
/// every worker's x mixed to that time, read one worker at a time (a snapshot into one scratch buffer), so rows
/// cost no copy of every model. Payload: each event sends the whole model both ways (x̃ never travels).
/// Through an edge compressor (the rule's `compressor_type`, e.g. `compress::low_rank`: A²CiD² low rank), an
/// event runs as in the threaded runtime: each endpoint snapshots x at t, the compressor's rounds move both
/// snapshots by `Rule::pair_weight` of the decoded difference (messages delivered in memory, matched by peer
/// and tag), and each endpoint applies its snapshot's change (`apply_change`); the payload is what the
/// compressor sends. Compressed runs take the mix-first order.
/// Kernels run on `event_options::threads` threads (by default all cores for models of `parallel_numel` parameters
/// or more; results are the same for any number), and the workers are set up in parallel, each one's memory first
/// touched by the thread that initialises it.
/// The graph and the problem must outlive the simulator; `run` is called once.

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include <decent/comm/exchange.hpp>
#include <decent/core/error.hpp>
#include <decent/core/rng.hpp>
#include <decent/core/tensor.hpp>
#include <decent/exec/host.hpp>
#include <decent/compress/identity.hpp>
#include <decent/mixing/acid.hpp>
#include <decent/mixing/decoded.hpp>
#include <decent/mixing/pairwise_rule.hpp>
#include <decent/sim/metrics.hpp>
#include <decent/sim/problem.hpp>
#include <decent/topology/analysis.hpp>
#include <decent/topology/topology.hpp>

namespace decent::sim {

/// Settings of an event-driven run.
struct event_options {
  double rate = 1;          ///< r: pairwise exchanges per worker per gradient
  double time = 10;         ///< virtual time to simulate
  double every = 1;         ///< a row every `every` units of virtual time
  acid_send_order order = acid_send_order::mix_first;
  double lr = 0.1;
  double momentum = 0;
  std::uint64_t seed = 0;
  /// OpenMP threads of the kernels: 0 uses all cores for models of `parallel_numel` parameters or more, one below.
  int threads = 0;
  /// Optional: the run ends after the first row for which this returns true.
  std::function<bool(const row&)> until = {};
};

/// The model size from which an event simulator with `event_options::threads` = 0 runs its kernels on all cores.
inline constexpr std::size_t parallel_numel = std::size_t{1} << 16;

/// Workers, their pairwise rules' states and the event schedule of one simulated run (host memory).
/// @tparam Rule a pairwise rule on the host executor: A²CiD² (the default) or `mixing::pairwise_average`
///              (asynchronous gossip), with its edge compressor (identity: every event sends the whole model
///              both ways)
template <class T, mixing::pairwise_rule Rule = mixing::a2cid2_rule<exec::host, T>>
  requires std::same_as<typename Rule::executor_type, exec::host> && std::same_as<typename Rule::value_type, T>
class event_simulator {
  using Compressor = typename Rule::compressor_type;
  static constexpr bool uncompressed = std::same_as<Compressor, compress::identity<exec::host, T>>;

 public:
  /// The most events (gradients and exchanges, expected) one run may simulate.
  static constexpr double max_events = 1e9;

  /// @param compression the edge compressor's options (e.g. `compress::low_rank_options`; none for identity)
  event_simulator(const topology::graph& g, const problem<T>& task, event_options o,
                  typename Compressor::options compression = {})
      : graph_(g), task_(task), o_(std::move(o)),
        ex_(o_.threads > 0 ? o_.threads : task.layout().numel() >= parallel_numel ? 0 : 1) {
    expects(task.workers() == g.size(), "the problem was built for ", task.workers(), " workers but ", g.name(),
            " has ", g.size());
    expects(o_.rate > 0, "event_options::rate must be > 0, got ", o_.rate);
    expects(o_.time >= 0 && std::isfinite(o_.time), "event_options::time must be finite and >= 0, got ", o_.time);
    // The expected number of events (gradients and exchanges), bounded so that a run ends in reasonable time.
    const double events = static_cast<double>(g.size()) * o_.time * (1.0 + o_.rate);
    expects(events <= max_events, "event_options: time ", o_.time, " on ", g.size(), " workers at rate ", o_.rate,
            " means about ", events, " events, more than the ", max_events, " a run may simulate");
    expects(o_.every > 0, "event_options::every must be > 0, got ", o_.every);
    // η and α̃ only matter with the momentum variable (asynchronous gossip runs on graphs of any size).
    const topology::acid_constants constants = Rule::constants_for(g, o_.rate);
    const std::size_t numel = task.layout().numel();
    workers_.resize(static_cast<std::size_t>(g.size()));
    set_up(constants);
    if constexpr (!uncompressed) {
      expects(o_.order == acid_send_order::mix_first, "event_options::order: a compressed exchange sends a snapshot "
              "of x mixed to the event time (acid_send_order::mix_first); the reference order needs identity");
      for (int i = 0; i < g.size(); ++i) {
        worker& w = workers_[static_cast<std::size_t>(i)];
        w.sent.resize(numel);
        w.before.resize(numel);
        w.compressor.emplace(context(i), parameters<T>::packed(w.sent.data(), task.layout()), compression);
      }
    }
    // Event rates: one gradient process per worker, then one process per edge.
    double total = 0;
    if (task.has_gradient())
      for (int i = 0; i < g.size(); ++i) cumulative_.push_back(total += 1.0);
    for (const auto& [i, j] : g.edges()) {
      edges_.emplace_back(i, j);
      cumulative_.push_back(total += topology::acid_edge_rate(g, i, j, o_.rate));
    }
    edge_events_.assign(edges_.size(), 0);
    scratch_.resize(numel);
    grad_.resize(task.has_gradient() ? numel : 0);
  }

  /// Runs to `options.time`, giving a row at every multiple of `every` (and at the end) to `sink`.
  row run(const std::function<void(const row&)>& sink = {}) {
    const random_stream schedule{o_.seed, 0x10000000u, 0};
    const double total_rate = cumulative_.back();
    double t = 0;
    std::int64_t rows = 0;
    row last;
    for (std::uint64_t k = 0;; ++k) {
      t += -std::log(schedule.uniform(2 * k)) / total_rate;
      while (static_cast<double>(rows) * o_.every <= std::min(t, o_.time)) {  // rows due before this event
        last = observe(static_cast<double>(rows++) * o_.every);
        if (sink) sink(last);
        if (o_.until && o_.until(last)) return last;
      }
      if (t > o_.time) break;
      const double pick = schedule.uniform(2 * k + 1) * total_rate;
      const auto event = static_cast<std::size_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), pick) -
                                                  cumulative_.begin());
      const std::size_t gradients = task_.has_gradient() ? workers_.size() : 0;
      if (event < gradients) gradient(static_cast<int>(event), t);
      else communicate(std::min(event - gradients, edges_.size() - 1), t);
    }
    if (last.time < o_.time) {
      last = observe(o_.time);
      if (sink) sink(last);
    }
    return last;
  }

  [[nodiscard]] const std::vector<T>& x(int i) const { return workers_.at(static_cast<std::size_t>(i)).x; }
  [[nodiscard]] const Rule& state(int i) const { return *workers_.at(static_cast<std::size_t>(i)).state; }
  [[nodiscard]] std::uint64_t gradient_events() const { return gradient_events_; }
  [[nodiscard]] std::uint64_t communication_events() const { return communication_events_; }
  /// The edges, in the order of `graph::edges()`, and how many exchanges each one made.
  [[nodiscard]] const std::vector<std::pair<int, int>>& edges() const { return edges_; }
  [[nodiscard]] std::uint64_t communication_events(std::size_t edge) const { return edge_events_.at(edge); }
  /// Gradient events of worker i.
  [[nodiscard]] std::uint64_t gradient_events(int i) const { return workers_.at(static_cast<std::size_t>(i)).gradients; }

 private:
  struct worker {
    std::vector<T> x, m;
    std::optional<Rule> state;
    std::uint64_t gradients = 0;
    // Compressed exchanges only: the snapshot that the compressor moves, its value before, the compressor.
    std::vector<T> sent{}, before{};
    std::optional<Compressor> compressor{};
    comm::exchange_plan<T> plan{};
  };

  /// Sets up every worker (x at its initial point, m, the rule's state), in parallel across workers on the
  /// executor's threads, so that each worker's memory is first touched by the thread that initialises it.
  void set_up(const topology::acid_constants& constants) {
    struct set_up_worker {
      event_simulator* self;
      const topology::acid_constants* constants;
      std::exception_ptr* failure;
      std::mutex* mutex;
      [[nodiscard]] std::size_t work_per_item() const { return self->task_.layout().numel(); }
      void operator()(std::size_t i) const {
        try {
          worker& w = self->workers_[i];
          const std::size_t numel = self->task_.layout().numel();
          w.x.resize(numel);
          self->task_.initial_point(static_cast<int>(i), w.x.data());
          w.m.assign(self->task_.has_gradient() ? numel : 0, T{0});
          w.state.emplace(exec::host(1), parameters<T>::packed(w.x.data(), self->task_.layout()), *constants);
        } catch (...) {  // no exception may leave an OpenMP region
          const std::lock_guard lock(*mutex);
          if (!*failure) *failure = std::current_exception();
        }
      }
    };
    std::exception_ptr failure;
    std::mutex mutex;
    ex_.for_each(workers_.size(), set_up_worker{this, &constants, &failure, &mutex});
    if (failure) std::rethrow_exception(failure);
  }

  /// Worker i's round context; step 1 on every exchange, as in the threaded runtime (no first-step skip).
  [[nodiscard]] comm::round_context<topology::graph, exec::host> context(int i, int round = 0) const {
    return {graph_, ex_, i, graph_.size(), 1, round};
  }

  void gradient(int i, double t) {
    worker& w = workers_[static_cast<std::size_t>(i)];
    task_.gradient(i, w.x.data(), grad_.data(), w.gradients++);
    w.state->sgd(ex_, t, grad_.data(), w.m.data(), o_.lr, o_.momentum);
    ++gradient_events_;
  }

  /// Both endpoints exchange their x and apply the pairwise update (see acid_send_order for what travels).
  void communicate(std::size_t index, double t) {
    const auto [first, second] = edges_[index];
    worker& a = workers_[static_cast<std::size_t>(first)];
    worker& b = workers_[static_cast<std::size_t>(second)];
    ++edge_events_[index];
    if (o_.order == acid_send_order::mix_first) {
      a.state->mix_to(ex_, t);
      b.state->mix_to(ex_, t);
    }
    if constexpr (uncompressed) {
      std::copy(a.x.begin(), a.x.end(), scratch_.begin());  // what a sends (a's exchange changes a.x, not b.x)
      a.state->exchange(ex_, b.x.data(), t);
      b.state->exchange(ex_, scratch_.data(), t);
      bytes_ += 2.0 * static_cast<double>(a.x.size() * sizeof(T));
    } else {
      compressed_exchange(first, second, t);
    }
    ++communication_events_;
  }

  /// The compressor's rounds between a and b on their snapshots at t, then each applies its snapshot's change.
  void compressed_exchange(int first, int second, double t) {
    worker& a = workers_[static_cast<std::size_t>(first)];
    worker& b = workers_[static_cast<std::size_t>(second)];
    for (worker* w : {&a, &b}) {
      w->state->snapshot(ex_, t, w->sent.data());
      std::copy(w->sent.begin(), w->sent.end(), w->before.begin());
    }
    const int peer_of_a[] = {second}, peer_of_b[] = {first};
    const double pair_weight[] = {Rule::pair_weight};
    const int rounds = a.compressor->rounds(1);
    for (int round = 0; round < rounds; ++round) {
      const auto ca = context(first, round), cb = context(second, round);
      a.plan.clear();
      b.plan.clear();
      a.compressor->encode(ca, peer_of_a, a.plan);
      b.compressor->encode(cb, peer_of_b, b.plan);
      deliver(first, a.plan, second, b.plan);
      deliver(second, b.plan, first, a.plan);
      update_.next_round();
      a.compressor->decode(ca, peer_of_a, [&](const auto& part) { update_(ex_, part, pair_weight, 1.0); });
      update_.next_round();
      b.compressor->decode(cb, peer_of_b, [&](const auto& part) { update_(ex_, part, pair_weight, 1.0); });
    }
    a.state->apply_change(ex_, t, a.sent.data(), a.before.data());
    b.state->apply_change(ex_, t, b.sent.data(), b.before.data());
  }

  /// Copies every message `from` sends to `to` into the receive `to` posted for it (same peer and tag).
  void deliver(int from, const comm::exchange_plan<T>& sender, int to, comm::exchange_plan<T>& receiver) {
    for (const comm::send_op& send : sender.sends) {
      expects(send.peer == to, "a compressed exchange between ", from, " and ", to, " sends to ", send.peer);
      const auto match = std::find_if(receiver.recvs.begin(), receiver.recvs.end(), [&](const comm::recv_op& r) {
        return r.peer == from && r.tag == send.tag;
      });
      expects(match != receiver.recvs.end() && match->bytes == send.bytes, "worker ", to,
              " posted no receive of ", send.bytes, " bytes with tag ", send.tag, " from worker ", from);
      if (send.bytes > 0) std::memcpy(match->data, send.data, send.bytes);
      bytes_ += static_cast<double>(send.bytes);
    }
  }

  /// The metrics of every worker's x mixed to time t, each worker's snapshot taken in turn into one scratch buffer
  /// (twice: the mean, then the deviations; the state is left as it is).
  row observe(double t) {
    mixed_.resize(task_.layout().numel());
    const worker_view<T> view = [&](std::size_t i) -> const T* {
      const worker& w = workers_[i];
      // Without x̃ (asynchronous gossip), x mixed to t is x itself: read in place, no snapshot.
      if constexpr (requires { { w.state->has_momentum_variable() } -> std::same_as<bool>; })
        if (!w.state->has_momentum_variable()) return w.x.data();
      w.state->snapshot(ex_, t, mixed_.data());
      return mixed_.data();
    };
    return measure<T>(workers_.size(), view, task_.layout().numel(), task_,
                      static_cast<std::int64_t>(gradient_events_), t, bytes_, t == 0, initial_deviation_);
  }

  const topology::graph& graph_;
  const problem<T>& task_;
  event_options o_;
  exec::host ex_;
  mixing::decoded_update<exec::host> update_;
  std::vector<worker> workers_;
  std::vector<double> cumulative_;
  std::vector<std::pair<int, int>> edges_;
  std::vector<T> scratch_, grad_, mixed_;
  std::uint64_t gradient_events_ = 0, communication_events_ = 0;
  std::vector<std::uint64_t> edge_events_;
  double bytes_ = 0;
  double initial_deviation_ = 0;
};

}  // namespace decent::sim
