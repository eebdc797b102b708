/*
 * fdread.c - bounded whole-descriptor reads
 */
#include "mqsift-build.h"

#include "queue/fdread.h"

#include <errno.h>
#include <gio/gio.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * fdread_append - append all of @fd (from offset 0) to @out, at most @max_size
 * bytes: read straight into @out, grown once to the file's size (no bounce
 * buffer, no doubling: a large message costs its size, not twice that)
 */
gboolean
fdread_append(int fd, GString *out, gsize max_size, GError **error)
{
	struct stat st;
	gsize start = out->len, got = 0;
	gboolean regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0;
	/* one byte more than expected: the read that finds the end, or a file that grew */
	gsize want = regular ? MIN((gsize)st.st_size, max_size) + 1 : 65536;

	for (;;) {
		g_string_set_size(out, start + got + want);
		/* a pipe cannot be read at an offset: from where it is, which for
		 * a descriptor just opened is its start too */
		ssize_t n = regular ? pread(fd, out->str + start + got, want, (off_t)got)
		                    : read(fd, out->str + start + got, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = errno;
			g_string_truncate(out, start + got);
			if (n == 0)
				return TRUE;
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err), "read error: %s",
			            g_strerror(err));
			return FALSE;
		}
		if (got + (gsize)n > max_size) {
			g_string_truncate(out, start + got);
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
			            "file larger than %" G_GSIZE_FORMAT " bytes", max_size);
			return FALSE;
		}
		got += (gsize)n;
		if (regular && (gsize)n < want) {
			/* a regular file reads short only at its end: no read more to learn it */
			g_string_truncate(out, start + got);
			return TRUE;
		}
		if ((gsize)n == want)
			want = 65536; /* more than fstat said: it grew */
		else
			want -= (gsize)n;
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
