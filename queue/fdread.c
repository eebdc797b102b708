/*
 * fdread.c - bounded whole-descriptor reads
 */
#include "mqsift-build.h"

#include "queue/fdread.h"

#include <errno.h>
#include <gio/gio.h>
#include <unistd.h>

/* fdread_append - append all of @fd (from offset 0) to @out, at most @max_size bytes */
gboolean
fdread_append(int fd, GString *out, gsize max_size, GError **error)
{
	char buf[65536];
	off_t off = 0;
	gsize got = 0;

	for (;;) {
		ssize_t n = pread(fd, buf, sizeof buf, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			            "read error: %s", g_strerror(errno));
			return FALSE;
		}
		if (n == 0)
			return TRUE;
		if (got + (gsize)n > max_size) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
			            "file larger than %" G_GSIZE_FORMAT " bytes", max_size);
			return FALSE;
		}
		g_string_append_len(out, buf, n);
		got += (gsize)n;
		off += n;
	}
}

/* fdread_bytes - slurp a descriptor, refusing more than @max_size bytes */
GBytes *
fdread_bytes(int fd, gsize max_size, GError **error)
{
	GString *s = g_string_new(NULL);

	if (!fdread_append(fd, s, max_size, error)) {
		g_string_free(s, TRUE);
		return NULL;
	}
	return g_string_free_to_bytes(s);
}
