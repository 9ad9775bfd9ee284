# busybox nproc: the processors the shell may run on (sched_getaffinity),
# as many as /proc/cpuinfo lists; --ignore never goes below 1.
n=$(nproc)
echo "nproc: $n"
[ "$n" -ge 1 ] && echo "at least one"
[ "$(grep -c '^processor' /proc/cpuinfo)" = "$n" ] && echo "/proc/cpuinfo agrees"
echo "nproc --ignore=64: $(nproc --ignore=64)"
