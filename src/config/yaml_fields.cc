#include "config/yaml_fields.h"

#include <algorithm>
#include <set>
#include <utility>

#include "core/text.h"

namespace tlsgate::config::yaml {

int lineOf(const YAML::Node& node) {
  const auto mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return inQuotes(node.Scalar());
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

std::string tooDeep(const YAML::DeepRecursion& e) {
  return "invalid YAML: nested more than " + std::to_string(e.depth()) + " levels deep";
}

std::string joined(std::span<const std::string_view> names) {
  std::string out;
  for (auto name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Edits (insertions, deletions, substitutions) from a to b, ignoring case.
size_t distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min(
          {row[j] + 1, row[j - 1] + 1, diagonal + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The known key `name` is most probably a typo of, if one is close enough.
std::string nearest(const std::string& name, std::span<const std::string_view> known) {
  std::string_view best;
  size_t bestDistance = std::max<size_t>(2, name.size() / 3) + 1;
  for (std::string_view k : known) {
    size_t d = distance(name, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best.empty() ? "" : "did you mean '" + std::string(best) + "'?";
}

}  // namespace

Result<std::vector<std::string>> stringList(const std::string& path, const Field& f) {
  if (f.value.IsScalar() && !f.value.Scalar().empty()) return std::vector{f.value.Scalar()};
  if (!f.value.IsSequence() || f.value.size() == 0)
    return Error{
        path, f.valueLine(),
        f.label + " must be a string or a non-empty list of strings, got " + describe(f.value)};
  std::vector<std::string> out;
  for (const auto& item : f.value) {
    if (!item.IsScalar() || item.Scalar().empty())
      return Error{path, lineOf(item) ? lineOf(item) : f.line,
                   f.label + " entries must be non-empty strings, got " + describe(item)};
    out.push_back(item.Scalar());
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
      Error e = fail(keyLine, "unknown key '" + name + "'" + where +
                                  " (expected one of: " + joined(keys.allowed) + ")");
      e.hint = nearest(name, keys.allowed);
      return e;
    }
    if (!seen.insert(name).second) return fail(keyLine, "duplicate key '" + name + "'" + where);
    out.push_back({name, keyLine, kv.second, label.empty() ? name : label + "." + name});
  }
  return out;
}

}  // namespace tlsgate::config::yaml
