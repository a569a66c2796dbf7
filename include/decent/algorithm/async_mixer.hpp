#pragma once
/// @file
/// @brief `decent::async_mixer`: the asynchronous runtime — a pairwise rule (mixing/pairwise_rule.hpp) on real
/// workers (docs/algorithms.md §1): a communication thread per worker makes pairwise exchanges with its
/// neighbours while the user's thread computes gradients. A²CiD² and asynchronous gossip are aliases of it
/// (algorithm/a2cid2.hpp); the meeting protocol is algorithm/pairing.hpp, the virtual clock algorithm/async_clock.hpp.
///
///     decent::a2cid2<decent::topology::graph, decent::comm::inprocess> acid(ring, std::move(comm), params,
///                                                                           {.rate = 1, .lr = 0.1});
///     acid.start();                       // collective: averages x, x̃ = x, launches the communication thread
///     for (...) {
///       forward_backward(params, grad);   // reads the parameters; never writes them
///       acid.step(grad);                  // applies the exchanges that completed, then the gradient, in order
///     }
///     acid.stop();                        // collective: leaves the neighbours cleanly, then averages x
///
/// **Pairing.** Every worker follows the same `topology::matching_schedule` (random matchings from the shared
/// seed) at its own pace: in round k it exchanges with its partner of round k, if any. Both endpoints of an edge
/// meet in the same round, and a worker in round k waits only for partners in round k — no deadlock and no
/// coordinator. By default every scheduled exchange happens: a slow worker holds back its partners, and through
/// the rate lock below their steps, and so on outwards. With `async_options::patience`, a worker that has no
/// granted exchange when its round comes meets its partner "not ready" after that wait, and both skip the round:
/// a slow worker then costs its partners at most the patience per scheduled meeting, and workers further away
/// keep their pace, like the reference's pairing of available workers (which rounds are skipped then depends on
/// timing). The rate lock still ties each step to the exchanges granted before it: a worker whose neighbours are
/// mostly slow waits for the few meetings with a ready partner, so it steps slower than a worker among fast ones
/// (decent-train on a ring of 4, one worker 4× slower, patience 1 ms, 80 steps in all: its two neighbours made
/// 17–22 steps, the worker opposite 29–35).
///
/// **Rate.** Each `step` grants the communication thread r exchanges (`rate_control::poisson`: a Poisson(r)
/// draw; `deterministic`: r, the fraction carried over), and waits until the exchanges granted by the previous
/// step are done: exchanges overlap the next gradient computation and gradients and exchanges keep the ratio r,
/// as in the reference implementation. Rounds in which a worker has no partner cost nothing. Each colour class,
/// hence each edge, comes up equally often, so on regular graphs every edge runs at r/deg per unit of time — the
/// rates `a2cid2_constants` assumes. On irregular graphs a worker's steps are paced by its degree (a star's
/// leaves wait for the centre) and the constants describe the dynamics only roughly.
///
/// **No races.** The runtime keeps a live copy c of x with x̃ (library memory); the user's parameters are written
/// only inside `step`/`apply`/`stop`, on the user's thread. An exchange takes a snapshot s of c mixed to the
/// event time, sends it, receives the peer's snapshot r, and then applies — at the current time, in order with the
/// gradient events — x += ½(r − s), x̃ += α̃(r − s) in one fused pass: the two endpoints apply exactly opposite
/// updates, so Σ_i(x_i + x̃_i) is unchanged by communication (f64: to rounding). Transfers run while the user
/// computes; `step` waits for the exchanges the previous step granted (the rate lock), and otherwise only for an
/// exchange's short snapshot/apply sections.
///
/// **Time.** Event times are a monotonic clock (`async_options::clock`, seconds) divided by the measured time of
/// one gradient, an exponential moving average ½·new + ½·old as in the reference, so that time counts gradients
/// per worker as in `sim::event_simulator` and η, α̃ of `topology::a2cid2_constants(graph, r)` apply. The measured
/// time is the period between two steps (the reference measures the gradient computation alone, without the
/// rate-control wait; with waits its time runs faster than the gradient count and exchanges fall below r per unit
/// of time). Until the first step, time stands still. The clock is called from both threads: it must be
/// thread-safe. With `async_options::step_time`, time is instead the worker's count of gradient steps.
///
/// **Start and stop.** `start()` averages the parameters over all workers (an all-reduce; optional) and sets
/// x̃ = x. `stop()` lets the thread make the exchanges the last step granted (without patience), then tell every
/// neighbour in one more meeting that this worker leaves (edges are closed both ways, so nobody waits for a worker that left),
/// joins the thread, writes the state to the parameters and averages them over all workers (optional). Every
/// worker must call `start` and `stop`. Workers need not make the same number of steps; a worker whose
/// neighbours all left makes its remaining steps alone, and the final average waits (up to the communicator's
/// deadline) for the last worker to stop. x̃ is not averaged.
///
/// **Determinism.** Which exchanges happen between which steps does not depend on timing: step t waits for the
/// exchanges granted by step t − 1, so an exchange's snapshot holds exactly the steps before it, and each edge
/// makes the exchanges of the rounds its two workers reach. Asynchronous gossip is therefore a pure function of
/// the seed and the gradients (bit-identical runs on the host executor); so is A²CiD² with `step_time`, while
/// with the clock its mixing follows the timing. A positive patience gives up this determinism for pace.
///
/// **Compression.** With an edge compressor other than identity (e.g. `compress::low_rank`, see
/// `a2cid2_low_rank`), the exchange runs the compressor's rounds on the snapshot s (e.g. its power iterations):
/// each round encodes s, exchanges, and moves s by `Rule::pair_weight` (½) of the decoded difference
/// (`mixing::decoded_update`); the rule then applies the change s' − s to x and 2α̃(s' − s) to x̃
/// (`apply_change`). Linear compressors give opposite updates on both ends, so the invariant holds. The event
/// simulator runs compressed exchanges the same way.
///
/// **Requirements.** The communicator belongs to the runtime from `start` to `stop` (two threads use it, one at
/// a time: the user's thread for the averages, the communication thread between them; MPI needs
/// MPI_THREAD_SERIALIZED). No other collective may run between `start` and `stop` on any worker: a worker
/// blocked in a barrier grants no exchanges, so its neighbours' steps block too. The communicator's deadline
/// bounds how long an exchange waits for its partner to reach the round, which can take several of the slowest
/// neighbour's steps (and, in `stop`, until it stops). Each meeting also sends a 16-byte control header (tag
/// `header_tag`, 32767) counted in the communicator's bytes — with patience, skipped rounds send only that.
/// Errors of the communication thread (e.g. a peer past the deadline) are rethrown by the next `step`, `apply`
/// or `stop`. Memory per worker: x (the user's) plus c, x̃, s, r in
/// executor memory, and the momentum buffer of the library's SGD.

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <decent/algorithm/async_clock.hpp>
#include <decent/algorithm/mixer.hpp>
#include <decent/algorithm/pairing.hpp>
#include <decent/comm/agreement.hpp>
#include <decent/comm/communicator.hpp>
#include <decent/compress/compressor.hpp>
#include <decent/compress/identity.hpp>
#include <decent/core/checkpoint.hpp>
#include <decent/core/error.hpp>
#include <decent/core/finite.hpp>
#include <decent/core/fingerprint.hpp>
#include <decent/core/rng.hpp>
#include <decent/core/tensor.hpp>
#include <decent/exec/executor.hpp>
#include <decent/exec/kernels.hpp>
#include <decent/exec/operations.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/decoded.hpp>
#include <decent/mixing/mixing_rule.hpp>
#include <decent/mixing/pairwise_rule.hpp>
#include <decent/topology/analysis.hpp>
#include <decent/topology/matchings.hpp>
#include <decent/topology/topology.hpp>

namespace decent {

/// How many exchanges each gradient step grants.
enum class rate_control {
  poisson,        ///< a Poisson(r) draw per step (the reference's default)
  deterministic,  ///< r per step; a fractional part is carried to the next step
};

/// Options of the asynchronous runtime.
struct async_options {
  double rate = 1;                             ///< r: pairwise exchanges per gradient, > 0
  rate_control control = rate_control::poisson;
  double lr = 0.1;                             ///< the library's SGD (`step`)
  double momentum = 0.9;                       ///< heavy ball, no dampening (`step`)
  std::uint64_t seed = 0;                      ///< matching schedule and Poisson draws; equal on all workers
  bool average_at_start = true;                ///< `start` averages the parameters over all workers
  bool average_at_stop = true;                 ///< `stop` averages the parameters over all workers
  /// Monotonic time in seconds; empty: std::chrono::steady_clock.
  std::function<double()> clock = {};
  /// Time = the number of gradient steps this worker made, instead of the clock: the exchanges a step granted
  /// happen at that step's time, so A²CiD² becomes a pure function of the seed (reproducible runs).
  bool step_time = false;
  /// How long the communication thread waits for an exchange to be granted before it meets its partner of the
  /// round anyway, as "not ready" (both then skip the round: only the headers travel). Zero: wait for the grant
  /// — every scheduled exchange happens, runs are reproducible, and a slow worker's pace spreads along the graph.
  /// Positive: a slow worker costs its partners at most this wait per scheduled meeting, as in the reference,
  /// where workers pair with whichever neighbour is available; which rounds are skipped then depends on timing.
  std::chrono::microseconds patience{0};
};

/// Options of the asynchronous runtime with a compressor that has options of its own.
template <class CompressorOptions>
using compressed_async_options = with_compression<async_options, CompressorOptions>;

inline void add_to(fingerprint& f, const async_options& o) {
  f.add(o.rate).add(o.control).add(o.lr).add(o.momentum).add(o.seed).add(o.average_at_start).add(o.average_at_stop);
  f.add(o.step_time).add(static_cast<std::int64_t>(o.patience.count()));
}

/// One worker of an asynchronous algorithm, with its communication thread.
/// @tparam Topology a topology, static (checked at construction)
/// @tparam Comm     a communicator for the rule's executor's memory
/// @tparam Rule     a pairwise rule (mixing/pairwise_rule.hpp); it fixes the executor, the element type and the
///                  edge compressor its exchanges go through
template <topology::topology Topology, comm::communicator Comm, mixing::pairwise_rule Rule>
  requires comm::communicator_for<Comm, Rule::executor_type::space>
class async_mixer {
  using Exec = typename Rule::executor_type;
  using T = typename Rule::value_type;
  using Compressor = typename Rule::compressor_type;
  static constexpr bool uncompressed = std::same_as<Compressor, compress::identity<Exec, T>>;

 public:
  using rule_type = Rule;
  using executor_type = Exec;
  using value_type = T;
  using compressor_type = Compressor;
  using options = options_with_compressor<async_options, Compressor>;

  /// Sets up the worker (nothing is sent before `start`).
  /// @param comm_executor runs the communication thread's kernels (e.g. another CUDA stream)
  async_mixer(Topology topology, Comm comm, parameters<T> params, options o = {}, Exec executor = Exec{},
              Exec comm_executor = Exec{})
      : topology_(std::move(topology)), comm_(std::move(comm)), params_(std::move(params)), o_(std::move(o)),
        exec_(std::move(executor)), comm_exec_(std::move(comm_executor)), graph_(static_graph()),
        schedule_(graph_, o_.seed), clock_(o_.clock, o_.step_time) {
    expects(topology_.size() == comm_.size(), "the topology has ", topology_.size(),
            " workers but the communicator has ", comm_.size());
    expects(o_.rate > 0 && o_.rate <= max_rate, "async_options::rate must be in (0, ", max_rate,
            "] exchanges per gradient, got ", o_.rate);
    expects(o_.lr >= 0 && std::isfinite(o_.lr), "async_options::lr must be finite and >= 0, got ", o_.lr);
    expects(o_.momentum >= 0 && o_.momentum < 1, "async_options::momentum must be in [0, 1), got ", o_.momentum);
    expects(o_.patience.count() >= 0, "the patience must be >= 0 microseconds, got ", o_.patience.count());
    expects(params_.space() == Exec::space, "parameters in ", to_string(params_.space()),
            " memory but the executor runs on ", to_string(Exec::space), " memory");
    if constexpr (requires { comm_.accepts(Exec::space); })
      expects(comm_.accepts(Exec::space), "the communicator cannot move ", to_string(Exec::space),
              " memory (for the in-process one: set inprocess_options::copy and device_memory)");
    const std::size_t n = params_.numel();
    live_ = exec_.template allocate<T>(n);
    sent_ = exec_.template allocate<T>(n);
    received_ = exec_.template allocate<T>(n);
    constants_ = Rule::constants_for(graph_, o_.rate);
    agreement_ = detail::build_fingerprints::of(topology::topology_fingerprint(topology_), typeid(async_mixer).name(),
                                                o_, params_.layout().fingerprint(),
                                                params_.layout().to_string());
    if constexpr (!uncompressed)
      compressor_.emplace(context(0, 0), parameters<T>::packed(sent_.data(), params_.layout(), Exec::space),
                          compression_of<Compressor>(o_));
    exchanges_with_.assign(static_cast<std::size_t>(comm_.size()), 0);
    // live_, sent_ and received_ are ordered on exec_'s stream (CUDA: stream-ordered allocation and zero fill)
    // but used on comm_exec_'s, usually another stream: both are synchronized here, before the communication
    // thread exists. They are released on exec_'s stream too, which is safe because the communication thread
    // synchronizes comm_exec_ after each use and is joined before the buffers die.
    exec_.synchronize();
    comm_exec_.synchronize();
  }

  async_mixer(const async_mixer&) = delete;
  async_mixer& operator=(const async_mixer&) = delete;

  /// Without `stop`: leaves the neighbours (the farewell exchanges may wait for them, up to the deadline) and joins
  /// the thread, without the final average; errors are swallowed.
  ~async_mixer() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      tokens_ = 0;  // leave at once: no more granted exchanges
    }
    cv_.notify_all();
    thread_.join();
  }

  /// Opt-in check of non-finite values (off by default; set it before `start()`): every exchange then verifies
  /// that the snapshot this worker sends and the one it receives are finite, before either is applied, and the
  /// run fails (the next `step()` or `stop()` throws `decent::error`) naming the worker, its step, the peer and
  /// the parameter — instead of a NaN spreading to every worker. Costs a read of the model per check.
  void check_finite(bool on = true) {
    expects(!thread_.joinable(), "check_finite(): call it before start() (rank ", comm_.rank(), " is running)");
    check_finite_ = on;
  }
  [[nodiscard]] bool checks_finite() const { return check_finite_; }

  /// Collective: checks that every worker built the same topology, algorithm, options and parameter layout
  /// (comm::check_agreement) and launches the communication thread. The first time, it averages the parameters
  /// (if enabled) and sets x̃ = x; after a `stop` or a `load` it resumes: x̃, the momentum, the virtual time and
  /// the counters carry on, and every worker continues on a fresh stretch of the matching schedule (an epoch).
  void start() {
    expects(!thread_.joinable(), "start(): rank ", comm_.rank(), " is already running");
    rethrow();
    agreement_.check(comm_, "the epoch (checkpoints of different epochs?)", static_cast<std::uint64_t>(epoch_));
    if (!state_ && o_.average_at_start) average_parameters();  // leaves the average in c as well
    else copy_in();
    if (!state_)
      state_.emplace(exec_, parameters<T>::packed(live_.data(), params_.layout(), Exec::space), constants_);
    exec_.synchronize();
    clock_.start(state_->last_event());
    stopping_ = isolated_ = false;
    tokens_ = grant();
    thread_ = std::thread([this, base = epoch_++ << 40] { communicate(base); });
  }

  /// A gradient event with the library's SGD: m ← μm + g; x −= lr·m; x̃ −= lr·m. `gradient` is packed (the
  /// order of `parameters::segments()`), in executor memory, computed at the parameters as they stand.
  void step(std::span<const T> gradient) {
    expects(gradient.size() == params_.numel(), "step: the gradient has ", gradient.size(), " elements but the ",
            "parameters have ", params_.numel());
    if (momentum_.size() == 0) {
      momentum_ = exec_.template allocate<T>(params_.numel());
      exec::fill(exec_, momentum_.data(), T{0}, params_.numel());
    }
    gradient_event([&](double t) { state_->sgd(exec_, t, gradient.data(), momentum_.data(), o_.lr, o_.momentum); });
  }

  /// A gradient event with the user's own update Δ (packed, executor memory): x += Δ, x̃ += Δ. The user does not
  /// apply Δ to the parameters.
  void apply(std::span<const T> delta) {
    expects(delta.size() == params_.numel(), "apply: the update has ", delta.size(), " elements but the ",
            "parameters have ", params_.numel());
    gradient_event([&](double t) { state_->apply_update(exec_, t, delta.data()); });
  }

  /// The same with Δ given per tensor, in the user's own tensors (`parameters` of the same layout and memory
  /// space, packed or not): a framework's per-tensor updates go in without packing them first.
  void apply(const parameters<T>& delta) {
    expects(delta.layout() == params_.layout(), "apply: the update has the layout ", delta.layout().to_string(),
            " but the parameters have ", params_.layout().to_string());
    expects(delta.space() == Exec::space, "apply: the update is in ", to_string(delta.space()),
            " memory but the executor runs on ", to_string(Exec::space), " memory");
    gradient_event([&](double t) { state_->apply_update(exec_, t, delta); });
  }

  /// Collective: closes every edge, joins the communication thread, writes the state to the parameters and
  /// averages them (if enabled). Rethrows an error of the communication thread.
  void stop() {
    expects(thread_.joinable(), "stop() needs a running worker (call start() first) on rank ", comm_.rank());
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
    rethrow();
    {
      std::lock_guard lock(mutex_);
      state_->mix_to(exec_, now());
      copy_out();
      rounds_before_ = round_ + 1;
    }
    if (o_.average_at_stop) average_parameters();
  }

  /// Checkpoint, taken when the worker is not running (before `start` or after `stop`): x̃, the momentum, the
  /// virtual time and measured gradient time, the counters, the random draws, and the compressor's state (the
  /// parameters are the user's). `load` into a worker built the same way, then `start`, continues exactly as
  /// `start` after `stop` on the original worker would (bit for bit for asynchronous gossip, whose run does not
  /// depend on timing).
  [[nodiscard]] std::vector<std::byte> save() const {
    expects(!thread_.joinable(), "save(): stop rank ", comm_.rank(), " first");
    expects(state_.has_value(), "save(): rank ", comm_.rank(), " has no state yet (call start() first)");
    checkpoint_writer w;
    checkpoint_header::write(w, agreement_.values);
    w.value(epoch_);
    w.value(rounds_before_);
    w.value(draws_);
    w.value(carry_);
    w.value(gradients_);
    w.value(exchanges_);
    for (const std::int64_t e : exchanges_with_) w.value(e);
    w.value(clock_.gradient_seconds());
    w.buffer(exec_, momentum_.data(), momentum_.size());
    state_->save(w, exec_);
    if constexpr (!uncompressed) save_part(*compressor_, w, comm_exec_);
    return w.take();
  }
  /// Restores what `save` returned; the next `start` resumes. @throw invalid_argument when it was saved by a
  /// worker built another way (topology, algorithm, options, layout) or is truncated; the worker is then left
  /// as it was.
  void load(std::span<const std::byte> bytes) {
    expects(!thread_.joinable(), "load(): stop rank ", comm_.rank(), " first");
    const bool had_state = state_.has_value();
    const std::vector<std::byte> before = had_state ? save() : std::vector<std::byte>{};
    try {
      read(bytes);
    } catch (...) {
      if (had_state) read(before);
      else state_.reset();
      throw;
    }
  }

  /// Exchanges this worker made (with `peer`).
  [[nodiscard]] std::int64_t exchanges() const { return locked([&] { return exchanges_; }); }
  [[nodiscard]] std::int64_t exchanges_with(int peer) const {
    return locked([&] { return exchanges_with_.at(static_cast<std::size_t>(peer)); });
  }
  /// Gradient events (`step` or `apply` calls).
  [[nodiscard]] std::int64_t gradients() const { return locked([&] { return gradients_; }); }
  /// Rounds of the matching schedule the communication thread went through.
  [[nodiscard]] std::int64_t rounds() const { return locked([&] { return round_; }); }
  /// Virtual time of the last event, in gradients.
  [[nodiscard]] double time() const { return locked([&] { return state_ ? state_->last_event() : 0.0; }); }
  /// The measured time of one gradient in seconds (0 before the first step).
  [[nodiscard]] double gradient_seconds() const { return locked([&] { return clock_.gradient_seconds(); }); }
  /// x̃ (packed, executor memory; null for asynchronous gossip and before `start`). Read it after `stop`.
  [[nodiscard]] const T* x_tilde() const { return state_ ? state_->x_tilde() : nullptr; }
  /// η and α̃ in use (zero for asynchronous gossip).
  [[nodiscard]] const topology::acid_constants& constants() const { return constants_; }
  [[nodiscard]] const topology::matching_schedule& schedule() const { return schedule_; }
  /// The communicator; use it only before `start` or after `stop`.
  [[nodiscard]] Comm& communicator() { return comm_; }
  [[nodiscard]] const Comm& communicator() const { return comm_; }
  [[nodiscard]] Compressor& compressor()
    requires(!uncompressed)
  {
    return *compressor_;
  }

 private:
  /// The largest communication rate accepted (exchanges per gradient): far beyond any use, and small enough that
  /// a step's Poisson draw ends.
  static constexpr double max_rate = 1e4;

  /// The graph of the (static) topology, refused with the fix when it varies in time.
  topology::graph static_graph() const {
    topology::require_static(topology_, "a2cid2 (and async-gossip)");
    return topology::to_graph(topology_, 0);
  }

  mixing::context<Topology, Exec> context(std::int64_t step, int round) const {
    return {topology_, comm_exec_, comm_.rank(), comm_.size(), step, round};
  }

  template <class F>
  auto locked(F f) const {
    std::lock_guard lock(mutex_);
    return f();
  }

  /// Virtual time now (caller holds the mutex).
  double now() { return clock_.now(gradients_, state_->last_event()); }

  /// Exchanges granted by one step.
  std::int64_t grant() {
    if (o_.control == rate_control::deterministic) {
      carry_ += o_.rate;
      const double whole = std::floor(carry_);
      carry_ -= whole;
      return static_cast<std::int64_t>(whole);
    }
    // On this worker's stream (stream_b = rank + 1; 0 is the schedule's colours).
    const random_stream s{o_.seed, topology::matching_schedule::stream, static_cast<std::uint32_t>(comm_.rank()) + 1};
    return poisson(s, o_.rate, draws_);
  }

  /// Waits for the exchanges granted by the previous step, then applies `update(t)` at the current time,
  /// writes the state to the parameters and grants the next exchanges.
  template <class Update>
  void gradient_event(Update update) {
    expects(thread_.joinable(), "step()/apply() need a running worker: call start() first (rank ", comm_.rank(),
            ")");
    const double arrived = clock_.wall();
    std::unique_lock lock(mutex_);
    rethrow_locked();
    clock_.step_arrived(arrived, gradients_, state_->last_event());
    cv_.wait(lock, [&] { return tokens_ == 0 || isolated_ || error_; });
    rethrow_locked();
    update(now());
    copy_out();
    ++gradients_;
    tokens_ += grant();
    clock_.step_done(arrived);
    lock.unlock();
    cv_.notify_all();
  }

  /// The communication thread: goes through the rounds of the schedule until every edge is closed.
  void communicate(std::int64_t base) noexcept {
    try {
      const int rank = comm_.rank();
      std::vector<char> closed(static_cast<std::size_t>(comm_.size()), 0);
      auto open = static_cast<int>(graph_.neighbors(rank).size());
      for (std::int64_t round = base;; ++round) {
        if (open == 0) {  // every neighbour left: wait for our own stop
          std::unique_lock lock(mutex_);
          isolated_ = true;
          cv_.notify_all();
          cv_.wait(lock, [&] { return stopping_; });
          return;
        }
        const int peer = schedule_.partner(rank, round);
        if (peer < 0 || closed[static_cast<std::size_t>(peer)]) continue;
        bool leaving = false, ready = false;
        std::int64_t step_now = 0;  // this worker's gradient count, for the finiteness errors
        {
          std::unique_lock lock(mutex_);
          step_now = gradients_;
          round_ = rounds_before_ + (round - base);
          const auto granted = [&] { return tokens_ > 0 || stopping_; };
          if (o_.patience.count() == 0) cv_.wait(lock, granted);
          else cv_.wait_for(lock, o_.patience, granted);
          // A stopping worker first makes the exchanges its last step granted (so that runs without patience are
          // reproducible), then leaves; with patience it leaves at once (a slow partner may not be ready soon).
          leaving = stopping_ && (tokens_ == 0 || o_.patience.count() > 0);
          ready = tokens_ > 0 || leaving;
          if (ready) {
            state_->snapshot(comm_exec_, now(), sent_.data());  // the snapshot s that travels
            if constexpr (!uncompressed) comm_exec_.copy(received_.data(), sent_.data(), params_.numel());
            comm_exec_.synchronize();
            if (check_finite_)
              require_finite(comm_exec_, sent_.data(), params_.layout(), rank, step_now,
                             decent::detail::concat("in what it would send to worker ", peer, " (round ", round,
                                                    "): this worker's own updates made it so; nothing was sent"));
          }
        }
        namespace pairing = detail::pairing;
        const std::int64_t theirs = pairing::meet(
            comm_, peer, round, (leaving ? pairing::leaving_flag : 0) | (ready ? pairing::ready_flag : 0),
            o_.patience.count() == 0, [&](const comm::send_op* send_header, const comm::recv_op* recv_header) {
              transfer(peer, send_header, recv_header);
            });
        const bool peer_leaving = (theirs & pairing::leaving_flag) != 0;
        if (ready && (theirs & pairing::ready_flag) != 0 && check_finite_) {
          // Uncompressed: the peer's snapshot; compressed: this snapshot after the compressor's step toward it.
          require_finite(comm_exec_, uncompressed ? received_.data() : sent_.data(), params_.layout(), rank,
                         step_now, decent::detail::concat("in what it received from worker ", peer, " (round ",
                                                            round, "), before applying it"));
        }
        if (ready && (theirs & pairing::ready_flag) != 0) {
          {
            std::lock_guard lock(mutex_);
            const double t = now();
            if constexpr (uncompressed) state_->exchange(comm_exec_, received_.data(), t, sent_.data());
            else state_->apply_change(comm_exec_, t, sent_.data(), received_.data());
            comm_exec_.synchronize();
            ++exchanges_;
            ++exchanges_with_[static_cast<std::size_t>(peer)];
            if (!leaving && tokens_ > 0) --tokens_;
          }
          cv_.notify_all();
        }
        if (leaving || peer_leaving) {
          closed[static_cast<std::size_t>(peer)] = 1;
          --open;
        }
        if (leaving && open == 0) return;
      }
    } catch (...) {
      {
        std::lock_guard lock(mutex_);
        error_ = std::current_exception();
      }
      cv_.notify_all();
    }
  }

  /// Moves the snapshot (uncompressed: s to the peer, the peer's into r; compressed: the compressor's rounds on
  /// s, with r keeping the original), with the headers when given.
  void transfer(int peer, const comm::send_op* send_header, const comm::recv_op* recv_header) {
    if constexpr (uncompressed) {
      const std::size_t bytes = params_.numel() * sizeof(T);
      plan_.clear();
      plan_.sends.push_back({peer, sent_.data(), bytes, 0});
      plan_.recvs.push_back({peer, received_.data(), bytes, 0});
      if (send_header) {
        plan_.sends.push_back(*send_header);
        plan_.recvs.push_back(*recv_header);
      }
      comm_.exchange(plan_.sends, plan_.recvs);
    } else {
      const int one_peer[] = {peer};
      // The snapshot moves by the pair's weight of the decoded difference (the rule's exchange weight).
      const double pair_weight[] = {Rule::pair_weight};
      // The compressor's per-edge state is shared by both ends; step 1 on every exchange (no first-step skip:
      // the two ends of an edge are at different steps of their own).
      auto ctx = context(1, 0);
      const int rounds = compressor_->rounds(1);
      for (ctx.round = 0; (ctx.round) < rounds; ++ctx.round) {
        plan_.clear();
        compressor_->encode(ctx, one_peer, plan_);
        if (ctx.round == 0 && send_header) {
          plan_.sends.push_back(*send_header);
          plan_.recvs.push_back(*recv_header);
        }
        comm_exec_.synchronize();
        comm_.exchange(plan_.sends, plan_.recvs);
        update_.next_round();
        compressor_->decode(ctx, one_peer, [&](const auto& part) { update_(comm_exec_, part, pair_weight, 1.0); });
      }
      comm_exec_.synchronize();
    }
  }

  /// The body of `load` (validates while it reads; `load` restores the previous state on failure).
  void read(std::span<const std::byte> bytes) {
    checkpoint_reader r(bytes);
    checkpoint_header::read(r, agreement_.values, detail::build_fingerprints::names);
    epoch_ = r.value<std::int64_t>();
    rounds_before_ = r.value<std::int64_t>();
    draws_ = r.value<std::uint64_t>();
    carry_ = r.value<double>();
    expects(carry_ >= 0 && carry_ < 1, "the checkpoint's carried exchange fraction is ", carry_,
            ": not in [0, 1) (corrupt checkpoint?)");
    gradients_ = r.value<std::int64_t>();
    exchanges_ = r.value<std::int64_t>();
    for (std::int64_t& e : exchanges_with_) e = r.value<std::int64_t>();
    const double gradient_seconds = r.value<double>();
    expects(std::isfinite(gradient_seconds) && gradient_seconds >= 0, "the checkpoint's gradient time is ",
            gradient_seconds, ": not a finite time >= 0 (corrupt checkpoint?)");
    clock_.set_gradient_seconds(gradient_seconds);
    const std::size_t momentum = r.next_buffer_length();  // 0 when the library's SGD was never used
    expects(momentum == 0 || momentum == params_.numel(), "the checkpoint's momentum has ", momentum,
            " elements where ", params_.numel(), " are expected");
    momentum_ = exec_.template allocate<T>(momentum);
    r.buffer(exec_, momentum_.data(), momentum);
    if (!state_)
      state_.emplace(exec_, parameters<T>::packed(live_.data(), params_.layout(), Exec::space), constants_);
    state_->load(r, exec_);
    if constexpr (!uncompressed) load_part(*compressor_, r, comm_exec_);
    r.finish();
  }

  void rethrow_locked() {
    if (error_) std::rethrow_exception(error_);
  }
  void rethrow() {
    std::lock_guard lock(mutex_);
    rethrow_locked();
  }

  /// c ← the user's parameters (packed copy of every segment).
  void copy_in() {
    for (const auto& [x, offset] : params_.segments()) exec_.copy(live_.data() + offset, x.data, x.numel());
  }
  /// The user's parameters ← c.
  void copy_out() {
    for (const auto& [x, offset] : params_.segments()) exec_.copy(x.data, live_.data() + offset, x.numel());
    exec_.synchronize();
  }

  void average_parameters() {
    copy_in();
    detail::allreduce_sum(comm_, exec_, std::span<T>(live_.data(), params_.numel()), staging_);
    exec_.for_each(params_.numel(), decent::detail::scale_kernel<T>{live_.data(), 1.0 / comm_.size()});
    copy_out();
  }

  Topology topology_;
  Comm comm_;
  parameters<T> params_;
  options o_;
  Exec exec_, comm_exec_;
  topology::graph graph_;
  topology::matching_schedule schedule_;
  typename Exec::template buffer<T> live_, sent_, received_, momentum_;
  topology::acid_constants constants_{};
  detail::async_clock clock_;
  std::optional<Rule> state_;
  std::optional<Compressor> compressor_;
  mixing::decoded_update<Exec> update_;  // applies the compressor's decoded rounds to the snapshot
  mixing::exchange_plan<T> plan_;
  std::vector<T> staging_;

  mutable std::mutex mutex_;  // guards what both threads touch: the state and everything below
  std::condition_variable cv_;
  std::thread thread_;
  std::exception_ptr error_;
  std::int64_t tokens_ = 0, gradients_ = 0, exchanges_ = 0, round_ = 0;
  std::vector<std::int64_t> exchanges_with_;
  detail::build_fingerprints agreement_;
  std::int64_t epoch_ = 0, rounds_before_ = 0;
  bool stopping_ = false, isolated_ = false;
  bool check_finite_ = false;
  double carry_ = 0;
  std::uint64_t draws_ = 0;
};

}  // namespace decent
