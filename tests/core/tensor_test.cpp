#include <doctest/doctest.h>

#include <vector>

#include <decent/core/error.hpp>
#include <decent/core/tensor.hpp>

using decent::parameter_layout;
using decent::parameters;
using decent::shape;

TEST_CASE("shape: numel, matrix view and vector-likeness") {
  const shape conv{16, 3, 3, 3};
  CHECK(conv.rank() == 4);
  CHECK(conv.numel() == 432);
  CHECK(conv.rows() == 16);
  CHECK(conv.cols() == 27);
  CHECK_FALSE(conv.is_vector_like());
  CHECK(shape{10}.is_vector_like());
  CHECK(shape{}.numel() == 1);
  CHECK(shape{}.is_vector_like());
  CHECK(conv.to_string() == "[16x3x3x3]");
  CHECK(shape{2, 3} == shape{2, 3});
  CHECK_FALSE(shape{2, 3} == shape{3, 2});
  CHECK_THROWS_AS((shape{1, 2, 3, 4, 5, 6, 7}), decent::invalid_argument);
  CHECK_THROWS_AS((shape{4, -1}), decent::invalid_argument);
}

TEST_CASE("parameter layout: offsets, total and fingerprint") {
  const parameter_layout layout{{256, 784}, {256}, {10, 256}, {10}};
  CHECK(layout.num_tensors() == 4);
  CHECK(layout.offset(0) == 0);
  CHECK(layout.offset(1) == 256 * 784);
  CHECK(layout.offset(2) == 256 * 784 + 256);
  CHECK(layout.offset(3) == 256 * 784 + 256 + 2560);
  CHECK(layout.numel() == 256 * 784 + 256 + 2560 + 10);
  CHECK(layout.fingerprint() == parameter_layout({{256, 784}, {256}, {10, 256}, {10}}).fingerprint());
  CHECK(layout.fingerprint() != parameter_layout({{784, 256}, {256}, {10, 256}, {10}}).fingerprint());
  CHECK(layout.fingerprint() != parameter_layout({{256, 784}, {256}, {10, 256}}).fingerprint());
}

TEST_CASE("parameters from separate tensors are views, not copies") {
  std::vector<float> w(6), b(3);
  const parameters<float> p{{w.data(), {3, 2}}, {b.data(), {3}}};
  CHECK(p.num_tensors() == 2);
  CHECK(p[0].data == w.data());
  CHECK(p[1].data == b.data());
  CHECK(p.numel() == 9);
  CHECK_FALSE(p.is_packed());
  CHECK_FALSE(p.flat().has_value());
  const auto segments = p.segments();
  REQUIRE(segments.size() == 2);
  CHECK(segments[1].offset == 6);
  CHECK(segments[1].view.data == b.data());
}

TEST_CASE("packed parameters expose one flat view and one segment") {
  std::vector<double> buffer(9);
  const parameter_layout layout{{3, 2}, {3}};
  const auto p = parameters<double>::packed(buffer.data(), layout);
  CHECK(p.is_packed());
  REQUIRE(p.flat().has_value());
  CHECK(p.flat()->data == buffer.data());
  CHECK(p.flat()->numel() == 9);
  CHECK(p[1].data == buffer.data() + 6);
  CHECK(p.segments().size() == 1);
  // Separate tensors that are adjacent in layout order are recognised as packed too.
  const parameters<double> adjacent{{buffer.data(), {3, 2}}, {buffer.data() + 6, {3}}};
  CHECK(adjacent.is_packed());
}

TEST_CASE("null data for a non-empty tensor is rejected") {
  CHECK_THROWS_AS((parameters<float>{{nullptr, {4}}}), decent::invalid_argument);
  CHECK_THROWS_AS(parameters<float>::packed(nullptr, parameter_layout{{4}}), decent::invalid_argument);
}
