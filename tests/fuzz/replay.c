/*
 * replay.c - run a fuzz target over its saved corpus, as part of make check
 *
 * Usage: replay-TARGET [DIR...]; default DIR is $TOP_SRCDIR/tests/fuzz/corpus/TARGET.
 * One GTest case per corpus file; built with the normal compiler, and under
 * ASan/UBSan with ./bootstrap.sh check --sanitize.
 */
#include "mqsift-build.h"

#include <glib.h>

#include "tests/fuzz/fuzz.h"

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET must name the corpus"
#endif

/* replay_all - feed every corpus file to the target (a crash names the file first) */
static void
replay_all(gconstpointer data)
{
	const GPtrArray *paths = data;

	g_test_message("%u saved inputs", paths->len);
	for (guint i = 0; i < paths->len; i++) {
		const char *path = g_ptr_array_index(paths, i);
		g_autofree char *content = NULL;
		gsize len;
		GError *error = NULL;

		g_test_message("%s", path);
		g_assert_true(g_file_get_contents(path, &content, &len, &error));
		g_assert_no_error(error);
		LLVMFuzzerTestOneInput((const uint8_t *)content, len);
	}
}

/* compare_names - sort of a GPtrArray of strings */
static gint
compare_names(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* main - one test per file */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	const char *top = g_getenv("TOP_SRCDIR");
	g_autofree char *dir =
	    g_build_filename(top ? top : ".", "tests", "fuzz", "corpus", FUZZ_TARGET, NULL);
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);

	g_assert_nonnull(d);
	while ((name = g_dir_read_name(d)) != NULL)
		g_ptr_array_add(names, g_strdup(name));
	g_dir_close(d);
	g_ptr_array_sort(names, compare_names);
	g_assert_cmpuint(names->len, >, 0);
	GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < names->len; i++)
		g_ptr_array_add(paths, g_build_filename(dir, g_ptr_array_index(names, i), NULL));
	g_autofree char *test =
	    g_strdup_printf("/fuzz/%s/saved-corpus-replays-without-a-failure", FUZZ_TARGET);
	g_test_add_data_func(test, paths, replay_all);
	int status = g_test_run();
	g_ptr_array_unref(paths);
	g_ptr_array_unref(names);
	return status;
}
