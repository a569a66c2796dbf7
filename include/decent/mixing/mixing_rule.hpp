#pragma once
/// @file
/// @brief The MixingRule concept: how a worker combines what it receives with its own parameters.
///
/// A mixing rule owns the algorithm state of one worker (relay buffers, references, receive buffers) and the
/// math; it never talks to a communicator. Each round, the composing algorithm (`decent::mixer`) asks the rule
/// for an `exchange_plan` — the point-to-point messages to send and receive and the buffers to sum over all
/// workers — carries it out with its communicator, and then lets the rule `apply` the update:
///
///     rule.plan(ctx, plan);   // form outgoing messages; name receive buffers and reductions
///     comm.exchange(plan.sends, plan.recvs);  comm.allreduce_sum(each plan.reductions[k]);
///     rule.apply(ctx);        // combine: the parameters now hold the mixed model
///
/// `ctx` is a `mixing::context`: the topology, the executor, the rank, the world size and the round number.

#include <concepts>
#include <cstdint>
#include <span>
#include <vector>

#include <decent/comm/communicator.hpp>
#include <decent/core/tensor.hpp>

namespace decent::mixing {

/// Opt-in tag: a rule declares `using mixing_rule_concept = decent::mixing::mixing_rule_tag;`.
struct mixing_rule_tag {};

/// What a worker sends, receives and reduces in one round. Buffers belong to the rule (or are the user's
/// parameters) and stay valid until `apply` returns.
template <class T>
struct exchange_plan {
  std::vector<comm::send_op> sends;
  std::vector<comm::recv_op> recvs;
  std::vector<std::span<T>> reductions;  ///< buffers replaced by their sum over all workers

  void clear() {
    sends.clear();
    recvs.clear();
    reductions.clear();
  }
};

/// Everything a rule may consult in a round; `Topology` is `no_topology` for rules that need none.
template <class Topology, class Exec>
struct context {
  const Topology& topology;
  const Exec& exec;
  int rank;
  int size;
  std::int64_t step;  ///< mix() calls completed before this one
  int round = 0;      ///< exchange within this mix() call (rules that exchange several times per step)
};

/// The topology of rules that involve every worker equally (all-reduce averaging).
struct no_topology {};

/// A mixing rule for element type `R::value_type` on executor `R::executor_type`, constructible from a
/// context, the worker's parameters and `R::options`.
template <class R>
concept mixing_rule = requires {
  requires std::same_as<typename R::mixing_rule_concept, mixing_rule_tag>;
  typename R::value_type;
  typename R::executor_type;
  typename R::options;
};

/// Exchanges per `mix()`: `rule.rounds(ctx)` when the rule declares it (PowerGossip's power iterations), else 1.
template <class R, class Context>
int rounds_of(const R& rule, const Context& ctx) {
  if constexpr (requires { { rule.rounds(ctx) } -> std::convertible_to<int>; }) return rule.rounds(ctx);
  else return 1;
}

/// A mixing rule that can run over `Topology`: it plans and applies rounds given such a context.
template <class R, class Topology>
concept mixing_rule_for =
    mixing_rule<R> && requires(R& rule, const context<Topology, typename R::executor_type>& ctx,
                               exchange_plan<typename R::value_type>& plan) {
      rule.plan(ctx, plan);
      rule.apply(ctx);
    };

}  // namespace decent::mixing
