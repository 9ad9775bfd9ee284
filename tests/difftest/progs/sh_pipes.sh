# Pipelines through busybox applets: tr, sort, uniq, wc, head, tail,
# cut, grep; exit status of a pipeline is the last command's.
echo a | tr a b
printf 'banana\napple\ncherry\napple\n' | sort | uniq -c | sed 's/^ *//'
printf 'one two three\nfour five\n' | wc -w
printf 'one two three\nfour five\n' | wc -l
seq 1 100 | tail -n 3 | tr '\n' ' '; echo
seq 1 100 | head -n 2
echo 'a:b:c:d' | cut -d: -f2,4
seq 1 20 | grep -c 1
seq 1 1000 | sort -rn | head -1
echo "hello world" | tr 'a-z' 'A-Z' | rev
yes hello | head -n 3
false | true; echo "pipeline status: $?"
true | false; echo "pipeline status: $?"
seq 1 5000 | md5sum | cut -c1-32
