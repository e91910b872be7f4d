// PrometheusText: writes the Prometheus text exposition format 0.0.4 — a HELP and a TYPE
// line per metric family, then its samples with escaped label values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tlsgate::admin {

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

class PrometheusText {
 public:
  // Starts a family: `type` is counter, gauge or histogram.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const Labels& labels, uint64_t value);
  void sample(std::string_view name, const Labels& labels, double value);
  const std::string& text() const { return out_; }

  // A label value with \\, \" and \n escaped.
  static std::string escapeLabel(std::string_view value);
  // Shortest text that reads back as the same double ("+Inf" for infinity).
  static std::string formatDouble(double value);

 private:
  void head(std::string_view name, const Labels& labels);
  std::string out_;
};

}  // namespace tlsgate::admin
