/*
 * dnsbl.c - blocklist look-ups with c-ares, cached per address
 */
#include "mqsift-build.h"

#include "scanner/dnsbl.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <gio/gio.h>
#include <netdb.h>
#include <string.h>

typedef struct {
	char *zone;
	double weight;
} Zone;

struct DnsblEntry {
	int refs; /* the cache's, and one per query in flight */
	char *ip;
	guint pending; /* zones not answered yet */
	gboolean *answered;
	gboolean done;
	gint64 deadline; /* monotonic */
	double weight;
	GString *hits;
	GString *timed_out;
	Dnsbl *owner;
};

struct Dnsbl {
	ares_channel channel;
	GArray *zones; /* of Zone */
	guint timeout_ms;
	GHashTable *cache; /* ip -> DnsblEntry* */
	guint in_flight;   /* queries */
};

typedef struct {
	DnsblEntry *entry;
	guint zone;
} Query;

/* entry_unref - drop one reference */
static void
entry_unref(DnsblEntry *e)
{
	if (--e->refs > 0)
		return;
	g_free(e->ip);
	g_free(e->answered);
	g_string_free(e->hits, TRUE);
	g_string_free(e->timed_out, TRUE);
	g_free(e);
}

/* cache_value_free - the cache's reference */
static void
cache_value_free(gpointer p)
{
	entry_unref(p);
}

/* dnsbl_new - zones, resolver */
Dnsbl *
dnsbl_new(char **zones, char **servers, guint timeout_ms, GError **error)
{
	static gsize lib_init = 0;
	struct ares_options opts = {0};
	int rc;

	if (g_once_init_enter(&lib_init)) {
		ares_library_init(ARES_LIB_INIT_ALL);
		g_once_init_leave(&lib_init, 1);
	}
	g_autoptr(Dnsbl) d = g_new0(Dnsbl, 1);
	d->zones = g_array_new(FALSE, TRUE, sizeof(Zone));
	d->timeout_ms = MAX(timeout_ms, 100);
	d->cache = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, cache_value_free);
	for (int i = 0; zones && zones[i]; i++) {
		Zone z = {0};
		const char *eq = strchr(zones[i], '=');
		z.zone = eq ? g_strndup(zones[i], (gsize)(eq - zones[i])) : g_strdup(zones[i]);
		g_strstrip(z.zone);
		z.weight = 1;
		if (eq) {
			char *end;
			z.weight = g_ascii_strtod(eq + 1, &end);
			if (end == eq + 1 || *end != '\0') {
				g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
				            "spam.dnsbl_zones: \"%s\": write ZONE or ZONE=WEIGHT",
				            zones[i]);
				g_free(z.zone);
				return NULL;
			}
		}
		while (g_str_has_suffix(z.zone, "."))
			z.zone[strlen(z.zone) - 1] = '\0';
		g_array_append_val(d->zones, z);
	}
	/* one try, the whole budget: an unanswered zone ends at the entry's deadline */
	opts.timeout = (int)d->timeout_ms;
	opts.tries = 1;
	opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	rc = ares_init_options(&d->channel, &opts,
	                       ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS);
	if (rc != ARES_SUCCESS) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "DNS resolver: %s",
		            ares_strerror(rc));
		d->channel = NULL;
		return NULL;
	}
	if (servers && servers[0] && *servers[0]) {
		g_autofree char *csv = g_strjoinv(",", servers);
		rc = ares_set_servers_ports_csv(d->channel, csv);
		if (rc != ARES_SUCCESS) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			            "spam.dns_servers: \"%s\": %s", csv, ares_strerror(rc));
			return NULL;
		}
	}
	return g_steal_pointer(&d);
}

/* dnsbl_free - everything */
void
dnsbl_free(Dnsbl **dnsbl)
{
	if (dnsbl == NULL || *dnsbl == NULL)
		return;
	Dnsbl *d = *dnsbl;
	if (d->channel)
		ares_destroy(d->channel); /* the callbacks run (cancelled) and drop their refs */
	g_hash_table_destroy(d->cache);
	for (guint i = 0; i < d->zones->len; i++)
		g_free(g_array_index(d->zones, Zone, i).zone);
	g_array_free(d->zones, TRUE);
	g_free(d);
	*dnsbl = NULL;
}

/* dnsbl_n_zones - count */
guint
dnsbl_n_zones(const Dnsbl *dnsbl)
{
	return dnsbl->zones->len;
}

/* in_mask - @a inside "cidr" */
static gboolean
in_mask(GInetAddress *a, const char *cidr)
{
	GInetAddressMask *m = g_inet_address_mask_new_from_string(cidr, NULL);
	gboolean in = m != NULL && g_inet_address_mask_matches(m, a);

	if (m)
		g_object_unref(m);
	return in;
}

/* dnsbl_address_eligible - public addresses only */
gboolean
dnsbl_address_eligible(const char *ip, char **trusted)
{
	if (ip == NULL)
		return FALSE;
	g_autoptr(GInetAddress) a = g_inet_address_new_from_string(ip);
	if (a == NULL)
		return FALSE;
	if (g_inet_address_get_is_loopback(a) || g_inet_address_get_is_any(a) ||
	    g_inet_address_get_is_link_local(a) || g_inet_address_get_is_site_local(a) ||
	    g_inet_address_get_is_multicast(a) || in_mask(a, "100.64.0.0/10") ||
	    in_mask(a, "fc00::/7") || in_mask(a, "::ffff:0:0/96") || in_mask(a, "0.0.0.0/8"))
		return FALSE;
	for (int i = 0; trusted && trusted[i]; i++)
		if (in_mask(a, trusted[i]))
			return FALSE;
	return TRUE;
}

/* dnsbl_query_name - reversed address + zone */
char *
dnsbl_query_name(const char *ip, const char *zone)
{
	unsigned char b[16];

	if (inet_pton(AF_INET, ip, b) == 1)
		return g_strdup_printf("%u.%u.%u.%u.%s", b[3], b[2], b[1], b[0], zone);
	if (inet_pton(AF_INET6, ip, b) != 1)
		return NULL;
	GString *s = g_string_new(NULL);
	for (int i = 15; i >= 0; i--)
		g_string_append_printf(s, "%x.%x.", b[i] & 0xf, b[i] >> 4);
	g_string_append(s, zone);
	return g_string_free(s, FALSE);
}

/* entry_finish_zone - zone @z answered (listed or not) */
static void
entry_finish_zone(DnsblEntry *e, guint z, gboolean listed)
{
	if (e->done || e->answered[z])
		return;
	e->answered[z] = TRUE;
	if (listed) {
		const Zone *zone = &g_array_index(e->owner->zones, Zone, z);
		e->weight += zone->weight;
		if (e->hits->len)
			g_string_append_c(e->hits, ' ');
		g_string_append(e->hits, zone->zone);
	}
	if (--e->pending == 0)
		e->done = TRUE;
}

/* on_answer - a c-ares callback */
static void
on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	Query *q = arg;
	DnsblEntry *e = q->entry;
	gboolean listed = FALSE;

	if (status == ARES_SUCCESS) {
		struct ares_addrttl addrs[8];
		int n = 8;
		if (ares_parse_a_reply(abuf, alen, NULL, addrs, &n) == ARES_SUCCESS) {
			for (int i = 0; i < n; i++) {
				guint32 a = ntohl(addrs[i].ipaddr.s_addr);
				if ((a >> 24) == 127 && (a >> 8) != 0x7fffff)
					listed = TRUE;
			}
		}
	}
	/* NXDOMAIN, no data: not listed; a failure or timeout: counted at the deadline */
	if (status == ARES_SUCCESS || status == ARES_ENOTFOUND || status == ARES_ENODATA)
		entry_finish_zone(e, q->zone, listed);
	if (e->owner)
		e->owner->in_flight--;
	entry_unref(e);
	g_free(q);
}

/* dnsbl_lookup - cached, or started */
DnsblEntry *
dnsbl_lookup(Dnsbl *d, const char *ip)
{
	DnsblEntry *e = g_hash_table_lookup(d->cache, ip);

	if (e != NULL)
		return e;
	e = g_new0(DnsblEntry, 1);
	e->refs = 1;
	e->owner = d;
	e->ip = g_strdup(ip);
	e->hits = g_string_new(NULL);
	e->timed_out = g_string_new(NULL);
	e->answered = g_new0(gboolean, d->zones->len + 1);
	e->deadline = g_get_monotonic_time() + (gint64)d->timeout_ms * 1000;
	e->pending = d->zones->len;
	e->done = e->pending == 0;
	g_hash_table_insert(d->cache, e->ip, e);
	for (guint z = 0; z < d->zones->len; z++) {
		g_autofree char *name = dnsbl_query_name(ip, g_array_index(d->zones, Zone, z).zone);
		if (name == NULL) {
			entry_finish_zone(e, z, FALSE);
			continue;
		}
		Query *q = g_new0(Query, 1);
		q->entry = e;
		q->zone = z;
		e->refs++;
		d->in_flight++;
		ares_query(d->channel, name, ns_c_in, ns_t_a, on_answer, q);
	}
	return e;
}

/* accessors */
gboolean
dnsbl_entry_done(const DnsblEntry *e)
{
	return e->done;
}

double
dnsbl_entry_weight(const DnsblEntry *e)
{
	return e->weight;
}

const char *
dnsbl_entry_hits(const DnsblEntry *e)
{
	return e->hits->str;
}

const char *
dnsbl_entry_timed_out(const DnsblEntry *e)
{
	return e->timed_out->str;
}

/* dnsbl_pollfds - c-ares sockets, and the nearest deadline */
int
dnsbl_pollfds(Dnsbl *d, GArray *fds)
{
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	int bits = ares_getsock(d->channel, socks, ARES_GETSOCK_MAXNUM);
	gint64 now = g_get_monotonic_time(), next = G_MAXINT64;
	GHashTableIter it;
	gpointer v;

	for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
		short ev = 0;
		/* c-ares' ARES_GETSOCK_WRITABLE shifts an int by up to 31: undefined
		 * behaviour (UBSan stops there); the same bits, unsigned */
		if (((guint)bits >> i) & 1u)
			ev |= POLLIN;
		if (((guint)bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u)
			ev |= POLLOUT;
		if (ev == 0)
			continue;
		struct pollfd p = {.fd = socks[i], .events = ev};
		g_array_append_val(fds, p);
	}
	g_hash_table_iter_init(&it, d->cache);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		DnsblEntry *e = v;
		if (!e->done)
			next = MIN(next, e->deadline);
	}
	struct timeval tv, *tvp = ares_timeout(d->channel, NULL, &tv);
	if (tvp)
		next = MIN(next, now + (gint64)tvp->tv_sec * G_USEC_PER_SEC + tvp->tv_usec);
	if (next == G_MAXINT64)
		return -1;
	return next <= now ? 0 : (int)MIN((next - now + 999) / 1000, 60000);
}

/* dnsbl_process - sockets and deadlines */
void
dnsbl_process(Dnsbl *d, const struct pollfd *fds, guint n)
{
	gint64 now = g_get_monotonic_time();
	GHashTableIter it;
	gpointer v;

	for (guint i = 0; i < n; i++) {
		if (fds[i].revents == 0)
			continue;
		ares_process_fd(d->channel,
		                fds[i].revents & (POLLIN | POLLERR | POLLHUP) ? fds[i].fd
		                                                              : ARES_SOCKET_BAD,
		                fds[i].revents & POLLOUT ? fds[i].fd : ARES_SOCKET_BAD);
	}
	ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
	g_hash_table_iter_init(&it, d->cache);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		DnsblEntry *e = v;
		if (e->done || now < e->deadline)
			continue;
		for (guint z = 0; z < d->zones->len; z++) {
			if (e->answered[z])
				continue;
			if (e->timed_out->len)
				g_string_append_c(e->timed_out, ' ');
			g_string_append(e->timed_out, g_array_index(d->zones, Zone, z).zone);
		}
		e->done = TRUE;
	}
}

/* dnsbl_busy - queries in flight */
gboolean
dnsbl_busy(const Dnsbl *d)
{
	return d->in_flight > 0;
}

/* dnsbl_forget_idle - drop finished entries */
void
dnsbl_forget_idle(Dnsbl *d)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, d->cache);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (((DnsblEntry *)v)->done)
			g_hash_table_iter_remove(&it);
}

/* dnsbl_lookup_sync - blocking, bounded by the entry's deadline */
DnsblEntry *
dnsbl_lookup_sync(Dnsbl *d, const char *ip)
{
	DnsblEntry *e = dnsbl_lookup(d, ip);
	GArray *fds = g_array_new(FALSE, TRUE, sizeof(struct pollfd));

	while (!e->done) {
		g_array_set_size(fds, 0);
		int t = dnsbl_pollfds(d, fds);
		poll((struct pollfd *)fds->data, fds->len, t < 0 ? 100 : MIN(t, 100));
		dnsbl_process(d, (const struct pollfd *)fds->data, fds->len);
	}
	g_array_free(fds, TRUE);
	return e;
}
