/*
 * qf-roundtrip.c - parse each control file given and write it back; exit 1
 * unless every one parses and serializes to exactly its own bytes.
 * Used by tests/e2e/test-queue.sh on files the real sendmail wrote.
 */
#include "mqsift-build.h"

#include <stdio.h>
#include <string.h>

#include "queue/qf.h"

/* main - one line per file: "ok FILE" or "FAIL FILE: why" */
int
main(int argc, char **argv)
{
	int status = 0;

	for (int i = 1; i < argc; i++) {
		g_autofree char *data = NULL;
		gsize len;
		g_autoptr(GError) error = NULL;

		if (!g_file_get_contents(argv[i], &data, &len, &error)) {
			printf("# FAIL %s: %s\n", argv[i], error->message);
			status = 1;
			continue;
		}
		Qf *qf = qf_parse(data, len, &error);
		if (qf == NULL) {
			printf("# FAIL %s: %s\n", argv[i], error->message);
			status = 1;
			continue;
		}
		GString *out = qf_serialize(qf);
		if (out->len != len || memcmp(out->str, data, len) != 0) {
			gsize k = 0;
			while (k < len && k < out->len && out->str[k] == data[k])
				k++;
			printf("# FAIL %s: differs at byte %zu\n", argv[i], k);
			status = 1;
		} else {
			printf("# roundtrip ok %s (%u records)\n", argv[i], qf_n_records(qf));
		}
		g_string_free(out, TRUE);
		qf_free(&qf);
	}
	return status;
}
