# Smoke scenario: what kernel booted, and whether BTF and bpffs are there.
. /lab/repo/lab/guest/lib.sh

btf=1
[ -r /sys/kernel/btf/vmlinux ] && btf=0
btf_bytes=$(wc -c </sys/kernel/btf/vmlinux 2>/dev/null || echo 0)
grep -q ' /sys/fs/bpf bpf ' /proc/mounts
bpffs=$?
mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
loaded=$(awk '{ print $1 }' /proc/modules | sort | json_lines)

result "{\"release\":$(json_str "$(uname -r)"),\"version\":$(json_str "$(uname -v)"),\
\"machine\":$(json_str "$(uname -m)"),\"btf\":$(json_bool $btf),\"btfBytes\":$btf_bytes,\
\"bpffs\":$(json_bool $bpffs),\"cpus\":$(nproc),\"memKb\":$mem_kb,\
\"cmdline\":$(json_str "$(cat /proc/cmdline)"),\"modules\":$(cat /etc/lab/modules.json),\
\"loaded\":$loaded}"
