# File applets: cp, mv, rm, ln, cat, test, stat, chmod, touch, mkdir -p.
mkdir -p a/b/c
echo hello > a/f
cp a/f a/g && cat a/g
mv a/g a/b/h && ls a/b
ln -s f a/s && cat a/s
ln a/f a/hard && stat -c '%h %s %F' a/f
[ -f a/f ] && echo "test -f"
[ -d a/b ] && echo "test -d"
[ -L a/s ] && echo "test -L"
[ -x a/f ] || echo "not executable"
chmod 750 a/f && stat -c '%a %A' a/f
touch -d '2001-02-03 04:05:06' a/f && stat -c '%Y' a/f
cp -r a copy && find copy | sort
rm -r copy && [ ! -e copy ] && echo "rm -r"
rm a/f && cat a/hard
echo 0123456789 > big; truncate -s 4 big 2>/dev/null || dd if=big of=big2 bs=4 count=1 2>/dev/null; cat big2 2>/dev/null || cat big; echo
dd if=/dev/zero bs=512 count=3 2>/dev/null | wc -c
mkdir x && rmdir x && echo "mkdir/rmdir"
readlink a/s
realpath a/b/../s | sed "s|$(pwd)|.|"
