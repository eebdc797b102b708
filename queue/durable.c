/*
 * durable.c - exclusive create, write, fsync, checked close; directory fsync
 *
 * DESCRIPTION
 *	The model is OpenSMTPD's queue_fs and libgit2's lock files: O_EXCL
 *	create, write everything, fsync, close and check the close, then make
 *	the name durable with an fsync of the directory.  Errors carry the
 *	path and the system's reason; nothing here exits.
 */
#include "mqsift-build.h"

#include "queue/durable.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/fault.h"

/* how many fdatasync calls run at once in durable_sync_fds */
#define SYNC_THREADS 16

struct DurableFile {
	int fd;
	char *path;
};

/* set_errno_error - fill @error from errno with "what path: reason" */
static void
set_errno_error(GError **error, int err, const char *what, const char *path)
{
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err), "%s %s: %s", what, path,
	            g_strerror(err));
}

/*
 * create_exclusive - a new file @name under @dirfd (AT_FDCWD: a path), mode
 * @mode whatever the umask, group @gid ((gid_t)-1: the creator's); -1 with
 * @error naming @what, and nothing left behind
 */
static int
create_exclusive(int dirfd, const char *name, const char *what, mode_t mode, gid_t gid,
                 GError **error)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);

	if (fd < 0) {
		set_errno_error(error, errno, "cannot create", what);
		return -1;
	}
	if (fchmod(fd, mode) < 0 || (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) < 0)) {
		int err = errno;

		close(fd);
		unlinkat(dirfd, name, 0);
		set_errno_error(error, err, "cannot set mode of", what);
		return -1;
	}
	return fd;
}

/* durable_create - create a new file exclusively */
DurableFile *
durable_create(const char *path, mode_t mode, gid_t gid, GError **error)
{
	int fd = create_exclusive(AT_FDCWD, path, path, mode, gid, error);

	if (fd < 0)
		return NULL;
	DurableFile *file = g_new0(DurableFile, 1);
	file->fd = fd;
	file->path = g_strdup(path);
	return file;
}

/* durable_fd - borrowed descriptor of a file being written */
int
durable_fd(DurableFile *file)
{
	return file->fd;
}

/* write_all - write all of @buf to @fd, retrying short writes; 0 or an errno */
static int
write_all(int fd, const void *buf, gsize len)
{
	const char *p = buf;

	if (fault_should_fail("write"))
		return ENOSPC;
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : ENOSPC;
		p += n;
		len -= (gsize)n;
	}
	return 0;
}

/* durable_write - write all of @buf, retrying short writes */
gboolean
durable_write(DurableFile *file, const void *buf, gsize len, GError **error)
{
	int err = write_all(file->fd, buf, len);

	if (err != 0) {
		set_errno_error(error, err, "cannot write", file->path);
		return FALSE;
	}
	return TRUE;
}

/* durable_finish - fsync, checked close; unlink on failure */
gboolean
durable_finish(DurableFile *file, GError **error)
{
	gboolean ok = TRUE;

	if (fsync(file->fd) < 0) {
		set_errno_error(error, errno, "cannot fsync", file->path);
		ok = FALSE;
	}
	if (close(file->fd) < 0 && ok) {
		set_errno_error(error, errno, "cannot close", file->path);
		ok = FALSE;
	}
	if (!ok)
		unlink(file->path);
	g_free(file->path);
	g_free(file);
	return ok;
}

/* durable_abort - give up on a file being written */
void
durable_abort(DurableFile *file)
{
	if (file == NULL)
		return;
	close(file->fd);
	unlink(file->path);
	g_free(file->path);
	g_free(file);
}

/* durable_write_file - whole-file exclusive durable write */
gboolean
durable_write_file(const char *path, const void *buf, gsize len, mode_t mode, gid_t gid,
                   GError **error)
{
	DurableFile *file = durable_create(path, mode, gid, error);

	if (file == NULL)
		return FALSE;
	if (!durable_write(file, buf, len, error)) {
		durable_abort(file);
		return FALSE;
	}
	return durable_finish(file, error);
}

/* durable_copy_fd - exclusive durable copy of a descriptor's content */
gboolean
durable_copy_fd(int src_fd, const char *path, mode_t mode, gid_t gid, GError **error)
{
	DurableFile *file = durable_create(path, mode, gid, error);
	char buf[65536];
	off_t off = 0;

	if (file == NULL)
		return FALSE;
	for (;;) {
		ssize_t n = pread(src_fd, buf, sizeof buf, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_errno_error(error, errno, "cannot read source of", path);
			durable_abort(file);
			return FALSE;
		}
		if (n == 0)
			break;
		if (!durable_write(file, buf, (gsize)n, error)) {
			durable_abort(file);
			return FALSE;
		}
		off += n;
	}
	return durable_finish(file, error);
}

/* durable_link_or_copy - hard link, or a durable copy across filesystems */
gboolean
durable_link_or_copy(const char *src, const char *dst, mode_t mode, gid_t gid, GError **error)
{
	if (fault_should_fail("link"))
		errno = ENOSPC;
	else if (link(src, dst) == 0) {
		fault_trace("link", dst);
		return TRUE;
	}
	if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
		set_errno_error(error, errno, "cannot link to", dst);
		return FALSE;
	}
	int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		set_errno_error(error, errno, "cannot open", src);
		return FALSE;
	}
	gboolean ok = durable_copy_fd(fd, dst, mode, gid, error);
	close(fd);
	return ok;
}

/* durable_sync_dir - make the entries of @dir durable */
gboolean
durable_sync_dir(const char *dir, GError **error)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		set_errno_error(error, errno, "cannot open directory", dir);
		return FALSE;
	}
	if (fsync(fd) < 0 && errno != EINVAL) {
		int err = errno;

		close(fd);
		set_errno_error(error, err, "cannot fsync directory", dir);
		return FALSE;
	}
	close(fd);
	fault_trace("sync-dir", dir);
	return TRUE;
}

/* durable_rename - rename within a directory */
gboolean
durable_rename(const char *from, const char *to, GError **error)
{
	if (fault_should_fail("rename")) {
		set_errno_error(error, EIO, "cannot rename", from);
		return FALSE;
	}
	if (rename(from, to) < 0) {
		set_errno_error(error, errno, "cannot rename", from);
		return FALSE;
	}
	fault_trace("rename", to);
	return TRUE;
}

/* durable_renameat - rename within the open directory @dirfd */
gboolean
durable_renameat(int dirfd, const char *from, const char *to, const char *what, GError **error)
{
	if (fault_should_fail("rename")) {
		set_errno_error(error, EIO, "cannot rename", what);
		return FALSE;
	}
	if (renameat(dirfd, from, dirfd, to) < 0) {
		set_errno_error(error, errno, "cannot rename", what);
		return FALSE;
	}
	fault_trace("rename", to);
	return TRUE;
}

/* durable_unlink - unlink, ignoring a missing file */
gboolean
durable_unlink(const char *path, GError **error)
{
	if (unlink(path) < 0) {
		if (errno == ENOENT)
			return TRUE;
		set_errno_error(error, errno, "cannot remove", path);
		return FALSE;
	}
	fault_trace("unlink", path);
	return TRUE;
}

/*
 * durable_mkdir_p - mkdir -p with a mode; the parent of each directory made
 * is fsync'ed, so that what is later put in it cannot outlive its name
 */
gboolean
durable_mkdir_p(const char *dir, mode_t mode, GError **error)
{
	struct stat st;

	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return TRUE;
		set_errno_error(error, ENOTDIR, "cannot create directory", dir);
		return FALSE;
	}
	g_autofree char *parent = g_path_get_dirname(dir);
	if (strcmp(parent, dir) != 0 && !durable_mkdir_p(parent, mode, error))
		return FALSE;
	if (mkdir(dir, mode) < 0) {
		if (errno == EEXIST)
			return TRUE; /* made meanwhile by someone else, who syncs it */
		set_errno_error(error, errno, "cannot create directory", dir);
		return FALSE;
	}
	fault_trace("mkdir", dir);
	return durable_sync_dir(parent, error);
}

/* durable_write_at - exclusive create relative to a directory, written, writeback started */
int
durable_write_at(int dirfd, const char *name, const char *what, const void *buf, gsize len,
                 mode_t mode, gid_t gid, gboolean set_gid, GError **error)
{
	int fd = create_exclusive(dirfd, name, what, mode, set_gid ? gid : (gid_t)-1, error);

	if (fd < 0)
		return -1;
	int err = write_all(fd, buf, len);
	if (err != 0) {
		close(fd);
		unlinkat(dirfd, name, 0);
		set_errno_error(error, err, "cannot write", what);
		return -1;
	}
	/* start the writeback now: the batch's flush then mostly waits for done I/O */
	sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	return fd;
}

/* SyncJob - the descriptors shared by the flushing threads */
typedef struct {
	const int *fds;
	guint n;
	gint next;
	gint err;
} SyncJob;

/* sync_worker - fdatasync the next descriptors until none is left */
static gpointer
sync_worker(gpointer data)
{
	SyncJob *job = data;

	for (;;) {
		guint i = (guint)g_atomic_int_add(&job->next, 1);

		if (i >= job->n)
			break;
		if (fdatasync(job->fds[i]) < 0 && errno != EINVAL)
			g_atomic_int_compare_and_exchange(&job->err, 0, errno);
	}
	return NULL;
}

/* durable_sync_fds - fdatasync every descriptor, SYNC_THREADS at a time */
gboolean
durable_sync_fds(const int *fds, guint n, GError **error)
{
	SyncJob job = {fds, n, 0, 0};
	GThread *threads[SYNC_THREADS];
	guint started = 0;

	if (fault_should_fail("syncfs")) {
		set_errno_error(error, EIO, "cannot sync", "the batch's files");
		return FALSE;
	}
	/* this thread takes its share too; a thread that cannot start is not an error */
	for (guint k = 0; k + 1 < MIN(n, SYNC_THREADS); k++) {
		threads[started] = g_thread_try_new("fdatasync", sync_worker, &job, NULL);
		if (threads[started] != NULL)
			started++;
	}
	sync_worker(&job);
	for (guint k = 0; k < started; k++)
		g_thread_join(threads[k]);
	if (job.err != 0) {
		set_errno_error(error, job.err, "cannot sync", "a file of the batch");
		return FALSE;
	}
	return TRUE;
}

/* durable_sync_dirfd - fsync an open directory */
gboolean
durable_sync_dirfd(int fd, const char *what, GError **error)
{
	if (fault_should_fail("fsync-dir")) {
		set_errno_error(error, EIO, "cannot fsync directory", what);
		return FALSE;
	}
	if (fsync(fd) < 0 && errno != EINVAL) {
		set_errno_error(error, errno, "cannot fsync directory", what);
		return FALSE;
	}
	fault_trace("sync-dir", what);
	return TRUE;
}
