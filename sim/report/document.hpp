// A report as plain data: an ordered list of blocks (headings, paragraphs, lists,
// tables, charts) that one renderer turns into Markdown, another into a
// self-contained HTML page, and a third into CSV files (one per table).
//
// Text uses a tiny inline subset of Markdown that both renderers understand:
// `code`, **bold** and [label](href). Tables hold cells that carry both the
// text shown and, where the cell is a number, the number itself (CSV writes the
// number at full precision, Markdown and HTML the text).
// Charts are Vega-Lite v6 specifications with their data inline; Markdown
// names them and points to the HTML page.
//
//   Document d{"Seed study"};
//   d.heading(2, "Performance");
//   Table& t = d.table("performance", "Equal concurrency", {"metric", "TP=8"});
//   t.add_row({Cell::text("TPOT (ms)"), Cell::number(2.91, format_fixed(2.91, 2))});
//   std::string md = render_markdown(d);
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace masim::report {

struct Cell {
  std::string display;            // what Markdown and HTML show
  std::optional<double> value;    // the number behind it, for CSV (none for text cells)
  static Cell text(std::string s) { return Cell{std::move(s), std::nullopt}; }
  static Cell number(double v, std::string shown) { return Cell{std::move(shown), v}; }
};

struct Table {
  std::string id;                          // file-name-safe: CSV goes to csv/<id>.csv
  std::string title;
  std::vector<std::string> header;
  std::vector<std::vector<Cell>> rows;
  std::string note;                        // shown under the table (inline Markdown)
  // Rows that start a new group (a rule is drawn above them in HTML).
  std::vector<std::size_t> group_starts;
  void add_row(std::vector<Cell> row) { rows.push_back(std::move(row)); }
};

struct Chart {
  std::string id;                 // unique in the document, file-name-safe
  std::string title;
  std::string caption;            // inline Markdown, shown under the chart
  nlohmann::json spec;            // Vega-Lite; data inline under "datasets"
};

struct Block {
  enum class Kind { kHeading, kParagraph, kList, kTable, kChart };
  Kind kind = Kind::kParagraph;
  int level = 2;                       // headings: 1..4
  std::string text;                    // heading or paragraph (inline Markdown)
  std::vector<std::string> items;      // list items (inline Markdown)
  std::size_t index = 0;               // into tables_ or charts_
};

class Document {
 public:
  explicit Document(std::string title) : title_(std::move(title)) {}

  void heading(int level, std::string text);
  void paragraph(std::string text);
  void list(std::vector<std::string> items);
  // Adds an empty table at this point and returns it for filling.
  Table& table(std::string id, std::string title, std::vector<std::string> header);
  void add_table(Table t);
  void chart(Chart c);
  // A table written only as CSV (e.g. long-form data for notebooks), not shown.
  void csv_table(Table t) { csv_tables_.push_back(std::move(t)); }

  const std::string& title() const { return title_; }
  const std::vector<Block>& blocks() const { return blocks_; }
  const std::vector<Table>& tables() const { return tables_; }
  const std::vector<Chart>& charts() const { return charts_; }
  const std::vector<Table>& csv_tables() const { return csv_tables_; }

 private:
  std::string title_;
  std::vector<Block> blocks_;
  std::vector<Table> tables_;
  std::vector<Chart> charts_;
  std::vector<Table> csv_tables_;
};

// Markdown (GitHub flavour). Charts become one line naming the chart and the page
// that shows it (`html_name`, e.g. "report.html").
std::string render_markdown(const Document& d, const std::string& html_name);

// One CSV document for `t`: header row, then one row per table row; numeric
// cells are written as numbers (%.10g), text cells quoted when needed (RFC 4180).
std::string render_csv(const Table& t);

// The JavaScript libraries that make the HTML page self-contained.
struct WebAssets {
  std::string vega;        // vega.min.js
  std::string vega_lite;   // vega-lite.min.js
  std::string vega_embed;  // vega-embed.min.js
  std::string versions;    // "vega 6.4.0, vega-lite 6.4.3, vega-embed 7.3.0"
};

// Reads the three libraries from `node_modules` (tools/web/node_modules of the
// source tree). Throws io::EnvironmentError naming the missing file and the
// command that installs it.
WebAssets load_web_assets(const std::string& node_modules);
// The node_modules directory to use: `override_dir` if not empty, else
// $MASIM_WEB_MODULES if set, else <source tree>/tools/web/node_modules with the
// source tree compiled in (MASIM_SOURCE_DIR).
std::string default_web_modules(const std::string& override_dir = "");

// A self-contained HTML page: the libraries inlined, every chart's spec embedded
// as JSON, and a small script that renders each chart and records, per chart,
// whether it rendered and how many data rows it has in window.masimCharts (read
// by the browser test). Opens offline.
std::string render_html(const Document& d, const WebAssets& assets);

// Inline Markdown subset -> HTML (escaped; `code`, **bold**, [label](href)).
std::string inline_html(const std::string& text);
// Escapes &, <, >, " for HTML text and attributes.
std::string html_escape(const std::string& s);

}  // namespace masim::report
