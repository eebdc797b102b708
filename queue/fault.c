/*
 * fault.c - named fault-injection points, driven by MQSIFT_FAULT
 */
#include "mqsift-build.h"

#include "queue/fault.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *fault_name;
static long fault_skip;
static gboolean fault_loaded;
static GPtrArray *fault_log;

/* fault_parse - NAME or NAME@N (fire on the N+1th hit) */
static void
fault_parse(const char *env)
{
	g_free((char *)fault_name);
	fault_name = NULL;
	fault_skip = 0;
	fault_loaded = TRUE;
	if (env == NULL || *env == '\0')
		return;
	const char *at = strchr(env, '@');
	if (at != NULL) {
		fault_name = g_strndup(env, (gsize)(at - env));
		fault_skip = strtol(at + 1, NULL, 10);
	} else {
		fault_name = g_strdup(env);
	}
}

/* fault_load - read MQSIFT_FAULT once */
static void
fault_load(void)
{
	fault_parse(getenv("MQSIFT_FAULT"));
}

/* fault_arm - set the armed point directly (tests) */
void
fault_arm(const char *spec)
{
	fault_parse(spec);
}

/* fault_armed - see fault.h */
gboolean
fault_armed(const char *name)
{
	if (!fault_loaded)
		fault_load();
	return fault_name != NULL && strcmp(fault_name, name) == 0;
}

/* fault_matches - whether @name is the armed point and its skip count is spent */
static gboolean
fault_matches(const char *name)
{
	if (!fault_armed(name))
		return FALSE;
	if (fault_skip > 0) {
		fault_skip--;
		return FALSE;
	}
	return TRUE;
}

/* fault_point - crash here if armed */
void
fault_point(const char *name)
{
	if (fault_matches(name))
		kill(getpid(), SIGKILL);
}

/* fault_should_fail - simulated failure here if armed */
gboolean
fault_should_fail(const char *name)
{
	return fault_matches(name);
}

/* fault_trace_start - where fault_trace() records (tests) */
void
fault_trace_start(GPtrArray *log)
{
	fault_log = log;
}

/* fault_trace - record one durable operation, if a test asked for it */
void
fault_trace(const char *op, const char *path)
{
	if (fault_log != NULL)
		g_ptr_array_add(fault_log, g_strdup_printf("%s %s", op, path));
}
