/*
 * sandbox.h - what a scan worker can reach: nothing but its scratch directory
 *
 * SUMMARY
 *	A worker parses mail from strangers, so a bug in GMime or libclamav
 *	must not give the sender anything.  After the fork, in this order:
 *	  1. while still root: a private, empty network namespace (and IPC,
 *	     UTS and mount ones), so no socket leads anywhere, and its scratch
 *	     directory, scanner.tmpdir/w<pid>, mounted as a tmpfs of its own;
 *	  2. the privilege drop (worker_drop_privileges, no-new-privileges);
 *	  3. its own scratch directory (made here, mode 0700, if step 1 could
 *	     not mount one), which libclamav's temporary files go to;
 *	  4. resource limits: address space (scanner.max_memory), CPU time
 *	     per message, open files, file size, no core dumps;
 *	  5. Landlock, where the kernel has it: the scratch directory
 *	     read-write, a few read-only paths (templates, filename rules,
 *	     iconv modules, time zones), nothing else; TCP denied (ABI 4) and
 *	     signals and abstract sockets outside the worker denied (ABI 6);
 *	  6. a seccomp filter (libseccomp): the system calls scanning needs;
 *	     socket(), kill() of another process, unshare(), namespaces,
 *	     ptrace and exec refused with EPERM; anything not on the list
 *	     kills the worker (its message is retried, then quarantined:
 *	     a scan never ends as "clean" because a call was refused).
 *
 *	The master prepares the scratch directory's parent without following
 *	symbolic links (sandbox_scratch_prepare) and refuses one it does not
 *	trust.
 */
#ifndef MQSIFT_SCANNER_SANDBOX_H
#define MQSIFT_SCANNER_SANDBOX_H

#include <sys/types.h>
#include <glib.h>

#include "config/config.h"

/* SandboxStatus - which protections a worker got (for the log and lint) */
typedef struct {
	gboolean netns;         /* private network (and IPC, UTS, mount) namespaces */
	gboolean private_tmpfs; /* the scratch directory is a tmpfs only this worker sees */
	gboolean seccomp;       /* the filter is loaded */
	int landlock_abi;       /* the kernel's Landlock ABI, 0 if none */
	gboolean landlock;      /* the ruleset is enforced */
	gboolean rlimits;       /* resource limits set */
	guint64 max_memory;     /* RLIMIT_AS set, 0 if none */
	char *scratch;          /* the worker's own scratch directory, or NULL */
} SandboxStatus;

/* sandbox_status_clear - free what @status holds */
void sandbox_status_clear(SandboxStatus *status);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(SandboxStatus, sandbox_status_clear)

/*
 * sandbox_scratch_base - the directory the workers' scratch directories go
 * in: scanner.tmpdir, or when it is the default and /run is absent,
 * /var/lib/mqsift/tmp.  Returns a new string.
 */
char *sandbox_scratch_base(const MqConfig *config);

/*
 * sandbox_scratch_prepare - create (or check) the base directory for the
 * workers of @uid/@gid: its parent must be a directory owned by root and
 * not writable by others (or sticky and root-owned); the base itself is
 * created with mkdir, never through a symbolic link, and must end up a
 * real directory owned by @uid with mode 0700.  A base that exists with
 * another owner, or as a symlink, is refused.  FALSE with @error.
 */
gboolean sandbox_scratch_prepare(const char *base, uid_t uid, gid_t gid, GError **error);

/* sandbox_scratch_check - FALSE with @error if sandbox_scratch_prepare would
 * refuse @base (for lint: nothing is created or changed) */
gboolean sandbox_scratch_check(const char *base, uid_t uid, GError **error);

/*
 * sandbox_scratch_free_space - bytes available under @base, or -1; @warn_below
 * logs a warning when less is free
 */
gint64 sandbox_scratch_free_space(const char *base, guint64 warn_below);

/*
 * sandbox_enter_as_root - step 1, in the forked worker before the privilege
 * drop: new network, IPC, UTS and mount namespaces, and base/w<pid> made
 * and mounted as a private tmpfs (sized beyond libclamav's limits, so that
 * nobody else - and no scan of its own - can fill it).  Fills @status.
 * FALSE with @error if the namespaces cannot be made.
 */
gboolean sandbox_enter_as_root(const MqConfig *config, const char *base, SandboxStatus *status,
                               GError **error);

/*
 * sandbox_enter - steps 3 to 6, after the privilege drop: the scratch
 * directory under @base (its path in @status->scratch), limits, Landlock,
 * seccomp.  FALSE with @error if a protection the kernel offers cannot be
 * set up (the worker must then exit).
 */
gboolean sandbox_enter(const MqConfig *config, const char *base, SandboxStatus *status,
                       GError **error);

/*
 * sandbox_message_begin - before each message: allow it scanner.max_scan_time
 * seconds (twice, at least 10 s) more CPU time than used so far.
 */
void sandbox_message_begin(const MqConfig *config);

/* sandbox_landlock_abi - the kernel's Landlock ABI version, 0 if none */
int sandbox_landlock_abi(void);

/* sandbox_describe - one line for lint: what a worker would get here */
char *sandbox_describe(const MqConfig *config);

#endif
