/*
 * test-policy.c - attachment filename rules, table-driven
 */
#include "mqsift-build.h"

#include <string.h>

#include "config/config.h"
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
    /* any character that changes how a name displays: the shipped hidden-characters rule */
    {"readme.txt\xe2\x80\xae"
     "exe.doc",
     TRUE},
    {"invoice\xe2\x80\x8b.pdf", TRUE}, /* zero-width space */
    {"invoice\xe2\x81\xa6.pdf", TRUE}, /* left-to-right isolate */
    {"\xef\xbb\xbfinvoice.pdf", TRUE}, /* BOM */
    {"x.exe\"", TRUE},                 /* quotes are stripped */
    {"'x.exe'", TRUE},
    {"x.\xef\xbd\x85xe", FALSE}, /* fullwidth e: not an extension Windows runs */
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

/* test_generated_names - a few hundred names built from extensions and disguises */
static void
test_generated_names(void)
{
	static const char *const banned[] = {"exe", "scr", "pif", "com", "bat", "cmd", "cpl",
	                                     "vbs", "vbe", "js",  "jse", "wsf", "wsh", "hta",
	                                     "lnk", "msi", "reg", "ps1", "jar", "chm"};
	static const char *const safe[] = {"pdf", "docx", "xlsx", "pptx", "txt",
	                                   "csv", "jpg",  "png",  "gif",  "zip",
	                                   "gz",  "odt",  "eml",  "ics",  "html"};
	static const char *const bases[] = {"invoice",     "R\xc3\xa9sum\xc3\xa9",
	                                    "report.2024", "\xe6\x97\xa5\xe6\x9c\xac",
	                                    "a b c",       "x.2024"};
	MqConfig *c = config_defaults();
	Policy *p = policy_new(c, NULL);
	guint checked = 0;

	for (gsize b = 0; b < G_N_ELEMENTS(bases); b++) {
		for (gsize i = 0; i < G_N_ELEMENTS(banned); i++) {
			g_autofree char *upper = g_ascii_strup(banned[i], -1);
			static const char *const tails[] = {"", ".", "   ", " . "};
			for (gsize f = 0; f < G_N_ELEMENTS(tails) + 1; f++) {
				g_autofree char *name =
				    f < G_N_ELEMENTS(tails)
				        ? g_strconcat(bases[b], ".", f == 1 ? upper : banned[i],
				                      tails[f], NULL)
				        : g_strconcat(bases[b], ".\xe2\x80\xae", banned[i], NULL);
				g_autofree char *why = policy_check_filename(p, name);
				if (f < G_N_ELEMENTS(tails) && why == NULL)
					g_error("%s should be blocked", name);
				checked++;
			}
		}
		for (gsize i = 0; i < G_N_ELEMENTS(safe); i++) {
			g_autofree char *name = g_strdup_printf("%s.%s", bases[b], safe[i]);
			g_autofree char *twice =
			    g_strdup_printf("%s.%s.%s", bases[b], safe[i], safe[i]);
			g_autofree char *why = policy_check_filename(p, name);
			g_autofree char *why2 = policy_check_filename(p, twice);
			if (why != NULL || why2 != NULL)
				g_error("%s / %s should pass", name, twice);
			checked += 2;
		}
	}
	g_assert_cmpuint(checked, >=, 700);
	policy_free(&p);
	config_free(&c);
}

/* test_filetypes - real executables are caught whatever their name; nothing else */
static void
test_filetypes(void)
{
	MqConfig *c = config_defaults();
	GError *error = NULL;
	Policy *p = policy_new(c, &error);
	g_autofree char *pe = NULL, *elf = NULL;
	gsize pe_len, elf_len;

	g_assert_no_error(error);
	g_assert_true(
	    g_file_get_contents("/usr/share/clamav-testfiles/clam.exe", &pe, &pe_len, NULL));
	g_assert_true(g_file_get_contents("/bin/true", &elf, &elf_len, NULL));
	g_autofree char *why_pe = policy_check_filetype(p, pe, pe_len);
	g_autofree char *why_elf = policy_check_filetype(p, elf, elf_len);
	g_assert_nonnull(why_pe);
	g_assert_nonnull(strstr(why_pe, "PE32"));
	g_assert_nonnull(why_elf);
	g_assert_nonnull(strstr(why_elf, "ELF"));

	/* ordinary documents and archives */
	static const char *const docs[] = {"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n",
	                                   "PK\x03\x04\x14\x00\x00\x00\x08\x00",
	                                   "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
	                                   "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",
	                                   "<html><body>hello</body></html>\n",
	                                   "MZ only two magic bytes, then text that is not a PE"};
	for (gsize i = 0; i < G_N_ELEMENTS(docs); i++) {
		g_autofree char *why = policy_check_filetype(p, docs[i], strlen(docs[i]));
		if (why != NULL)
			g_error("document %zu taken for an executable: %s", i, why);
	}

	/* thousands of random buffers, some starting with MZ, some with a PE-like stub */
	GRand *rand = g_rand_new_with_seed(4242);
	guint8 buf[4096];
	for (int n = 0; n < 3000; n++) {
		gsize len = (gsize)g_rand_int_range(rand, 16, sizeof buf);
		for (gsize k = 0; k < len; k++)
			buf[k] = (guint8)g_rand_int_range(rand, 0, 256);
		if (n % 3 == 1) {
			buf[0] = 'M';
			buf[1] = 'Z';
		}
		g_autofree char *why = policy_check_filetype(p, buf, len);
		if (why != NULL)
			g_error("random buffer %d (%zu bytes) taken for an executable: %s", n, len,
			        why);
	}
	g_rand_free(rand);
	policy_free(&p);
	config_free(&c);
}

/* main - GTest */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/policy/default-deny-list-blocks-dangerous-names-only", test_defaults);
	g_test_add_func("/policy/allow-rules-win-over-deny-rules", test_allow_first);
	g_test_add_func("/policy/disguised-extensions-are-blocked", test_generated_names);
	g_test_add_func("/policy/real-executables-are-caught-whatever-their-name", test_filetypes);
	return g_test_run();
}
