// The request-trace reader: both column layouts, Azure timestamps, ordering,
// and line-and-column diagnostics for every malformed line at once.
#include <doctest/doctest.h>

#include <string>

#include "sim/frontend/parse.hpp"
#include "sim/io/diagnostics.hpp"

using namespace masim;

TEST_CASE("masim's own columns; arrival times become relative and sorted") {
  io::Diagnostics d;
  const auto t = frontend::parse_request_trace("arrival_s,prompt_tokens,output_tokens\n5.0,10,2\n4.5,20,3\n\n", "t.csv", d);
  CHECK(d.empty());
  REQUIRE(t.size() == 2);
  CHECK(t[0].arrival_s == 0.0);
  CHECK(t[0].prompt_tokens == 20);
  CHECK(t[1].arrival_s == doctest::Approx(0.5));
  CHECK(t[1].line == 2);
}

TEST_CASE("the Azure LLM inference traces' layout with datetime stamps across midnight") {
  io::Diagnostics d;
  const std::string text =
      "TIMESTAMP,ContextTokens,GeneratedTokens\r\n"
      "2023-11-16 23:59:59.5000000,374,44\r\n"
      "2023-11-17 00:00:01.2500000,396,109\r\n";
  const auto t = frontend::parse_request_trace(text, "azure.csv", d);
  INFO(d.format_lines());
  CHECK(d.empty());
  REQUIRE(t.size() == 2);
  CHECK(t[1].arrival_s == doctest::Approx(1.75));
  CHECK(t[1].output_tokens == 109);
}

TEST_CASE("malformed lines: file, line, column, expected and found, all at once") {
  io::Diagnostics d;
  const std::string text =
      "arrival_s,prompt_tokens,output_tokens\n"
      "0,10,2\n"
      "1,ten,2\n"
      "2,10\n"
      "-3,10,2\n"
      "4,10,0\n";
  const auto t = frontend::parse_request_trace(text, "bad.csv", d);
  CHECK(t.empty());
  REQUIRE(d.size() == 4);
  const std::string out = d.format_lines();
  CHECK(out.find("bad.csv:3: column 2 (prompt_tokens): expected an integer in [1, 16777216], found \"ten\"") !=
        std::string::npos);
  CHECK(out.find("bad.csv:4: expected 3 columns, found 2") != std::string::npos);
  CHECK(out.find("bad.csv:5: column 1 (arrival_s)") != std::string::npos);
  CHECK(out.find("bad.csv:6: column 3 (output_tokens)") != std::string::npos);
}

TEST_CASE("no header, or a header without the needed columns") {
  io::Diagnostics d;
  CHECK(frontend::parse_request_trace("1,2,3\n", "x.csv", d).empty());
  CHECK(d.format_lines().find("x.csv:1: expected a header naming the columns") != std::string::npos);
  io::Diagnostics e;
  CHECK(frontend::parse_request_trace("", "y.csv", e).empty());
  CHECK(!e.empty());
}
