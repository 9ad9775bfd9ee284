# Redirections: >, >>, <, 2>, 2>&1, here-documents, fd duplication.
echo first > out
echo second >> out
cat out
wc -l < out
ls /nonexistent 2> err; echo "stderr to file: $(wc -l < err) line"
{ echo to-stdout; echo to-stderr >&2; } > both 2>&1
sort both
cat <<EOT
here-doc line 1
here-doc with \$x=$((1 + 1))
EOT
cat <<'EOT'
quoted $not_expanded
EOT
exec 3> fd3
echo via-fd3 >&3
exec 3>&-
cat fd3
: > empty; [ -s empty ] || echo "empty is empty"
echo data | { read line; echo "read: $line"; }
