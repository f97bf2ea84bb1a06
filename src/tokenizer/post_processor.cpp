#include "tokenizer/post_processor.h"

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "tokenizer/json_util.h"

namespace blockattn::tok {
namespace {

class NoOp : public PostProcessor {
 public:
  void process(std::vector<int32_t>&) const override {}
};

// The single-sequence template as a list of items: fixed ids, or the sequence itself (empty).
class Template : public PostProcessor {
 public:
  explicit Template(std::vector<std::vector<int32_t>> items) : items_(std::move(items)) {}

  void process(std::vector<int32_t>& ids) const override {
    std::vector<int32_t> out;
    for (const auto& item : items_) {
      if (item.empty()) out.insert(out.end(), ids.begin(), ids.end());
      else out.insert(out.end(), item.begin(), item.end());
    }
    ids.swap(out);
  }

  std::optional<int32_t> leading_special() const override {
    if (items_.empty() || items_[0].empty()) return std::nullopt;
    return items_[0][0];
  }

 private:
  std::vector<std::vector<int32_t>> items_;
};

class Sequence : public PostProcessor {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PostProcessor>> items) : items_(std::move(items)) {}
  void process(std::vector<int32_t>& ids) const override {
    for (const auto& p : items_) p->process(ids);
  }
  std::optional<int32_t> leading_special() const override {
    std::optional<int32_t> first;
    for (const auto& p : items_)
      if (auto id = p->leading_special()) first = id;  // the last one to prepend wins
    return first;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> items_;
};

std::vector<int32_t> special_ids(const nlohmann::json& special_tokens, const std::string& name) {
  const auto& entry = get_field(special_tokens, name.c_str());
  std::vector<int32_t> ids;
  for (const auto& id : get_array(entry, "ids")) {
    if (!id.is_number_integer()) throw FormatError("TemplateProcessing special token \"" + name + "\" has a bad id");
    ids.push_back(id.get<int32_t>());
  }
  if (ids.empty()) throw FormatError("TemplateProcessing special token \"" + name + "\" has no ids");
  return ids;
}

std::unique_ptr<PostProcessor> make_template(const nlohmann::json& spec) {
  const auto& special_tokens = get_field(spec, "special_tokens");
  std::vector<std::vector<int32_t>> items;
  for (const auto& item : get_array(spec, "single")) {
    if (item.contains("SpecialToken")) items.push_back(special_ids(special_tokens, get_string(item["SpecialToken"], "id")));
    else if (item.contains("Sequence")) items.emplace_back();
    else throw FormatError("TemplateProcessing item is neither SpecialToken nor Sequence");
  }
  return std::make_unique<Template>(std::move(items));
}

// "cls": ["<s>", 0] -> 0
int32_t pair_id(const nlohmann::json& spec, const char* key) {
  const auto& v = get_field(spec, key);
  if (!v.is_array() || v.size() != 2 || !v[1].is_number_integer())
    throw FormatError(std::string("field \"") + key + "\" is not [token, id]");
  return v[1].get<int32_t>();
}

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const nlohmann::json& spec) {
  if (spec.is_null()) return nullptr;
  std::string type = type_of(spec, "post_processor");
  if (type == "ByteLevel") return std::make_unique<NoOp>();
  if (type == "TemplateProcessing") return make_template(spec);
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    std::vector<std::vector<int32_t>> items{{pair_id(spec, "cls")}, {}, {pair_id(spec, "sep")}};
    return std::make_unique<Template>(std::move(items));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PostProcessor>> items;
    for (const auto& item : get_array(spec, "processors"))
      if (auto p = make_post_processor(item)) items.push_back(std::move(p));
    return std::make_unique<Sequence>(std::move(items));
  }
  throw UnsupportedError("unsupported post_processor \"" + type + "\"");
}

}  // namespace blockattn::tok
