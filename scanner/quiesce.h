/*
 * quiesce.h - fork safely from a master that runs threads
 *
 * SUMMARY
 *	A child made by fork() has one thread, and every lock another thread
 *	held at that instant stays held in it for ever: the allocator's, GLib's
 *	log lock, a library's own.  A scan worker forked while the spam thread
 *	was in malloc hung on its first allocation until
 *	scanner.message_timeout killed it (seen with AddressSanitizer, whose
 *	allocator does not prepare for fork).  So the master's threads register
 *	here, and quiesce_fork() parks every one of them at a point where it
 *	holds nothing before it forks, and lets them go on after.
 *
 *	A thread with a loop calls quiesce_point() at the top of it, where it
 *	holds no lock and is in no library call, gives a wake function that
 *	brings it there soon (it pokes the descriptor its poll waits on), and
 *	calls quiesce_leave() when it ends, whatever ends it.
 *
 *	A long job with no such point (the signature reload) runs in a thread
 *	this module starts (quiesce_job_start): until its function returns
 *	quiesce_busy() is TRUE, and the pool puts off its forks; a fork that
 *	cannot wait (a new pool) waits for that end.  Every fork joins a
 *	finished job first: a thread that has returned may still be in its
 *	libraries' teardown.
 *
 *	Only the master thread registers, starts, joins, frees and forks.  The
 *	child never uses the registry it inherits.  Threads that live only
 *	inside one call of the master thread (the flush threads of a commit)
 *	need not register: the master cannot fork while they run.
 */
#ifndef MQSIFT_SCANNER_QUIESCE_H
#define MQSIFT_SCANNER_QUIESCE_H

#include <glib.h>
#include <sys/types.h>

typedef struct Quiesce Quiesce;

/* QuiesceWake - make the thread reach its quiesce_point() soon */
typedef void (*QuiesceWake)(gpointer data);

/* quiesce_new - register a looping thread before it starts (@name for the log) */
Quiesce *quiesce_new(const char *name, QuiesceWake wake, gpointer data);

/* quiesce_free - unregister (the thread has been joined) and clear the pointer */
void quiesce_free(Quiesce **q);

/* quiesce_point - the thread's side: park here while a fork is under way */
void quiesce_point(Quiesce *q);

/* quiesce_leave - the thread's side: it ends, and holds nothing from now on */
void quiesce_leave(Quiesce *q);

/* quiesce_job_start - run @func(@data) in a thread of its own, registered as a long job */
Quiesce *quiesce_job_start(const char *name, GThreadFunc func, gpointer data);

/* quiesce_job_done - TRUE once the job's function has returned */
gboolean quiesce_job_done(Quiesce *job);

/* quiesce_job_finish - wait for the job's end, join it (unless a fork did), unregister, clear */
void quiesce_job_finish(Quiesce **job);

/* quiesce_busy - TRUE while a long job runs: a fork now would wait for its end */
gboolean quiesce_busy(void);

/*
 * quiesce_fork - fork() with every registered thread parked (a long job
 * joined first); in the parent they go on once the child exists.  Returns
 * what fork() returns, errno intact.
 */
pid_t quiesce_fork(void);

#endif
