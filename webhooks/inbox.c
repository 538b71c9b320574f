/*
 * inbox.c — the durable webhook inbox under state_dir/inbox/ (SPEC §7, §11;
 * docs/webhooks.md "The inbox").
 *
 * Every delivery that passed verification is appended as one JSON line to
 * the current segment file and fsynced before it is answered; later lines
 * record its status ({"seq":N,"status":"done"}). Segments are never
 * rewritten: a new one is started at each open, after INBOX_SEGMENT_LINES
 * lines and once a day, and the oldest is deleted when everything in it is
 * older than INBOX_KEEP_S (deliveries still queued are first copied into the
 * current segment). So the dedupe keys of the last three days survive
 * restarts, the directory stays bounded, and no write ever rewrites more
 * than a few lines.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "webhooks.h"

#define SEGMENT_PREFIX "seg-"
#define SEGMENT_SUFFIX ".jsonl"
#define SEGMENT_MAX_AGE_S 86400
#define SEGMENT_MAX_FILE ((size_t)64 << 20)

struct inbox_entry {
	TAILQ_ENTRY(inbox_entry) link; /* in seq order */
	struct inbox_entry *hnext;     /* hash chain */
	uint32_t hash;
	uint64_t seq;
	int64_t received;
	enum inbox_status status;
	enum queued_kind kind;
	uint32_t pending;              /* bit i: envs[i] still to deploy */
	bool synced;                   /* its line was fsynced */
	char *provider;                /* owned */
	char *delivery;                /* owned */
	char *event;                   /* owned or NULL */
	char *reason;                  /* owned or NULL */
	char *branch;                  /* owned or NULL */
	char *rev;                     /* owned or NULL */
	char *envs;                    /* owned or NULL; names joined by ',' */
	char after[41];
};

TAILQ_HEAD(inbox_list, inbox_entry);

/* One segment file: its first sequence number names it. */
struct inbox_segment {
	uint64_t first_seq;
	int64_t newest;   /* newest received time of a record in it */
	int64_t created;  /* unix seconds */
	size_t lines;
};

struct inbox {
	char *dir;                       /* owned */
	struct inbox_list entries;
	struct inbox_entry **buckets;    /* owned */
	size_t nbuckets, count;
	uint64_t next_seq;
	struct inbox_segment *segs;      /* owned; oldest first; last is current */
	size_t nsegs;
	int fd;                          /* current segment, O_APPEND */
	int lock_fd;                     /* flock on dir/lock: one owner */
	bool dirty;                      /* appended since the last sync */
	uint64_t appends;                /* lines appended since the open */
	bool warned_cap;
};

static uint32_t key_hash(const char *provider, const char *delivery)
{
	uint32_t h = 2166136261u;
	const unsigned char *p;

	for (p = (const unsigned char *)provider; *p; p++)
		h = (h ^ *p) * 16777619u;
	h = (h ^ 0) * 16777619u;
	for (p = (const unsigned char *)delivery; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

static struct inbox_entry *find(const struct inbox *ib, const char *provider,
				const char *delivery)
{
	uint32_t h = key_hash(provider, delivery);
	struct inbox_entry *e;

	for (e = ib->buckets[h & (ib->nbuckets - 1)]; e; e = e->hnext)
		if (e->hash == h && strcmp(e->delivery, delivery) == 0 &&
		    strcmp(e->provider, provider) == 0)
			return e;
	return NULL;
}

static void hash_grow(struct inbox *ib)
{
	size_t n = ib->nbuckets * 2, i;
	struct inbox_entry **b = xcalloc(n, sizeof(*b));

	for (i = 0; i < ib->nbuckets; i++) {
		struct inbox_entry *e = ib->buckets[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			e->hnext = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(ib->buckets);
	ib->buckets = b;
	ib->nbuckets = n;
}

static void entry_free(struct inbox_entry *e)
{
	free(e->provider);
	free(e->delivery);
	free(e->event);
	free(e->reason);
	free(e->branch);
	free(e->rev);
	free(e->envs);
	free(e);
}

static void unlink_entry(struct inbox *ib, struct inbox_entry *e)
{
	struct inbox_entry **pp = &ib->buckets[e->hash & (ib->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	TAILQ_REMOVE(&ib->entries, e, link);
	ib->count--;
	entry_free(e);
}

/* Inserts e keeping the list in seq order (appends are in order; only
 * loading may insert out of order). */
static void insert_entry(struct inbox *ib, struct inbox_entry *e)
{
	struct inbox_entry *after = TAILQ_LAST(&ib->entries, inbox_list);
	size_t b;

	if (ib->count + 1 > ib->nbuckets)
		hash_grow(ib);
	e->hash = key_hash(e->provider, e->delivery);
	b = e->hash & (ib->nbuckets - 1);
	e->hnext = ib->buckets[b];
	ib->buckets[b] = e;
	while (after != NULL && after->seq > e->seq)
		after = TAILQ_PREV(after, inbox_list, link);
	if (after == NULL)
		TAILQ_INSERT_HEAD(&ib->entries, e, link);
	else
		TAILQ_INSERT_AFTER(&ib->entries, after, e, link);
	ib->count++;
}

static char *dup_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

static size_t env_count(const char *envs)
{
	size_t n = 0;

	if (envs == NULL)
		return 0;
	for (n = 1; *envs; envs++)
		n += *envs == ',';
	return n;
}

static char *entry_line(const struct inbox_entry *e)
{
	struct inbox_line l;

	memset(&l, 0, sizeof(l));
	l.seq = e->seq;
	l.status = e->status;
	l.provider = e->provider;
	l.delivery = e->delivery;
	l.event = e->event;
	l.reason = e->reason;
	l.branch = e->branch;
	l.rev = e->rev;
	l.envs = e->envs;
	l.received = e->received;
	memcpy(l.after, e->after, 41);
	l.kind = e->kind;
	return inbox_line_format(&l);
}

/* ---- segments ---- */

static char *segment_path(const struct inbox *ib, uint64_t first_seq)
{
	return xasprintf("%s/" SEGMENT_PREFIX "%016llu" SEGMENT_SUFFIX, ib->dir,
			 (unsigned long long)first_seq);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Appends one line to the current segment. On a short write the segment
 * could hold half a line: a new segment is started, so the next line never
 * runs into it (readers skip the broken one). */
static int append_line(struct inbox *ib, const char *text, int64_t received,
		       struct berr *err);

/* Starts a new current segment named by the next sequence number, which
 * it then skips, so that names never repeat. */
static int start_segment(struct inbox *ib, int64_t now, struct berr *err)
{
	struct inbox_segment *s;
	char *path;
	int fd;

	if (ib->fd >= 0 && inbox_sync(ib, err) != 0)
		return -1;
	path = segment_path(ib, ib->next_seq);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0) {
		berr_errno(err, errno, "cannot create '%s'", path);
		free(path);
		return -1;
	}
	free(path);
	if (fs_fsync_dir(ib->dir, err) != 0) {
		close(fd);
		return -1;
	}
	if (ib->fd >= 0)
		close(ib->fd);
	ib->fd = fd;
	ib->segs = xrealloc(ib->segs, (ib->nsegs + 1) * sizeof(*ib->segs));
	s = &ib->segs[ib->nsegs++];
	memset(s, 0, sizeof(*s));
	s->first_seq = ib->next_seq++;
	s->created = now;
	return 0;
}

static int append_line(struct inbox *ib, const char *text, int64_t received,
		       struct berr *err)
{
	struct inbox_segment *cur = &ib->segs[ib->nsegs - 1];
	size_t n = strlen(text);
	struct buf line;
	int rc;

	buf_init(&line, INBOX_LINE_MAX + 2);
	if (buf_append(&line, text, n) != 0 || buf_putc(&line, '\n') != 0) {
		buf_release(&line);
		return berr_set(err, "inbox record over %d bytes", INBOX_LINE_MAX);
	}
	rc = write_all(ib->fd, line.data, line.len);
	buf_release(&line);
	if (rc != 0) {
		int e = errno;
		char *path = segment_path(ib, cur->first_seq);

		berr_errno(err, e, "cannot append to '%s'", path);
		free(path);
		/* Part of the line may be there: go on in a new segment so
		 * that the next line does not run into it. */
		ib->dirty = true;
		(void)start_segment(ib, cur->created, &(struct berr){{0}});
		return -1;
	}
	cur->lines++;
	ib->appends++;
	if (received > cur->newest)
		cur->newest = received;
	ib->dirty = true;
	return 0;
}

static bool segment_name(uint64_t *first_seq, const char *name)
{
	size_t n = strlen(name), plen = strlen(SEGMENT_PREFIX),
	       slen = strlen(SEGMENT_SUFFIX);
	char digits[32];
	int64_t v;

	if (n != plen + 16 + slen || strncmp(name, SEGMENT_PREFIX, plen) != 0 ||
	    strcmp(name + n - slen, SEGMENT_SUFFIX) != 0)
		return false;
	memcpy(digits, name + plen, 16);
	digits[16] = '\0';
	if (strnum_i64(&v, digits, 1, INT64_MAX) != 0)
		return false;
	*first_seq = (uint64_t)v;
	return true;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct inbox_segment *x = a, *y = b;

	return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

static void load_record(struct inbox *ib, struct inbox_line *l)
{
	struct inbox_entry *e = find(ib, l->provider, l->delivery);

	if (e != NULL) {
		/* The same record copied forward (a queued delivery kept when
		 * its segment was deleted): the later copy's status wins. A
		 * second delivery of one key (stored after a failed sync) is
		 * a duplicate: the first one stays. */
		if (e->seq == l->seq)
			e->status = l->status;
		return;
	}
	e = xcalloc(1, sizeof(*e));
	e->seq = l->seq;
	e->received = l->received;
	e->status = l->status;
	e->kind = l->kind;
	e->synced = true;
	e->provider = l->provider;
	e->delivery = l->delivery;
	e->event = l->event;
	e->reason = l->reason;
	e->branch = l->branch;
	e->rev = l->rev;
	e->envs = l->envs;
	memcpy(e->after, l->after, 41);
	if (e->status == INBOX_QUEUED)
		e->pending = (uint32_t)((1u << env_count(e->envs)) - 1);
	memset(l, 0, sizeof(*l));
	insert_entry(ib, e);
}

static struct inbox_entry *find_seq(const struct inbox *ib, uint64_t seq)
{
	struct inbox_entry *e;

	TAILQ_FOREACH_REVERSE(e, &ib->entries, inbox_list, link)
		if (e->seq <= seq)
			return e->seq == seq ? e : NULL;
	return NULL;
}

static int load_segment(struct inbox *ib, struct inbox_segment *s,
			struct berr *err)
{
	char *path = segment_path(ib, s->first_seq);
	struct buf data;
	size_t off = 0;
	int rc;

	buf_init(&data, SEGMENT_MAX_FILE);
	rc = fs_read_file(&data, path, SEGMENT_MAX_FILE, err);
	if (rc != 0) {
		buf_release(&data);
		free(path);
		return rc;
	}
	while (off < data.len) {
		char *nl = memchr(data.data + off, '\n', data.len - off);
		size_t len = nl ? (size_t)(nl - (data.data + off)) : data.len - off;
		struct inbox_line l;
		struct berr lerr;

		s->lines++;
		if (inbox_line_parse(&l, data.data + off, len, &lerr) != 0) {
			/* A torn last line is what a crash mid-append
			 * leaves; anything else was edited by hand. */
			log_warn("msg=\"inbox line skipped\" file=%s line=%zu "
				 "error=\"%s\"", path, s->lines, lerr.msg);
		} else if (l.update) {
			struct inbox_entry *e = find_seq(ib, l.seq);

			if (e != NULL) {
				e->status = l.status;
				if (e->status != INBOX_QUEUED)
					e->pending = 0;
			}
		} else {
			if (l.received > s->newest)
				s->newest = l.received;
			if (l.seq >= ib->next_seq)
				ib->next_seq = l.seq + 1;
			load_record(ib, &l);
		}
		inbox_line_release(&l);
		off += len + 1;
	}
	buf_release(&data);
	free(path);
	return 0;
}

static int list_segments(struct inbox *ib, struct berr *err)
{
	DIR *d = opendir(ib->dir);
	struct dirent *de;

	if (d == NULL)
		return berr_errno(err, errno, "cannot list '%s'", ib->dir);
	while ((de = readdir(d)) != NULL) {
		uint64_t first;

		if (!segment_name(&first, de->d_name))
			continue;
		ib->segs = xrealloc(ib->segs, (ib->nsegs + 1) * sizeof(*ib->segs));
		memset(&ib->segs[ib->nsegs], 0, sizeof(ib->segs[0]));
		ib->segs[ib->nsegs++].first_seq = first;
	}
	closedir(d);
	if (ib->nsegs > 0)
		qsort(ib->segs, ib->nsegs, sizeof(*ib->segs), seg_cmp);
	return 0;
}

/* Deletes the oldest segment: its records leave memory, except deliveries
 * still queued, which are copied into the current segment first. */
static int drop_oldest(struct inbox *ib, int64_t now, struct berr *err)
{
	uint64_t end = ib->segs[1].first_seq;
	struct inbox_entry *e, *next;
	char *path;

	for (e = TAILQ_FIRST(&ib->entries); e && e->seq < end; e = next) {
		next = TAILQ_NEXT(e, link);
		if (e->status == INBOX_QUEUED) {
			char *text = entry_line(e);
			int rc = append_line(ib, text, e->received, err);

			free(text);
			if (rc != 0)
				return -1;
			continue;
		}
		unlink_entry(ib, e);
	}
	if (ib->dirty && inbox_sync(ib, err) != 0)
		return -1;
	path = segment_path(ib, ib->segs[0].first_seq);
	if (unlink(path) != 0 && errno != ENOENT) {
		berr_errno(err, errno, "cannot remove '%s'", path);
		free(path);
		return -1;
	}
	free(path);
	memmove(ib->segs, ib->segs + 1, (ib->nsegs - 1) * sizeof(*ib->segs));
	ib->nsegs--;
	(void)now;
	return fs_fsync_dir(ib->dir, err);
}

int inbox_maintain(struct inbox *ib, int64_t now, struct berr *err)
{
	struct inbox_segment *cur = &ib->segs[ib->nsegs - 1];

	if (cur->lines >= INBOX_SEGMENT_LINES ||
	    (cur->lines > 0 && now - cur->created >= SEGMENT_MAX_AGE_S)) {
		if (start_segment(ib, now, err) != 0)
			return -1;
	}
	while (ib->nsegs > 1 && (ib->segs[0].newest < now - INBOX_KEEP_S ||
				 ib->count > INBOX_MAX_ENTRIES)) {
		if (ib->segs[0].newest >= now - INBOX_KEEP_S && !ib->warned_cap) {
			log_warn("msg=\"inbox over its size limit: dropping "
				 "dedupe keys younger than 3 days\" entries=%zu "
				 "limit=%d", ib->count, INBOX_MAX_ENTRIES);
			ib->warned_cap = true;
		}
		if (drop_oldest(ib, now, err) != 0)
			return -1;
	}
	return 0;
}

/* One process at a time owns an inbox (two daemons on one state
 * directory would interleave segments): a kernel lock that dies with its
 * holder. */
static int take_lock(struct inbox *ib, struct berr *err)
{
	char *path = fs_join(ib->dir, "lock");
	int rc = 0;

	ib->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (ib->lock_fd < 0) {
		rc = berr_errno(err, errno, "cannot open '%s'", path);
	} else if (flock(ib->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? BERTH_ELOCKED : -1;
		berr_errno(err, errno, "cannot lock the inbox '%s'%s", ib->dir,
			   rc == BERTH_ELOCKED
			       ? " (another berth serve uses this state directory)"
			       : "");
	}
	free(path);
	return rc;
}

int inbox_open(struct inbox **out, const char *dir, int64_t now,
	       struct berr *err)
{
	struct inbox *ib = xcalloc(1, sizeof(*ib));
	size_t i;
	int rc = -1;

	*out = NULL;
	ib->dir = xstrdup(dir);
	ib->fd = -1;
	ib->lock_fd = -1;
	ib->next_seq = 1;
	ib->nbuckets = 1024;
	ib->buckets = xcalloc(ib->nbuckets, sizeof(*ib->buckets));
	TAILQ_INIT(&ib->entries);
	if (fs_mkdir_p(dir, 0750, err) != 0)
		goto fail;
	rc = take_lock(ib, err);
	if (rc != 0 || list_segments(ib, err) != 0)
		goto fail;
	for (i = 0; i < ib->nsegs; i++) {
		if (load_segment(ib, &ib->segs[i], err) != 0)
			goto fail;
		if (ib->segs[i].first_seq >= ib->next_seq)
			ib->next_seq = ib->segs[i].first_seq + 1;
		ib->segs[i].created = ib->segs[i].newest;
	}
	if (start_segment(ib, now, err) != 0 || inbox_maintain(ib, now, err) != 0)
		goto fail;
	*out = ib;
	return 0;
fail:
	inbox_close(ib);
	return rc == BERTH_ELOCKED ? BERTH_ELOCKED : -1;
}

void inbox_close(struct inbox *ib)
{
	struct inbox_entry *e;

	if (ib == NULL)
		return;
	while ((e = TAILQ_FIRST(&ib->entries)) != NULL) {
		TAILQ_REMOVE(&ib->entries, e, link);
		entry_free(e);
	}
	if (ib->fd >= 0)
		close(ib->fd);
	if (ib->lock_fd >= 0)
		close(ib->lock_fd);
	free(ib->buckets);
	free(ib->segs);
	free(ib->dir);
	free(ib);
}

bool inbox_seen(const struct inbox *ib, const char *provider,
		const char *delivery)
{
	return find(ib, provider, delivery) != NULL;
}

int inbox_append(uint64_t *seq, struct inbox *ib,
		 const struct inbox_delivery *d, int64_t now, struct berr *err)
{
	struct inbox_entry *e;
	struct buf envs;
	char *text;
	size_t i;
	int rc;

	*seq = 0;
	if (!inbox_line_token_ok(d->provider, 15) ||
	    !inbox_line_token_ok(d->delivery, VERIFY_KEY_MAX - 1) ||
	    d->nenvs > INBOX_ENVS_MAX)
		return berr_set(err, "inbox record with an invalid key");
	if (find(ib, d->provider, d->delivery) != NULL)
		return berr_set(err, "delivery '%s' is already in the inbox",
				d->delivery);
	e = xcalloc(1, sizeof(*e));
	e->seq = ib->next_seq;
	e->received = now;
	e->status = d->status;
	e->kind = d->kind;
	e->provider = xstrdup(d->provider);
	e->delivery = xstrdup(d->delivery);
	e->event = dup_or_null(d->event);
	e->reason = dup_or_null(d->reason);
	e->branch = dup_or_null(d->branch);
	e->rev = dup_or_null(d->rev);
	if (d->after != NULL && strnum_is_sha(d->after))
		memcpy(e->after, d->after, 41);
	buf_init(&envs, 2048);
	for (i = 0; i < d->nenvs; i++) {
		if (i > 0)
			buf_putc(&envs, ',');
		buf_puts(&envs, d->envs[i]);
	}
	e->envs = envs.len ? buf_detach(&envs) : NULL;
	buf_release(&envs);
	if (e->status == INBOX_QUEUED)
		e->pending = (uint32_t)((1u << d->nenvs) - 1);
	text = entry_line(e);
	rc = append_line(ib, text, now, err);
	free(text);
	if (rc != 0) {
		entry_free(e);
		return -1;
	}
	ib->next_seq++;
	insert_entry(ib, e);
	*seq = e->seq;
	return 0;
}

int inbox_sync(struct inbox *ib, struct berr *err)
{
	struct inbox_entry *e;

	if (!ib->dirty)
		return 0;
	if (fdatasync(ib->fd) != 0)
		return berr_errno(err, errno, "cannot sync the inbox in '%s'",
				  ib->dir);
	ib->dirty = false;
	TAILQ_FOREACH_REVERSE(e, &ib->entries, inbox_list, link) {
		if (e->synced)
			break;
		e->synced = true;
	}
	return 0;
}

int inbox_fd(const struct inbox *ib)
{
	return ib->fd;
}

uint64_t inbox_appends(const struct inbox *ib)
{
	return ib->appends;
}

void inbox_synced(struct inbox *ib, uint64_t upto_seq, uint64_t appends)
{
	struct inbox_entry *e;

	if (ib->appends == appends)
		ib->dirty = false;
	TAILQ_FOREACH_REVERSE(e, &ib->entries, inbox_list, link) {
		if (e->seq > upto_seq)
			continue;
		if (e->synced)
			break;
		e->synced = true;
	}
}

int inbox_forget_unsynced(struct inbox *ib, int64_t now, struct berr *err)
{
	struct inbox_entry *e;

	while ((e = TAILQ_LAST(&ib->entries, inbox_list)) != NULL && !e->synced)
		unlink_entry(ib, e);
	/* The lines may or may not have reached the disk: continue in a new
	 * segment so that whatever is there stays readable. */
	ib->dirty = false;
	return start_segment(ib, now, err);
}

int inbox_mark_done(struct inbox *ib, const char *env, uint64_t upto_seq,
		    struct berr *err)
{
	struct inbox_entry *e;
	int rc = 0;

	TAILQ_FOREACH(e, &ib->entries, link) {
		const char *p;
		size_t i = 0, n = strlen(env);

		if (e->seq > upto_seq)
			break;
		if (e->status != INBOX_QUEUED || e->envs == NULL)
			continue;
		for (p = e->envs; p != NULL; i++) {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);

			if (len == n && strncmp(p, env, n) == 0)
				e->pending &= ~(1u << i);
			p = comma ? comma + 1 : NULL;
		}
		if (e->pending == 0) {
			char line[96];

			e->status = INBOX_DONE;
			snprintf(line, sizeof(line), "{\"seq\":%llu,\"status\":\"done\"}",
				 (unsigned long long)e->seq);
			if (append_line(ib, line, 0, err) != 0)
				rc = -1;
		}
	}
	return rc;
}

void inbox_foreach_queued(struct inbox *ib,
			  void (*cb)(const struct inbox_view *v, void *arg),
			  void *arg)
{
	struct inbox_entry *e;

	TAILQ_FOREACH(e, &ib->entries, link) {
		struct inbox_view v;

		if (e->status != INBOX_QUEUED)
			continue;
		memset(&v, 0, sizeof(v));
		v.seq = e->seq;
		v.received = e->received;
		v.provider = e->provider;
		v.delivery = e->delivery;
		v.envs = e->envs;
		v.pending = e->pending;
		v.kind = e->kind;
		v.rev = e->rev;
		v.after = e->after;
		cb(&v, arg);
	}
}

size_t inbox_count(const struct inbox *ib)
{
	return ib->count;
}

uint64_t inbox_last_seq(const struct inbox *ib)
{
	return ib->next_seq - 1;
}

struct json_t *inbox_events_json(const struct inbox *ib, const char *provider,
				 size_t limit)
{
	json_t *arr = json_array();
	struct inbox_entry *e;

	TAILQ_FOREACH_REVERSE(e, &ib->entries, inbox_list, link) {
		char received[32];
		json_t *o;

		if (json_array_size(arr) >= limit)
			break;
		if (provider != NULL && strcmp(provider, e->provider) != 0)
			continue;
		strnum_iso8601(received, e->received);
		o = json_pack("{s:I, s:s, s:s, s:s, s:s}", "seq",
			      (json_int_t)e->seq, "provider", e->provider,
			      "delivery", e->delivery, "received", received,
			      "status", inbox_status_name(e->status));
		json_object_set_new(o, "event", e->event ? json_string(e->event)
							 : json_null());
		json_object_set_new(o, "reason", e->reason ? json_string(e->reason)
							   : json_null());
		json_object_set_new(o, "branch", e->branch ? json_string(e->branch)
							   : json_null());
		json_object_set_new(o, "after", e->after[0] ? json_string(e->after)
							    : json_null());
		json_object_set_new(o, "environments",
				    e->envs ? json_string(e->envs) : json_null());
		json_array_append_new(arr, o);
	}
	return arr;
}
