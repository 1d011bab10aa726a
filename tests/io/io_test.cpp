#include <doctest/doctest.h>

#include "sim/io/json_reader.hpp"
#include "tests/test_time.hpp"

using namespace masim::io;
using nlohmann::json;

TEST_CASE("quantities parse with decimal, binary and bit units") {
  CHECK(parse_quantity("600 GB/s", Dimension::kBandwidth).value == doctest::Approx(6e11));
  CHECK(parse_quantity("200 Gb/s", Dimension::kBandwidth).value == doctest::Approx(2.5e10));
  CHECK(parse_quantity("80 GiB", Dimension::kBytes).value == doctest::Approx(85899345920.0));
  CHECK(parse_quantity("1.5 us", Dimension::kTime).value == doctest::Approx(1.5e-6));
  CHECK(parse_quantity("312 TFLOP/s", Dimension::kFlopRate).value == doctest::Approx(3.12e14));
  CHECK(parse_quantity("400 W", Dimension::kPower).value == doctest::Approx(400.0));
  const auto bad = parse_quantity("600 GB", Dimension::kBandwidth);
  CHECK_FALSE(bad.ok);
  CHECK(bad.error == "unknown unit \"GB\"; expected a bandwidth such as \"600 GB/s\"");
  CHECK_FALSE(parse_quantity("600", Dimension::kBandwidth).ok);
  CHECK_FALSE(parse_quantity("fast", Dimension::kBandwidth).ok);
}

TEST_CASE("unknown keys get the nearest valid key; all problems are collected") {
  const json doc = json::parse(R"({"nvlink_bandwdith": "600 GB/s", "tp": 0, "name": 3})");
  Diagnostics d;
  JsonReader r(doc, "s.json", "", d);
  r.quantity("nvlink_bandwidth", Dimension::kBandwidth, Required::kNo, 0, 1e15);
  r.integer("tp", Required::kYes, 1, 64);
  r.string("name", Required::kYes);
  r.string("model", Required::kYes);
  r.finish();
  REQUIRE(d.size() == 4);
  CHECK(d.format() ==
        "s.json:/tp: expected an integer in [1, 64], found 0\n"
        "s.json:/name: expected a string, found number 3\n"
        "s.json:/model: missing required key \"model\"\n"
        "s.json:/nvlink_bandwdith: unknown key; did you mean \"nvlink_bandwidth\"?\n"
        "4 problems; nothing was simulated.\n");
}

TEST_CASE("JSON pointers escape ~ and /") {
  CHECK(pointer_join("/a", "b/c~d") == "/a/b~1c~0d");
  CHECK(pointer_join("/layouts", 2) == "/layouts/2");
}

TEST_CASE("syntax errors report line and column") {
  Diagnostics d;
  auto j = parse_json_text("{\n  \"a\": 1,\n  \"b\": ]\n}", "x.json", d);
  CHECK_FALSE(j.has_value());
  REQUIRE(d.size() == 1);
  CHECK(d.items()[0].message.find("line 3") != std::string::npos);
}

TEST_CASE("choices suggest the nearest allowed value") {
  const json doc = json::parse(R"({"kind": "ma_seperation"})");
  Diagnostics d;
  JsonReader r(doc, "f.json", "/layouts/0", d);
  r.choice("kind", Required::kYes, {"tp", "pp", "tp_pp", "ep", "ma_separation"});
  REQUIRE(d.size() == 1);
  CHECK(d.items()[0].pointer == "/layouts/0/kind");
  CHECK(d.items()[0].message.rfind("unknown value \"ma_seperation\"; did you mean \"ma_separation\"?", 0) == 0);
}

TEST_CASE("limits: an array past kMaxJsonArrayLength is refused while parsing, at its pointer") {
  // {"workload": {"routing": {"trace": [0, 0, ... one past the cap]}}}: a
  // 20-million-entry trace cost ~150 bytes of memory per byte before the cap.
  std::string text = "{\"workload\": {\"routing\": {\"trace\": [";
  text.reserve(text.size() + 2 * (masim::io::kMaxJsonArrayLength + 1) + 8);
  for (std::size_t i = 0; i <= masim::io::kMaxJsonArrayLength; ++i) text += i ? ",0" : "0";
  text += "]}}}";
  masim::io::Diagnostics d;
  CHECK_FALSE(masim::io::parse_json_text(text, "t.json", d).has_value());
  REQUIRE(d.size() == 1);
  CHECK(d.items()[0].pointer == "/workload/routing/trace");
  CHECK(d.items()[0].message.find("at most 4194304 elements") != std::string::npos);
  CHECK(d.items()[0].message.find("element 4194304") != std::string::npos);
}

TEST_CASE("limits: an array at the cap parses") {
  std::string text = "[";
  for (std::size_t i = 0; i < masim::io::kMaxJsonArrayLength; ++i) text += i ? ",1" : "1";
  text += "]";
  masim::io::Diagnostics d;
  const auto j = masim::io::parse_json_text(text, "t.json", d);
  REQUIRE(j.has_value());
  CHECK(j->size() == masim::io::kMaxJsonArrayLength);
}

// ~15 s in a plain build (a 75 MB document, 33.5 M values parsed): not under ASan.
#if !defined(MASIM_TEST_ASAN)
TEST_CASE("limits: more than kMaxJsonValues values in all are refused") {
  // Nine arrays of 4,194,303 numbers: each under the array cap, 37.7 M values in all.
  std::string text = "[";
  for (int a = 0; a < 9; ++a) {
    text += a ? ",[" : "[";
    for (std::size_t i = 0; i + 1 < masim::io::kMaxJsonArrayLength; ++i) text += i ? ",0" : "0";
    text += "]";
  }
  text += "]";
  masim::io::Diagnostics d;
  CHECK_FALSE(masim::io::parse_json_text(text, "t.json", d).has_value());
  REQUIRE(d.size() == 1);
  // 1 + 8 · (1 + 4,194,303) = 33,554,433 values end inside the eighth array.
  CHECK(d.items()[0].pointer.rfind("/7/", 0) == 0);
  CHECK(d.items()[0].message.find("at most 33554432 JSON values") != std::string::npos);
}
#endif

TEST_CASE("limits: diagnostics past kMaxDiagnostics are counted, not kept") {
  masim::io::Diagnostics d;
  for (std::size_t i = 0; i < masim::io::kMaxDiagnostics + 5; ++i) d.error("f.json", "/x", "bad");
  CHECK(d.size() == masim::io::kMaxDiagnostics + 5);
  CHECK(d.items().size() == masim::io::kMaxDiagnostics);
  CHECK(d.not_listed() == 5);
  const std::string text = d.format();
  CHECK(text.find("... and 5 more problems not listed (masim lists the first 1000)\n") != std::string::npos);
  CHECK(text.find("1005 problems; nothing was simulated.") != std::string::npos);
  masim::io::Diagnostics both;
  both.append(d);
  both.error("g.json", "", "one more");
  CHECK(both.size() == 1006);
  CHECK(both.not_listed() == 6);
}
