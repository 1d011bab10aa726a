#!/usr/bin/env bash
# Installs every system dependency masim needs from Debian 12's packages.
# Idempotent: packages already present are left alone. Needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  nlohmann-json3-dev      # JSON parsing (scenarios, profiles, results)
  libboost-graph-dev      # topology graphs and shortest paths
  doctest-dev             # unit tests
  libbenchmark-dev        # Google Benchmark (performance figures)
  libcli11-dev            # command-line parsing
  chromium                # headless browser test of the HTML report
  clang libclang-rt-dev   # sanitizer (ASan + UBSan) and libFuzzer builds: scripts/sanitize.sh, scripts/fuzz.sh
  openmpi-bin libopenmpi-dev  # optional at build time: masim sweep over MPI ranks (mpirun -np N masim sweep FILE)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Node.js and npm bundle Vega-Lite into the HTML report. Machines of this kind
# ship Node.js 20 with its own npm; Debian's npm would conflict with it, so it
# is installed only where no npm exists.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all system packages present"
fi

# Vega-Lite, vega-embed and playwright-core for the HTML report and its browser
# test, pinned by tools/web/package-lock.json.
if [ -f tools/web/package-lock.json ]; then
  if [ ! -d tools/web/node_modules ] || [ tools/web/package-lock.json -nt tools/web/node_modules ]; then
    echo "setup: npm ci in tools/web"
    npm ci --prefix tools/web --no-audit --no-fund --loglevel=error
    touch tools/web/node_modules
  fi
fi
