// The keys of tlsgate.yaml and sni.yaml, each declared once: its place, the type of its
// value, its default, the values it allows and one line of help. The parsers take the keys a
// mapping may hold from here (unknown keys are errors, with the nearest known key as a
// hint), enumerations take their allowed values from here, and the key reference in the
// README and the man page is generated from here (tlsgate --config-keys; a test checks both
// documents against it).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/yaml_fields.h"

namespace tlsgate::config::schema {

struct Key {
  std::string_view file;   // "tlsgate.yaml" or "sni.yaml"
  std::string_view scope;  // the mapping it is in: "" (the top), "ssl.client", "listeners[]"...
  std::string_view name;
  std::string_view type;                  // as the reference says: "seconds", "file", ...
  std::string_view defaultValue;          // "" when there is none (optional or required)
  std::vector<std::string_view> allowed;  // the values of an enumeration, in order
  std::string_view help;

  // "ssl.client.verify_depth", "listeners[].listen".
  std::string path() const;
};

// Every key, in reference order.
const std::vector<Key>& keys();

// The keys a mapping of `file` at `scope` may hold, for yaml::fields.
yaml::KeySet keySet(std::string_view file, std::string_view scope);

// The key `name` at `scope` of `file` (nullptr if unknown: a bug, the callers know the keys).
const Key* find(std::string_view file, std::string_view scope, std::string_view name);

// The position of `value` among `key`'s allowed values, or an error "<label> must be A, B or
// C, got 'v'" at the value's line.
Result<size_t> oneOf(const std::string& path, const yaml::Field& f, std::string_view file,
                     std::string_view scope, const std::string& label);

// The key reference as a Markdown table per file (what the README shows between its
// "config-keys" markers), and as scdoc lines for the man page.
std::string markdownReference();
std::string scdocReference();

}  // namespace tlsgate::config::schema
