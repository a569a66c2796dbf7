#pragma once
/// @file
/// @brief decent-sim's engine: a run described by flags (`run_spec`) → rows of metrics.
///
/// Not part of the library (it is not installed and `decent.hpp` does not include it): it is the command line
/// next to decent-sim, shared with the tests and benchmarks that drive whole runs. The flag grammar is the
/// decent-sim contract of docs/architecture.md; `parse_arguments` turns argv into a `run_spec`
/// (every malformed or inapplicable flag is an `invalid_argument` with one clear line), `run` dispatches
/// the algorithm name to its compile-time composition and simulates it, `describe` prints the topology's
/// JSON summary.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iomanip>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#if __has_include(<unistd.h>)
#include <unistd.h>  // sysconf: the machine's memory, for the estimate of --max-memory
#endif

#include <decent/algorithm/allreduce.hpp>
#include <decent/algorithm/choco.hpp>
#include <decent/algorithm/d2.hpp>
#include <decent/algorithm/gossip.hpp>
#include <decent/algorithm/gradient_tracking.hpp>
#include <decent/algorithm/powergossip.hpp>
#include <decent/algorithm/relaysgd.hpp>
#include <decent/algorithm/sgp.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/core/error.hpp>
#include <decent/core/tensor.hpp>
#include <decent/exec/host.hpp>
#include <decent/sim/cluster.hpp>
#include <decent/sim/event_simulator.hpp>
#include <decent/sim/problems.hpp>
#include <decent/sim/simulation.hpp>
#include <decent/topology/analysis.hpp>
#include <decent/topology/any_topology.hpp>
#include <decent/topology/spec.hpp>
#include <decent/topology/topologies.hpp>
#include <decent/topology/weights.hpp>

namespace decent::sim {

/// Every algorithm name of the CLI contract, and whether it runs in virtual time.
struct algorithm_info {
  std::string_view name;
  bool asynchronous;
};
inline constexpr algorithm_info algorithms[] = {
    {"allreduce", false},   {"gossip", false}, {"relaysgd", false},     {"relaysgd-grad", false},
    {"powergossip", false}, {"choco", false},  {"async-gossip", true}, {"a2cid2", true},
    {"a2cid2-low-rank", true}, {"d2", false},   {"gradient-tracking", false}, {"sgp", false},
};

/// A decent-sim run, as given by its flags. Optional fields are those that only some algorithms or problems
/// accept; setting one that does not apply is an error. The training flags (--lr, --momentum, --noise,
/// --heterogeneity) have defaults and are simply unused by the consensus problem.
struct run_spec {
  std::string algorithm = "gossip";
  std::string topology = "ring:16";
  std::string problem = "consensus";
  std::vector<shape> shapes;          ///< --shape (consensus only); empty: one vector of --dim
  int dim = 10;
  std::int64_t steps = 100;
  std::optional<double> time;         ///< --time (asynchronous algorithms)
  double lr = 0.1;
  double momentum = 0;
  double gamma = 1;
  std::optional<int> rank;            ///< --rank (powergossip, a2cid2-low-rank)
  std::optional<int> iterations;      ///< --iterations (powergossip)
  bool no_warm_start = false;         ///< --no-warm-start (powergossip)
  std::optional<double> rate;         ///< --rate (a2cid2, a2cid2-low-rank, async-gossip; --describe)
  std::optional<std::string> compressor;  ///< --compressor (choco)
  bool quasi_global_momentum = false;  ///< --quasi-global-momentum (gossip): --momentum is the rule's, not the local step's
  double heterogeneity = 1;
  double noise = 0;
  double mu = 0.5;                    ///< --mu (quadratic)
  double r0 = 100;                    ///< --r0 (quadratic)
  std::uint64_t seed = 0;
  std::string precision = "f32";
  std::string backend = "host";
  std::int64_t every = 1;
  std::optional<std::string> csv;     ///< --csv PATH (default stdout)
  std::optional<double> max_memory;   ///< --max-memory SIZE in bytes (default: the machine's physical memory)
  bool describe = false;
  bool timing = false;                ///< --timing: one line on stderr at the end (set-up, time per step, peak memory)
};

/// What a finished run reports besides its rows.
struct run_summary {
  row last;
  double wall_seconds = 0;
  int workers = 0;
};

namespace detail {

inline std::string accepted_algorithms() {
  std::string s;
  for (const auto& a : algorithms) s += (s.empty() ? "" : " | ") + std::string(a.name);
  return s;
}

inline const algorithm_info& find_algorithm(std::string_view name) {
  for (const auto& a : algorithms)
    if (a.name == name) return a;
  throw invalid_argument(decent::detail::concat("unknown --algorithm '", name, "': expected ", accepted_algorithms()));
}

template <class Number>
Number parse_number(std::string_view flag, std::string_view text) {
  if constexpr (std::is_unsigned_v<Number>)
    expects(!text.empty() && text.front() != '-' && text.front() != '+', "invalid value '", text, "' for ", flag,
            ": expected a non-negative integer");
  std::istringstream in{std::string(text)};
  Number value{};
  in >> value;
  expects(!text.empty() && in && in.peek() == std::char_traits<char>::eof(), "invalid value '", text, "' for ", flag,
          ": expected ", std::is_integral_v<Number> ? "an integer" : "a number");
  if constexpr (std::is_floating_point_v<Number>) expects(std::isfinite(value), "invalid value '", text, "' for ", flag);
  return value;
}

/// The fraction of `--compressor topk:FRACTION`, or nothing for `sign`; anything else is an error.
inline std::optional<double> top_k_fraction(const std::string& spec) {
  if (spec == "sign") return std::nullopt;
  expects(spec.rfind("topk:", 0) == 0, "unknown --compressor '", spec, "': expected sign | topk:FRACTION");
  const auto fraction = parse_number<double>("--compressor topk:FRACTION", std::string_view(spec).substr(5));
  expects(fraction > 0 && fraction <= 1, "--compressor topk:FRACTION needs 0 < FRACTION <= 1, got ", fraction);
  return fraction;
}

/// "SIZE[K|M|G|T]" (binary units; a plain number is bytes) → bytes, for --max-memory.
inline double parse_memory_size(std::string_view text) {
  double unit = 1;
  if (!text.empty()) {
    const std::string_view units = "KMGT";
    if (const auto k = units.find(static_cast<char>(std::toupper(static_cast<unsigned char>(text.back()))));
        k != std::string_view::npos) {
      unit = std::ldexp(1.0, 10 * static_cast<int>(k + 1));
      text.remove_suffix(1);
    }
  }
  const auto value = parse_number<double>("--max-memory", text);
  expects(value > 0, "--max-memory must be > 0, got '", text, "'");
  return value * unit;
}

/// "AxB[,CxD...]" → shapes; a plain "N" is a vector of N.
inline std::vector<shape> parse_shapes(std::string_view text) {
  std::vector<shape> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view item = text.substr(start, comma - start);
    std::vector<std::int64_t> extents;
    std::size_t p = 0;
    while (p <= item.size()) {
      const std::size_t x = std::min(item.find('x', p), item.size());
      const auto extent = parse_number<std::int64_t>("--shape", item.substr(p, x - p));
      expects(extent >= 1, "invalid --shape '", text, "': every extent must be >= 1");
      extents.push_back(extent);
      p = x + 1;
    }
    out.emplace_back(std::span<const std::int64_t>(extents));
    start = comma + 1;
  }
  return out;
}

}  // namespace detail

/// Parses decent-sim's flags (argv without the program name). Throws invalid_argument with one clear line.
inline run_spec parse_arguments(const std::vector<std::string>& args) {
  run_spec s;
  bool shape_set = false, dim_set = false, mu_set = false, r0_set = false, steps_set = false, gamma_set = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    auto value = [&]() -> const std::string& {
      expects(i + 1 < args.size(), flag, " needs a value");
      return args[++i];
    };
    if (flag == "--algorithm") s.algorithm = value();
    else if (flag == "--topology") s.topology = value();
    else if (flag == "--problem") s.problem = value();
    else if (flag == "--shape") s.shapes = detail::parse_shapes(value()), shape_set = true;
    else if (flag == "--dim") s.dim = detail::parse_number<int>(flag, value()), dim_set = true;
    else if (flag == "--steps") s.steps = detail::parse_number<std::int64_t>(flag, value()), steps_set = true;
    else if (flag == "--time") s.time = detail::parse_number<double>(flag, value());
    else if (flag == "--lr") s.lr = detail::parse_number<double>(flag, value());
    else if (flag == "--momentum") s.momentum = detail::parse_number<double>(flag, value());
    else if (flag == "--gamma") s.gamma = detail::parse_number<double>(flag, value()), gamma_set = true;
    else if (flag == "--rank") s.rank = detail::parse_number<int>(flag, value());
    else if (flag == "--iterations") s.iterations = detail::parse_number<int>(flag, value());
    else if (flag == "--no-warm-start") s.no_warm_start = true;
    else if (flag == "--rate") s.rate = detail::parse_number<double>(flag, value());
    else if (flag == "--compressor") s.compressor = value();
    else if (flag == "--quasi-global-momentum") s.quasi_global_momentum = true;
    else if (flag == "--heterogeneity") s.heterogeneity = detail::parse_number<double>(flag, value());
    else if (flag == "--noise") s.noise = detail::parse_number<double>(flag, value());
    else if (flag == "--mu") s.mu = detail::parse_number<double>(flag, value()), mu_set = true;
    else if (flag == "--r0") s.r0 = detail::parse_number<double>(flag, value()), r0_set = true;
    else if (flag == "--seed") s.seed = detail::parse_number<std::uint64_t>(flag, value());
    else if (flag == "--precision") s.precision = value();
    else if (flag == "--backend") s.backend = value();
    else if (flag == "--every") s.every = detail::parse_number<std::int64_t>(flag, value());
    else if (flag == "--csv") s.csv = value();
    else if (flag == "--max-memory") s.max_memory = detail::parse_memory_size(value());
    else if (flag == "--describe") s.describe = true;
    else if (flag == "--timing") s.timing = true;
    else throw invalid_argument(decent::detail::concat("unknown flag '", flag, "' (see decent-sim --help)"));
  }
  if (s.describe) return s;

  const algorithm_info& algo = detail::find_algorithm(s.algorithm);
  expects(s.problem == "consensus" || s.problem == "quadratic" || s.problem == "logistic", "unknown --problem '",
          s.problem, "': expected consensus | quadratic | logistic");
  expects(s.precision == "f32" || s.precision == "f64", "unknown --precision '", s.precision, "': expected f32 | f64");
  expects(s.backend == "host" || s.backend == "cuda", "unknown --backend '", s.backend, "': expected host | cuda");
  expects(!(shape_set && dim_set), "give either --shape or --dim, not both");
  expects(!shape_set || s.problem == "consensus", "--shape applies to --problem consensus; ", s.problem, " uses --dim");
  expects(s.dim >= 1, "--dim must be >= 1, got ", s.dim);
  expects(!(mu_set || r0_set) || s.problem == "quadratic", "--mu and --r0 apply to --problem quadratic only");
  expects(s.steps >= 0, "--steps must be >= 0, got ", s.steps);
  expects(s.every >= 1, "--every must be >= 1, got ", s.every);
  expects(s.lr >= 0, "--lr must be >= 0, got ", s.lr);
  expects(s.momentum >= 0 && s.momentum < 1, "--momentum must be in [0, 1), got ", s.momentum);
  expects(s.gamma > 0, "--gamma must be > 0, got ", s.gamma);
  expects(!gamma_set || s.algorithm == "gossip" || s.algorithm == "powergossip" || s.algorithm == "choco" ||
              s.algorithm == "d2" || s.algorithm == "gradient-tracking",
          "--gamma applies to gossip, powergossip, choco, d2 and gradient-tracking; ", s.algorithm,
          " has no diffusion rate");
  // SGP's graph is its own (i → i + 2^k, a new k every exchange); --topology names the exponential graph that
  // holds all of its edges, and so the number of workers.
  expects(s.algorithm != "sgp" || s.topology.rfind("exponential:", 0) == 0, "--algorithm sgp runs on the "
          "time-varying directed exponential graph: give --topology exponential:N (got ", s.topology, ")");
  expects(!s.quasi_global_momentum || s.algorithm == "gossip",
          "--quasi-global-momentum applies to --algorithm gossip only");
  expects(!s.quasi_global_momentum || s.momentum > 0,
          "--quasi-global-momentum takes its momentum from --momentum: give --momentum in (0, 1)");
  if (algo.asynchronous) {
    expects(!steps_set, "--algorithm ", s.algorithm, " is asynchronous: give --time T (virtual time), not --steps");
    expects(!s.time || *s.time >= 0, "--time must be >= 0, got ", s.time.value_or(0));
  } else {
    expects(!s.time, "--time applies to the asynchronous algorithms (async-gossip, a2cid2, a2cid2-low-rank); ", s.algorithm,
            " runs --steps");
  }
  const bool low_rank = s.algorithm == "powergossip" || s.algorithm == "a2cid2-low-rank";
  expects(!(s.rank || s.iterations || s.no_warm_start) || low_rank,
          "--rank, --iterations and --no-warm-start apply to --algorithm powergossip and a2cid2-low-rank only");
  expects(!s.compressor || s.algorithm == "choco", "--compressor applies to --algorithm choco only");
  if (s.compressor) (void)detail::top_k_fraction(*s.compressor);  // validates the spec
  expects(!s.rank || *s.rank >= 1, "--rank must be >= 1, got ", s.rank.value_or(0));
  expects(!s.iterations || *s.iterations >= 1, "--iterations must be >= 1, got ", s.iterations.value_or(0));
  expects(!s.rate || algo.asynchronous,
          "--rate applies to async-gossip, a2cid2 and a2cid2-low-rank (and --describe) only");
  return s;
}

namespace detail {

/// The machine's physical memory in bytes, or 0 where it cannot be read.
inline double physical_memory() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) return static_cast<double>(pages) * static_cast<double>(page);
#endif
  return 0;
}

/// About how many bytes simulating `s` on `g` allocates: the problem's data, then per worker the parameters,
/// the SGD buffers and the algorithm's state, which for gossip-like algorithms grows with the degree (a received
/// copy per neighbour). Against the peak RSS of 16 workers of 10⁶ parameters (f32): 1.07× (gossip on complete:16),
/// 0.97× (relaysgd, binary-tree:16, in place), 1.28× (gossip, ring:16), 1.7× (allreduce), 0.95× (choco sign,
/// ring:16). RelaySum's degree is the graph's: on a double binary tree (each tree of degree ≤ 3, their union of
/// more) the estimate assumes separate messages, an over-estimate.
[[nodiscard]] inline double estimated_memory(const run_spec& s, const topology::graph& g) {
  const double n = g.size(), edge_ends = 2.0 * static_cast<double>(g.num_edges()), d = s.dim;
  const double element = s.precision == "f64" ? 8 : 4;
  double numel = d, problem = 0;
  bool gradient = true;
  if (s.problem == "consensus") {
    if (!s.shapes.empty()) numel = static_cast<double>(parameter_layout(s.shapes).numel());  // checked sum
    gradient = false;
  } else if (s.problem == "quadratic") {
    problem = n * (d * d + 3 * d) * 8;  // A_i and b_i in double
  } else {
    const logistic_options o;
    numel = o.classes * d + o.classes;
    problem = n * o.samples * (d + 1) * 8;
  }
  // Copies of the parameters per worker (n·per_worker) and per edge end (per_neighbour).
  double per_worker = 1 + (gradient ? 2 : 0), per_neighbour = 0;
  const std::string& a = s.algorithm;
  if (a == "allreduce") per_worker += 1;
  else if (a == "relaysgd" || a == "relaysgd-grad") {
    // x⁽⁰⁾ (or the previous parameters) and a relay per tree neighbour; a message per neighbour too unless the
    // exchange is in place (host memory, trees of degree ≤ 3: mixing/relaysum.hpp).
    int max_degree = 0;
    for (int v = 0; v < g.size(); ++v) max_degree = std::max(max_degree, static_cast<int>(g.neighbors(v).size()));
    per_worker += 1, per_neighbour = s.backend == "host" && max_degree <= 3 ? 1 : 2;
  }
  else if (a == "choco") per_worker += 3;
  else if (a == "d2") per_worker += 1, per_neighbour = 1;                  // c, and gossip's receive buffers
  else if (a == "gradient-tracking") per_worker += 3, per_neighbour = 2;   // c, x^t, z; two gossips' buffers
  else if (a == "sgp") per_worker += 1;                                    // one receive buffer
  else if (a == "async-gossip" || a == "a2cid2") per_worker += 2;
  else if (a == "a2cid2-low-rank") per_worker += 4, per_neighbour = 0;  // + the snapshot and its copy; bases are small
  else per_worker += 1 + (s.quasi_global_momentum ? 2 : 0), per_neighbour = 1;  // gossip, powergossip: a received
                                                                                 // copy per neighbour; x^t and m
  return problem + numel * element * (n * per_worker + edge_ends * per_neighbour);
}

/// The in-process deadline of a simulation of n workers of `numel` parameters: the world's default (60 s), or 2 µs
/// per simulated parameter per core when that is longer. A worker that finished its set-up or step waits at the
/// next barrier for every other one, and all of them share the cores: 1024 workers of 10⁶ parameters take about
/// a minute to set up on two cores (their start points), which a 60 s deadline took for a hang.
[[nodiscard]] inline std::chrono::milliseconds deadline_for(int n, std::size_t numel) {
  const double cores = std::max(1u, std::thread::hardware_concurrency());
  const double seconds = 2e-6 * static_cast<double>(n) * static_cast<double>(numel) / cores;
  return std::max(comm::inprocess_options{}.deadline, std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000)));
}

/// Refuses a run whose estimated memory exceeds `--max-memory` (default: the machine's physical memory).
inline void check_memory(const run_spec& s, const topology::graph& g) {
  const double limit = s.max_memory.value_or(physical_memory());
  if (limit <= 0) return;
  const double need = estimated_memory(s, g);
  const auto gib = [](double bytes) {
    std::ostringstream os;
    os << std::setprecision(3) << bytes / 1073741824.0 << " GiB";
    return os.str();
  };
  expects(need <= limit, "this run needs about ", gib(need), " (", g.size(), " workers of ", s.algorithm, " on ",
          s.problem, "), more than the ", gib(limit), s.max_memory ? " of --max-memory" : " of this machine's memory",
          ": lower --dim/--shape or the number of workers (or raise --max-memory)");
}

template <class T>
std::unique_ptr<problem<T>> make_problem(const run_spec& s, int workers) {
  if (s.problem == "consensus") {
    parameter_layout layout(s.shapes.empty() ? std::vector<shape>{shape{s.dim}} : s.shapes);
    return std::make_unique<consensus_problem<T>>(workers, std::move(layout), s.seed);
  }
  if (s.problem == "quadratic") {
    return std::make_unique<quadratic_problem<T>>(
        workers, quadratic_options{s.dim, s.mu, s.r0, s.heterogeneity, s.noise, s.seed});
  }
  logistic_options o;
  o.dim = s.dim;
  o.heterogeneity = s.heterogeneity;
  o.noise = s.noise;
  o.seed = s.seed;
  return std::make_unique<logistic_problem<T>>(workers, o);
}

/// The low-rank compressor's options from the flags (powergossip, a2cid2-low-rank).
inline compress::low_rank_options low_rank_flags(const run_spec& s) {
  compress::low_rank_options o;
  o.rank = s.rank.value_or(1);
  o.iterations = s.iterations.value_or(1);
  o.warm_start = !s.no_warm_start;
  o.seed = s.seed;
  return o;
}

/// Simulates an asynchronous run (a2cid2, a2cid2-low-rank, async-gossip) in virtual time, on the host.
template <class T>
run_summary run_events(const run_spec& s, const row_sink& sink, const std::function<bool(const row&)>& until) {
  const topology::any_topology topo = topology::parse(s.topology);
  expects(!topo.is_time_varying(), "--algorithm ", s.algorithm, " needs a static topology; ", s.topology,
          " changes every step");
  const topology::graph g = topo.graph_at(0);
  check_memory(s, g);
  const auto task = make_problem<T>(s, g.size());
  event_options o;
  o.rate = s.rate.value_or(1.0);
  o.time = s.time.value_or(10.0);
  o.every = static_cast<double>(s.every);
  o.lr = s.lr;
  o.momentum = s.momentum;
  o.seed = s.seed;
  o.until = until;
  const auto start = std::chrono::steady_clock::now();
  row last;
  if (s.algorithm == "a2cid2") {
    last = event_simulator<T>(g, *task, o).run(sink);
  } else if (s.algorithm == "a2cid2-low-rank") {
    using rule = mixing::a2cid2_rule<exec::host, T, compress::low_rank<exec::host, T>>;
    last = event_simulator<T, rule>(g, *task, o, low_rank_flags(s)).run(sink);
  } else {
    last = event_simulator<T, mixing::pairwise_average<exec::host, T>>(g, *task, o).run(sink);
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return run_summary{last, elapsed.count(), g.size()};
}

/// Simulates `s` with element type T; every worker's algorithm and local step run on `make_executor()`.
template <class T, class MakeExecutor>
run_summary run_with(const run_spec& s, const row_sink& sink, MakeExecutor make_executor,
                     comm::inprocess_options comm_options, const std::function<bool(const row&)>& until) {
  using Exec = decltype(make_executor());
  if (find_algorithm(s.algorithm).asynchronous) {
    expects(Exec::space == memory_space::host, "--algorithm ", s.algorithm,
            " runs in the virtual-time simulator on the host in this version: use --backend host");
    return run_events<T>(s, sink, until);
  }
  const topology::any_topology topo = topology::parse(s.topology);
  if (!topo.is_time_varying()) topology::require_connected(topo.graph_at(0));
  check_memory(s, topo.is_time_varying() ? topo.union_graph() : topo.graph_at(0));
  const int n = topo.size();
  const auto task = make_problem<T>(s, n);
  comm_options.deadline = std::max(comm_options.deadline, deadline_for(n, task->layout().numel()));
  cluster workers(n, comm_options);
  // With quasi-global momentum the local step is plain SGD: the momentum is the rule's.
  const loop_options loop{s.steps, s.lr, s.quasi_global_momentum ? 0.0 : s.momentum, s.every, until};
  const auto start = std::chrono::steady_clock::now();
  // One composition per algorithm name, simulated the same way: every worker builds `Algorithm` with its
  // communicator, its parameters, `options` and its executor (and the topology, unless it needs none).
  const auto simulate = [&]<class Algorithm>(std::type_identity<Algorithm>, const typename Algorithm::options& options) {
    return simulate_on<T>(workers, *task, loop, make_executor, [&](comm::inprocess c, parameters<T> p) {
      if constexpr (std::same_as<std::remove_cvref_t<decltype(std::declval<Algorithm&>().topology())>, no_topology>)
        return Algorithm(std::move(c), std::move(p), options, make_executor());
      else
        return Algorithm(topo, std::move(c), std::move(p), options, make_executor());
    }, sink);
  };
  using topology::any_topology;
  using comm::inprocess;
  row last;
  if (s.algorithm == "allreduce") {
    last = simulate(std::type_identity<allreduce<inprocess, Exec, T>>{}, {});
  } else if (s.algorithm == "relaysgd" || s.algorithm == "relaysgd-grad") {
    (void)topology::spanning_trees(topo);  // a graph with cycles fails here, once, with the fix in the message
    relaysum_options options;
    options.variant = s.algorithm == "relaysgd" ? relay_variant::model : relay_variant::grad;
    last = simulate(std::type_identity<relaysgd<any_topology, inprocess, Exec, T>>{}, options);
  } else if (s.algorithm == "powergossip") {
    powergossip_options options;
    options.gamma = s.gamma;
    options.compression = low_rank_flags(s);
    last = simulate(std::type_identity<powergossip<any_topology, inprocess, Exec, T>>{}, options);
  } else if (s.algorithm == "choco") {
    if (const auto fraction = top_k_fraction(s.compressor.value_or("sign"))) {
      choco_options<compress::top_k_options> options;
      options.gamma = s.gamma;
      options.compression.fraction = *fraction;
      last = simulate(std::type_identity<choco<any_topology, inprocess, compress::top_k<Exec, T>>>{}, options);
    } else {
      choco_options<typename compress::sign<Exec, T>::options> options;
      options.gamma = s.gamma;
      last = simulate(std::type_identity<choco<any_topology, inprocess, compress::sign<Exec, T>>>{}, options);
    }
  } else if (s.algorithm == "d2") {
    last = simulate(std::type_identity<d2<any_topology, inprocess, Exec, T>>{},
                    gossip_options{s.gamma, topology::weight_scheme::uniform});
  } else if (s.algorithm == "gradient-tracking") {
    last = simulate(std::type_identity<gradient_tracking<any_topology, inprocess, Exec, T>>{},
                    gossip_options{s.gamma, topology::weight_scheme::uniform});
  } else if (s.algorithm == "sgp") {
    last = simulate(std::type_identity<sgp<inprocess, Exec, T>>{}, sgp_options{});
  } else if (s.quasi_global_momentum) {
    quasi_global_options<gossip_options> options;
    options.gamma = s.gamma;
    options.momentum = s.momentum;
    last = simulate(std::type_identity<quasi_global_gossip<any_topology, inprocess, Exec, T>>{}, options);
  } else {
    last = simulate(std::type_identity<gossip<any_topology, inprocess, Exec, T>>{},
                    gossip_options{s.gamma, topology::weight_scheme::uniform});
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return run_summary{last, elapsed.count(), n};
}

/// The row sink that stops a run at its first non-finite metric (a diverging run is an error, not a row of NaN).
inline row_sink stop_at_non_finite(const row_sink& sink) {
  return [sink](const row& r) {
    const bool finite = std::isfinite(r.consensus) && (!r.loss || std::isfinite(*r.loss)) &&
                        (!r.relative_consensus || std::isfinite(*r.relative_consensus));
    if (!finite)
      throw error(decent::detail::concat("the run diverged at step ", r.step, " (time ", r.time, "): ",
                                         std::isfinite(r.consensus) ? "the loss" : "the consensus distance",
                                         " is not finite — lower --lr (or --gamma)"));
    if (sink) sink(r);
  };
}

/// `run_with` in the spec's precision; stops with an `error` at the first non-finite metric.
template <class MakeExecutor>
run_summary run_in_precision(const run_spec& s, const row_sink& sink, MakeExecutor make_executor,
                             comm::inprocess_options comm_options = {},
                             const std::function<bool(const row&)>& until = {}) {
  const row_sink checked = stop_at_non_finite(sink);
  return s.precision == "f64" ? run_with<double>(s, checked, make_executor, comm_options, until)
                              : run_with<float>(s, checked, make_executor, comm_options, until);
}

}  // namespace detail

/// Simulates a parsed run on the host executor; rows go to `sink` in step order; the run ends early after the
/// first row for which `until` (if given) returns true. Throws invalid_argument for impossible setups.
/// `--backend cuda` runs come from `run_cuda` (decent_sim/runner_cuda.cuh, nvcc builds).
inline run_summary run(const run_spec& s, const row_sink& sink = {}, const std::function<bool(const row&)>& until = {}) {
  expects(s.backend == "host", "--backend cuda needs a decent-sim built with CUDA (configure with "
                               "-DDECENT_ENABLE_CUDA=ON)");
  return detail::run_in_precision(s, sink, [] { return exec::host(1); }, {}, until);
}

/// Formats one CSV row (`%.17g` for values so that reruns can be compared bit for bit).
inline std::string format_row(const row& r) {
  std::ostringstream os;
  os << std::setprecision(17);
  os << r.step << ',' << r.time << ',' << r.consensus << ',';
  if (r.relative_consensus) os << *r.relative_consensus;
  os << ',';
  if (r.loss) os << *r.loss;
  os << ',' << r.bytes_per_worker;
  return os.str();
}

/// The CSV header of decent-sim.
inline constexpr std::string_view csv_header = "step,time,consensus,relative_consensus,loss,bytes_per_worker";

}  // namespace decent::sim
