#pragma once
/// @file
/// @brief The PairwiseRule concept: one worker's side of an asynchronous algorithm, as a sequence of events in
/// time — what an exchange with a neighbour sends, how what came back is applied, what a gradient does.
///
/// A runtime owns the events and the rule owns the math. The threaded runtime (`decent::async_mixer`) and the
/// virtual-time event simulator (`sim::event_simulator`) drive the same rules:
///
///     Rule::constants_for(graph, rate)     // once per run (A²CiD²'s η, α̃; nothing for plain averaging)
///     Rule rule(exec, params, constants);   // the worker's state, built on its (packed) parameters
///     rule.snapshot(exec, t, s);           // exchange at t: what travels (state unchanged)
///     rule.exchange(exec, r, t, s);        //   ... and the received snapshot r applied against the sent s
///     rule.apply_change(exec, t, s2, s);   //   ... or, through a compressor, the snapshot's change s → s2
///                                          //   (s2 = s + R::pair_weight · the decoded difference)
///     rule.sgd(exec, t, g, m, lr, mu);     // gradient event with the library's SGD
///     rule.apply_update(exec, t, delta);   // gradient event with the user's own update
///     rule.mix_to(exec, t);                // bring the state to time t (e.g. before it is read)
///     rule.save(writer, exec); rule.load(reader, exec);   // checkpoint of what is not the user's
///
/// `Rule::compressor_type` is the edge compressor the exchanges go through (identity: whole snapshots).

#include <concepts>

#include <decent/compress/compressor.hpp>
#include <decent/core/checkpoint.hpp>
#include <decent/core/tensor.hpp>
#include <decent/topology/analysis.hpp>

namespace decent::mixing {

/// Opt-in tag of pairwise rules (the concept checks the calls as well).
struct pairwise_rule_tag {};

/// A rule of asynchronous pairwise exchanges: every call the runtimes make, checked with probe arguments.
template <class R>
concept pairwise_rule =
    std::same_as<typename R::pairwise_rule_concept, pairwise_rule_tag> &&
    compress::edge_compressor<typename R::compressor_type> &&
    std::constructible_from<R, const typename R::executor_type&, const parameters<typename R::value_type>&,
                            topology::acid_constants> &&
    requires(R& rule, const R& frozen, const typename R::executor_type& ex, const topology::graph& g, double t,
             typename R::value_type* out, const typename R::value_type* in, checkpoint_writer& w,
             checkpoint_reader& r) {
      { R::constants_for(g, t) } -> std::same_as<topology::acid_constants>;
      { R::pair_weight } -> std::convertible_to<double>;
      frozen.snapshot(ex, t, out);
      rule.exchange(ex, in, t, in);
      rule.apply_change(ex, t, in, in);
      rule.sgd(ex, t, in, out, t, t);
      rule.apply_update(ex, t, in);
      rule.mix_to(ex, t);
      frozen.save(w, ex);
      rule.load(r, ex);
      { frozen.last_event() } -> std::convertible_to<double>;
      { frozen.x_tilde() } -> std::convertible_to<const typename R::value_type*>;
    };

}  // namespace decent::mixing
