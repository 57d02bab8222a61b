/*
 * billing.c: an app that declares a custom signal, billing.invoice_paid
 * (see billing.h), for other apps to hear. The billing views that send it
 * come with the web issue; until then tests and `sighost` send it.
 */
#include <sighost/sighost.h>

#include "billing.h"

SH_PLUGIN_ABI;

int ready(sh_app *app)
{
	sh_signal *paid;
	return sh_app_declare_signal(&paid, app, BILLING_INVOICE_PAID);
}
