#pragma once
/// @file
/// @brief `decent::mixer`: an algorithm as a composition of a Topology, a Communicator and a MixingRule, run
/// by the rule's Executor. Every synchronous algorithm of decent is a type alias of it.
///
/// The user's loop does its own local optimizer step on its own parameters, then calls `mix()`; when `mix()`
/// returns, the parameters hold the mixed model. `mix()` synchronizes: it returns after the exchange and the
/// update kernels completed. Parameters written by the user's own kernels must be complete before `mix()`.

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <decent/comm/agreement.hpp>
#include <decent/comm/communicator.hpp>
#include <decent/core/checkpoint.hpp>
#include <decent/core/error.hpp>
#include <decent/core/finite.hpp>
#include <decent/core/fingerprint.hpp>
#include <decent/core/tensor.hpp>
#include <decent/exec/executor.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/mixing_rule.hpp>
#include <decent/topology/topology.hpp>

namespace decent {

using mixing::no_topology;

namespace detail {

/// Sums `buffer` (executor memory) over all workers, through the host copy `staging` when the communicator
/// cannot reduce the executor's memory (e.g. device parameters over the in-process communicator).
template <comm::communicator Comm, exec::executor Exec, class T>
void allreduce_sum(Comm& comm, const Exec& ex, std::span<T> buffer, std::vector<T>& staging) {
  if constexpr (comm::reduces_in<Comm, Exec::space>) {
    ex.synchronize();
    comm.allreduce_sum(buffer.data(), buffer.size());
  } else {
    staging.resize(buffer.size());
    ex.download(staging.data(), buffer.data(), buffer.size());
    comm.allreduce_sum(staging.data(), buffer.size());
    ex.upload(buffer.data(), staging.data(), buffer.size());
  }
}

/// What every worker of a job must build alike — the topology, the algorithm with its options, the parameter
/// layout — as fingerprints, compared once at setup (`check`) and stamped on checkpoints (`values`, `names`).
struct build_fingerprints {
  std::array<std::uint64_t, 3> values{};
  std::string layout;  ///< the parameter layout in words, for the error when workers disagree on it
  /// What each value stands for, in checkpoint errors ("saved with another ...").
  static constexpr const char* names[3] = {"topology", "algorithm or options", "parameter layout"};

  /// @param algorithm the algorithm's type name (its element type and executor included)
  template <class Options>
  static build_fingerprints of(std::uint64_t topology, const char* algorithm, const Options& options,
                               std::uint64_t layout, std::string layout_text) {
    fingerprint f;
    f.add(algorithm);
    add_options(f, options);
    return {{topology, f.value(), layout}, std::move(layout_text)};
  }

  /// Collective: throws `comm_error` on every worker unless all hold the same values and the same `counter`
  /// (the step or the epoch, named `counter_name`).
  template <comm::communicator C>
  void check(C& c, std::string_view counter_name, std::uint64_t counter) const {
    const std::string count = std::to_string(counter);
    comm::check_agreement(c, {{"the topology", values[0]},
                              {"the algorithm and its options", values[1]},
                              {"the parameter layout", values[2], layout},
                              {counter_name, counter, count}});
  }
};

/// The executor and element type of an algorithm alias, checked with one clear message each (a type in the
/// wrong place would otherwise fail dozens of constraints deep inside the rule). On failure the aliases fall
/// back to exec::host and float, so that the static_assert is the only error.
template <class Exec, class T>
struct checked_policies {
  static constexpr bool is_executor = exec::executor<Exec>;  // a plain bool: the message alone, no concept trace
  static constexpr bool is_element = std::same_as<T, float> || std::same_as<T, double>;
  static_assert(is_executor, "decent: this template argument is the Executor (decent::exec::host or "
                                      "decent::exec::cuda), and the element type comes after it — e.g. "
                                      "decent::gossip<Topology, Comm, decent::exec::host, float>");
  static_assert(is_element, "decent: the element type must be float or double");
  using executor = std::conditional_t<is_executor, Exec, exec::host>;
  using element = std::conditional_t<is_element, T, float>;
};
template <class Exec, class T>
using checked_executor = typename checked_policies<Exec, T>::executor;
template <class Exec, class T>
using checked_element = typename checked_policies<Exec, T>::element;

}  // namespace detail

/// One worker's side of a synchronous decentralized algorithm.
/// @tparam Topology a decent::topology::topology, or `no_topology` for rules that involve every worker
/// @tparam Comm     a communicator that can move memory of the rule's executor
/// @tparam Rule     a mixing rule (decent/mixing/); it fixes the executor and the element type
template <class Topology, comm::communicator Comm, mixing::mixing_rule Rule>
  requires(std::same_as<Topology, no_topology> || topology::topology<Topology>) &&
          comm::communicator_for<Comm, Rule::executor_type::space> && mixing::mixing_rule_for<Rule, Topology>
class mixer {
 public:
  using executor_type = typename Rule::executor_type;
  using value_type = typename Rule::value_type;
  using options = typename Rule::options;

  /// A worker of a topology-based algorithm.
  mixer(Topology topology, Comm comm, parameters<value_type> params, options opts = {},
        executor_type executor = executor_type{})
    requires(!std::same_as<Topology, no_topology>)
      : topology_(matching(std::move(topology), comm.size())), comm_(std::move(comm)), exec_(std::move(executor)),
        agreement_(fingerprints(params, opts)), params_(params), rule_(checked_context(params), params, std::move(opts)) {
    if constexpr (requires { { rule_.needs_common_start() } -> std::same_as<bool>; })
      if (rule_.needs_common_start()) start_ = parameters_fingerprint(params);
  }

  /// A worker of an algorithm that needs no topology (all-reduce).
  mixer(Comm comm, parameters<value_type> params, options opts = {}, executor_type executor = executor_type{})
    requires std::same_as<Topology, no_topology>
      : comm_(std::move(comm)), exec_(std::move(executor)), agreement_(fingerprints(params, opts)), params_(params),
        rule_(checked_context(params), params, std::move(opts)) {}

  /// One synchronous step: for each of the rule's rounds (usually one), plan, exchange, reduce, apply. The first
  /// call checks that every worker built the same topology, algorithm, options and parameter layout
  /// (comm::check_agreement; a mismatch throws `comm_error` on every worker).
  void mix() {
    if (!agreed_) {
      agreement_.check(comm_, "the step (checkpoints of different steps?)", static_cast<std::uint64_t>(step_));
      if (start_)
        comm::check_agreement(comm_, {{"the starting parameters (this algorithm never corrects a difference there: "
                                       "initialise every worker's model with the same seed)",
                                       *start_}});
      start_.reset();  // once: a checkpoint's state carries on from wherever the workers were
      agreed_ = true;
    }
    exec_.synchronize();
    if (check_finite_)
      require_finite(exec_, params_, comm_.rank(), step_, "before mixing: this worker's own update (its local step "
                     "or its gradient) made it so; nothing was sent");
    auto ctx = context();
    const int rounds = mixing::rounds_of(rule_, ctx);
    for (ctx.round = 0; (ctx.round) < rounds; ++ctx.round) {  // parentheses: nvcc reads `round <` as a template
      plan_.clear();
      rule_.plan(ctx, plan_);
      exec_.synchronize();  // outgoing messages complete before they are sent
      if (!plan_.sends.empty() || !plan_.recvs.empty()) comm_.exchange(plan_.sends, plan_.recvs);
      for (const auto& buffer : plan_.reductions) reduce(buffer);
      rule_.apply(ctx);
    }
    exec_.synchronize();
    if (check_finite_)
      require_finite(exec_, params_, comm_.rank(), step_, "after mixing, finite before: it came from a neighbour's "
                     "message (a neighbour without the check, or a corrupted transfer)");
    ++step_;
  }

  /// Opt-in check of non-finite values (off by default): each `mix()` then verifies that this worker's parameters
  /// are finite before the exchange (what it sends derives from them) and after it (what it received entered
  /// them), and throws `decent::error` naming the worker, the step, the parameter and which side it came from —
  /// instead of letting a NaN spread to every worker. Costs one read of the parameters per check
  /// (bench/mixing_bench.cpp: bm_check_finite).
  void check_finite(bool on = true) { check_finite_ = on; }
  [[nodiscard]] bool checks_finite() const { return check_finite_; }

  /// Checkpoint: the algorithm's state (the step and the rule's buffers; not the parameters, which the user owns
  /// and saves with the model). Loading it into an algorithm built the same way and continuing gives exactly
  /// what never stopping would have (host executor).
  [[nodiscard]] std::vector<std::byte> save() const {
    checkpoint_writer w;
    checkpoint_header::write(w, agreement_.values);
    w.value(step_);
    save_part(rule_, w, exec_);
    return w.take();
  }
  /// Restores what `save` returned; the next `mix()` checks again that all workers agree (the step included).
  /// @throw invalid_argument when it was saved by another topology, algorithm, options or parameter layout, or
  /// is truncated; the state is then left as it was.
  void load(std::span<const std::byte> bytes) {
    const std::vector<std::byte> before = save();
    try {
      read(bytes);
    } catch (...) {
      read(before);
      throw;
    }
    agreed_ = false;
    start_.reset();  // the loaded state carries on from wherever the workers were
  }

  /// Rounds completed (the step passed to time-varying topologies).
  [[nodiscard]] std::int64_t step() const { return step_; }
  [[nodiscard]] const Topology& topology() const { return topology_; }
  [[nodiscard]] Comm& communicator() { return comm_; }
  [[nodiscard]] const Comm& communicator() const { return comm_; }
  [[nodiscard]] Rule& rule() { return rule_; }
  [[nodiscard]] const Rule& rule() const { return rule_; }
  [[nodiscard]] const executor_type& executor() const { return exec_; }

 private:
  [[nodiscard]] mixing::context<Topology, executor_type> context() const {
    return {topology_, exec_, comm_.rank(), comm_.size(), step_, 0, comm::exchanges_in_place(comm_)};
  }

  void read(std::span<const std::byte> bytes) {
    checkpoint_reader r(bytes);
    checkpoint_header::read(r, agreement_.values, detail::build_fingerprints::names);
    step_ = r.value<std::int64_t>();
    load_part(rule_, r, exec_);
    r.finish();
  }

  /// Fingerprints of the topology, of the algorithm (the rule's type, its element type and options) and of the
  /// parameter layout (with whether it is packed: that decides the messages).
  detail::build_fingerprints fingerprints(const parameters<value_type>& params, const options& opts) const {
    std::uint64_t topology = 0;
    if constexpr (!std::same_as<Topology, no_topology>) topology = topology::topology_fingerprint(topology_);
    fingerprint layout;
    layout.add(params.layout().fingerprint()).add(params.is_packed());
    return detail::build_fingerprints::of(topology, typeid(Rule).name(), opts, layout.value(),
                                          params.layout().to_string() + (params.is_packed() ? " packed" : " unpacked"));
  }

  /// The topology, after checking it has as many workers as the communicator (before any rule sees it).
  static Topology matching(Topology topology, int workers) {
    expects(topology.size() == workers, "the topology has ", topology.size(), " workers but the communicator has ",
            workers);
    return topology;
  }

  mixing::context<Topology, executor_type> checked_context(const parameters<value_type>& params) const {
    expects(params.space() == executor_type::space, "parameters in ", to_string(params.space()),
            " memory but the executor runs on ", to_string(executor_type::space), " memory");
    if constexpr (requires { comm_.accepts(executor_type::space); })
      expects(comm_.accepts(executor_type::space), "the communicator cannot move ", to_string(executor_type::space),
              " memory (for the in-process one: set inprocess_options::copy and device_memory)");
    return context();
  }

  /// A fingerprint of the parameters' values (bytes, host copy) at construction.
  std::uint64_t parameters_fingerprint(const parameters<value_type>& params) const {
    fingerprint f;
    std::vector<value_type> host;
    for (const auto& [view, offset] : params.segments()) {
      host.resize(view.numel());
      exec_.download(host.data(), view.data, view.numel());
      f.add(std::string_view(reinterpret_cast<const char*>(host.data()), host.size() * sizeof(value_type)));
    }
    return f.value();
  }

  void reduce(std::span<value_type> buffer) { detail::allreduce_sum(comm_, exec_, buffer, staging_); }

  Topology topology_{};
  Comm comm_;
  executor_type exec_;
  detail::build_fingerprints agreement_;
  bool agreed_ = false;
  parameters<value_type> params_;  ///< the user's tensors (views), for the finiteness check
  bool check_finite_ = false;
  Rule rule_;
  mixing::exchange_plan<value_type> plan_;
  std::vector<value_type> staging_;
  std::int64_t step_ = 0;
  std::optional<std::uint64_t> start_;  ///< checked at the first mix(), for rules that need a common start
};

}  // namespace decent
