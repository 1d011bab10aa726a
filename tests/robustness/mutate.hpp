// Seeded mutations of masim input documents, for the robustness tests.
//
// A Mutator holds one valid input document (scenario, hardware, model, Hugging
// Face config or topology) and produces mutated copies of its text: a key
// deleted or renamed to a near-typo, a value of another JSON type, numbers set to
// 0 / negative / huge / 1e308 / integer extremes / NaN-like strings, unit strings
// with a unit of another dimension, arrays emptied or extended, GPU ranks
// duplicated, file references left dangling, two degrees set huge at once, an
// optional key added with an odd value, the text truncated, or several at once.
//
// Each mutation says whether it certainly makes the document invalid
// (Expect::kInvalid: masim must report at least one problem) or may leave it
// valid (Expect::kUnknown). The oracle follows docs/INPUTS.md: which keys are
// required, that every key of a masim file is checked (keys starting with "_"
// or "$comment" are documentation), and that a Hugging Face config ignores the
// keys masim does not read.
//
//   Mutator m(DocKind::kScenario, text);
//   Rng rng(1);
//   Mutation x = m.random(rng);        // x.text, x.what, x.expect
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/common/rng.hpp"

namespace masim::robustness {

enum class DocKind { kScenario, kHardware, kModel, kHfConfig, kTopology };
const char* to_string(DocKind k);

enum class Expect { kInvalid, kUnknown };

enum class Op {
  kDeleteKey,      // remove one object member
  kRenameKey,      // a member's key becomes a near-typo of itself
  kChangeType,     // a value becomes one of another JSON type
  kNumber,         // a number (or a quantity's number) becomes 0, negative, huge, 1e308, "NaN", ...
  kUnit,           // a quantity's unit becomes one of another dimension, a typo, or none
  kEmptyArray,     // an array becomes []
  kExtendArray,    // an array gets a copy of one of its elements appended
  kDuplicateRank,  // a GPU rank list repeats a rank (or an expert GPU joins the attention group)
  kDanglingPath,   // a file reference names a file that does not exist
  kHugePair,       // two integers of one object both become 2^20 (overflow hunting)
  kAddKey,         // an optional key the object does not have gets an odd value (2^20, 0, -1, "x", ...)
  kTruncate,       // the text is cut short
  kCompound,       // two or three of the above, one after another
};
const char* to_string(Op op);
inline constexpr int kNumOps = 13;  // kTruncate and kCompound stay last

struct Mutation {
  Op op = Op::kDeleteKey;
  std::string what;          // e.g. "rename /workload/batch -> /workload/bacth"
  std::string text;          // the mutated document text
  Expect expect = Expect::kUnknown;
  bool applied = false;      // false: the op found nothing to mutate in this document
  std::string top_key;       // first pointer token the mutation touched ("" for the root or truncation)
};

class Mutator {
 public:
  // `text` must be a valid JSON object of kind `kind`.
  Mutator(DocKind kind, std::string text);

  // A random op (each equally likely) applied at a random site.
  Mutation random(Rng& rng) const;
  // `op` at a random site; applied == false when the document has no site for it.
  Mutation apply(Op op, Rng& rng) const;

  DocKind kind() const { return kind_; }
  const std::string& text() const { return text_; }

 private:
  struct Site {
    nlohmann::json::json_pointer ptr;
    std::vector<std::string> tokens;  // reference tokens (array indices as decimal strings)
    bool in_object = false;           // the parent is an object (else an array)
    bool doc_key = false;             // under a documentation key ("_...", "$comment...")
  };
  void collect(const nlohmann::json& v, const nlohmann::json::json_pointer& ptr, std::vector<std::string>& tokens,
               bool in_object, bool doc_key);
  Mutation apply_to(Op op, Rng& rng, const nlohmann::json& doc) const;

  // Oracle helpers (docs/INPUTS.md).
  bool checked(const Site& s) const;    // masim reads and type-checks this value
  bool required(const Site& s, const nlohmann::json& doc) const;  // deleting it is an error
  std::string hf_type() const;

  DocKind kind_;
  std::string text_;
  nlohmann::json doc_;
  std::vector<Site> sites_;
};

// Every key name that appears in any input format (docs/INPUTS.md); a typo
// mutation never produces one of these.
const std::vector<std::string>& known_keys();

}  // namespace masim::robustness
