#!/bin/sh
# Prints the Debian mirror that this system's apt sources name, or nothing when they name none:
# the URI of the first enabled `deb` entry for the release CODENAME (by default this system's,
# from /etc/os-release) with the `main` component, read in apt's order from the one-line format
# (sources.list, then sources.list.d/*.list) and the deb822 format (sources.list.d/*.sources).
# Security, updates, backports and third-party entries do not match: their suite or components
# differ. Only http, https, ftp and file URIs are printed (debootstrap cannot use apt's
# mirror+ or cdrom: methods).
# Usage: scripts/apt-debian-mirror.sh [APT_DIR [CODENAME]]   (APT_DIR: /etc/apt by default)
set -eu
apt_dir="${1:-/etc/apt}"
codename="${2:-}"
if [ -z "$codename" ] && [ -r /etc/os-release ]; then
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
fi
[ -n "$codename" ] || exit 0

one_line() {
  awk -v codename="$codename" '
    $1 == "deb" {
      i = 2
      if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
      uri = $i; suite = $(i + 1); main = 0
      for (j = i + 2; j <= NF && $j !~ /^#/; j++) if ($j == "main") main = 1
      if (suite == codename && main && uri ~ /^(https?|ftp|file):/) { print uri; exit }
    }' "$1"
}

deb822() {
  awk -v codename="$codename" '
    function has(list, word,   n, k, words) { n = split(list, words, /[ \t]+/); for (k = 1; k <= n; k++) if (words[k] == word) return 1; return 0 }
    BEGIN { RS = "" }
    {
      delete field; key = ""
      n = split($0, lines, "\n")
      for (l = 1; l <= n; l++) {
        line = lines[l]
        if (line ~ /^#/) continue
        if (line ~ /^[ \t]/ && key != "") { field[key] = field[key] " " line; continue }
        colon = index(line, ":")
        if (colon == 0) continue
        key = tolower(substr(line, 1, colon - 1))
        field[key] = substr(line, colon + 1)
      }
      if (tolower(field["enabled"]) ~ /no/) next
      if (!has(field["types"], "deb") || !has(field["suites"], codename) || !has(field["components"], "main")) next
      n = split(field["uris"], uris, /[ \t]+/)
      for (u = 1; u <= n; u++) if (uris[u] ~ /^(https?|ftp|file):/) { print uris[u]; exit }
    }' "$1"
}

for file in "$apt_dir/sources.list" "$apt_dir"/sources.list.d/*; do
  [ -f "$file" ] || continue
  case "$file" in
    */sources.list | *.list) found="$(one_line "$file")" ;;
    *.sources) found="$(deb822 "$file")" ;;
    *) continue ;;
  esac
  if [ -n "$found" ]; then
    echo "$found"
    exit 0
  fi
done
