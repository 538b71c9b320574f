/*
 * deps.c — the dependency graph of a manifest's services: names resolved
 * through a sorted index, every wrong edge reported, cycles named, and a
 * start order that puts dependencies first and otherwise keeps file order
 * (Kahn's algorithm with a min-heap on the file index). O((n + e) log n),
 * so a thousand services cost nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

/* The graph: edges u -> v for "u depends on v", in CSR form. */
struct graph {
	size_t *dep_start; /* n + 1 offsets into deps */
	size_t *deps;      /* resolved dependency indexes */
	size_t *rev_start; /* n + 1 offsets into rev */
	size_t *rev;       /* dependents of each service */
};

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL)
		abort();
	return p;
}

static void build_index(struct manifest *m)
{
	struct validate_ref *refs = xcalloc(m->nservices, sizeof(*refs));
	size_t i;

	for (i = 0; i < m->nservices; i++) {
		refs[i].name = m->services[i].name;
		refs[i].index = i;
	}
	validate_sort_refs(refs, m->nservices);
	m->by_name = xcalloc(m->nservices, sizeof(*m->by_name));
	for (i = 0; i < m->nservices; i++)
		m->by_name[i] = refs[i].index;
	free(refs);
}

/* Index of the service named name, or (size_t)-1. */
static size_t lookup(const struct manifest *m, const char *name)
{
	size_t lo = 0, hi = m->nservices;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, m->services[m->by_name[mid]].name);

		if (c == 0)
			return m->by_name[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (size_t)-1;
}

const struct manifest_service *manifest_service(const struct manifest *m,
                                                const char *name)
{
	size_t i;

	if (m == NULL || m->by_name == NULL)
		return NULL;
	i = lookup(m, name);
	return i == (size_t)-1 ? NULL : &m->services[i];
}

/* Reports, at "$.services.NAME.depends_on[k]", that the service dep
 * (shortened) is wrong for the reason why. */
static void report_dep(struct mparse *p, const struct manifest_service *s,
                       size_t k, const char *dep, const char *why)
{
	size_t old = validate_push_key(p, "services");

	validate_push_key(p, s->name);
	validate_push_key(p, "depends_on");
	validate_push_index(p, k);
	validate_error(p, "service \"%.64s%s\" %s", dep,
	               strlen(dep) > 64 ? "..." : "", why);
	validate_pop(p, old);
}

/* Resolves every depends_on entry into g; reports bad ones. */
static int resolve(struct mparse *p, const struct manifest *m, struct graph *g)
{
	size_t i, k, total = 0, at = 0;
	size_t *seen = xcalloc(m->nservices, sizeof(*seen));
	int rc = 0;

	for (i = 0; i < m->nservices; i++)
		total += m->services[i].depends_on.n;
	g->dep_start = xcalloc(m->nservices + 1, sizeof(size_t));
	g->deps = xcalloc(total, sizeof(size_t));
	for (i = 0; i < m->nservices; i++) {
		const struct manifest_service *s = &m->services[i];

		g->dep_start[i] = at;
		for (k = 0; k < s->depends_on.n; k++) {
			const char *dep = s->depends_on.v[k];
			size_t j = lookup(m, dep);

			if (j == (size_t)-1) {
				report_dep(p, s, k, dep,
				           "is not a service of this manifest");
				rc = -1;
			} else if (j == i) {
				report_dep(p, s, k, dep, "depends on itself");
				rc = -1;
			} else if (seen[j] == i + 1) {
				report_dep(p, s, k, dep, "is listed twice");
				rc = -1;
			} else {
				seen[j] = i + 1;
				g->deps[at++] = j;
			}
		}
	}
	g->dep_start[m->nservices] = at;
	free(seen);
	return rc;
}

static void build_reverse(const struct manifest *m, struct graph *g)
{
	size_t n = m->nservices, i, e;
	size_t *fill = xcalloc(n + 1, sizeof(size_t));

	g->rev_start = xcalloc(n + 1, sizeof(size_t));
	g->rev = xcalloc(g->dep_start[n], sizeof(size_t));
	for (e = 0; e < g->dep_start[n]; e++)
		g->rev_start[g->deps[e] + 1]++;
	for (i = 0; i < n; i++)
		g->rev_start[i + 1] += g->rev_start[i];
	for (i = 0; i < n; i++)
		for (e = g->dep_start[i]; e < g->dep_start[i + 1]; e++) {
			size_t v = g->deps[e];

			g->rev[g->rev_start[v] + fill[v]++] = i;
		}
	free(fill);
}

/* A binary min-heap of service indexes. */
static void heap_push(size_t *h, size_t *n, size_t x)
{
	size_t i = (*n)++;

	while (i > 0 && h[(i - 1) / 2] > x) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = x;
}

static size_t heap_pop(size_t *h, size_t *n)
{
	size_t top = h[0], x = h[--*n], i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= *n)
			break;
		if (c + 1 < *n && h[c + 1] < h[c])
			c++;
		if (h[c] >= x)
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n > 0)
		h[i] = x;
	return top;
}

/* Hostile input can hold very many, very long cycles: a few are enough. */
#define CYCLES_SHOWN  20
#define CYCLE_MSG_MAX 4096

/* Reports one cycle: stack[from..top] then back to stack[from], rotated
 * to start at the service that comes first in the file. */
static void report_cycle(struct mparse *p, const struct manifest *m,
                         const size_t *stack, size_t from, size_t top)
{
	size_t len = top - from + 1, start = from, i, used = 0, old;
	char msg[CYCLE_MSG_MAX + 16];

	for (i = from; i <= top; i++)
		if (stack[i] < stack[start])
			start = i;
	msg[0] = '\0';
	for (i = 0; i <= len; i++) {
		size_t at = from + (start - from + i) % len;
		const char *name = m->services[stack[at]].name;

		if (used + strlen(name) + 4 > CYCLE_MSG_MAX) {
			snprintf(msg + used, sizeof(msg) - used, " ...");
			break;
		}
		used += (size_t)snprintf(msg + used, sizeof(msg) - used, "%s%s",
		                         i ? " -> " : "", name);
	}
	old = validate_push_key(p, "services");
	validate_error(p, "dependency cycle: %s", msg);
	validate_pop(p, old);
}

/* Finds and reports the cycles among the services Kahn's algorithm could
 * not order (done[i] false), with an iterative depth-first search. */
static void report_cycles(struct mparse *p, const struct manifest *m,
                          const struct graph *g, const bool *done)
{
	size_t n = m->nservices, r, cycles = 0;
	unsigned char *state = xcalloc(n, 1); /* 0 new, 1 on stack, 2 done */
	size_t *stack = xcalloc(n, sizeof(size_t));
	size_t *next = xcalloc(n, sizeof(size_t)); /* next edge to follow */
	size_t *pos = xcalloc(n, sizeof(size_t));  /* place on the stack */

	for (r = 0; r < n; r++) {
		size_t top = 0;

		if (done[r] || state[r] != 0)
			continue;
		stack[0] = r;
		state[r] = 1;
		pos[r] = 0;
		next[r] = g->dep_start[r];
		for (;;) {
			size_t u = stack[top], v;

			if (next[u] == g->dep_start[u + 1]) {
				state[u] = 2;
				if (top == 0)
					break;
				top--;
				continue;
			}
			v = g->deps[next[u]++];
			if (done[v] || state[v] == 2)
				continue;
			if (state[v] == 1) {
				if (cycles++ < CYCLES_SHOWN)
					report_cycle(p, m, stack, pos[v], top);
				continue;
			}
			state[v] = 1;
			stack[++top] = v;
			pos[v] = top;
			next[v] = g->dep_start[v];
		}
	}
	free(pos);
	free(next);
	free(stack);
	free(state);
}

int deps_order(struct mparse *p, struct manifest *m)
{
	struct graph g = {0};
	size_t n = m->nservices, i, e, nheap = 0, norder = 0;
	size_t *indeg = NULL, *heap = NULL, *order = NULL;
	bool *done = NULL;
	int rc = -1;

	build_index(m);
	if (resolve(p, m, &g) != 0)
		goto out;
	build_reverse(m, &g);
	indeg = xcalloc(n, sizeof(size_t));
	heap = xcalloc(n, sizeof(size_t));
	order = xcalloc(n, sizeof(size_t));
	done = xcalloc(n, sizeof(bool));
	for (i = 0; i < n; i++) {
		indeg[i] = g.dep_start[i + 1] - g.dep_start[i];
		if (indeg[i] == 0)
			heap_push(heap, &nheap, i);
	}
	while (nheap > 0) {
		size_t u = heap_pop(heap, &nheap);

		order[norder++] = u;
		done[u] = true;
		for (e = g.rev_start[u]; e < g.rev_start[u + 1]; e++)
			if (--indeg[g.rev[e]] == 0)
				heap_push(heap, &nheap, g.rev[e]);
	}
	if (norder < n) {
		report_cycles(p, m, &g, done);
		goto out;
	}
	m->order = order;
	order = NULL;
	rc = 0;
out:
	free(done);
	free(order);
	free(heap);
	free(indeg);
	free(g.rev);
	free(g.rev_start);
	free(g.deps);
	free(g.dep_start);
	return rc;
}
