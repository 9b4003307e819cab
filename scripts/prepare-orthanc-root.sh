#!/bin/sh
# Prepares a root folder holding Debian 13's Orthanc (1.12.x) and its DICOMweb and PostgreSQL plugins, for testing against a newer Orthanc
# than Debian 12's 1.10.1 without touching the system: `chroot DIR /usr/sbin/Orthanc` runs it.
# Usage (as root): scripts/prepare-orthanc-root.sh [DIR]   (default /var/cache/orthanc-recipes/trixie-root)
# A root that already runs Orthanc is kept; a missing or broken one is built again (about a
# minute and 400 MB). Needs Debian's debootstrap package.
set -eu
root="${1:-/var/cache/orthanc-recipes/trixie-root}"
# The plugins the tests load (DICOMweb, the PostgreSQL index) come along.
packages=orthanc,orthanc-dicomweb,orthanc-postgresql
plugins="$root/usr/share/orthanc/plugins"
if [ -x "$root/usr/sbin/Orthanc" ] && [ -e "$plugins/libOrthancDicomWeb.so" ] && [ -e "$plugins/libOrthancPostgreSQLIndex.so" ] &&
  chroot "$root" /usr/sbin/Orthanc --version >/dev/null 2>&1; then
  chroot "$root" /usr/sbin/Orthanc --version | sed -n 1p
  exit 0
fi
command -v debootstrap >/dev/null 2>&1 || { echo "debootstrap is missing: apt-get install -y debootstrap" >&2; exit 1; }
# The mirror this Debian system's apt already uses, if its sources name one (Debian's mirrors
# serve every release); otherwise debootstrap's own default.
mirror=""
if grep -Eq '^ID="?debian"?$' /etc/os-release 2>/dev/null; then
  mirror="$(sh "$(dirname "$0")/apt-debian-mirror.sh")"
fi
echo "debootstrap trixie into $root from ${mirror:-debootstrap's default mirror}"
building="$root.building"
rm -rf "$building" "$root"
mkdir -p "$(dirname "$root")"
for attempt in 1 2; do
  # An empty $mirror is left out, not passed as an empty argument.
  if debootstrap --variant=minbase --include=$packages trixie "$building" ${mirror:+"$mirror"} >"$building.log" 2>&1; then break; fi
  [ "$attempt" = 2 ] && { tail -20 "$building.log" >&2; exit 1; }
  rm -rf "$building"
done
mv "$building" "$root"
rm -f "$building.log"
chroot "$root" /usr/sbin/Orthanc --version | sed -n 1p
