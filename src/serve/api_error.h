// An error answered to an HTTP client as an OpenAI-style error object:
//   {"error": {"message": "...", "type": "invalid_request_error", "param": "top_p", "code": "..."}}
// Thrown by request parsing and the handlers; the server's boundary turns it into the response
// (status + body) and counts it in blockattn_errors_total{type}.
#pragma once

#include <stdexcept>
#include <string>

namespace blockattn::serve {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, const std::string& message, std::string param = "",
           std::string code = "")
      : std::runtime_error(message),
        status(status),
        type(std::move(type)),
        param(std::move(param)),
        code(std::move(code)) {}

  int status;         // HTTP status
  std::string type;   // invalid_request_error | authentication_error | not_found_error | ...
  std::string param;  // the request field at fault ("" = none)
  std::string
      code;  // machine-readable detail ("" = none): model_not_found, context_length_exceeded...
};

// 400 invalid_request_error naming `param`.
inline ApiError bad_request(const std::string& param, const std::string& message,
                            const std::string& code = "invalid_value") {
  return ApiError(400, "invalid_request_error", message, param, code);
}

}  // namespace blockattn::serve
