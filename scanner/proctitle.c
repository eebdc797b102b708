/*
 * proctitle.c - process titles over the argv area
 *
 * DESCRIPTION
 *	The area runs from argv[0] to the end of the last string that follows
 *	the previous one without a gap: the argv strings, then the environ
 *	strings, which the kernel lays out right after them.  Its last byte is
 *	always left NUL.  When a title is no longer than the argv strings were,
 *	/proc/PID/cmdline is the title followed by NUL bytes; when it runs into
 *	the environ strings, the kernel sees the last argv byte changed and
 *	reads the title up to its NUL (the setproctitle case of
 *	get_mm_cmdline()).
 */
#include "mqsift-build.h"

#include "scanner/proctitle.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

extern char **environ;

static char *area;           /* the first byte of the argv strings */
static gsize area_size;      /* up to and with the NUL of the last contiguous string */
static char **saved_environ; /* the copies, kept reachable */
static char **saved_argv;    /* (option parsing drops some from argv itself) */

/* proctitle_init - move argv and environ aside, keep their area */
void
proctitle_init(int argc, char **argv)
{
	if (area != NULL || argc < 1 || argv == NULL || argv[0] == NULL)
		return;
	char *start = argv[0], *end = NULL;
	for (int i = 0; i < argc && argv[i] != NULL; i++)
		if (i == 0 || argv[i] == end + 1)
			end = argv[i] + strlen(argv[i]);
	guint n = environ ? g_strv_length(environ) : 0;
	for (guint i = 0; i < n; i++)
		if (environ[i] == end + 1)
			end = environ[i] + strlen(environ[i]);
	/* the copies: whoever reads argv or the environment from now on */
	saved_environ = g_new0(char *, n + 1);
	for (guint i = 0; i < n; i++)
		saved_environ[i] = g_strdup(environ[i]);
	environ = saved_environ;
	saved_argv = g_new0(char *, (gsize)argc + 1);
	for (int i = 0; i < argc && argv[i] != NULL; i++)
		argv[i] = saved_argv[i] = g_strdup(argv[i]);
	area = start;
	area_size = (gsize)(end - start) + 1;
}

/* proctitle_set - write the title over the area, NUL-padded */
void
proctitle_set(const char *fmt, ...)
{
	va_list ap;

	if (area == NULL)
		return;
	va_start(ap, fmt);
	/* vsnprintf: a plain memory write (the worker's seccomp filter allows
	 * no more), truncated, and the area's last byte stays NUL */
	int n = vsnprintf(area, area_size, fmt, ap);
	va_end(ap);
	gsize used = n < 0 ? 0 : MIN((gsize)n, area_size - 1);
	memset(area + used, 0, area_size - used);
}

/* proctitle_size - the area's bytes less the final NUL */
gsize
proctitle_size(void)
{
	return area_size ? area_size - 1 : 0;
}

/* proctitle_name - comm, for top and ps -o comm */
void
proctitle_name(const char *name)
{
	prctl(PR_SET_NAME, name, 0, 0, 0);
}
