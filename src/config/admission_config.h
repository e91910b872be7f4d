// The admission section of tlsgate.yaml (README "Admission control"), parsed into the plain
// settings the workers read (proxy/admission_rules.h). Every error names tlsgate.yaml, the
// line and the problem.
#pragma once

#include <string>
#include <vector>

#include "config/yaml_fields.h"
#include "core/result.h"
#include "net/address.h"
#include "proxy/admission_rules.h"

namespace tlsgate::config {

Result<proxy::AdmissionSettings> parseAdmission(const yaml::Field& f, const std::string& path);

// A rule's `listener` must name a configured listener (checked once both are read).
Status checkAdmissionListeners(const proxy::AdmissionSettings& admission,
                               const std::vector<net::Address>& listeners, const std::string& path);

}  // namespace tlsgate::config
