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

/* main - GTest */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/engine/failed-init-is-an-error-every-time",
	                test_failed_init_is_an_error_every_time);
	return g_test_run();
}
