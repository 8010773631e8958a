#!/usr/bin/env bash
# Smoke-test a built bundle: --version, then a headless index + search with the starter model.
#
# Usage: bash packaging/smoke.sh dist/quarry/quarry
# Runs in a throwaway QUARRY_HOME with the network-facing Hugging Face libraries told to stay
# offline; the JSON results are checked with the system python3, not the bundle's.
set -euo pipefail

exe="${1:?usage: smoke.sh BUNDLE_EXE}"
exe="$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")"
bundle_dir="$(dirname "$exe")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# An empty HF cache: a Qwen3 model cached on this machine must not replace the starter model.
export QUARRY_HOME="$work/home" QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1
export HF_HOME="$work/hf" HF_HUB_CACHE="$work/hf/hub"
mkdir -p "$work/docs/notes"

echo "-- bundle: $bundle_dir"
echo "-- size: $(du -sh "$bundle_dir" | cut -f1)"
heavy="$(find "$bundle_dir" \( -iname 'torch*' -o -iname 'transformers*' -o -iname 'llama_cpp*' \
    -o -iname 'sentence_transformers*' -o -iname 'scipy*' -o -iname 'sklearn*' \) -print)"
if [ -n "$heavy" ]; then
    echo "FAIL: heavy optional backends found in the bundle:" >&2
    echo "$heavy" | head -20 >&2
    exit 1
fi
echo "-- no torch/transformers/llama_cpp/scipy/sklearn inside"

echo "-- $exe --version"
version="$("$exe" --version)"
echo "$version"
case "$version" in quarry\ *) ;; *) echo "FAIL: unexpected --version output" >&2; exit 1 ;; esac

cat >"$work/docs/sourdough.md" <<'EOF'
# Baking sourdough bread

Feed the starter the night before. Mix flour, water and salt, leave the dough to prove slowly,
fold it every half hour, shape a loaf and bake it in a hot Dutch oven until the crust is dark.
EOF
cat >"$work/docs/notes/tides.txt" <<'EOF'
Ocean tides are caused by the gravitational pull of the Moon and the Sun on the Earth's oceans.
Spring tides happen at new and full moon; neap tides happen at the quarter moons.
EOF
cat >"$work/docs/notes/bicycle.md" <<'EOF'
# Fixing a flat bicycle tyre

Remove the wheel, lever the tyre off the rim, find the puncture in the inner tube,
patch it or fit a new tube, then pump it back up to the pressure printed on the sidewall.
EOF
cat >"$work/docs/taxes.txt" <<'EOF'
Quarterly tax returns: keep receipts for business expenses, record invoices, and file
the VAT return before the deadline to avoid penalties from the revenue office.
EOF

echo "-- index"
"$exe" index "$work/docs" --json >"$work/index.json"
cat "$work/index.json"

check() {  # check EXPECTED_FILE_NAME QUERY [SEARCH OPTIONS...]
    local expected="$1" query="$2"
    shift 2
    "$exe" search "$query" --json "$@" >"$work/search.json"
    python3 - "$work/search.json" "$expected" "$query" <<'EOF'
import json
import pathlib
import sys

results = json.loads(pathlib.Path(sys.argv[1]).read_text(encoding="utf-8"))
expected, query = sys.argv[2], sys.argv[3]
if not results:
    sys.exit(f"FAIL: no results for {query!r}")
top = pathlib.Path(results[0]["path"]).name
if top != expected:
    sys.exit(f"FAIL: top hit for {query!r} is {top}, expected {expected}")
print(f"ok: {query!r} -> {top} ({len(results)} results)")
EOF
}

echo "-- search"
# Hybrid (the default): the words and the meaning agree on the answer.
check tides.txt "what causes the ocean tides"
check sourdough.md "how do I bake bread at home"
check bicycle.md "repair a punctured bicycle wheel"
# Vector only, with no word in common: proves the bundled model really embeds.
check tides.txt "why does the sea level go up and down twice a day" --mode vector
check sourdough.md "kneading and proofing yeast for a rustic boule" --mode vector

echo "-- index database is user-only"
python3 - "$QUARRY_HOME/data/index.sqlite3" <<'EOF'
import os
import stat
import sys

mode = stat.S_IMODE(os.stat(sys.argv[1]).st_mode)
if mode != 0o600:
    sys.exit(f"FAIL: {sys.argv[1]} has mode {mode:o}, expected 600")
print("ok: mode 600")
EOF

if command -v timeout >/dev/null; then
    echo "-- window (offscreen): starts and stays up for 8 s"
    rc=0
    timeout 8 "$exe" gui >"$work/gui.log" 2>&1 || rc=$?
    if [ "$rc" -ne 124 ] && [ "$rc" -ne 0 ]; then
        echo "FAIL: the window exited with $rc" >&2
        cat "$work/gui.log" >&2
        exit 1
    fi
    echo "ok: window ran (exit $rc)"
fi
echo "smoke OK"
