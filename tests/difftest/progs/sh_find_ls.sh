# A directory tree made by the script, listed with find and ls.
mkdir -p tree/a/b tree/c
echo one > tree/a/one.txt
echo two > tree/a/b/two.txt
echo three > tree/c/three.log
ln -s ../a/one.txt tree/c/link
find tree | sort
echo ---
find tree -name '*.txt' | sort
echo ---
find tree -type d | sort
echo ---
find tree -type l
echo ---
ls tree
ls -1 tree/a
ls -F tree/c | sort
ls -l tree/c/link | awk '{print $1, $(NF-2), $(NF-1), $NF}'
ls -ld tree/a | cut -c1-10
ls -la tree/a | awk 'NR > 1 {print $1, $NF}'
ls nonexistent 2>/dev/null; echo "ls missing: $?"
du -s tree >/dev/null && echo "du ran"
