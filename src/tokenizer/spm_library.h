// Finds and opens libblockattn_spm (the SentencePiece shim, spm_shim/spm_api.h) on first use.
#pragma once

#include "tokenizer/spm_shim/spm_api.h"

namespace blockattn::tok {

// The shim's function table. Search order: $BLOCKATTN_SPM_LIBRARY, libblockattn_spm.so beside
// the running executable, then the build tree's copy. UnsupportedError (naming the places
// tried) when none loads, e.g. in a build without SentencePiece.
const BaSpmApi& spm_api();

}  // namespace blockattn::tok
