# busybox sh: variables, arithmetic, conditionals, loops, functions,
# exit statuses, sh -c, quoting.
x=3; y=4
echo "sum $((x + y)) product $((x * y)) mod $((17 % 5))"
if [ "$x" -lt "$y" ]; then echo "3 < 4"; fi
for w in alpha beta gamma; do printf '%s;' "$w"; done; echo
i=0; while [ $i -lt 5 ]; do i=$((i + 1)); done; echo "i=$i"
f() { echo "f got $# args: $*"; return 3; }
f a "b c" d; echo "f returned $?"
sh -c 'exit 42'; echo "sh -c exit: $?"
sh -c 'echo "inner sees $0 $1"' zero one
false || echo "false || runs"
true && echo "true && runs"
! false && echo "negation"
case "hello.c" in *.c) echo "case matched .c";; *) echo no;; esac
v="a b  c"; set -- $v; echo "split into $#"
echo "${undefined:-default} ${#v}"
s="path/to/file.txt"; echo "${s##*/} ${s%.*}"
echo "$(echo nested $(echo deep))"
exit 5
