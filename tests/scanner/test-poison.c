/*
 * test-poison.c - the retry and quarantine decisions of the poison guard, for
 * crashes and for scans that keep failing (issue #14: a message whose scan
 * always errors stayed in mqueue.in for ever, unseen)
 */
#include "mqsift-build.h"

#include "config/config.h"
#include "scanner/poison.h"

/* test_errors_wait_for_the_grace - enough errors, but not for long enough: retried, not quarantined
 */
static void
test_errors_wait_for_the_grace(void)
{
	g_autoptr(MqConfig) c = config_defaults();
	c->scanner_max_attempts = 2;
	c->queue_error_grace = 4 * 3600;
	g_autoptr(PoisonGuard) g = poison_guard_new(c, NULL);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	guint tries;

	g_assert_cmpint(poison_check_errors(g, "A", now, now - 60, &tries), ==, POISON_SCAN);
	g_assert_cmpuint(tries, ==, 0);
	g_assert_cmpuint(poison_scan_error(g, "A"), ==, 1);
	g_assert_cmpuint(poison_scan_error(g, "A"), ==, 2);
	/* queued a minute ago: still within queue.error_grace, in its back-off */
	g_assert_cmpint(poison_check_errors(g, "A", now, now - 60, &tries), ==, POISON_WAIT);
	g_assert_cmpuint(tries, ==, 2);
	/* after the back-off it is scanned again, not quarantined */
	g_assert_cmpint(poison_check_errors(g, "A", now + 3600, now - 60, &tries), ==, POISON_SCAN);
	/* queued five hours ago: quarantined */
	g_assert_cmpint(poison_check_errors(g, "A", now, now - 5 * 3600, &tries), ==,
	                POISON_QUARANTINE);
	/* errors are not crashes: the crash count is untouched */
	g_assert_cmpint(poison_check(g, "A", now, &tries), ==, POISON_SCAN);
	g_assert_cmpuint(tries, ==, 0);
	poison_forget_errors(g, "A");
	g_assert_cmpint(poison_check_errors(g, "A", now, now - 5 * 3600, &tries), ==, POISON_SCAN);
}

/* main - the tests */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/poison/errors-wait-for-the-grace", test_errors_wait_for_the_grace);
	return g_test_run();
}
