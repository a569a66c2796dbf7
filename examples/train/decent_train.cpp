// decent-train: trains an MLP on Fashion-MNIST across N workers with any of decent's algorithms.
//
// Written the way a user writes their own trainer: the data, the model (forward, backward, its SGD) and the
// metrics are this program's; decent only mixes the parameters, which it takes as this program's own tensor
// type (`train::tensor`: data() + sizes()). Workers are threads in one process (`--launch inprocess`) or MPI
// processes (`mpirun -np N decent-train --launch mpi`); the model runs on the host (OpenBLAS) or, built with
// CUDA, on a GPU (`--backend cuda`: cuBLAS and decent's CUDA executor; NCCL across processes).
//
// Output: CSV, one row per evaluation (at the start, then every --eval-every epochs and after the last):
//   epoch,step,time,train_loss,test_accuracy,test_accuracy_workers,consensus,bytes_per_worker
// step is the gradient steps per worker (the mean over workers), time the wall seconds of training (the slowest
// worker's; set-up and evaluations left out); test_accuracy is that of the workers' averaged model,
// test_accuracy_workers the mean of each worker's own; consensus = (1/n) Σ‖x_i − x̄‖²; bytes_per_worker = mean
// payload bytes sent so far. Progress goes to stderr.

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <decent/decent.hpp>
#include <decent/detail/linalg.hpp>  // --spectrum: the singular values of a neighbours' difference
#include <decent/sim/cluster.hpp>  // the in-process threads that stand for the workers

#include "blas.hpp"
#include "fashion_mnist.hpp"
#include "mlp.hpp"

#if defined(DECENT_TRAIN_WITH_MPI)
#include <mpi.h>

#include <decent/comm/launch.hpp>
#include <decent/comm/mpi.hpp>
#endif
#if defined(__CUDACC__)
#include <decent/exec/cuda.cuh>

#include "cublas.cuh"
#if defined(DECENT_TRAIN_WITH_NCCL) && defined(DECENT_TRAIN_WITH_MPI)
#include <decent/comm/nccl_mpi.hpp>
#endif
#endif

namespace {

constexpr const char* usage = R"(usage: decent-train [flags]
  --algorithm allreduce|gossip|relaysgd|relaysgd-grad|powergossip|choco|async-gossip|a2cid2|a2cid2-low-rank|
              d2|gradient-tracking|sgp    (default allreduce)
  --topology SPEC   as decent-sim's (ring:N, binary-tree:N, ...; ":N" may be left out), default ring,
                    double-binary-tree for relaysgd, exponential for sgp (its only graph)
  --quasi-global-momentum   gossip with quasi-global momentum (--momentum is the rule's; the local step is plain)
  --drop P          relaysgd, relaysgd-grad: each message is lost with probability P (seeded by --seed)
  --update-reference   relaysgd: fill what a worker has not heard with its own last model, not the start
  --workers N (16)  --epochs E (5)  --batch B per worker (32)  --lr (0.1)  --momentum (0.9)  --weight-decay (1e-4)
  --eval-every E (1)  epochs between evaluations (a fraction evaluates within an epoch; points are rounded to
                    whole steps, and the CSV's epoch is the step's)
  --alpha A         Dirichlet(A) label split across workers (heterogeneous); default: IID
  --seed S (0)      --hidden 256,128 (hidden widths)
  --gamma --rank --iterations --no-warm-start --rate --compressor sign|topk:F   algorithm flags, as decent-sim's
  --wall-clock      a2cid2/async: time from the clock (default: time = gradient steps, reproducible)
  --patience MS     a2cid2/async: a worker waits at most MS ms for a partner that is not ready, then skips the
                    meeting (default 0: every scheduled exchange happens, and a slow worker holds its neighbours back)
  --global-budget   a2cid2/async, in-process: the run (and each --eval-every) counts gradients of all workers
                    together, exactly workers x steps per epoch per epoch: faster workers take more steps (default:
                    each worker takes the same number of steps)
  --compute-time MS every gradient step lasts at least MS ms of wall time (the rest is slept): a modelled
                    accelerator, so that the pace is the model's and not that of this machine's shared cores
  --slow F:A-B      with --compute-time: a seeded fraction F of the workers (round(F x workers), at least one)
                    computes A to B times slower (each a factor drawn uniformly in [A, B]), e.g. 0.25:2-5; a
                    warning (even with --quiet) says when the machine could not keep the pace
  --backend host|cuda (host)   --launch inprocess|mpi (inprocess; mpi: run under mpirun, one worker per rank)
  --data DIR (/usr/share/datasets/fashion-mnist)  --train-samples N  --test-samples N  (0: all)
  --csv PATH (default stdout)  --quiet (no progress on stderr)
  --spectrum PATH   at every evaluation, the singular values of x_1 - x_0 (workers 0 and 1: neighbours on a ring,
                    a chain or a tree) for every weight matrix, as CSV epoch,tensor,rows,cols,k,singular_value
output: CSV epoch,step,time,train_loss,test_accuracy,test_accuracy_workers,consensus,bytes_per_worker
  (step: gradient steps per worker, their mean; time: wall seconds of training, the slowest worker's, set-up and
   evaluations excluded)
)";

/// The run, as given by the flags.
struct options {
  std::string algorithm = "allreduce";
  std::string topology;
  int workers = 16;
  int epochs = 5;
  double eval_every = 1;  // epochs between evaluations (the end of the run is always evaluated)
  int batch = 32;
  double lr = 0.1, momentum = 0.9, weight_decay = 1e-4;
  double alpha = 0;  // 0: IID
  std::uint64_t seed = 0;
  std::vector<int> hidden{256, 128};
  double gamma = 1;
  int rank = 1, iterations = 1;
  bool no_warm_start = false, wall_clock = false, quasi_global_momentum = false, update_reference = false;
  double rate = 1;
  double drop = 0;
  std::string compressor = "sign";
  double patience_ms = 0;     // asynchronous: how long to wait for a partner that is not ready
  bool global_budget = false;  // asynchronous, in-process: the steps are counted over all workers together
  double compute_time_ms = 0;  // a gradient step lasts at least this long (0: as long as it takes)
  double slow_fraction = 0, slow_min = 1, slow_max = 1;  // --slow F:A-B
  std::string backend = "host", launch = "inprocess";
  std::string data = train::default_data_dir;
  std::size_t train_samples = 0, test_samples = 0;
  std::string csv, spectrum;
  bool quiet = false;
  bool workers_set = false;
};

[[noreturn]] void bad(const std::string& what) { throw decent::invalid_argument(what); }

template <class N>
N number(const std::string& flag, const std::string& text) {
  std::istringstream in(text);
  N v{};
  in >> v;
  if (text.empty() || !in || in.peek() != std::char_traits<char>::eof() ||
      (std::is_unsigned_v<N> && text.front() == '-'))
    bad("invalid value '" + text + "' for " + flag);
  if constexpr (std::is_floating_point_v<N>)
    if (!std::isfinite(v)) bad("invalid value '" + text + "' for " + flag);
  return v;
}

options parse(const std::vector<std::string>& args) {
  options o;
  bool gamma = false, rank = false, iterations = false, rate = false, compressor = false, dropping = false,
       patience = false, slow = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& f = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) bad(f + " needs a value");
      return args[++i];
    };
    if (f == "--algorithm") o.algorithm = value();
    else if (f == "--topology") o.topology = value();
    else if (f == "--workers") o.workers = number<int>(f, value()), o.workers_set = true;
    else if (f == "--epochs") o.epochs = number<int>(f, value());
    else if (f == "--eval-every") o.eval_every = number<double>(f, value());
    else if (f == "--batch") o.batch = number<int>(f, value());
    else if (f == "--lr") o.lr = number<double>(f, value());
    else if (f == "--momentum") o.momentum = number<double>(f, value());
    else if (f == "--weight-decay") o.weight_decay = number<double>(f, value());
    else if (f == "--alpha") o.alpha = number<double>(f, value());
    else if (f == "--seed") o.seed = number<std::uint64_t>(f, value());
    else if (f == "--hidden") {
      o.hidden.clear();
      std::stringstream in(value());
      for (std::string w; std::getline(in, w, ',');) o.hidden.push_back(number<int>(f, w));
    } else if (f == "--gamma") o.gamma = number<double>(f, value()), gamma = true;
    else if (f == "--rank") o.rank = number<int>(f, value()), rank = true;
    else if (f == "--iterations") o.iterations = number<int>(f, value()), iterations = true;
    else if (f == "--no-warm-start") o.no_warm_start = true;
    else if (f == "--rate") o.rate = number<double>(f, value()), rate = true;
    else if (f == "--compressor") o.compressor = value(), compressor = true;
    else if (f == "--wall-clock") o.wall_clock = true;
    else if (f == "--patience") o.patience_ms = number<double>(f, value()), patience = true;
    else if (f == "--global-budget") o.global_budget = true;
    else if (f == "--compute-time") o.compute_time_ms = number<double>(f, value());
    else if (f == "--slow") {
      const std::string& spec = value();
      const auto colon = spec.find(':'), dash = spec.find('-', colon == std::string::npos ? 0 : colon);
      if (colon == std::string::npos || dash == std::string::npos)
        bad("invalid value '" + spec + "' for --slow: expected FRACTION:MIN-MAX, e.g. 0.25:2-5");
      o.slow_fraction = number<double>(f + " FRACTION", spec.substr(0, colon));
      o.slow_min = number<double>(f + " MIN", spec.substr(colon + 1, dash - colon - 1));
      o.slow_max = number<double>(f + " MAX", spec.substr(dash + 1));
      slow = true;
    }
    else if (f == "--quasi-global-momentum") o.quasi_global_momentum = true;
    else if (f == "--drop") o.drop = number<double>(f, value()), dropping = true;
    else if (f == "--update-reference") o.update_reference = true;
    else if (f == "--backend") o.backend = value();
    else if (f == "--launch") o.launch = value();
    else if (f == "--data") o.data = value();
    else if (f == "--train-samples") o.train_samples = number<std::size_t>(f, value());
    else if (f == "--test-samples") o.test_samples = number<std::size_t>(f, value());
    else if (f == "--csv") o.csv = value();
    else if (f == "--spectrum") o.spectrum = value();
    else if (f == "--quiet") o.quiet = true;
    else bad("unknown flag '" + f + "' (see decent-train --help)");
  }
  const std::string& a = o.algorithm;
  const bool async = a == "async-gossip" || a == "a2cid2" || a == "a2cid2-low-rank";
  if (!(a == "allreduce" || a == "gossip" || a == "relaysgd" || a == "relaysgd-grad" || a == "powergossip" ||
        a == "choco" || a == "d2" || a == "gradient-tracking" || a == "sgp" || async))
    bad("unknown --algorithm '" + a + "': expected allreduce | gossip | relaysgd | relaysgd-grad | powergossip | "
        "choco | async-gossip | a2cid2 | a2cid2-low-rank | d2 | gradient-tracking | sgp");
  if (o.workers < 1) bad("--workers must be >= 1");
  if (o.epochs < 0) bad("--epochs must be >= 0");
  if (o.batch < 1) bad("--batch must be >= 1");
  if (!(o.eval_every > 0)) bad("--eval-every must be > 0 (epochs; a fraction evaluates within an epoch)");
  if (o.lr < 0) bad("--lr must be >= 0");
  if (o.momentum < 0 || o.momentum >= 1) bad("--momentum must be in [0, 1)");
  if (o.weight_decay < 0) bad("--weight-decay must be >= 0");
  if (o.alpha < 0) bad("--alpha must be > 0 (leave it out for an IID split)");
  for (const int w : o.hidden)
    if (w < 1) bad("--hidden widths must be >= 1");
  if (o.backend != "host" && o.backend != "cuda") bad("unknown --backend '" + o.backend + "': expected host | cuda");
  if (o.launch != "inprocess" && o.launch != "mpi") bad("unknown --launch '" + o.launch + "': expected inprocess | mpi");
  if (gamma && !(a == "gossip" || a == "powergossip" || a == "choco" || a == "d2" || a == "gradient-tracking"))
    bad("--gamma applies to gossip, powergossip, choco, d2 and gradient-tracking");
  if (dropping && a.rfind("relaysgd", 0) != 0) bad("--drop applies to relaysgd and relaysgd-grad");
  if (dropping && !(o.drop >= 0 && o.drop < 1)) bad("--drop must be in [0, 1)");
  if (o.update_reference && a != "relaysgd") bad("--update-reference applies to relaysgd");
  if (!o.spectrum.empty() && o.launch == "inprocess" && o.workers < 2)
    bad("--spectrum compares workers 0 and 1: give --workers 2 or more");
  if (o.quasi_global_momentum && a != "gossip") bad("--quasi-global-momentum applies to --algorithm gossip");
  if (o.quasi_global_momentum && o.momentum == 0)
    bad("--quasi-global-momentum takes its momentum from --momentum: give --momentum in (0, 1)");
  if (a == "sgp" && !o.topology.empty() && o.topology.rfind("exponential", 0) != 0)
    bad("--algorithm sgp runs on the time-varying directed exponential graph: give --topology exponential (or "
        "leave it out), got " + o.topology);
  if ((rank || iterations || o.no_warm_start) && a != "powergossip" && a != "a2cid2-low-rank")
    bad("--rank, --iterations and --no-warm-start apply to powergossip and a2cid2-low-rank");
  if (rank && o.rank < 1) bad("--rank must be >= 1");
  if (iterations && o.iterations < 1) bad("--iterations must be >= 1");
  if ((rate || o.wall_clock) && !async) bad("--rate and --wall-clock apply to async-gossip, a2cid2 and a2cid2-low-rank");
  if (rate && o.rate <= 0) bad("--rate must be > 0");
  if (patience && !async) bad("--patience applies to async-gossip, a2cid2 and a2cid2-low-rank");
  if (patience && !(o.patience_ms >= 0 && o.patience_ms <= 1e6)) bad("--patience must be in [0, 1e6] ms");
  if (o.global_budget && !async) bad("--global-budget applies to async-gossip, a2cid2 and a2cid2-low-rank");
  if (o.global_budget && o.launch != "inprocess")
    bad("--global-budget needs --launch inprocess (the workers count their steps in one shared counter)");
  if (!(o.compute_time_ms >= 0 && o.compute_time_ms <= 1e6)) bad("--compute-time must be in [0, 1e6] ms");
  if (slow && o.compute_time_ms == 0)
    bad("--slow needs --compute-time (the modelled time of a gradient step that the slow workers multiply)");
  if (slow && !(o.slow_fraction > 0 && o.slow_fraction <= 1)) bad("--slow FRACTION must be in (0, 1]");
  if (slow && !(o.slow_min >= 1 && o.slow_min <= o.slow_max && o.slow_max <= 1e3))
    bad("--slow MIN-MAX must satisfy 1 <= MIN <= MAX <= 1000");
  if (compressor && a != "choco") bad("--compressor applies to choco");
  if (o.compressor != "sign" && o.compressor.rfind("topk:", 0) != 0)
    bad("unknown --compressor '" + o.compressor + "': expected sign | topk:FRACTION");
  if (o.compressor.rfind("topk:", 0) == 0) {
    const double f = number<double>("--compressor topk:FRACTION", o.compressor.substr(5));
    if (!(f > 0 && f <= 1)) bad("--compressor topk:FRACTION needs 0 < FRACTION <= 1");
  }
  return o;
}

/// The topology spec for n workers: the flag's (":N" appended when left out) or the algorithm's default.
std::string topology_spec(const options& o, int n) {
  std::string spec = o.topology;
  if (spec.empty())
    spec = o.algorithm.rfind("relaysgd", 0) == 0 ? "double-binary-tree" : o.algorithm == "sgp" ? "exponential" : "ring";
  if (spec.find(':') == std::string::npos) spec += ":" + std::to_string(n);
  return spec;
}

/// The trainer's own collective for its metrics (not decent's communicator: its bytes are not the algorithm's).
class group {
 public:
  virtual ~group() = default;
  [[nodiscard]] virtual int rank() const = 0;
  [[nodiscard]] virtual int size() const = 0;
  /// In place: the element-wise sum over all workers, the same on every worker.
  virtual void sum(std::vector<double>& v) = 0;
  /// Every worker's `value`, indexed by rank, the same on every worker (a sum of one-hot vectors).
  [[nodiscard]] std::vector<double> each(double value) {
    std::vector<double> v(static_cast<std::size_t>(size()), 0.0);
    v[static_cast<std::size_t>(rank())] = value;
    sum(v);
    return v;
  }
  /// --global-budget: the gradient steps of all workers so far, one counter for the group (threads only).
  [[nodiscard]] virtual std::atomic<std::int64_t>* gradients() { return nullptr; }
};

/// Workers as threads: slots in shared memory, summed in rank order (deterministic) by every worker.
class threads_group final : public group {
 public:
  struct shared {
    explicit shared(int n) : slots(static_cast<std::size_t>(n)), sync(n) {}
    std::vector<std::vector<double>*> slots;
    std::barrier<> sync;
    std::atomic<std::int64_t> gradients{0};
  };
  threads_group(shared& s, int rank) : s_(s), rank_(rank) {}
  [[nodiscard]] int rank() const override { return rank_; }
  [[nodiscard]] int size() const override { return static_cast<int>(s_.slots.size()); }
  void sum(std::vector<double>& v) override {
    s_.slots[static_cast<std::size_t>(rank_)] = &v;
    s_.sync.arrive_and_wait();
    std::vector<double> total(v.size(), 0.0);
    for (const auto* slot : s_.slots)
      for (std::size_t k = 0; k < v.size(); ++k) total[k] += (*slot)[k];
    s_.sync.arrive_and_wait();  // everyone has read every slot
    v = std::move(total);
  }
  [[nodiscard]] std::atomic<std::int64_t>* gradients() override { return &s_.gradients; }

 private:
  shared& s_;
  int rank_;
};

#if defined(DECENT_TRAIN_WITH_MPI)
class mpi_group final : public group {
 public:
  [[nodiscard]] int rank() const override {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
  }
  [[nodiscard]] int size() const override {
    int s = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
  }
  void sum(std::vector<double>& v) override {
    MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  }
};
#endif

/// decent's side of one worker, behind one interface for the trainer's loop: synchronous algorithms take the
/// user's optimizer step and then mix(); asynchronous ones take the update Δ (apply) and mix in the background.
class mixing_step {
 public:
  virtual ~mixing_step() = default;
  virtual void begin() {}
  /// After the model computed its update Δ: apply it (synchronous: the user's step, then mix()) — returns the
  /// seconds spent inside decent.
  virtual double step(const std::function<void()>& apply_own_update) = 0;
  virtual void pause() {}   ///< before an evaluation (asynchronous: stop the communication thread)
  virtual void resume() {}  ///< after it
  virtual void end() {}
  [[nodiscard]] virtual std::uint64_t bytes_sent() const = 0;
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

template <class Algorithm>
class synchronous final : public mixing_step {
 public:
  explicit synchronous(Algorithm a) : a_(std::move(a)) {}
  double step(const std::function<void()>& apply_own_update) override {
    apply_own_update();
    const auto t = std::chrono::steady_clock::now();
    a_.mix();
    return seconds_since(t);
  }
  [[nodiscard]] std::uint64_t bytes_sent() const override { return a_.communicator().stats().bytes_sent; }

 private:
  Algorithm a_;
};

template <class Algorithm>
class asynchronous final : public mixing_step {
 public:
  template <class... Args>
  asynchronous(decent::parameters<float> delta, Args&&... args)
      : delta_(std::move(delta)), a_(std::forward<Args>(args)...) {}
  void begin() override { a_.start(); }
  double step(const std::function<void()>&) override {
    const auto t = std::chrono::steady_clock::now();
    a_.apply(delta_);  // per tensor: the update as the model's own tensors
    return seconds_since(t);
  }
  void pause() override { a_.stop(); }
  void resume() override { a_.start(); }
  void end() override { a_.stop(); }
  [[nodiscard]] std::uint64_t bytes_sent() const override { return a_.communicator().stats().bytes_sent; }

 private:
  decent::parameters<float> delta_;
  Algorithm a_;
};

/// decent's algorithm for `o`, on communicator `comm` and executors from `exec()` (`comm_exec()` for the
/// asynchronous runtime's communication thread). Executors may be move-only (CUDA's): they are made, not copied.
template <class Comm, class MakeExec>
std::unique_ptr<mixing_step> make_algorithm(const options& o, Comm comm, const decent::parameters<float>& params,
                                            const decent::parameters<float>& delta, MakeExec exec, MakeExec comm_exec) {
  using Exec = decltype(exec());
  namespace topo = decent::topology;
  const std::string& a = o.algorithm;
  if (a == "allreduce")
    return std::make_unique<synchronous<decent::allreduce<Comm, Exec, float>>>(
        decent::allreduce<Comm, Exec, float>(std::move(comm), params, {}, exec()));
  if (a == "sgp") {  // its graph is its own: i → i + 2^k, a new k every exchange
    if (topo::parse(topology_spec(o, comm.size())).size() != comm.size())
      bad("--topology " + o.topology + " has another number of workers than --workers");
    using algo = decent::sgp<Comm, Exec, float>;
    return std::make_unique<synchronous<algo>>(algo(std::move(comm), params, {}, exec()));
  }
  const topo::any_topology t = topo::parse(topology_spec(o, comm.size()));
  if (a == "gossip" && o.quasi_global_momentum) {
    using algo = decent::quasi_global_gossip<topo::any_topology, Comm, Exec, float>;
    decent::quasi_global_options<decent::gossip_options> q;
    q.gamma = o.gamma;
    q.momentum = o.momentum;
    return std::make_unique<synchronous<algo>>(algo(t, std::move(comm), params, q, exec()));
  }
  if (a == "gossip") {
    using algo = decent::gossip<topo::any_topology, Comm, Exec, float>;
    return std::make_unique<synchronous<algo>>(algo(t, std::move(comm), params, {o.gamma}, exec()));
  }
  if (a == "d2") {
    using algo = decent::d2<topo::any_topology, Comm, Exec, float>;
    return std::make_unique<synchronous<algo>>(algo(t, std::move(comm), params, {o.gamma}, exec()));
  }
  if (a == "gradient-tracking") {
    using algo = decent::gradient_tracking<topo::any_topology, Comm, Exec, float>;
    return std::make_unique<synchronous<algo>>(algo(t, std::move(comm), params, {o.gamma}, exec()));
  }
  if (a == "relaysgd" || a == "relaysgd-grad") {
    using algo = decent::relaysgd<topo::any_topology, Comm, Exec, float>;
    decent::relaysum_options r;
    r.variant = a == "relaysgd" ? decent::relay_variant::model : decent::relay_variant::grad;
    r.drop_probability = o.drop;
    r.drop_seed = o.seed;
    r.update_reference = o.update_reference;
    return std::make_unique<synchronous<algo>>(algo(t, std::move(comm), params, r, exec()));
  }
  if (a == "powergossip") {
    using algo = decent::powergossip<topo::any_topology, Comm, Exec, float>;
    decent::powergossip_options p;
    p.gamma = o.gamma;
    p.compression = {o.rank, o.iterations, !o.no_warm_start, o.seed};
    return std::make_unique<synchronous<algo>>(algo(t, std::move(comm), params, p, exec()));
  }
  if (a == "choco") {
    if (o.compressor == "sign") {
      using algo = decent::choco<topo::any_topology, Comm, decent::compress::sign<Exec, float>>;
      decent::choco_options<typename decent::compress::sign<Exec, float>::options> c;
      c.gamma = o.gamma;
      return std::make_unique<synchronous<algo>>(algo(t, std::move(comm), params, c, exec()));
    }
    using algo = decent::choco<topo::any_topology, Comm, decent::compress::top_k<Exec, float>>;
    decent::choco_options<decent::compress::top_k_options> c;
    c.gamma = o.gamma;
    c.compression.fraction = std::stod(o.compressor.substr(5));
    return std::make_unique<synchronous<algo>>(algo(t, std::move(comm), params, c, exec()));
  }
  // Asynchronous: a static graph; time counted in gradient steps unless --wall-clock.
  if (t.is_time_varying()) bad("--algorithm " + a + " needs a static topology");
  const topo::graph g = t.graph_at(0);
  decent::async_options base;
  base.rate = o.rate;
  base.seed = o.seed;
  base.step_time = !o.wall_clock;
  base.patience = std::chrono::microseconds(std::llround(o.patience_ms * 1e3));
  base.average_at_stop = false;  // the trainer evaluates the average itself; the workers keep their own models
  if (a == "a2cid2-low-rank") {
    using algo = decent::a2cid2_low_rank<topo::graph, Comm, Exec, float>;
    typename algo::options lr;
    static_cast<decent::async_options&>(lr) = base;
    lr.compression = {o.rank, o.iterations, !o.no_warm_start, o.seed};
    return std::make_unique<asynchronous<algo>>(delta, g, std::move(comm), params, lr, exec(), comm_exec());
  }
  if (a == "a2cid2") {
    using algo = decent::a2cid2<topo::graph, Comm, Exec, float>;
    return std::make_unique<asynchronous<algo>>(delta, g, std::move(comm), params, base, exec(), comm_exec());
  }
  using algo = decent::async_gossip<topo::graph, Comm, Exec, float>;
  return std::make_unique<asynchronous<algo>>(delta, g, std::move(comm), params, base, exec(), comm_exec());
}

/// The data every worker reads: the sets (host) and their copies in executor memory (the same on the host).
struct data {
  train::dataset train, test;
  std::vector<std::vector<std::uint32_t>> shards;
};

/// Executor-memory copies of the images and labels (device copies on a GPU; the host vectors on the host).
template <class Exec>
struct resident {
  const std::uint8_t *train_images, *train_labels, *test_images, *test_labels;
};

/// Where a worker's CSV rows and progress go (rank 0 only).
struct report {
  std::ostream* csv = nullptr;
  bool progress = false;
};

/// The CSV header; it goes out with the first row, so that a setup error leaves stdout empty.
constexpr const char* csv_header =
    "epoch,step,time,train_loss,test_accuracy,test_accuracy_workers,consensus,bytes_per_worker\n";

/// --slow: every worker's factor on --compute-time (1 for most), the same on every worker: a seeded choice of
/// round(F·n) workers (at least one), each slower by a factor drawn uniformly in [MIN, MAX].
std::vector<double> slow_factors(const options& o, int n) {
  std::vector<double> factor(static_cast<std::size_t>(n), 1.0);
  if (o.slow_fraction == 0) return factor;
  std::mt19937_64 draw(o.seed ^ 0x736c6f77u);  // its own stream: "slow"
  std::vector<std::size_t> order(factor.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[draw() % (i + 1)]);
  const auto k = std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(o.slow_fraction * n)));
  for (std::size_t j = 0; j < k; ++j)
    factor[order[j]] = o.slow_min + (o.slow_max - o.slow_min) * static_cast<double>(draw() >> 11) * 0x1p-53;
  return factor;
}

/// One worker's whole training run. Collective over the group and the communicator.
template <class Comm, class MakeExec, class Blas, class Views>
void train_worker(const options& o, Comm comm, group& g, const data& d,
                  const resident<decltype(std::declval<MakeExec>()())>& r, MakeExec make_exec, MakeExec comm_exec,
                  Blas blas, Views to_parameters, const report& out) {
  using Exec = decltype(make_exec());
  const Exec ex = make_exec();
  const int rank = g.rank(), n = g.size();
  std::vector<int> widths{static_cast<int>(d.train.pixels())};
  widths.insert(widths.end(), o.hidden.begin(), o.hidden.end());
  widths.push_back(train::classes);
  train::mlp<Exec, Blas> model(widths, o.seed, static_cast<std::size_t>(o.batch), make_exec(), blas);
  // decent takes the model's own tensors: no copies, no shapes written by hand.
  const decent::parameters<float> params = to_parameters(model.weights());
  const decent::parameters<float> delta = to_parameters(model.updates());
  std::unique_ptr<mixing_step> algo = make_algorithm(o, std::move(comm), params, delta, make_exec, comm_exec);

  train::sampler sampler(d.shards[static_cast<std::size_t>(rank)], o.seed, rank);
  const std::size_t steps_per_epoch =
      std::max<std::size_t>(1, d.train.size() / (static_cast<std::size_t>(n) * static_cast<std::size_t>(o.batch)));
  const std::size_t test = d.test.size(), p = model.numel();
  const auto started = std::chrono::steady_clock::now();
  double loss_sum = 0, compute_seconds = 0, mix_seconds = 0, compute_cpu = 0, mix_cpu = 0;
  std::size_t loss_count = 0, step = 0;
  std::vector<float> host(p);

  const auto thread_seconds = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  };

  // --spectrum: rank 0 writes the singular values of the difference of workers 0 and 1, per weight matrix.
  std::ofstream spectrum;
  if (!o.spectrum.empty() && rank == 0) {
    spectrum.open(o.spectrum);
    spectrum << "epoch,tensor,rows,cols,k,singular_value\n";
    spectrum.precision(9);
  }
  const auto write_spectrum = [&](double epoch) {  // collective: every worker adds its part of x_1 − x_0
    std::vector<double> difference(p, 0.0);
    if (rank <= 1 && n > 1)
      for (std::size_t k = 0; k < p; ++k) difference[k] = (rank == 1 ? 1.0 : -1.0) * static_cast<double>(host[k]);
    g.sum(difference);
    if (rank != 0) return;
    for (std::size_t t = 0; t < params.num_tensors(); ++t) {
      const auto& view = params[t];
      if (view.shape.rank() != 2) continue;
      const auto rows = static_cast<int>(view.shape[0]), cols = static_cast<int>(view.shape[1]);
      const std::size_t offset = params.layout().offset(t);
      // σ² are the eigenvalues of D·Dᵀ (or Dᵀ·D, the smaller one).
      const int m = std::min(rows, cols);
      decent::detail::dense_matrix gram(m, m);
      for (int i = 0; i < m; ++i)
        for (int j = 0; j <= i; ++j) {
          double s = 0;
          if (rows <= cols)
            for (int c = 0; c < cols; ++c)
              s += difference[offset + static_cast<std::size_t>(i * cols + c)] *
                   difference[offset + static_cast<std::size_t>(j * cols + c)];
          else
            for (int row = 0; row < rows; ++row)
              s += difference[offset + static_cast<std::size_t>(row * cols + i)] *
                   difference[offset + static_cast<std::size_t>(row * cols + j)];
          gram(i, j) = gram(j, i) = s;
        }
      std::vector<double> sigma = decent::detail::symmetric_eigenvalues(gram);
      for (double& v : sigma) v = std::sqrt(std::max(v, 0.0));
      std::sort(sigma.rbegin(), sigma.rend());
      for (std::size_t k = 0; k < sigma.size(); ++k)
        spectrum << epoch << ',' << t << ',' << rows << ',' << cols << ',' << k << ',' << sigma[k] << '\n';
    }
    spectrum << std::flush;
  };

  // An evaluation after `trained` seconds of training (its row's time); collective.
  const auto evaluate = [&](double epoch, double trained) {
    ex.synchronize();
    ex.download(host.data(), model.params(), p);
    if (!o.spectrum.empty()) write_spectrum(epoch);
    std::vector<double> mean(host.begin(), host.end());
    g.sum(mean);
    std::vector<float> average(p);
    for (std::size_t k = 0; k < p; ++k) average[k] = static_cast<float>(mean[k] / n);
    double deviation = 0;
    for (std::size_t k = 0; k < p; ++k) deviation += std::pow(static_cast<double>(host[k]) - mean[k] / n, 2);
    ex.upload(model.eval_params(), average.data(), p);
    // The averaged model on this worker's slice of the test set; each worker's own model on all of it.
    const std::size_t first = test * static_cast<std::size_t>(rank) / static_cast<std::size_t>(n);
    const std::size_t last = test * static_cast<std::size_t>(rank + 1) / static_cast<std::size_t>(n);
    const auto correct_average = model.correct(model.eval_params(), r.test_images, r.test_labels, first, last);
    const auto correct_own = model.correct(model.params(), r.test_images, r.test_labels, 0, test);
    std::vector<double> m{deviation, static_cast<double>(correct_average), static_cast<double>(correct_own), loss_sum,
                          static_cast<double>(loss_count), static_cast<double>(algo->bytes_sent()),
                          static_cast<double>(step)};
    g.sum(m);
    // The run's training time is the slowest worker's: a worker that finished first waited for it in the
    // evaluation, and its wait was left out of its own time.
    const std::vector<double> trained_by = g.each(trained);
    trained = *std::max_element(trained_by.begin(), trained_by.end());
    loss_sum = 0;
    loss_count = 0;
    if (out.csv) {
      if (epoch == 0) *out.csv << csv_header;
      *out.csv << epoch << ',' << std::llround(m[6] / n) << ',' << trained << ',';
      if (m[4] > 0) *out.csv << m[3] / m[4];
      *out.csv << ',' << m[1] / static_cast<double>(test) << ',' << m[2] / (static_cast<double>(test) * n) << ','
               << m[0] / n << ',' << m[5] / n << '\n'
               << std::flush;
    }
    if (!std::isfinite(m[0]) || (m[4] > 0 && !std::isfinite(m[3])))
      throw decent::error(decent::detail::concat("training diverged at epoch ", epoch,
                                                 " (non-finite loss or model): lower --lr"));
  };

  // Evaluation k after round(k · eval_every · steps per epoch) steps per worker, and at the end. With
  // --global-budget the points count the steps of all workers together (one shared counter, a ticket per step):
  // each worker steps while tickets are left, so faster workers take more steps, and the workers make exactly
  // n times the run's steps per worker.
  const std::size_t total_steps = static_cast<std::size_t>(o.epochs) * steps_per_epoch;
  const auto evaluation_point = [&](std::size_t k) {  // at least one step apart
    const double at = static_cast<double>(k) * o.eval_every * static_cast<double>(steps_per_epoch);
    if (at >= static_cast<double>(total_steps)) return total_steps;
    return std::max<std::size_t>(k, static_cast<std::size_t>(std::llround(at)));
  };
  std::atomic<std::int64_t>* const shared_steps = o.global_budget ? g.gradients() : nullptr;
  const auto steps_done = [&] {  // per worker (the mean over workers with the shared counter)
    return shared_steps ? static_cast<double>(shared_steps->load()) / n : static_cast<double>(step);
  };
  // --compute-time and --slow: a gradient step lasts at least `pace` (the rest is slept).
  const std::vector<double> factors = slow_factors(o, n);
  const std::chrono::duration<double> pace(1e-3 * o.compute_time_ms * factors[static_cast<std::size_t>(rank)]);
  std::size_t late = 0;  // steps whose compute took longer than `pace`
  if (out.progress && o.slow_fraction > 0) {
    std::string slow;
    for (int w = 0; w < n; ++w)
      if (factors[static_cast<std::size_t>(w)] > 1) {
        char item[48];
        std::snprintf(item, sizeof item, "%s%d (x%.2f)", slow.empty() ? "" : ", ", w, factors[static_cast<std::size_t>(w)]);
        slow += item;
      }
    std::fprintf(stderr, "decent-train: a step lasts %g ms; slower workers: %s\n", o.compute_time_ms,
                 slow.empty() ? "none (every factor is 1)" : slow.c_str());
  }

  evaluate(0, 0);
  algo->begin();
  double excluded = seconds_since(started);  // seconds not spent training: the set-up and the evaluations
  std::vector<std::uint32_t> batch;
  auto last_progress = std::chrono::steady_clock::now();
  for (std::size_t k = 1; total_steps > 0; ++k) {
    const std::size_t target = std::min(total_steps, evaluation_point(k));
    // A step takes a ticket from the shared counter (with --global-budget), so the workers make exactly
    // target · n steps together: the counter never falls back below target · n once it got there.
    const auto next_step = [&] {
      if (!shared_steps) return step < target;
      if (shared_steps->fetch_add(1) < static_cast<std::int64_t>(target) * n) return true;
      shared_steps->fetch_sub(1);
      return false;
    };
    while (next_step()) {
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = thread_seconds();
      sampler.next(static_cast<std::size_t>(o.batch), batch);
      loss_sum += model.train_step(r.train_images, r.train_labels, batch,
                                   static_cast<float>(o.lr),
                                   static_cast<float>(o.quasi_global_momentum ? 0.0 : o.momentum),
                                   static_cast<float>(o.weight_decay));
      ++loss_count;
      double inside = 0;
      const auto apply_own = [&] {
        model.apply_update();  // the user's optimizer step (synchronous algorithms)
        ex.synchronize();
      };
      ex.synchronize();
      if (pace.count() > 0) {
        const auto end = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(pace);
        if (std::chrono::steady_clock::now() > end) ++late;
        std::this_thread::sleep_until(end);
      }
      const double c1 = thread_seconds();
      inside = algo->step(apply_own);
      const double c2 = thread_seconds();
      ++step;
      compute_seconds += seconds_since(t0) - inside;
      mix_seconds += inside;
      compute_cpu += c1 - c0;  // the user's step of a synchronous algorithm counts as compute: its CPU time is small
      mix_cpu += c2 - c1;
      if (out.progress && seconds_since(last_progress) > 5) {
        last_progress = std::chrono::steady_clock::now();
        const double done = steps_done();
        std::fprintf(stderr, "decent-train: epoch %.2f/%d, step %.0f/%zu, loss %.4f, %.1f s\n",
                     done / static_cast<double>(steps_per_epoch), o.epochs, done, total_steps,
                     loss_sum / static_cast<double>(loss_count), seconds_since(started));
      }
    }
    const auto paused = std::chrono::steady_clock::now();
    const double trained = seconds_since(started) - excluded;  // this worker's (evaluate takes the slowest's)
    algo->pause();
    evaluate(static_cast<double>(target) / static_cast<double>(steps_per_epoch), trained);
    if (target == total_steps) break;
    algo->resume();
    excluded += seconds_since(paused);
  }
  // Per step and worker: wall time (includes waiting for the other workers, and on an oversubscribed machine
  // for the CPU) and thread CPU time (the work itself) of the model's compute and of decent's part.
  std::vector<double> t{compute_seconds, mix_seconds, compute_cpu, mix_cpu, static_cast<double>(step),
                        static_cast<double>(late)};
  g.sum(t);
  const std::vector<double> steps = g.each(static_cast<double>(step));  // they differ with --global-budget
  if (rank == 0 && t[5] > 0.01 * t[4])
    std::fprintf(stderr, "decent-train: warning: %.1f %% of the steps took longer than --compute-time (times their "
                 "factor): the pace is partly this machine's; raise --compute-time\n", 100 * t[5] / t[4]);
  if (out.progress && shared_steps) {
    std::string each;  // every worker's, for up to 32 workers
    for (std::size_t w = 0; w < steps.size() && steps.size() <= 32; ++w)
      each += (w ? ", " : ": ") + std::to_string(std::llround(steps[w]));
    std::fprintf(stderr, "decent-train: steps per worker %.0f-%.0f (--global-budget)%s\n",
                 *std::min_element(steps.begin(), steps.end()), *std::max_element(steps.begin(), steps.end()),
                 each.c_str());
  }
  if (out.progress && t[4] > 0)
    std::fprintf(stderr,
                 "decent-train: %s on %s, %d workers, per step and worker: compute %.3f ms wall / %.3f ms CPU, "
                 "decent %.3f ms wall / %.3f ms CPU (CPU ratio decent/compute %.3f); %.1f s in all\n",
                 o.algorithm.c_str(), o.algorithm == "allreduce" ? "all-reduce" : topology_spec(o, n).c_str(), n,
                 1e3 * t[0] / t[4], 1e3 * t[2] / t[4], 1e3 * t[1] / t[4], 1e3 * t[3] / t[4], t[3] / t[2],
                 seconds_since(started));
}

data load(const options& o, int workers, bool verbose) {
  data d;
  d.train = train::first(train::load_fashion_mnist(o.data, "train"), o.train_samples);
  d.test = train::first(train::load_fashion_mnist(o.data, "t10k"), o.test_samples);
  d.shards = train::split(d.train, workers, o.alpha, o.seed);
  if (verbose) {
    // How heterogeneous the split is: shard sizes and the classes that make up at least 1 % of a shard.
    std::size_t smallest = d.train.size(), largest = 0, classes_total = 0, fewest = train::classes, most = 0;
    for (const auto& shard : d.shards) {
      smallest = std::min(smallest, shard.size());
      largest = std::max(largest, shard.size());
      std::size_t present = 0;
      for (const int c : train::class_counts(d.train, shard)) present += 100 * static_cast<std::size_t>(c) >= shard.size();
      classes_total += present;
      fewest = std::min(fewest, present);
      most = std::max(most, present);
    }
    char kind[64] = "IID";
    if (o.alpha > 0) std::snprintf(kind, sizeof kind, "Dirichlet(%g)", o.alpha);
    std::fprintf(stderr, "decent-train: %s split of %zu images over %d workers: %zu-%zu images and %zu-%zu classes "
                 "(mean %.1f) per worker\n", kind, d.train.size(), workers, smallest, largest, fewest, most,
                 static_cast<double>(classes_total) / workers);
  }
  return d;
}

/// The model's tensors as decent parameters, in host memory.
decent::parameters<float> host_parameters(std::vector<train::tensor>& tensors) {
  return decent::parameters<float>(tensors);
}

void run_inprocess_host(const options& o, const data& d, std::ostream& csv) {
  train::openblas::single_threaded();
  const resident<decent::exec::host> r{d.train.images.data(), d.train.labels.data(), d.test.images.data(),
                                       d.test.labels.data()};
  threads_group::shared shared(o.workers);
  decent::sim::cluster cluster(o.workers);
  cluster.run([&](decent::comm::inprocess comm) {
    threads_group g(shared, comm.rank());
    const report out{comm.rank() == 0 ? &csv : nullptr, comm.rank() == 0 && !o.quiet};
    const auto host = [] { return decent::exec::host(1); };
    train_worker(o, std::move(comm), g, d, r, host, host, train::openblas{}, host_parameters, out);
  });
}

#if defined(__CUDACC__)
/// The model's tensors as decent parameters in device memory (checked by decent with cudaPointerGetAttributes).
decent::parameters<float> device_parameters(std::vector<train::tensor>& tensors) {
  std::vector<decent::device_tensor<train::tensor>> on_device;
  for (auto& t : tensors) on_device.push_back(decent::on_device(t));
  return decent::parameters<float>(on_device);
}

/// The data sets in device memory, once per process.
struct device_data {
  explicit device_data(const data& d)
      : train_images(d.train.images.size()), train_labels(d.train.labels.size()), test_images(d.test.images.size()),
        test_labels(d.test.labels.size()) {
    const decent::exec::cuda ex;
    ex.upload(train_images.data(), d.train.images.data(), d.train.images.size());
    ex.upload(train_labels.data(), d.train.labels.data(), d.train.labels.size());
    ex.upload(test_images.data(), d.test.images.data(), d.test.images.size());
    ex.upload(test_labels.data(), d.test.labels.data(), d.test.labels.size());
    ex.synchronize();
  }
  [[nodiscard]] resident<decent::exec::cuda> view() const {
    return {train_images.data(), train_labels.data(), test_images.data(), test_labels.data()};
  }
  decent::exec::device_buffer<std::uint8_t> train_images, train_labels, test_images, test_labels;
};

struct stream {
  stream() { DECENT_CUDA_TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)); }
  ~stream() { cudaStreamDestroy(s); }
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;
  cudaStream_t s = nullptr;
};

void run_inprocess_cuda(const options& o, const data& d, std::ostream& csv) {
  decent::expects(decent::detail::cuda_device_available(), "--backend cuda: no usable CUDA device on this machine "
                                                           "(use --backend host)");
  const device_data dev(d);
  const resident<decent::exec::cuda> r = dev.view();
  threads_group::shared shared(o.workers);
  decent::comm::inprocess_options copy;
  copy.copy = &decent::exec::device_copy;
  copy.device_memory = true;
  decent::sim::cluster cluster(o.workers, copy);
  cluster.run([&](decent::comm::inprocess comm) {
    threads_group g(shared, comm.rank());
    const report out{comm.rank() == 0 ? &csv : nullptr, comm.rank() == 0 && !o.quiet};
    const stream compute, communication;
    const cudaStream_t cs = compute.s, ms = communication.s;
    const auto on_compute = [cs] { return decent::exec::cuda(cs); };
    const auto on_comm = [ms] { return decent::exec::cuda(ms); };
    train_worker(o, std::move(comm), g, d, r, std::function<decent::exec::cuda()>(on_compute),
                 std::function<decent::exec::cuda()>(on_comm), train::cublas(compute.s), device_parameters, out);
  });
}
#endif

#if defined(DECENT_TRAIN_WITH_MPI)
void run_mpi(const options& o, std::ostream& csv) {
  const decent::comm::launch_info job = decent::comm::detect_launch();
  int size = 0, rank = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (o.workers_set && o.workers != size)
    bad("--workers " + std::to_string(o.workers) + " but mpirun started " + std::to_string(size) + " ranks (leave "
        "--workers out under --launch mpi)");
  const data d = load(o, size, rank == 0 && !o.quiet);
  mpi_group g;
  const report out{rank == 0 ? &csv : nullptr, rank == 0 && !o.quiet};
  if (o.backend == "host") {
    train::openblas::single_threaded();
    const resident<decent::exec::host> r{d.train.images.data(), d.train.labels.data(), d.test.images.data(),
                                         d.test.labels.data()};
    const auto host = [] { return decent::exec::host(1); };
    train_worker(o, decent::comm::mpi(MPI_COMM_WORLD), g, d, r, host, host, train::openblas{}, host_parameters, out);
    return;
  }
#if defined(__CUDACC__) && defined(DECENT_TRAIN_WITH_NCCL)
  DECENT_CUDA_TRY(cudaSetDevice(job.local_rank));
  const device_data dev(d);
  const stream compute, communication;
  const cudaStream_t cs = compute.s, ms = communication.s;
  const std::function<decent::exec::cuda()> on_compute = [cs] { return decent::exec::cuda(cs); };
  const std::function<decent::exec::cuda()> on_comm = [ms] { return decent::exec::cuda(ms); };
  train_worker(o, decent::comm::make_nccl(MPI_COMM_WORLD, compute.s), g, d, dev.view(), on_compute, on_comm,
               train::cublas(compute.s), device_parameters, out);
#else
  (void)job;
  bad("--backend cuda --launch mpi needs a decent-train built with CUDA and NCCL (-DDECENT_ENABLE_NCCL=ON)");
#endif
}
#endif

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args)
    if (a == "--help" || a == "-h") {
      std::fputs(usage, stdout);
      return 0;
    }
  options o;
  try {
    o = parse(args);
  } catch (const std::exception& e) {
    std::cerr << "decent-train: " << e.what() << '\n';
    return 2;
  }
  std::ofstream file;
  if (!o.csv.empty()) {
    file.open(o.csv);
    if (!file) {
      std::cerr << "decent-train: cannot open --csv file '" << o.csv << "' for writing\n";
      return 2;
    }
  }
  std::ostream& csv = o.csv.empty() ? std::cout : file;
  csv.precision(6);
  // Appending, not truncating: under mpirun every rank probes; rank 0 writes it.
  if (!o.spectrum.empty() && !std::ofstream(o.spectrum, std::ios::app)) {
    std::cerr << "decent-train: cannot open --spectrum file '" << o.spectrum << "' for writing\n";
    return 2;
  }
  if (o.launch == "mpi") {
#if defined(DECENT_TRAIN_WITH_MPI)
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    try {
      if (provided < MPI_THREAD_SERIALIZED) bad("the MPI library does not provide MPI_THREAD_SERIALIZED");
      run_mpi(o, csv);
    } catch (const std::exception& e) {
      std::cerr << "decent-train: rank " << rank << ": " << e.what() << '\n';
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Finalize();
    return 0;
#else
    std::cerr << "decent-train: --launch mpi needs a decent-train built with MPI (-DDECENT_ENABLE_MPI=ON)\n";
    return 2;
#endif
  }
  try {
    const data d = load(o, o.workers, !o.quiet);
    if (o.backend == "cuda") {
#if defined(__CUDACC__)
      run_inprocess_cuda(o, d, csv);
#else
      bad("--backend cuda needs a decent-train built with CUDA (-DDECENT_ENABLE_CUDA=ON)");
#endif
    } else {
      run_inprocess_host(o, d, csv);
    }
  } catch (const decent::invalid_argument& e) {
    std::cerr << "decent-train: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "decent-train: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
