// Shared by the host-side drivers: fill v with whitespace-separated numbers from stdin.
#pragma once
#include <cstdio>
#include <vector>

template <typename T>
static bool read(std::vector<T>& v) {
    for (auto& x : v) { double d; if (scanf("%lf", &d) != 1) return false; x = (T)d; }
    return true;
}
