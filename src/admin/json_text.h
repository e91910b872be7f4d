// Pieces of the admin endpoint's JSON answers shared by its views.
#pragma once

#include <ctime>
#include <string>
#include <vector>

namespace tlsgate::admin {

// "2026-01-31T12:00:00Z"
std::string isoUtc(std::time_t t);
// ["a", "b"]
void appendStrings(std::string& out, const std::vector<std::string>& items);

}  // namespace tlsgate::admin
