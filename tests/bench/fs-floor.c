/*
 * fs-floor.c - what the filesystem alone costs per message, for any design
 * that keeps sendmail's files: per message, the outgoing df linked to the
 * inbound one, a tf created and written, renamed to qf, the inbound df and
 * qf removed; nothing else (no lock, no parse, no journal, no fsync).  With
 * "writeback", each tf's writeback is started too (sync_file_range), as a
 * durable commit must before it flushes.  Prints the CPU per message; the
 * master's own figure is to be read against it.
 * Usage: fs-floor DIR COUNT
 */
#include "mqsift-build.h"

#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/bench/bench.h"

/* make_dir - @top/@name, a new directory; its descriptor */
static int
make_dir(const char *top, const char *name)
{
	g_autofree char *path = g_build_filename(top, name, NULL);

	if (g_mkdir_with_parents(path, 0700) < 0)
		return -1;
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* fill - @n inbound messages of about the small mix's sizes, synced */
static gboolean
fill(int in, guint n, const char *buf)
{
	char name[32];

	for (guint i = 0; i < n; i++) {
		for (int k = 0; k < 2; k++) {
			snprintf(name, sizeof name, "%cf6AOF%08u", k ? 'd' : 'q', i);
			int fd = openat(in, name, O_CREAT | O_WRONLY | O_EXCL | O_CLOEXEC, 0600);
			if (fd < 0 || write(fd, buf, k ? 4000 : 700) < 0) {
				if (fd >= 0)
					close(fd);
				return FALSE;
			}
			close(fd);
		}
	}
	sync();
	return TRUE;
}

/* run - the per-message operations over @n messages; CPU seconds, or -1 */
static double
run(int in, int out, guint n, gboolean writeback, const char *buf)
{
	char a[32], b[32];
	double t0 = bench_cpu_seconds();

	for (guint i = 0; i < n; i++) {
		snprintf(a, sizeof a, "df6AOF%08u", i);
		if (linkat(in, a, out, a, 0) < 0)
			return -1;
		snprintf(a, sizeof a, "tf6AOF%08u", i);
		int fd = openat(out, a, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0640);
		if (fd < 0 || write(fd, buf, 750) != 750)
			return -1;
		if (writeback)
			sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		close(fd);
		snprintf(b, sizeof b, "qf6AOF%08u", i);
		if (renameat(out, a, out, b) < 0)
			return -1;
		snprintf(a, sizeof a, "df6AOF%08u", i);
		if (unlinkat(in, a, 0) < 0 || unlinkat(in, b, 0) < 0)
			return -1;
	}
	return bench_cpu_seconds() - t0;
}

/* empty - remove what the run left in @out (not measured) */
static void
empty(int out, guint n)
{
	char a[32];

	for (guint i = 0; i < n; i++) {
		snprintf(a, sizeof a, "qf6AOF%08u", i);
		unlinkat(out, a, 0);
		snprintf(a, sizeof a, "df6AOF%08u", i);
		unlinkat(out, a, 0);
	}
}

/* main - once without, once with the tf writeback, each on fresh directories */
int
main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: fs-floor DIR COUNT\n");
		return 2;
	}
	guint n = (guint)g_ascii_strtoull(argv[2], NULL, 10);
	char buf[4096];
	double us[2];

	memset(buf, 'x', sizeof buf);
	for (int writeback = 0; writeback < 2; writeback++) {
		g_autofree char *top = g_strdup_printf("%s/fs-floor-%d", argv[1], writeback);
		int in = make_dir(top, "in"), out = make_dir(top, "out");
		if (in < 0 || out < 0 || !fill(in, n, buf)) {
			fprintf(stderr, "fs-floor: cannot set up %s\n", top);
			return 1;
		}
		double cpu = run(in, out, n, writeback, buf);
		if (cpu < 0) {
			perror("fs-floor");
			return 1;
		}
		us[writeback] = 1e6 * cpu / (n ? n : 1);
		empty(out, n);
		close(in);
		close(out);
	}
	printf("fs_floor: messages=%u link_create_rename_unlink_us_per_msg=%.1f "
	       "with_writeback_us_per_msg=%.1f\n",
	       n, us[0], us[1]);
	return 0;
}
