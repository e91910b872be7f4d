#include "config/yaml_fields.h"

#include <algorithm>
#include <set>
#include <utility>

namespace tlsgate::config::yaml {

int lineOf(const YAML::Node& node) {
  const auto mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "an undefined value";
  }
}

std::string joined(std::span<const std::string_view> names) {
  std::string out;
  for (auto name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

Result<std::vector<Field>> fields(const std::string& path, const YAML::Node& node, int line,
                                  const std::string& label, const KeySet& keys) {
  auto fail = [&](int at, std::string message) { return Error{path, at, std::move(message)}; };
  const std::string where = label.empty() ? "" : " in " + label;
  if (!node.IsMap()) {
    return fail(line,
                (label.empty() ? "the file" : label) + " must be a mapping, got " + describe(node));
  }
  auto listed = [](std::span<const std::string_view> names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  std::vector<Field> out;
  std::set<std::string> seen;
  for (const auto& kv : node) {
    const int keyLine = lineOf(kv.first);
    if (!kv.first.IsScalar())
      return fail(keyLine, "keys" + where + " must be strings, got " + describe(kv.first));
    const std::string& name = kv.first.Scalar();
    if (listed(keys.unsupported, name))
      return fail(keyLine, "'" + name + "' " + std::string(keys.unsupportedWhy));
    if (!listed(keys.allowed, name)) {
      return fail(keyLine, "unknown key '" + name + "'" + where +
                               " (expected one of: " + joined(keys.allowed) + ")");
    }
    if (!seen.insert(name).second) return fail(keyLine, "duplicate key '" + name + "'" + where);
    out.push_back({name, keyLine, kv.second, label.empty() ? name : label + "." + name});
  }
  return out;
}

}  // namespace tlsgate::config::yaml
