// Must not compile, with one clear message: the element type where the executor goes.
#include <decent/decent.hpp>

int main() {
  std::vector<float> x(4);
  decent::comm::inprocess_world world(1);
  decent::gossip<decent::topology::graph, decent::comm::inprocess, float> g(
      decent::topology::ring(1), decent::comm::inprocess(world, 0), decent::parameters<float>{x});
  g.mix();
}
