/*
 * test-policy.c - attachment filename rules, table-driven
 */
#include "mqsift-build.h"

#include <string.h>

#include "config/config.h"
#include "rules/policy.h"

/* a file name, what the built-in deny list does with it, and why (the test's name) */
typedef struct {
	const char *behaviour;
	const char *name;
	gboolean blocked;
} NameCase;

static const NameCase default_cases[] = {
    {"exe-is-blocked", "setup.exe", TRUE},
    {"extension-case-does-not-matter", "SETUP.EXE", TRUE},
    {"double-extension-exe-is-blocked", "invoice.pdf.exe", TRUE},
    {"scr-is-blocked", "screensaver.scr", TRUE},
    {"bat-is-blocked", "run.bat", TRUE},
    {"vbs-is-blocked", "script.vbs", TRUE},
    {"hta-is-blocked", "page.hta", TRUE},
    {"lnk-is-blocked", "shortcut.lnk", TRUE},
    {"msi-is-blocked", "installer.msi", TRUE},
    {"js-is-blocked", "x.js", TRUE},
    {"ps1-is-blocked", "x.ps1", TRUE},
    {"trailing-dot-is-dropped-as-windows-does", "x.exe.", TRUE}, /* Windows drops trailing dots */
    {"trailing-spaces-are-dropped-as-windows-does", "x.exe  ", TRUE}, /* and trailing spaces */
    {"trailing-dots-and-spaces-are-dropped", "x.exe . .", TRUE},
    {"rlo-disguised-exe-is-blocked", "cod\xe2\x80\xaegpj.exe",
     TRUE}, /* RLO: shows as "codexe.jpg" */
    {"rlo-disguised-scr-is-blocked",
     "photo\xe2\x80\xae"
     "gpj.scr",
     TRUE},
    /* any character that changes how a name displays: the shipped hidden-characters rule */
    {"rlo-anywhere-is-blocked-by-the-hidden-characters-rule",
     "readme.txt\xe2\x80\xae"
     "exe.doc",
     TRUE},
    {"zero-width-space-is-blocked", "invoice\xe2\x80\x8b.pdf", TRUE}, /* zero-width space */
    {"left-to-right-isolate-is-blocked", "invoice\xe2\x81\xa6.pdf",
     TRUE},                                                          /* left-to-right isolate */
    {"byte-order-mark-is-blocked", "\xef\xbb\xbfinvoice.pdf", TRUE}, /* BOM */
    {"trailing-quote-is-stripped", "x.exe\"", TRUE},                 /* quotes are stripped */
    {"surrounding-quotes-are-stripped", "'x.exe'", TRUE},
    {"fullwidth-lookalike-extension-is-allowed", "x.\xef\xbd\x85xe",
     FALSE}, /* fullwidth e: not an extension Windows runs */
    {"pdf-is-allowed", "report.pdf", FALSE},
    {"dotted-pdf-is-allowed", "report.2024.pdf", FALSE},
    {"zip-is-allowed", "archive.zip", FALSE},
    {"double-zip-is-allowed", "x.zip.zip", FALSE},
    {"txt-is-allowed", "notes.txt", FALSE},
    {"bare-word-exe-is-allowed", "exe", FALSE},
    {"exe-before-txt-is-allowed", "my.exe.txt", FALSE},
    {"accented-docx-is-allowed", "r\xc3\xa9sum\xc3\xa9.docx", FALSE},
    {"cjk-xlsx-is-allowed", "\xe6\x97\xa5\xe6\x9c\xac.xlsx", FALSE},
    {"empty-name-is-allowed", "", FALSE},
    {"invalid-utf8-is-still-checked", "\xff\xfe.exe", TRUE}, /* not UTF-8, still checked */
};

/* test_default - the built-in deny list on one name */
static void
test_default(gconstpointer data)
{
	const NameCase *nc = data;
	MqConfig *c = config_defaults();
	g_autoptr(GError) error = NULL;
	Policy *p = policy_new(c, &error);

	g_assert_no_error(error);
	g_autofree char *why = policy_check_filename(p, nc->name);
	if ((why != NULL) != nc->blocked)
		g_error("%s: expected %s", nc->name, nc->blocked ? "blocked" : "allowed");
	policy_free(&p);
	config_free(&c);
}

/* test_no_name - a part without a file name has no name to block */
static void
test_no_name(void)
{
	MqConfig *c = config_defaults();
	g_autoptr(GError) error = NULL;
	Policy *p = policy_new(c, &error);

	g_assert_no_error(error);
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
	config_free(&c);
}

/* test_bad_deny_pattern - a deny pattern that does not compile is a configuration error */
static void
test_bad_deny_pattern(void)
{
	MqConfig *c = config_defaults();
	g_autoptr(GError) error = NULL;

	g_strfreev(c->policy_deny_filenames);
	c->policy_deny_filenames = g_strsplit("([unclosed", "|", -1);
	g_assert_null(policy_new(c, &error));
	g_assert_error(error, CONFIG_ERROR, CONFIG_ERROR_INVALID);
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
	for (gsize i = 0; i < G_N_ELEMENTS(default_cases); i++) {
		g_autofree char *path =
		    g_strconcat("/policy/default-deny-list/", default_cases[i].behaviour, NULL);
		g_test_add_data_func(path, &default_cases[i], test_default);
	}
	g_test_add_func("/policy/default-deny-list/part-without-a-name-is-not-blocked",
	                test_no_name);
	g_test_add_func("/policy/allow-rules-win-over-deny-rules", test_allow_first);
	g_test_add_func("/policy/bad-deny-pattern-is-a-configuration-error", test_bad_deny_pattern);
	g_test_add_func("/policy/disguised-extensions-are-blocked", test_generated_names);
	g_test_add_func("/policy/real-executables-are-caught-whatever-their-name", test_filetypes);
	return g_test_run();
}
