#include "data/name_pools.h"

#include <algorithm>

#include "blockattn/error.h"

namespace blockattn::data {

namespace {

// Same categories on both sides (trees, rivers, birds, stones, places, plants, stars, animals)
// so the two splits look alike; no word appears on both (tests/base/synthetic_test.cpp checks).
const char* const kTrainNames[] = {
    "Alder", "Birch", "Cedar", "Hazel", "Maple", "Rowan", "Willow", "Aspen", "Beech", "Cypress",
    "Elm", "Fir", "Hawthorn", "Holly", "Juniper", "Larch", "Linden", "Myrtle", "Oak", "Poplar",
    "Spruce", "Sycamore", "Yew", "Acacia", "Magnolia",
    "Avon", "Brisk", "Clyde", "Derwent", "Eden", "Frome", "Garnet", "Humber", "Irwell", "Kennet",
    "Lune", "Medway", "Nene", "Ouse", "Parrett", "Ribble", "Severn", "Tamar", "Tees", "Usk",
    "Wear", "Wye", "Yare", "Exe", "Tyne",
    "Finch", "Heron", "Kestrel", "Lark", "Martin", "Osprey", "Plover", "Raven", "Robin", "Swift",
    "Thrush", "Wren", "Curlew", "Dunlin", "Egret", "Falcon", "Gannet", "Harrier", "Ibis", "Jay",
    "Kite", "Merlin", "Nightjar", "Oriole", "Petrel",
    "Agate", "Amber", "Basalt", "Cobalt", "Coral", "Flint", "Granite", "Jasper", "Marble", "Onyx",
    "Opal", "Pearl", "Quartz", "Ruby", "Slate", "Topaz", "Zircon", "Beryl", "Jade", "Mica",
    "Pumice", "Shale", "Talc", "Gypsum", "Cinnabar",
    "Ashby", "Bramley", "Carrick", "Dunmore", "Elmsworth", "Fairford", "Glenholm", "Harlow", "Ingleby",
    "Kelso", "Langley", "Marlow", "Norwood", "Oakham", "Penrith", "Radley", "Selby", "Thornbury",
    "Upton", "Ventnor", "Whitby", "Yarmouth", "Alnwick", "Barton", "Calder",
    "Aster", "Basil", "Clover", "Daisy", "Fennel", "Heather", "Iris", "Jasmine", "Lavender", "Lily",
    "Mallow", "Nettle", "Orchid", "Peony", "Poppy", "Primrose", "Sage", "Sorrel", "Tansy", "Thyme",
    "Violet", "Yarrow", "Bracken", "Sedge", "Teasel",
    "Azure", "Crimson", "Indigo", "Saffron", "Scarlet", "Umber", "Sienna", "Ochre", "Vega", "Rigel",
    "Sirius", "Altair", "Deneb", "Mira", "Castor", "Pollux", "Antares", "Capella", "Lyra", "Orion",
    "Draco", "Cygnus", "Hydra", "Carina", "Vela",
    "Badger", "Beaver", "Otter", "Fox", "Hare", "Stoat", "Marten", "Weasel", "Lynx", "Bison",
    "Elk", "Moose", "Ferret", "Mole", "Vole", "Shrew", "Bear", "Wolf", "Seal", "Walrus",
    "Puffin", "Gull", "Tern", "Crane", "Stork",
};

const char* const kEvalNames[] = {
    "Ash", "Baobab", "Catalpa", "Dogwood", "Ebony", "Ginkgo", "Hemlock", "Hickory", "Ironwood",
    "Jacaranda", "Kapok", "Laurel", "Mahogany", "Mulberry", "Olive", "Pine", "Redwood", "Sassafras",
    "Tamarind", "Teak", "Walnut", "Chestnut", "Hornbeam", "Buckeye", "Cottonwood",
    "Afton", "Bure", "Cam", "Dee", "Esk", "Fal", "Glaven", "Hodder", "Irk", "Kent",
    "Leven", "Nidd", "Ock", "Plym", "Rother", "Stour", "Tavy", "Teme", "Ure", "Wharfe",
    "Yeo", "Axe", "Lugg", "Taw", "Dart",
    "Avocet", "Bittern", "Bunting", "Chiffchaff", "Dipper", "Dotterel", "Fieldfare", "Goldcrest", "Grebe",
    "Hobby", "Hoopoe", "Jackdaw", "Kingfisher", "Linnet", "Magpie", "Nuthatch", "Owl", "Pipit", "Quail",
    "Redstart", "Siskin", "Snipe", "Starling", "Twite", "Warbler",
    "Alabaster", "Bauxite", "Calcite", "Chalk", "Diorite", "Emerald", "Feldspar", "Galena", "Gneiss",
    "Hematite", "Jet", "Kyanite", "Lapis", "Malachite", "Obsidian", "Peridot", "Pyrite", "Sapphire",
    "Schist", "Spinel", "Tourmaline", "Turquoise", "Zinc", "Silver", "Copper",
    "Abbotsford", "Blakeney", "Cromer", "Dunster", "Evesham", "Falmouth", "Grantham", "Hexham", "Ilkley",
    "Keswick", "Ludlow", "Malvern", "Newark", "Otley", "Pershore", "Ripon", "Sherborne", "Tenby",
    "Ullswater", "Wells", "Yeovil", "Ambleside", "Bakewell", "Clitheroe", "Dorchester",
    "Anemone", "Bluebell", "Camellia", "Dahlia", "Foxglove", "Gorse", "Honesty", "Hyacinth", "Lupin",
    "Marigold", "Mint", "Oxlip", "Pansy", "Rose", "Rosemary", "Snowdrop", "Tulip", "Verbena", "Wisteria",
    "Zinnia", "Borage", "Chicory", "Cowslip", "Dill", "Tarragon",
    "Aldebaran", "Arcturus", "Bellatrix", "Betelgeuse", "Canopus", "Electra", "Fomalhaut", "Hadar",
    "Izar", "Kochab", "Markab", "Mizar", "Nunki", "Polaris", "Procyon", "Regulus", "Sabik", "Spica",
    "Thuban", "Wezen", "Alcor", "Maia", "Merope", "Atlas", "Celaeno",
    "Antelope", "Buffalo", "Camel", "Dormouse", "Ermine", "Gazelle", "Hedgehog", "Ibex", "Jackal",
    "Koala", "Lemur", "Mink", "Ocelot", "Panther", "Rabbit", "Sable", "Tapir", "Urchin", "Viper",
    "Wombat", "Yak", "Zebra", "Lizard", "Toad", "Newt",
};

const char* const kTrainNouns[] = {
    "archive", "annex",  "vault",   "depot",    "library", "tower",    "mill",     "lodge",
    "chapel",  "cellar", "hangar",  "workshop", "warehouse", "gallery", "pavilion", "barracks",
    "foundry", "armoury", "bakery", "stable",   "kiln",    "forge",    "museum",   "station",
    "school",  "clinic", "garage",  "theatre",  "pantry",  "shed",
};

const char* const kEvalNouns[] = {
    "observatory", "granary",    "boathouse", "brewery",    "cottage",  "dispensary", "embassy",
    "gatehouse",   "hospice",    "infirmary", "laboratory", "lighthouse", "mansion",  "monastery",
    "pumphouse",   "refinery",   "sawmill",   "schoolhouse", "studio",  "tannery",    "treasury",
    "vicarage",    "watermill",  "windmill",  "aviary",     "conservatory", "chancery", "dovecote",
    "smithy",      "priory",
};

template <size_t N>
std::vector<std::string> to_vector(const char* const (&words)[N]) {
  return std::vector<std::string>(std::begin(words), std::end(words));
}

bool in_any_pool(std::string_view word) {
  for (Split s : {Split::kTrain, Split::kEval}) {
    const auto& names = name_pool(s).names;
    if (std::find(names.begin(), names.end(), word) != names.end()) return true;
  }
  return false;
}

}  // namespace

std::string_view split_name(Split split) { return split == Split::kTrain ? "train" : "eval"; }

Split parse_split(std::string_view name) {
  if (name == "train") return Split::kTrain;
  if (name == "eval") return Split::kEval;
  throw InputError("unknown split '" + std::string(name) + "' (want train or eval)");
}

const NamePool& name_pool(Split split) {
  static const NamePool train{to_vector(kTrainNames), to_vector(kTrainNouns)};
  static const NamePool eval{to_vector(kEvalNames), to_vector(kEvalNouns)};
  return split == Split::kTrain ? train : eval;
}

const std::vector<std::string>& fact_attributes() {
  static const std::vector<std::string> attributes = {
      "access code",      "serial number", "door code",     "ledger number",
      "catalogue number", "permit number", "locker code",   "inventory number",
  };
  return attributes;
}

// One value in five is held out for evaluation; the salt keeps the pattern unrelated to digits.
Split number_split(uint32_t value) { return mix64(value ^ 0x5eedf00dULL) % 5 == 0 ? Split::kEval : Split::kTrain; }

uint32_t draw_value(Split split, SynthRng& rng) {
  for (;;) {
    auto v = static_cast<uint32_t>(rng.range(10000, 99999));
    if (number_split(v) == split) return v;
  }
}

std::string lookalike_name(std::string_view name, uint64_t pick) {
  static const std::string kVowels = "aeiou";
  std::vector<std::string> candidates;
  for (size_t i = 0; i < name.size(); ++i) {
    const bool upper = name[i] >= 'A' && name[i] <= 'Z';
    const char lower = upper ? static_cast<char>(name[i] - 'A' + 'a') : name[i];
    if (kVowels.find(lower) == std::string::npos) continue;
    // A vowel swapped for another keeps the word pronounceable and one letter away.
    for (char v : kVowels) {
      if (v == lower) continue;
      std::string c(name);
      c[i] = upper ? static_cast<char>(v - 'a' + 'A') : v;
      if (!in_any_pool(c)) candidates.push_back(std::move(c));
    }
  }
  if (candidates.empty()) return std::string(name) + "e";  // no vowel at all: never a pool word
  return candidates[pick % candidates.size()];
}

}  // namespace blockattn::data
