#!/bin/sh
# /init of the tsn-proxy lab initramfs: busybox sh as PID 1.
# Mounts the pseudo filesystems, loads the modules listed in /etc/lab/modules (dependencies first,
# resolved on the host), mounts the host's 9p share (tag "lab") read-only at /lab, runs the script
# named by the kernel command line word lab_script=... and powers off. Every line meant for the
# host starts with "TSNLAB " and carries one JSON object (see lab/protocol.ts).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

# JSON string body: drop control characters, escape backslash and quote, join lines with \n.
json_esc() {
  printf '%s' "$1" | tr -d '\000-\010\013-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' |
    awk 'BEGIN { ORS = "" } { if (NR > 1) print "\\n"; print }'
}

fail() {
  echo "TSNLAB {\"event\":\"error\",\"stage\":\"$1\",\"message\":\"$(json_esc "$2")\"}"
  dmesg 2>/dev/null | tail -n 25 | sed 's/^/dmesg: /'
  sync
  poweroff -f
  sleep 5
  exit 1
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t bpf -o mode=0700 bpf /sys/fs/bpf || fail mount "cannot mount bpffs at /sys/fs/bpf"
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
# Only emergencies on the console from now on: kernel lines must not split TSNLAB lines.
dmesg -n 1

read -r up _ </proc/uptime
echo "TSNLAB {\"event\":\"init\",\"release\":\"$(json_esc "$(uname -r)")\",\"version\":\"$(json_esc "$(uname -v)")\",\"uptime\":$up}"

count=0
while read -r mod; do
  [ -n "$mod" ] || continue
  out=$(insmod "/lib/modules/$mod" 2>&1) || fail modules "insmod ${mod##*/} failed: $out"
  count=$((count + 1))
done </etc/lab/modules

mkdir -p /lab
out=$(mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache=loose lab /lab 2>&1) ||
  fail share "cannot mount the 9p share (tag lab) at /lab: $out"
/bin/ip link set lo up

read -r up _ </proc/uptime
echo "TSNLAB {\"event\":\"ready\",\"modules\":$count,\"uptime\":$up}"

[ -n "$lab_script" ] || fail script "no lab_script= word on the kernel command line"
[ -f "$lab_script" ] || fail script "lab_script $lab_script does not exist"
sh "$lab_script"
rc=$?
echo "TSNLAB {\"event\":\"exit\",\"code\":$rc}"
sync
poweroff -f
sleep 5
