// `blockattn segment --format html`: a page for a person to judge a segmentation.
#pragma once

#include <string>

#include "segment/segment.h"

namespace blockattn::cli {

// Blocks on alternating background colours with a header (tokens, cut type, score); every
// candidate cut is a small marker whose shade and tooltip give its score. Self-contained HTML.
std::string segmentation_html(const std::string& text, const segment::Segmentation& seg,
                              const std::string& title);

}  // namespace blockattn::cli
