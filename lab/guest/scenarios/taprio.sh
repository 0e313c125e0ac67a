# Smoke scenario: taprio (software mode, CLOCK_TAI) on a 4-queue veth, 40 us cycle:
# TC0 10 us, TC1 10 us, TC2+TC3 20 us. Pings through it, then reports `tc -s class show`.
# iproute2 matches keyword prefixes: a bare "a" would read as "address" and "b" as "broadcast",
# so every device name here follows an explicit name/dev keyword.
. /lab/repo/lab/guest/lib.sh
set -u

fail() {
  echo "taprio: $1"
  result "{\"ok\":false,\"stage\":$(json_str "$1"),\"output\":$(json_str "$2")}"
  exit 1
}

out=$(/bin/ip link add name a numtxqueues 4 numrxqueues 4 type veth peer name b numtxqueues 4 numrxqueues 4 2>&1) ||
  fail "ip link add" "$out"
/bin/ip netns add peer || fail "ip netns add" ""
/bin/ip link set dev b netns peer || fail "ip link set netns" ""
/bin/ip addr add 10.77.0.1/24 dev a
/bin/ip link set dev a up || fail "ip link set up" ""
/bin/ip -n peer addr add 10.77.0.2/24 dev b
/bin/ip -n peer link set dev b up || fail "ip link set up (peer)" ""
/bin/ip -n peer link set dev lo up

out=$(/bin/tc qdisc replace dev a parent root handle 100 taprio \
  num_tc 4 map 0 1 2 3 0 0 0 0 0 0 0 0 0 0 0 0 queues 1@0 1@1 1@2 1@3 \
  base-time 0 sched-entry S 01 10000 sched-entry S 02 10000 sched-entry S 0c 20000 \
  clockid CLOCK_TAI flags 0x0 2>&1) || fail "tc qdisc replace taprio" "$out"

ping -c 5 -i 0.2 -W 2 10.77.0.2 >/tmp/tsnlab/ping.out 2>&1
ping_rc=$?
cat /tmp/tsnlab/ping.out
received=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' /tmp/tsnlab/ping.out)

qdisc=$(/bin/tc qdisc show dev a)
classes=$(/bin/tc -s class show dev a) || fail "tc class show" "$classes"
echo "$qdisc"
echo "$classes"
class_lines=$(echo "$classes" | grep '^class ' | json_lines)
# Packets sent per class: the "Sent N bytes M pkt" line follows each class line.
sent=$(echo "$classes" | awk '
  /^class / { cls = $3 }
  /Sent [0-9]+ bytes [0-9]+ pkt/ { if (cls != "") { printf "%s\"%s\":%s", sep, cls, $4; sep = ","; cls = "" } }')
count=$(echo "$classes" | grep -c '^class taprio ')
# Per-child qdisc counters. On 6.1, `tc -s class show` repeats the root's totals for every class;
# the child qdiscs ("qdisc pfifo 0: parent 100:N") count what each class really sent.
qdisc_stats=$(/bin/tc -s qdisc show dev a)
child_sent=$(echo "$qdisc_stats" | awk '
  /^qdisc / { cls = ""; for (i = 1; i < NF; i++) if ($i == "parent") cls = $(i + 1) }
  /Sent [0-9]+ bytes [0-9]+ pkt/ { if (cls != "") { printf "%s\"%s\":%s", sep, cls, $4; sep = ","; cls = "" } }')

ok=false
[ "$count" -eq 4 ] && ok=true
result "{\"ok\":$ok,\"classCount\":$count,\"classes\":$class_lines,\"sentPackets\":{$sent},\"childSentPackets\":{$child_sent},\
\"qdisc\":$(echo "$qdisc" | json_lines),\"ping\":{\"ok\":$(json_bool $ping_rc),\"received\":${received:-0}}}"
[ "$ok" = true ]
