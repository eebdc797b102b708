/*
 * commit-floor.c - the floor of the master's work per message: the
 * exactly-once commit alone (queue/), with nothing scanned, logged or
 * stored.  Claims every message of an inbound queue and commits it to the
 * outgoing one, unchanged, in batches, as a pass does.  Prints the CPU per
 * message (this process and its flush threads).
 * Usage: commit-floor INBOUND OUTGOING [BATCH]
 */
#include "mqsift-build.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

#include "queue/commit.h"
#include "queue/qdir.h"
#include "tests/bench/bench.h"

/* main - claim, prepare, finish per batch */
int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;

	if (argc < 3) {
		fprintf(stderr, "usage: commit-floor INBOUND OUTGOING [BATCH]\n");
		return 2;
	}
	guint batch_size = argc > 3 ? (guint)g_ascii_strtoull(argv[3], NULL, 10) : 64;
	g_autoptr(QueueDir) in = qdir_open(argv[1], QUEUE_LOCK_FLOCK, &error);
	g_autoptr(QueueDir) out = in ? qdir_open(argv[2], QUEUE_LOCK_FLOCK, &error) : NULL;
	if (out == NULL) {
		fprintf(stderr, "commit-floor: %s\n", error->message);
		return 2;
	}
	double t0 = bench_cpu_seconds();
	gint64 w0 = g_get_monotonic_time();
	g_autoptr(GPtrArray) ids = qdir_list(in, "qf", &error);
	if (ids == NULL) {
		fprintf(stderr, "commit-floor: %s\n", error->message);
		return 2;
	}
	CommitBatch *batch = commit_batch_new(out, 0640);
	guint done = 0;
	for (guint i = 0; i < ids->len; i++) {
		QueueClaim *claim = qdir_claim(in, g_ptr_array_index(ids, i), &error);
		if (claim == NULL || !commit_prepare(batch, claim, claim->qf, NULL, &error)) {
			fprintf(stderr, "commit-floor: %s\n", error->message);
			return 1;
		}
		if (commit_batch_size(batch) >= batch_size || i + 1 == ids->len) {
			guint n = commit_batch_size(batch);
			if (!commit_finish(batch, &error)) {
				fprintf(stderr, "commit-floor: %s\n", error->message);
				return 1;
			}
			done += n;
		}
	}
	commit_batch_free(&batch);
	double cpu = bench_cpu_seconds() - t0;
	double wall = (double)(g_get_monotonic_time() - w0) / 1e6;
	printf("commit_floor: messages=%u batch=%u cpu_s=%.3f wall_s=%.3f cpu_ms_per_msg=%.3f\n",
	       done, batch_size, cpu, wall, 1000 * cpu / (done ? done : 1));
	return 0;
}
