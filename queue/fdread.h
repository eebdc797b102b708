/*
 * fdread.h - read a whole file descriptor, within a bound
 *
 * SUMMARY
 *	Bodies (df files) and the memfds of the worker protocol are read whole
 *	with pread() from offset 0, retrying on EINTR, and refused past a
 *	maximum size: no read in mqsift is unbounded.  A descriptor that is not
 *	a regular file (a pipe) is read from where it is.
 *
 * DIAGNOSTICS
 *	FALSE or NULL with @error: G_IO_ERROR_MESSAGE_TOO_LARGE past the
 *	bound, else the G_IO_ERROR code of errno.
 */
#ifndef MQSIFT_QUEUE_FDREAD_H
#define MQSIFT_QUEUE_FDREAD_H

#include <glib.h>

/*
 * fdread_append - append all of @fd (from offset 0) to @out; FALSE with
 * @error on a read error or more than @max_size bytes (@out then holds part).
 */
gboolean fdread_append(int fd, GString *out, gsize max_size, GError **error);

/* fdread_bytes - all of @fd (from offset 0) as a new GBytes, at most @max_size bytes */
GBytes *fdread_bytes(int fd, gsize max_size, GError **error);

#endif
