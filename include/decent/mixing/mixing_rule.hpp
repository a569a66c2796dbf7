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
/// `ctx` is a `mixing::context` (`comm::round_context`): the topology, the executor, the rank, the world size and the round number.

#include <concepts>
#include <cstdint>
#include <span>
#include <vector>

#include <decent/comm/exchange.hpp>
#include <decent/core/checkpoint.hpp>
#include <decent/core/tensor.hpp>

namespace decent::mixing {

/// Opt-in tag: a rule declares `using mixing_rule_concept = decent::mixing::mixing_rule_tag;`.
struct mixing_rule_tag {};

/// The round vocabulary lives in comm/exchange.hpp (compressors speak it too); rules name it from here.
template <class T>
using exchange_plan = comm::exchange_plan<T>;
template <class Topology, class Exec>
using context = comm::round_context<Topology, Exec>;

/// The topology of rules that involve every worker equally (all-reduce averaging).
struct no_topology {};

/// A mixing rule for element type `R::value_type` on executor `R::executor_type`, with its options and how it
/// is checkpointed (`save`/`load`, or `stateless`).
template <class R>
concept mixing_rule = requires {
  requires std::same_as<typename R::mixing_rule_concept, mixing_rule_tag>;
  typename R::value_type;
  typename R::executor_type;
  typename R::options;
} && checkpointable<R, typename R::executor_type>;

/// Exchanges per `mix()`: `rule.rounds(ctx)` when the rule declares it (PowerGossip's power iterations), else 1.
template <class R, class Context>
int rounds_of(const R& rule, const Context& ctx) {
  if constexpr (requires { { rule.rounds(ctx) } -> std::convertible_to<int>; }) return rule.rounds(ctx);
  else return 1;
}

/// A mixing rule that can run over `Topology`: constructed from such a round's context, the worker's parameters
/// and its options, it plans and applies rounds.
template <class R, class Topology>
concept mixing_rule_for =
    mixing_rule<R> &&
    std::constructible_from<R, const context<Topology, typename R::executor_type>&,
                            const parameters<typename R::value_type>&, typename R::options> &&
    requires(R& rule, const context<Topology, typename R::executor_type>& ctx,
             exchange_plan<typename R::value_type>& plan) {
      rule.plan(ctx, plan);
      rule.apply(ctx);
    };

}  // namespace decent::mixing
