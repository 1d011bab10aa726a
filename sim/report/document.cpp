#include "sim/report/document.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "sim/common/assert.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/io/file_io.hpp"

namespace masim::report {

// ------------------------------------------------------------------ Document

void Document::heading(int level, std::string text) {
  MASIM_ASSERT(level >= 1 && level <= 4, "heading level out of range");
  Block b;
  b.kind = Block::Kind::kHeading;
  b.level = level;
  b.text = std::move(text);
  blocks_.push_back(std::move(b));
}

void Document::paragraph(std::string text) {
  Block b;
  b.kind = Block::Kind::kParagraph;
  b.text = std::move(text);
  blocks_.push_back(std::move(b));
}

void Document::list(std::vector<std::string> items) {
  Block b;
  b.kind = Block::Kind::kList;
  b.items = std::move(items);
  blocks_.push_back(std::move(b));
}

Table& Document::table(std::string id, std::string title, std::vector<std::string> header) {
  Table t;
  t.id = std::move(id);
  t.title = std::move(title);
  t.header = std::move(header);
  add_table(std::move(t));
  return tables_.back();
}

void Document::add_table(Table t) {
  for (const Table& other : tables_) MASIM_ASSERT(other.id != t.id, "duplicate table id");
  Block b;
  b.kind = Block::Kind::kTable;
  b.index = tables_.size();
  tables_.push_back(std::move(t));
  blocks_.push_back(std::move(b));
}

void Document::chart(Chart c) {
  for (const Chart& other : charts_) MASIM_ASSERT(other.id != c.id, "duplicate chart id");
  Block b;
  b.kind = Block::Kind::kChart;
  b.index = charts_.size();
  charts_.push_back(std::move(c));
  blocks_.push_back(std::move(b));
}

// ------------------------------------------------------------------ Markdown

namespace {

std::string md_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// Numbers and "n/a" (a number that does not exist) align right.
bool looks_numeric(const std::string& s) {
  if (s.empty()) return false;
  if (s == "n/a") return true;
  const char c = s[0];
  return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

}  // namespace

std::string render_markdown(const Document& d, const std::string& html_name) {
  std::ostringstream os;
  os << "# " << d.title() << "\n";
  for (const Block& b : d.blocks()) {
    os << "\n";
    switch (b.kind) {
      case Block::Kind::kHeading:
        os << std::string(static_cast<std::size_t>(b.level), '#') << ' ' << b.text << "\n";
        break;
      case Block::Kind::kParagraph:
        os << b.text << "\n";
        break;
      case Block::Kind::kList:
        for (const std::string& item : b.items) os << "- " << item << "\n";
        break;
      case Block::Kind::kTable: {
        const Table& t = d.tables()[b.index];
        if (!t.title.empty()) os << "**" << t.title << "**\n\n";
        os << '|';
        for (const std::string& h : t.header) os << ' ' << md_cell(h) << " |";
        os << "\n|";
        // Right-align columns whose cells are all numbers.
        for (std::size_t c = 0; c < t.header.size(); ++c) {
          bool numeric = !t.rows.empty();
          for (const auto& row : t.rows) {
            if (c < row.size() && !row[c].value && !looks_numeric(row[c].display) &&
                !row[c].display.empty()) {
              numeric = false;
            }
          }
          os << (numeric && c > 0 ? "---:|" : "---|");
        }
        os << "\n";
        for (const auto& row : t.rows) {
          os << '|';
          for (std::size_t c = 0; c < t.header.size(); ++c) {
            os << ' ' << (c < row.size() ? md_cell(row[c].display) : std::string()) << " |";
          }
          os << "\n";
        }
        if (!t.note.empty()) os << "\n" << t.note << "\n";
        break;
      }
      case Block::Kind::kChart: {
        const Chart& c = d.charts()[b.index];
        os << "*Chart: " << c.title << "* (interactive in `" << html_name << "`)";
        if (!c.caption.empty()) os << ". " << c.caption;
        os << "\n";
        break;
      }
    }
  }
  return os.str();
}

// ------------------------------------------------------------------ CSV

namespace {
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}
}  // namespace

std::string render_csv(const Table& t) {
  std::ostringstream os;
  for (std::size_t c = 0; c < t.header.size(); ++c) os << (c ? "," : "") << csv_field(t.header[c]);
  os << "\n";
  for (const auto& row : t.rows) {
    for (std::size_t c = 0; c < t.header.size(); ++c) {
      if (c) os << ',';
      if (c >= row.size()) continue;
      if (row[c].value) {
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.10g", *row[c].value);
        os << buf;
      } else {
        os << csv_field(row[c].display);
      }
    }
    os << "\n";
  }
  return os.str();
}

// ------------------------------------------------------------------ HTML

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string inline_html(const std::string& text) {
  std::string out;
  std::size_t i = 0;
  const std::size_t n = text.size();
  bool bold = false;
  while (i < n) {
    const char c = text[i];
    if (c == '`') {
      const std::size_t end = text.find('`', i + 1);
      if (end != std::string::npos) {
        out += "<code>" + html_escape(text.substr(i + 1, end - i - 1)) + "</code>";
        i = end + 1;
        continue;
      }
    }
    if (c == '*' && i + 1 < n && text[i + 1] == '*') {
      out += bold ? "</strong>" : "<strong>";
      bold = !bold;
      i += 2;
      continue;
    }
    if (c == '[') {
      const std::size_t close = text.find(']', i + 1);
      if (close != std::string::npos && close + 1 < n && text[close + 1] == '(') {
        const std::size_t paren = text.find(')', close + 2);
        if (paren != std::string::npos) {
          out += "<a href=\"" + html_escape(text.substr(close + 2, paren - close - 2)) + "\">" +
                 inline_html(text.substr(i + 1, close - i - 1)) + "</a>";
          i = paren + 1;
          continue;
        }
      }
    }
    out += html_escape(std::string(1, c));
    ++i;
  }
  if (bold) out += "</strong>";
  return out;
}

namespace {

// Empty when missing or not a regular file (never blocks on a FIFO).
std::string read_file(const std::string& path) {
  io::FileRead f = io::read_regular_file(path);
  return f.ok() ? std::move(f.text) : std::string();
}

// Drops "//# sourceMappingURL=..." (nothing to map offline) and makes "</script"
// inside the code harmless for the HTML parser.
std::string clean_js(std::string js) {
  const std::size_t map = js.rfind("//# sourceMappingURL=");
  if (map != std::string::npos) js.erase(map);
  std::size_t pos = 0;
  while ((pos = js.find("</script", pos)) != std::string::npos) {
    js.replace(pos, 8, "<\\/script");
    pos += 9;
  }
  return js;
}

std::string package_version(const std::string& dir) {
  const std::string text = read_file(dir + "/package.json");
  if (text.empty()) return "?";
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("version") && j["version"].is_string()) {
    return j["version"].get<std::string>();
  }
  return "?";
}

// JSON for a <script type="application/json"> element: '<' only occurs inside
// JSON strings, where \u003c means the same, so the HTML parser never sees a tag.
std::string script_json(const nlohmann::json& j) {
  const std::string s = j.dump();
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '<') {
      out += "\\u003c";
    } else {
      out += c;
    }
  }
  return out;
}

constexpr const char* kStyle = R"css(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1b1f24; background: #fff; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; line-height: 1.45; }
h1 { font-size: 1.8em; border-bottom: 2px solid #d0d7de; padding-bottom: .3em; }
h2 { font-size: 1.4em; margin-top: 2em; border-bottom: 1px solid #d0d7de; padding-bottom: .2em; }
h3 { font-size: 1.15em; margin-top: 1.6em; }
code { background: #f3f4f6; padding: 0 .25em; border-radius: 3px; font-size: .92em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: .9em; }
caption { text-align: left; font-weight: 600; padding: .3em 0; }
th, td { border: 1px solid #d0d7de; padding: .3em .6em; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.group-start td { border-top: 2px solid #8c959f; }
p.note { font-size: .88em; color: #57606a; margin-top: -.6em; }
figure.chart { margin: 1em 0 2em; }
figure.chart figcaption { font-size: .88em; color: #57606a; }
.vega-chart { min-height: 60px; }
)css";

constexpr const char* kRenderScript = R"js(
window.masimCharts = {};
window.masimChartsDone = false;
(async function renderCharts() {
  const divs = Array.from(document.querySelectorAll('div.vega-chart'));
  for (const div of divs) {
    const id = div.dataset.chart;
    try {
      const spec = JSON.parse(document.getElementById('spec-' + id).textContent);
      const result = await vegaEmbed(div, spec, {actions: false, renderer: 'svg'});
      const rows = result.view.data('table').length;
      window.masimCharts[id] = {rendered: true, rows: rows};
    } catch (e) {
      console.error('chart ' + id + ' failed: ' + e);
      window.masimCharts[id] = {rendered: false, rows: 0, error: String(e)};
    }
  }
  window.masimChartsDone = true;
})();
)js";

}  // namespace

std::string default_web_modules(const std::string& override_dir) {
  if (!override_dir.empty()) return override_dir;
  if (const char* env = std::getenv("MASIM_WEB_MODULES"); env != nullptr && *env != '\0') return env;
#ifdef MASIM_SOURCE_DIR
  return std::string(MASIM_SOURCE_DIR) + "/tools/web/node_modules";
#else
  return "tools/web/node_modules";
#endif
}

WebAssets load_web_assets(const std::string& node_modules) {
  struct Lib {
    const char* package;
    const char* file;
    std::string* dest;
  };
  WebAssets a;
  const Lib libs[] = {{"vega", "vega.min.js", &a.vega},
                      {"vega-lite", "vega-lite.min.js", &a.vega_lite},
                      {"vega-embed", "vega-embed.min.js", &a.vega_embed}};
  std::string versions;
  for (const Lib& lib : libs) {
    const std::string dir = node_modules + "/" + lib.package;
    const std::string path = dir + "/build/" + lib.file;
    std::string js = read_file(path);
    if (js.empty()) {
      throw io::EnvironmentError(
          "the HTML report inlines " + std::string(lib.file) + " but " + path +
          " is missing or empty; install the pinned JavaScript with `npm ci --prefix tools/web` "
          "(or set MASIM_WEB_MODULES to a node_modules directory that has vega, vega-lite and "
          "vega-embed)");
    }
    *lib.dest = clean_js(std::move(js));
    if (!versions.empty()) versions += ", ";
    versions += std::string(lib.package) + " " + package_version(dir);
  }
  a.versions = versions;
  return a;
}

std::string render_html(const Document& d, const WebAssets& assets) {
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
     << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
     << "<meta name=\"generator\" content=\"masim report (" << html_escape(assets.versions) << ")\">\n"
     << "<title>" << html_escape(d.title()) << "</title>\n<style>" << kStyle << "</style>\n";
  os << "<script>\n" << assets.vega << "\n</script>\n";
  os << "<script>\n" << assets.vega_lite << "\n</script>\n";
  os << "<script>\n" << assets.vega_embed << "\n</script>\n";
  os << "</head>\n<body>\n<main>\n<h1>" << inline_html(d.title()) << "</h1>\n";
  for (const Block& b : d.blocks()) {
    switch (b.kind) {
      case Block::Kind::kHeading: {
        const std::string tag = "h" + std::to_string(b.level);
        os << "<" << tag << ">" << inline_html(b.text) << "</" << tag << ">\n";
        break;
      }
      case Block::Kind::kParagraph:
        os << "<p>" << inline_html(b.text) << "</p>\n";
        break;
      case Block::Kind::kList:
        os << "<ul>\n";
        for (const std::string& item : b.items) os << "<li>" << inline_html(item) << "</li>\n";
        os << "</ul>\n";
        break;
      case Block::Kind::kTable: {
        const Table& t = d.tables()[b.index];
        os << "<table id=\"table-" << html_escape(t.id) << "\">\n";
        if (!t.title.empty()) os << "<caption>" << inline_html(t.title) << "</caption>\n";
        os << "<thead><tr>";
        for (const std::string& h : t.header) os << "<th>" << inline_html(h) << "</th>";
        os << "</tr></thead>\n<tbody>\n";
        for (std::size_t r = 0; r < t.rows.size(); ++r) {
          const bool group = r > 0 && std::find(t.group_starts.begin(), t.group_starts.end(), r) !=
                                          t.group_starts.end();
          os << (group ? "<tr class=\"group-start\">" : "<tr>");
          for (std::size_t c = 0; c < t.header.size(); ++c) {
            const Cell* cell = c < t.rows[r].size() ? &t.rows[r][c] : nullptr;
            const bool num = cell != nullptr && c > 0 && (cell->value || looks_numeric(cell->display));
            os << (num ? "<td class=\"num\">" : "<td>")
               << (cell != nullptr ? inline_html(cell->display) : std::string()) << "</td>";
          }
          os << "</tr>\n";
        }
        os << "</tbody>\n</table>\n";
        if (!t.note.empty()) os << "<p class=\"note\">" << inline_html(t.note) << "</p>\n";
        break;
      }
      case Block::Kind::kChart: {
        const Chart& c = d.charts()[b.index];
        os << "<figure class=\"chart\">\n<div class=\"vega-chart\" id=\"chart-" << html_escape(c.id)
           << "\" data-chart=\"" << html_escape(c.id) << "\" data-title=\"" << html_escape(c.title)
           << "\"></div>\n";
        os << "<figcaption><strong>" << inline_html(c.title) << "</strong>";
        if (!c.caption.empty()) os << ". " << inline_html(c.caption);
        os << "</figcaption>\n</figure>\n";
        os << "<script type=\"application/json\" id=\"spec-" << html_escape(c.id) << "\">"
           << script_json(c.spec) << "</script>\n";
        break;
      }
    }
  }
  os << "</main>\n<script>" << kRenderScript << "</script>\n</body>\n</html>\n";
  return os.str();
}

}  // namespace masim::report
