#!/usr/bin/env bash
# Smoke-test a built bundle: --version, a headless index + search with the starter model, then
# `quarry serve` (HTTP search with the token), `quarry mcp` (initialize, tools/list and a search
# over stdio), OCR of a rendered image when RapidOCR is inside (the `ocr` variant), and the
# window with its API setting on.
#
# Usage: bash packaging/smoke.sh dist/quarry/quarry
#   QUARRY_SMOKE_OCR=1|0   force the OCR check on/off (default: on when RapidOCR is in the bundle)
#   SMOKE_PYTHON=PATH      a python with Pillow to draw the OCR test image (default: python3)
# Runs in a throwaway QUARRY_HOME with the network-facing Hugging Face libraries told to stay
# offline; the JSON results and the API/MCP clients run on the system python3 (stdlib only),
# not the bundle's, so they see the bundle as a user's program would.
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

set_setting() {  # set_setting NAME JSON_VALUE: one entry of the throwaway settings.json
    python3 - "$QUARRY_HOME/config/settings.json" "$1" "$2" <<'EOF'
import json
import pathlib
import sys

path, name, value = pathlib.Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
settings = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
settings[name] = value
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps(settings), encoding="utf-8")
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
# The bundled starter is the multilingual one: German and Chinese questions, meaning only.
model="$("$exe" embed hello --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["model"])')"
[ "$model" = "intfloat/multilingual-e5-small" ] || { echo "FAIL: starter model is $model" >&2; exit 1; }
echo "ok: the starter model is $model"
check sourdough.md "Wie backe ich zu Hause ein Brot?" --mode vector
check tides.txt "为什么海水每天涨落两次" --mode vector

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

echo "-- quarry serve: HTTP search with the bearer token"
token="$("$exe" serve --print-token)"
"$exe" serve --port 0 --no-rerank 2>"$work/serve.log" &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 - "$work/serve.log" "$token" "$serve_pid" <<'EOF'
import json
import os
import pathlib
import re
import sys
import time
import urllib.error
import urllib.request

log, token, pid = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
deadline = time.monotonic() + 180  # loads the starter model first
while not (found := re.search(r"listening on (http://\S+?) ", log.read_text(errors="replace"))):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(f"FAIL: quarry serve exited:\n{log.read_text(errors='replace')}")
    if time.monotonic() > deadline:
        sys.exit(f"FAIL: quarry serve did not start in 180 s:\n{log.read_text(errors='replace')}")
    time.sleep(0.5)
url = found.group(1)


def post(path, body, auth):
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if auth:
        headers["Authorization"] = f"Bearer {auth}"
    request = urllib.request.Request(url + path, json.dumps(body).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


status, answer = post("/search", {"query": "what causes the ocean tides"}, None)
if status != 401:
    sys.exit(f"FAIL: a search without the token answered {status}: {answer}")
status, answer = post("/search", {"query": "what causes the ocean tides", "k": 3}, token)
if status != 200:
    sys.exit(f"FAIL: /search answered {status}: {answer}")
top = pathlib.Path(answer["results"][0]["path"]).name
if top != "tides.txt":
    sys.exit(f"FAIL: /search top hit is {top}, expected tides.txt")
print(f"ok: {url}/search -> {top} (401 without the token)")
rpc = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "quarry-smoke", "version": "1"}}}
status, answer = post("/mcp", rpc, token)  # streamable HTTP, stateless, JSON answers
if status != 200 or "serverInfo" not in answer.get("result", {}):
    sys.exit(f"FAIL: MCP initialize at {url}/mcp answered {status}: {answer}")
status, answer = post("/mcp", {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, token)
tools = sorted(tool["name"] for tool in answer.get("result", {}).get("tools", []))
if status != 200 or "search" not in tools:
    sys.exit(f"FAIL: MCP tools/list at {url}/mcp answered {status}: {answer}")
print(f"ok: {url}/mcp initialize + tools/list -> {tools}")
EOF
kill "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
trap 'rm -rf "$work"' EXIT

echo "-- quarry mcp: initialize, tools/list and a search over stdio"
python3 - "$exe" <<'EOF'
import json
import pathlib
import selectors
import subprocess
import sys
import time

server = subprocess.Popen(
    [sys.argv[1], "mcp", "--no-rerank"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
)
reader = selectors.DefaultSelector()
reader.register(server.stdout, selectors.EVENT_READ)


def send(message):
    server.stdin.write((json.dumps({"jsonrpc": "2.0", **message}) + "\n").encode())
    server.stdin.flush()


def answer(ident, seconds=180):
    """The JSON-RPC response with id ``ident`` (stdout carries only protocol messages)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not reader.select(deadline - time.monotonic()):
            break
        line = server.stdout.readline()
        if not line:
            sys.exit(f"FAIL: quarry mcp closed stdout (exit {server.wait()})")
        message = json.loads(line)
        if message.get("id") == ident:
            if "error" in message:
                sys.exit(f"FAIL: quarry mcp answered an error: {message['error']}")
            return message["result"]
    sys.exit(f"FAIL: no answer to request {ident} in {seconds} s")


try:
    send({"id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "quarry-smoke", "version": "1"}}})
    info = answer(1)["serverInfo"]
    send({"method": "notifications/initialized"})
    send({"id": 2, "method": "tools/list"})
    tools = {tool["name"] for tool in answer(2)["tools"]}
    if not {"search", "get", "status"} <= tools:
        sys.exit(f"FAIL: tools/list gave {sorted(tools)}")
    send({"id": 3, "method": "tools/call", "params": {
        "name": "search", "arguments": {"query": "what causes the ocean tides", "k": 3}}})
    result = answer(3)
    if result.get("isError"):
        sys.exit(f"FAIL: the search tool failed: {result['content']}")
    top = pathlib.Path(result["structuredContent"]["results"][0]["path"]).name
    if top != "tides.txt":
        sys.exit(f"FAIL: the search tool's top hit is {top}, expected tides.txt")
    print(f"ok: {info['name']} lists {sorted(tools)}; search -> {top}")
finally:
    server.stdin.close()  # the client going away ends the server
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        sys.exit("FAIL: quarry mcp did not exit when stdin closed")
EOF

# The `ocr` variant (QUARRY_BUNDLE_BACKENDS=ocr): RapidOCR inside must read a rendered scan.
# QUARRY_SMOKE_OCR=1/0 forces the check on/off; SMOKE_PYTHON (a python with Pillow) draws it.
ocr="${QUARRY_SMOKE_OCR:-auto}"
if [ "$ocr" = auto ]; then
    ocr=0
    if [ -n "$(find "$bundle_dir" -maxdepth 3 -type d -name rapidocr_onnxruntime -print -quit)" ]
    then ocr=1; fi
fi
if [ "$ocr" = 1 ]; then
    echo "-- OCR (RapidOCR in the bundle): an image's words become searchable"
    mkdir -p "$work/scans"
    "${SMOKE_PYTHON:-python3}" - "$work/scans/receipt.png" <<'EOF'
import sys

from PIL import Image, ImageDraw, ImageFont

try:
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 40)
except OSError:
    font = ImageFont.load_default(size=40)
page = Image.new("RGB", (1200, 360), "white")
draw = ImageDraw.Draw(page)
for row, line in enumerate(["Receipt from the aquarium shop", "Heater and gravel for the tank"]):
    draw.text((60, 80 + 110 * row), line, fill="black", font=font)
page.save(sys.argv[1])
EOF
    # Force RapidOCR: a system Tesseract would otherwise be tried when the bundle's fails.
    set_setting ocr_engine '"rapidocr"'
    "$exe" index "$work/scans" --ocr --json >"$work/ocr-index.json"
    cat "$work/ocr-index.json"
    python3 - "$work/ocr-index.json" <<'EOF'
import json
import pathlib
import sys

summary = json.loads(pathlib.Path(sys.argv[1]).read_text(encoding="utf-8"))
if summary.get("ocr_pages") != 1:
    sys.exit(f"FAIL: expected 1 OCR page, the index says {summary.get('ocr_pages')}")
EOF
    check receipt.png "aquarium" --mode keyword
    "$exe" search "aquarium gravel" --json --mode keyword >"$work/search.json"
    python3 - "$work/search.json" <<'EOF'
import json
import pathlib
import sys

hit = json.loads(pathlib.Path(sys.argv[1]).read_text(encoding="utf-8"))[0]
if not hit.get("ocr"):
    sys.exit(f"FAIL: the image hit is not marked as OCR: {hit}")
print(f"ok: OCR hit {pathlib.Path(hit['path']).name} (ocr: true)")
EOF
fi

echo "-- window (offscreen): stays up, and its API setting serves /status with the token"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
set_setting api_server true
set_setting api_port "$port"
"$exe" gui >"$work/gui.log" 2>&1 &
gui_pid=$!
trap 'kill "$gui_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 - "http://127.0.0.1:$port/status" "$token" "$gui_pid" "$work/gui.log" <<'EOF'
import json
import os
import pathlib
import sys
import time
import urllib.request

url, token, pid, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), pathlib.Path(sys.argv[4])
started = time.monotonic()
request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
status = None
while time.monotonic() - started < 120 and status is None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(f"FAIL: the window exited:\n{log.read_text(errors='replace')}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status = json.load(response)
    except OSError:
        time.sleep(0.5)
if status is None:
    sys.exit(f"FAIL: the window's API did not answer {url} in 120 s:\n{log.read_text(errors='replace')}")
time.sleep(max(0.0, 8 - (time.monotonic() - started)))  # and the window stays up
try:
    os.kill(pid, 0)
except ProcessLookupError:
    sys.exit(f"FAIL: the window exited:\n{log.read_text(errors='replace')}")
print(f"ok: the window stayed up {time.monotonic() - started:.0f} s; {url} answered")
EOF
kill "$gui_pid"
wait "$gui_pid" 2>/dev/null || true
trap 'rm -rf "$work"' EXIT
echo "smoke OK"
