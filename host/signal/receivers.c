/*
 * receivers.c: connecting the receivers a shared object declared with
 * SH_RECEIVER (receiver.h), the C counterpart of Django's @receiver.
 *
 * Compilers lay the records of one file out in any order (GCC reverses
 * them), so they are sorted by (file, line) before connecting: receivers
 * then run in the order they are written.
 */
#include <stdlib.h>
#include <string.h>

#include <sighost/error.h>
#include <sighost/receiver.h>

static int sh_signal__decl_order(const void *a, const void *b)
{
	const sh_receiver_decl *x = *(const sh_receiver_decl *const *)a;
	const sh_receiver_decl *y = *(const sh_receiver_decl *const *)b;
	int by_file = strcmp(x->file ? x->file : "", y->file ? y->file : "");
	if (by_file != 0)
		return by_file;
	return (x->line > y->line) - (x->line < y->line);
}

static int sh_signal__connect_decl(sh_hub *hub, const char *owner, void *payload,
	const sh_receiver_decl *d)
{
	if (d->version == 0 || d->version > SH_RECEIVER_DECL_VERSION || d->fn == NULL)
		return sh_error_set(SH_EINVAL, "receiver declaration %s is not valid (version %u)",
			d->fn_name ? d->fn_name : "?", d->version);
	sh_signal *signal;
	int rc = sh_signal_named(&signal, hub, d->signal);
	if (rc < 0)
		return sh_error_set(rc, "receiver %s: signal '%s': %s", d->fn_name,
			d->signal ? d->signal : "(null)", sh_error_last()->message);
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.dispatch_uid = d->dispatch_uid;
	opts.owner = owner;
	opts.priority = d->priority;
	opts.name = d->fn_name;
	if (d->sender != NULL && (rc = sh_sender_intern(&opts.sender, hub, d->sender)) < 0)
		return sh_error_set(rc, "receiver %s: sender '%s': %s", d->fn_name, d->sender,
			sh_error_last()->message);
	rc = sh_signal_connect(NULL, signal, d->fn, payload, &opts);
	if (rc < 0)
		return sh_error_set(rc, "receiver %s: %s", d->fn_name, sh_error_last()->message);
	return 0;
}

int sh_receivers_connect(sh_hub *hub, const char *owner, void *payload,
	const sh_receiver_decl *begin, const sh_receiver_decl *end)
{
	if (hub == NULL)
		return sh_error_set(SH_EINVAL, "sh_receivers_connect: hub is NULL");
	if (begin == NULL || end == NULL || end <= begin)
		return 0;
	size_t n = (size_t)(end - begin);
	const sh_receiver_decl **order = malloc(n * sizeof *order);
	if (order == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory connecting declared receivers");
	for (size_t i = 0; i < n; i++)
		order[i] = &begin[i];
	qsort(order, n, sizeof *order, sh_signal__decl_order);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = sh_signal__connect_decl(hub, owner, payload, order[i]);
	free(order);
	return rc;
}
