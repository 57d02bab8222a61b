/*
 * bench.c: the sighost side of bench/web/run.sh. One post_save receiver for
 * bench.Item that increments a counter, the same work as the Django app's
 * receiver in bench/web/django/benchapp/models.py.
 */
#include <stdatomic.h>

#include <sighost/sighost.h>

SH_PLUGIN_ABI;

static atomic_long items_saved;

SH_RECEIVER(on_item_saved, "post_save", "bench.Item")
{
	(void)args;
	(void)payload;
	atomic_fetch_add_explicit(&items_saved, 1, memory_order_relaxed);
	return 0;
}

int ready(sh_app *app)
{
	return SH_APP_CONNECT_RECEIVERS(app, app);
}
