#!/bin/sh
# Makes sure the Debian packages that orthanc-recipes needs are installed: `orthanc` (the Orthanc
# server: the embedded Orthanc and the tests' real Orthanc), with --dcmtk `dcmtk` (storescu,
# storescp: the tests' DICOM peers), with --debootstrap `debootstrap` (for the Orthanc 1.12 root of
# scripts/prepare-orthanc-root.sh), with --chromium Debian's `chromium` (the dashboard's browser
# tests, driven by playwright-core: no browser download), with --postgresql PostgreSQL 15 and
# Orthanc's PostgreSQL index plugin (several Orthancs on one index; the state database), with
# --dicomweb Orthanc's DICOMweb plugin, with --prometheus `promtool` (Debian's `prometheus`), with
# --podman `podman` and `runc` (the container image's test), with --systemd `systemd-analyze` (and
# `python3`, for the readiness test's notify socket). As root on Debian or Ubuntu it installs
# what is missing (`apt-get update` once, then `apt-get install`); otherwise it says exactly what
# to install.
# It never starts the system's Orthanc service.
set -eu
missing=""
if ! command -v Orthanc >/dev/null 2>&1 && [ ! -x /usr/sbin/Orthanc ]; then missing="$missing orthanc"; fi
for option in "$@"; do
  case "$option" in
    --dcmtk) command -v storescu >/dev/null 2>&1 || missing="$missing dcmtk" ;;
    --debootstrap) command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap" ;;
    --chromium) command -v chromium >/dev/null 2>&1 || missing="$missing chromium" ;;
    --postgresql)
      [ -x /usr/lib/postgresql/15/bin/initdb ] || missing="$missing postgresql"
      [ -e /usr/share/orthanc/plugins/libOrthancPostgreSQLIndex.so ] || missing="$missing orthanc-postgresql" ;;
    --dicomweb) [ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || missing="$missing orthanc-dicomweb" ;;
    --prometheus) command -v promtool >/dev/null 2>&1 || missing="$missing prometheus" ;;
    --podman)
      command -v podman >/dev/null 2>&1 || missing="$missing podman"
      command -v runc >/dev/null 2>&1 || missing="$missing runc" ;;
    --systemd)
      command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd"
      # The readiness test binds a NOTIFY_SOCKET (a unix datagram socket) with python3.
      command -v python3 >/dev/null 2>&1 || missing="$missing python3" ;;
    *) echo "ensure-system-packages: unknown option $option" >&2; exit 2 ;;
  esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && grep -qiE '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release 2>/dev/null; then
  echo "orthanc-recipes: installing Debian packages:$missing"
  # Keep the package's own service from starting (and from taking port 8042): the host and the
  # tests start Orthanc themselves, on free ports.
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && guard=1
  fi
  status=0
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; } || status=$?
  [ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
  exit $status
fi
echo "orthanc-recipes needs the Debian packages:$missing" >&2
echo "Install them with:  sudo apt-get install -y$missing" >&2
echo "(Elsewhere: an Orthanc binary named Orthanc on PATH, and DCMTK's storescu for the tests.)" >&2
exit 1
