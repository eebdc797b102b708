/*
 * bare-scan.c - the floor: libclamav alone over each raw message file, in
 * one process, with the same scan options as mqsift's engine.  Prints the
 * load time, the scan CPU time and the rate.  Usage: bare-scan DB FILE...
 */
#include <clamav.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/bench/bench.h"

/* inspect - a file-inspection callback that does nothing (BARE_INSPECT=1: what
 * asking libclamav to show each file it unpacks costs, before mqsift looks) */
static cl_error_t
inspect(int fd, const char *type, const char **ancestors, size_t parent_file_size,
        const char *file_name, size_t file_size, const char *file_buffer, uint32_t recursion_level,
        uint32_t layer_attributes, void *context)
{
	return CL_CLEAN;
}

/* main - load, scan each file */
int
main(int argc, char **argv)
{
	unsigned int sigs = 0;
	struct cl_scan_options opts;

	if (argc < 3) {
		fprintf(stderr, "usage: bare-scan DB FILE...\n");
		return 2;
	}
	gint64 t0 = g_get_monotonic_time();
	cl_init(CL_INIT_DEFAULT);
	struct cl_engine *e = cl_engine_new();
	cl_engine_set_num(e, CL_ENGINE_DISABLE_CACHE, 1);
	if (getenv("BARE_INSPECT"))
		cl_engine_set_clcb_file_inspection(e, inspect);
	if (cl_load(argv[1], e, &sigs, CL_DB_STDOPT) != CL_SUCCESS ||
	    cl_engine_compile(e) != CL_SUCCESS) {
		fprintf(stderr, "bare-scan: cannot load %s\n", argv[1]);
		return 2;
	}
	double load = (double)(g_get_monotonic_time() - t0) / 1e6;
	memset(&opts, 0, sizeof opts);
	opts.general = CL_SCAN_GENERAL_ALLMATCHES | CL_SCAN_GENERAL_HEURISTICS;
	opts.parse = getenv("BARE_NO_MAIL") ? ~0u & ~CL_SCAN_PARSE_MAIL : ~0u;
	opts.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX | CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE;
	double c0 = bench_cpu_seconds();
	gint64 w0 = g_get_monotonic_time();
	guint64 bytes = 0;
	int found = 0;
	for (int i = 2; i < argc; i++) {
		gchar *data;
		gsize len;
		const char *virname = NULL;
		unsigned long scanned = 0;
		if (!g_file_get_contents(argv[i], &data, &len, NULL))
			continue;
		cl_fmap_t *map = cl_fmap_open_memory(data, len);
		if (cl_scanmap_callback(map, argv[i], &virname, &scanned, e, &opts, NULL) ==
		    CL_VIRUS)
			found++;
		cl_fmap_close(map);
		bytes += len;
		g_free(data);
	}
	double cpu = bench_cpu_seconds() - c0;
	double wall = (double)(g_get_monotonic_time() - w0) / 1e6;
	int n = argc - 2;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("bare: files=%d found=%d bytes=%" G_GUINT64_FORMAT
	       " sigs=%u load_s=%.2f wall_s=%.3f "
	       "cpu_s=%.3f msgs_per_s=%.0f cpu_ms_per_msg=%.3f max_rss_mb=%ld\n",
	       n, found, bytes, sigs, load, wall, cpu, n / (wall > 0 ? wall : 1e-9),
	       1000 * cpu / (n ? n : 1), ru.ru_maxrss / 1024);
	cl_engine_free(e);
	return 0;
}
