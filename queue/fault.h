/*
 * fault.h - fault-injection points for the crash and full-disk tests
 *
 * SUMMARY
 *	The environment variable MQSIFT_FAULT names one point, e.g.
 *	"commit:after-tf" or "write".  fault_point() kills the process with
 *	SIGKILL when its name matches (the crash tests); fault_should_fail()
 *	returns TRUE (the write then fails as on a full disk).  An "@N" suffix
 *	lets the point pass N times before it fires.  Without the variable both
 *	cost one branch.
 */
#ifndef MQSIFT_QUEUE_FAULT_H
#define MQSIFT_QUEUE_FAULT_H

#include <glib.h>

/* fault_point - SIGKILL this process if MQSIFT_FAULT names @name */
void fault_point(const char *name);

/*
 * fault_armed - TRUE if MQSIFT_FAULT names @name, whatever its skip count
 * (counts nothing): for a check too costly to run when no test asks for it
 */
gboolean fault_armed(const char *name);

/* fault_should_fail - TRUE if MQSIFT_FAULT names @name (simulated failure) */
gboolean fault_should_fail(const char *name);

/* fault_arm - arm @spec ("NAME" or "NAME@N") in this process, as MQSIFT_FAULT would; NULL disarms
 */
void fault_arm(const char *spec);

/*
 * fault_trace - record "@op @path" in the log given to fault_trace_start(),
 * if any: the durable operations (rename, unlink, directory fsync, mkdir,
 * ...) in the order they happen, for tests that check that order.
 */
void fault_trace(const char *op, const char *path);

/* fault_trace_start - record into @log (a GPtrArray of strings, g_free'd); NULL stops */
void fault_trace_start(GPtrArray *log);

#endif
