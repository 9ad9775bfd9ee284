# Signals in the shell: trap handlers, kill -s, EXIT trap, ignored traps
# inherited by children, status of a killed child.
trap 'echo "caught USR1"' USR1
kill -USR1 $$
trap 'echo "caught TERM"' TERM
kill -TERM $$
trap - USR1
sh -c 'kill -USR1 $$; echo not reached'; echo "child killed by USR1: $?"
trap '' INT
sh -c 'kill -INT $$; echo "INT ignored in child"'
trap 'echo "exit trap ran"' EXIT
echo "before exit"
exit 0
