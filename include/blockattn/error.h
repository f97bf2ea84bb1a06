// Error types thrown by libblockattn.
//
// Library code throws one of these; the CLI and the server catch them at the boundary and print
// `error: <what()>` on one line with a non-zero exit. Messages name the file, tensor or option
// at fault so the user can act on them without a debugger.
#pragma once

#include <stdexcept>
#include <string>

namespace blockattn {

// Base class of every error the library throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The caller's input is unusable: empty block, invalid UTF-8, prompt longer than the context.
class InputError : public Error {
 public:
  using Error::Error;
};

// The prompt (blocks + query) does not fit the model's context window.
class ContextLengthError : public InputError {
 public:
  using InputError::InputError;
};

// A file exists but its content is malformed: safetensors, config.json, tokenizer, cache entry.
class FormatError : public Error {
 public:
  using Error::Error;
};

// The file system refused: missing file, unwritable directory, disk full.
class IoError : public Error {
 public:
  using Error::Error;
};

// A well-formed file or option asks for something blockattn does not support
// (unknown architecture, tokenizer type, dtype).
class UnsupportedError : public Error {
 public:
  using Error::Error;
};

}  // namespace blockattn
