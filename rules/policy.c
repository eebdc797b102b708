/*
 * policy.c - attachment filename rules
 */
#include "config.h"

#include "rules/policy.h"

#include <magic.h>
#include <string.h>

/* executables and scripts Windows runs on a double-click */
#define DEFAULT_DENY                                                                          \
	"\\.(exe|scr|pif|com|bat|cmd|cpl|vbs|vbe|js|jse|wsf|wsh|wsc|hta|lnk|msi|msp|mst|reg|" \
	"ps1|psm1|jar|scf|sct|inf|gadget|application|appref-ms|chm|hlp|shb|shs|url|vb)$"

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
} Rule;

struct Policy {
	GArray *allow; /* of Rule */
	GArray *deny;
	GArray *deny_types;
	magic_t magic;
};

/* rule_clear - GArray clear func */
static void
rule_clear(gpointer p)
{
	Rule *r = p;

	g_regex_unref(r->re);
	g_free(r->pattern);
}

/* policy_default_deny - accessor */
const char *
policy_default_deny(void)
{
	return DEFAULT_DENY;
}

/* compile_rules - one GArray of Rules from a pattern list */
static GArray *
compile_rules(char **patterns, const char *key, GError **error)
{
	GArray *rules = g_array_new(FALSE, FALSE, sizeof(Rule));

	g_array_set_clear_func(rules, rule_clear);
	for (int i = 0; patterns && patterns[i]; i++) {
		GError *local = NULL;
		GRegex *re = g_regex_new(
		    patterns[i], G_REGEX_CASELESS | G_REGEX_OPTIMIZE | G_REGEX_RAW, 0, &local);

		if (re == NULL) {
			g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_INVALID,
			            "%s: bad regular expression \"%s\": %s", key, patterns[i],
			            local->message);
			g_error_free(local);
			g_array_unref(rules);
			return NULL;
		}
		Rule r = {re, g_strdup(patterns[i])};
		g_array_append_val(rules, r);
	}
	return rules;
}

/* policy_new - compile */
Policy *
policy_new(const MqConfig *config, GError **error)
{
	Policy *p = g_new0(Policy, 1);
	char *def[] = {(char *)DEFAULT_DENY, NULL};
	char **deny = config->policy_deny_filenames && config->policy_deny_filenames[0]
	                  ? config->policy_deny_filenames
	                  : def;

	p->allow = compile_rules(config->policy_allow_filenames, "policy.allow_filenames", error);
	if (p->allow == NULL) {
		g_free(p);
		return NULL;
	}
	p->deny = compile_rules(deny, "policy.deny_filenames", error);
	if (p->deny == NULL) {
		policy_free(&p);
		return NULL;
	}
	char *defaults[] = {(char *)DEFAULT_DENY_TYPES, NULL};
	char **types = config->policy_deny_filetypes && config->policy_deny_filetypes[0]
	                   ? config->policy_deny_filetypes
	                   : defaults;
	p->deny_types = compile_rules(types, "policy.deny_filetypes", error);
	if (p->deny_types == NULL) {
		policy_free(&p);
		return NULL;
	}
	p->magic = magic_open(MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_ENCODING |
	                      MAGIC_NO_CHECK_TOKENS | MAGIC_ERROR);
	if (p->magic == NULL || magic_load(p->magic, NULL) != 0) {
		g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_IO,
		            "cannot load libmagic's database: %s",
		            p->magic ? magic_error(p->magic) : "out of memory");
		policy_free(&p);
		return NULL;
	}
	return p;
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
	if (p->magic)
		magic_close(p->magic);
	g_free(p);
	*policy = NULL;
}

/* normalize_name - drop bidi controls and trailing dots/spaces */
static char *
normalize_name(const char *name)
{
	GString *s = g_string_new(NULL);

	for (const char *p = name; *p;) {
		gunichar c = g_utf8_get_char_validated(p, -1);

		if (c == (gunichar)-1 || c == (gunichar)-2) {
			g_string_append_c(s, *p++); /* not UTF-8: keep the byte */
			continue;
		}
		/* U+200E/F, U+202A-E, U+2066-9: direction marks and overrides */
		if (!(c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
		      (c >= 0x2066 && c <= 0x2069)))
			g_string_append_unichar(s, c);
		p = g_utf8_next_char(p);
	}
	while (s->len > 0 && (s->str[s->len - 1] == '.' || s->str[s->len - 1] == ' ' ||
	                      s->str[s->len - 1] == '\t'))
		g_string_truncate(s, s->len - 1);
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
		if (c < 0x20 || c == 0x7F || c == 0x200E || c == 0x200F ||
		    (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069))
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
	if (filename == NULL || *filename == '\0')
		return NULL;
	g_autofree char *name = normalize_name(filename);

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
	return NULL;
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
