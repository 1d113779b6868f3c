#!/usr/bin/env bash
# Install Debian's chromium for the browser tests of the web console (Playwright drives
# it through executable_path; nothing is downloaded from Playwright's CDN). Safe to run
# twice: does nothing when /usr/bin/chromium is already there.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
logs="$root/.local/logs"
mkdir -p "$logs"
browser=${SECMONKEY_CHROMIUM:-/usr/bin/chromium}

if [ -x "$browser" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "[browser] $browser is missing and this is not root: install Debian's chromium (apt-get install chromium)" >&2
  exit 1
fi
echo "[browser] installing chromium from Debian (log: $logs/browser.log)"
{
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
} >"$logs/browser.log" 2>&1 || {
  echo "[browser] apt-get install chromium failed, see $logs/browser.log" >&2
  exit 1
}
[ -x "$browser" ] || { echo "[browser] chromium installed but $browser is missing" >&2; exit 1; }
echo "[browser] $("$browser" --version 2>/dev/null || echo chromium) installed"
