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
 *
 * Deliveries are not written one by one: their lines wait in memory (none
 * of them has been answered yet) and go to the file in one write when the
 * batch is made durable (inbox_flush, inbox_sync). Every other line (status,
 * copies) is written at once, after whatever waits before it.
 *
 * A segment is filled with zeros ahead of its lines, SEGMENT_ZERO_CHUNK at a
 * time, and lines overwrite the zeros (the way PostgreSQL prepares its WAL
 * files): the sync that makes a batch durable then writes only data blocks,
 * with no change to the file's size or block map to commit to the
 * filesystem's journal, which roughly halves its latency on ext4. Readers
 * stop at the first zero byte. A segment is cut to its used length when it
 * stops being the current one.
 *
 * Nothing here waits for the disk unless asked to (inbox_sync): starting a
 * segment and dropping one only record what the next sync must do (sync
 * the segment left behind, fsync the directory, delete the old file), and
 * inbox_sync_prepare hands all of it, in a safe order, to whoever runs the
 * sync: the server's syncer thread, off the event loop.
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
#define SEGMENT_ROTATE_BYTES ((off_t)32 << 20) /* well below the read limit */
#define SEGMENT_ZERO_CHUNK ((off_t)2 << 20)

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
	/* The strings point into text[] (one allocation per entry). */
	const char *provider;
	const char *delivery;
	const char *event;             /* or NULL */
	const char *reason;            /* or NULL */
	const char *branch;            /* or NULL */
	const char *rev;               /* or NULL */
	const char *envs;              /* or NULL; names joined by ',' */
	char after[41];
	char text[];
};

TAILQ_HEAD(inbox_list, inbox_entry);

/* One segment file: its first sequence number names it. */
struct inbox_segment {
	uint64_t first_seq;
	int64_t newest;   /* newest received time of a record in it */
	int64_t created;  /* unix seconds */
	size_t lines;
};

/* A segment that stopped being the current one and is not synced yet. */
struct inbox_retired {
	uint64_t first_seq;
	int fd;                          /* owned */
	off_t end;                       /* its lines' length */
};

struct inbox {
	char *dir;                       /* owned */
	int dir_fd;                      /* owned */
	struct inbox_retired retired[INBOX_RETIRED_MAX];
	size_t nretired;
	uint64_t doomed[INBOX_DOOMED_MAX]; /* first_seq of segments to delete */
	size_t ndoomed;
	uint64_t dir_changes, dir_synced; /* segments created; up to which
					    the directory is durable */
	uint64_t dropping_end;           /* a drop in progress: the first
					    seq after the oldest segment */
	uint64_t drop_cursor;            /* records below it handled */
	struct inbox_list entries;
	struct inbox_entry **buckets;    /* owned */
	size_t nbuckets, count;
	uint64_t next_seq;
	struct inbox_segment *segs;      /* owned; oldest first; last is current */
	size_t nsegs;
	int fd;                          /* current segment */
	off_t end;                       /* where its next line goes */
	off_t zeroed;                    /* its length: zeros from end on */
	int lock_fd;                     /* flock on dir/lock: one owner */
	bool dirty;                      /* appended since the last sync */
	bool write_failed;               /* lines of unsynced records lost */
	struct buf unwritten;            /* lines not written yet, in order */
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

/* Copies s (NULL when empty, unless required) to *at, moving *at on. */
static const char *pack(char **at, const char *s, bool required)
{
	char *copy = *at;
	size_t n;

	if (s == NULL || (s[0] == '\0' && !required))
		return NULL;
	n = strlen(s) + 1;
	memcpy(copy, s, n);
	*at += n;
	return copy;
}

static size_t packed_len(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

/* A new entry holding copies of the strings, in one allocation (the inbox
 * keeps every delivery of the last three days in memory). */
static struct inbox_entry *entry_new(const char *provider,
				     const char *delivery, const char *event,
				     const char *reason, const char *branch,
				     const char *rev, const char *envs)
{
	size_t n = packed_len(provider) + packed_len(delivery) +
		   packed_len(event) + packed_len(reason) + packed_len(branch) +
		   packed_len(rev) + packed_len(envs);
	struct inbox_entry *e = xcalloc(1, sizeof(*e) + n);
	char *at = e->text;

	e->provider = pack(&at, provider, true);
	e->delivery = pack(&at, delivery, true);
	e->event = pack(&at, event, false);
	e->reason = pack(&at, reason, false);
	e->branch = pack(&at, branch, false);
	e->rev = pack(&at, rev, false);
	e->envs = pack(&at, envs, false);
	return e;
}

static void entry_free(struct inbox_entry *e)
{
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

static size_t env_count(const char *envs)
{
	size_t n = 0;

	if (envs == NULL)
		return 0;
	for (n = 1; *envs; envs++)
		n += *envs == ',';
	return n;
}

/* A string member ,"name":"value" of a record, when value is set. */
static void put_member(struct buf *b, const char *name, const char *value)
{
	if (value == NULL || value[0] == '\0')
		return;
	buf_puts(b, ",\"");
	buf_puts(b, name);
	buf_puts(b, "\":");
	buf_put_json_string(b, value);
}

/* Appends e's record as one line of JSON, without the newline: what
 * inbox_line_parse reads back. Written directly rather than through a
 * JSON tree: this runs once per delivery, on the event loop. */
static void entry_write(struct buf *b, const struct inbox_entry *e)
{
	char received[32];

	strnum_iso8601(received, e->received);
	buf_puts(b, "{\"seq\":");
	buf_put_u64(b, e->seq);
	put_member(b, "provider", e->provider);
	put_member(b, "delivery", e->delivery);
	put_member(b, "received", received);
	put_member(b, "status", inbox_status_name(e->status));
	put_member(b, "event", e->event);
	put_member(b, "reason", e->reason);
	put_member(b, "branch", e->branch);
	put_member(b, "after", e->after);
	put_member(b, "environments", e->envs);
	if (e->kind == QUEUED_ROLLBACK)
		put_member(b, "kind", "rollback");
	put_member(b, "rev", e->rev);
	buf_putc(b, '}');
}

/* ---- segments ---- */

static char *segment_path(const struct inbox *ib, uint64_t first_seq)
{
	return xasprintf("%s/" SEGMENT_PREFIX "%016llu" SEGMENT_SUFFIX, ib->dir,
			 (unsigned long long)first_seq);
}

static int pwrite_all(int fd, const char *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

/* Makes the current segment's zeros reach at least `upto`, a chunk at a
 * time. A failure (a nearly full disk) is not one: the lines are then
 * written past the zeros, as to any file. */
static void extend_zeros(struct inbox *ib, off_t upto)
{
	static const char zeros[64 << 10];
	off_t to = (upto + SEGMENT_ZERO_CHUNK - 1) / SEGMENT_ZERO_CHUNK *
		   SEGMENT_ZERO_CHUNK;

	while (ib->zeroed < to) {
		size_t n = sizeof(zeros);

		if ((off_t)n > to - ib->zeroed)
			n = (size_t)(to - ib->zeroed);
		if (pwrite_all(ib->fd, zeros, n, ib->zeroed) != 0)
			return;
		ib->zeroed += (off_t)n;
	}
}

/* Cuts the current segment's unused zeros off (best effort: a segment
 * that keeps them reads the same). */
static void trim_segment(struct inbox *ib)
{
	if (ib->fd >= 0 && ib->zeroed > ib->end &&
	    ftruncate(ib->fd, ib->end) == 0)
		ib->zeroed = ib->end;
}

static int flush_lines(struct inbox *ib, struct berr *err);

/* Starts a new current segment named by the next sequence number, which
 * it then skips, so that names never repeat. The one it replaces is synced
 * (and cut to its lines) by the next sync, with the directory. */
static int start_segment(struct inbox *ib, int64_t now, struct berr *err)
{
	struct inbox_segment *s;
	char *path;
	int fd;

	if (ib->fd >= 0 && !ib->write_failed && flush_lines(ib, err) != 0)
		return -1;
	if (ib->fd >= 0 && ib->nretired == INBOX_RETIRED_MAX &&
	    inbox_sync(ib, err) != 0)
		return -1;
	path = segment_path(ib, ib->next_seq);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0) {
		berr_errno(err, errno, "cannot create '%s'", path);
		free(path);
		return -1;
	}
	free(path);
	ib->dir_changes++;
	if (ib->fd >= 0) {
		struct inbox_retired *r = &ib->retired[ib->nretired++];

		r->first_seq = ib->segs[ib->nsegs - 1].first_seq;
		r->fd = ib->fd;
		r->end = ib->end;
	}
	ib->fd = fd;
	ib->end = 0;
	ib->zeroed = 0;
	ib->segs = xrealloc(ib->segs, (ib->nsegs + 1) * sizeof(*ib->segs));
	s = &ib->segs[ib->nsegs++];
	memset(s, 0, sizeof(*s));
	s->first_seq = ib->next_seq++;
	s->created = now;
	return 0;
}

/*
 * Adds one line, text or else e's record, to those waiting to be written
 * to the current segment.
 */
static int queue_line(struct inbox *ib, const char *text,
		      const struct inbox_entry *e, int64_t received,
		      struct berr *err)
{
	struct inbox_segment *cur = &ib->segs[ib->nsegs - 1];
	struct buf *b = &ib->unwritten;
	size_t before = b->len;

	if (text != NULL)
		buf_puts(b, text);
	else
		entry_write(b, e);
	if (b->toobig || b->len - before > INBOX_LINE_MAX ||
	    buf_putc(b, '\n') != 0) {
		bool full = b->toobig;

		b->len = before;
		b->toobig = false;
		if (b->data != NULL)
			b->data[before] = '\0';
		if (full)
			return berr_set(err, "too many inbox records waiting to "
					     "be written");
		return berr_set(err, "inbox record over %d bytes",
				INBOX_LINE_MAX);
	}
	cur->lines++;
	ib->appends++;
	if (received > cur->newest)
		cur->newest = received;
	ib->dirty = true;
	return 0;
}

/*
 * Writes the waiting lines in one go. On a failed or short write the
 * segment could end in half a line: a new segment is started, so the next
 * line never runs into it (readers skip the broken one), and the records
 * whose lines were lost cannot be made durable until
 * inbox_forget_unsynced has dropped them.
 */
static int flush_lines(struct inbox *ib, struct berr *err)
{
	struct inbox_segment *cur;
	int e;
	char *path;

	if (ib->write_failed)
		return berr_set(err, "an earlier write to the inbox in '%s' "
				     "failed", ib->dir);
	if (ib->unwritten.len == 0)
		return 0;
	if (ib->end + (off_t)ib->unwritten.len > ib->zeroed)
		extend_zeros(ib, ib->end + (off_t)ib->unwritten.len);
	if (pwrite_all(ib->fd, ib->unwritten.data, ib->unwritten.len,
		       ib->end) == 0) {
		ib->end += (off_t)ib->unwritten.len;
		if (ib->end > ib->zeroed)
			ib->zeroed = ib->end;
		buf_reset(&ib->unwritten);
		return 0;
	}
	e = errno;
	cur = &ib->segs[ib->nsegs - 1];
	path = segment_path(ib, cur->first_seq);
	berr_errno(err, e, "cannot append to '%s'", path);
	free(path);
	buf_reset(&ib->unwritten);
	ib->write_failed = true;
	ib->dirty = true;
	(void)start_segment(ib, cur->created, &(struct berr){{0}});
	return -1;
}

/* Appends one line (text, or else e's record) now: written, not yet
 * durable. */
static int append_line(struct inbox *ib, const char *text,
		       const struct inbox_entry *e, int64_t received,
		       struct berr *err)
{
	if (queue_line(ib, text, e, received, err) != 0)
		return -1;
	return flush_lines(ib, err);
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
	e = entry_new(l->provider, l->delivery, l->event, l->reason, l->branch,
		      l->rev, l->envs);
	e->seq = l->seq;
	e->received = l->received;
	e->status = l->status;
	e->kind = l->kind;
	e->synced = true;
	memcpy(e->after, l->after, 41);
	if (e->status == INBOX_QUEUED)
		e->pending = (uint32_t)((1u << env_count(e->envs)) - 1);
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
	/* The zeros ahead of the lines, if any, end the text. */
	if (data.len > 0)
		data.len = strnlen(data.data, data.len);
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

/*
 * Drops the oldest segment, handling at most *budget of its records (the
 * budget is counted down; a drop left unfinished goes on at the next
 * call). Its records leave memory, except deliveries still queued, which
 * are copied into the current segment. Once all are handled the file is
 * left for the next sync to delete, after the copies are durable. Returns
 * 1 when the drop is complete, 0 when it goes on, -1 when a copy could not
 * be written (it is tried again).
 */
static int drop_some(struct inbox *ib, size_t *budget, struct berr *err)
{
	struct inbox_entry *e, *next;

	if (ib->dropping_end == 0) {
		ib->dropping_end = ib->segs[1].first_seq;
		ib->drop_cursor = 0;
	}
	for (e = TAILQ_FIRST(&ib->entries); e && e->seq < ib->dropping_end;
	     e = next) {
		next = TAILQ_NEXT(e, link);
		if (e->seq < ib->drop_cursor)
			continue; /* queued, copied already */
		if (*budget == 0)
			return 0;
		--*budget;
		if (e->status == INBOX_QUEUED &&
		    append_line(ib, NULL, e, e->received, err) != 0)
			return -1;
		ib->drop_cursor = e->seq + 1;
		if (e->status != INBOX_QUEUED)
			unlink_entry(ib, e);
	}
	if (ib->ndoomed == INBOX_DOOMED_MAX && inbox_sync(ib, err) != 0)
		return -1;
	ib->doomed[ib->ndoomed++] = ib->segs[0].first_seq;
	memmove(ib->segs, ib->segs + 1, (ib->nsegs - 1) * sizeof(*ib->segs));
	ib->nsegs--;
	ib->dropping_end = 0;
	return 1;
}

/* Rotates, and drops up to budget records of expired segments (or of the
 * oldest, over the size limit). */
static int maintain(struct inbox *ib, int64_t now, size_t budget,
		    struct berr *err)
{
	struct inbox_segment *cur = &ib->segs[ib->nsegs - 1];
	int rc = 1;

	if (cur->lines >= INBOX_SEGMENT_LINES || ib->end >= SEGMENT_ROTATE_BYTES ||
	    (cur->lines > 0 && now - cur->created >= SEGMENT_MAX_AGE_S)) {
		if (start_segment(ib, now, err) != 0)
			return -1;
	}
	if (ib->dropping_end != 0)
		rc = drop_some(ib, &budget, err);
	while (rc == 1 && ib->nsegs > 1 &&
	       (ib->segs[0].newest < now - INBOX_KEEP_S ||
		ib->count > INBOX_MAX_ENTRIES)) {
		if (ib->segs[0].newest >= now - INBOX_KEEP_S && !ib->warned_cap) {
			log_warn("msg=\"inbox over its size limit: dropping "
				 "dedupe keys younger than 3 days\" entries=%zu "
				 "limit=%d", ib->count, INBOX_MAX_ENTRIES);
			ib->warned_cap = true;
		}
		rc = drop_some(ib, &budget, err);
	}
	return rc < 0 ? -1 : 0;
}

int inbox_maintain(struct inbox *ib, int64_t now, struct berr *err)
{
	return maintain(ib, now, INBOX_DROP_STEP, err);
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
	ib->dir_fd = -1;
	ib->lock_fd = -1;
	ib->next_seq = 1;
	ib->nbuckets = 1024;
	buf_init(&ib->unwritten, SEGMENT_MAX_FILE);
	ib->buckets = xcalloc(ib->nbuckets, sizeof(*ib->buckets));
	TAILQ_INIT(&ib->entries);
	if (fs_mkdir_p(dir, 0750, err) != 0)
		goto fail;
	ib->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ib->dir_fd < 0) {
		berr_errno(err, errno, "cannot open '%s'", dir);
		goto fail;
	}
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
	/* Expired segments deleted, the new one durable: at startup this may
	 * wait for the disk. */
	if (start_segment(ib, now, err) != 0 ||
	    maintain(ib, now, SIZE_MAX, err) != 0 || inbox_sync(ib, err) != 0)
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
	size_t i;

	if (ib == NULL)
		return;
	/* Lines of records never answered: written all the same, so that
	 * they are acted on after a restart (as they would have been had they
	 * been written one by one). */
	if (ib->fd >= 0) {
		(void)flush_lines(ib, &(struct berr){{0}});
		/* Segments to delete: only once their queued records' copies
		 * are durable. */
		if (ib->ndoomed > 0)
			(void)inbox_sync(ib, &(struct berr){{0}});
		trim_segment(ib);
	}
	for (i = 0; i < ib->nretired; i++) {
		(void)ftruncate(ib->retired[i].fd, ib->retired[i].end);
		close(ib->retired[i].fd);
	}
	while ((e = TAILQ_FIRST(&ib->entries)) != NULL) {
		TAILQ_REMOVE(&ib->entries, e, link);
		entry_free(e);
	}
	buf_release(&ib->unwritten);
	if (ib->fd >= 0)
		close(ib->fd);
	if (ib->lock_fd >= 0)
		close(ib->lock_fd);
	if (ib->dir_fd >= 0)
		close(ib->dir_fd);
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
	size_t i;

	*seq = 0;
	if (!inbox_line_token_ok(d->provider, 15) ||
	    !inbox_line_token_ok(d->delivery, VERIFY_KEY_MAX - 1) ||
	    d->nenvs > INBOX_ENVS_MAX)
		return berr_set(err, "inbox record with an invalid key");
	if (find(ib, d->provider, d->delivery) != NULL)
		return berr_set(err, "delivery '%s' is already in the inbox",
				d->delivery);
	buf_init(&envs, 2048);
	for (i = 0; i < d->nenvs; i++) {
		if (i > 0)
			buf_putc(&envs, ',');
		buf_puts(&envs, d->envs[i]);
	}
	e = entry_new(d->provider, d->delivery, d->event, d->reason, d->branch,
		      d->rev, envs.len ? buf_str(&envs) : NULL);
	buf_release(&envs);
	e->seq = ib->next_seq;
	e->received = now;
	e->status = d->status;
	e->kind = d->kind;
	if (d->after != NULL && strnum_is_sha(d->after))
		memcpy(e->after, d->after, 41);
	if (e->status == INBOX_QUEUED)
		e->pending = (uint32_t)((1u << d->nenvs) - 1);
	if (queue_line(ib, NULL, e, now, err) != 0) {
		entry_free(e);
		return -1;
	}
	ib->next_seq++;
	insert_entry(ib, e);
	*seq = e->seq;
	return 0;
}

int inbox_flush(struct inbox *ib, struct berr *err)
{
	return flush_lines(ib, err);
}

int inbox_sync_prepare(struct inbox *ib, struct inbox_sync *is,
		       struct berr *err)
{
	struct sync_job *job = &is->job;
	size_t i;
	char *path;
	int rc = 0;

	memset(is, 0, sizeof(*is));
	if (flush_lines(ib, err) != 0)
		return -1;
	is->upto_seq = inbox_last_seq(ib);
	is->appends = ib->appends;
	is->dir_changes = ib->dir_changes;
	/* Lines in the order they were written: the segments left behind,
	 * then the current one. */
	for (i = 0; rc == 0 && i < ib->nretired; i++) {
		const struct inbox_retired *r = &ib->retired[i];

		rc = sync_job_add(job, SYNC_TRUNCATE, r->fd, r->end, NULL, err);
		if (rc == 0)
			rc = sync_job_add(job, SYNC_DATA, r->fd, 0, NULL, err);
		is->retired[is->nretired++] = r->first_seq;
	}
	if (rc == 0 && ib->dirty)
		rc = sync_job_add(job, SYNC_DATA, ib->fd, 0, NULL, err);
	/* A new segment's name, before anything in it is answered. */
	if (rc == 0 && ib->dir_changes != ib->dir_synced)
		rc = sync_job_add(job, SYNC_FULL, ib->dir_fd, 0, NULL, err);
	/* Old segments once the copies of their queued records are durable
	 * (they were written before this job was made). */
	for (i = 0; rc == 0 && i < ib->ndoomed; i++) {
		path = segment_path(ib, ib->doomed[i]);
		rc = sync_job_add(job, SYNC_UNLINK, -1, 0, path, err);
		free(path);
		is->doomed[is->ndoomed++] = ib->doomed[i];
	}
	if (rc == 0 && ib->ndoomed > 0)
		rc = sync_job_add(job, SYNC_FULL, ib->dir_fd, 0, NULL, err);
	if (rc != 0) {
		sync_job_release(job);
		return -1;
	}
	return 0;
}

void inbox_sync_done(struct inbox *ib, const struct inbox_sync *is, int error)
{
	struct inbox_entry *e;
	size_t i, j;

	if (error != 0)
		return;
	if (ib->appends == is->appends)
		ib->dirty = false;
	TAILQ_FOREACH_REVERSE(e, &ib->entries, inbox_list, link) {
		if (e->seq > is->upto_seq)
			continue;
		if (e->synced)
			break;
		e->synced = true;
	}
	/* By name: an inline sync may have settled some of them first. */
	for (i = 0; i < is->nretired; i++)
		for (j = 0; j < ib->nretired; j++)
			if (ib->retired[j].first_seq == is->retired[i]) {
				close(ib->retired[j].fd);
				ib->retired[j] = ib->retired[--ib->nretired];
				break;
			}
	for (i = 0; i < is->ndoomed; i++)
		for (j = 0; j < ib->ndoomed; j++)
			if (ib->doomed[j] == is->doomed[i]) {
				ib->doomed[j] = ib->doomed[--ib->ndoomed];
				break;
			}
	if (is->dir_changes > ib->dir_synced)
		ib->dir_synced = is->dir_changes;
}

int inbox_sync(struct inbox *ib, struct berr *err)
{
	struct inbox_sync is;
	int rc;

	if (inbox_sync_prepare(ib, &is, err) != 0)
		return -1;
	rc = sync_job_run(&is.job);
	if (rc != 0)
		return berr_errno(err, rc, "cannot sync the inbox in '%s'",
				  ib->dir);
	inbox_sync_done(ib, &is, 0);
	return 0;
}

int inbox_forget_unsynced(struct inbox *ib, int64_t now, struct berr *err)
{
	struct inbox_entry *e;

	while ((e = TAILQ_LAST(&ib->entries, inbox_list)) != NULL && !e->synced)
		unlink_entry(ib, e);
	/* The lines may or may not have reached the disk: continue in a new
	 * segment so that whatever is there stays readable. */
	buf_reset(&ib->unwritten);
	ib->write_failed = false;
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
			if (append_line(ib, line, NULL, 0, err) != 0)
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
