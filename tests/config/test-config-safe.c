/*
 * test-config-safe.c - a configuration or rules file that others could have
 * written is refused (as sendmail refuses such a cf), and the command line
 * exits 2; notify.local_networks is read and checked
 */
#include "mqsift-build.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "rules/policy.h"

/* Fixture - a private directory (0700) with one config file (0644) in it */
typedef struct {
	char *dir;
	char *file;
} Fixture;

/* fixture_setup - the safe case */
static void
fixture_setup(Fixture *f, gconstpointer data)
{
	(void)data;
	f->dir = g_dir_make_tmp("mqsift-safe-XXXXXX", NULL);
	g_assert_nonnull(f->dir);
	f->file = g_build_filename(f->dir, "mqsift.yaml", NULL);
	g_assert_true(
	    g_file_set_contents(f->file, "notify:\n  postmaster: pm@example.org\n", -1, NULL));
	g_assert_cmpint(chmod(f->file, 0644), ==, 0);
}

/* fixture_teardown - rm -r */
static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	(void)data;
	g_autofree char *cmd = g_strdup_printf("chmod -R u+w '%s'; rm -rf '%s'", f->dir, f->dir);
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(f->dir);
	g_free(f->file);
}

/* assert_unsafe - loading @path fails as unsafe, naming @want */
static void
assert_unsafe(const char *path, const char *want)
{
	g_autoptr(GError) error = NULL;
	MqConfig *c = config_load(path, TRUE, &error);

	g_assert_null(c);
	g_assert_error(error, CONFIG_ERROR, CONFIG_ERROR_UNSAFE);
	if (strstr(error->message, want) == NULL || strstr(error->message, path) == NULL)
		g_error("expected \"%s\" and the path in: %s", want, error->message);
}

/* assert_safe - loading @path works */
static void
assert_safe(const char *path)
{
	GError *error = NULL;
	MqConfig *c = config_load(path, TRUE, &error);

	g_assert_no_error(error);
	g_assert_nonnull(c);
	config_free(&c);
}

/* test_modes - group- and world-writable files and directories */
static void
test_modes(Fixture *f, gconstpointer data)
{
	(void)data;
	assert_safe(f->file);
	g_assert_cmpint(chmod(f->file, 0664), ==, 0);
	assert_unsafe(f->file, "the file");
	assert_unsafe(f->file, "group-writable (mode 0664)");
	g_assert_cmpint(chmod(f->file, 0646), ==, 0);
	assert_unsafe(f->file, "world-writable (mode 0646)");
	g_assert_cmpint(chmod(f->file, 0444), ==, 0);
	assert_safe(f->file);
	g_assert_cmpint(chmod(f->dir, 0777), ==, 0);
	assert_unsafe(f->file, "its directory");
	g_assert_cmpint(chmod(f->dir, 0775), ==, 0);
	assert_unsafe(f->file, "group-writable");
	/* a sticky directory, as /tmp: others cannot replace our file there */
	g_assert_cmpint(chmod(f->dir, 01777), ==, 0);
	assert_safe(f->file);
	g_assert_cmpint(chmod(f->dir, 0700), ==, 0);
	/* a missing file is still "all defaults" when it need not exist */
	g_autofree char *missing = g_build_filename(f->dir, "none.yaml", NULL);
	MqConfig *c = config_load(missing, FALSE, NULL);
	g_assert_nonnull(c);
	config_free(&c);
}

/* test_owner - a file or directory owned by another user who is not root */
static void
test_owner(Fixture *f, gconstpointer data)
{
	(void)data;
	if (geteuid() != 0) {
		g_test_skip("needs root to give a file away");
		return;
	}
	g_assert_cmpint(chown(f->file, 4242, 4242), ==, 0);
	assert_unsafe(f->file, "owned by uid 4242");
	g_assert_cmpint(chown(f->file, 0, 0), ==, 0);
	g_assert_cmpint(chown(f->dir, 4242, 0), ==, 0);
	assert_unsafe(f->file, "its directory");
	g_assert_cmpint(chown(f->dir, 0, 0), ==, 0);
	assert_safe(f->file);
}

/* test_symlink - a safe file reached through a link in an unsafe directory */
static void
test_symlink(Fixture *f, gconstpointer data)
{
	(void)data;
	g_autofree char *open_dir = g_build_filename(f->dir, "open", NULL);
	g_autofree char *link = g_build_filename(open_dir, "mqsift.yaml", NULL);
	g_assert_cmpint(mkdir(open_dir, 0755), ==, 0);
	g_assert_cmpint(symlink(f->file, link), ==, 0);
	assert_safe(link);
	g_assert_cmpint(chmod(open_dir, 0777), ==, 0);
	assert_unsafe(link, "its directory");
	/* and a link in a safe directory to an unsafe file */
	g_assert_cmpint(chmod(open_dir, 0755), ==, 0);
	g_assert_cmpint(chmod(f->file, 0666), ==, 0);
	assert_unsafe(link, "world-writable");
}

/* test_rules_file - policy.filename_rules is checked when it is loaded */
static void
test_rules_file(Fixture *f, gconstpointer data)
{
	(void)data;
	g_autofree char *rules = g_build_filename(f->dir, "filename.rules", NULL);
	g_assert_true(g_file_set_contents(rules, "deny\t\\.exe$\texe\tno programs\n", -1, NULL));
	g_assert_cmpint(chmod(rules, 0644), ==, 0);
	MqConfig *c = config_defaults();
	g_free(c->policy_filename_rules);
	c->policy_filename_rules = g_strdup(rules);
	GError *error = NULL;
	Policy *p = policy_new(c, &error);
	g_assert_no_error(error);
	g_assert_nonnull(p);
	policy_free(&p);
	g_assert_cmpint(chmod(rules, 0666), ==, 0);
	p = policy_new(c, &error);
	g_assert_null(p);
	g_assert_error(error, CONFIG_ERROR, CONFIG_ERROR_UNSAFE);
	g_assert_nonnull(strstr(error->message, "policy.filename_rules"));
	g_assert_nonnull(strstr(error->message, rules));
	g_clear_error(&error);
	config_free(&c);
}

/* run_cli - exit status of "mqsift ARGS" */
static int
run_cli(const char *const *args, char **err)
{
	const char *mqsift = g_getenv("MQSIFT");
	GPtrArray *argv = g_ptr_array_new();
	int status;

	g_ptr_array_add(argv, (gpointer)(mqsift ? mqsift : "./mqsift"));
	for (int i = 0; args[i]; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
	                           NULL, NULL, NULL, err, &status, NULL));
	g_ptr_array_unref(argv);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* test_cli_exit - every command refuses an unsafe file with exit status 2 */
static void
test_cli_exit(Fixture *f, gconstpointer data)
{
	(void)data;
	const char *mqsift = g_getenv("MQSIFT");
	if (mqsift == NULL || !g_file_test(mqsift, G_FILE_TEST_IS_EXECUTABLE)) {
		g_test_skip("MQSIFT is not set (run through make check)");
		return;
	}
	g_assert_cmpint(chmod(f->file, 0666), ==, 0);
	const char *config[] = {"config", "-c", f->file, NULL};
	const char *lint[] = {"lint", "-c", f->file, NULL};
	const char *list[] = {"quarantine", "-c", f->file, "list", NULL};
	const char *const *cmds[] = {config, lint, list};
	for (gsize i = 0; i < G_N_ELEMENTS(cmds); i++) {
		g_autofree char *err = NULL;
		g_assert_cmpint(run_cli(cmds[i], &err), ==, 2);
		g_assert_nonnull(strstr(err, "world-writable"));
	}
	g_assert_cmpint(chmod(f->file, 0644), ==, 0);
	g_autofree char *err = NULL;
	g_assert_cmpint(run_cli(config, &err), ==, 0);
}

/* test_local_networks - the default, a list, a scalar, a bad entry */
static void
test_local_networks(Fixture *f, gconstpointer data)
{
	(void)data;
	MqConfig *d = config_defaults();
	g_assert_cmpuint(g_strv_length(d->notify_local_networks), ==, 2);
	g_assert_cmpstr(d->notify_local_networks[0], ==, "127.0.0.0/8");
	g_assert_cmpstr(d->notify_local_networks[1], ==, "::1/128");
	config_free(&d);

	g_assert_true(g_file_set_contents(
	    f->file, "notify:\n  local_networks: [192.0.2.0/24, 2001:db8::/32, 198.51.100.7]\n", -1,
	    NULL));
	GError *error = NULL;
	MqConfig *c = config_load(f->file, TRUE, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_strv_length(c->notify_local_networks), ==, 3);
	/* printed and read back: the same list */
	GString *printed = config_print(c);
	g_assert_nonnull(strstr(printed->str, "\"192.0.2.0/24\", \"2001:db8::/32\""));
	g_string_free(printed, TRUE);
	config_free(&c);

	g_assert_true(
	    g_file_set_contents(f->file, "notify:\n  local_networks: 10.0.0.0/8\n", -1, NULL));
	c = config_load(f->file, TRUE, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_strv_length(c->notify_local_networks), ==, 1);
	config_free(&c);

	g_assert_true(g_file_set_contents(
	    f->file, "notify:\n  local_networks:\n    - 10.0.0.0/8\n    - example.org\n", -1,
	    NULL));
	g_assert_null(config_load(f->file, TRUE, &error));
	g_assert_error(error, CONFIG_ERROR, CONFIG_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, ":3:5: "));
	g_assert_nonnull(strstr(error->message, "\"example.org\" is not an address"));
	g_clear_error(&error);
	g_assert_true(
	    g_file_set_contents(f->file, "notify:\n  local_networks: 10.0.0.0/33\n", -1, NULL));
	g_assert_null(config_load(f->file, TRUE, &error));
	g_assert_nonnull(strstr(error->message, ":2:19: "));
	g_clear_error(&error);
	/* a ruleset makes no sense here: the evidence is the same for every message */
	g_assert_true(g_file_set_contents(f->file,
	                                  "notify:\n  local_networks:\n    - to: '*@a.example'\n"
	                                  "      value: 10.0.0.0/8\n",
	                                  -1, NULL));
	g_assert_null(config_load(f->file, TRUE, &error));
	g_assert_nonnull(strstr(error->message, "cannot be a ruleset"));
	g_clear_error(&error);
}

/* main - GTest */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	umask(022);
	g_test_add("/config-safe/group-or-world-writable-file-or-dir-is-refused", Fixture, NULL,
	           fixture_setup, test_modes, fixture_teardown);
	g_test_add("/config-safe/file-owned-by-another-user-is-refused", Fixture, NULL,
	           fixture_setup, test_owner, fixture_teardown);
	g_test_add("/config-safe/link-through-an-unsafe-dir-is-refused", Fixture, NULL,
	           fixture_setup, test_symlink, fixture_teardown);
	g_test_add("/config-safe/unsafe-filename-rules-file-is-refused", Fixture, NULL,
	           fixture_setup, test_rules_file, fixture_teardown);
	g_test_add("/config-safe/every-command-exits-2-on-an-unsafe-file", Fixture, NULL,
	           fixture_setup, test_cli_exit, fixture_teardown);
	g_test_add("/config-safe/local-networks-are-read-and-checked", Fixture, NULL, fixture_setup,
	           test_local_networks, fixture_teardown);
	return g_test_run();
}
