#include <doctest/doctest.h>

#include <set>
#include <string>

#include "sim/io/json_reader.hpp"
#include "sim/topology/topology.hpp"

using namespace masim;
using namespace masim::topology;
using nlohmann::json;

namespace {

std::optional<Topology> build_text(const std::string& text, io::Diagnostics& d) {
  auto doc = io::parse_json_text(text, "t.json", d);
  if (!doc) return std::nullopt;
  auto spec = parse_topology(*doc, "t.json", "", d);
  if (!spec) return std::nullopt;
  return Topology::build(*spec, "t.json", d);
}

// Two GPUs on one switch plus a third GPU, as a template for each bad-input rule.
std::string small(const std::string& vertices, const std::string& links) {
  return R"({"schema": 1, "name": "t", "vertices": [)" + vertices + R"(], "links": [)" + links + "]}";
}
const std::string kV = R"({"id": "g0", "kind": "gpu", "local_index": 0},
                         {"id": "g1", "kind": "gpu", "local_index": 1},
                         {"id": "sw", "kind": "nvswitch"})";
const std::string kL = R"({"a": "g0", "b": "sw", "bandwidth": "100 GB/s", "latency": "1 us", "kind": "nvlink"},
                         {"a": "g1", "b": "sw", "bandwidth": "100 GB/s", "latency": "1 us", "kind": "nvlink"})";

}  // namespace

TEST_CASE("explicit topology parses with units, and builds ranks and routes") {
  io::Diagnostics d;
  auto t = build_text(small(kV, kL), d);
  REQUIRE_MESSAGE(t, d.format());
  CHECK(t->num_gpus() == 2);
  CHECK(t->num_nodes() == 1);
  CHECK(t->spec().gpus_per_node == 2);
  CHECK(t->links().size() == 4);  // two full-duplex links -> four directed links
  CHECK(t->links()[0].bandwidth.gb_per_s() == doctest::Approx(100.0));
  CHECK(t->links()[0].latency == SimTime::us(1));
  const auto& r = t->route(0, 1);
  REQUIRE(r.size() == 2);
  CHECK(t->links()[r[0]].from == t->gpu_vertex(0));
  CHECK(t->links()[r[1]].to == t->gpu_vertex(1));
  CHECK(t->path_latency(0, 1) == SimTime::us(2));
  CHECK(t->num_paths(0, 1) == 1);
}

TEST_CASE("validation: each rule gives its message with file and JSON Pointer") {
  SUBCASE("duplicate vertex id") {
    io::Diagnostics d;
    CHECK_FALSE(build_text(small(kV + R"(, {"id": "g1", "kind": "nic"})", kL), d));
    REQUIRE(d.size() == 1);
    CHECK(d.format_lines() == "t.json:/vertices/3/id: duplicate vertex id \"g1\" (first defined at /vertices/1)\n");
  }
  SUBCASE("dangling link end, with did-you-mean") {
    io::Diagnostics d;
    CHECK_FALSE(build_text(
        small(kV, kL + R"(, {"a": "g0", "b": "swx", "bandwidth": "1 GB/s", "latency": "1 us"})"), d));
    REQUIRE(d.size() == 1);
    CHECK(d.format_lines() == "t.json:/links/2/b: link end \"swx\" is not a vertex id; did you mean \"sw\"?\n");
  }
  SUBCASE("zero and negative bandwidth") {
    io::Diagnostics d;
    CHECK_FALSE(build_text(small(kV, R"({"a": "g0", "b": "sw", "bandwidth": "0 GB/s", "latency": "1 us"},
                                        {"a": "g1", "b": "sw", "bandwidth": "-5 GB/s", "latency": "1 us"})"),
                           d));
    REQUIRE(d.size() == 2);
    CHECK(d.items()[0].pointer == "/links/0/bandwidth");
    CHECK(d.items()[0].message == "link bandwidth must be positive, found 0 GB/s");
    CHECK(d.items()[1].pointer == "/links/1/bandwidth");
    CHECK(d.items()[1].message == "link bandwidth must be positive, found -5 GB/s");
  }
  SUBCASE("bandwidth outside [1 MB/s, 1 PB/s]") {
    // 1 B/s would let a 1 GiB flow end after 1.07e21 ps, past int64's 9.2e18.
    io::Diagnostics d;
    CHECK_FALSE(build_text(small(kV, R"({"a": "g0", "b": "sw", "bandwidth": "1 B/s", "latency": "1 us"},
                                        {"a": "g1", "b": "sw", "bandwidth": "2000 TB/s", "latency": "1 us"})"),
                           d));
    REQUIRE(d.size() == 2);
    CHECK(d.items()[0].pointer == "/links/0/bandwidth");
    CHECK(d.items()[0].message == "link bandwidth must be in [1 MB/s, 1 PB/s], found 1e-09 GB/s");
    CHECK(d.items()[1].pointer == "/links/1/bandwidth");
  }
  SUBCASE("disconnected GPU") {
    io::Diagnostics d;
    CHECK_FALSE(build_text(small(kV + R"(, {"id": "g2", "kind": "gpu", "local_index": 2})", kL), d));
    REQUIRE(d.size() == 1);
    CHECK(d.format_lines() ==
          "t.json:/vertices/3: GPU \"g2\" (rank 2) is disconnected: no path to GPU \"g0\" that avoids "
          "passing through other GPUs\n");
  }
  SUBCASE("no transit through a GPU: a chain g0 - g1 - g2 leaves g2 disconnected from g0") {
    io::Diagnostics d;
    CHECK_FALSE(build_text(
        small(R"({"id": "g0", "kind": "gpu"}, {"id": "g1", "kind": "gpu"}, {"id": "g2", "kind": "gpu"})",
              R"({"a": "g0", "b": "g1", "bandwidth": "1 GB/s", "latency": "1 us"},
                 {"a": "g1", "b": "g2", "bandwidth": "1 GB/s", "latency": "1 us"})"),
        d));
    REQUIRE(d.size() == 1);
    CHECK(d.items()[0].pointer == "/vertices/2");
  }
  SUBCASE("link to itself and negative latency") {
    io::Diagnostics d;
    CHECK_FALSE(build_text(small(kV, kL + R"(, {"a": "sw", "b": "sw", "bandwidth": "1 GB/s", "latency": "-1 us"})"), d));
    REQUIRE(d.size() == 2);
    CHECK(d.items()[0].message == "link joins vertex \"sw\" to itself");
    CHECK(d.items()[1].pointer == "/links/2/latency");
  }
  SUBCASE("uneven GPUs per node") {
    io::Diagnostics d;
    CHECK_FALSE(build_text(small(kV + R"(, {"id": "h0", "kind": "gpu", "node": 1})",
                                 kL + R"(, {"a": "h0", "b": "sw", "bandwidth": "1 GB/s", "latency": "1 us"})"),
                           d));
    REQUIRE(d.size() == 1);
    CHECK(d.items()[0].message == "every node must have the same number of GPUs: node 0 has 2, node 1 has 1");
  }
  SUBCASE("parse errors: unknown keys, bad units, unknown kinds, all at once") {
    io::Diagnostics d;
    CHECK_FALSE(build_text(R"({"schema": 2, "name": "t", "vertices": [{"id": "g0", "kind": "gpux", "nod": 1}],
                               "links": [{"a": "g0", "b": "g0", "bandwidth": "5 GB", "latency": "1 us"}]})",
                           d));
    CHECK(d.format_lines() ==
          "t.json:/schema: unsupported schema 2; this masim reads schema 1\n"
          "t.json:/vertices/0/kind: unknown value \"gpux\"; did you mean \"gpu\"? (expected one of: \"gpu\" "
          "\"nvswitch\" \"pcie_switch\" \"cpu\" \"nic\" \"leaf\" \"spine\")\n"
          "t.json:/vertices/0/nod: unknown key; did you mean \"node\"?\n"
          "t.json:/links/0/bandwidth: unknown unit \"GB\"; expected a bandwidth such as \"600 GB/s\"\n");
  }
  SUBCASE("generator and explicit forms are exclusive; generator values are checked") {
    io::Diagnostics d;
    CHECK_FALSE(build_text(R"({"schema": 1, "name": "t", "vertices": [], "links": [],
                               "generator": {"kind": "nvswitch_cluster", "nodes": 2}})",
                           d));
    CHECK(d.items().at(0).message == "give either \"generator\" or \"vertices\" and \"links\", not both");
    io::Diagnostics d2;
    CHECK_FALSE(build_text(R"({"schema": 1, "name": "t", "generator": {"kind": "fat_tre", "nodes": 0,
                               "nic_bandwidth": "0 Gb/s"}})",
                           d2));
    CHECK(d2.format_lines() ==
          "t.json:/generator/kind: unknown value \"fat_tre\"; did you mean \"fat_tree\"? (expected one of: "
          "\"nvswitch_cluster\" \"rail_leaf_spine\" \"fat_tree\")\n"
          "t.json:/generator/nodes: expected an integer in [1, 65536], found 0\n"
          "t.json:/generator/nic_bandwidth: bandwidth must be positive, found \"0 Gb/s\"\n");
  }
  SUBCASE("inline topology: pointers are below the given base") {
    io::Diagnostics d;
    auto doc = json::parse(small(kV + R"(, {"id": "g1", "kind": "nic"})", kL));
    auto spec = parse_topology(doc, "s.json", "/topology", d);
    REQUIRE(spec);
    CHECK_FALSE(Topology::build(*spec, "s.json", "/topology", d));
    CHECK(d.items().at(0).pointer == "/topology/vertices/3/id");
  }
}

TEST_CASE("generators: counts of vertices and links follow from the parameters") {
  ClusterParams p;
  p.nodes = 4;
  p.leaf_radix = 64;
  io::Diagnostics d;
  // 4 nodes x 8 NICs = 32 <= 64 ports: one leaf switch, no spine.
  auto one = Topology::build(make_nvswitch_cluster(p), "gen", d);
  REQUIRE(one);
  CHECK(one->num_gpus() == 32);
  CHECK(one->num_nodes() == 4);
  CHECK(one->node_of_gpu(17) == 2);
  // vertices: 4 x (8 GPU + 1 NVSwitch + 8 NIC) + 1 leaf = 69; links: 4 x (8 NVLink + 8 PCIe) + 32 IB = 96.
  CHECK(one->vertices().size() == 69);
  CHECK(one->spec().links.size() == 96);
  // GPU 0 -> GPU 9 (node 1): gpu -> nic -> leaf -> nic -> gpu, one path.
  CHECK(one->route(0, 9).size() == 4);
  CHECK(one->num_paths(0, 9) == 1);
  // Intra-node: gpu -> nvswitch -> gpu (2 hops beat the 4-hop NIC detour).
  CHECK(one->route(0, 7).size() == 2);
  CHECK(one->links()[one->route(0, 7)[0]].kind == spec::LinkKind::kNvLink);

  // 128 nodes, radix 64, 1:1: down = 32 per leaf, 4 leaves per rail, 32 leaves,
  // each with 32 up ports -> 32 spines, leaf-spine links of 1 NIC port each.
  p.nodes = 128;
  auto big = Topology::build(make_rail_leaf_spine(p), "gen", d);
  REQUIRE(big);
  CHECK(big->num_gpus() == 1024);
  int leaves = 0, spines = 0;
  for (const auto& v : big->vertices()) {
    leaves += v.kind == spec::VertexKind::kLeafSwitch;
    spines += v.kind == spec::VertexKind::kSpineSwitch;
  }
  CHECK(leaves == 32);
  CHECK(spines == 32);
  // Same rail, same leaf (nodes 0 and 1): gpu-nic-leaf-nic-gpu.
  CHECK(big->route(0, 8).size() == 4);
  // Same rail, other leaf (node 0 -> node 100): via any of the 32 spines.
  CHECK(big->route(0, 800).size() == 6);
  CHECK(big->num_paths(0, 800) == 32);
  // Other rail (GPU 0 -> node 1 GPU 1): rail0 leaf -> spine -> rail1 leaf.
  CHECK(big->num_paths(0, 9) == 32);

  // Fat tree 2:1 with radix 48: down = 32, up = 16; 4 nodes per leaf.
  p.nodes = 16;
  p.leaf_radix = 48;
  p.oversubscription = 2.0;
  auto ft = Topology::build(make_fat_tree(p), "gen", d);
  REQUIRE(ft);
  CHECK(d.empty());
  double up = 0;
  for (const auto& l : ft->spec().links) {
    if (l.a.rfind("leaf0", 0) == 0 && l.b.rfind("spine", 0) == 0) up += l.bandwidth.bytes_per_s();
  }
  // leaf0 uplink capacity = 32 down ports / 2 = 16 NIC ports.
  CHECK(up == doctest::Approx(16 * p.nic_bandwidth.bytes_per_s()));
  CHECK(ft->num_paths(0, 4 * 8) == 16);  // node 0 -> node 4 (another leaf): 16 spines
}

TEST_CASE("ECMP: the hash picks among distinct paths, deterministically") {
  ClusterParams p;
  p.nodes = 128;
  io::Diagnostics d;
  auto t = Topology::build(make_rail_leaf_spine(p), "gen", d);
  REQUIRE(t);
  std::set<std::vector<LinkId>> seen;
  for (std::uint64_t h = 0; h < 32; ++h) seen.insert(t->route(0, 800, h));
  CHECK(seen.size() == 32);                        // 32 hashes, 32 distinct spines
  CHECK(t->route(0, 800, 5) == t->route(0, 800, 37));  // hash taken mod the path count
  std::vector<LinkId> again;
  t->route_into(0, 800, 5, again);
  CHECK(again == t->route(0, 800, 5));
  // A second build gives the same routes (no dependence on addresses or timing).
  auto t2 = Topology::build(make_rail_leaf_spine(p), "gen", d);
  for (std::uint64_t h = 0; h < 8; ++h) CHECK(t2->route(3, 777, h) == t->route(3, 777, h));
}

TEST_CASE("shipped topologies load, cite sources, and have the datasheet bandwidths") {
  struct Case {
    const char* file;
    int gpus;
    double nvlink_gb_s;  // per direction: A100 600 GB/s total / 2, H100/H200 900 / 2
    double nic_gb_s;     // HDR 200 Gb/s = 25 GB/s, NDR 400 Gb/s = 50 GB/s
  };
  const Case cases[] = {
      {"dgx-a100", 8, 300, 25},      {"dgx-a100-x2", 16, 300, 25},   {"dgx-a100-x4", 32, 300, 25},
      {"dgx-a100-x16", 128, 300, 25}, {"dgx-a100-x128", 1024, 300, 25}, {"hgx-h100", 8, 450, 50},
      {"hgx-h100-x2", 16, 450, 50},  {"hgx-h100-x4", 32, 450, 50},   {"hgx-h100-x16", 128, 450, 50},
      {"hgx-h100-x128", 1024, 450, 50}, {"hgx-h200", 8, 450, 50},    {"hgx-h200-x2", 16, 450, 50},
      {"hgx-h200-x4", 32, 450, 50},  {"hgx-h200-x16", 128, 450, 50}, {"hgx-h200-x128", 1024, 450, 50},
  };
  for (const auto& c : cases) {
    CAPTURE(c.file);
    const std::string path = std::string(MASIM_SOURCE_DIR) + "/topologies/" + c.file + ".json";
    io::Diagnostics d;
    auto doc = io::load_json_file(path, d);
    REQUIRE(doc);
    auto spec = parse_topology(*doc, path, "", d);
    REQUIRE_MESSAGE(spec, d.format());
    CHECK(spec->name == c.file);
    CHECK(spec->sources.size() >= 3);
    CHECK(spec->gpus_per_node == 8);
    CHECK(spec->num_nodes == c.gpus / 8);
    auto t = Topology::build(*spec, path, d);
    REQUIRE_MESSAGE(t, d.format());
    CHECK(t->num_gpus() == c.gpus);
    bool saw_nvlink = false, saw_ib = c.gpus == 8;
    for (const auto& l : t->links()) {
      if (l.kind == spec::LinkKind::kNvLink) {
        saw_nvlink = true;
        CHECK(l.bandwidth.gb_per_s() == doctest::Approx(c.nvlink_gb_s));
      }
      if (l.kind == spec::LinkKind::kInfiniBand && t->vertices()[l.from].kind == spec::VertexKind::kNic) {
        saw_ib = true;
        CHECK(l.bandwidth.gb_per_s() == doctest::Approx(c.nic_gb_s));
      }
    }
    CHECK(saw_nvlink);
    CHECK(saw_ib);
  }
}

TEST_CASE("the explicit single-node file equals the generator with one node") {
  io::Diagnostics d;
  const std::string path = std::string(MASIM_SOURCE_DIR) + "/topologies/hgx-h100.json";
  auto doc = io::load_json_file(path, d);
  REQUIRE(doc);
  auto file_spec = parse_topology(*doc, path, "", d);
  REQUIRE(file_spec);
  ClusterParams p;
  p.nodes = 1;
  p.nvlink_latency = SimTime::ns(350);
  p.pcie_bandwidth = Bandwidth::gb_per_s(63);
  const auto gen = make_nvswitch_cluster(p);
  REQUIRE(gen.vertices.size() == file_spec->vertices.size());
  REQUIRE(gen.links.size() == file_spec->links.size());
  for (std::size_t i = 0; i < gen.vertices.size(); ++i) {
    CHECK(gen.vertices[i].id == file_spec->vertices[i].id);
    CHECK(gen.vertices[i].kind == file_spec->vertices[i].kind);
  }
  for (std::size_t i = 0; i < gen.links.size(); ++i) {
    CHECK(gen.links[i].a == file_spec->links[i].a);
    CHECK(gen.links[i].b == file_spec->links[i].b);
    CHECK(gen.links[i].bandwidth.bytes_per_s() == doctest::Approx(file_spec->links[i].bandwidth.bytes_per_s()));
    CHECK(gen.links[i].latency == file_spec->links[i].latency);
  }
}
