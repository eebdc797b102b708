/*
 * test-engine.c - the libclamav engine's start-up failures are errors a
 * caller can report, every time it asks
 */
#include "mqsift-build.h"

#include "queue/fault.h"
#include "config/config.h"
#include "scanner/engine.h"

/*
 * test_failed_init_is_an_error_every_time - libclamav's one-time
 * initialisation fails: the first engine_new and every later one (a
 * signature reload) return NULL with @error set (before: the first left
 * the GOnce unfinished and the second waited for it for ever)
 */
static void
test_failed_init_is_an_error_every_time(void)
{
	if (g_test_subprocess()) {
		g_autoptr(MqConfig) c = config_defaults();

		fault_arm("engine:init");
		for (int i = 0; i < 2; i++) {
			g_autoptr(GError) error = NULL;
			g_assert_null(engine_new(c, &error));
			g_assert_error(error, ENGINE_ERROR, 0);
		}
		fault_arm(NULL);
		return;
	}
	/* a subprocess: libclamav's initialisation happens once per process */
	g_test_trap_subprocess(NULL, 10 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_passed();
}

/*
 * test_fits_only_the_configuration_it_was_built_from - a configuration
 * reload keeps the engine only when scanner.signatures and every scan limit
 * are the ones it was compiled with
 */
static void
test_fits_only_the_configuration_it_was_built_from(void)
{
	const char *top = g_getenv("TOP_SRCDIR");
	g_autoptr(MqConfig) c = config_defaults();
	g_autoptr(GError) error = NULL;

	g_free(c->scanner_signatures);
	c->scanner_signatures = g_build_filename(top ? top : ".", "tests", "signatures", NULL);
	g_autoptr(Engine) e = engine_new(c, &error);
	g_assert_no_error(error);
	g_assert_true(engine_fits(e, c));
	g_autoptr(MqConfig) same = config_defaults();
	g_free(same->scanner_signatures);
	same->scanner_signatures = g_strdup(c->scanner_signatures);
	same->scanner_workers = c->scanner_workers + 3; /* not an engine setting */
	g_assert_true(engine_fits(e, same));

	guint64 *sizes[] = {&same->scanner_max_scan_size, &same->scanner_max_file_size};
	guint *counts[] = {&same->scanner_max_recursion, &same->scanner_max_files,
	                   &same->scanner_max_scan_time};
	for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
		(*sizes[i])++;
		g_assert_false(engine_fits(e, same));
		(*sizes[i])--;
	}
	for (guint i = 0; i < G_N_ELEMENTS(counts); i++) {
		(*counts[i])++;
		g_assert_false(engine_fits(e, same));
		(*counts[i])--;
	}
	g_assert_true(engine_fits(e, same));
	g_free(same->scanner_signatures);
	same->scanner_signatures = g_strconcat(c->scanner_signatures, "/", NULL);
	g_assert_false(engine_fits(e, same));
	g_assert_false(engine_fits(NULL, c));
}

/* main - GTest */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/engine/failed-init-is-an-error-every-time",
	                test_failed_init_is_an_error_every_time);
	g_test_add_func("/engine/fits-only-the-configuration-it-was-built-from",
	                test_fits_only_the_configuration_it_was_built_from);
	return g_test_run();
}
