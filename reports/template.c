/*
 * template.c - load and expand text templates
 */
#include "mqsift-build.h"

#include "reports/template.h"

#include <string.h>

typedef struct {
	const char *name;
	const char *text;
} Builtin;

#include "reports/templates-builtin.h"

/* template_builtin - built-in English text */
const char *
template_builtin(const char *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(builtins); i++)
		if (strcmp(builtins[i].name, name) == 0)
			return builtins[i].text;
	return NULL;
}

/* template_expand - $name / ${name} substitution */
char *
template_expand(const char *text, GHashTable *vars)
{
	GString *out = g_string_sized_new(strlen(text) + 256);

	for (const char *p = text; *p;) {
		if (*p != '$') {
			g_string_append_c(out, *p++);
			continue;
		}
		if (p[1] == '$') {
			g_string_append_c(out, '$');
			p += 2;
			continue;
		}
		const char *start = p + 1, *end;
		gboolean braced = *start == '{';
		if (braced)
			start++;
		end = start;
		while (g_ascii_isalnum(*end) || *end == '_')
			end++;
		if (end == start || (braced && *end != '}')) {
			g_string_append_c(out, *p++);
			continue;
		}
		g_autofree char *name = g_strndup(start, (gsize)(end - start));
		const char *value = vars ? g_hash_table_lookup(vars, name) : NULL;
		const char *after = braced ? end + 1 : end;
		if (value != NULL)
			g_string_append(out, value);
		else
			g_string_append_len(out, p, after - p);
		p = after;
	}
	return g_string_free(out, FALSE);
}

/* template_render - load (with fallback) and expand */
char *
template_render(const char *dir, const char *lang, const char *name, GHashTable *vars)
{
	g_autofree char *file = g_strdup_printf("%s.txt", name);
	g_autofree char *path = g_build_filename(dir, lang, file, NULL);
	g_autofree char *text = NULL;
	g_autoptr(GError) error = NULL;

	if (!g_file_get_contents(path, &text, NULL, &error)) {
		const char *builtin = template_builtin(name);

		g_warning("template %s: %s; using the built-in English text", path, error->message);
		if (builtin == NULL)
			return g_strdup("");
		return template_expand(builtin, vars);
	}
	return template_expand(text, vars);
}

/* template_render_mail - a template with a Subject: first line */
char *
template_render_mail(const char *dir, const char *lang, const char *name, GHashTable *vars,
                     const char *fallback_subject, char **subject)
{
	char *text = template_render(dir, lang, name, vars);

	if (g_str_has_prefix(text, "Subject: ")) {
		char *nl = strchr(text, '\n');
		*subject = g_strndup(text + 9, nl ? (gsize)(nl - text - 9) : strlen(text + 9));
		char *body = g_strdup(nl ? nl + 1 + (nl[1] == '\n') : "");
		g_free(text);
		return body;
	}
	*subject = g_strdup(fallback_subject);
	return text;
}
