/*
 * policy.c - attachment filename rules
 */
#include "mqsift-build.h"

#include "rules/policy.h"

#include <magic.h>
#include <string.h>

/*
 * Executables by libmagic's description of their headers: each of these needs
 * more than a two-byte magic number (a PE header at e_lfanew, a full ELF or
 * Mach-O header), so random or compressed data does not match.
 */
#define DEFAULT_DENY_TYPES                                                            \
	"^PE32\\+? executable|^ELF (32|64)-bit [LM]SB (executable|shared object|pie " \
	"executable)|^Mach-O |^MS Windows shortcut|^MS-DOS executable, (NE|LE|LX)"

#define MAGIC_BYTES 65536 /* libmagic looks at the start of a file */

typedef struct {
	GRegex *re;
	char *pattern;
	gboolean allow;  /* rules file: an allow rule */
	char *log_text;  /* rules file: for logs and X-Virus-Status, or NULL */
	char *user_text; /* rules file: for the recipient, or NULL */
} Rule;

/* the shipped etc/filename.rules, built in (used when the configured file is absent) */
#include "rules/filename-rules-builtin.h"

struct Policy {
	GArray *allow; /* of Rule */
	GArray *deny;
	GArray *deny_types;
	GHashTable *rule_files; /* path -> GArray of Rule: every file the configuration names */
	char *default_file;     /* policy.filename_rules itself */
	magic_t magic;
};

/* rule_clear - GArray clear func */
static void
rule_clear(gpointer p)
{
	Rule *r = p;

	g_regex_unref(r->re);
	g_free(r->pattern);
	g_free(r->log_text);
	g_free(r->user_text);
}

/* compile_rules - one GArray of Rules from a pattern list */
static GArray *
compile_rules(char **patterns, const char *key, GError **error)
{
	g_autoptr(GArray) rules = g_array_new(FALSE, FALSE, sizeof(Rule));

	g_array_set_clear_func(rules, rule_clear);
	for (int i = 0; patterns && patterns[i]; i++) {
		g_autoptr(GError) local = NULL;
		GRegex *re = g_regex_new(
		    patterns[i], G_REGEX_CASELESS | G_REGEX_OPTIMIZE | G_REGEX_RAW, 0, &local);

		if (re == NULL) {
			g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_INVALID,
			            "%s: bad regular expression \"%s\": %s", key, patterns[i],
			            local->message);
			return NULL;
		}
		Rule r = {re, g_strdup(patterns[i])};
		g_array_append_val(rules, r);
	}
	return g_steal_pointer(&rules);
}

/* parse_rules - the lines of a rules file; NULL with @error naming @source:line */
static GArray *
parse_rules(const char *text, const char *source, GError **error)
{
	g_autoptr(GArray) rules = g_array_new(FALSE, FALSE, sizeof(Rule));
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	g_array_set_clear_func(rules, rule_clear);
	for (int i = 0; lines[i]; i++) {
		char *line = g_strstrip(lines[i]);
		if (*line == '\0' || *line == '#')
			continue;
		g_auto(GStrv) f = g_regex_split_simple("\t+", line, 0, 0);
		guint n = g_strv_length(f);
		if (n < 2 || n > 4 || (strcmp(f[0], "allow") != 0 && strcmp(f[0], "deny") != 0)) {
			g_set_error(
			    error, CONFIG_ERROR, CONFIG_ERROR_INVALID,
			    "%s:%d: expected \"allow|deny<TAB>pattern<TAB>log text<TAB>user "
			    "text\"",
			    source, i + 1);
			return NULL;
		}
		g_autoptr(GError) local = NULL;
		GRegex *re =
		    g_regex_new(f[1], G_REGEX_CASELESS | G_REGEX_OPTIMIZE | G_REGEX_RAW, 0, &local);
		if (re == NULL) {
			g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_INVALID,
			            "%s:%d: bad regular expression \"%s\": %s", source, i + 1, f[1],
			            local->message);
			return NULL;
		}
		Rule r = {re, g_strdup(f[1]), strcmp(f[0], "allow") == 0,
		          n > 2 && strcmp(f[2], "-") != 0 ? g_strdup(f[2]) : NULL,
		          n > 3 && strcmp(f[3], "-") != 0 ? g_strdup(f[3]) : NULL};
		g_array_append_val(rules, r);
	}
	return g_steal_pointer(&rules);
}

/* load_rules_file - policy.filename_rules, or the built-in rules if it does not exist */
static GArray *
load_rules_file(const char *path, GError **error)
{
	g_autofree char *text = NULL;
	g_autoptr(GError) local = NULL;

	/* the rules decide what is blocked: only root or this user may have written them */
	if (path != NULL && *path != '\0' &&
	    !config_check_file_safe(path, "policy.filename_rules", error))
		return NULL;
	if (path != NULL && *path != '\0' && g_file_get_contents(path, &text, NULL, &local))
		return parse_rules(text, path, error);
	if (local != NULL && !g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_IO, "policy.filename_rules: %s",
		            local->message);
		return NULL;
	}
	g_debug("policy.filename_rules %s does not exist: using the built-in rules", path);
	return parse_rules(builtin_filename_rules, "(built-in filename.rules)", error);
}

/* policy_new - compile */
Policy *
policy_new(const MqConfig *config, GError **error)
{
	g_autoptr(Policy) p = g_new0(Policy, 1);
	g_autoptr(GPtrArray) files = g_ptr_array_new();
	char *defaults[] = {(char *)DEFAULT_DENY_TYPES, NULL};
	char **types = config->policy_deny_filetypes && config->policy_deny_filetypes[0]
	                   ? config->policy_deny_filetypes
	                   : defaults;

	p->allow = compile_rules(config->policy_allow_filenames, "policy.allow_filenames", error);
	if (p->allow == NULL)
		return NULL;
	p->deny = compile_rules(config->policy_deny_filenames, "policy.deny_filenames", error);
	if (p->deny == NULL)
		return NULL;
	p->rule_files =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_array_unref);
	p->default_file = g_strdup(config->policy_filename_rules);
	config_all_values(config, "policy.filename_rules", files);
	for (guint i = 0; i < files->len; i++) {
		const char *path = g_ptr_array_index(files, i);
		GArray *rules = load_rules_file(path, error);
		if (rules == NULL)
			return NULL;
		g_hash_table_replace(p->rule_files, g_strdup(path), rules);
	}
	p->deny_types = compile_rules(types, "policy.deny_filetypes", error);
	if (p->deny_types == NULL)
		return NULL;
	p->magic = magic_open(MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_ENCODING |
	                      MAGIC_NO_CHECK_TOKENS | MAGIC_ERROR);
	if (p->magic == NULL || magic_load(p->magic, NULL) != 0) {
		g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_IO,
		            "cannot load libmagic's database: %s",
		            p->magic ? magic_error(p->magic) : "out of memory");
		return NULL;
	}
	return g_steal_pointer(&p);
}

/* policy_free - free and clear */
void
policy_free(Policy **policy)
{
	if (policy == NULL || *policy == NULL)
		return;
	Policy *p = *policy;
	if (p->allow)
		g_array_unref(p->allow);
	if (p->deny)
		g_array_unref(p->deny);
	if (p->deny_types)
		g_array_unref(p->deny_types);
	if (p->rule_files)
		g_hash_table_destroy(p->rule_files);
	g_free(p->default_file);
	if (p->magic)
		magic_close(p->magic);
	g_free(p);
	*policy = NULL;
}

/* is_hidden_char - bidi controls, direction marks and invisible format characters */
static gboolean
is_hidden_char(gunichar c)
{
	return c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
	       (c >= 0x2066 && c <= 0x2069) || (c >= 0x200B && c <= 0x200D) ||
	       (c >= 0x2060 && c <= 0x2064) || c == 0xFEFF || c == 0x00AD || c == 0x061C ||
	       c == 0x180E || g_unichar_type(c) == G_UNICODE_FORMAT;
}

/* trim_name - leading quotes and spaces, trailing dots, spaces and quotes (Windows drops them) */
static void
trim_name(GString *s)
{
	gsize lead = 0;

	while (lead < s->len && strchr(" \t\"'", s->str[lead]) != NULL)
		lead++;
	g_string_erase(s, 0, (gssize)lead);
	while (s->len > 0 && strchr(". \t\"'", s->str[s->len - 1]) != NULL)
		g_string_truncate(s, s->len - 1);
}

/*
 * normalize_name - the name as it is matched: NFC, trimmed; with
 * @drop_hidden, without the characters that change how it displays (so
 * "cod\u202Eexe.txt" shows its real extension)
 */
static char *
normalize_name(const char *name, gboolean drop_hidden)
{
	GString *s = g_string_new(NULL);
	g_autofree char *nfc =
	    g_utf8_validate(name, -1, NULL) ? g_utf8_normalize(name, -1, G_NORMALIZE_NFC) : NULL;

	for (const char *p = nfc ? nfc : name; *p;) {
		gunichar c = g_utf8_get_char_validated(p, -1);

		if (c == (gunichar)-1 || c == (gunichar)-2) {
			g_string_append_c(s, *p++); /* not UTF-8: keep the byte */
			continue;
		}
		if (!drop_hidden || !is_hidden_char(c))
			g_string_append_unichar(s, c);
		p = g_utf8_next_char(p);
	}
	trim_name(s);
	return g_string_free(s, FALSE);
}

/* printable_name - @name for logs and headers: controls and bidi marks made visible */
static char *
printable_name(const char *name)
{
	GString *s = g_string_new(NULL);

	for (const char *p = name; *p;) {
		gunichar c = g_utf8_get_char_validated(p, -1);

		if (c == (gunichar)-1 || c == (gunichar)-2) {
			g_string_append_printf(s, "\\x%02x", (guchar)*p++);
			continue;
		}
		if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0) || is_hidden_char(c))
			g_string_append_printf(s, "<U+%04X>", c);
		else
			g_string_append_unichar(s, c);
		p = g_utf8_next_char(p);
	}
	return g_string_free(s, FALSE);
}

/* policy_check_filename - which rule, if any, blocks @filename */
char *
policy_check_filename(const Policy *policy, const char *filename)
{
	return policy_check_filename_advice(policy, filename, NULL);
}

/* policy_check_filename_advice - the same, with the rule's text for the recipient */
char *
policy_check_filename_advice(const Policy *policy, const char *filename, char **advice)
{
	return policy_check_filename_in(policy, NULL, filename, advice);
}

/* check_rules_file - the first rule of one file that matches; NULL if allowed */
static char *
check_rules_file(const GArray *rules, const char *name, const char *shown_from, char **advice)
{
	for (guint i = 0; rules && i < rules->len; i++) {
		const Rule *r = &g_array_index(rules, Rule, i);

		if (!g_regex_match(r->re, name, 0, NULL))
			continue;
		if (r->allow)
			return NULL;
		g_autofree char *shown = printable_name(shown_from);
		if (advice && r->user_text && *advice == NULL)
			*advice = g_strdup(r->user_text);
		return r->log_text ? g_strdup_printf("banned file name %s (%s)", shown, r->log_text)
		                   : g_strdup_printf("banned file name %s", shown);
	}
	return NULL;
}

/* check_one_form - the lists, then each rules file in @files, on one form of the name */
static char *
check_one_form(const Policy *policy, const char *const *files, const char *name,
               const char *filename, char **advice)
{
	for (guint i = 0; i < policy->allow->len; i++)
		if (g_regex_match(g_array_index(policy->allow, Rule, i).re, name, 0, NULL))
			return NULL;
	for (guint i = 0; i < policy->deny->len; i++) {
		const Rule *r = &g_array_index(policy->deny, Rule, i);

		if (g_regex_match(r->re, name, 0, NULL)) {
			g_autofree char *shown = printable_name(filename);
			return g_strdup_printf("banned file name %s", shown);
		}
	}
	const char *const only_default[] = {policy->default_file, NULL};
	if (files == NULL || files[0] == NULL)
		files = only_default;
	for (gsize f = 0; files[f]; f++) {
		char *why = check_rules_file(g_hash_table_lookup(policy->rule_files, files[f]),
		                             name, filename, advice);
		if (why != NULL)
			return why; /* blocked under one recipient's rules: blocked */
	}
	return NULL;
}

/*
 * policy_check_filename_in - the name as it displays (hidden characters
 * dropped) and as it is written (where a rule can see them): blocked if
 * either form is
 */
char *
policy_check_filename_in(const Policy *policy, const char *const *files, const char *filename,
                         char **advice)
{
	if (advice)
		*advice = NULL;
	if (filename == NULL || *filename == '\0')
		return NULL;
	g_autofree char *shown = normalize_name(filename, TRUE);
	char *why = check_one_form(policy, files, shown, filename, advice);
	if (why != NULL)
		return why;
	g_autofree char *written = normalize_name(filename, FALSE);
	if (strcmp(written, shown) == 0)
		return NULL;
	return check_one_form(policy, files, written, filename, advice);
}

/* policy_describe_type - libmagic on the first bytes */
char *
policy_describe_type(const Policy *policy, const void *buf, gsize len)
{
	const char *d;

	if (buf == NULL || len == 0)
		return g_strdup("empty");
	d = magic_buffer(policy->magic, buf, MIN(len, (gsize)MAGIC_BYTES));
	return g_strdup(d ? d : "data");
}

/* policy_check_filetype - the deny_filetypes rules on libmagic's description */
char *
policy_check_filetype(const Policy *policy, const void *buf, gsize len)
{
	if (buf == NULL || len < 4)
		return NULL;
	g_autofree char *type = policy_describe_type(policy, buf, len);
	for (guint i = 0; i < policy->deny_types->len; i++) {
		const Rule *r = &g_array_index(policy->deny_types, Rule, i);

		if (g_regex_match(r->re, type, 0, NULL)) {
			g_autofree char *shown = printable_name(type);
			return g_strdup_printf("banned file type %s", shown);
		}
	}
	return NULL;
}
