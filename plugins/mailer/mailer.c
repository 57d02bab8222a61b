/*
 * mailer.c: an app that receives a custom signal declared by another app:
 * on billing.invoice_paid it "sends" a receipt, which for now means a log
 * line through its app's logger. The sender named in its settings
 * (settings.mailer.from) signs the receipt.
 */
#include <sighost/sighost.h>

#include "../billing/billing.h"

SH_PLUGIN_ABI;

SH_RECEIVER(on_invoice_paid, BILLING_INVOICE_PAID, NULL)
{
	const billing_invoice_paid_args *paid = args;
	const sh_app *app = payload;
	if (paid == NULL || paid->email == NULL)
		return sh_error_set(SH_EINVAL, "invoice_paid sent without an email");
	const char *from = sh_value_path_string(sh_app_settings(app), "from", "billing@localhost");
	sh_app_log(app, SH_LOG_INFO, "receipt for invoice %s (%lld.%02lld) sent to %s from %s",
		paid->invoice ? paid->invoice : "?", (long long)(paid->amount_cents / 100),
		(long long)(paid->amount_cents % 100), paid->email, from);
	return 0;
}

int ready(sh_app *app)
{
	return SH_APP_CONNECT_RECEIVERS(app, app);
}
