// Perl POD -> text. =head1..=head4 become sections; formatting codes (B<> I<> C<> L<> E<> ...)
// are resolved to their text; verbatim (indented) paragraphs keep their layout.
#pragma once

#include <string_view>

#include "data/document.h"

namespace blockattn::data {

// `src` must be clean UTF-8. Title: the first paragraph of NAME ("perlsyn - Perl syntax"),
// else the first heading. Code outside POD (a .pm file) is skipped.
Document extract_pod(std::string_view src);

// The text of a POD paragraph with formatting codes resolved.
std::string pod_inline(std::string_view s);

}  // namespace blockattn::data
