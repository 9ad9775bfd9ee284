# Background jobs, wait, subshells, $!, exit statuses of waited jobs.
(while [ ! -e go ]; do sleep 0.01; done; echo "background done") &
bg=$!
echo "foreground first"
touch go
wait $bg
echo "wait status: $?"
(exit 7) &
wait $!
echo "background exit: $?"
(echo sub; exit 3); echo "subshell: $?"
x=outer; (x=inner); echo "x=$x"
for i in 3 2 1; do (sleep 0.0$i; echo "job $i" >> jobs) & done; wait
sort jobs
echo "all jobs done"
# The shell may or may not print a "Terminated" notice, depending on when
# the job dies: keep its stderr out of the output.
sh -c 'sleep 10 & kill $!; wait $!; echo "killed job status: $?"' 2>/dev/null
