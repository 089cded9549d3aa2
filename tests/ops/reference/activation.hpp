// CPU double-precision reference for SiLU.
#pragma once
#include <vector>

namespace tessera::reference {

double silu(double x);
// d silu / dx = s + x s (1 - s), s = sigmoid(x)
double silu_derivative(double x);

std::vector<double> silu_forward(const std::vector<double>& x);
std::vector<double> silu_backward(const std::vector<double>& x, const std::vector<double>& dy);

}  // namespace tessera::reference
