// Serve: how broker/ reads a request. It is decoded once into its struct (schemas/generated/messages.h)
// before anything looks at it; a request that does not decode is answered ERROR MALFORMED naming the
// field (a required field missing, a field of another type), and its handler never runs.
#pragma once

#include <utility>

#include "schemas/cpp/codec.h"
#include "schemas/generated/messages.h"

namespace titan::broker {

// `answer(T)` for `req` decoded as T (HelloMsg for a HELLO ...), or the MALFORMED error reply.
template <class T, class Answer>
wire::Message Serve(const wire::Message& req, Answer&& answer) {
  Result<T> typed = T::From(req);
  if (!typed.ok()) return wire::MakeError(typed.status());
  return std::forward<Answer>(answer)(std::move(typed).value());
}

}  // namespace titan::broker
