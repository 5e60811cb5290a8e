#!/usr/bin/env bash
# Add Aesthetic Curator to the desktop's application menu (Linux, freedesktop.org desktops).
# Run after installing the app; it puts the launcher and icon under ~/.local/share (or $XDG_DATA_HOME)
# and points the launcher at this checkout's virtual environment when there is one.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
mkdir -p "$data/applications" "$data/icons/hicolor/scalable/apps"
exe="aesthetic-curator"
if [ -x "$repo/.venv/bin/aesthetic-curator" ]; then
    exe="$repo/.venv/bin/aesthetic-curator"
fi
sed "s|^Exec=aesthetic-curator|Exec=$exe|" "$here/aesthetic-curator.desktop" > "$data/applications/aesthetic-curator.desktop"
cp "$repo/resources/icons/aesthetic-curator.svg" "$data/icons/hicolor/scalable/apps/aesthetic-curator.svg"
command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" || true
echo "installed $data/applications/aesthetic-curator.desktop"
