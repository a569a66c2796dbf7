#pragma once
/// @file
/// @brief `any_topology`, a topology chosen at run time (built from a spec by `parse`, topology/spec.hpp).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <decent/core/error.hpp>
#include <decent/topology/topologies.hpp>
#include <decent/topology/topology.hpp>

namespace decent::topology {

/// A topology chosen at run time: a static `graph`, a `double_binary_tree` or a `one_peer_exponential`.
class any_topology {
 public:
  using topology_concept = topology_tag;

  /// Holds a static graph (implicit: every topology converts to any_topology).
  any_topology(graph g) : value_(std::move(g)) {}
  /// Holds a double binary tree.
  any_topology(double_binary_tree t) : value_(std::move(t)) {}
  /// Holds a one-peer exponential graph.
  any_topology(one_peer_exponential t) : value_(std::move(t)) {}

  /// Number of workers.
  [[nodiscard]] int size() const {
    return std::visit([](const auto& t) { return t.size(); }, value_);
  }

  /// The ordered neighbours of `rank` at step `step`.
  /// @throw invalid_argument if `rank` is out of range (or `step` negative for a time-varying topology).
  [[nodiscard]] std::span<const int> neighbors(int rank, std::int64_t step) const {
    return std::visit([&](const auto& t) { return std::span<const int>(t.neighbors(rank, step)); }, value_);
  }

  /// True if the held topology's neighbours depend on the step (a value: `topology::is_time_varying` asks it, so
  /// an any_topology holding a static graph works wherever a static topology is needed).
  [[nodiscard]] bool is_time_varying() const {
    return std::visit([](const auto& t) { return std::decay_t<decltype(t)>::time_varying; }, value_);
  }

  /// The graph used at step `step`: the graph itself for static topologies (a double binary tree gives its union
  /// graph), the step's matching for one_peer_exponential.
  [[nodiscard]] graph graph_at(std::int64_t step) const {
    return std::visit(
        [&](const auto& t) -> graph {
          if constexpr (std::decay_t<decltype(t)>::time_varying) return t.graph_at(step);
          else return t;
        },
        value_);
  }

  /// The union of the graphs over all steps (the graph itself for static topologies, the hypercube for
  /// one_peer_exponential). Static analyses (diameter, spectral gap, A²CiD² constants) use this graph.
  [[nodiscard]] graph union_graph() const {
    return std::visit(
        [](const auto& t) -> graph {
          if constexpr (std::decay_t<decltype(t)>::time_varying) return t.union_graph();
          else return t;
        },
        value_);
  }

  /// The trees RelaySum relays over: both trees of a double binary tree, else the graph when it is a static tree.
  /// @throw topology_error naming the fix otherwise.
  [[nodiscard]] std::vector<graph> spanning_trees() const {
    if (const auto* d = get_if<double_binary_tree>()) return d->spanning_trees();
    return single_spanning_tree(*this);
  }

  /// The topology's name (its spec).
  [[nodiscard]] const std::string& name() const {
    return std::visit([](const auto& t) -> const std::string& { return t.name(); }, value_);
  }

  /// The held topology if it is a T (graph, double_binary_tree or one_peer_exponential), else nullptr.
  template <class T>
  [[nodiscard]] const T* get_if() const noexcept {
    return std::get_if<T>(&value_);
  }

 private:
  std::variant<graph, double_binary_tree, one_peer_exponential> value_;
};

static_assert(topology<any_topology>);

}  // namespace decent::topology
