/* Nested handlers: a signal arriving in another's handler, SA_NODEFER
 * letting a handler interrupt itself, the alternate signal stack. */
#include "dt.h"

static char trace[64];
static int n;
static void add(char c) { if (n < 63) trace[n++] = c; }

static void inner(int s) { (void)s; add('i'); }
static void outer(int s)
{
	(void)s;
	add('(');
	raise(SIGUSR2);
	add(')');
}

static int depth, calls;
static void recursive(int s)
{
	add('0' + depth);
	depth++;
	if (++calls < 3)
		raise(s); /* nested with SA_NODEFER, after we return without */
	depth--;
}

static char *stack_lo, *stack_hi;
static int on_alt;
static void alt(int s)
{
	(void)s;
	char here;
	on_alt = &here >= stack_lo && &here < stack_hi;
}

int main(void)
{
	signal(SIGUSR1, outer);
	signal(SIGUSR2, inner);
	raise(SIGUSR1);
	add('|');
	struct sigaction sa = {.sa_handler = outer};
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	add('|');
	struct sigaction r = {.sa_handler = recursive, .sa_flags = SA_NODEFER};
	sigaction(SIGHUP, &r, NULL);
	raise(SIGHUP);
	add('|');
	r.sa_flags = 0;
	calls = 0;
	sigaction(SIGHUP, &r, NULL);
	raise(SIGHUP);
	printf("trace: %s\n", trace);
	static char altstack[65536];
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
	stack_lo = altstack;
	stack_hi = altstack + sizeof altstack;
	result("sigaltstack", sigaltstack(&ss, NULL));
	struct sigaction a = {.sa_handler = alt, .sa_flags = SA_ONSTACK};
	sigaction(SIGWINCH, &a, NULL);
	raise(SIGWINCH);
	yesno("handler ran on the alternate stack", on_alt);
	stack_t cur;
	sigaltstack(NULL, &cur);
	yesno("not on it now", !(cur.ss_flags & SS_ONSTACK));
	stack_t tiny = {.ss_sp = altstack, .ss_size = 16};
	result("sigaltstack too small", sigaltstack(&tiny, NULL));
	return 0;
}
