/*
 * test-proctitle.c - process titles: what /proc/self/cmdline shows, a title
 * cut at the end of the argv and environ area, argv and the environment
 * still readable after they were moved
 */
#include "mqsift-build.h"

#include <string.h>

#include "scanner/proctitle.h"

static char *area;      /* argv[0] as the kernel laid it out */
static char *path_seen; /* $PATH before proctitle_init() */
static char *arg0_seen; /* argv[0] before proctitle_init() */
static char **args;

/* cmdline - /proc/self/cmdline up to its first NUL */
static char *
cmdline(void)
{
	g_autofree char *text = NULL;
	gsize len;

	g_assert_true(g_file_get_contents("/proc/self/cmdline", &text, &len, NULL));
	return g_strndup(text, len);
}

/* test_title_in_cmdline - ps and /proc/PID/cmdline show the title */
static void
test_title_in_cmdline(void)
{
	proctitle_set("mqsift: worker %u scanning %s", 2u, "6AOQABC0000001");
	g_autofree char *shown = cmdline();
	g_assert_cmpstr(shown, ==, "mqsift: worker 2 scanning 6AOQABC0000001");
	/* a shorter one leaves nothing of the longer behind */
	proctitle_set("mqsift: master");
	g_autofree char *again = cmdline();
	g_assert_cmpstr(again, ==, "mqsift: master");
	for (gsize i = strlen("mqsift: master"); i <= proctitle_size(); i++)
		g_assert_cmpint(area[i], ==, '\0');
}

/* test_long_title_is_cut - a title longer than the area is cut, never written past it */
static void
test_long_title_is_cut(void)
{
	gsize size = proctitle_size();
	g_autofree char *longer = g_strnfill(size + 100, 'x');

	g_assert_cmpuint(size, >=, strlen(arg0_seen));
	proctitle_set("%s", longer);
	g_assert_cmpuint(strlen(area), ==, size);
	g_assert_cmpint(area[size], ==, '\0');
	/* what the kernel shows of a title past the argv strings: one page of it */
	g_autofree char *shown = cmdline();
	if (size < 4096)
		g_assert_cmpuint(strlen(shown), ==, size);
}

/* test_argv_and_environ_moved - the program still reads both */
static void
test_argv_and_environ_moved(void)
{
	g_assert_cmpstr(args[0], ==, arg0_seen);
	g_assert_cmpstr(g_getenv("PATH"), ==, path_seen);
	g_assert_true(args[0] != area);
}

/* main - GTest, after taking over argv's area */
int
main(int argc, char **argv)
{
	area = argv[0];
	arg0_seen = g_strdup(argv[0]);
	path_seen = g_strdup(g_getenv("PATH"));
	args = argv;
	proctitle_init(argc, argv);
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/proctitle/argv-and-environ-still-read-after-the-move",
	                test_argv_and_environ_moved);
	g_test_add_func("/proctitle/title-shows-in-proc-cmdline", test_title_in_cmdline);
	g_test_add_func("/proctitle/long-title-is-cut-at-the-area-size", test_long_title_is_cut);
	return g_test_run();
}
