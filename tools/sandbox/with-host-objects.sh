#!/bin/sh
# Runs a command (e.g. `npm test`) on a "host" that has libvirt objects of its own: a persistent
# qemu domain (not started), a network, a directory pool, a secret and a network filter defined on
# qemu:///system, then checks that they are all still there afterwards and removes them.
#   tools/sandbox/with-host-objects.sh npm test
# As root. When no libvirtd serves qemu:///system, one is started with `libvirtd -d` for the run
# (and stopped after). By default the whole thing happens in a private mount namespace whose
# /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt are copies,
# so other users of this machine never see the objects; HOST_OBJECTS_IN_PLACE=1 uses the real ones.
set -eu
if [ "${HOST_OBJECTS_IN_PLACE:-}" != 1 ] && [ "${HOST_OBJECTS_NS:-}" != 1 ]; then
  work=$(mktemp -d /tmp/host-objects-XXXXXX)
  trap 'rm -rf "$work"' EXIT
  export HOST_OBJECTS_NS=1 HOST_OBJECTS_WORK="$work"
  unshare -m --propagation private sh -c '
    set -e
    cp -a /etc/libvirt "$HOST_OBJECTS_WORK/etc"
    mount --bind "$HOST_OBJECTS_WORK/etc" /etc/libvirt
    for d in /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
      m="$HOST_OBJECTS_WORK/$(echo "$d" | tr / _)"
      mkdir -p "$m" "$d"
      [ "$d" = /var/lib/libvirt ] && cp -a /var/lib/libvirt/. "$m"/
      mount --bind "$m" "$d"
    done
    exec "$0" "$@"' "$0" "$@"
  exit $?
fi

work=${HOST_OBJECTS_WORK:-$(mktemp -d /tmp/host-objects-XXXXXX)}
v() { virsh -q -c qemu:///system "$@"; }
started=
if ! v uri >/dev/null 2>&1; then
  libvirtd -d -p "$work/libvirtd.pid"
  i=0
  until v uri >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 300 ] || { echo "libvirtd did not start" >&2; exit 1; }
    sleep 0.1
  done
  started=1
fi

mkdir -p "$work/pool"
cat >"$work/dom.xml" <<'EOF'
<domain type='qemu'><name>host-vm</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>
EOF
cat >"$work/net.xml" <<'EOF'
<network><name>host-net</name><bridge name='hostnet0'/></network>
EOF
cat >"$work/pool.xml" <<EOF
<pool type='dir'><name>host-pool</name><target><path>$work/pool</path></target></pool>
EOF
cat >"$work/secret.xml" <<'EOF'
<secret ephemeral='no' private='no'><uuid>0e1d5a8c-4c3b-4a8e-9d5f-1b2c3d4e5f60</uuid><usage type='volume'><volume>/host/volume</volume></usage></secret>
EOF
cat >"$work/filter.xml" <<'EOF'
<filter name='host-filter' chain='root'><rule action='accept' direction='in'><all/></rule></filter>
EOF
v define "$work/dom.xml" >/dev/null
v net-define "$work/net.xml" >/dev/null
v pool-define "$work/pool.xml" >/dev/null
v secret-define "$work/secret.xml" >/dev/null
v nwfilter-define "$work/filter.xml" >/dev/null
echo "host objects defined: host-vm, host-net, host-pool, secret 0e1d5a8c-…, host-filter"

status=0
"$@" || status=$?

missing=
v list --all --name | tr -d " " | grep -qx host-vm || missing="$missing host-vm"
v net-list --all --name | tr -d " " | grep -qx host-net || missing="$missing host-net"
v pool-list --all --name | tr -d " " | grep -qx host-pool || missing="$missing host-pool"
v secret-list | grep -q 0e1d5a8c-4c3b-4a8e-9d5f-1b2c3d4e5f60 || missing="$missing secret"
v nwfilter-list | grep -q host-filter || missing="$missing host-filter"
v undefine host-vm >/dev/null || true
v net-undefine host-net >/dev/null || true
v pool-undefine host-pool >/dev/null || true
v secret-undefine 0e1d5a8c-4c3b-4a8e-9d5f-1b2c3d4e5f60 >/dev/null || true
v nwfilter-undefine host-filter >/dev/null || true
if [ -n "$started" ]; then kill "$(cat "$work/libvirtd.pid")"; fi
if [ -n "$missing" ]; then
  echo "host objects gone after the run:$missing" >&2
  exit 1
fi
echo "host objects still there after the run; removed"
exit $status
