/*
 * test-fdread.c - a descriptor is read whole within its bound: a regular
 * file from offset 0, a pipe from where it is (pread() cannot read a pipe)
 */
#include "mqsift-build.h"

#include <gio/gio.h>
#include <string.h>
#include <unistd.h>

#include "queue/fdread.h"

/* pipe_with - a pipe whose read end holds @len bytes of 'x', its write end closed */
static int
pipe_with(gsize len)
{
	int fds[2];
	g_autofree char *data = g_malloc(len);

	memset(data, 'x', len);
	g_assert_cmpint(pipe(fds), ==, 0);
	g_assert_cmpint(write(fds[1], data, len), ==, (gssize)len); /* within the pipe's buffer */
	close(fds[1]);
	return fds[0];
}

/*
 * test_pipe_is_read_whole - what "mqsift scan" reads from a pipe or a FIFO
 * (before: pread() failed with ESPIPE)
 */
static void
test_pipe_is_read_whole(void)
{
	int fd = pipe_with(5000);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) b = fdread_bytes(fd, 5000, &error);

	g_assert_no_error(error);
	g_assert_nonnull(b);
	g_assert_cmpuint(g_bytes_get_size(b), ==, 5000);
	close(fd);
}

/* test_pipe_past_the_bound - one byte more than the bound is refused, as for a file */
static void
test_pipe_past_the_bound(void)
{
	int fd = pipe_with(5001);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) b = fdread_bytes(fd, 5000, &error);

	g_assert_null(b);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
	close(fd);
}

/* test_file_from_offset_zero - a regular file is read from its start, wherever its offset is */
static void
test_file_from_offset_zero(void)
{
	g_autofree char *path = NULL;
	int fd = g_file_open_tmp("mqsift-fdread-XXXXXX", &path, NULL);
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, "hello", 5), ==, 5); /* the offset is now at the end */
	g_autoptr(GBytes) b = fdread_bytes(fd, 100, &error);
	g_assert_no_error(error);
	g_assert_cmpmem(g_bytes_get_data(b, NULL), g_bytes_get_size(b), "hello", 5);
	close(fd);
	unlink(path); /* lint: allow unlink */
}

/* main - GTest */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fdread/pipe-is-read-whole", test_pipe_is_read_whole);
	g_test_add_func("/fdread/pipe-past-the-bound", test_pipe_past_the_bound);
	g_test_add_func("/fdread/file-from-offset-zero", test_file_from_offset_zero);
	return g_test_run();
}
