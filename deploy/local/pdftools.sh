#!/usr/bin/env bash
# Install Debian's poppler-utils: the evidence-package tests read the PDF's text with
# `pdftotext`. Safe to run twice: does nothing when pdftotext is already there.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
logs="$root/.local/logs"
mkdir -p "$logs"

if command -v pdftotext >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "[pdftools] pdftotext is missing and this is not root: install Debian's poppler-utils (apt-get install poppler-utils)" >&2
  exit 1
fi
echo "[pdftools] installing poppler-utils from Debian (log: $logs/pdftools.log)"
{
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends poppler-utils
} >"$logs/pdftools.log" 2>&1 || {
  echo "[pdftools] apt-get install poppler-utils failed, see $logs/pdftools.log" >&2
  exit 1
}
command -v pdftotext >/dev/null || { echo "[pdftools] poppler-utils installed but pdftotext is missing" >&2; exit 1; }
echo "[pdftools] $(pdftotext -v 2>&1 | head -1) installed"
