/*
 * fuzz-config.c - libFuzzer target: the YAML configuration loader
 *
 * Property: any input either loads into a config that prints and reloads to
 * the same values, or fails with an error that names the file.
 */
#include "mqsift-build.h"

#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "tests/fuzz/fuzz.h"

/* LLVMFuzzerTestOneInput - one input, through a temporary file */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *path;
	g_autoptr(GError) error = NULL;

	if (path == NULL)
		path = g_strdup_printf("%s/mqsift-fuzz-config-%d.yaml", g_get_tmp_dir(),
		                       (int)getpid());
	if (!g_file_set_contents(path, (const char *)data, (gssize)size, NULL))
		return 0;
	MqConfig *c = config_load(path, TRUE, &error);
	if (c == NULL) {
		g_assert_nonnull(strstr(error->message, path));
		return 0;
	}
	GString *printed = config_print(c);
	g_assert_true(g_file_set_contents(path, printed->str, (gssize)printed->len, NULL));
	MqConfig *again = config_load(path, TRUE, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(again->queue_outgoing, ==, c->queue_outgoing);
	g_assert_cmpuint(again->scanner_max_file_size, ==, c->scanner_max_file_size);
	config_free(&again);
	g_string_free(printed, TRUE);
	config_free(&c);
	return 0;
}
