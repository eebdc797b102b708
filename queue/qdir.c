/*
 * qdir.c - queue directory layout, listing, claiming and queue IDs
 *
 * DESCRIPTION
 *	Claiming follows sendmail's readqf() and the recommended algorithm of
 *	doc/design.md, "Sendmail queue files".  A zero-size qf is being
 *	created by an SMTP child and is left alone (locking it could make that
 *	child fail its own LOCK_NB).
 */
#include "mqsift-build.h"

#include "queue/qdir.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "queue/durable.h"
#include "queue/fault.h"
#include "queue/fdread.h"

#define MAXQFNAME 21 /* sendmail's conf.h: a queue file name is shorter */
#define MAX_QF_SIZE (16 * 1024 * 1024)

struct QueueDir {
	char *path;
	char *qf_dir;
	char *df_dir;
	char *xf_dir;
	int qf_fd, df_fd, xf_fd; /* the three directories, held open for the *at calls */
	QueueLock lock;
	struct stat st;
};

/* qdir_error_quark - the error domain */
/* clang-format off */
G_DEFINE_QUARK(mqsift-qdir-error-quark, qdir_error)
/* clang-format on */

/* qdir_lock_from_name - the configuration's name of a lock type */
QueueLock
qdir_lock_from_name(const char *name)
{
	return g_strcmp0(name, "posix") == 0 ? QUEUE_LOCK_POSIX : QUEUE_LOCK_FLOCK;
}

/* sub_or_self -  @path/@sub if that is a directory (following links), else @path */
static char *
sub_or_self(const char *path, const char *sub)
{
	char *p = g_build_filename(path, sub, NULL);
	struct stat st;

	if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
		return p;
	g_free(p);
	return g_strdup(path);
}

/* qdir_open - detect a queue directory's layout */
QueueDir *
qdir_open(const char *path, QueueLock lock, GError **error)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_SYSTEM, "queue directory %s: %s", path,
		            g_strerror(errno));
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_SYSTEM,
		            "queue directory %s: not a directory", path);
		return NULL;
	}
	QueueDir *dir = g_new0(QueueDir, 1);
	dir->path = g_strdup(path);
	dir->qf_dir = sub_or_self(path, "qf");
	dir->df_dir = sub_or_self(path, "df");
	dir->xf_dir = sub_or_self(path, "xf");
	dir->lock = lock;
	dir->st = st;
	dir->qf_fd = open(dir->qf_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir->df_fd = open(dir->df_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir->xf_fd = open(dir->xf_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir->qf_fd < 0 || dir->df_fd < 0 || dir->xf_fd < 0) {
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_SYSTEM, "queue directory %s: %s", path,
		            g_strerror(errno));
		qdir_free(&dir);
		return NULL;
	}
	return dir;
}

/* qdir_free - free and clear */
void
qdir_free(QueueDir **dir)
{
	if (dir == NULL || *dir == NULL)
		return;
	if ((*dir)->qf_fd >= 0)
		close((*dir)->qf_fd);
	if ((*dir)->df_fd >= 0)
		close((*dir)->df_fd);
	if ((*dir)->xf_fd >= 0)
		close((*dir)->xf_fd);
	g_free((*dir)->path);
	g_free((*dir)->qf_dir);
	g_free((*dir)->df_dir);
	g_free((*dir)->xf_dir);
	g_free(*dir);
	*dir = NULL;
}

/* qdir_path - accessor */
const char *
qdir_path(const QueueDir *dir)
{
	return dir->path;
}

/* qdir_qf_dir - accessor */
const char *
qdir_qf_dir(const QueueDir *dir)
{
	return dir->qf_dir;
}

/* qdir_df_dir - accessor */
const char *
qdir_df_dir(const QueueDir *dir)
{
	return dir->df_dir;
}

/* qdir_xf_dir - accessor */
const char *
qdir_xf_dir(const QueueDir *dir)
{
	return dir->xf_dir;
}

/* qdir_qf_fd - accessor */
int
qdir_qf_fd(const QueueDir *dir)
{
	return dir->qf_fd;
}

/* qdir_df_fd - accessor */
int
qdir_df_fd(const QueueDir *dir)
{
	return dir->df_fd;
}

/* qdir_xf_fd - accessor */
int
qdir_xf_fd(const QueueDir *dir)
{
	return dir->xf_fd;
}

/* qdir_name - "<prefix><id>" into @buf */
const char *
qdir_name(char buf[QDIR_NAME_MAX], const char *prefix, const char *id)
{
	g_snprintf(buf, QDIR_NAME_MAX, "%s%s", prefix, id);
	return buf;
}

/* qdir_gid_inherited - a new file gets the directory's group without a chown */
gboolean
qdir_gid_inherited(const QueueDir *dir)
{
	return (dir->st.st_mode & S_ISGID) != 0 || dir->st.st_gid == getegid();
}

/* qdir_gid - the directory's group */
gid_t
qdir_gid(const QueueDir *dir)
{
	return dir->st.st_gid;
}

/* qdir_same_fs - one filesystem for both? */
gboolean
qdir_same_fs(const QueueDir *a, const QueueDir *b)
{
	return a->st.st_dev == b->st.st_dev;
}

/* qdir_same_dir - the same directory, however its path was written */
gboolean
qdir_same_dir(const QueueDir *a, const QueueDir *b)
{
	return a->st.st_dev == b->st.st_dev && a->st.st_ino == b->st.st_ino;
}

/* qdir_key - see qdir.h */
char *
qdir_key(const QueueDir *dir)
{
	return g_strdup_printf("%ju:%ju", (uintmax_t)dir->st.st_dev, (uintmax_t)dir->st.st_ino);
}

/* qdir_valid_id - characters and length of a queue ID */
gboolean
qdir_valid_id(const char *id)
{
	gsize n = 0;

	for (const char *p = id; *p; p++, n++)
		if (!g_ascii_isalnum(*p))
			return FALSE;
	return n > 0 && n + 2 < MAXQFNAME;
}

/* qdir_file - where <prefix><id> lives */
char *
qdir_file(const QueueDir *dir, const char *prefix, const char *id)
{
	const char *d;

	g_return_val_if_fail(qdir_valid_id(id), NULL);
	if (prefix[0] == 'd')
		d = dir->df_dir;
	else if (prefix[0] == 'x')
		d = dir->xf_dir;
	else
		d = dir->qf_dir;
	char *name = g_strconcat(prefix, id, NULL);
	char *path = g_build_filename(d, name, NULL);
	g_free(name);
	return path;
}

/* data_dir_name_ok - a d record's name stays inside the queue tree */
static gboolean
data_dir_name_ok(const char *name)
{
	if (*name == '\0' || *name == '/')
		return FALSE;
	g_auto(GStrv) parts = g_strsplit(name, "/", -1);
	for (int i = 0; parts[i]; i++)
		if (strcmp(parts[i], "..") == 0)
			return FALSE;
	return TRUE;
}

/* qdir_data_file - where the df of a control file is, d record followed */
char *
qdir_data_file(const QueueDir *dir, const char *id, const Qf *qf, GError **error)
{
	const QfRecord *d = qf_first(qf, 'd');

	if (d == NULL)
		return qdir_file(dir, "df", id);
	if (!data_dir_name_ok(d->value)) {
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_BROKEN,
		            "bogus queue file directory \"d%s\"", d->value);
		return NULL;
	}
	/*
	 * The name is relative to sendmail's QueueDirectory, which is either
	 * this queue's parent (QueueDirectory=/var/spool/mqueue.in/q*: "q2") or
	 * this queue itself (queue groups below it).  The candidate holding the
	 * df wins; else the first that is a queue directory (the df is then
	 * missing, which the caller reports).
	 */
	g_autofree char *parent = g_path_get_dirname(dir->path);
	const char *bases[] = {parent, dir->path};
	g_autofree char *name = g_strconcat("df", id, NULL);
	char *found = NULL;
	for (gsize i = 0; i < G_N_ELEMENTS(bases); i++) {
		g_autofree char *qd = g_build_filename(bases[i], d->value, NULL);
		struct stat st;

		if (stat(qd, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		g_autofree char *dfd = sub_or_self(qd, "df");
		char *path = g_build_filename(dfd, name, NULL);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			g_free(found);
			return path;
		}
		if (found == NULL)
			found = path;
		else
			g_free(path);
	}
	if (found == NULL)
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_BROKEN,
		            "bogus queue file directory \"d%s\": no such queue directory beside or "
		            "below %s",
		            d->value, dir->path);
	return found;
}

typedef struct {
	char *id;
	gint64 mtime;
} ListEntry;

/* list_entry_cmp - oldest first, then by ID */
static gint
list_entry_cmp(gconstpointer a, gconstpointer b)
{
	const ListEntry *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* qdir_list - IDs with a given prefix in the qf directory */
GPtrArray *
qdir_list(const QueueDir *dir, const char *prefix, GError **error)
{
	g_autoptr(GError) local = NULL;
	GDir *d = g_dir_open(dir->qf_dir, 0, &local);
	GArray *entries;
	const char *name;
	gsize plen = strlen(prefix);

	if (d == NULL) {
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_SYSTEM, "%s", local->message);
		return NULL;
	}
	entries = g_array_new(FALSE, FALSE, sizeof(ListEntry));
	while ((name = g_dir_read_name(d)) != NULL) {
		struct stat st;

		if (strncmp(name, prefix, plen) != 0 || strlen(name) >= MAXQFNAME ||
		    !qdir_valid_id(name + plen))
			continue;
		int r = fault_should_fail("list-stat")
		            ? (errno = EIO, -1) /* tests */
		            : fstatat(dir->qf_fd, name, &st, AT_SYMLINK_NOFOLLOW);
		if (r < 0) {
			if (errno == ENOENT)
				continue; /* gone since the directory was read */
			/* not known, not skipped: a commit journal missed by recovery
			 * would let a committed message be claimed again */
			g_set_error(error, QDIR_ERROR, QDIR_ERROR_SYSTEM, "%s/%s: %s", dir->qf_dir,
			            name, g_strerror(errno));
			g_dir_close(d);
			for (guint i = 0; i < entries->len; i++)
				g_free(g_array_index(entries, ListEntry, i).id);
			g_array_free(entries, TRUE);
			return NULL;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		ListEntry e = {g_strdup(name + plen), (gint64)st.st_mtime};
		g_array_append_val(entries, e);
	}
	g_dir_close(d);
	g_array_sort(entries, list_entry_cmp);
	GPtrArray *ids = g_ptr_array_new_full(entries->len, g_free);
	for (guint i = 0; i < entries->len; i++)
		g_ptr_array_add(ids, g_array_index(entries, ListEntry, i).id);
	g_array_free(entries, TRUE);
	return ids;
}

/* qdir_lock_fd - flock or fcntl, exclusive */
gboolean
qdir_lock_fd(const QueueDir *dir, int fd, gboolean wait)
{
	if (dir->lock == QUEUE_LOCK_POSIX) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

		return fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl) == 0;
	}
	return flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) == 0;
}

/*
 * open_unstamped - openat without touching the file's access time: a queue
 * file read once before it is removed gains nothing from an atime, and each
 * update is an inode write in the filesystem's journal (two per message: the
 * qf read here, the df read by a worker through this descriptor).  Without
 * the privilege O_NOATIME needs (owner or CAP_FOWNER), a plain open.
 */
static int
open_unstamped(int at, const char *name, int flags)
{
	int fd = openat(at, name, flags | O_NOATIME);

	if (fd < 0 && errno == EPERM)
		fd = openat(at, name, flags);
	return fd;
}

/* qdir_claim - lock and parse one inbound control file */
QueueClaim *
qdir_claim(QueueDir *dir, const char *id, GError **error)
{
	char *path = qdir_file(dir, "qf", id);
	g_autoptr(GError) local = NULL;
	char name[QDIR_NAME_MAX];
	struct stat st, st2;
	int fd;

	/* read-only where the lock allows it (flock): closing a file opened for
	 * writing is an inotify IN_CLOSE_WRITE, which would wake the daemon again */
	qdir_name(name, "qf", id);
	fd = open_unstamped(dir->qf_fd, name,
	                    (dir->lock == QUEUE_LOCK_FLOCK ? O_RDONLY : O_RDWR) | O_NOFOLLOW |
	                        O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		g_set_error(error, QDIR_ERROR, err == ENOENT ? QDIR_ERROR_GONE : QDIR_ERROR_SYSTEM,
		            "open %s: %s", path, g_strerror(err));
		g_free(path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || st.st_size == 0) {
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_BUSY, "%s: being created", path);
		goto fail;
	}
	if (!qdir_lock_fd(dir, fd, FALSE)) {
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_BUSY, "%s: locked", path);
		goto fail;
	}
	/* readqf's race check: the name must still be this file (the same inode,
	 * so what the name's stat says is what an fstat of @fd would say) */
	if (fstatat(dir->qf_fd, name, &st2, AT_SYMLINK_NOFOLLOW) < 0) {
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_GONE, "%s: vanished", path);
		goto fail;
	}
	if (st2.st_dev != st.st_dev || st2.st_ino != st.st_ino || st2.st_nlink == 0 ||
	    st2.st_size == 0) {
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_BUSY, "%s: changed while claimed", path);
		goto fail;
	}
	st = st2;
	if (st.st_nlink == 0) {
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_GONE, "%s: removed", path);
		goto fail;
	}
	GBytes *bytes = fdread_bytes(fd, MAX_QF_SIZE, &local);
	if (bytes == NULL) {
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_BROKEN, "%s: %s", path, local->message);
		goto fail;
	}
	gsize len;
	const char *data = g_bytes_get_data(bytes, &len);
	Qf *qf = qf_parse(data, len, &local);
	g_bytes_unref(bytes);
	if (qf == NULL) {
		g_set_error(error, QDIR_ERROR,
		            local->code == QF_ERROR_INCOMPLETE ? QDIR_ERROR_INCOMPLETE
		                                               : QDIR_ERROR_BROKEN,
		            "%s: %s", path, local->message);
		goto fail;
	}
	char *df_path = qdir_data_file(dir, id, qf, &local);
	if (df_path == NULL) {
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_BROKEN, "%s: %s", path, local->message);
		qf_free(&qf);
		goto fail;
	}
	QueueClaim *claim = g_new0(QueueClaim, 1);
	claim->dir = dir;
	claim->id = g_strdup(id);
	claim->qf_path = path;
	claim->qf_fd = fd;
	claim->qf = qf;
	claim->st = st;
	claim->df_path = df_path;
	claim->df_here = qf_first(qf, 'd') == NULL;
	return claim;
fail:
	close(fd);
	g_free(path);
	return NULL;
}

/* qdir_claim_release - close (releasing the lock) and free */
void
qdir_claim_release(QueueClaim **claim)
{
	if (claim == NULL || *claim == NULL)
		return;
	QueueClaim *c = *claim;
	if (c->qf_fd >= 0)
		close(c->qf_fd);
	g_free(c->df_path);
	qf_free(&c->qf);
	g_free(c->id);
	g_free(c->qf_path);
	g_free(c);
	*claim = NULL;
}

/* qdir_claim_df_at - the df's directory descriptor and name, or AT_FDCWD and its path */
int
qdir_claim_df_at(const QueueClaim *claim, char *name, const char **at_name)
{
	if (!claim->df_here) {
		*at_name = claim->df_path; /* its d record followed */
		return AT_FDCWD;
	}
	*at_name = qdir_name(name, "df", claim->id);
	return claim->dir->df_fd;
}

/* qdir_claim_open_df - the body of a claimed message, read-only */
int
qdir_claim_open_df(const QueueClaim *claim, gint64 *size, GError **error)
{
	const char *df = claim->df_path;
	char buf[QDIR_NAME_MAX];
	const char *at_name;
	int at = qdir_claim_df_at(claim, buf, &at_name);
	int fd = open_unstamped(at, at_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = errno;
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_NO_DATA, "cannot open %s: %s", df,
		            g_strerror(err));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*size = (gint64)st.st_size;
	return fd;
}

/* qdir_claim_read_message - qf headers, a blank line, then the df */
GString *
qdir_claim_read_message(const QueueClaim *claim, gsize *df_size, GError **error)
{
	gint64 size;
	int fd = qdir_claim_open_df(claim, &size, error);

	if (fd < 0)
		return NULL;
	if (df_size != NULL)
		*df_size = (gsize)size;
	GString *msg = qf_headers_text(claim->qf);
	g_string_append_c(msg, '\n');
	gboolean ok = fdread_append(fd, msg, G_MAXSIZE, error);
	close(fd);
	if (!ok) {
		g_string_free(msg, TRUE);
		return NULL;
	}
	return msg;
}

/* qdir_claim_remove - take a claimed message out of its queue: qf, df, xf */
gboolean
qdir_claim_remove(QueueClaim *claim, GError **error)
{
	const char *df = claim->df_path;
	g_autofree char *xf = qdir_file(claim->dir, "xf", claim->id);

	return durable_unlink(claim->qf_path, error) && durable_unlink(df, error) &&
	       durable_unlink(xf, error);
}

/* qdir_qf_mtime - when qf<@id> was last written; FALSE if it is gone */
gboolean
qdir_qf_mtime(const QueueDir *dir, const char *id, gint64 *mtime)
{
	g_autofree char *qf = qdir_file(dir, "qf", id);
	struct stat st;

	if (stat(qf, &st) < 0)
		return FALSE;
	*mtime = (gint64)st.st_mtime;
	return TRUE;
}

static const char queue_id_chars[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwx";

/* qdir_new_id - sendmail's assign_queueid() format */
char *
qdir_new_id(void)
{
	static guint seq;
	static gboolean seeded;
	time_t now = time(NULL);
	struct tm tm;

	if (!seeded) {
		seq = (guint)g_random_int_range(0, 3600);
		seeded = TRUE;
	}
	gmtime_r(&now, &tm);
	guint s = seq++ % 3600;
	return g_strdup_printf("%c%c%c%c%c%c%c%c%06d", queue_id_chars[tm.tm_year % 60],
	                       queue_id_chars[tm.tm_mon], queue_id_chars[tm.tm_mday],
	                       queue_id_chars[tm.tm_hour], queue_id_chars[tm.tm_min],
	                       queue_id_chars[tm.tm_sec % 60], queue_id_chars[s / 60],
	                       queue_id_chars[s % 60], (int)getpid());
}
