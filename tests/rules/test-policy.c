/*
 * test-policy.c - attachment filename rules, table-driven
 */
#include "config.h"

#include "rules/config.h"
#include "rules/policy.h"

typedef struct {
	const char *name;
	gboolean blocked;
} NameCase;

static const NameCase default_cases[] = {
    {"setup.exe", TRUE},
    {"SETUP.EXE", TRUE},
    {"invoice.pdf.exe", TRUE},
    {"screensaver.scr", TRUE},
    {"run.bat", TRUE},
    {"script.vbs", TRUE},
    {"page.hta", TRUE},
    {"shortcut.lnk", TRUE},
    {"installer.msi", TRUE},
    {"x.js", TRUE},
    {"x.ps1", TRUE},
    {"x.exe.", TRUE},  /* Windows drops trailing dots */
    {"x.exe  ", TRUE}, /* and trailing spaces */
    {"x.exe . .", TRUE},
    {"cod\xe2\x80\xaegpj.exe", TRUE}, /* RLO: shows as "codexe.jpg" */
    {"photo\xe2\x80\xae"
     "gpj.scr",
     TRUE},
    {"report.pdf", FALSE},
    {"report.2024.pdf", FALSE},
    {"archive.zip", FALSE},
    {"x.zip.zip", FALSE},
    {"notes.txt", FALSE},
    {"exe", FALSE},
    {"my.exe.txt", FALSE},
    {"r\xc3\xa9sum\xc3\xa9.docx", FALSE},
    {"\xe6\x97\xa5\xe6\x9c\xac.xlsx", FALSE},
    {"", FALSE},
    {"\xff\xfe.exe", TRUE}, /* not UTF-8, still checked */
};

/* test_defaults - the built-in deny list */
static void
test_defaults(void)
{
	MqConfig *c = config_defaults();
	GError *error = NULL;
	Policy *p = policy_new(c, &error);

	g_assert_no_error(error);
	for (gsize i = 0; i < G_N_ELEMENTS(default_cases); i++) {
		g_autofree char *why = policy_check_filename(p, default_cases[i].name);
		if ((why != NULL) != default_cases[i].blocked)
			g_error("%s: expected %s", default_cases[i].name,
			        default_cases[i].blocked ? "blocked" : "allowed");
	}
	g_assert_null(policy_check_filename(p, NULL));
	policy_free(&p);
	config_free(&c);
}

/* test_allow_first - allow rules win over deny rules */
static void
test_allow_first(void)
{
	MqConfig *c = config_defaults();
	GError *error = NULL;

	g_strfreev(c->policy_allow_filenames);
	c->policy_allow_filenames = g_strsplit("^trusted-.*\\.exe$", "|", -1);
	Policy *p = policy_new(c, &error);
	g_assert_no_error(error);
	g_assert_null(policy_check_filename(p, "trusted-tool.exe"));
	g_autofree char *why = policy_check_filename(p, "other.exe");
	g_assert_nonnull(why);
	g_assert_true(g_str_has_prefix(why, "banned file name"));
	policy_free(&p);

	g_strfreev(c->policy_deny_filenames);
	c->policy_deny_filenames = g_strsplit("([unclosed", "|", -1);
	g_assert_null(policy_new(c, &error));
	g_assert_error(error, CONFIG_ERROR, CONFIG_ERROR_INVALID);
	g_error_free(error);
	config_free(&c);
}

/* main - GTest */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/policy/defaults", test_defaults);
	g_test_add_func("/policy/allow-first", test_allow_first);
	return g_test_run();
}
