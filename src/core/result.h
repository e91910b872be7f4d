// Result<T>: the value of a fallible operation, or the precise reason it failed.
//
// Configuration parsing and construction return Result (STYLE rule 6); the data path
// returns enums instead. An Error carries the file and line it is about when there is one,
// so every configuration problem prints as `file:line: message`.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace tlsgate {

struct Error {
  Error() = default;
  Error(std::string f, int l, std::string m) : file(std::move(f)), line(l), message(std::move(m)) {}

  std::string file;  // empty when the error is not about a file
  int line = 0;      // 1-based; 0 when the error is about the file as a whole
  std::string message;
  std::string hint;  // what was probably meant ("did you mean 'alpn'?"); may be empty

  // "file:line: message (hint)", "file: message" or "message".
  std::string toString() const {
    std::string out = file.empty() ? message
                      : line == 0  ? file + ": " + message
                                   : file + ":" + std::to_string(line) + ": " + message;
    return hint.empty() ? out : out + " (" + hint + ")";
  }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result of an operation that yields nothing but can fail.
struct Ok {};
using Status = Result<Ok>;

}  // namespace tlsgate
