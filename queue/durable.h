/*
 * durable.h - the one durable-write helper every mqsift writer uses
 *
 * SUMMARY
 *	Queue files, quarantine entries and notices are all written the same
 *	way: created exclusively (O_EXCL, so a clash fails instead of
 *	overwriting), written completely, fsync'ed, closed with the close
 *	checked; the directory entry is made durable with an fsync of the
 *	directory.  Nobody else in mqsift calls rename() or link() on a queue
 *	file.
 *
 * DIAGNOSTICS
 *	Every function returns FALSE and sets @error (G_IO_ERROR domain, code
 *	from errno) on failure; a failed create removes what it created.
 */
#ifndef MQSIFT_QUEUE_DURABLE_H
#define MQSIFT_QUEUE_DURABLE_H

#include <sys/types.h>
#include <glib.h>

/* DurableFile - a file being created; the caller owns it until _finish/_abort */
typedef struct DurableFile DurableFile;

/*
 * durable_create - create @path with O_EXCL and @mode (fchmod'ed, so the umask
 * does not matter); @gid, when not (gid_t)-1, becomes the file's group.
 * Returns a new DurableFile, or NULL with @error set (G_IO_ERROR_EXISTS on a clash).
 */
DurableFile *durable_create(const char *path, mode_t mode, gid_t gid, GError **error);

/* durable_write - append @len bytes; returns FALSE with @error on failure. */
gboolean durable_write(DurableFile *file, const void *buf, gsize len, GError **error);

/* durable_fd - the file descriptor (borrowed), e.g. to splice a copy into. */
int durable_fd(DurableFile *file);

/*
 * durable_finish - fsync and close; on failure the file is unlinked.  Always
 * frees @file.  The directory entry is durable only after durable_sync_dir().
 */
gboolean durable_finish(DurableFile *file, GError **error);

/* durable_abort - close and unlink a file that will not be finished; frees it. */
void durable_abort(DurableFile *file);

/*
 * durable_write_file - create @path exclusively with @buf as its whole content,
 * fsync'ed; the one-call form of create/write/finish.
 */
gboolean durable_write_file(const char *path, const void *buf, gsize len, mode_t mode, gid_t gid,
                            GError **error);

/*
 * durable_copy_fd - create @path exclusively and copy all of @src_fd (from
 * offset 0) into it, fsync'ed.
 */
gboolean durable_copy_fd(int src_fd, const char *path, mode_t mode, gid_t gid, GError **error);

/*
 * durable_link_or_copy - make @dst a hard link of @src (fails if @dst exists);
 * when the two are on different filesystems (EXDEV) or links are refused,
 * copy instead.  The result is fsync'ed (a link's data already is).
 */
gboolean durable_link_or_copy(const char *src, const char *dst, mode_t mode, gid_t gid,
                              GError **error);

/*
 * durable_write_at - create @name in the directory @dirfd exclusively with
 * @buf as its whole content, without fsync, and start its writeback
 * (sync_file_range): the caller flushes it with durable_sync_fds().  @what
 * names the file in errors.  @set_gid: the file does not get @gid by itself
 * (fchown needed).  Returns the open descriptor (the caller's, to close), or
 * -1 with @error (G_IO_ERROR_EXISTS on a clash; nothing is left behind).
 */
int durable_write_at(int dirfd, const char *name, const char *what, const void *buf, gsize len,
                     mode_t mode, gid_t gid, gboolean set_gid, GError **error);

/*
 * durable_sync_fds - fdatasync each of @fds, several at once (the flushes of
 * concurrent syncs are merged by the kernel), so only these files are
 * written out, not the whole filesystem as syncfs() does.  FALSE with
 * @error if any of them failed.
 */
gboolean durable_sync_fds(const int *fds, guint n, GError **error);

/*
 * durable_renameat - rename @from to @to inside the open directory @dirfd
 * (not flushed: the caller syncs the directory); @what names @from in errors
 */
gboolean durable_renameat(int dirfd, const char *from, const char *to, const char *what,
                          GError **error);

/* durable_sync_dirfd - fsync the open directory @fd (@what names it in errors) */
gboolean durable_sync_dirfd(int fd, const char *what, GError **error);

/* durable_sync_dir - fsync the directory @dir so entries made in it are durable. */
gboolean durable_sync_dir(const char *dir, GError **error);

/* durable_rename - rename(@from, @to) within one directory; not durable until sync_dir. */
gboolean durable_rename(const char *from, const char *to, GError **error);

/* durable_unlink - unlink @path; a missing file is not an error. */
gboolean durable_unlink(const char *path, GError **error);

/*
 * durable_mkdir_p - create @dir and its parents with @mode where missing; the
 * parent of each directory made is fsync'ed (its name is durable).
 */
gboolean durable_mkdir_p(const char *dir, mode_t mode, GError **error);

#endif
