# Text applets: sed, awk, grep, sort options, uniq, od, printf.
printf 'line one\nline two\nthird line\n' > t
sed -n '2p' t
sed 's/line/LINE/g' t
sed '/two/d' t
awk '{print NR": "$NF}' t
awk 'BEGIN{s=0} {s+=length($0)} END{print "chars", s}' t
grep -n two t
grep -v line t; echo "grep -v status: $?"
grep -c line t
printf '3 c\n1 a\n2 b\n10 j\n' | sort -n -k1
printf '3 c\n1 a\n2 b\n10 j\n' | sort -k2 -r
printf 'x\nx\ny\nx\n' | uniq
printf 'AB' | od -An -tx1
printf '%5s|%-5s|%03d|%x\n' ab cd 7 255
echo "tail -c:" $(printf 'abcdef' | tail -c 3)
expr 6 \* 7
basename /a/b/c.txt .txt; dirname /a/b/c.txt
