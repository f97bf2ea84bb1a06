// SentencePiece tokenizer.model through libsentencepiece. Only built when
// BLOCKATTN_HAVE_SENTENCEPIECE is defined; the header carries no SentencePiece types.
#pragma once

#include <memory>
#include <string>

#include "blockattn/tokenizer.h"

namespace blockattn::tok {

// Throws IoError (unreadable file) or FormatError naming `path`.
std::unique_ptr<Tokenizer> make_sentencepiece_tokenizer(const std::string& path);

}  // namespace blockattn::tok
