/*
 * rule.c - the patterns and conditions of the rules in a ruleset
 */
#include "mqsift-build.h"

#include "config/rule.h"

#include <arpa/inet.h>
#include <string.h>

#include "config/config.h"

typedef enum {
	PAT_ANY,
	PAT_EXACT,  /* user@domain */
	PAT_DOMAIN, /* the domain and its subdomains */
	PAT_GLOB,
	PAT_REGEX,
	PAT_CIDR,
} PatKind;

struct RulePattern {
	PatKind kind;
	char *text; /* lower-cased, for EXACT/DOMAIN */
	GPatternSpec *glob;
	GRegex *re;
	int family; /* AF_INET or AF_INET6 */
	guint8 addr[16];
	guint prefix;        /* PAT_CIDR */
	gboolean subdomains; /* PAT_DOMAIN: also match subdomains */
};

/* rule_pattern_free - free */
void
rule_pattern_free(gpointer p)
{
	RulePattern *pat = p;

	if (pat == NULL)
		return;
	g_free(pat->text);
	if (pat->glob)
		g_pattern_spec_free(pat->glob);
	if (pat->re)
		g_regex_unref(pat->re);
	g_free(pat);
}

/* parse_ip - text to family + bytes */
static gboolean
parse_ip(const char *text, int *family, guint8 *addr)
{
	if (inet_pton(AF_INET, text, addr) == 1) {
		*family = AF_INET;
		return TRUE;
	}
	if (inet_pton(AF_INET6, text, addr) == 1) {
		*family = AF_INET6;
		return TRUE;
	}
	return FALSE;
}

/* rule_pattern_new - compile one pattern */
RulePattern *
rule_pattern_new(const char *what, const char *text, GError **error)
{
	g_autoptr(RulePattern) p = g_new0(RulePattern, 1);

	if (strcmp(what, "ip") == 0) {
		g_autofree char *addr = g_strdup(text);
		char *slash = strchr(addr, '/');
		p->kind = PAT_CIDR;
		if (slash)
			*slash = '\0';
		if (!parse_ip(addr, &p->family, p->addr)) {
			g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_INVALID,
			            "ip: \"%s\" is not an IPv4 or IPv6 address or CIDR block",
			            text);
			return NULL;
		}
		guint max = p->family == AF_INET ? 32 : 128;
		p->prefix = max;
		if (slash) {
			char *end;
			guint64 v = g_ascii_strtoull(slash + 1, &end, 10);
			if (slash[1] == '\0' || *end != '\0' || v > max) {
				g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_INVALID,
				            "ip: bad prefix length in \"%s\" (0 to %u)", text, max);
				return NULL;
			}
			p->prefix = (guint)v;
		}
		return g_steal_pointer(&p);
	}
	gsize len = strlen(text);
	if (strcmp(text, "*") == 0 || strcmp(text, "*@*") == 0) {
		p->kind = PAT_ANY;
	} else if (len >= 2 && text[0] == '/' && text[len - 1] == '/') {
		g_autofree char *body = g_strndup(text + 1, len - 2);
		g_autoptr(GError) local = NULL;
		p->kind = PAT_REGEX;
		p->re = g_regex_new(body, G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, &local);
		if (p->re == NULL) {
			g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_INVALID,
			            "%s: bad regular expression %s: %s", what, text,
			            local->message);
			return NULL;
		}
	} else if (g_str_has_prefix(text, "*@") && strpbrk(text + 2, "*?") == NULL) {
		p->kind = PAT_DOMAIN; /* *@example.org: that domain exactly */
		p->text = g_ascii_strdown(text + 2, -1);
	} else if (strpbrk(text, "*?") != NULL) {
		g_autofree char *low = g_ascii_strdown(text, -1);
		p->kind = PAT_GLOB;
		p->glob = g_pattern_spec_new(low);
	} else if (strchr(text, '@') != NULL) {
		p->kind = PAT_EXACT;
		p->text = g_ascii_strdown(text, -1);
	} else {
		p->kind = PAT_DOMAIN; /* example.org or .example.org: with subdomains */
		p->text = g_ascii_strdown(text[0] == '.' ? text + 1 : text, -1);
		p->subdomains = TRUE;
	}
	return g_steal_pointer(&p);
}

/* rule_pattern_match_address - address patterns */
gboolean
rule_pattern_match_address(const RulePattern *p, const char *address)
{
	char low[512];
	gsize n = strlen(address);

	if (p->kind == PAT_ANY)
		return TRUE;
	if (p->kind == PAT_CIDR)
		return FALSE;
	if (p->kind == PAT_REGEX)
		return g_regex_match(p->re, address, 0, NULL);
	if (n >= sizeof low)
		return FALSE; /* longer than any address */
	for (gsize i = 0; i <= n; i++)
		low[i] = g_ascii_tolower(address[i]);
	switch (p->kind) {
	case PAT_EXACT: return strcmp(low, p->text) == 0;
	case PAT_GLOB: return g_pattern_spec_match(p->glob, n, low, NULL);
	case PAT_DOMAIN: {
		const char *at = strrchr(low, '@');
		const char *dom = at ? at + 1 : low;
		gsize dl = strlen(dom), pl = strlen(p->text);
		if (strcmp(dom, p->text) == 0)
			return TRUE;
		return p->subdomains && dl > pl && dom[dl - pl - 1] == '.' &&
		       strcmp(dom + dl - pl, p->text) == 0;
	}
	default: return FALSE;
	}
}

/* rule_pattern_match_ip - CIDR containment */
gboolean
rule_pattern_match_ip(const RulePattern *p, const char *ip)
{
	guint8 addr[16];
	int family;

	if (p->kind == PAT_ANY)
		return TRUE;
	if (p->kind != PAT_CIDR || ip == NULL || !parse_ip(ip, &family, addr))
		return FALSE;
	if (family != p->family) {
		/* an IPv4-mapped IPv6 address matches IPv4 blocks */
		static const guint8 mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (family == AF_INET6 && p->family == AF_INET && memcmp(addr, mapped, 12) == 0)
			memmove(addr, addr + 12, 4);
		else
			return FALSE;
	}
	guint full = p->prefix / 8, rest = p->prefix % 8;
	if (memcmp(addr, p->addr, full) != 0)
		return FALSE;
	if (rest == 0)
		return TRUE;
	guint8 mask = (guint8)(0xFF << (8 - rest));
	return (addr[full] & mask) == (p->addr[full] & mask);
}

/* rule_cond_kind - condition names */
gboolean
rule_cond_kind(const char *name, CondKind *kind)
{
	static const struct {
		const char *name;
		CondKind kind;
	} names[] = {{"from", COND_FROM},
	             {"to", COND_TO},
	             {"from_or_to", COND_FROM_OR_TO},
	             {"from_and_to", COND_FROM_AND_TO},
	             {"ip", COND_IP}};

	for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
		if (strcmp(names[i].name, name) == 0) {
			*kind = names[i].kind;
			return TRUE;
		}
	return FALSE;
}

/* rule_conds_match - all conditions, for one recipient */
gboolean
rule_conds_match(const RuleCond *conds, guint n, const Envelope *env, const char *recipient)
{
	for (guint i = 0; i < n; i++) {
		const RulePattern *p = conds[i].pattern;
		gboolean from = rule_pattern_match_address(p, env->sender ? env->sender : "");
		gboolean to = recipient != NULL && rule_pattern_match_address(p, recipient);
		gboolean ok;

		switch (conds[i].kind) {
		case COND_FROM: ok = from; break;
		case COND_TO: ok = to; break;
		case COND_FROM_OR_TO: ok = from || to; break;
		case COND_FROM_AND_TO: ok = from && to; break;
		case COND_IP: ok = rule_pattern_match_ip(p, env->client_ip); break;
		default: ok = FALSE; break;
		}
		if (!ok)
			return FALSE;
	}
	return TRUE;
}
