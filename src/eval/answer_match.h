// Answer-span scores of extractive QA (SQuAD style): exact match and token F1 after
// normalisation (lowercase, punctuation and the articles a/an/the dropped, whitespace collapsed).
// Torch-free; eval/suite.cpp scores the held-out-phrasing task (qa-varied) with them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace blockattn::eval {

// "The  Alder-Club!" -> {"alder", "club"}: lowercased ASCII, punctuation as spaces, a/an/the
// removed.
std::vector<std::string> answer_tokens(std::string_view text);

// Normalised token sequences equal (two empty answers match).
bool answer_exact_match(std::string_view prediction, std::string_view reference);

// Harmonic mean of token precision and recall, tokens counted with multiplicity; 1 when both
// are empty, 0 when only one is.
double answer_token_f1(std::string_view prediction, std::string_view reference);

}  // namespace blockattn::eval
