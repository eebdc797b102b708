/*
 * qdir.h - Sendmail queue directories: layout, listing, claiming, queue IDs
 *
 * SUMMARY
 *	A QueueDir is one sendmail queue directory with its layout detected the
 *	way sendmail does it at start-up: qf/, df/ and xf/ subdirectories are
 *	each used if they exist (a symlink to a directory counts).  qdir_list()
 *	finds the control files; qdir_claim() takes one the way sendmail's
 *	queue runner does (open, size > 0, flock EX|NB, stat == fstat) and
 *	holds the lock until the claim is released.
 */
#ifndef MQSIFT_QUEUE_QDIR_H
#define MQSIFT_QUEUE_QDIR_H

#include <sys/stat.h>
#include <glib.h>

#include "queue/qf.h"

#define QDIR_ERROR (qdir_error_quark())
GQuark qdir_error_quark(void);

typedef enum {
	QDIR_ERROR_BUSY,       /* locked by someone else, being written, or replaced */
	QDIR_ERROR_GONE,       /* vanished (processed by someone else) */
	QDIR_ERROR_BROKEN,     /* unreadable or malformed; see the message */
	QDIR_ERROR_NO_DATA,    /* qf without its df */
	QDIR_ERROR_INCOMPLETE, /* locked, yet no final "." (a stuck or truncated file) */
	QDIR_ERROR_SYSTEM,     /* an operating system error */
} QdirError;

/* QueueLock - how the host's sendmail locks queue files */
typedef enum {
	QUEUE_LOCK_FLOCK, /* Debian: built with HASFLOCK */
	QUEUE_LOCK_POSIX, /* upstream Linux default: fcntl */
} QueueLock;

/* qdir_lock_from_name - queue.lock's value ("flock" | "posix") as a QueueLock */
QueueLock qdir_lock_from_name(const char *name);

typedef struct QueueDir QueueDir;

/*
 * qdir_open - detect the layout of the queue directory @path.
 * Returns a new QueueDir, or NULL with @error if @path is not a directory.
 */
QueueDir *qdir_open(const char *path, QueueLock lock, GError **error);

/* qdir_free - free and clear the caller's pointer */
void qdir_free(QueueDir **dir);

/* qdir_free_ptr - qdir_free() for g_autoptr(QueueDir) */
static inline void
qdir_free_ptr(QueueDir *p)
{
	qdir_free(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QueueDir, qdir_free_ptr)

/*
 * qdir_same_dir - TRUE if @a and @b are one directory (device and inode:
 * "/q", "/q/" and a symlink to /q are the same)
 */
gboolean qdir_same_dir(const QueueDir *a, const QueueDir *b);

/*
 * qdir_key - the directory's identity as a newly allocated string (its device
 * and inode, as qdir_same_dir compares them): the same however the path is
 * written, so it still names the queue after a SIGHUP spells it otherwise
 */
char *qdir_key(const QueueDir *dir);

/* qdir_path - the queue directory (borrowed) */
const char *qdir_path(const QueueDir *dir);

/* qdir_qf_dir / qdir_df_dir / qdir_xf_dir - where each kind of file lives (borrowed) */
const char *qdir_qf_dir(const QueueDir *dir);
const char *qdir_df_dir(const QueueDir *dir);
const char *qdir_xf_dir(const QueueDir *dir);

/*
 * qdir_file - path of the file with @prefix ("qf", "df", "tf", "xf", "cf", ...)
 * for queue ID @id; newly allocated.  @id must pass qdir_valid_id().  (The
 * df of a claimed message is claim->df_path: its qf may have a d record.)
 */
char *qdir_file(const QueueDir *dir, const char *prefix, const char *id);

/*
 * qdir_data_file - the df of message @id whose control file is @qf: with a
 * d record (the df lives in another queue directory, named relative to
 * sendmail's QueueDirectory: a sibling of @dir such as "q2", a queue group
 * below it, or "." for the base), in that directory's df/ or itself; else
 * where qdir_file() puts it.  Newly allocated; NULL with @error
 * (QDIR_ERROR_BROKEN) for a d record that names no queue directory, as
 * sendmail's readqf() refuses it.
 */
char *qdir_data_file(const QueueDir *dir, const char *id, const Qf *qf, GError **error);

/* qdir_valid_id - TRUE if @id is a plausible queue ID: [0-9A-Za-z], short enough */
gboolean qdir_valid_id(const char *id);

/*
 * qdir_list - IDs of the files named <prefix><ID> in the qf directory, sorted
 * by modification time (oldest first); caller owns the array.
 */
GPtrArray *qdir_list(const QueueDir *dir, const char *prefix, GError **error);

/* QueueClaim - a locked inbound message; owns the qf descriptor and lock */
typedef struct {
	QueueDir *dir; /* borrowed */
	char *id;
	char *qf_path;    /* current path of the control file */
	int qf_fd;        /* holds the lock */
	Qf *qf;           /* parsed control file */
	struct stat st;   /* of the qf when claimed */
	char *df_path;    /* the df, following the qf's d record if it has one */
	gboolean df_here; /* the df is df<ID> in the queue's df directory (no d record) */
} QueueClaim;

/*
 * qdir_claim_df_at - where the df of @claim is, for the *at calls: the df
 * directory's descriptor with its name in @name (a buffer of QDIR_NAME_MAX),
 * or AT_FDCWD with its path (a d record)
 */
int qdir_claim_df_at(const QueueClaim *claim, char *name, const char **at_name);

/*
 * qdir_claim - open, check, lock and parse qf<@id>.  Returns a new claim or
 * NULL with @error in QDIR_ERROR (BUSY and GONE are routine: try later).
 */
QueueClaim *qdir_claim(QueueDir *dir, const char *id, GError **error);

/* qdir_claim_release - unlock, close and free; clears the caller's pointer */
void qdir_claim_release(QueueClaim **claim);

/* qdir_claim_release_ptr - qdir_claim_release() for g_autoptr(QueueClaim) */
static inline void
qdir_claim_release_ptr(QueueClaim *p)
{
	qdir_claim_release(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QueueClaim, qdir_claim_release_ptr)

/*
 * qdir_claim_open_df - open the df of @claim read-only and set *@size to its
 * size.  Returns the descriptor (the caller's, to close), or -1 with @error
 * (QDIR_ERROR_NO_DATA: the body is missing or unreadable).
 */
int qdir_claim_open_df(const QueueClaim *claim, gint64 *size, GError **error);

/*
 * qdir_claim_read_message - the message of @claim as it arrived: the headers
 * of its qf as they will be delivered, an empty line, then its df; sets
 * *@df_size (unless NULL) to the df's size.  Returns a new GString, or NULL
 * with @error.
 */
GString *qdir_claim_read_message(const QueueClaim *claim, gsize *df_size, GError **error);

/*
 * qdir_claim_remove - remove the message of @claim from its queue, qf first,
 * then df and xf, under the lock (a file already gone is no error).  For a
 * message kept elsewhere (quarantined whole).  Returns FALSE with @error; the
 * claim stays the caller's either way.
 */
gboolean qdir_claim_remove(QueueClaim *claim, GError **error);

/* qdir_qf_mtime - TRUE and *@mtime (Unix time) if qf<@id> exists in @dir */
gboolean qdir_qf_mtime(const QueueDir *dir, const char *id, gint64 *mtime);

/* qdir_lock_fd - take the queue lock on @fd (flock or fcntl per the QueueDir) */
gboolean qdir_lock_fd(const QueueDir *dir, int fd, gboolean wait);

/*
 * qdir_new_id - a new queue ID in sendmail's format (time, sequence, pid);
 * the caller creates the files with O_EXCL and asks again on a clash.
 */
char *qdir_new_id(void);

/* qdir_qf_fd / qdir_df_fd / qdir_xf_fd - those directories, open (borrowed descriptors) */
int qdir_qf_fd(const QueueDir *dir);
int qdir_df_fd(const QueueDir *dir);
int qdir_xf_fd(const QueueDir *dir);

/* the longest file name qdir_name() makes, with its NUL */
#define QDIR_NAME_MAX 32

/* qdir_name - "<@prefix><@id>" (a name in one of the directories) into @buf; returns @buf */
const char *qdir_name(char buf[QDIR_NAME_MAX], const char *prefix, const char *id);

/* qdir_gid_inherited - TRUE if a file created in @dir gets qdir_gid() without a chown */
gboolean qdir_gid_inherited(const QueueDir *dir);

/* qdir_gid - the group of the queue directory (new files get it) */
gid_t qdir_gid(const QueueDir *dir);

/* qdir_same_fs - TRUE if both queues are on one filesystem (df files can be linked) */
gboolean qdir_same_fs(const QueueDir *a, const QueueDir *b);

#endif
