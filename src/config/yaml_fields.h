// yaml_fields: the small helpers every YAML configuration parser shares (tlsgate.yaml,
// sni.yaml), so that they all check keys the same way and report `file:line: message`.
//
// A mapping is read through fields(): every key must be a string, known, and written once;
// anything else is an Error naming the file and the key's line.
#pragma once

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace tlsgate::config::yaml {

// lineOf returns the 1-based line `node` starts on, or 0 when yaml-cpp has no position.
int lineOf(const YAML::Node& node);

// describe names a node for messages: "'text'", "a sequence", "a mapping", "nothing".
std::string describe(const YAML::Node& node);

// tooDeep is the message for yaml-cpp's nesting limit (it says only "bad file"):
// "invalid YAML: nested more than N levels deep".
std::string tooDeep(const YAML::DeepRecursion& e);

// joined returns "a, b, c".
std::string joined(std::span<const std::string_view> names);

// Field is one key of a mapping: its name, the line it is written on, its value, and the
// dotted name used in messages ("ssl.alpn").
struct Field {
  std::string name;
  int line = 0;
  YAML::Node value;
  std::string label;

  // valueLine is where a problem with the value is reported: the value's own line when it
  // has one, else the key's.
  int valueLine() const {
    const int l = value.IsNull() ? 0 : lineOf(value);
    return l != 0 ? l : line;
  }
};

// KeySet lists the keys a mapping may hold. `unsupported` keys belong to the file format but
// are refused with the message "'<key>' <unsupportedWhy>" instead of "unknown key".
struct KeySet {
  std::span<const std::string_view> allowed;
  std::span<const std::string_view> unsupported = {};
  std::string_view unsupportedWhy = {};
};

// fields returns the keys of the mapping `node`, in file order. `line` is where to report a
// node that is not a mapping; `label` prefixes the messages ("ssl", or "" for the top level).
// A string, or a non-empty list of non-empty strings (errors name `path` and the line).
Result<std::vector<std::string>> stringList(const std::string& path, const Field& f);

Result<std::vector<Field>> fields(const std::string& path, const YAML::Node& node, int line,
                                  const std::string& label, const KeySet& keys);

}  // namespace tlsgate::config::yaml
